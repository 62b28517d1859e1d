"""Where a source's URL and secrets come from: ``GOVDX_CONN_<ID>``, else Airflow's ``AIRFLOW_CONN_<ID>``,
else an Airflow Connection from wherever Airflow keeps it (its metadata database, a secrets backend).

``GOVDX_CONN_<ID>`` holds a SQLAlchemy URL or an http(s) base URL as is. ``AIRFLOW_CONN_<ID>``
holds an Airflow Connection in either of its serialised forms, a URI
(``mysql://user:pass@host:3306/db``) or JSON (``{"conn_type": "mysql", "host": ...}``); it is
parsed here with the standard library so connectors never import Airflow. Airflow connection
types map to SQLAlchemy drivers: mysql -> mysql+pymysql, postgres -> postgresql+psycopg,
sqlite -> sqlite; http and https give a plain base URL. Of an Airflow ``extra`` only driver
options listed in ``_DRIVER_EXTRAS`` are passed on; the rest (Airflow hook settings) are dropped.

The last step is a lookup the engine registers (``register_lookup``; ``ingest.connections`` asks
Airflow), so that connectors never import Airflow and a source outside Airflow needs none.

Passwords never reach a message or a log: show a URL through ``redact``.
"""

import json
import os
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from sqlalchemy.engine import URL

from connectors.base import SourceError

_DRIVERS = {
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "sqlite": "sqlite",
}
_HTTP = {"http", "https"}
_DRIVER_EXTRAS = {
    "mysql+pymysql": {"charset", "connect_timeout", "unix_socket"},
    "postgresql+psycopg": {
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "connect_timeout",
        "application_name",
        "options",
    },
    "sqlite": set(),
}
_USERINFO_PASSWORD = re.compile(r"(://[^/?#@:]*):[^/?#@]*@")

# The fields of a connection (conn_type, host, login, password, port, schema, extra) by conn_id,
# or None when the lookup does not know it.
Lookup = Callable[[str], dict[str, Any] | None]
_lookups: list[Lookup] = []


def register_lookup(lookup: Lookup) -> None:
    """Ask ``lookup`` for a connection that no environment variable holds (once per lookup)."""
    if lookup not in _lookups:
        _lookups.append(lookup)


def env_names(conn_id: str) -> tuple[str, str]:
    """The two environment variables that may hold ``conn_id``, in the order they are tried."""
    key = conn_id.upper()
    return f"GOVDX_CONN_{key}", f"AIRFLOW_CONN_{key}"


def resolve_url(conn_id: str, *, source: str) -> str:
    """The SQLAlchemy or http(s) URL of ``conn_id``, from ``GOVDX_CONN_<ID>`` or ``AIRFLOW_CONN_<ID>``."""
    govdx_var, airflow_var = env_names(conn_id)
    value = os.environ.get(govdx_var, "").strip()
    if value:
        return value
    value = os.environ.get(airflow_var, "").strip()
    if value:
        return _from_airflow(value, variable=airflow_var, source=source)
    for lookup in _lookups:
        fields = lookup(conn_id)
        if fields is not None:
            return _build(fields, variable=f"Airflow Connection {conn_id}", source=source)
    raise SourceError(
        f"数据源 {source} 的连接 {conn_id} 未配置：请设置环境变量 {govdx_var}（SQLAlchemy 或 http(s) URL）"
        f"或 {airflow_var}，或在 Airflow 中登记该连接（元数据库或 secrets backend）。",
        f"connection {conn_id} of source {source} is not configured: set {govdx_var} "
        f"(a SQLAlchemy or http(s) URL) or {airflow_var}, or define the Airflow Connection "
        "(metadata database or secrets backend)",
        source=source,
        code="source_credentials_missing",
    )


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit for messages and logs."""
    return _USERINFO_PASSWORD.sub(r"\1:***@", url)


def _from_airflow(value: str, *, variable: str, source: str) -> str:
    form = "JSON" if value.startswith("{") else "URI"
    try:
        fields = json.loads(value) if form == "JSON" else _uri_fields(value)
        if not isinstance(fields, dict) or not fields.get("conn_type"):
            raise ValueError(form)
        return _build(fields, variable=variable, source=source)
    except (ValueError, TypeError, AttributeError):
        # The parse error may quote the value, password included; say only which form is broken.
        raise _invalid(variable, source, form) from None


def _uri_fields(value: str) -> dict[str, Any]:
    """The fields of an Airflow connection URI, as Airflow's ``Connection._parse_from_uri`` reads them."""
    parts = urlsplit(value)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    extra = query.pop("__extra__", None)
    conn_type = parts.scheme.replace("-", "_")
    if conn_type == "sqlite":
        # sqlite:///relative.db and sqlite:////abs.db as SQLAlchemy reads them,
        # sqlite://%2Fabs.db (the path in the host) as Airflow does.
        return {"conn_type": conn_type, "host": unquote(parts.netloc) or unquote(parts.path[1:])}
    return {
        "conn_type": conn_type,
        "host": unquote(parts.hostname or ""),
        "login": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "port": parts.port,
        "schema": unquote(parts.path[1:]),
        "extra": json.loads(extra) if extra else query,
    }


def _build(fields: dict[str, Any], *, variable: str, source: str) -> str:
    conn_type = str(fields.get("conn_type") or "").lower().replace("-", "_")
    host = str(fields.get("host") or "")
    login = fields.get("login") or None
    password = fields.get("password") or None
    port = int(fields["port"]) if fields.get("port") else None
    schema = str(fields.get("schema") or "")
    extra = fields.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra) if extra.strip() else {}
    if conn_type in _HTTP:
        return _http_url(conn_type, host=host, login=login, password=password, port=port, schema=schema)
    driver = _DRIVERS.get(conn_type)
    if driver is None:
        raise SourceError(
            f"环境变量 {variable} 的连接类型 {conn_type or '（空）'} 不受支持，"
            f"请使用 mysql、postgres、sqlite、http 或 https。",
            f"{variable} has connection type {conn_type or '(empty)'}, which govdx does not read; "
            "use mysql, postgres, sqlite, http or https",
            source=source,
            code="source_credentials_invalid",
        )
    if driver == "sqlite":
        return f"sqlite:///{host or schema}"
    options = {key: str(val) for key, val in extra.items() if key in _DRIVER_EXTRAS[driver]}
    url = URL.create(
        driver,
        username=login,
        password=password,
        host=host or None,
        port=port,
        database=schema or None,
        query=options,
    )
    return url.render_as_string(hide_password=False)


def _http_url(
    conn_type: str, *, host: str, login: str | None, password: str | None, port: int | None, schema: str
) -> str:
    if "://" in host:  # the whole base URL typed into the host field, as Airflow users often do
        return host.rstrip("/")
    scheme, path = conn_type, schema
    if schema in _HTTP:  # Airflow's HttpHook reads "schema" as the URL scheme
        scheme, path = schema, ""
    userinfo = ""
    if login:
        userinfo = quote(login, safe="") + (f":{quote(password, safe='')}" if password else "") + "@"
    netloc = userinfo + host + (f":{port}" if port else "")
    return f"{scheme}://{netloc}" + (f"/{path.strip('/')}" if path.strip("/") else "")


def _invalid(variable: str, source: str, form: str) -> SourceError:
    return SourceError(
        f"环境变量 {variable} 不是有效的 Airflow Connection {form}，请按 Airflow 文档的格式重新设置。",
        f"{variable} is not a valid Airflow Connection {form}; set it again in Airflow's format",
        source=source,
        code="source_credentials_invalid",
    )
