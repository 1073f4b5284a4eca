"""The case loop in GeoReport v2 shapes: plain dicts and lists with the spec's field names.

Pure: takes the cases module's out-types and returns what ``render`` writes as JSON or XML.
Absent values are ``None`` (JSON null, an empty XML element), as in the spec's examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Protocol

from cityops.cases.open311.attributes import Attribute, attributes_for
from cityops.cases.open311.messages import Locale, text
from cityops.cases.schemas import CaseOut, CategoryOut
from cityops.cases.workflow import OPEN_STATES, State
from cityops.core import i18n
from cityops.core.errors import DomainError, NotAuthenticated, NotFound, PermissionDenied
from cityops.core.i18n import ENGLISH, Catalogue

Json = dict[str, Any]

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ("text/xml", "application/json")
# cityops field names (CaseIn, the service's errors) → the Open311 parameter a client sent.
FIELD_NAMES = {
    "category_code": "service_code",
    "location": "lat/long",
    "location.lat": "lat",
    "location.lon": "long",
    "address": "address_string",
    "reporter.name": "first_name/last_name",
    "reporter.phone": "phone",
    "photos": "media",
    "file": "media",
}


class Named(Protocol):
    @property
    def name_zh(self) -> str: ...

    @property
    def name_en(self) -> str: ...


@dataclass(frozen=True)
class Service:
    """A leaf category with its group and the (zh, en) name of its department kind."""

    category: CategoryOut
    group: CategoryOut | None
    department: tuple[str, str] | None


@dataclass(frozen=True)
class PublicRequest:
    """A case as the public may see it, with the latest note meant for the public."""

    case: CaseOut
    note: str | None


def pick_locale(param: str | None, accept_language: str | None) -> Locale:
    """``?locale=`` wins, then the most preferred of zh/en in Accept-Language; zh by default."""
    return asked_locale(param, accept_language) or "zh"


def asked_locale(param: str | None, accept_language: str | None) -> Locale | None:
    """The language the caller asked for (``?locale=``, then Accept-Language), if any."""
    if param and param.strip():
        return "en" if param.strip().lower().startswith("en") else "zh"
    asked = i18n.asked_locale(accept_language)
    if asked is None:
        return None
    return "zh" if asked == i18n.CHINESE else "en"


def public_status(state: str) -> str:
    """open while the loop is running; closed once closed, evaluated, rejected, merged or
    cancelled."""
    return "open" if State(state) in OPEN_STATES else "closed"


def w3c(at: datetime | None, zone: tzinfo) -> str | None:
    """ISO 8601 with the city's offset, e.g. 2026-03-02T10:00:00+08:00."""
    return at.astimezone(zone).isoformat(timespec="seconds") if at is not None else None


def name(item: Named, locale: Locale) -> str:
    return item.name_zh if locale == "zh" else item.name_en


# --- services ------------------------------------------------------------------------------


def service_out(service: Service, locale: Locale) -> Json:
    category = service.category
    return {
        "service_code": category.code,
        "service_name": name(category, locale),
        "description": _service_description(service, locale),
        "metadata": bool(attributes_for(category.kind)),
        "type": "realtime",
        "keywords": ",".join(str(k) for k in category.keywords),
        "group": name(service.group, locale) if service.group else None,
    }


def _service_description(service: Service, locale: Locale) -> str:
    category = service.category
    department = service.department[0 if locale == "zh" else 1] if service.department else "-"
    return text(
        "service_description",
        locale,
        group=name(service.group, locale) if service.group else "-",
        name=name(category, locale),
        department=department,
        hours=f"{category.handle_hours or 0:g}",
    )


def definition_out(service: Service, locale: Locale) -> Json:
    return {
        "service_code": service.category.code,
        "attributes": [attribute_out(a, locale) for a in attributes_for(service.category.kind)],
    }


def attribute_out(attribute: Attribute, locale: Locale) -> Json:
    described = attribute.datatype_description
    return {
        "variable": attribute.variable,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": described.get(locale) if described else None,
        "order": attribute.order,
        "description": attribute.description.get(locale),
        "values": [{"key": v.key, "name": v.name.get(locale)} for v in attribute.values],
    }


