"""The demo's fixtures: one generated city the tests share, and the SQL servers the SQL sources may go to.

The MariaDB and PostgreSQL legs write 公安's table into a database of their own on the servers
named by GOVDX_TEST_MARIADB_URL and GOVDX_TEST_POSTGRES_URL, dropped afterwards. Unset, a leg
is skipped, unless GOVDX_REQUIRE_SERVICES=1, which fails it instead.
"""

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from demo import sources
from tests.demo.generated import Demo

PEOPLE, ORGS, SEED = 400, 120, 11
MARIADB_ENV = "GOVDX_TEST_MARIADB_URL"
POSTGRES_ENV = "GOVDX_TEST_POSTGRES_URL"
REQUIRE_ENV = "GOVDX_REQUIRE_SERVICES"


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """One generated set of sources, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("demo")
    return out, sources.generate(out, people=PEOPLE, orgs=ORGS, seed=SEED)


@pytest.fixture(params=["mariadb", "postgresql"])
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on the MariaDB or PostgreSQL test server, dropped afterwards."""
    env = MARIADB_ENV if request.param == "mariadb" else POSTGRES_ENV
    url = os.environ.get(env)
    if not url:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {env} is not set")
        pytest.skip(f"{request.param} leg skipped: set {env} to run it")
    quote = "`" if request.param == "mariadb" else '"'
    name = f"govdx_src_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {quote}{name}{quote}"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"{request.param} at {env}={url} is unreachable: {exc.orig}", pytrace=False)
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if request.param == "postgresql" else ""
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quote}{name}{quote}{force}"))
        admin.dispose()
