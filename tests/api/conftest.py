"""Fixtures shared by the API and portal tests."""

import pytest

from ingest import flows
from tests import sources


@pytest.fixture
def loaded(session_factory, tmp_path):
    """公安 loads two people (one with an unknown ethnicity code); 人社 spells one name differently."""
    huji = sources.household_register(tmp_path / "huji.csv", [sources.person(1), sources.person(2, mz="77")])
    canbao = sources.social_insurance(
        tmp_path / "canbao.csv", [{"sfzh": sources.id_number(1), "xm": "侧试1", "cbzt": "1"}]
    )
    run = {"session_factory": session_factory, "sources_dir": tmp_path, "run_id": "test"}
    return flows.ingest(huji, **run), flows.ingest(canbao, **run), huji
