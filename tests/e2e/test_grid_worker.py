"""The grid worker's phone app (/m/grid…) in headless Chromium at 390×844, with the GPS fixed
inside the worker's grid: a patrol report with a camera photo and the GPS position; on-site
checks that pass and fail (a failure needs a reason); a report made with the browser offline
waits in the outbox, nothing reaches the platform, and once the connection returns it is sent
exactly once, with its photo; the pages reload offline from the service worker; a send whose
answer is lost after the platform took it is resent without a duplicate; a refused item stays
in the outbox with the platform's message until it is discarded. Writes
docs/screenshots/grid-worker.png."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect
from sqlalchemy import func, select

from cityops.cases import service
from cityops.cases.models import Case, Upload
from cityops.cases.schemas import CaseFilter, CaseOut
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from factories.browser import log_in, png, tap_map
from factories.cases import IN_GRID, make_case, make_photo
from factories.i18n import ZH

pytestmark = pytest.mark.e2e

ActorFn = Callable[[str], Any]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
GRID = "99010100100101"  # the seeded grid worker's grid; IN_GRID lies in it
HANDLER = "handler-chengguan-990101"
PHOTO = {"name": "site.png", "mimeType": "image/png", "buffer": png()}


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A phone whose GPS stands in the worker's grid, with location permission granted."""
    context = browser.new_context(
        viewport=PHONE,
        locale="zh-CN",
        has_touch=True,
        geolocation={"longitude": IN_GRID[0], "latitude": IN_GRID[1], "accuracy": 8},
        permissions=["geolocation"],
    )
    yield context
    context.close()


def _open(
    context: BrowserContext, live_url: str, lands_on: str = "/m/grid"
) -> tuple[Page, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, live_url, "gridworker", lands_on=lands_on)
    return page, errors


def _controlled(page: Page) -> None:
    """Wait until the service worker has cached the app and controls the page."""
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def _handled(rt: Runtime, actor: ActorFn, description: str) -> CaseOut:
    """A case in the grid whose department reported its result with a photo."""
    case = make_case(rt, actor, "accepted", description=description)
    photo = make_photo(rt, actor, HANDLER, seed=len(description))
    return service.handle_case(
        rt,
        actor=actor(HANDLER),
        case_id=case.id,
        note="已清运完毕，现场恢复整洁",
        photos=[photo.id],
    )


def _cases(rt: Runtime, actor: ActorFn) -> list[CaseOut]:
    page = service.list_cases(
        rt,
        actor=actor("admin"),
        filters=CaseFilter(source="gridworker"),
        params=PageParams(page_size=100),
    )
    return list(page.items)


def _code(ref: Any) -> str | None:
    return ref.code if ref is not None else None


def _counts(rt: Runtime) -> tuple[int, int]:
    """Cases and uploaded photos in the database."""
    with rt.db.read() as session:
        cases = session.scalar(select(func.count()).select_from(Case)) or 0
        uploads = session.scalar(select(func.count()).select_from(Upload)) or 0
    return int(cases), int(uploads)


def _verify(page: Page, live_url: str, case: CaseOut) -> None:
    page.goto(f"{live_url}/m/grid")
    page.locator(f"[data-testid=to-verify] [data-number='{case.number}'] a").click()
    page.wait_for_url(f"{live_url}/m/grid/cases/{case.id}")
    expect(page.get_by_test_id("case")).to_have_attribute("data-state", "handled")


