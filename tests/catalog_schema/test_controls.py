"""管控参数: each kind's grammar, the forms it accepts and refuses, and a resource's list as a whole."""

import ipaddress

import pytest

from authz.types import AccessMode
from catalog_schema.resource import controls
from catalog_schema.resource.controls import RateLimit, TimeWindow
from catalog_schema.types import ControlParamKind, InterfaceMode

# -- rate_limit ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "calls", "seconds"),
    [
        ("600次/分钟", 600, 60),
        ("10次/秒", 10, 1),
        ("3000次/小时", 3000, 3600),
        (" 20 次 / 分钟 ", 20, 60),
        ("120/min", 120, 60),
        ("5/s", 5, 1),
        ("100/h", 100, 3600),
    ],
)
def test_rate_limit_reads_calls_per_window(value, calls, seconds):
    assert controls.parse_rate_limit(value) == RateLimit(calls=calls, seconds=seconds)


@pytest.mark.parametrize(
    "value", ["600次每分钟", "600", "次/分钟", "0次/分钟", "-5次/秒", "600次/天", "1.5次/秒"]
)
def test_rate_limit_refuses_what_is_not_calls_per_second_minute_or_hour(value):
    with pytest.raises(controls.InvalidRateLimit) as refused:
        controls.parse_rate_limit(value)

    assert "次数次/秒|分钟|小时" in refused.value.message and "600次/分钟" in refused.value.message_en


def test_rate_limit_says_itself_in_the_catalogs_words():
    assert controls.parse_rate_limit("120/min").text == "120次/分钟"


# -- time_window -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "window"),
    [
        ("每日 07:00-22:00", TimeWindow(working_days_only=False, start=7 * 60, end=22 * 60)),
        ("工作日 08:00-20:00", TimeWindow(working_days_only=True, start=8 * 60, end=20 * 60)),
        ("工作日8:30至17:30", TimeWindow(working_days_only=True, start=8 * 60 + 30, end=17 * 60 + 30)),
        ("每日 00:00-24:00", TimeWindow(working_days_only=False, start=0, end=24 * 60)),
        ("每日 08：00-12：00", TimeWindow(working_days_only=False, start=8 * 60, end=12 * 60)),
    ],
)
def test_time_window_reads_days_and_hours(value, window):
    assert controls.parse_time_window(value) == window


@pytest.mark.parametrize(
    "value",
    [
        "每日 22:00-07:00",
        "每日 08:00-08:00",
        "周末 08:00-20:00",
        "每日 25:00-26:00",
        "每日 08:60-09:00",
        "08:00-20:00",
    ],
)
def test_time_window_refuses_unknown_days_impossible_times_and_ends_before_starts(value):
    with pytest.raises(controls.InvalidTimeWindow) as refused:
        controls.parse_time_window(value)

    assert "每日|工作日 HH:MM-HH:MM" in refused.value.message


def test_time_window_contains_its_start_but_not_its_end():
    window = controls.parse_time_window("工作日 08:00-20:00")

    assert window.contains(8 * 60, working_day=True)
    assert not window.contains(20 * 60, working_day=True)
    assert not window.contains(12 * 60, working_day=False)
    assert window.text == "工作日 08:00-20:00"


# -- ip_allowlist ----------------------------------------------------------------------------------


def test_allowlist_reads_a_label_and_networks_of_both_families():
    allowlist = controls.parse_ip_allowlist("政务外网 10.35.0.0/16，2001:db8::/32、192.0.2.7")

    assert allowlist.label == "政务外网"
    assert allowlist.networks == (
        ipaddress.ip_network("10.35.0.0/16"),
        ipaddress.ip_network("2001:db8::/32"),
        ipaddress.ip_network("192.0.2.7/32"),
    )


def test_allowlist_without_a_label_is_just_its_networks():
    assert controls.parse_ip_allowlist("127.0.0.1/32").label == ""


@pytest.mark.parametrize(
    "value",
    ["政务外网", "政务外网 10.35.0.0/33", "政务外网 10.35.1.0/16", "10.35.0.0/16 政务外网", "999.1.1.1"],
)
def test_allowlist_refuses_no_network_a_bad_one_or_a_label_after_them(value):
    with pytest.raises(controls.InvalidAllowlist) as refused:
        controls.parse_ip_allowlist(value)

    assert "10.35.0.0/16" in refused.value.message


