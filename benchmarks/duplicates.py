"""Duplicate detection: precision and recall on generated reports with known duplicates, and
the latency of the duplicate check at intake with many open cases.

    PYTHONPATH=src python benchmarks/duplicates.py [--quick]

1. A fresh SQLite database: migrated, the synthetic city seeded (areas, the shipped category
   catalogue with its per-group radius and window, users).
2. **Background**: ``open_cases`` reports through ``report_case`` at uniform random points of
   the city over the last two days, from a pool of problems of nine categories (each problem
   has three to four phrasings a citizen might use, about a street). They are the open cases
   every later duplicate check has to search among.
3. **Probes**: for each of ``originals`` fresh reports (the original), one later report of one
   kind, drawn at random:
   - ``duplicate``: the same problem in other words, within 60 % of the radius, hours later;
   - ``other_problem``: another problem of the same category and street, as near;
   - ``far``: the same words beyond the category's radius (1.3 to 3 radii away);
   - ``late``: the same words as near, after the category's window;
   - ``other_category``: the same words as near, filed under another category.
   A probe is *detected* as a duplicate of its original when its intake merged it into the
   original or stored a proposal naming the original. Precision = detected duplicates that are
   ``duplicate`` probes / all detected; recall = detected ``duplicate`` probes / all of them.
   ``merged`` counts the duplicates merged automatically (the rest were proposed).
4. **Latency**: the duplicate check alone (``find_duplicates`` inside the intake transaction:
   the indexed candidate query, the scoring, the proposal or merge) and the whole intake, per
   probe, p50/p99 in milliseconds.
5. ``lost``: probes acknowledged by ``report_case`` and not in the database afterwards.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_info, print_json_line, say  # the benchmarks folder is on sys.path

STREETS = ["人民路", "五一大道", "解放西路", "芙蓉中路", "韶山北路", "八一路", "黄兴路", "东风路"]
SPOTS = ["与{s}交叉口", "{s}公交站旁", "{s}小区门口", "{s}菜市场附近", "{s}学校对面"]
# category -> problems -> phrasings; {p} is the place ("人民路公交站旁").
PROBLEMS: dict[str, list[list[str]]] = {
    "E-01-02": [
        ["{p}有一堆垃圾没人清理，很臭", "{p}垃圾堆了好几天了，臭气熏天", "{p}暴露垃圾无人清运"],
        ["{p}有人倒了很多装修垃圾", "{p}装修垃圾乱倒，堵了人行道", "{p}被人倾倒了建筑装修垃圾"],
    ],
    "B-01-18": [
        ["{p}路灯晚上不亮", "{p}的路灯坏了，晚上一片漆黑", "{p}路灯不亮好几天了"],
        ["{p}路灯白天一直亮着，浪费电", "{p}路灯大白天也开着", "{p}白天路灯还亮着没关"],
        ["{p}路灯杆被撞歪了，快倒了", "{p}有根路灯杆倾斜了很危险", "{p}路灯杆歪了随时会倒"],
    ],
    "B-01-02": [
        ["{p}污水井盖丢了，很危险", "{p}井盖不见了，有人差点掉下去", "{p}污水井盖缺失"],
        ["{p}井盖破了一个大洞", "{p}污水井盖碎了，车一压就响", "{p}井盖破损松动"],
    ],
    "E-04-02": [
        ["{p}自来水管爆了，水一直往外冒", "{p}水管破裂，路上全是水", "{p}地下水管爆裂在冒水"],
    ],
    "E-05-05": [
        [
            "{p}机动车乱停乱放，堵住了人行道",
            "{p}汽车停在人行道上，行人没法走",
            "{p}车辆乱停占用人行道",
        ],
        ["{p}有车堵住了消防通道", "{p}消防通道被私家车占了", "{p}私家车停在消防通道上"],
    ],
    "A-01-01": [
        ["{p}烧烤店半夜噪音太大，吵得睡不着", "{p}夜宵摊深夜喧哗扰民", "{p}烧烤摊晚上很吵影响休息"],
        ["{p}工地晚上还在施工，噪音扰民", "{p}夜间施工机器声音太大", "{p}工地半夜施工太吵了"],
    ],
    "E-03-02": [
        ["{p}工地扬尘很大，满天灰", "{p}施工工地尘土飞扬没有洒水", "{p}工地灰尘太大，没有覆盖"],
    ],
    "A-02-03": [
        ["{p}电梯坏了好几天没人修", "{p}电梯故障停运，老人上不了楼", "{p}电梯又坏了，物业不管"],
        ["{p}电梯困人了，门打不开", "{p}有人被困在电梯里", "{p}电梯突然停了，里面有人"],
    ],
    "E-04-04": [
        ["{p}下水道堵了，污水漫到路上", "{p}下水道堵塞，污水横流", "{p}污水从下水道冒出来了"],
    ],
}
KINDS = ("duplicate", "other_problem", "far", "late", "other_category")
KIND_WEIGHTS = (0.5, 0.2, 0.1, 0.1, 0.1)


def _place(rng: random.Random) -> str:
    """A place as citizens name it: a street and a landmark ("人民路与八一路交叉口")."""
    return rng.choice(STREETS) + rng.choice(SPOTS).format(s=rng.choice(STREETS))


def _offset(lon: float, lat: float, metres: float, rng: random.Random) -> tuple[float, float]:
    angle = rng.uniform(0, 2 * math.pi)
    dlat = metres * math.sin(angle) / 111_195.0
    dlon = metres * math.cos(angle) / (111_195.0 * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def duplicate_figures(
    quick: bool, *, open_cases: int | None = None, originals: int | None = None
) -> dict[str, Any]:
    """Run the benchmark in a fresh SQLite database; returns the figures (one JSON object)."""
    from sqlalchemy import func, select

    from cityops.app import build_runtime
    from cityops.cases import duplicates, intake
    from cityops.cases.models import Case, DuplicateProposal
    from cityops.cases.schemas import CaseIn, Point
    from cityops.cases.service import report_case
    from cityops.core.auth import SYSTEM
    from cityops.core.clock import FrozenClock
    from cityops.core.config import load_settings
    from cityops.core.errors import ValidationFailed
    from cityops.demo.geography import random_point_in, synthetic_city
    from cityops.demo.seed import seed_organisation
    from cityops.migrations import upgrade

    open_cases = open_cases or (2_000 if quick else 20_000)
    originals = originals or (200 if quick else 600)
    rng = random.Random(20260302)
    with tempfile.TemporaryDirectory(prefix="cityops-dup-") as tmp:
        settings = load_settings(
            database_url=f"sqlite:///{Path(tmp) / 'dup.sqlite3'}",
            data_dir=Path(tmp),
            secret_key=uuid.uuid4().hex * 2,
            run_scheduler=False,
        )
        start = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
        clock = FrozenClock(start - timedelta(days=2))
        rt = build_runtime(settings, clock=clock)
        try:
            upgrade(rt.db.engine)
            city = synthetic_city()
            seed_organisation(rt, city, password=uuid.uuid4().hex)
            geometry = [d.geometry for d in city.children]
            radius = _radii(rt)

            def point() -> tuple[float, float]:
                return random_point_in(rng.choice(geometry), rng)

            def intake_one(code: str, text: str, lon: float, lat: float) -> Any:
                data = CaseIn(
                    description=text,
                    category_code=code,
                    location=Point(lon=lon, lat=lat),
                    source="internal",
                )
                return report_case(rt, actor=SYSTEM, data=data)

            say(f"background: {open_cases} open cases")
            began = time.perf_counter()
            step = timedelta(days=2) / open_cases
            for _ in range(open_cases):
                clock.advance(seconds=step.total_seconds())
                code = rng.choice(list(PROBLEMS))
                problem = rng.choice(PROBLEMS[code])
                intake_one(code, rng.choice(problem).format(p=_place(rng)), *point())
            background_s = time.perf_counter() - began

            check_ms: list[float] = []
            real = duplicates.find_duplicates

            def timed(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return real(*args, **kwargs)
                finally:
                    check_ms.append((time.perf_counter() - t0) * 1000)

            intake.find_duplicates = timed  # type: ignore[assignment]
            say(f"probes: {originals} originals and their later reports")
            intake_ms: list[float] = []
            outcomes: Counter[str] = Counter()
            acknowledged: list[uuid.UUID] = []
            codes = list(PROBLEMS)
            for _ in range(originals):
                clock.set(start + timedelta(minutes=rng.uniform(0, 60 * 24)))
                code = rng.choice(codes)
                problems = PROBLEMS[code]
                index = rng.randrange(len(problems))
                place = _place(rng)
                phrasings = problems[index]
                first_text = rng.choice(phrasings)
                lon, lat = point()
                original = intake_one(code, first_text.format(p=place), lon, lat)
                kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
                r, window = radius[code]
                text, probe_code, hours = first_text, code, rng.uniform(0.2, 0.5 * window)
                if kind == "other_problem" and len(problems) == 1:
                    kind = "other_category"
                if kind == "duplicate":
                    text = rng.choice([p for p in phrasings if p != first_text])
                elif kind == "other_problem":
                    text = rng.choice(problems[(index + 1) % len(problems)])
                elif kind == "late":
                    hours = window + rng.uniform(1, 24)
                elif kind == "other_category":
                    probe_code = rng.choice([c for c in codes if c != code])
                clock.advance(hours=hours)
                for _attempt in range(50):  # a point past the city's edge is drawn again
                    metres = (
                        rng.uniform(1.3 * r, 3 * r) if kind == "far" else rng.uniform(0, 0.6 * r)
                    )
                    where = _offset(lon, lat, metres, rng)
                    t0 = time.perf_counter()
                    try:
                        probe = intake_one(probe_code, text.format(p=place), *where)
                    except ValidationFailed:
                        continue
                    break
                intake_ms.append((time.perf_counter() - t0) * 1000)
                acknowledged.append(probe.id)
                with rt.db.read() as session:
                    proposed = session.scalar(
                        select(func.count()).where(
                            DuplicateProposal.case_id == probe.id,
                            DuplicateProposal.candidate_id == original.id,
                        )
                    )
                detected = probe.merged_into == original.id or bool(proposed)
                outcomes[f"{kind}:{'detected' if detected else 'missed'}"] += 1
                if kind == "duplicate" and probe.merged_into == original.id:
                    outcomes["merged"] += 1
                elif probe.merged_into == original.id:
                    outcomes["wrongly_merged"] += 1
            intake.find_duplicates = real  # type: ignore[assignment]
            with rt.db.read() as session:
                stored = set(session.scalars(select(Case.id).where(Case.id.in_(acknowledged))))
                total_open = session.scalar(select(func.count()).select_from(Case))
        finally:
            rt.db.engine.dispose()
    true_pos = outcomes["duplicate:detected"]
    positives = true_pos + outcomes["duplicate:missed"]
    detected_all = sum(v for k, v in outcomes.items() if k.endswith(":detected"))
    return {
        "bench": "duplicates",
        "database": "sqlite",
        "open_cases": open_cases,
        "cases_in_database": total_open,
        "probes": originals,
        "precision": round(true_pos / detected_all, 4) if detected_all else None,
        "recall": round(true_pos / positives, 4) if positives else None,
        "duplicates": positives,
        "merged_automatically": outcomes["merged"],
        "wrongly_merged_automatically": outcomes["wrongly_merged"],
        "false_detections": {
            k.split(":")[0]: v
            for k, v in outcomes.items()
            if k.endswith(":detected") and not k.startswith("duplicate")
        },
        "check_ms_p50": round(statistics.median(check_ms), 3),
        "check_ms_p99": round(_percentile(check_ms, 0.99), 3),
        "intake_ms_p50": round(statistics.median(intake_ms), 3),
        "intake_ms_p99": round(_percentile(intake_ms, 0.99), 3),
        "background_intake_s": round(background_s, 1),
        "lost": len(set(acknowledged) - stored),
        "quick": quick,
    }


def _radii(rt: Any) -> dict[str, tuple[float, float]]:
    from cityops.cases.directory import categories

    with rt.db.read() as session:
        by_code = categories(session).by_code
        return {
            code: (by_code[code].duplicate_radius_m, by_code[code].duplicate_window_hours)
            for code in PROBLEMS
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 open cases, 200 probes")
    parser.add_argument("--open-cases", type=int, help="open cases to search among")
    parser.add_argument("--originals", type=int, help="originals, each with one later report")
    args = parser.parse_args(argv)
    result = duplicate_figures(args.quick, open_cases=args.open_cases, originals=args.originals)
    print_json_line({**result, **machine_info()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
