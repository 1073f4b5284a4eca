"""Rules, devices and readings for the alarms tests, made through the alarms service.

Devices live in an in-memory directory (``StaticDevices``), the alarms module's own stand-in
for the devices module: a water-level gauge in the seeded grid worker's grid (owned by the
city's water bureau), one in district 990102 (owned by that district's municipal facilities
centre), and one outside the city's areas.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cityops.alarms import service
from cityops.alarms.devices import DeviceInfo, Sample, StaticDevices
from cityops.alarms.schemas import EvaluationReport, LevelIn, RuleIn, RuleOut
from cityops.cases import service as cases
from cityops.cases.schemas import CaseOut
from cityops.core.auth import Actor
from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime
from factories.cases import IN_GRID, OTHER_DISTRICT

ActorFn = Callable[[str], Actor]

WATER = "water_level"
GAUGE = DeviceInfo("wl-000001", WATER, IN_GRID[0], IN_GRID[1], "shuiwu", "解放路下穿隧道积水监测")
FAR_GAUGE = DeviceInfo(
    "wl-000002", WATER, OTHER_DISTRICT[0], OTHER_DISTRICT[1], "shizheng-990102", "河西积水点"
)
OUTSIDE = DeviceInfo("wl-000003", WATER, 100.0, 20.0, "shuiwu", "城外测试点")
TYPES = {WATER: {"level", "battery"}, "manhole_cover": {"tilt", "battery"}}
FLOODING = "E-04-06"


def directory() -> StaticDevices:
    return StaticDevices([GAUGE, FAR_GAUGE, OUTSIDE], types=TYPES)


def water_rule(rt: Runtime, actor: ActorFn, **changes: Any) -> RuleOut:
    """积水: warning above 0.30 m, critical above 0.50 m, 5 cm dead band; critical opens a
    road-flooding case."""
    fields: dict[str, Any] = {
        "code": "wl-high",
        "name_zh": "道路积水超警戒",
        "name_en": "Road flooding above the warning line",
        "device_type": WATER,
        "kind": "threshold",
        "metric": "level",
        "levels": [LevelIn(severity="warning", above=0.3), LevelIn(severity="critical", above=0.5)],
        "deadband": 0.05,
        "case_severity": "critical",
        "case_category": FLOODING,
    }
    fields.update(changes)
    return service.create_rule(rt, actor=actor("admin"), data=RuleIn(**fields))


def silence_rule(rt: Runtime, actor: ActorFn, **changes: Any) -> RuleOut:
    fields: dict[str, Any] = {
        "code": "wl-silent",
        "name_zh": "积水监测设备离线",
        "name_en": "Water gauge silent",
        "device_type": WATER,
        "kind": "no_data",
        "levels": [LevelIn(severity="major")],
        "silence_seconds": 900,
    }
    fields.update(changes)
    return service.create_rule(rt, actor=actor("admin"), data=RuleIn(**fields))


class Feed:
    """Readings one at a time through ``service.evaluate``, moving the frozen clock along."""

    def __init__(self, rt: Runtime, devices: StaticDevices | None = None) -> None:
        self.rt = rt
        self.devices = devices or directory()
        assert isinstance(rt.clock, FrozenClock)
        self.clock: FrozenClock = rt.clock

    def at(self, minutes: float) -> datetime:
        return self.clock.now() + timedelta(minutes=minutes)

    def send(
        self, device: DeviceInfo, *levels: float, every: float = 1.0, metric: str = "level"
    ) -> list[EvaluationReport]:
        """One batch per value, ``every`` minutes apart; the clock follows the readings."""
        reports = []
        for value in levels:
            self.clock.advance(minutes=every)
            reports.append(
                self.batch(Sample(device.device_id, device.type, self.clock.now(), {metric: value}))
            )
        return reports

    def batch(self, *samples: Sample) -> EvaluationReport:
        return service.evaluate(self.rt, list(samples), self.devices)


def close_case(rt: Runtime, actor: ActorFn, case: CaseOut) -> CaseOut:
    """Walk a case through the loop to closed, as the roles who do each step."""
    case = cases.register_case(rt, actor=actor("operator"), case_id=case.id)
    case = cases.dispatch_case(rt, actor=actor("dispatcher"), case_id=case.id, department_code=None)
    assert case.department is not None
    handler = actor(f"handler-{case.department.code}")
    case = cases.accept_case(rt, actor=handler, case_id=case.id)
    case = cases.handle_case(rt, actor=handler, case_id=case.id, note="已排水，积水已退")
    case = cases.verify_case(rt, actor=actor("admin"), case_id=case.id, passed=True, note="已核实")
    return cases.close_case(rt, actor=actor("operator"), case_id=case.id)
