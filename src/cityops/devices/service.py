"""The devices module's public surface of verbs (other modules and the transports use only this,
``schemas.py`` and ``events.py``).

Registration and tokens are in ``registry.py``, file import in ``imports.py``, storing
telemetry in ``ingest.py``, reading it in ``telemetry.py``, health in ``health_report.py``;
all are re-exported here. The HTTP ingest verbs below check the device token or the
integration's permission, then hand the body to the same ingester as MQTT.
"""

from __future__ import annotations

from dataclasses import replace

from cityops.core.auth import Actor
from cityops.core.errors import (
    FieldError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from cityops.core.i18n import text
from cityops.core.runtime import Runtime
from cityops.devices.facts import DeviceFacts, device_facts, type_metric_codes
from cityops.devices.health_report import device_health, health_summary
from cityops.devices.imports import import_devices
from cityops.devices.ingest import (
    Decoded,
    IngestResult,
    ingest_batch,
    limits_from,
    split_batch,
    store,
)
from cityops.devices.overview import DeviceRows, DeviceTally, device_rows, device_tally
from cityops.devices.payload import (
    BAD_TIMESTAMP,
    FUTURE_TIMESTAMP,
    TOO_OLD,
    Problem,
    decode,
)
from cityops.devices.registry import (
    TOKEN_PREFIX,
    device_for_token,
    get_device,
    import_default_types,
    issue_token,
    list_devices,
    list_types,
    register_device,
    revoke_token,
    update_device,
)
from cityops.devices.schemas import IngestOut, IngestProblem
from cityops.devices.telemetry import device_series, latest_values
from cityops.org.roles import Perm

__all__ = [
    "BATCH_MAX_BYTES",
    "TOKEN_PREFIX",
    "DeviceFacts",
    "DeviceRows",
    "DeviceTally",
    "IngestResult",
    "device_facts",
    "device_for_token",
    "device_health",
    "device_rows",
    "device_series",
    "device_tally",
    "get_device",
    "health_summary",
    "import_default_types",
    "import_devices",
    "ingest_batch",
    "ingest_for_device",
    "ingest_many",
    "issue_token",
    "latest_values",
    "limits_from",
    "list_devices",
    "list_types",
    "register_device",
    "revoke_token",
    "type_metric_codes",
    "update_device",
]

BATCH_MAX_BYTES = 16 * 1024 * 1024
_TIME_REASONS = frozenset({BAD_TIMESTAMP, FUTURE_TIMESTAMP, TOO_OLD})


def _authorize(rt: Runtime, device_id: str, device_token: str | None, actor: Actor | None) -> None:
    if device_token is not None:
        holder = device_for_token(rt, device_token)
        if holder is None:
            raise NotAuthenticated("invalid or revoked device token")
        if holder != device_id:
            raise PermissionDenied("the token belongs to another device", code="wrong_device")
        return
    if actor is None:
        raise NotAuthenticated()
    actor.require(Perm.telemetry_ingest)


def ingest_for_device(
    rt: Runtime,
    *,
    device_id: str,
    payload: bytes,
    device_token: str | None = None,
    actor: Actor | None = None,
) -> IngestOut:
    """HTTP ingest of one device's payload, authenticated by the device's own token or by an
    actor holding ``telemetry.ingest``. Nothing accepted and something refused: a 422 naming
    each problem (the refusals are counted in the device's health all the same)."""
    _authorize(rt, device_id, device_token, actor)
    now = rt.clock.now()
    document, problem = decode(payload, limits_from(rt.settings))
    result = store(rt, [Decoded(device_id, document, problem, now)])
    if result.unknown_devices:
        raise NotFound("device", device_id)
    return _answer(result)


def ingest_many(rt: Runtime, *, actor: Actor, payload: bytes) -> IngestOut:
    """HTTP batch of many devices' samples from an integration (``telemetry.ingest``)."""
    actor.require(Perm.telemetry_ingest)
    now = rt.clock.now()
    limits = replace(limits_from(rt.settings), max_bytes=BATCH_MAX_BYTES)
    document, problem = decode(payload, limits)
    messages = [Decoded(None, None, problem, now)] if problem else split_batch(document, now)
    return _answer(store(rt, messages))


def _answer(result: IngestResult) -> IngestOut:
    out = IngestOut(
        messages=result.messages,
        accepted=result.accepted,
        rejected=result.rejected,
        unknown_devices=result.unknown_devices,
        problems=[
            IngestProblem(
                device_id=device_id,
                reason=p.reason,
                detail=p.detail,
                index=p.index,
                metric=p.metric,
            )
            for device_id, p in result.problems
        ],
    )
    if result.accepted == 0 and result.rejected > 0:
        failed = ValidationFailed(
            *(FieldError(_field(p), p.detail, p.reason) for _, p in result.problems),
            message=text("no reading accepted; {refused} refused", refused=result.rejected),
        )
        failed.details = out.model_dump(mode="json")
        raise failed
    return out


def _field(problem: Problem) -> str:
    """Where in the body the problem is: ``values.pm25``, ``3.ts``, ``body``."""
    if problem.metric is not None:
        name = f"values.{problem.metric}"
    elif problem.reason in _TIME_REASONS:
        name = "ts"
    else:
        name = "body" if problem.index is None else ""
    if problem.index is None:
        return name
    return f"{problem.index}.{name}" if name else str(problem.index)
