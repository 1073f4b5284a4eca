"""Writes GeoReport v2 answers as JSON or XML (UTF-8, the spec's element names).

The XML follows the spec's Spark convention: a JSON list of objects is a container element
holding one element per item (``services`` → ``service``), a nested dict is an element with
children, ``true``/``false`` for booleans and an empty element for a null.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from fastapi.responses import Response

from cityops.cases.open311.mapping import ENGLISH_MESSAGES, Json, errors_out
from cityops.core.errors import DomainError, NotFound
from cityops.core.i18n import Catalogue, text

FORMATS = ("json", "xml")
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# Container element → the element of each item in it.
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        error = NotFound("format", fmt)
        error.message = text("format {format!r} (use json or xml) not found", format=fmt)
        raise error


def respond(fmt: str, root: str, data: Json | list[Json], status: int = 200) -> Response:
    """``data`` as JSON, or as XML under ``root``."""
    if fmt == "xml":
        return Response(to_xml(root, data), status_code=status, media_type=MEDIA_TYPES["xml"])
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type=MEDIA_TYPES["json"])


def error_response(
    fmt: str, error: DomainError, catalogue: Catalogue = ENGLISH_MESSAGES
) -> Response:
    """An Open311 error list (JSON for an unknown format), said in the catalogue's language."""
    status, errors = errors_out(error, catalogue)
    response = respond(fmt if fmt in FORMATS else "json", "errors", errors, status)
    response.headers["Content-Language"] = catalogue.locale
    return response


def to_xml(root: str, data: Json | list[Json]) -> bytes:
    element = ET.Element(root)
    _fill(element, data)
    body: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=False)
    return _DECLARATION + body


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        child = ITEMS.get(element.tag, "item")
        for item in value:
            _fill(ET.SubElement(element, child), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
