"""The demo city's alarm rules: the lines a water bureau and a gas company would draw for the
sensors it installs, so the simulator's incidents (flooding, a gas leak) raise alarms and open
cases on the command screen."""

from __future__ import annotations

from typing import Any

from cityops.alarms import service as alarms
from cityops.alarms.schemas import LevelIn, RuleIn
from cityops.core.auth import SYSTEM
from cityops.core.runtime import Runtime

# Above the everyday range of the simulator (patterns.TYPICAL): water 1.5–4.0 m, gas 0–2 %LEL.
RULES: tuple[dict[str, Any], ...] = (
    {
        "code": "demo-water-high",
        "name_zh": "道路积水超警戒水位",
        "name_en": "Water above the warning line",
        "device_type": "water_level",
        "kind": "threshold",
        "metric": "water_level",
        "levels": [LevelIn(severity="warning", above=4.3), LevelIn(severity="critical", above=4.8)],
        "deadband": 0.1,
        "case_severity": "critical",
        "case_category": "E-04-06",  # 道路积水
    },
    {
        "code": "demo-gas-leak",
        "name_zh": "燃气浓度超标",
        "name_en": "Gas concentration over the limit",
        "device_type": "gas_pressure",
        "kind": "sustained",
        "metric": "gas_concentration",
        "levels": [LevelIn(severity="warning", above=10), LevelIn(severity="critical", above=25)],
        "for_seconds": 60,
        "deadband": 1,
        "case_severity": "critical",
        "case_category": "E-04-03",  # 燃气管道破裂
    },
    {
        "code": "demo-air-pm25",
        "name_zh": "PM2.5 重度污染",
        "name_en": "PM2.5 heavily polluted",
        "device_type": "air_quality",
        "kind": "threshold",
        "metric": "pm25",
        "levels": [LevelIn(severity="warning", above=150), LevelIn(severity="major", above=250)],
        "deadband": 10,
    },
    {
        "code": "demo-water-silent",
        "name_zh": "水位计无数据",
        "name_en": "Water-level gauge silent",
        "device_type": "water_level",
        "kind": "no_data",
        "levels": [LevelIn(severity="warning")],
        "silence_seconds": 1800,
    },
)


def install_rules(rt: Runtime) -> int:
    """Create the demo's rules; returns how many."""
    for fields in RULES:
        alarms.create_rule(rt, actor=SYSTEM, data=RuleIn(**fields))
    return len(RULES)