def test_an_address_inside_any_list_is_allowed_and_nothing_else_is():
    checked = controls.of(
        [
            {"kind": "ip_allowlist", "value": "政务外网 10.35.0.0/16"},
            {"kind": "ip_allowlist", "value": "本机（演示） 127.0.0.1/32 ::1/128"},
        ]
    )

    assert checked.allows_address("10.35.200.1") and checked.allows_address("127.0.0.1")
    assert checked.allows_address("::ffff:10.35.0.9") and checked.allows_address("::1")
    assert not checked.allows_address("10.36.0.1")
    assert not checked.allows_address("testclient") and not checked.allows_address(None)


# -- access_modes and mandatory_query_key ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "modes"),
    [
        ("单条查询", (InterfaceMode.lookup,)),
        ("单条查询、批量查询", (InterfaceMode.lookup, InterfaceMode.batch)),
        ("lookup, batch", (InterfaceMode.lookup, InterfaceMode.batch)),
        ("bulk_export 单条查询", (InterfaceMode.bulk_export, InterfaceMode.lookup)),
    ],
)
def test_access_modes_are_read_by_value_or_label(value, modes):
    assert controls.parse_access_modes(value) == modes


@pytest.mark.parametrize("value", ["逐条查询", "lookup、单条查询", "、", "lookup; export"])
def test_access_modes_refuse_unknown_and_repeated_modes(value):
    with pytest.raises(controls.InvalidAccessModes) as refused:
        controls.parse_access_modes(value)

    assert "单条查询(lookup)" in refused.value.message


def test_interface_modes_are_the_data_planes_access_modes():
    assert [(m.value, m.label) for m in InterfaceMode] == [(m.value, m.label) for m in AccessMode]


def test_query_key_must_name_items_of_the_resource():
    assert controls.parse_query_key(
        "男方公民身份号码、女方公民身份号码", ["男方公民身份号码", "女方公民身份号码"]
    ) == (
        "男方公民身份号码",
        "女方公民身份号码",
    )
    with pytest.raises(controls.InvalidQueryKey) as refused:
        controls.parse_query_key("公民身份号码", ["男方公民身份号码"])

    assert "不是本资源的信息项（公民身份号码）" in refused.value.message


# -- a resource's list -----------------------------------------------------------------------------


def test_check_names_each_bad_parameter_by_position():
    params = [
        {"kind": "rate_limit", "value": "600次/分钟"},
        {"kind": "time_window", "value": "每晚"},
        {"kind": "rate_limit", "value": "10次/秒"},
        {"kind": "mandatory_query_key", "value": "身份证号"},
        {"kind": "other", "value": "须携带持证人授权凭证编号"},
    ]

    problems = controls.check(params, items=["公民身份号码"])

    assert [(i, type(e)) for i, e in problems] == [
        (1, controls.InvalidTimeWindow),
        (2, controls.InvalidRateLimit),
        (3, controls.InvalidQueryKey),
    ]
    assert "重复" in problems[1][1].message


def test_of_gathers_the_parsed_parameters():
    checked = controls.of(
        [
            {"kind": "mandatory_query_key", "value": "公民身份号码"},
            {"kind": "rate_limit", "value": "600次/分钟"},
            {"kind": "time_window", "value": "每日 07:00-22:00"},
            {"kind": "access_modes", "value": "单条查询"},
            {"kind": "other", "value": "须携带授权凭证"},
        ]
    )

    assert checked.query_key == ("公民身份号码",) and checked.rate_limit == RateLimit(600, 60)
    assert [w.text for w in checked.time_windows] == ["每日 07:00-22:00"]
    assert checked.allows_mode("lookup") and not checked.allows_mode("batch")
    assert checked.other == ("须携带授权凭证",)


def test_no_parameters_impose_nothing():
    checked = controls.of([])

    assert checked.allows_mode("bulk_export") and checked.allows_address("203.0.113.9")
    assert checked.rate_limit is None and checked.time_windows == () and checked.query_key == ()


def test_other_is_free_text():
    assert controls.is_valid(ControlParamKind.other, "任何说明都可以")
