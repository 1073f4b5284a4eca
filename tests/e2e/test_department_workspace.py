"""The department workspace (/dept) in headless Chromium: a handler's queue sorted by the
handling deadline, accepting a case and reporting the result with a photo, handing a case to
a colleague, another department's case kept out of sight, and the return form's field error;
writes docs/screenshots/department-workspace.png (1440×900)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from cityops.cases import service
from cityops.cases.schemas import CaseOut
from cityops.cases.tasks import scan_sla
from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime
from factories.browser import log_in
from factories.cases import IN_GRID, OTHER_DISTRICT, handler_of, make_case, make_photo, png_bytes
from factories.org import make_user

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DEPT = "chengguan-990101"
HANDLER = f"handler-{DEPT}"
ActorFn = Callable[[str], Any]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def _dispatched(rt: Runtime, actor: ActorFn, category: str, **extra: Any) -> CaseOut:
    return make_case(rt, actor, "dispatched", category=category, department=DEPT, **extra)


def _row(page: Page, case: CaseOut) -> Any:
    return page.locator(f"[data-testid=queue-row][data-number='{case.number}']")


def test_a_handler_accepts_a_case_and_reports_the_result_with_a_photo(
    rt: Runtime, actor: ActorFn, clock: FrozenClock, live_url: str, browser: Browser, page: Page
) -> None:
    late = _dispatched(rt, actor, "E-01-04", description="解放路路面油污", lon=IN_GRID[0] - 0.004)
    clock.advance(hours=48)
    scan_sla(rt)  # two days on: the 8 working hours are spent
    photo = make_photo(rt, actor)
    # Oldest first; the handling limits (8 h, 120 h, 24 h) make the due order differ from
    # both the report order and its reverse.
    urgent = _dispatched(
        rt,
        actor,
        "E-01-02",
        description="芙蓉路人行道暴露垃圾，无人清理",
        photos=[photo.id],
        address="芙蓉路 88 号",
    )
    clock.advance(minutes=20)
    slow = _dispatched(rt, actor, "E-01-01", description="小区楼顶私搭乱建", lon=IN_GRID[0] + 0.004)
    clock.advance(minutes=20)
    middle = _dispatched(
        rt, actor, "B-03-01", description="公共厕所门锁损坏", lon=IN_GRID[0] + 0.008
    )
    failed = make_case(rt, actor, "handled", category="E-01-23", description="垃圾桶满溢未清运")
    service.verify_case(
        rt, actor=actor("citizen"), case_id=failed.id, passed=False, note="现场仍有垃圾"
    )
    done = make_case(rt, actor, "handled", description="已处置、待核查的案件")
    elsewhere = make_case(
        rt,
        actor,
        "dispatched",
        lon=OTHER_DISTRICT[0],
        lat=OTHER_DISTRICT[1],
        description="另一区的案件",
    )
    admin = actor("admin")
    queue = [
        service.get_case(rt, actor=admin, case_id=case.id)
        for case in (late, urgent, slow, middle, failed)
    ]
    by_due = sorted(queue, key=lambda case: (case.due.handle_by, case.created_at))
    assert [c.number for c in by_due] != [c.number for c in queue]

    log_in(page, live_url, HANDLER, lands_on="/dept")
    assert urgent.department is not None
    expect(page.get_by_test_id("my-department")).to_have_text(urgent.department.name_zh)
    rows = page.get_by_test_id("queue-row")
    expect(rows).to_have_count(5)
    shown = [int(rows.nth(i).get_attribute("data-number") or 0) for i in range(5)]
    assert shown == [c.number for c in by_due]
    for absent in (done, elsewhere):
        expect(_row(page, absent)).to_have_count(0)
    expect(_row(page, failed).get_by_test_id("verify-failed")).to_be_visible()
    assert queue[0].due.status == "overdue"
    expect(_row(page, late).get_by_test_id("sla")).to_have_text("超期")
    expect(_row(page, slow).get_by_test_id("sla")).to_have_text("正常")

    _row(page, urgent).click()
    page.wait_for_url(f"{live_url}/dept/cases/{urgent.id}")
    detail = page.get_by_test_id("case-detail")
    expect(detail).to_have_attribute("data-state", "dispatched")
    expect(page.get_by_test_id("case-description")).to_have_text("芙蓉路人行道暴露垃圾，无人清理")
    expect(detail).to_contain_text("芙蓉路 88 号")
    expect(page.get_by_test_id("case-photo")).to_have_count(1)
    expect(page.get_by_test_id("case-map")).to_have_attribute("data-map-ready", "true")
    expect(page.locator("[data-testid=timeline] li")).to_have_count(3)

    page.click(".actions [data-action=accept]")
    page.get_by_test_id("confirm").click()
    expect(detail).to_have_attribute("data-state", "accepted")
    accepted = service.get_case(rt, actor=actor("admin"), case_id=urgent.id)
    assert accepted.state == "accepted"
    assert accepted.assignee is not None
    assert accepted.assignee.username == HANDLER
    expect(page.get_by_test_id("case-assignee")).to_have_text(HANDLER)

    result = png_bytes(7, (32, 24))
    page.click(".actions [data-action=handle]")
    page.fill("#handle_note", "已组织人员清理完毕，路面恢复整洁")
    page.set_input_files(
        "#handle_photos", files=[{"name": "result.png", "mimeType": "image/png", "buffer": result}]
    )
    expect(page.locator("[data-testid=result-photos] li")).to_have_count(1)
    page.get_by_test_id("confirm").click()
    expect(detail).to_have_attribute("data-state", "handled")
    step = page.locator("[data-testid=timeline] li[data-action=handle]")
    expect(step).to_contain_text("已组织人员清理完毕")
    expect(step.get_by_test_id("step-photo")).to_have_count(1)
    expect(_row(page, urgent)).to_have_count(0)  # handled: off the to-do queue

    assert service.get_case(rt, actor=admin, case_id=urgent.id).state == "handled"
    last = service.timeline(rt, actor=admin, case_id=urgent.id)[-1]
    assert (last.action, last.actor_name, last.note) == (
        "handle",
        HANDLER,
        "已组织人员清理完毕，路面恢复整洁",
    )
    [photo_id] = last.photos
    meta, data = service.get_upload(rt, actor=admin, upload_id=photo_id)
    assert meta.sha256 == hashlib.sha256(result).hexdigest()
    assert data == result
    SHOTS.mkdir(parents=True, exist_ok=True)
    _row(page, failed).click()  # back from a failed verification: in hand again
    expect(detail).to_have_attribute("data-id", str(failed.id))
    expect(page.get_by_test_id("case-map")).to_have_attribute("data-map-ready", "true")
    page.click(".actions [data-action=handle]")
    page.fill("#handle_note", "已再次清运，并加派保洁员每日巡查")
    page.screenshot(path=str(SHOTS / "department-workspace.png"))


def test_a_handler_cannot_see_another_departments_case(
    rt: Runtime, actor: ActorFn, live_url: str, page: Page
) -> None:
    ours = _dispatched(rt, actor, "E-01-02", description="本部门的案件")
    theirs = make_case(
        rt,
        actor,
        "dispatched",
        lon=OTHER_DISTRICT[0],
        lat=OTHER_DISTRICT[1],
        description="雨花区某路口暴露垃圾（他部门）",
    )
    assert theirs.department is not None
    assert theirs.department.code != DEPT

    log_in(page, live_url, HANDLER, lands_on="/dept")
    expect(_row(page, ours)).to_have_count(1)
    expect(_row(page, theirs)).to_have_count(0)
    page.fill("input[name=q]", str(theirs.number))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    for missing in (theirs.id, uuid.uuid4()):
        page.goto(f"{live_url}/dept/cases/{missing}")
        expect(page.get_by_test_id("case-unavailable")).to_be_visible()
        expect(page.get_by_test_id("case-detail")).to_have_count(0)
        expect(page.locator("body")).not_to_contain_text("他部门")

    page.click("[data-locale=en]")
    expect(page.get_by_test_id("case-unavailable")).to_contain_text("not with your department")
    page.click("[data-locale=zh-CN]")
    # The same address shows the case to its own department.
    log_in(page, live_url, handler_of(theirs), lands_on="/dept")
    page.goto(f"{live_url}/dept/cases/{theirs.id}")
    expect(page.get_by_test_id("case-description")).to_have_text("雨花区某路口暴露垃圾（他部门）")


def test_returning_without_a_reason_shows_the_field_error_and_keeps_the_form(
    rt: Runtime, actor: ActorFn, live_url: str, page: Page
) -> None:
    case = _dispatched(rt, actor, "E-01-02", description="派错部门的案件")

    log_in(page, live_url, HANDLER, lands_on="/dept")
    _row(page, case).click()
    page.click(".actions [data-action=return]")
    page.select_option("#return_kind", "not_ours")
    page.fill("#return_suggest", "住建局")
    page.get_by_test_id("confirm").click()

    error = page.get_by_test_id("error-reason")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("data-code", "required")
    expect(error).to_have_text("必填")
    # Beside its field: right after the reason's textarea.
    expect(page.locator("#return_reason + [data-testid=error-reason]")).to_have_count(1)
    expect(page.locator("#return_kind")).to_have_value("not_ours")
    expect(page.locator("#return_suggest")).to_have_value("住建局")
    assert service.get_case(rt, actor=actor("admin"), case_id=case.id).state == "dispatched"

    page.fill("#return_reason", "井盖属于自来水公司")
    page.get_by_test_id("confirm").click()
    page.wait_for_url(f"{live_url}/dept")
    expect(page.get_by_test_id("action-done")).to_contain_text(str(case.number))
    expect(_row(page, case)).to_have_count(0)
    after = service.get_case(rt, actor=actor("admin"), case_id=case.id)
    assert (after.state, after.department) == ("returned", None)
    last = service.timeline(rt, actor=actor("admin"), case_id=case.id)[-1]
    assert last.action == "return"
    assert last.note == "【非本部门职责】井盖属于自来水公司；建议转交：住建局"


def test_a_handler_hands_a_case_to_a_colleague(
    rt: Runtime, actor: ActorFn, live_url: str, page: Page
) -> None:
    make_user(rt, actor, "wang-cg", "handler", department=DEPT)
    make_user(rt, actor, "li-zj", "handler", department="zhujian-990101")
    case = make_case(rt, actor, "accepted", department=DEPT, description="需要同事处理的案件")

    log_in(page, live_url, HANDLER, lands_on="/dept")
    _row(page, case).click()
    expect(page.locator(".actions [data-action=reassign]")).to_have_count(0)
    page.click(".actions [data-action=assign]")
    options = page.locator("#assign_username option")
    expect(options).to_have_count(2)  # the placeholder and the one colleague
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("error-username")).to_have_attribute("data-code", "required")
    page.select_option("#assign_username", "wang-cg")
    page.fill("#assign_note", "请王工明早到场")
    page.get_by_test_id("confirm").click()

    expect(page.get_by_test_id("case-assignee")).to_have_text("wang-cg")
    after = service.get_case(rt, actor=actor("admin"), case_id=case.id)
    assert after.assignee is not None
    assert after.assignee.username == "wang-cg"
    assert after.department is not None
    assert after.department.code == DEPT
    expect(page.locator("[data-testid=timeline] li[data-action=assign]")).to_contain_text(
        "请王工明早到场"
    )
