"""卫健's demo API (demo/health_api.py) serving the generated vital records page by page."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from demo import health_api, sources
from tests.demo.generated import Demo

Served = tuple[str, list[dict[str, Any]]]  # the API's records URL, and the records it serves


@pytest.fixture
def served_records(demo: Demo) -> Iterator[Served]:
    out, _ = demo
    records_path = out / sources.HEALTH_RECORDS
    server, base = health_api.serve(records_path)
    yield base + health_api.RECORDS_PATH, health_api.load_records(records_path)
    server.shutdown()


def test_health_api_serves_the_records_page_by_page(served_records: Served) -> None:
    url, records = served_records
    size = 40

    pages = [
        httpx.get(url, params={"page": p, "size": size}).json() for p in range(1, len(records) // size + 2)
    ]

    assert [r for page in pages for r in page["data"]] == records
    assert {page["total"] for page in pages} == {len(records)}
    assert [page["page"] for page in pages] == list(range(1, len(pages) + 1))


def test_health_api_answers_an_empty_page_past_the_end(served_records: Served) -> None:
    url, records = served_records

    body = httpx.get(url, params={"page": len(records) + 1, "size": 1}).json()

    assert body == {"data": [], "page": len(records) + 1, "size": 1, "total": len(records)}


def test_health_api_keeps_records_updated_after_since(served_records: Served) -> None:
    url, records = served_records
    since = sorted(r["gxsj"] for r in records)[len(records) // 2]

    body = httpx.get(url, params={"page": 1, "size": 10_000, "since": since}).json()

    assert body["data"] == [r for r in records if r["gxsj"] > since]


@pytest.mark.parametrize("query", [{"page": "0"}, {"size": "-1"}, {"page": "x"}])
def test_health_api_refuses_bad_paging(served_records: Served, query: dict[str, str]) -> None:
    url, _ = served_records

    response = httpx.get(url, params=query)

    assert response.status_code == 400 and response.json()["code"] == "bad_request"


def test_health_api_answers_404_for_other_paths(served_records: Served) -> None:
    url, _ = served_records

    response = httpx.get(url.replace("vital-records", "other"))

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_health_api_stops_on_shutdown(demo: Demo) -> None:
    out, _ = demo
    server, base = health_api.serve(out / sources.HEALTH_RECORDS)

    server.shutdown()

    with pytest.raises(httpx.ConnectError):
        httpx.get(base + health_api.RECORDS_PATH)


def _base(url: str) -> str:
    return url.removesuffix(health_api.RECORDS_PATH)


def test_health_api_answers_a_birth_certificate_in_the_resources_item_names(served_records: Served) -> None:
    url, records = served_records
    record = next(r for r in records if r["cszmbh"])

    response = httpx.get(_base(url) + health_api.BIRTH_CERTIFICATES_PATH + record["cszmbh"])

    assert response.status_code == 200
    assert response.json() == {
        "records": [
            {
                "出生医学证明编号": record["cszmbh"],
                "新生儿姓名": record["xm"],
                "新生儿性别": record["xb"],
                "出生日期": record["csrq"],
            }
        ]
    }


def test_health_api_answers_404_for_a_birth_certificate_it_never_issued(served_records: Served) -> None:
    url, _ = served_records

    response = httpx.get(_base(url) + health_api.BIRTH_CERTIFICATES_PATH + "Z000000000")

    assert response.status_code == 404 and response.json()["code"] == "not_found"
