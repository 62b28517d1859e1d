"""HttpConnector against a real paged JSON API served from a local thread."""

from collections.abc import Callable
from typing import Any

import pytest

from connectors.base import ROW_COLUMN, SchemaDrift, SourceError, SourceUnreachable, Window
from connectors.http import HttpConnector
from tests.connectors.conftest import Api, api_record, batch_rows, make_spec

SetConn = Callable[[str, str], None]
COLUMNS = {"sfzh": "population.id_number", "xm": "population.name", "gz": "population.salary"}
COLUMNS |= {"sfyx": "population.insurance_status", "bz": "population.note"}


@pytest.fixture
def people_api(api: Api, set_conn: SetConn) -> Callable[..., HttpConnector]:
    """``people_api(path="/people", page_size=..., ...)``: a connector on the local API."""
    set_conn("renshe_api", api.base)

    def connector(
        path: str = "/people", columns: dict[str, str] | None = None, **declared: Any
    ) -> HttpConnector:
        declared = {"page_size": 100, "backoff_s": 0.01, **declared}
        spec = make_spec(
            {"kind": "http", "conn_id": "renshe_api", "path": path, **declared}, columns or COLUMNS
        )
        return HttpConnector(spec)

    return connector


def test_pages_are_read_until_a_short_page(api: Api, people_api: Callable[..., HttpConnector]) -> None:
    rows = batch_rows(list(people_api().read(Window())))

    assert [q["page"] for q in api.asked("/api/people")] == ["1", "2", "3"]
    assert [r[ROW_COLUMN] for r in rows] == list(range(1, 251))
    first = api_record(1)
    assert rows[0] == {
        "sfzh": first["sfzh"],
        "xm": first["xm"],
        "gz": "3001.25",
        "sfyx": "0",
        "bz": None,
        "_row": 1,
    }


def test_records_are_batched_by_chunk_rows_across_pages(people_api: Callable[..., HttpConnector]) -> None:
    batches = list(people_api(page_size=30, chunk_rows=100).read(Window()))

    assert [b.num_rows for b in batches] == [100, 100, 50]
    assert batches[1].column(ROW_COLUMN).to_pylist() == list(range(101, 201))


def test_full_page_at_the_end_costs_one_empty_page(
    api: Api, people_api: Callable[..., HttpConnector]
) -> None:
    rows = batch_rows(list(people_api(page_size=50, first_page=1).read(Window())))

    assert len(rows) == 250
    assert [q["page"] for q in api.asked("/api/people")] == ["1", "2", "3", "4", "5", "6"]


def test_since_goes_to_the_server_and_high_water_is_the_latest(
    api: Api, people_api: Callable[..., HttpConnector]
) -> None:
    connector = people_api(since_param="since", incremental_field="gxsj")
    since = api_record(200)["gxsj"]

    rows = batch_rows(list(connector.read(Window(since=since))))

    assert [q["since"] for q in api.asked("/api/people")] == [since]
    assert [r["sfzh"] for r in rows] == [api_record(i)["sfzh"] for i in range(201, 251)]
    assert connector.stats.high_water == api_record(250)["gxsj"]


def test_two_503s_are_retried_then_the_page_is_read(
    api: Api, people_api: Callable[..., HttpConnector]
) -> None:
    api.failures_left = 2

    rows = batch_rows(list(people_api(path="/flaky", retries=3).read(Window())))

    assert len(rows) == 250
    assert [q["page"] for q in api.asked("/api/flaky")] == ["1", "1", "1", "2", "3"]


def test_timeouts_make_the_source_unreachable_after_the_retries(
    api: Api, people_api: Callable[..., HttpConnector]
) -> None:
    connector = people_api(path="/slow", timeout_s=0.1, retries=2)

    with pytest.raises(SourceUnreachable) as raised:
        list(connector.read(Window()))

    assert len(api.asked("/api/slow")) == 3
    assert raised.value.retryable
    assert "/api/slow?page=1&size=100" in raised.value.message_en and "ReadTimeout" in raised.value.message_en


def test_refused_connection_is_unreachable(set_conn: SetConn) -> None:
    set_conn("renshe_api", "http://127.0.0.1:1/api")
    spec = make_spec(
        {"kind": "http", "conn_id": "renshe_api", "path": "/people", "retries": 1, "backoff_s": 0}
    )

    with pytest.raises(SourceUnreachable) as raised:
        list(HttpConnector(spec).read(Window()))

    assert "ConnectError" in raised.value.message_en


def test_404_is_an_error_of_the_declaration_and_not_retried(
    api: Api, people_api: Callable[..., HttpConnector]
) -> None:
    with pytest.raises(SourceError) as raised:
        list(people_api(path="/missing", retries=3).read(Window()))

    assert raised.value.code == "source_http_error" and not raised.value.retryable
    assert "HTTP 404" in raised.value.message and "path" in raised.value.message_en
    assert len(api.asked("/api/missing")) == 1


def test_body_that_is_not_json_is_a_bad_response(people_api: Callable[..., HttpConnector]) -> None:
    with pytest.raises(SourceError) as raised:
        list(people_api(path="/html").read(Window()))

    assert raised.value.code == "source_bad_response" and "text/html" in raised.value.message_en


def test_body_without_the_records_field_is_a_bad_response(people_api: Callable[..., HttpConnector]) -> None:
    with pytest.raises(SourceError) as raised:
        list(people_api(path="/rows").read(Window()))

    assert raised.value.code == "source_bad_response" and "records_field" in raised.value.message_en


def test_declared_records_field_is_used(people_api: Callable[..., HttpConnector]) -> None:
    rows = batch_rows(list(people_api(path="/rows", records_field="rows").read(Window())))

    assert [r["sfzh"] for r in rows] == [api_record(i)["sfzh"] for i in range(1, 251)]


def test_missing_field_in_the_first_record_is_schema_drift(people_api: Callable[..., HttpConnector]) -> None:
    connector = people_api(columns={"sfzh": "population.id_number", "zjhm": "population.cert_no"})

    with pytest.raises(SchemaDrift) as raised:
        list(connector.read(Window()))

    assert raised.value.column == "zjhm" and "xm" in raised.value.message


def test_columns_are_the_fields_of_the_first_record(people_api: Callable[..., HttpConnector]) -> None:
    assert people_api().columns() == list(api_record(1))


def test_credentials_in_the_base_url_authenticate_but_are_never_shown(api: Api, set_conn: SetConn) -> None:
    set_conn("renshe_api", api.base.replace("http://", "http://renshe:s3cret-pw@") + "?appkey=k3y-abc")
    spec = make_spec({"kind": "http", "conn_id": "renshe_api", "path": "/missing"})

    with pytest.raises(SourceError) as raised:
        list(HttpConnector(spec).read(Window()))

    assert api.authorizations == ["Basic cmVuc2hlOnMzY3JldC1wdw=="]
    assert api.asked("/api/missing")[0]["appkey"] == "k3y-abc"
    shown = raised.value.message + raised.value.message_en
    assert "s3cret" not in shown and "k3y-abc" not in shown and "appkey=***" in shown
