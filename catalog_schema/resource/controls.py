"""管控参数 (control parameters): what a resource's interface imposes on every call, read from its text.

A resource keeps each parameter as ``{kind, value}``, the value as a catalog writes it, so a
catalog file stays readable; this module reads the value of each enforceable kind into a typed
form, or says what is wrong and which form is accepted. Modelled on python-stdnum: one
``parse_*`` per kind, :func:`parse` for any kind, :func:`check` for a resource's whole list and
:func:`of` for the parsed whole. Spaces between the parts of a value are free.

- ``rate_limit``: ``N次/秒``, ``N次/分钟`` or ``N次/小时`` (also ``N/s``, ``N/min``, ``N/h``);
  calls per client in each fixed window of that length. At most one per resource.
- ``time_window``: ``每日 HH:MM-HH:MM`` or ``工作日 HH:MM-HH:MM``, Asia/Shanghai, the end after
  the start (``24:00`` ends the day). 工作日 are the national calendar's working days with its
  调休. Several windows: a call inside any of them is inside.
- ``ip_allowlist``: an optional label, then one or more IPv4 or IPv6 addresses or networks
  (CIDR, no host bits), separated by spaces, commas or 、: ``政务外网 10.35.0.0/16``. Several
  lists: an address in any of them is allowed.
- ``mandatory_query_key``: the name of the item a call is keyed by, or several joined by 、 (any
  of them); each must be an item of the resource. A call that names no subject is refused.
- ``access_modes``: the access modes the resource allows, by value or label, separated by 、,
  commas or spaces: ``单条查询、批量查询`` or ``lookup, batch``. At most one per resource.
- ``other``: free text; it routes the request to the provider and nothing enforces it.
"""

import ipaddress
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from catalog_schema.types import ControlParamKind, InterfaceMode

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The accepted form of each kind, for error messages: Chinese, English.
FORMS: dict[ControlParamKind, tuple[str, str]] = {
    ControlParamKind.rate_limit: (
        "“次数次/秒|分钟|小时”，如 600次/分钟",
        "'N次/秒|分钟|小时' (or N/s, N/min, N/h), e.g. 600次/分钟",
    ),
    ControlParamKind.time_window: (
        "“每日|工作日 HH:MM-HH:MM”（北京时间，结束晚于开始），如 工作日 08:00-20:00",
        "'每日|工作日 HH:MM-HH:MM' (Beijing time, end after start), e.g. 工作日 08:00-20:00",
    ),
    ControlParamKind.ip_allowlist: (
        "“[名称] 地址或网段 …”（IPv4/IPv6，以空格、逗号或顿号分隔），如 政务外网 10.35.0.0/16",
        "'[label] address-or-CIDR ...' (IPv4/IPv6, separated by spaces, commas or 、), "
        "e.g. 政务外网 10.35.0.0/16",
    ),
    ControlParamKind.mandatory_query_key: (
        "资源的信息项名称（多个以顿号分隔），如 公民身份号码",
        "the name of an item of the resource (several joined by 、), e.g. 公民身份号码",
    ),
    ControlParamKind.access_modes: (
        "访问方式，以顿号、逗号或空格分隔：" + "、".join(f"{m.label}({m.value})" for m in InterfaceMode),
        "access modes separated by 、, commas or spaces: " + ", ".join(m.value for m in InterfaceMode),
    ),
}
# Kinds a resource may declare once: two rate limits or two mode lists would contradict each other.
SINGLE = frozenset(
    {ControlParamKind.rate_limit, ControlParamKind.access_modes, ControlParamKind.mandatory_query_key}
)


