"""Forwarding to a provider's own service (接口共享): one keyed GET per subject, the grant applied on return.

A ``proxy`` resource passes every check a dataset lookup passes (``authz.access.guard``: caller,
resource, grant, terms, 管控参数, the key checked by the element of its query-key item); only then
is its provider's service called, once per distinct key (a batch: at most ``CONCURRENCY`` at a
time), with ``GET {base}{path}``, ``{key}`` in the binding's path replaced by the URL-quoted key.

The provider's contract (the catalog entry's items are the interface specification):

- ``200`` with ``{"records": [{<item name>: <value>, ...}, ...]}``: the subject's records, each
  keyed by the resource's item names, values as text, numbers, booleans or null; items the service
  has no data for are simply absent; fields that are not items of the resource are dropped.
  ``{"records": []}`` is the same as a 404.
- ``404``: no such subject (logged ``not_found``, answered 404 like any lookup).
- Anything else is a failure. Each attempt has ``timeout_s`` (connect, and then each read); a
  connection error, a timeout or a 5xx is tried again ``retries`` times after a short, doubling
  backoff. When the tries run out, a provider that could not be reached or did not answer in time
  gives 504 ``provider_unavailable``, one that answered 5xx 502 ``provider_error``; a body that
  is not JSON or not of the contract's shape, and any other status, are 502 at once (trying
  again would get the same answer).

Only granted items leave the platform, masked by the grant's rules (``lookup.project``, as for a
dataset: by item name, the rules from the item's element and sensitivity). The query-key item,
when the service does not echo it, is the caller's own key.

Transactions: the guard's checks run in the read transaction, which is ended (its connection back
in the pool) before the first request goes out, so no database connection waits on a provider.
``authz.access.trail`` then writes the call as for any lookup: served and not-found calls count
in the rate window and against the daily quota in the group commit; a provider failure is
recorded like a refusal (outcome ``provider_failed``, one record per subject) and counts against
neither, since the caller got nothing. The rate limit and the quota are decided in that write, as
for every call, so a call over them has reached the provider before it is refused.

The base URL is ``GOVDX_CONN_<CONN_ID>`` (the conn_id upper-cased), the variable the pipelines'
HTTP sources use. It is read here rather than through ``connectors.credentials``: authz may not
import connectors (README "Layout"), and the API process is configured by ``GOVDX_`` variables
only, so Airflow's ``AIRFLOW_CONN_<ID>`` forms are not read. An unset variable is a 502
``provider_error`` naming it, logged like any failure.
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy.orm import Session

from authz.access import guard
from authz.access.exceptions import ProviderFailed
from authz.types import AccessReason
from catalog_schema.resource.schemas import ProxyDelivery

ENV_PREFIX = "GOVDX_CONN_"
CONCURRENCY = 4  # forwarded calls of one batch in flight at once
BACKOFF_S = 0.1  # before the first retry; doubled before each next one
_SCALARS = (str, int, float, bool, type(None))


def env_name(conn_id: str) -> str:
    """The environment variable holding the base URL of ``conn_id``."""
    return ENV_PREFIX + conn_id.upper()


def base_url(conn_id: str) -> str:
    """The provider service's base URL from the environment; a 502 naming the variable when unset."""
    name = env_name(conn_id)
    value = os.environ.get(name, "").strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ProviderFailed(
            AccessReason.provider_error,
            f"提供部门服务 {conn_id} 的地址未配置，请设置环境变量 {name}（http(s) URL）",
            f"the address of provider service {conn_id} is not configured: set {name} to an http(s) URL",
        )
    return value


def _failed(reason: AccessReason, conn_id: str, what: str, what_en: str, **extra: Any) -> ProviderFailed:
    return ProviderFailed(
        reason, f"提供部门服务 {conn_id} {what}", f"provider service {conn_id} {what_en}", extra=extra or None
    )


