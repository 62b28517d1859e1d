"""The resource's 管控参数 at the interface: the checks after the grant's, and the rate limit's window.

The guard reads a resource's ``control_params`` as JSON text in the resource query it already runs;
:func:`parsed` reads that text into ``catalog_schema.resource.controls.Controls`` once per text (a
resource version), so a call pays a dictionary lookup, not a parse. :func:`check` then refuses,
in this order: an access mode the resource does not allow (even one an older grant lists); a
bulk export of a resource read by its query key; a call outside the resource's time windows
(Asia/Shanghai; 工作日 are the working-day calendar's, with its 调休); a call from an address
outside its allowlists. A stored value that does not parse (one kept from before the grammar was
checked) closes the interface rather than leaving it unguarded.

The rate limit cannot be decided here: the count must be shared by every API worker and process,
so :func:`window` only names the call's window, and ``authz.access.group_commit`` counts it in the
write transaction with the quota, refusing a call over the limit there (429 with Retry-After).
"""

import json
from datetime import datetime
from functools import lru_cache
from typing import NoReturn

from sqlalchemy.orm import Session

from authz.access.exceptions import Refused
from authz.access.group_commit import Window
from authz.access.trail import Trail
from authz.calendar import service as calendar_service
from authz.calendar.service import TZ
from authz.clock.settings import ClockSettings
from authz.types import AccessMode, AccessReason
from catalog_schema.resource import controls
from catalog_schema.resource.controls import Controls, InvalidControlParam

NONE = Controls()


@lru_cache(maxsize=512)
def parsed(text: str | None) -> Controls | InvalidControlParam:
    """The controls of a resource's stored ``control_params`` JSON, or the first value that does not parse."""
    if not text:
        return NONE
    try:
        return controls.of(json.loads(text) or [])
    except InvalidControlParam as exc:
        return exc


def _refuse(reason: AccessReason, detail: str, detail_en: str, **extra: object) -> NoReturn:
    raise Refused(reason, detail, detail_en, extra=dict(extra) if extra else None)


def _in_window(db: Session, found: Controls, at: datetime) -> bool:
    local = at.astimezone(TZ)
    minute = local.hour * 60 + local.minute
    working: bool | None = None
    for window in found.time_windows:
        if window.working_days_only and working is None:
            calendar = calendar_service.get_calendar(db=db, region=ClockSettings().calendar_region)
            working = calendar.is_working_day(local.date())
        if window.contains(minute, working_day=bool(working)):
            return True
    return False


def check(
    *, db: Session, trail: Trail, code: str, found: Controls | InvalidControlParam, at: datetime
) -> None:
    """Every 管控参数 check of a call, in order (the rate limit aside); raises Refused."""
    if isinstance(found, InvalidControlParam):
        _refuse(
            AccessReason.resource_unavailable,
            f"信息资源 {code} 的{found.message}，接口暂停服务，请联系平台数据管理员",
            f"resource {code}: {found.message_en}; the interface is closed until it is corrected",
        )
    mode = trail.mode
    if not found.allows_mode(mode.value):
        _refuse(
            AccessReason.mode_not_allowed,
            f"信息资源 {code} 不允许“{mode.label}”，只允许{found.modes_text}",
            f"resource {code} does not allow {mode.value}; it allows "
            + ", ".join(m.value for m in found.modes or ()),
            allowed_modes=[m.value for m in found.modes or ()],
        )
    if found.query_key and mode is AccessMode.bulk_export:
        key = "、".join(found.query_key)
        _refuse(
            AccessReason.query_key_required,
            f"信息资源 {code} 须以“{key}”逐条查询",
            f"resource {code} is read by its query key ({', '.join(found.query_key)}) only",
            query_key=list(found.query_key),
        )
    if found.time_windows and not _in_window(db, found, at):
        windows = "、".join(w.text for w in found.time_windows)
        _refuse(
            AccessReason.outside_time_window,
            f"信息资源 {code} 的调用时段为 {windows}（北京时间）",
            f"resource {code} takes calls {windows} (Beijing time)",
            time_windows=[w.text for w in found.time_windows],
        )
    if not found.allows_address(trail.call.client_ip):
        allowed = "；".join(a.text for a in found.allowlists)
        _refuse(
            AccessReason.address_not_allowed,
            f"来源地址 {trail.call.client_ip or '（未知）'} 不在信息资源 {code} 允许的范围内（{allowed}）",
            f"address {trail.call.client_ip or '(unknown)'} is not allowed for resource {code} ({allowed})",
        )


def window(
    *, trail: Trail, resource_id: int, found: Controls | InvalidControlParam, at: datetime
) -> Window | None:
    """The rate-limit window the call counts in, or None when the resource has no rate limit."""
    limit = found.rate_limit if isinstance(found, Controls) else None
    if limit is None or trail.client_id is None:
        return None
    second = int(at.timestamp())
    return Window(
        client_id=trail.client_id,
        resource_id=resource_id,
        start=second - second % limit.seconds,
        seconds=limit.seconds,
        limit=limit.calls,
    )