class InvalidControlParam(ValueError):
    """A 管控参数 whose value does not follow its kind's grammar (or does not fit its resource)."""

    kind = ControlParamKind.other

    def __init__(self, value: str, reason_zh: str, reason_en: str) -> None:
        super().__init__(f"{self.kind.value} {value!r}: {reason_en}")
        self.value = value
        self.reason_zh = reason_zh
        self.reason_en = reason_en

    @property
    def message(self) -> str:
        form = FORMS.get(self.kind)
        accepted = f"；应写作{form[0]}" if form else ""
        return (
            f"管控参数“{self.kind.label}”（{self.kind.value}）的取值“{self.value}”{self.reason_zh}{accepted}"
        )

    @property
    def message_en(self) -> str:
        form = FORMS.get(self.kind)
        accepted = f"; write it as {form[1]}" if form else ""
        return f"control parameter {self.kind.value} {self.value!r}: {self.reason_en}{accepted}"


class InvalidRateLimit(InvalidControlParam):
    kind = ControlParamKind.rate_limit


class InvalidTimeWindow(InvalidControlParam):
    kind = ControlParamKind.time_window


class InvalidAllowlist(InvalidControlParam):
    kind = ControlParamKind.ip_allowlist


class InvalidQueryKey(InvalidControlParam):
    kind = ControlParamKind.mandatory_query_key


class InvalidAccessModes(InvalidControlParam):
    kind = ControlParamKind.access_modes


_ERRORS: dict[ControlParamKind, type[InvalidControlParam]] = {
    ControlParamKind.rate_limit: InvalidRateLimit,
    ControlParamKind.time_window: InvalidTimeWindow,
    ControlParamKind.ip_allowlist: InvalidAllowlist,
    ControlParamKind.mandatory_query_key: InvalidQueryKey,
    ControlParamKind.access_modes: InvalidAccessModes,
}


# -- rate_limit ----------------------------------------------------------------------------------

_UNITS = {"秒": 1, "分钟": 60, "小时": 3600, "s": 1, "min": 60, "h": 3600}
_RATE = re.compile(r"^(?P<calls>[0-9]{1,9})\s*(?:次\s*)?/\s*(?P<unit>秒|分钟|小时|s|min|h)$")
_UNIT_LABEL = {1: "秒", 60: "分钟", 3600: "小时"}


@dataclass(frozen=True)
class RateLimit:
    """At most ``calls`` calls per client in each fixed window of ``seconds``."""

    calls: int
    seconds: int

    @property
    def text(self) -> str:
        return f"{self.calls}次/{_UNIT_LABEL[self.seconds]}"


def parse_rate_limit(value: str) -> RateLimit:
    """``600次/分钟`` as 600 calls per 60 seconds."""
    match = _RATE.match(value.strip())
    if match is None:
        raise InvalidRateLimit(value, "无法识别", "is not a rate")
    calls = int(match["calls"])
    if calls < 1:
        raise InvalidRateLimit(value, "次数应至少为 1", "allows no call at all")
    return RateLimit(calls=calls, seconds=_UNITS[match["unit"]])


# -- time_window ---------------------------------------------------------------------------------

_DAYS = {"每日": False, "工作日": True}
_WINDOW = re.compile(
    r"^(?P<days>每日|工作日)\s*(?P<sh>[0-9]{1,2})[:：](?P<sm>[0-9]{2})\s*(?:-|至)\s*"
    r"(?P<eh>[0-9]{1,2})[:：](?P<em>[0-9]{2})$"
)


@dataclass(frozen=True)
class TimeWindow:
    """Calls are taken from ``start`` to ``end`` (minutes after midnight, Beijing time) on each day,
    or on working days only."""

    working_days_only: bool
    start: int
    end: int

    @property
    def text(self) -> str:
        days = "工作日" if self.working_days_only else "每日"
        return f"{days} {self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"

    def contains(self, minute: int, *, working_day: bool) -> bool:
        """Whether ``minute`` after midnight of a day (a working day or not) is inside the window."""
        return (working_day or not self.working_days_only) and self.start <= minute < self.end


