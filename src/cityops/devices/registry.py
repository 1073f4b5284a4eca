"""Verbs of device registration: types, register, update, read, list, HTTP tokens.

Each write checks the permission first, owns its transaction, writes the audit record and
publishes its events after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cityops.core.audit.service import record
from cityops.core.auth import Actor, digest_secret, new_secret
from cityops.core.errors import FieldError, NotFound, PermissionDenied, ValidationFailed, duplicate
from cityops.core.i18n import text
from cityops.core.pagination import Page, PageParams, contains, order_by_sort, paginate
from cityops.core.runtime import Runtime
from cityops.devices import events, known
from cityops.devices.access import can_read, scope_devices
from cityops.devices.catalogue import DeviceCatalogue, load_default_types
from cityops.devices.directory import TYPES, TypeInfo, device_types
from cityops.devices.models import Device, DeviceType, HealthEvent
from cityops.devices.schemas import (
    DeviceFilter,
    DeviceIn,
    DeviceOut,
    DeviceTypeOut,
    DeviceUpdate,
    MetricOut,
    TokenCreated,
)
from cityops.devices.views import present, present_many
from cityops.org import service as org
from cityops.org.roles import Perm
from cityops.org.schemas import Location

SORTS: dict[str, Any] = {
    "id": Device.id,
    "name": Device.name,
    "type": Device.type_code,
    "status": Device.status,
    "installed_on": Device.installed_on,
    "last_seen_at": Device.last_seen_at,
    "created_at": Device.created_at,
    "updated_at": Device.updated_at,
}
TOKEN_PREFIX = "cod"  # noqa: S105 - the readable prefix of device tokens


# --- types ---------------------------------------------------------------------------------


def import_default_types(
    rt: Runtime, *, actor: Actor, catalogue: DeviceCatalogue | None = None
) -> int:
    """Load the shipped device types; a known type gains the catalogue's new metrics.

    Idempotent (run by the seed and at every start); returns the number of types added.
    """
    actor.require(Perm.devices_manage)
    catalogue = catalogue or load_default_types()
    added = 0
    with rt.db.transaction() as tx:
        tx.after_commit(lambda: rt.db.snapshots.invalidate(TYPES))
        known = {t.code: t for t in tx.session.scalars(select(DeviceType))}
        now = rt.clock.now()
        for order, seed in enumerate(catalogue.types):
            metrics = [m.as_dict() for m in seed.metrics]
            row = known.get(seed.code)
            if row is None:
                tx.session.add(
                    DeviceType(
                        code=seed.code,
                        name_zh=seed.name_zh,
                        name_en=seed.name_en,
                        department_kind=seed.department_kind,
                        interval_seconds=seed.interval_seconds,
                        metrics=metrics,
                        sort_order=order,
                        created_at=now,
                        updated_at=now,
                    )
                )
                added += 1
                continue
            have = {m["code"] for m in row.metrics}
            new = [m for m in metrics if m["code"] not in have]
            if new:
                row.metrics, row.updated_at = [*row.metrics, *new], now
        if added:
            record(
                tx.session,
                actor=actor,
                action=events.TYPES_IMPORTED,
                subject_type="device_type",
                subject_id="default-catalogue",
                at=now,
                after={"added": added},
            )
    return added


def list_types(rt: Runtime, *, actor: Actor) -> list[DeviceTypeOut]:
    """The device types with their metrics (the common ones last, marked ``common``)."""
    if not (actor.can(Perm.devices_read) or actor.can(Perm.telemetry_ingest)):
        raise PermissionDenied(
            text(
                "role {role!r} may not {permission}", role=actor.role, permission=Perm.devices_read
            )
        )
    with rt.db.read() as session:
        return [_type_out(t) for t in device_types(session).values()]


def _type_out(info: TypeInfo) -> DeviceTypeOut:
    metrics = [
        MetricOut(
            code=m.code,
            name_zh=m.name_zh,
            name_en=m.name_en,
            unit=m.unit,
            min=m.minimum,
            max=m.maximum,
            common=m.code in info.common,
        )
        for m in info.metrics.values()
    ]
    return DeviceTypeOut(
        code=info.code,
        name_zh=info.name_zh,
        name_en=info.name_en,
        department_kind=info.department_kind,
        interval_seconds=info.interval_seconds,
        metrics=metrics,
    )


# --- placement -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    location: Location
    department_id: Any


def device_type(session: Session, code: str, field: str = "type") -> TypeInfo:
    found = device_types(session).get(code)
    if found is None:
        raise ValidationFailed(
            FieldError(field, text("unknown device type {code!r}", code=code), "unknown_type")
        )
    return found


def place(
    rt: Runtime,
    session: Session,
    kind: TypeInfo,
    lon: float,
    lat: float,
    department_code: str | None,
    fields: tuple[str, str] = ("location", "department_code"),
) -> Placement:
    """Where the point lies (district … grid) and the owning department, or field errors.

    Without a department code the owner is the active department of the type's kind whose
    jurisdiction holds the point most closely (a district branch before the city bureau).
    """
    location = org.locate(rt, session, lon, lat)
    if location is None:
        raise ValidationFailed(
            FieldError(fields[0], "the point lies outside the city's areas", "outside_city")
        )
    if department_code is None:
        found = org.find_department(session, kind=kind.department_kind, path=location.path)
        if found is None:
            message = text(
                "no {kind} department covers the location; name one", kind=kind.department_kind
            )
            raise ValidationFailed(FieldError(fields[1], message, "required"))
        return Placement(location, found.id)
    department = org.get_department_by_code(session, department_code)
    if department is None or not department.active:
        message = text("unknown department {code!r}", code=department_code)
        raise ValidationFailed(FieldError(fields[1], message, "unknown_department"))
    area_path = org.department_area_path(session, department.id) or ""
    if not (location.path + "/").startswith(area_path + "/"):
        message = text("{code} has no jurisdiction over the location", code=department_code)
        raise ValidationFailed(FieldError(fields[1], message, "out_of_jurisdiction"))
    return Placement(location, department.id)


def placement_columns(placement: Placement) -> dict[str, Any]:
    where = placement.location

    def area_id(level: str) -> Any:
        ref = getattr(where, level)
        return ref.id if ref is not None else None

    return {
        "area_path": where.path,
        "district_id": area_id("district"),
        "street_id": area_id("street"),
        "community_id": area_id("community"),
        "grid_id": area_id("grid"),
        "department_id": placement.department_id,
    }


# --- devices -------------------------------------------------------------------------------


def register_device(rt: Runtime, *, actor: Actor, data: DeviceIn) -> DeviceOut:
    """Register one device at its location, owned by its department."""
    actor.require(Perm.devices_manage)
    with rt.db.transaction() as tx:
        session = tx.session
        kind = device_type(session, data.type)
        point = data.location
        placement = place(rt, session, kind, point.lon, point.lat, data.department_code)
        if session.get(Device, data.id) is not None:
            raise duplicate("id", text("device {id!r} is already registered", id=data.id))
        now = rt.clock.now()
        device = Device(
            id=data.id,
            type_code=kind.code,
            name=data.name,
            lon=data.location.lon,
            lat=data.location.lat,
            address=data.address,
            installed_on=data.installed_on,
            status=data.status,
            online=False,
            created_at=now,
            updated_at=now,
            **placement_columns(placement),
        )
        session.add(device)
        session.flush()
        record(
            session,
            actor=actor,
            action=events.DEVICE_REGISTERED,
            subject_type="device",
            subject_id=device.id,
            at=now,
            after=_state(device),
        )
        tx.emit(registered_event(device))
        tx.after_commit(lambda: known.forget(rt, [data.id]))
        return present(session, device, now)


def registered_event(device: Device) -> events.DeviceRegistered:
    return events.DeviceRegistered(
        device_id=device.id,
        type_code=device.type_code,
        department_id=device.department_id,
        area_path=device.area_path,
        lon=device.lon,
        lat=device.lat,
    )


def update_device(rt: Runtime, *, actor: Actor, device_id: str, data: DeviceUpdate) -> DeviceOut:
    """Rename, move, hand to another department, or change the status of a device."""
    actor.require(Perm.devices_manage)
    changes = data.model_dump(exclude_unset=True)
    for name in ("name", "location", "status"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(FieldError(name, "must not be empty", "required"))
    with rt.db.transaction() as tx:
        session = tx.session
        device = _load(session, device_id, for_update=True)
        before, now = _state(device), rt.clock.now()
        if "location" in changes or "department_code" in changes:
            _move(rt, session, device, data)
        for name in ("name", "address", "installed_on"):
            if name in changes:
                setattr(device, name, changes[name])
        if data.status is not None and data.status != device.status:
            session.add(
                HealthEvent(
                    device_id=device.id,
                    at=now,
                    kind=data.status,
                    data={"from": device.status},
                )
            )
            device.status = data.status
        after = _state(device)
        changed = tuple(sorted(k for k in after if after[k] != before[k]))
        if changed:
            device.updated_at = now
            record(
                session,
                actor=actor,
                action=events.DEVICE_UPDATED,
                subject_type="device",
                subject_id=device.id,
                at=now,
                before=before,
                after=after,
            )
            tx.emit(events.DeviceUpdated(device.id, device.status, changed))
            tx.after_commit(lambda: known.forget(rt, [device_id]))
        return present(session, device, now)


def _move(rt: Runtime, session: Session, device: Device, data: DeviceUpdate) -> None:
    lon = data.location.lon if data.location else device.lon
    lat = data.location.lat if data.location else device.lat
    code = data.department_code
    if "department_code" not in data.model_fields_set:
        # A move keeps the owner where it still has jurisdiction, else goes to the one that has.
        owner_path = org.department_area_path(session, device.department_id) or ""
        location = org.locate(rt, session, lon, lat)
        if location is not None and (location.path + "/").startswith(owner_path + "/"):
            current = org.department_refs(session, [device.department_id])
            code = current[device.department_id].code if current else None
    kind = device_type(session, device.type_code)
    placement = place(rt, session, kind, lon, lat, code)
    device.lon, device.lat = lon, lat
    for name, value in placement_columns(placement).items():
        setattr(device, name, value)


def _state(device: Device) -> dict[str, Any]:
    """What the audit trail keeps of a device."""
    return {
        "type": device.type_code,
        "name": device.name,
        "lon": device.lon,
        "lat": device.lat,
        "address": device.address,
        "area_path": device.area_path,
        "department_id": str(device.department_id),
        "installed_on": device.installed_on.isoformat() if device.installed_on else None,
        "status": device.status,
    }


def _load(session: Session, device_id: str, *, for_update: bool = False) -> Device:
    query = select(Device).where(Device.id == device_id)
    if for_update:
        query = query.with_for_update()
    device = session.scalar(query)
    if device is None:
        raise NotFound("device", device_id)
    return device


def readable_device(session: Session, actor: Actor, device_id: str) -> Device:
    """The device, after the permission and jurisdiction checks."""
    actor.require(Perm.devices_read)
    device = _load(session, device_id)
    if not can_read(actor, device):
        raise PermissionDenied("the device is outside your jurisdiction", "out_of_jurisdiction")
    return device


def get_device(rt: Runtime, *, actor: Actor, device_id: str) -> DeviceOut:
    with rt.db.read() as session:
        return present(session, readable_device(session, actor, device_id), rt.clock.now())


def list_devices(
    rt: Runtime, *, actor: Actor, filters: DeviceFilter, params: PageParams
) -> Page[DeviceOut]:
    """One page of the devices the actor may see, filtered and sorted."""
    actor.require(Perm.devices_read)
    now = rt.clock.now()
    with rt.db.read() as session:
        query = filter_devices(session, scope_devices(select(Device), actor), filters, now)
        query = order_by_sort(query, params.sort, SORTS, "id")
        rows, total = paginate(session, query, params)
        items = present_many(session, list(rows), now)
    return Page(items=items, total=total, page=params.page, page_size=params.page_size)


def filter_devices(
    session: Session, query: Select[Any], f: DeviceFilter, now: datetime
) -> Select[Any]:
    if f.type:
        device_type(session, f.type)
        query = query.where(Device.type_code == f.type)
    if f.status:
        query = query.where(Device.status == f.status)
    if f.department:
        department = org.get_department_by_code(session, f.department)
        if department is None:
            raise ValidationFailed(
                FieldError(
                    "department", text("unknown department {code!r}", code=f.department), "unknown"
                )
            )
        query = query.where(Device.department_id == department.id)
    if f.district:
        area = org.get_area_by_code(session, f.district)
        if area is None:
            raise ValidationFailed(
                FieldError("district", text("unknown area {code!r}", code=f.district), "unknown")
            )
        query = query.where(
            (Device.area_path == area.path) | Device.area_path.startswith(area.path + "/")
        )
    if f.q:
        like = contains(f.q)
        query = query.where(
            Device.id.ilike(like, escape="\\")
            | Device.name.ilike(like, escape="\\")
            | Device.address.ilike(like, escape="\\")
        )
    if f.online is True:
        query = query.where(Device.offline_after > now)
    elif f.online is False:
        query = query.where((Device.offline_after <= now) | Device.offline_after.is_(None))
    return query


# --- HTTP credentials ----------------------------------------------------------------------


def issue_token(rt: Runtime, *, actor: Actor, device_id: str) -> TokenCreated:
    """A new HTTP token for the device (replacing any earlier one), shown once."""
    actor.require(Perm.devices_manage)
    token = new_secret(TOKEN_PREFIX)
    with rt.db.transaction() as tx:
        device = _load(tx.session, device_id, for_update=True)
        now = rt.clock.now()
        replaced = device.token_digest is not None
        device.token_digest = digest_secret(token, rt.settings.secret_key)
        device.token_prefix, device.token_issued_at = token[:8], now
        record(
            tx.session,
            actor=actor,
            action=events.TOKEN_ISSUED,
            subject_type="device",
            subject_id=device.id,
            at=now,
            after={"prefix": device.token_prefix, "replaced": replaced},
        )
        return TokenCreated(device_id=device.id, token=token, prefix=token[:8], issued_at=now)


def revoke_token(rt: Runtime, *, actor: Actor, device_id: str) -> DeviceOut:
    """Withdraw the device's HTTP token (its next request is refused)."""
    actor.require(Perm.devices_manage)
    with rt.db.transaction() as tx:
        device = _load(tx.session, device_id, for_update=True)
        now = rt.clock.now()
        if device.token_digest is not None:
            record(
                tx.session,
                actor=actor,
                action=events.TOKEN_REVOKED,
                subject_type="device",
                subject_id=device.id,
                at=now,
                before={"prefix": device.token_prefix},
            )
            device.token_digest = device.token_prefix = device.token_issued_at = None
        return present(tx.session, device, now)


def device_for_token(rt: Runtime, token: str) -> str | None:
    """The id of the device holding this HTTP token, or None."""
    digest = digest_secret(token, rt.settings.secret_key)
    with rt.db.read() as session:
        return session.scalar(select(Device.id).where(Device.token_digest == digest))