def test_grid_worker_reports_with_gps_and_checks_cases_on_site(
    rt: Runtime, actor: ActorFn, live_url: str, phone: BrowserContext
) -> None:
    passing = _handled(rt, actor, "人行道上堆放的建筑垃圾")
    failing = _handled(rt, actor, "绿化带内的生活垃圾")
    open_case = make_case(rt, actor, "dispatched", description="路灯不亮")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, errors = _open(phone, live_url)

    # My grid's cases: those waiting for my check come first.
    expect(page.get_by_test_id("to-verify-count")).to_have_text("2")
    to_verify = page.get_by_test_id("to-verify").get_by_test_id("case-row")
    expect(to_verify).to_have_count(2)
    open_rows = page.get_by_test_id("open-cases")
    expect(open_rows.locator(f"[data-number='{open_case.number}']")).to_contain_text("已派单")
    page.screenshot(path=str(SHOTS / "grid-worker.png"))

    # A patrol report with a camera photo and the GPS position.
    page.get_by_test_id("nav-report").click()
    page.wait_for_url(f"{live_url}/m/grid/report")
    pin = page.get_by_test_id("pin")
    expect(pin).to_have_attribute("data-source", "gps")
    expect(pin).to_contain_text(f"{IN_GRID[0]:.5f}, {IN_GRID[1]:.5f}")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("error-description")).to_have_text("必填")
    page.fill("#description", "人行道井盖破损，有行人跌倒风险")
    page.select_option("#category_code", "B-01-01")
    page.set_input_files("#photos", files=[PHOTO])
    expect(page.get_by_test_id("thumb")).to_have_count(1)
    page.click("button[type=submit]")
    number = page.get_by_test_id("case-number")
    expect(number).to_be_visible()

    [reported] = [c for c in _cases(rt, actor) if str(c.number) == number.inner_text().strip()]
    assert reported.source == "gridworker"
    assert _code(reported.category) == "B-01-01"
    assert _code(reported.location.grid) == GRID
    assert (reported.location.lon, reported.location.lat) == pytest.approx(IN_GRID)
    assert len(reported.photos) == 1

    # On-site check: pass, with a photo.
    _verify(page, live_url, passing)
    expect(page.get_by_test_id("handled")).to_contain_text("已清运完毕")
    page.get_by_test_id("verdict-pass").click()
    page.fill("#note", "现场已清理干净")
    page.set_input_files("#verify-photos", files=[PHOTO])
    page.click("[data-testid=verify-form] button[type=submit]")
    expect(page.get_by_test_id("verify-done")).to_have_attribute("data-kind", "sent")
    expect(page.get_by_test_id("case")).to_have_attribute("data-state", "verified")

    # On-site check: fail; the reason is required.
    _verify(page, live_url, failing)
    page.get_by_test_id("verdict-fail").click()
    page.click("[data-testid=verify-form] button[type=submit]")
    expect(page.get_by_test_id("error-note")).to_have_text("必填")
    page.fill("#note", "绿化带内仍有垃圾未清运")
    page.set_input_files("#verify-photos", files=[PHOTO])
    page.click("[data-testid=verify-form] button[type=submit]")
    expect(page.get_by_test_id("verify-done")).to_have_attribute("data-kind", "sent")
    expect(page.get_by_test_id("case")).to_have_attribute("data-state", "accepted")

    admin = actor("admin")
    assert service.get_case(rt, actor=admin, case_id=passing.id).state == "verified"
    after = service.get_case(rt, actor=admin, case_id=failing.id)
    assert (after.state, after.verify_fail_count) == ("accepted", 1)
    for case, passed in ((passing, True), (failing, False)):
        [check] = [
            e for e in service.timeline(rt, actor=admin, case_id=case.id) if e.action == "verify"
        ]
        assert check.actor_name == "gridworker"
        assert check.data["passed"] is passed
        assert len(check.photos) == 1
    assert errors == []


def test_a_report_made_offline_is_sent_once_when_the_connection_returns(
    rt: Runtime, actor: ActorFn, live_url: str, phone: BrowserContext
) -> None:
    page, errors = _open(phone, live_url)
    _controlled(page)
    # Online once, so the form's reference data (categories, the map) is kept for offline use.
    page.get_by_test_id("nav-report").click()
    expect(page.get_by_test_id("pin-map")).to_have_attribute("data-map-ready", "true")
    expect(page.locator("#category_code option[value='E-01-02']")).to_have_count(1)
    before = _counts(rt)

    phone.set_offline(True)
    page.reload()  # served by the service worker
    expect(page.get_by_test_id("network")).to_have_text("离线")
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    page.fill("#description", "路口积水严重，车辆无法通行")
    page.select_option("#category_code", "E-01-02")
    page.set_input_files("#photos", files=[PHOTO])
    tap_map(page, IN_GRID[0] + 0.002, IN_GRID[1])  # the map works offline too
    expect(page.get_by_test_id("pin")).to_have_attribute("data-source", "map")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("report-queued")).to_be_visible()
    expect(page.get_by_test_id("outbox-count")).to_have_text("1")

    # The outbox survives a reload with no network; nothing reached the platform.
    page.goto(f"{live_url}/m/grid/outbox")
    item = page.get_by_test_id("outbox-item")
    expect(item).to_have_attribute("data-status", "waiting")
    expect(item).to_contain_text("路口积水严重")
    expect(page.get_by_test_id("waiting-summary")).to_contain_text("1")
    assert _counts(rt) == before

    phone.set_offline(False)
    sent = page.get_by_test_id("sent")
    expect(sent).to_have_count(1)
    expect(page.get_by_test_id("outbox-item")).to_have_count(0)
    expect(page.get_by_test_id("outbox-count")).to_have_count(0)
    expect(page.get_by_test_id("network")).to_have_text("在线")

    [case] = [c for c in _cases(rt, actor) if c.description == "路口积水严重，车辆无法通行"]
    assert str(case.number) == sent.get_attribute("data-number")
    assert len(case.photos) == 1
    assert _code(case.location.grid) == GRID
    assert _counts(rt) == (before[0] + 1, before[1] + 1)
    page.reload()  # a later start sends nothing again
    expect(page.get_by_test_id("outbox-empty")).to_be_visible()
    assert _counts(rt) == (before[0] + 1, before[1] + 1)
    assert errors == []