# --- requests ------------------------------------------------------------------------------


def request_out(request: PublicRequest, *, zone: tzinfo, locale: Locale, base_url: str) -> Json:
    """One service request; the finer state rides in ``extended_attributes``."""
    case = request.case
    closed = public_status(case.state) == "closed"
    return {
        "service_request_id": str(case.number),
        "status": "closed" if closed else "open",
        "status_notes": request.note,
        "service_name": name(case.category, locale) if case.category else None,
        "service_code": case.category.code if case.category else None,
        "description": case.description,
        "agency_responsible": name(case.department, locale) if case.department else None,
        "service_notice": None if closed else notice(case, zone, locale),
        "requested_datetime": w3c(case.created_at, zone),
        "updated_datetime": w3c((case.closed_at if closed else None) or case.updated_at, zone),
        "expected_datetime": w3c(expected_at(case), zone),
        "address": address(case, locale),
        "address_id": None,
        "zipcode": None,
        "lat": case.location.lat,
        "long": case.location.lon,
        "media_url": media_url(case, base_url),
        "extended_attributes": {
            "cityops_state": case.state,
            "cityops_sla_status": case.due.status,
        },
    }


def expected_at(case: CaseOut) -> datetime | None:
    """The due time of the stage the case is in; the handling limit once past dispatch."""
    if case.due.stage == "register":
        return case.due.register_by
    if case.due.stage == "dispatch":
        return case.due.dispatch_by
    return case.due.handle_by


def notice(case: CaseOut, zone: tzinfo, locale: Locale) -> str | None:
    due = expected_at(case)
    if case.due.stage is None or due is None:
        return None
    at = due.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return text(f"notice.{case.due.stage}", locale, at=at)


def address(case: CaseOut, locale: Locale) -> str | None:
    """The reported address, else the areas from the finest up (grid, community, street…)."""
    if case.location.address:
        return case.location.address
    where = case.location
    areas = [a for a in (where.grid, where.community, where.street, where.district) if a]
    return ", ".join(name(a, locale) for a in areas) or None


def media_url(case: CaseOut, base_url: str) -> str | None:
    """The first report photo, else the media_url the client submitted."""
    if case.photos:
        return f"{base_url}/api/v1/uploads/{case.photos[0]}"
    submitted = case.attributes.get("media_url")
    return submitted if isinstance(submitted, str) and submitted else None


def receipt_out(case: CaseOut, *, zone: tzinfo, locale: Locale, account_id: str | None) -> Json:
    """The answer to POST requests: the id (realtime) and, for batch-minded clients, a token."""
    received = text("received", locale, number=case.number)
    return {
        "service_request_id": str(case.number),
        "token": str(case.id),
        "service_notice": received + (notice(case, zone, locale) or ""),
        "account_id": account_id,
    }


def token_out(number: int, token: str) -> Json:
    return {"service_request_id": str(number), "token": token}


def discovery_out(changeset: datetime | None, url: str, zone: tzinfo, locale: Locale) -> Json:
    stamp = w3c(changeset, zone)
    return {
        "changeset": stamp,
        "contact": text("contact", locale),
        "key_service": text("key_service", locale),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": stamp,
                "type": "production",
                "formats": list(FORMATS),
            }
        ],
    }


# --- errors --------------------------------------------------------------------------------


ENGLISH_MESSAGES = Catalogue(ENGLISH)


def errors_out(
    error: DomainError, catalogue: Catalogue = ENGLISH_MESSAGES
) -> tuple[int, list[Json]]:
    """The HTTP status and Open311 error list: 404 unknown, 403 api_key, 400 anything else;
    each description said in the language of ``catalogue``."""
    status = _status(error)
    if error.fields:
        return status, [
            {"code": status, "description": f"{field_name(f.field)}: {catalogue.say(f.message)}"}
            for f in error.fields
        ]
    return status, [{"code": status, "description": catalogue.say(error.message)}]


def _status(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, NotAuthenticated | PermissionDenied):
        return 403
    return 400


def field_name(field: str) -> str:
    """The Open311 parameter behind a cityops field name."""
    if field.startswith("photos"):
        return "media"
    return FIELD_NAMES.get(field, field)
