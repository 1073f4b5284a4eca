"""Cases in any state of the loop, built through the service layer (never raw inserts).

``make_case(rt, actor, state="dispatched")`` reports a case and walks it along the loop as the
role that does each step in real life: the operator registers, the dispatcher dispatches by the
routing rules (or to ``department``), the department's handler accepts and handles, the reporter
(or an admin, for a reporter who may not) verifies and evaluates.
"""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Callable
from typing import Any

from PIL import Image

from cityops.cases import service, uploads
from cityops.cases.schemas import CaseIn, CaseOut, Point, Reporter, UploadOut
from cityops.core.audit.service import list_records
from cityops.core.auth import Actor
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from cityops.org.roles import Perm

ActorFn = Callable[[str], Actor]

# A point in the first grid of district 990101 (the seeded grid worker's grid).
IN_GRID = (112.95, 28.12)
# The second grid of district 990101: same district and departments, another grid.
OTHER_GRID = (112.95, 28.17)
# District 990102.
OTHER_DISTRICT = (113.05, 28.12)

DESCRIPTION = "路边有一堆暴露垃圾，无人清理"
CALLER = Reporter(name="张先生", phone="13800138000")

_ACCEPTED = ("register", "dispatch", "accept")
# The steps after the report that bring a case into each state.
PATHS: dict[str, tuple[str, ...]] = {
    "reported": (),
    "registered": ("register",),
    "rejected": ("reject",),
    "dispatched": ("register", "dispatch"),
    "returned": ("register", "dispatch", "return"),
    "accepted": _ACCEPTED,
    "handled": (*_ACCEPTED, "handle"),
    "verified": (*_ACCEPTED, "handle", "verify"),
    "closed": (*_ACCEPTED, "handle", "verify", "close"),
    "evaluated": (*_ACCEPTED, "handle", "verify", "close", "evaluate"),
    "merged": ("merge",),
    "cancelled": ("cancel",),
}
STATES: tuple[str, ...] = tuple(PATHS)


def report(
    rt: Runtime,
    actor: ActorFn,
    *,
    reporter: str = "citizen",
    lon: float = IN_GRID[0],
    lat: float = IN_GRID[1],
    category: str | None = "E-01-02",
    description: str = DESCRIPTION,
    photos: list[uuid.UUID] | None = None,
    **extra: Any,
) -> CaseOut:
    """发现: one report as ``reporter``; the operator's are hotline calls with a caller."""
    who = actor(reporter)
    if who.role == "operator" and "reporter" not in extra:
        extra["reporter"] = CALLER
    data = CaseIn(
        description=description,
        category_code=category,
        location=Point(lon=lon, lat=lat),
        photos=photos or [],
        **extra,
    )
    return service.report_case(rt, actor=who, data=data)


def make_case(
    rt: Runtime,
    actor: ActorFn,
    state: str = "reported",
    *,
    lon: float = IN_GRID[0],
    lat: float = IN_GRID[1],
    category: str | None = "E-01-02",
    reporter: str = "citizen",
    department: str | None = None,
    description: str = DESCRIPTION,
    **extra: Any,
) -> CaseOut:
    """A case in ``state`` (one of :data:`STATES`), made through the services."""
    if state not in PATHS:
        raise ValueError(f"unknown state {state!r}; one of {', '.join(STATES)}")
    case = report(
        rt,
        actor,
        reporter=reporter,
        lon=lon,
        lat=lat,
        category=category,
        description=description,
        **extra,
    )
    for step in PATHS[state]:
        case = _STEPS[step](rt, actor, case, reporter, department)
    assert case.state == state, (case.state, state)
    return case


def handler_of(case: CaseOut) -> str:
    """The seeded handler of the case's current department."""
    assert case.department is not None, f"case {case.number} has no department"
    return f"handler-{case.department.code}"


def png_bytes(seed: int = 0, size: tuple[int, int] = (8, 8), *, noise: bool = False) -> bytes:
    """A small valid PNG; ``noise`` makes it incompressible (for size limits)."""
    rng = random.Random(seed)
    if noise:
        pixels = rng.randbytes(size[0] * size[1] * 3)
        image = Image.frombytes("RGB", size, pixels)
    else:
        image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), seed % 256))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_photo(rt: Runtime, actor: ActorFn, username: str = "citizen", seed: int = 0) -> UploadOut:
    """An unattached photo uploaded by ``username``."""
    return uploads.store_upload(rt, actor=actor(username), data=png_bytes(seed))


