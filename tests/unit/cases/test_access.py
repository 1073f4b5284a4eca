"""Jurisdiction rules without a database: Actor × case row."""

from __future__ import annotations

import uuid

import pytest

from cityops.cases.access import can_read, check_who, mask_phone, may_see_phone
from cityops.cases.models import Case
from cityops.cases.workflow import Who
from cityops.core.auth import Actor
from cityops.core.errors import PermissionDenied

DEPT_A, DEPT_B = uuid.uuid4(), uuid.uuid4()
REPORTER, OTHER = uuid.uuid4(), uuid.uuid4()


def _case(path: str = "/99/9901/990101001", department: uuid.UUID | None = DEPT_A) -> Case:
    return Case(area_path=path, department_id=department, reporter_id=REPORTER)


def _actor(
    role: str,
    *,
    user: uuid.UUID | None = None,
    area: str | None = None,
    department: uuid.UUID | None = None,
) -> Actor:
    return Actor(
        user_id=user or uuid.uuid4(),
        username=role,
        role=role,
        area_path=area,
        department_id=department,
    )


def test_area_prefix_does_not_match_a_sibling_with_a_longer_code() -> None:
    actor = _actor("operator", area="/99/9901")
    assert actor.covers("/99/9901/990101001")
    assert not actor.covers("/99/99011/x")


@pytest.mark.parametrize(
    ("actor", "readable"),
    [
        (_actor("admin"), True),
        (_actor("operator"), True),
        (_actor("operator", area="/99/9902"), False),
        (_actor("handler", department=DEPT_A), True),
        (_actor("handler", department=DEPT_B), False),
        (_actor("citizen", user=REPORTER), True),
        (_actor("citizen", user=OTHER), False),
        (_actor("gridworker", area="/99/9901/990101001"), True),
        (_actor("gridworker", area="/99/9901/990101002"), False),
        (_actor("leader", area="/99/9901"), True),
    ],
)
def test_can_read(actor: Actor, readable: bool) -> None:
    assert can_read(actor, _case()) is readable


def test_department_actions_need_the_case_department() -> None:
    check_who(_actor("handler", department=DEPT_A), _case(), Who.department)
    with pytest.raises(PermissionDenied) as caught:
        check_who(_actor("handler", department=DEPT_B), _case(), Who.department)
    assert caught.value.code == "out_of_jurisdiction"


def test_verifier_is_a_grid_worker_of_the_area_or_the_reporter() -> None:
    check_who(_actor("gridworker", area="/99/9901"), _case(), Who.verifier)
    check_who(_actor("citizen", user=REPORTER), _case(), Who.verifier)
    with pytest.raises(PermissionDenied):
        check_who(_actor("citizen", user=OTHER), _case(), Who.verifier)
    with pytest.raises(PermissionDenied):
        check_who(_actor("gridworker", area="/99/9902"), _case(), Who.verifier)


def test_only_the_reporter_evaluates() -> None:
    check_who(_actor("citizen", user=REPORTER), _case(), Who.reporter)
    with pytest.raises(PermissionDenied):
        check_who(_actor("operator"), _case(), Who.reporter)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13812345678", "138****5678"), ("12345", "*****"), (None, None), ("", "")],
)
def test_phone_masking(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


def test_phone_is_visible_to_dispatch_staff_and_the_reporter_only() -> None:
    case = _case()
    assert may_see_phone(_actor("operator"), case)
    assert may_see_phone(_actor("citizen", user=REPORTER), case)
    assert not may_see_phone(_actor("handler", department=DEPT_A), case)
    assert not may_see_phone(_actor("gridworker", area="/99"), case)