def _lose_first_answer(context: BrowserContext, pattern: str) -> list[int]:
    """Let the first matching POST reach the platform but fail on its way back, as a dropped
    connection would; answers the statuses the platform gave."""
    statuses: list[int] = []

    def handle(route: Route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        response = route.fetch()
        statuses.append(response.status)
        if len(statuses) == 1:
            route.abort("connectionreset")
        else:
            route.fulfill(response=response)

    context.route(pattern, handle)
    return statuses


def test_a_send_whose_answer_is_lost_is_not_taken_twice(
    rt: Runtime, actor: ActorFn, live_url: str, phone: BrowserContext
) -> None:
    case = _handled(rt, actor, "桥下涵洞淤泥堵塞")
    page, errors = _open(phone, live_url)
    before = _counts(rt)

    reports = _lose_first_answer(phone, "**/api/v1/cases")
    page.get_by_test_id("nav-report").click()
    expect(page.get_by_test_id("pin")).to_have_attribute("data-source", "gps")
    page.fill("#description", "小区门口路面塌陷")
    page.set_input_files("#photos", files=[PHOTO])
    page.click("button[type=submit]")
    expect(page.get_by_test_id("report-queued")).to_be_visible()  # no answer: kept
    page.get_by_test_id("nav-outbox").click()  # opening a page sends what waits
    expect(page.get_by_test_id("sent")).to_have_count(1)
    assert reports == [201, 201]
    assert _counts(rt) == (before[0] + 1, before[1] + 1)

    checks = _lose_first_answer(phone, f"**/api/v1/cases/{case.id}/verify")
    _verify(page, live_url, case)
    page.get_by_test_id("verdict-pass").click()
    page.click("[data-testid=verify-form] button[type=submit]")
    expect(
        page.get_by_test_id("verify-queued").or_(page.get_by_test_id("verify-done"))
    ).to_be_visible()
    page.get_by_test_id("nav-outbox").click()
    expect(page.get_by_test_id("sent")).to_have_attribute("data-number", str(case.number))
    assert checks == [200, 200]  # the resend answers the first result, not 409
    timeline = service.timeline(rt, actor=actor("admin"), case_id=case.id)
    assert [e.action for e in timeline].count("verify") == 1
    assert errors == []


def test_a_refused_item_stays_in_the_outbox_with_the_reason(
    rt: Runtime, actor: ActorFn, live_url: str, phone: BrowserContext
) -> None:
    case = _handled(rt, actor, "公交站台广告牌松动")
    page, errors = _open(phone, live_url)
    _controlled(page)
    _verify(page, live_url, case)

    phone.set_offline(True)
    page.get_by_test_id("verdict-fail").click()
    page.fill("#note", "广告牌仍然松动")
    page.click("[data-testid=verify-form] button[type=submit]")
    expect(page.get_by_test_id("verify-done")).to_have_attribute("data-kind", "queued")
    # Meanwhile the reporter checked it and passed it.
    service.verify_case(rt, actor=actor("citizen"), case_id=case.id, passed=True)

    page.get_by_test_id("nav-outbox").click()
    phone.set_offline(False)
    item = page.get_by_test_id("outbox-item")
    expect(item).to_have_attribute("data-status", "failed")
    expect(item.get_by_test_id("outbox-error")).to_contain_text(ZH.term("verified"))
    expect(page.get_by_test_id("outbox-failed")).to_have_text("1")
    page.reload()  # kept, not dropped
    expect(page.get_by_test_id("outbox-item")).to_have_attribute("data-status", "failed")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("outbox-discard").click()
    expect(page.get_by_test_id("outbox-empty")).to_be_visible()
    after = service.get_case(rt, actor=actor("admin"), case_id=case.id)
    assert (after.state, after.verify_fail_count) == ("verified", 0)
    assert errors == []
