"""Maps errors to one stable JSON shape:

``{"error": {"code", "message", "fields": [{"field", "message", "code"}], "request_id"}}``
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import cityops
from cityops.core.context import current_request_id
from cityops.core.errors import (
    Conflict,
    DomainError,
    FieldError,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ValidationFailed,
    fields_summary,
)
from cityops.core.i18n import ENGLISH, Catalogue, Catalogues, pick_locale, pydantic_text
from cityops.web.deps import catalogue

log = logging.getLogger(__name__)

STATUS: list[tuple[type[DomainError], int]] = [
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (ValidationFailed, 422),
]


def status_for(error: DomainError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 400


def error_body(
    code: str,
    message: str,
    fields: list[dict[str, str]] | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "fields": fields or [],
        "request_id": current_request_id(),
    }
    if details:
        body["details"] = details
    return {"error": body}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form", "header")]
    return ".".join(parts) or "body"


def catalogue_for(request: Request) -> Catalogue:
    """The catalogue of the caller's language (``Accept-Language``; English by default)."""
    return catalogue(request, pick_locale(request.headers.get("accept-language")))


def _answer(
    said: Catalogue, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    headers = {**(headers or {}), "Content-Language": said.locale}
    return JSONResponse(body, status_code=status, headers=headers)


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    language = catalogue_for(request)
    said = [FieldError(f.field, language.say(f.message), f.code) for f in exc.fields]
    if getattr(exc, "summarises_fields", False):
        message = fields_summary(said)
    else:
        message = language.say(exc.message)
    fields = [{"field": f.field, "message": f.message, "code": f.code} for f in said]
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
    return _answer(
        language, status_for(exc), error_body(exc.code, message, fields, exc.details), headers
    )


def _pydantic_message(language: Catalogue, error: dict[str, Any]) -> str:
    """Pydantic's own message in English; in another language its translation by the
    validator's message or the error's type (``pydantic.<type>``)."""
    if language.locale == ENGLISH:
        return str(error["msg"])
    return language.say(pydantic_text(error))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    language = catalogue_for(request)
    fields = [
        {
            "field": _field_path(tuple(e["loc"])),
            "message": _pydantic_message(language, e),
            "code": e["type"],
        }
        for e in exc.errors()
    ]
    message = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return _answer(language, 422, error_body("validation_error", message, fields))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}.get(
        exc.status_code, "http_error"
    )
    language = catalogue_for(request)
    return _answer(
        language,
        exc.status_code,
        error_body(code, language.say(str(exc.detail))),
        getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    language = catalogue_for(request)
    return _answer(
        language, 500, error_body("internal_error", language.say("internal server error"))
    )


def install_error_handlers(app: FastAPI) -> None:
    app.state.catalogues = Catalogues(Path(cityops.__file__).parent)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
