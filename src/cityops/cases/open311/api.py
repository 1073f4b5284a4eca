"""Open311 GeoReport v2 routes on /open311/v2: parse the query or form, call
``open311.service``, shape with ``mapping`` and write JSON or XML with ``render``.

Errors on these routes are Open311 error lists (``open311_errors``), not the platform's
JSON errors; the global handlers stay as they are for every other path.
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Annotated, ParamSpec
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from cityops.cases.open311 import mapping, render, service
from cityops.cases.open311.messages import Locale
from cityops.cases.open311.query import parse_request_query
from cityops.core.errors import DomainError, NotFound, invalid
from cityops.core.i18n import CHINESE, ENGLISH, Catalogue
from cityops.web.deps import RuntimeDep, catalogue

router = APIRouter(prefix="/open311/v2", tags=["open311"])

P = ParamSpec("P")
_ATTRIBUTE = re.compile(r"attribute\[([^\]]+)\](?:\[\])?")


def open311_errors(route: Callable[P, Response]) -> Callable[P, Response]:
    """Check the format, and answer domain errors with an Open311 error list in the caller's
    language (the route's ``ctx``)."""

    @functools.wraps(route)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        fmt = str(kwargs.get("fmt", "json"))
        try:
            render.check_format(fmt)
            return route(*args, **kwargs)
        except DomainError as exc:
            ctx = kwargs.get("ctx")
            said = ctx.errors if isinstance(ctx, Context) else mapping.ENGLISH_MESSAGES
            return render.error_response(fmt, exc, said)

    return wrapper


@dataclass(frozen=True)
class Context:
    locale: Locale
    zone: tzinfo
    base_url: str
    # Errors are said in the language the caller asked for, and in English when it asked for
    # none (as the rest of the API does; the content itself is Chinese by default).
    errors: Catalogue = mapping.ENGLISH_MESSAGES


def _context(request: Request, rt: RuntimeDep, locale: str | None = None) -> Context:
    """Language (``?locale=en`` or Accept-Language), the city's time zone, the base URL."""
    accept_language = request.headers.get("accept-language")
    return Context(
        locale=mapping.pick_locale(locale, accept_language),
        zone=ZoneInfo(rt.settings.timezone),
        base_url=str(request.base_url).rstrip("/"),
        errors=_errors_catalogue(request, locale),
    )


def _errors_catalogue(request: Request, param: str | None) -> Catalogue:
    asked = mapping.asked_locale(param, request.headers.get("accept-language"))
    return catalogue(request, CHINESE if asked == "zh" else ENGLISH)


async def _form(request: Request) -> AsyncIterator[FormData | None]:
    """The posted form (None for a body that is no form); its files are closed afterwards."""
    try:
        form: FormData | None = await request.form()
    except HTTPException:
        form = None
    try:
        yield form
    finally:
        if form is not None:
            await form.close()


Ctx = Annotated[Context, Depends(_context)]
Form = Annotated[FormData | None, Depends(_form)]


@router.get("/discovery.{fmt}")
@open311_errors
def discovery(rt: RuntimeDep, ctx: Ctx, fmt: str) -> Response:
    """Service discovery: contact, where keys come from, this endpoint and its formats."""
    url = f"{ctx.base_url}{router.prefix}"
    out = mapping.discovery_out(service.changeset(rt), url, ctx.zone, ctx.locale)
    return render.respond(fmt, "discovery", out)


@router.get("/services.{fmt}")
@open311_errors
def services(rt: RuntimeDep, ctx: Ctx, fmt: str, jurisdiction_id: str | None = None) -> Response:
    """Every active category that can be reported."""
    service.check_jurisdiction(rt, jurisdiction_id)
    out = [mapping.service_out(s, ctx.locale) for s in service.list_services(rt)]
    return render.respond(fmt, "services", out)


@router.get("/services/{service_code}.{fmt}")
@open311_errors
def definition(
    rt: RuntimeDep, ctx: Ctx, service_code: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    """The attributes a request for this service may carry."""
    service.check_jurisdiction(rt, jurisdiction_id)
    found = service.get_service(rt, service_code)
    return render.respond(fmt, "service_definition", mapping.definition_out(found, ctx.locale))


@router.get("/requests.{fmt}")
@open311_errors
def list_requests(
    rt: RuntimeDep,
    ctx: Ctx,
    fmt: str,
    jurisdiction_id: str | None = None,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> Response:
    """Public list of requests: the last 90 days by default, newest first, at most 1000."""
    service.check_jurisdiction(rt, jurisdiction_id)
    query = parse_request_query(
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status,
        now=rt.clock.now(),
        zone=ctx.zone,
    )
    return _requests(ctx, fmt, service.list_requests(rt, query))


@router.get("/requests/{service_request_id}.{fmt}")
@open311_errors
def get_request(
    rt: RuntimeDep,
    ctx: Ctx,
    service_request_id: str,
    fmt: str,
    jurisdiction_id: str | None = None,
) -> Response:
    """One request, as a list of one."""
    service.check_jurisdiction(rt, jurisdiction_id)
    return _requests(ctx, fmt, [service.get_request(rt, service_request_id)])


def _requests(ctx: Context, fmt: str, found: list[mapping.PublicRequest]) -> Response:
    out = [
        mapping.request_out(r, zone=ctx.zone, locale=ctx.locale, base_url=ctx.base_url)
        for r in found
    ]
    return render.respond(fmt, "service_requests", out)


@router.post("/requests.{fmt}", status_code=201)
@open311_errors
def create_request(
    rt: RuntimeDep, ctx: Ctx, fmt: str, form: Form, api_key: str | None = None
) -> Response:
    """Report a problem: form-encoded, or multipart with a ``media`` photo; needs api_key."""
    if form is None:
        raise invalid("body", "send the request form-encoded or as multipart/form-data")
    data = _request_form(form, rt.settings.max_photo_bytes)
    key = form.get("api_key")
    case = service.submit_request(rt, api_key=key if isinstance(key, str) else api_key, form=data)
    out = mapping.receipt_out(case, zone=ctx.zone, locale=ctx.locale, account_id=data.account_id)
    return render.respond(fmt, "service_requests", [out], status=201)


@router.get("/tokens/{token}.{fmt}")
@open311_errors
def get_token(
    rt: RuntimeDep, ctx: Ctx, token: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    """The service_request_id behind a token from POST requests."""
    service.check_jurisdiction(rt, jurisdiction_id)
    number = service.number_for_token(rt, token)
    return render.respond(fmt, "service_requests", [mapping.token_out(number, token)])


@router.api_route("/{path:path}", methods=["GET", "POST"], include_in_schema=False)
def unknown(request: Request, path: str, locale: str | None = None) -> Response:
    """Anything else under /open311/v2 is an Open311 404."""
    fmt = path.rsplit(".", 1)[-1] if "." in path else "json"
    said = _errors_catalogue(request, locale)
    return render.error_response(fmt, NotFound("resource", f"/{path}"), said)


def _utf8(value: str) -> str:
    """Starlette reads the bytes of a url-encoded form as Latin-1; clients such as ``curl -d``
    send raw UTF-8 (not %-escaped), which then arrives garbled. Undo that when it applies."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _request_form(form: FormData, max_photo_bytes: int) -> service.RequestForm:
    attributes: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        match = _ATTRIBUTE.fullmatch(key)
        if match and isinstance(value, str):
            attributes.setdefault(match.group(1), []).append(_utf8(value))
    media = form.get("media")

    def text(name: str) -> str | None:
        value = form.get(name)
        return _utf8(value) if isinstance(value, str) else None

    return service.RequestForm(
        service_code=text("service_code"),
        lat=text("lat"),
        long=text("long"),
        jurisdiction_id=text("jurisdiction_id"),
        address_string=text("address_string"),
        description=text("description"),
        media_url=text("media_url"),
        email=text("email"),
        device_id=text("device_id"),
        account_id=text("account_id"),
        first_name=text("first_name"),
        last_name=text("last_name"),
        phone=text("phone"),
        attributes=attributes,
        # One byte over the limit is enough for the store to refuse it.
        media=media.file.read(max_photo_bytes + 1) if isinstance(media, UploadFile) else None,
    )
