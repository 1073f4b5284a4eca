"""Device health (设备健康档案): online/offline from the expected interval, pure derivations."""

from __future__ import annotations

from datetime import datetime, timedelta

from cityops.devices.schemas import HealthBrief, HealthState


def offline_after(last_seen_at: datetime, interval_seconds: int, intervals: float) -> datetime:
    """When a device heard at ``last_seen_at`` counts as offline without another message."""
    return last_seen_at + timedelta(seconds=interval_seconds * intervals)


def health_state(
    last_seen_at: datetime | None, limit: datetime | None, now: datetime
) -> HealthState:
    if last_seen_at is None or limit is None:
        return "never_seen"
    return "online" if now < limit else "offline"


def brief(last_seen_at: datetime | None, limit: datetime | None, now: datetime) -> HealthBrief:
    return HealthBrief(
        state=health_state(last_seen_at, limit, now), last_seen_at=last_seen_at, offline_after=limit
    )


def fault_rate(devices: int, offline: int, maintenance: int) -> float | None:
    """Share of the devices in service (not retired) that are offline or in maintenance."""
    if devices == 0:
        return None
    return round((offline + maintenance) / devices, 4)
