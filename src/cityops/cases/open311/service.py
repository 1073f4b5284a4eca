"""Open311 over the case loop: the public reads (services, requests, tokens) and the intake.

The reads are public and unauthenticated, so they go through their own query here (never
``list_cases``, which needs an actor) and present cases as an actor with no permissions:
reporter phones come out masked and mapping never writes reporter fields at all. The intake
acts as the owner of the API key and creates the case with ``report_case``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import pydantic
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cityops.cases import service as cases
from cityops.cases.categories import department_kinds
from cityops.cases.models import Case, CaseEvent, Category
from cityops.cases.open311.attributes import check_attributes
from cityops.cases.open311.mapping import PublicRequest, Service
from cityops.cases.open311.query import RequestQuery
from cityops.cases.schemas import CaseIn, CaseOut, Point, Reporter
from cityops.cases.uploads import store_upload
from cityops.cases.views import present_many
from cityops.cases.workflow import OPEN_STATES, Action
from cityops.core.auth import SYSTEM, Actor
from cityops.core.errors import FieldError, NotAuthenticated, NotFound, ValidationFailed, invalid
from cityops.core.i18n import pydantic_text, text
from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.schemas import AreaOut

M = TypeVar("M", bound=pydantic.BaseModel)

# Presents cases to the public: no permissions, so no phone numbers and no actions.
PUBLIC = Actor(user_id=None, username="open311", role="public")
MAX_RESULTS = 1000
# Where a nested model's fields sit in CaseIn, so errors name them as CaseIn would.
_PREFIXES: dict[type[pydantic.BaseModel], str] = {Point: "location.", Reporter: "reporter."}
# Notes of these steps speak to the public; those of internal steps (dispatch, return, urge,
# escalate, assign) stay inside.
PUBLIC_NOTES = frozenset(
    a.value
    for a in (
        Action.reject,
        Action.cancel,
        Action.merge,
        Action.handle,
        Action.verify,
        Action.close,
        Action.reopen,
    )
)


@dataclass(frozen=True)
class RequestForm:
    """The fields of POST requests, as strings the way a form sends them."""

    service_code: str | None = None
    lat: str | None = None
    long: str | None = None
    jurisdiction_id: str | None = None
    address_string: str | None = None
    description: str | None = None
    media_url: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    media: bytes | None = None


# --- jurisdiction and services -------------------------------------------------------------


def city(rt: Runtime) -> AreaOut | None:
    cities = org.list_areas(rt, actor=SYSTEM, level="city")
    return cities[0] if cities else None


def check_jurisdiction(rt: Runtime, jurisdiction_id: str | None) -> None:
    """An omitted jurisdiction_id is fine; a given one must be the city's area code."""
    if jurisdiction_id is None or not jurisdiction_id.strip():
        return
    found = city(rt)
    if found is None or found.code != jurisdiction_id.strip():
        raise NotFound("jurisdiction_id", jurisdiction_id)


# The department kinds ship with the package and never change while it runs.
_department_kinds = functools.cache(department_kinds)


def list_services(rt: Runtime) -> list[Service]:
    """Every active leaf category, in catalogue order, with its group."""
    categories = cases.list_categories(rt, include_inactive=True)
    groups = {c.code: c for c in categories if c.parent_code is None}
    kinds = _department_kinds()
    return [
        Service(
            category=c,
            group=groups.get(c.parent_code),
            department=kinds.get(c.department_kind) if c.department_kind else None,
        )
        for c in categories
        if c.active and c.parent_code is not None
    ]


def get_service(rt: Runtime, code: str | None, *, field_name: str | None = None) -> Service:
    """The service ``code``: NotFound, or with ``field_name`` a validation error naming it."""
    for found in list_services(rt):
        if found.category.code == code:
            return found
    if field_name is None:
        raise NotFound("service_code", code)
    if not code:
        raise invalid(field_name, "is required", "required")
    raise invalid(field_name, text("unknown service {code!r}", code=code), "unknown_category")


def changeset(rt: Runtime) -> datetime | None:
    """When the service list or definitions last changed."""
    with rt.db.read() as session:
        return session.scalar(select(func.max(Category.updated_at)))


# --- requests ------------------------------------------------------------------------------


def list_requests(rt: Runtime, query: RequestQuery) -> list[PublicRequest]:
    """Matching requests, newest first, at most 1000; a fixed number of queries."""
    with rt.db.read() as session:
        rows = session.scalars(_filtered(select(Case), query)).all()
        presented = present_many(session, PUBLIC, rows)
        notes = _public_notes(session, [c.id for c in rows])
    return [PublicRequest(case=c, note=notes.get(c.id)) for c in presented]