# --- the steps -------------------------------------------------------------------------------


def _as_reporter_or_admin(actor: ActorFn, reporter: str, permission: str) -> Actor:
    who = actor(reporter)
    return who if who.can(permission) else actor("admin")


def _register(rt: Runtime, actor: ActorFn, case: CaseOut, *_: Any) -> CaseOut:
    return service.register_case(rt, actor=actor("operator"), case_id=case.id)


def _reject(rt: Runtime, actor: ActorFn, case: CaseOut, *_: Any) -> CaseOut:
    return service.reject_case(
        rt, actor=actor("operator"), case_id=case.id, reason="不属于受理范围"
    )


def _dispatch(
    rt: Runtime, actor: ActorFn, case: CaseOut, reporter: str, department: str | None
) -> CaseOut:
    return service.dispatch_case(
        rt, actor=actor("dispatcher"), case_id=case.id, department_code=department
    )


def _return(rt: Runtime, actor: ActorFn, case: CaseOut, *_: Any) -> CaseOut:
    who = actor(handler_of(case))
    return service.return_case(rt, actor=who, case_id=case.id, reason="不属于本部门职责")


def _accept(rt: Runtime, actor: ActorFn, case: CaseOut, *_: Any) -> CaseOut:
    return service.accept_case(rt, actor=actor(handler_of(case)), case_id=case.id)


def _handle(rt: Runtime, actor: ActorFn, case: CaseOut, *_: Any) -> CaseOut:
    who = actor(handler_of(case))
    return service.handle_case(rt, actor=who, case_id=case.id, note="已清理完毕")


def _verify(rt: Runtime, actor: ActorFn, case: CaseOut, reporter: str, *_: Any) -> CaseOut:
    who = _as_reporter_or_admin(actor, reporter, Perm.cases_verify)
    return service.verify_case(rt, actor=who, case_id=case.id, passed=True, note="现场已清理")


def _close(rt: Runtime, actor: ActorFn, case: CaseOut, *_: Any) -> CaseOut:
    return service.close_case(rt, actor=actor("operator"), case_id=case.id)


def _evaluate(rt: Runtime, actor: ActorFn, case: CaseOut, reporter: str, *_: Any) -> CaseOut:
    who = _as_reporter_or_admin(actor, reporter, Perm.cases_evaluate)
    return service.evaluate_case(rt, actor=who, case_id=case.id, rating=4, comment="满意")


def _merge(rt: Runtime, actor: ActorFn, case: CaseOut, reporter: str, *_: Any) -> CaseOut:
    location = case.location
    category = case.category.code if case.category else None
    target = report(
        rt, actor, reporter=reporter, lon=location.lon, lat=location.lat, category=category
    )
    return service.merge_case(rt, actor=actor("operator"), case_id=case.id, into=target.id)


def _cancel(rt: Runtime, actor: ActorFn, case: CaseOut, *_: Any) -> CaseOut:
    return service.cancel_case(rt, actor=actor("operator"), case_id=case.id, reason="重复来电")


Step = Callable[[Runtime, ActorFn, CaseOut, str, "str | None"], CaseOut]
_STEPS: dict[str, Step] = {
    "register": _register,
    "reject": _reject,
    "dispatch": _dispatch,
    "return": _return,
    "accept": _accept,
    "handle": _handle,
    "verify": _verify,
    "close": _close,
    "evaluate": _evaluate,
    "merge": _merge,
    "cancel": _cancel,
}


def snapshot(rt: Runtime, actor: ActorFn, case_id: uuid.UUID) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was: the case (as an admin sees it), its
    timeline and its audit records, read through the services."""
    admin = actor("admin")
    case = service.get_case(rt, actor=admin, case_id=case_id).model_dump()
    steps = [e.model_dump() for e in service.timeline(rt, actor=admin, case_id=case_id)]
    with rt.db.read() as session:
        page = list_records(session, params=PageParams(page_size=500), subject_id=str(case_id))
    return case, steps, [r.model_dump() for r in page.items]
