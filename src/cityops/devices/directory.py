"""Cached reference data of the devices module: the device types and their metrics."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.core.cache import cached
from cityops.devices.catalogue import MetricSpec, load_default_types, parse_metric
from cityops.devices.models import DeviceType

TYPES = "devices.types"


@dataclass(frozen=True)
class TypeInfo:
    code: str
    name_zh: str
    name_en: str
    department_kind: str
    interval_seconds: int
    # The type's own metrics, then the common ones every type may report.
    metrics: Mapping[str, MetricSpec]
    common: frozenset[str]


@functools.cache
def common_metrics() -> dict[str, MetricSpec]:
    """The metrics every type may report (battery, signal), from the shipped catalogue."""
    return {m.code: m for m in load_default_types().common_metrics}


def _load(session: Session) -> dict[str, TypeInfo]:
    common = common_metrics()
    out = {}
    for row in session.scalars(select(DeviceType).order_by(DeviceType.sort_order)):
        own = [parse_metric(m, f"device type {row.code}") for m in row.metrics]
        metrics = {m.code: m for m in own} | common
        out[row.code] = TypeInfo(
            code=row.code,
            name_zh=row.name_zh,
            name_en=row.name_en,
            department_kind=row.department_kind,
            interval_seconds=row.interval_seconds,
            metrics=MappingProxyType(metrics),
            common=frozenset(common),
        )
    return out


def device_types(session: Session) -> dict[str, TypeInfo]:
    """Every device type by code, from the per-process snapshot."""
    return cached(session, TYPES, _load)