def _filtered(stmt: Select[Any], query: RequestQuery) -> Select[Any]:
    if query.numbers:
        stmt = stmt.where(Case.number.in_(query.numbers))
    else:
        if query.service_codes:
            codes = select(Category.id).where(Category.code.in_(query.service_codes))
            stmt = stmt.where(Case.category_id.in_(codes))
        if query.start is not None:
            stmt = stmt.where(Case.created_at >= query.start)
        if query.end is not None:
            stmt = stmt.where(Case.created_at <= query.end)
        if query.statuses == {"open"}:
            stmt = stmt.where(Case.state.in_(OPEN_STATES))
        elif query.statuses == {"closed"}:
            stmt = stmt.where(Case.state.not_in(OPEN_STATES))
    return stmt.order_by(Case.created_at.desc(), Case.number.desc()).limit(MAX_RESULTS)


def _public_notes(session: Session, case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The latest note of a public step for each case, in one query."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.note)
        .where(
            CaseEvent.case_id.in_(case_ids),
            CaseEvent.action.in_(PUBLIC_NOTES),
            CaseEvent.note.is_not(None),
        )
        .order_by(CaseEvent.at, CaseEvent.id)
    )
    return {case_id: note for case_id, note in rows if note and note.strip()}


def get_request(rt: Runtime, number: str) -> PublicRequest:
    """One request by its service_request_id (the case number)."""
    found = list_requests(rt, RequestQuery(numbers=(int(number),))) if number.isdigit() else []
    if not found:
        raise NotFound("service_request_id", number)
    return found[0]


def number_for_token(rt: Runtime, token: str) -> int:
    """The service_request_id behind a token (the case id) from POST requests."""
    try:
        case_id = uuid.UUID(token)
    except ValueError:
        raise NotFound("token", token) from None
    with rt.db.read() as session:
        number = session.scalar(select(Case.number).where(Case.id == case_id))
    if number is None:
        raise NotFound("token", token)
    return int(number)


# --- intake --------------------------------------------------------------------------------


def submit_request(rt: Runtime, *, api_key: str | None, form: RequestForm) -> CaseOut:
    """POST requests: check everything, store the photo, then report the case as the key's
    owner. Nothing is stored when a check fails."""
    actor = _key_actor(rt, api_key)
    check_jurisdiction(rt, form.jurisdiction_id)
    service = get_service(rt, form.service_code, field_name="service_code")
    point = _point(form)
    values = check_attributes(service.category.kind, form.attributes)
    data = _case_in(form, service, point, values)
    _inside_city(rt, point)
    if form.media:
        upload = store_upload(rt, actor=actor, data=form.media)
        data = data.model_copy(update={"photos": [upload.id]})
    return cases.report_case(rt, actor=actor, data=data)


def _key_actor(rt: Runtime, api_key: str | None) -> Actor:
    if api_key is None or not api_key.strip():
        raise NotAuthenticated("api_key is required to create a service request")
    try:
        return org.actor_for_api_key(rt, api_key.strip())
    except NotAuthenticated:
        raise NotAuthenticated("invalid api_key") from None


def _point(form: RequestForm) -> Point:
    errors = [
        FieldError(name, "is required (the district is found from lat and long)", "required")
        for name, value in (("lat", form.lat), ("long", form.long))
        if value is None or not value.strip()
    ]
    if errors:
        raise ValidationFailed(*errors)
    try:
        lat, lon = float(form.lat or ""), float(form.long or "")
    except ValueError:
        raise invalid("lat/long", "must be decimal WGS84 degrees") from None
    return _validated(Point, lon=lon, lat=lat)


def _inside_city(rt: Runtime, point: Point) -> None:
    with rt.db.read() as session:
        if org.locate(rt, session, point.lon, point.lat) is None:
            raise invalid("location", "the point lies outside the city", "outside_city")


def _case_in(form: RequestForm, service: Service, point: Point, values: dict[str, str]) -> CaseIn:
    attributes: dict[str, Any] = dict(values)
    if form.media_url and form.media_url.strip():
        attributes["media_url"] = form.media_url.strip()
    contact = {
        k: v.strip()
        for k, v in (
            ("email", form.email),
            ("device_id", form.device_id),
            ("account_id", form.account_id),
        )
        if v and v.strip()
    }
    if contact:
        attributes["open311"] = contact
    full_name = " ".join(p.strip() for p in (form.first_name, form.last_name) if p and p.strip())
    phone = form.phone.strip() if form.phone and form.phone.strip() else None
    description = (form.description or "").strip() or service.category.name_zh
    return _validated(
        CaseIn,
        description=description,
        category_code=service.category.code,
        location=point,
        address=(form.address_string or "").strip() or None,
        source="open311",
        reporter=_validated(Reporter, name=full_name or None, phone=phone)
        if full_name or phone
        else None,
        attributes=attributes,
    )


def _validated(model: type[M], **values: Any) -> M:
    """Build ``model``; its validation errors become ValidationFailed with the field paths."""
    try:
        return model(**values)
    except pydantic.ValidationError as exc:
        prefix = _PREFIXES.get(model, "")
        raise ValidationFailed(
            *(
                FieldError(prefix + ".".join(str(p) for p in e["loc"]), pydantic_text(e), e["type"])
                for e in exc.errors()
            )
        ) from None