def _minute(hour: str, minute: str, value: str, *, end: bool) -> int:
    h, m = int(hour), int(minute)
    if m > 59 or h > 24 or (h == 24 and (m or not end)):
        raise InvalidTimeWindow(
            value, f"时刻 {hour}:{minute} 不存在", f"{hour}:{minute} is not a time of day"
        )
    return h * 60 + m


def parse_time_window(value: str) -> TimeWindow:
    """``工作日 08:00-20:00`` as working days from 08:00 to 20:00 (Asia/Shanghai)."""
    match = _WINDOW.match(value.strip())
    if match is None:
        raise InvalidTimeWindow(value, "无法识别", "is not a time window")
    start = _minute(match["sh"], match["sm"], value, end=False)
    end = _minute(match["eh"], match["em"], value, end=True)
    if end <= start:
        raise InvalidTimeWindow(value, "结束时刻应晚于开始时刻", "ends before it starts")
    return TimeWindow(working_days_only=_DAYS[match["days"]], start=start, end=end)


# -- ip_allowlist --------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s,，、;；]+")
_ADDRESS_LIKE = re.compile(r"^[0-9A-Fa-f.:/]+$")


@dataclass(frozen=True)
class Allowlist:
    """The addresses a call may come from: ``networks``, under an optional ``label`` (政务外网)."""

    label: str
    networks: tuple[IPNetwork, ...]

    @property
    def text(self) -> str:
        return " ".join([self.label, *(str(n) for n in self.networks)]).strip()


def parse_ip_allowlist(value: str) -> Allowlist:
    """``政务外网 10.35.0.0/16`` as the label 政务外网 and the network 10.35.0.0/16."""
    tokens = [t for t in _SEPARATORS.split(value.strip()) if t]
    label: list[str] = []
    networks: list[IPNetwork] = []
    for token in tokens:
        looks_like_address = bool(_ADDRESS_LIKE.match(token)) and any(c.isdigit() for c in token)
        if not looks_like_address:
            if networks:
                raise InvalidAllowlist(
                    value, f"地址之后的“{token}”不是地址或网段", f"{token!r} after the addresses is not one"
                )
            label.append(token)
            continue
        try:
            networks.append(ipaddress.ip_network(token, strict=True))
        except ValueError as exc:
            raise InvalidAllowlist(
                value, f"“{token}”不是有效的地址或网段（网段不能含主机位）", f"{token!r} is not valid: {exc}"
            ) from exc
    if not networks:
        raise InvalidAllowlist(value, "未列出任何地址或网段", "names no address or network")
    return Allowlist(label=" ".join(label), networks=tuple(networks))


# -- access_modes and mandatory_query_key --------------------------------------------------------

_MODES = {**{m.value: m for m in InterfaceMode}, **{m.label: m for m in InterfaceMode}}


def parse_access_modes(value: str) -> tuple[InterfaceMode, ...]:
    """``单条查询、批量查询`` (or ``lookup, batch``) as the modes lookup and batch, in the order given."""
    modes: list[InterfaceMode] = []
    for token in (t for t in _SEPARATORS.split(value.strip()) if t):
        mode = _MODES.get(token)
        if mode is None:
            raise InvalidAccessModes(value, f"“{token}”不是访问方式", f"{token!r} is not an access mode")
        if mode in modes:
            raise InvalidAccessModes(value, f"“{token}”重复", f"{token!r} is repeated")
        modes.append(mode)
    if not modes:
        raise InvalidAccessModes(value, "未列出任何访问方式", "names no access mode")
    return tuple(modes)


def parse_query_key(value: str, items: Collection[str] | None = None) -> tuple[str, ...]:
    """The item names a call is keyed by; with ``items``, each must be one of them."""
    names = tuple(n.strip() for n in value.split("、") if n.strip())
    if not names:
        raise InvalidQueryKey(value, "未写明信息项", "names no item")
    missing = [n for n in names if items is not None and n not in items]
    if missing:
        raise InvalidQueryKey(
            value,
            f"不是本资源的信息项（{'、'.join(missing)}）",
            f"is not an item of the resource ({', '.join(missing)})",
        )
    return names


