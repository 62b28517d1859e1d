"""Fixtures: the platform database on SQLite and PostgreSQL, a transaction per test, an API client.

Every test that takes ``db`` or ``client`` runs once per backend. The schema is built by the
real Alembic migrations and the demo catalog is loaded once per backend; each test then runs
inside a transaction that is rolled back, so tests see the same starting state.

The API app is built once per run (per distinct settings) and pointed at each test's session
factory and settings; building it for each of the API tests was most of the suite's time.
Passwords are hashed with Argon2id at its cheapest parameters (GOVDX_PASSWORD_HASH_PROFILE): the
tests check hashing and verification, not its cost.

The PostgreSQL leg runs when GOVDX_TEST_POSTGRES_URL names a server; it gets a fresh database
of its own there, dropped at the end. With GOVDX_REQUIRE_SERVICES=1 (as .ci/run sets) a
missing or unreachable server fails the run instead of skipping the leg.
"""

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, delete, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from api.settings import ApiSettings
from authz import security
from authz.audit.models import GENESIS, AccessRecord, AuditCheckpoint, AuditHead
from catalog_schema import migrate
from catalog_schema.database import make_engine
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.service import Keyring
from catalog_schema.user import service as user_service
from demo import catalog as demo_catalog
from tests import factories

POSTGRES_ENV = "GOVDX_TEST_POSTGRES_URL"
REQUIRE_ENV = "GOVDX_REQUIRE_SERVICES"
TEST_SECRET = factories.TEST_SECRET

_legs: dict[str, str] = {}

# One throwaway keyring for the whole run, named in the environment so CLI subprocesses use it too.
_KEYS_DIR = Path(tempfile.mkdtemp(prefix="govdx-test-keys-"))
atexit.register(shutil.rmtree, _KEYS_DIR, True)
os.environ["GOVDX_KEYS_FILE"] = str(_KEYS_DIR / "keys.json")
keys_service.create(_KEYS_DIR / "keys.json")

# argon2-cffi's cheapest Argon2id profile, for this run and the CLI subprocesses it starts
# (catalog_schema.user.passwords reads it at the first hash).
os.environ["GOVDX_PASSWORD_HASH_PROFILE"] = "cheapest"


def _require_services() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def _postgres_engine() -> Iterator[Engine]:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        _legs["postgresql"] = f"skipped: set {POSTGRES_ENV} to run it"
        if _require_services():
            pytest.fail(f"{REQUIRE_ENV}=1 but {POSTGRES_ENV} is not set")
        pytest.skip(
            f"PostgreSQL leg skipped: set {POSTGRES_ENV} (e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test) to run it"
        )
    admin = make_engine(url)
    name = f"govdx_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {POSTGRES_ENV}={url} is unreachable: {exc}", pytrace=False)
    engine = make_engine(make_url(url).set(database=name).render_as_string(hide_password=False))
    _legs["postgresql"] = "ran"
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _sqlite_engine(folder: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{folder / 'govdx-test.sqlite'}")
    _legs["sqlite"] = "ran"
    yield engine
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated platform database holding the demo catalog and users, per backend."""
    if request.param == "sqlite":
        engines = _sqlite_engine(tmp_path_factory.mktemp("sqlite"))
    else:
        engines = _postgres_engine()
    eng = next(engines)
    migrate.upgrade(eng)
    with Session(eng) as session:
        demo_catalog.seed(session)
        session.commit()
    yield eng
    next(engines, None)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fresh_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database of its own per backend and test module, for code that commits for real."""
    if request.param == "sqlite":
        engines = _sqlite_engine(tmp_path_factory.mktemp("fresh"))
    else:
        engines = _postgres_engine()
    eng = next(engines)
    migrate.upgrade(eng)
    yield eng
    next(engines, None)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection whose outer transaction is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions bound to the test's connection; their commits release savepoints only."""
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def log(db: Session) -> Session:
    """The test's session with an empty access log (inside the rolled-back transaction)."""
    db.execute(delete(AuditCheckpoint))
    db.execute(delete(AccessRecord))
    db.execute(update(AuditHead).values(seq=0, hash=GENESIS))
    db.flush()
    return db


@pytest.fixture
def keyring() -> Keyring:
    """The test run's keyring (the same one the app and the pipelines use)."""
    return keys_service.get_keyring()


@pytest.fixture
def settings() -> ApiSettings:
    return ApiSettings(profile="production", secret_key=TEST_SECRET, token_ttl_minutes=5)


# The apps built so far, one per distinct settings: besides app.state.settings, the settings are
# read when the app is built (the body size limit's middleware, the bench route's mounting).
_apps: dict[str, FastAPI] = {}


def app_for(settings: ApiSettings, session_factory: sessionmaker[Session]) -> FastAPI:
    """The run's app for ``settings``, serving from ``session_factory`` (what each request reads)."""
    key = settings.model_dump_json()
    app = _apps.get(key)
    if app is None:
        app = _apps[key] = create_app(settings, session_factory=session_factory)
    app.state.settings = settings
    app.state.sessionmaker = session_factory
    return app


@pytest.fixture
def client_address() -> tuple[str, int]:
    """Where the test client calls from: ``testclient``, no IP address, unless a module says otherwise."""
    return ("testclient", 50000)


@pytest.fixture
def client(
    settings: ApiSettings, session_factory: sessionmaker[Session], client_address: tuple[str, int]
) -> Iterator[TestClient]:
    app = app_for(settings, session_factory)
    try:
        with TestClient(app, client=client_address) as test_client:
            yield test_client
    finally:
        # Nothing may reach this test's rolled-back connection once the test is over.
        app.state.sessionmaker = None


def bearer(
    username: str,
    *,
    role: str,
    department_id: int,
    ttl: timedelta = timedelta(minutes=5),
    secret: str = TEST_SECRET,
) -> dict[str, str]:
    """An Authorization header for a user, signed as the test app expects."""
    token = security.issue_token(
        username=username, role=role, department_id=department_id, secret=secret, ttl=ttl
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def as_user(db: Session) -> Callable[[str], dict[str, str]]:
    """``as_user("catalog_admin")`` gives the headers of that demo user."""

    def headers(username: str) -> dict[str, str]:
        user = user_service.get_by_username(db=db, username=username)
        assert user is not None, username
        return bearer(user.username, role=user.role.value, department_id=user.department_id)

    return headers


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Under pytest-xdist (make test-fast), each worker hands the legs it ran to the controller.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["govdx_legs"] = dict(_legs)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """pytest-xdist's controller: gather what each worker said of the database legs."""
    for leg, state in getattr(node, "workeroutput", {}).get("govdx_legs", {}).items():
        if _legs.get(leg) != "ran":
            _legs[leg] = state


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for leg in ("sqlite", "postgresql"):
        state = _legs.get(leg, "not used")
        terminalreporter.write_line(f"govdx database leg {leg}: {state}")
