"""Connection URLs from GOVDX_CONN_<ID> or Airflow's AIRFLOW_CONN_<ID>, passwords never shown."""

import json

import pytest

from connectors.base import SourceError
from connectors.credentials import redact, resolve_url


@pytest.fixture(autouse=True)
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVDX_CONN_RENSHE_DB", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_RENSHE_DB", raising=False)


def test_govdx_variable_wins_over_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVDX_CONN_RENSHE_DB", "postgresql+psycopg://hr@db.renshe/hr")
    monkeypatch.setenv("AIRFLOW_CONN_RENSHE_DB", "mysql://other@elsewhere/x")

    assert resolve_url("renshe_db", source="renshe_people") == "postgresql+psycopg://hr@db.renshe/hr"


@pytest.mark.parametrize(
    ("airflow", "url"),
    [
        ("mysql://hr:p%40ss%2Fw@10.1.2.3:3306/renshe", "mysql+pymysql://hr:p%40ss%2Fw@10.1.2.3:3306/renshe"),
        ("postgres://hr:pw@db.renshe:5432/hr", "postgresql+psycopg://hr:pw@db.renshe:5432/hr"),
        (
            "postgresql://hr@db.renshe/hr?sslmode=require&cursor=dictcursor",
            "postgresql+psycopg://hr@db.renshe/hr?sslmode=require",
        ),
        ("sqlite:////var/drop/renshe.sqlite", "sqlite:////var/drop/renshe.sqlite"),
        ("sqlite://%2Fvar%2Fdrop%2FRenshe.sqlite", "sqlite:////var/drop/Renshe.sqlite"),
        ("http://api.renshe.gov.cn:8080/open/v1", "http://api.renshe.gov.cn:8080/open/v1"),
        ("https://key:t0ken@api.renshe.gov.cn", "https://key:t0ken@api.renshe.gov.cn"),
    ],
)
def test_airflow_uri_maps_to_a_driver_url(airflow: str, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_RENSHE_DB", airflow)

    assert resolve_url("renshe_db", source="renshe_people") == url


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        (
            {
                "conn_type": "mysql",
                "host": "10.1.2.3",
                "login": "hr",
                "password": "p@ss",
                "port": 3306,
                "schema": "renshe",
                "extra": {"charset": "utf8mb4", "cursor": "sscursor"},
            },
            "mysql+pymysql://hr:p%40ss@10.1.2.3:3306/renshe?charset=utf8mb4",
        ),
        (
            {
                "conn_type": "postgres",
                "host": "db",
                "login": "hr",
                "schema": "hr",
                "extra": '{"sslmode": "verify-full"}',
            },
            "postgresql+psycopg://hr@db/hr?sslmode=verify-full",
        ),
        ({"conn_type": "sqlite", "host": "/var/drop/renshe.sqlite"}, "sqlite:////var/drop/renshe.sqlite"),
        (
            {"conn_type": "http", "host": "api.renshe", "port": 8080, "schema": "open/v1"},
            "http://api.renshe:8080/open/v1",
        ),
        ({"conn_type": "http", "host": "api.renshe", "schema": "https"}, "https://api.renshe"),
        ({"conn_type": "http", "host": "https://api.renshe/open/"}, "https://api.renshe/open"),
    ],
)
def test_airflow_json_maps_to_a_driver_url(
    fields: dict[str, object], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_RENSHE_DB", json.dumps(fields))

    assert resolve_url("renshe_db", source="renshe_people") == url


def test_missing_connection_names_both_variables() -> None:
    with pytest.raises(SourceError) as raised:
        resolve_url("renshe_db", source="renshe_people")

    assert raised.value.code == "source_credentials_missing"
    assert "GOVDX_CONN_RENSHE_DB" in raised.value.message and "AIRFLOW_CONN_RENSHE_DB" in raised.value.message
    assert raised.value.source == "renshe_people"


def test_broken_airflow_json_is_invalid_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_RENSHE_DB", '{"conn_type": "mysql", "password": "s3cret-pw", ')

    with pytest.raises(SourceError) as raised:
        resolve_url("renshe_db", source="renshe_people")

    assert raised.value.code == "source_credentials_invalid"
    assert "s3cret" not in raised.value.message + raised.value.message_en + str(raised.value.__cause__)


def test_unsupported_connection_type_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_RENSHE_DB", "oracle://hr:pw@db:1521/hr")

    with pytest.raises(SourceError) as raised:
        resolve_url("renshe_db", source="renshe_people")

    assert raised.value.code == "source_credentials_invalid" and "oracle" in raised.value.message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql+pymysql://hr:s3cret@db:3306/hr", "mysql+pymysql://hr:***@db:3306/hr"),
        ("https://key:t0ken@api.renshe/open?x=1", "https://key:***@api.renshe/open?x=1"),
        ("postgresql+psycopg://hr@db/hr", "postgresql+psycopg://hr@db/hr"),
    ],
)
def test_redact_hides_the_password(url: str, shown: str) -> None:
    assert redact(url) == shown