def _records_of(response: httpx.Response, conn_id: str, names: frozenset[str]) -> list[dict[str, Any]]:
    """The records of a 200 answer, each cut to the resource's items; a 502 if it is not the contract."""
    try:
        body = response.json()
    except ValueError:
        raise _failed(
            AccessReason.provider_error,
            conn_id,
            "返回的内容不是 JSON",
            "answered with a body that is not JSON",
        ) from None
    found = body.get("records") if isinstance(body, dict) else None
    if not isinstance(found, list) or not all(
        isinstance(r, dict) and all(isinstance(v, _SCALARS) for v in r.values()) for r in found
    ):
        raise _failed(
            AccessReason.provider_error,
            conn_id,
            '返回的内容不符合接口约定 {"records": [{信息项: 值}]}',
            'answered with a body that is not {"records": [{item: value}]}',
        )
    return [{name: value for name, value in record.items() if name in names} for record in found]


def _fetch(
    client: httpx.Client, binding: ProxyDelivery, base: str, key: str, names: frozenset[str]
) -> list[dict[str, Any]]:
    """One subject's records from the provider, trying again on connection errors, timeouts and 5xx."""
    url = base + binding.path.replace("{key}", quote(key, safe=""))
    tries = binding.retries + 1
    failure: tuple[AccessReason, str, str] = (AccessReason.provider_unavailable, "", "")
    for attempt in range(tries):
        if attempt:
            time.sleep(BACKOFF_S * 2 ** (attempt - 1))
        try:
            response = client.get(url)
        except httpx.TimeoutException:
            seconds = f"{binding.timeout_s:g}"
            failure = (
                AccessReason.provider_unavailable,
                f"超过 {seconds} 秒未应答",
                f"did not answer in {seconds} s",
            )
            continue
        except httpx.ConnectError:
            failure = (AccessReason.provider_unavailable, "无法连接", "cannot be reached")
            continue
        except httpx.TransportError as exc:
            failure = (
                AccessReason.provider_error,
                "连接中断",
                f"broke the connection ({type(exc).__name__})",
            )
            continue
        status = response.status_code
        if status >= 500:
            failure = (AccessReason.provider_error, f"返回 HTTP {status}", f"answered HTTP {status}")
            continue
        if status == 404:
            return []
        if status != 200:
            raise _failed(
                AccessReason.provider_error, binding.conn_id, f"返回 HTTP {status}", f"answered HTTP {status}"
            )
        return _records_of(response, binding.conn_id, names)
    reason, what, what_en = failure
    raise _failed(
        reason,
        binding.conn_id,
        f"{what}（共尝试 {tries} 次）",
        f"{what_en} ({tries} attempts)",
        attempts=tries,
    )


def records(
    *, db: Session, resource: guard.ProxiedResource, wanted: list[guard.Subject]
) -> dict[str, list[dict[str, Any]]]:
    """Each subject's records (by stored key) from the provider's service, values by item name.

    Ends ``db``'s read transaction first: no connection is held while the provider answers.
    """
    binding, query_key = resource.binding, resource.query_key
    assert binding is not None and query_key is not None
    db.rollback()
    base = base_url(binding.conn_id)
    names = frozenset(resource.items)
    key_item = query_key.items[0]
    timeout = httpx.Timeout(binding.timeout_s)
    with httpx.Client(timeout=timeout, headers={"Accept": "application/json"}) as client:

        def fetch(subject: guard.Subject) -> list[dict[str, Any]]:
            return _fetch(client, binding, base, subject.parts[0], names)

        if len(wanted) == 1:
            results = [fetch(wanted[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(wanted))) as pool:
                futures = [pool.submit(fetch, s) for s in wanted]
                try:
                    results = [f.result() for f in futures]
                except ProviderFailed:
                    pool.shutdown(cancel_futures=True)
                    raise
    found: dict[str, list[dict[str, Any]]] = {}
    for subject, rows in zip(wanted, results, strict=True):
        for values in rows:
            values.setdefault(key_item, subject.parts[0])
        found[subject.stored] = rows
    return found
