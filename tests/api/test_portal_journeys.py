"""The portal's main journeys in a real browser (Debian's Chromium, driven by Playwright).

A server is started for the module on a fresh SQLite database loaded by ``govdx demo seed``
(the demo catalog, users, the 人社 machine client and the back-dated requests), plus one person
in the population library and one request of another department. The journeys share that
server, as the people they stand for would; each step is a module fixture built on the one
before it, so any journey runs on its own and the steps happen once:

1. 人社's requester asks for 公安's 人口基本信息 (有条件共享)   (fixture ``submitted``);
2. the catalog admin reviews (受理) it                          (``reviewed``);
3. 公安's approver approves it with fewer items                 (``approved``);
4. 人社's system fetches a record under the grant               (``fetched``);
5. the auditor finds that access by the person's ID number and sees the log verify.

Each journey's last page is saved under ``var/screenshots/``.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from authz.sharing import service as sharing_service
from authz.sharing.schemas import RequestCreate
from catalog_schema.database import make_engine
from catalog_schema.user import service as user_service
from catalog_schema.user.roles import Role
from catalog_schema.user.schemas import UserCreate
from demo.catalog import DEMO_PASSWORD
from demo.clients import DEMO_CLIENTS
from tests import factories

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("GOVDX_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = REPO / "var" / "screenshots"
RESOURCE = factories.DEPARTMENT_RESOURCE  # 公安 人口基本信息, 有条件共享
ASKED = ["公民身份号码", "姓名", "出生日期", "住址"]
DROPPED = "住址"  # the item 公安's approver does not grant
PERSON = factories.person(7)
DESK = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


@dataclass(frozen=True)
class Portal:
    """The running server's base URL, and the id of 民政's request (which 人社 must not see)."""

    base: str
    other_request: int


@dataclass(frozen=True)
class Step:
    """A journey step done: the page it ended on, and the request's page URL and number."""

    page: Any
    url: str
    number: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed_extras(url: str) -> int:
    """One person in the library, and a request of 民政 that 人社's staff must not see; its id."""
    engine = make_engine(url)
    with Session(engine) as db:
        factories.library_record(db, "population", [PERSON["population.id_number"]], PERSON)
        other = user_service.create(
            db=db,
            data=UserCreate(
                username="minzheng_requester",
                full_name="民政经办",
                role=Role.dept_requester,
                department="minzheng",
                password=DEMO_PASSWORD,
            ),
        )
        request = sharing_service.submit(
            db=db,
            data=RequestCreate.model_validate(factories.sharing_request(business_reference="MZ-2026-001")),
            user=other,
        )
        db.commit()
        request_id = request.id
    engine.dispose()
    return request_id


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """The app served by uvicorn in its own process on a demo database."""
    home = tmp_path_factory.mktemp("portal")
    url = f"sqlite:///{home / 'govdx.sqlite'}"
    env = {
        **os.environ,
        "GOVDX_PROFILE": "demo",
        "GOVDX_DATABASE_URL": url,
        "GOVDX_QUALITY_DIR": str(home / "quality"),
    }
    govdx = Path(sys.executable).with_name("govdx")
    subprocess.run([str(govdx), "demo", "seed"], env=env, check=True, capture_output=True)
    other_request = _seed_extras(url)
    port = _free_port()
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the portal server did not start:\n{(home / 'server.log').read_text()}")
            time.sleep(0.2)
        yield Portal(base=base, other_request=other_request)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def server(portal: Portal) -> str:
    """The server's base URL."""
    return portal.base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)"
        if os.environ.get("GOVDX_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _signed_in(browser: Any, base: str, username: str, viewport: dict[str, int] = DESK) -> Any:
    """A fresh browser context (its own cookies) with ``username`` signed in through the login form."""
    context = browser.new_context(viewport=viewport, locale="zh-CN", base_url=base)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _act(page: Any, action: str) -> Any:
    """The form of one action on a request page, opened."""
    block = page.locator(f"details[data-action='{action}']")
    if block.get_attribute("open") is None:
        block.locator(":scope > summary").click()
    return block.locator("form")


@pytest.fixture(scope="module")
def submitted(browser: Any, server: str) -> Step:
    """人社's requester finds the resource in the catalog and submits a request for four items."""
    page = _signed_in(browser, server, "requester")
    page.click("nav.menu >> text=资源目录")
    page.fill("#q", "人口基本信息")
    page.select_option("#share_type", "conditional")
    page.click("form.filters button[type=submit]")
    page.click("table[data-testid=catalog] >> text=人口基本信息")
    assert page.locator("table[data-testid=items]").inner_text().count("榕城市公安局") >= 1
    page.click("[data-testid=request-this]")

    # Submitted without a purpose: the form comes back with the error beside the field.
    for item in ASKED:
        page.check(f"input[name=items][value='{item}']")
    page.fill("#business_reference", "RS-2026-0815")
    page.fill("#expected_volume", "200")
    page.click("[data-testid=request-form] button[type=submit]")
    assert page.locator("#purpose-error").inner_text() == "缺少必填字段"
    assert page.is_checked("input[name=items][value='住址']"), "what was entered is kept"

    page.fill("#purpose", "核验社会保险参保人员身份")
    page.click("[data-testid=request-form] button[type=submit]")
    page.wait_for_url("**/requests/*")
    return Step(page=page, url=page.url, number=page.inner_text("[data-testid=request-number]"))


@pytest.fixture(scope="module")
def reviewed(browser: Any, server: str, submitted: Step) -> Step:
    """The catalog admin accepts (受理) the request from the to-review box."""
    page = _signed_in(browser, server, "catalog_admin")
    page.goto("/requests?box=to_review")
    page.click(f"table[data-testid=requests] >> text={submitted.number}")
    _act(page, "accept").locator("button[type=submit]").click()
    page.wait_for_load_state()
    return Step(page=page, url=page.url, number=submitted.number)


@pytest.fixture(scope="module")
def approved(browser: Any, server: str, reviewed: Step) -> Step:
    """公安's approver is refused a denial without a reason, then approves without 住址."""
    page = _signed_in(browser, server, "approver")
    page.goto("/requests?box=to_decide")
    page.click(f"table[data-testid=requests] >> text={reviewed.number}")

    # Denying needs a reason: refused in place, and the request is still waiting.
    _act(page, "deny").locator("button[type=submit]").click()
    assert page.locator("details[data-action=deny] #reason-error").inner_text() == "必须填写理由"
    assert page.inner_text("[data-testid=request-status]") == "待部门审批"

    approve = _act(page, "approve")
    approve.locator(f"input[name=items][value='{DROPPED}']").uncheck()
    approve.locator("input[name=daily_quota]").fill("500")
    approve.locator("button[type=submit]").click()
    page.wait_for_load_state()
    return Step(page=page, url=page.url, number=reviewed.number)


@pytest.fixture(scope="module")
def fetched(server: str, approved: Step) -> httpx.Response:
    """人社's system takes a client token and looks the person up under the grant."""
    client_id, _dept, _name, secret = DEMO_CLIENTS[0]
    issued = httpx.post(
        f"{server}/api/v1/auth/client-token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    return httpx.post(
        f"{server}/api/v1/data/lookup",
        headers={"Authorization": f"Bearer {token}", "X-Govdx-Purpose": approved.number},
        json={"resource": RESOURCE, "key": PERSON["population.id_number"]},
    )


def test_1_department_requests_a_conditional_resource(submitted: Step) -> None:
    page = submitted.page
    assert page.inner_text("[data-testid=request-status]") == "待审查"
    assert "剩余" in page.inner_text(".status-line")  # the review clock, in working days
    _shot(page, "1-department-requests")


def test_2_catalog_admin_reviews_it(reviewed: Step, submitted: Step) -> None:
    page = reviewed.page
    assert page.url == submitted.url
    assert page.inner_text("[data-testid=request-status]") == "待部门审批"
    assert "已办理：受理" in page.inner_text(".flash")
    _shot(page, "2-catalog-admin-reviews")


def test_3_provider_approves_with_narrowed_items(approved: Step, submitted: Step) -> None:
    page = approved.page
    assert page.url == submitted.url
    assert page.inner_text("[data-testid=request-status]") == "已授权"
    granted = page.inner_text("[data-testid=grant-items]")
    assert granted == "、".join(i for i in ASKED if i != DROPPED)
    _shot(page, "3-provider-approves-narrowed")


def test_4_department_system_fetches_a_record(
    browser: Any, server: str, approved: Step, fetched: httpx.Response
) -> None:
    answer = fetched
    assert answer.status_code == 200, answer.text
    record = answer.json()["records"][0]
    assert set(record) == {"公民身份号码", "姓名", "出生日期"}  # 住址 was not granted
    assert record["姓名"] == PERSON["population.name"]
    assert record["公民身份号码"] != PERSON["population.id_number"]  # masked by default

    # The requester sees the grant the system used.
    page = _signed_in(browser, server, "requester")
    page.goto("/grants")
    assert approved.number in page.inner_text("table[data-testid=grants]")
    _shot(page, "4-department-system-fetches")


def test_5_auditor_finds_the_access_by_subject_and_the_log_verifies(
    browser: Any, server: str, approved: Step, fetched: httpx.Response
) -> None:
    assert fetched.status_code == 200, fetched.text
    page = _signed_in(browser, server, "auditor")
    page.click("nav.menu >> text=访问日志")
    page.fill("#subject", PERSON["population.id_number"])
    page.click("[data-testid=audit-search] button[type=submit]")
    rows = page.locator("table[data-testid=audit-records] tbody tr")
    assert rows.count() == 1
    text = rows.first.inner_text()
    assert DEMO_CLIENTS[0][0] in text and approved.number in text and "出生日期" in text
    assert PERSON["population.id_number"] not in page.content().replace(
        f'value="{PERSON["population.id_number"]}"', ""
    ), "the log shows no raw ID number, only the search box holds it"

    page.click("nav.menu >> text=完整性核验")
    assert page.inner_text("[data-testid=verdict]").startswith("访问日志完整")
    _shot(page, "5-auditor-verifies")


def test_6_department_user_cannot_open_another_departments_request(browser: Any, portal: Portal) -> None:
    page = _signed_in(browser, portal.base, "requester")
    response = page.goto(f"/requests/{portal.other_request}")
    assert response.status == 404
    assert page.inner_text("[data-testid=error] h1") == "未找到"
    assert "MZ-2026-001" not in page.content()
    _shot(page, "6-other-department-request-refused")


def test_the_sla_report_draws_a_bar_per_department(browser: Any, server: str) -> None:
    page = _signed_in(browser, server, "auditor")
    page.click("nav.menu >> text=时限统计")
    bars = page.locator("[data-testid=chart-rates] .bar")
    assert bars.count() >= 1
    widths = [bars.nth(i).bounding_box()["width"] for i in range(bars.count())]
    assert all(w > 0 for w in widths), widths
    _shot(page, "7-auditor-sla-report")


@pytest.mark.parametrize("path", ["/catalog", "/requests", "/audit", "/reports"])
def test_pages_fit_a_narrow_screen(browser: Any, server: str, path: str) -> None:
    user = "auditor" if path in ("/audit", "/reports") else "requester"
    page = _signed_in(browser, server, user, viewport=PHONE)
    page.goto(path)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a {PHONE['width']}px screen"
    page.click("label.menu-button")  # the menu folds away and opens on demand
    assert page.locator("nav.menu").is_visible()