# -- a resource's whole list ---------------------------------------------------------------------


def parse(kind: ControlParamKind, value: str, *, items: Collection[str] | None = None) -> Any:
    """The typed form of one parameter (``other``: its text); raises InvalidControlParam."""
    if kind is ControlParamKind.rate_limit:
        return parse_rate_limit(value)
    if kind is ControlParamKind.time_window:
        return parse_time_window(value)
    if kind is ControlParamKind.ip_allowlist:
        return parse_ip_allowlist(value)
    if kind is ControlParamKind.access_modes:
        return parse_access_modes(value)
    if kind is ControlParamKind.mandatory_query_key:
        return parse_query_key(value, items)
    return value


def is_valid(kind: ControlParamKind, value: str) -> bool:
    """Whether ``value`` follows the grammar of ``kind``."""
    try:
        parse(kind, value)
    except InvalidControlParam:
        return False
    return True


@dataclass(frozen=True)
class Controls:
    """A resource's parsed 管控参数; an absent kind imposes nothing."""

    rate_limit: RateLimit | None = None
    time_windows: tuple[TimeWindow, ...] = ()
    allowlists: tuple[Allowlist, ...] = ()
    query_key: tuple[str, ...] = ()
    modes: tuple[InterfaceMode, ...] | None = None  # None: every mode
    other: tuple[str, ...] = ()

    def allows_mode(self, mode: str) -> bool:
        """Whether the resource lets a system read it in ``mode`` (an access mode's value)."""
        return self.modes is None or mode in self.modes

    @property
    def modes_text(self) -> str:
        return "、".join(m.label for m in self.modes or ())

    def allows_address(self, address: str | None) -> bool:
        """Whether a call from ``address`` is allowed (no allowlist: any address)."""
        if not self.allowlists:
            return True
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for allowlist in self.allowlists for network in allowlist.networks)


def check(
    params: Iterable[Mapping[str, Any]], *, items: Collection[str] | None = None
) -> list[tuple[int, InvalidControlParam]]:
    """Every problem of a resource's list, by position: values, kinds declared twice, unknown items."""
    problems: list[tuple[int, InvalidControlParam]] = []
    seen: set[ControlParamKind] = set()
    for i, param in enumerate(params):
        kind, value = ControlParamKind.of(str(param["kind"])), str(param["value"])
        try:
            parse(kind, value, items=items)
        except InvalidControlParam as exc:
            problems.append((i, exc))
            continue
        if kind in SINGLE and kind in seen:
            problems.append(
                (i, _ERRORS[kind](value, "重复：每个资源只能有一项", "is declared twice; one is allowed"))
            )
        seen.add(kind)
    return problems


def of(params: Iterable[Mapping[str, Any]]) -> Controls:
    """The parsed 管控参数 of a resource's stored list; raises InvalidControlParam on the first bad one."""
    rate_limit: RateLimit | None = None
    windows: list[TimeWindow] = []
    allowlists: list[Allowlist] = []
    query_key: tuple[str, ...] = ()
    modes: tuple[InterfaceMode, ...] | None = None
    other: list[str] = []
    for param in params:
        kind, value = ControlParamKind.of(str(param["kind"])), str(param["value"])
        parsed = parse(kind, value)
        if kind is ControlParamKind.rate_limit:
            rate_limit = parsed
        elif kind is ControlParamKind.time_window:
            windows.append(parsed)
        elif kind is ControlParamKind.ip_allowlist:
            allowlists.append(parsed)
        elif kind is ControlParamKind.mandatory_query_key:
            query_key = parsed
        elif kind is ControlParamKind.access_modes:
            modes = parsed
        else:
            other.append(value)
    return Controls(
        rate_limit=rate_limit,
        time_windows=tuple(windows),
        allowlists=tuple(allowlists),
        query_key=query_key,
        modes=modes,
        other=tuple(other),
    )
