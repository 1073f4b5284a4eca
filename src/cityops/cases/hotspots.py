"""热点问题: groups of reports about the same problem at the same place over a period, ranked by
a heat score (docs/duplicates.md).

``group_reports`` and ``heat`` are pure; ``list_hotspots`` reads the period's reports the actor
may see (merged duplicates included: each is a report) and groups them.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, or_, select

from cityops.cases.directory import categories
from cityops.cases.duplicates import cell_of, cell_ranges, haversine_m
from cityops.cases.models import Case
from cityops.cases.queries import scope_cases
from cityops.cases.schemas import HotspotOut
from cityops.cases.similarity import Report as Text
from cityops.cases.similarity import compare, prepare
from cityops.cases.workflow import State
from cityops.core.auth import Actor
from cityops.core.errors import invalid
from cityops.core.i18n import text
from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.roles import Perm

MIN_REPORTS = 3  # a hot spot is at least this many reports ...
MIN_REPORTERS = 2  # ... from at least this many people
HOT_TEXT = 0.3  # text similarity to one of a group's recent reports to join it
HALF_LIFE_HOURS = 24.0  # recency halves every day without a new report
MAX_GROWTH = 4.0
MAX_REPORTS = 20_000  # reports read for one answer (the newest of the period)
_COMPARE_LAST = 5
_NOT_REPORTS = (State.rejected.value, State.cancelled.value)


@dataclass(frozen=True)
class Report:
    id: uuid.UUID
    number: int
    category_id: uuid.UUID
    lon: float
    lat: float
    at: datetime
    text: str
    reporter: str
    title: str = ""
    merged_into: uuid.UUID | None = None
    address: str | None = None
    district_id: uuid.UUID | None = None
    street_id: uuid.UUID | None = None


@dataclass
class Group:
    category_id: uuid.UUID
    reports: list[Report] = field(default_factory=list)
    lon: float = 0.0
    lat: float = 0.0

    def add(self, report: Report) -> None:
        n = len(self.reports)
        self.lon = (self.lon * n + report.lon) / (n + 1)
        self.lat = (self.lat * n + report.lat) / (n + 1)
        self.reports.append(report)

    def recent(self) -> list[Text]:
        """The prepared texts of the group's last reports, those a newcomer is compared with."""
        return [prepare(r.text) for r in self.reports[-_COMPARE_LAST:]]

    @property
    def reporters(self) -> int:
        return len({r.reporter for r in self.reports})


def group_reports(reports: list[Report], radius_m: dict[uuid.UUID, float]) -> list[Group]:
    """Group reports oldest first: a report joins the group of the case it was merged into, or
    the group of its category whose centre lies within the category's radius and one of whose
    last reports reads alike (HOT_TEXT); else it starts a group. Groups are looked up by the
    grid cell of their first report, so the work grows with the reports, not their square. A
    text is prepared only when it is compared: a report with no group of its category nearby
    costs no text work at all."""
    by_cell: dict[tuple[uuid.UUID, int], list[Group]] = defaultdict(list)
    group_of: dict[uuid.UUID, Group] = {}
    groups: list[Group] = []
    for report in sorted(reports, key=lambda r: (r.at, r.number)):
        radius = radius_m.get(report.category_id, 150.0)
        home = group_of.get(report.merged_into) if report.merged_into else None
        if home is None:
            home = _nearest(by_cell, report, radius)
        if home is None:
            home = Group(category_id=report.category_id)
            groups.append(home)
            by_cell[(report.category_id, cell_of(report.lon, report.lat))].append(home)
        home.add(report)
        group_of[report.id] = home
    return groups


def _nearest(
    by_cell: dict[tuple[uuid.UUID, int], list[Group]],
    report: Report,
    radius: float,
) -> Group | None:
    best, best_distance = None, math.inf
    vector: Text | None = None
    for first, last in cell_ranges(report.lon, report.lat, radius):
        for cell in range(first, last + 1):
            for group in by_cell.get((report.category_id, cell), ()):
                distance = haversine_m(report.lon, report.lat, group.lon, group.lat)
                if distance > radius or distance >= best_distance:
                    continue
                if vector is None:
                    vector = prepare(report.text)
                if any(compare(vector, v)[0] >= HOT_TEXT for v in group.recent()):
                    best, best_distance = group, distance
    return best


def heat(group: Group, start: datetime, now: datetime) -> tuple[float, float]:
    """(score, growth). score = (reports + distinct reporters) x (0.5 + 0.5 x recency) x
    sqrt(growth): recency halves every HALF_LIFE_HOURS since the last report; growth is
    (reports in the later half of the period + 1) / (reports in the earlier half + 1), at most
    MAX_GROWTH."""
    last = max(r.at for r in group.reports)
    recency = 0.5 ** (max(0.0, (now - last).total_seconds()) / 3600.0 / HALF_LIFE_HOURS)
    middle = start + (now - start) / 2
    later = sum(1 for r in group.reports if r.at >= middle)
    growth = min(MAX_GROWTH, (later + 1) / (len(group.reports) - later + 1))
    score = (len(group.reports) + group.reporters) * (0.5 + 0.5 * recency) * math.sqrt(growth)
    return score, growth


def list_hotspots(
    rt: Runtime, *, actor: Actor, days: int = 7, limit: int = 10, district: str | None = None
) -> list[HotspotOut]:
    """The hottest problems of the last ``days`` days among the cases the actor may see."""
    actor.require(Perm.kpi_read)
    if not 1 <= days <= 90:
        raise invalid("days", "must be from 1 to 90", "out_of_range")
    if not 1 <= limit <= 100:
        raise invalid("limit", "must be from 1 to 100", "out_of_range")
    now = rt.clock.now()
    start = now - timedelta(days=days)
    with rt.db.read() as session:
        columns = select(
            Case.id,
            Case.number,
            Case.category_id,
            Case.lon,
            Case.lat,
            Case.created_at,
            Case.title,
            Case.description,
            Case.reporter_id,
            Case.reporter_phone,
            Case.merged_into_id,
            Case.address,
            Case.district_id,
            Case.street_id,
        )
        query = scope_cases(cast("Select[Any]", columns), actor).where(
            Case.created_at >= start,
            Case.created_at <= now,
            Case.category_id.is_not(None),
            Case.state.not_in(_NOT_REPORTS),
        )
        if district:
            area = org.get_area_by_code(session, district)
            if area is None:
                raise invalid(
                    "district", text("unknown area {code!r}", code=district), "unknown_area"
                )
            query = query.where(
                or_(Case.area_path == area.path, Case.area_path.startswith(area.path + "/"))
            )
        rows = session.execute(query.order_by(Case.created_at.desc()).limit(MAX_REPORTS)).all()
        directory = categories(session)
        reports = [
            Report(
                id=r.id,
                number=r.number,
                category_id=r.category_id,
                lon=r.lon,
                lat=r.lat,
                at=r.created_at,
                text=f"{r.title} {r.description}",
                reporter=str(r.reporter_id or r.reporter_phone or f"case:{r.id}"),
                title=r.title,
                merged_into=r.merged_into_id,
                address=r.address,
                district_id=r.district_id,
                street_id=r.street_id,
            )
            for r in rows
        ]
        radius = {c.id: c.duplicate_radius_m for c in directory.by_id.values()}
        hot = [
            g
            for g in group_reports(reports, radius)
            if len(g.reports) >= MIN_REPORTS and g.reporters >= MIN_REPORTERS
        ]
        ranked = sorted(
            ((heat(g, start, now), g) for g in hot),
            key=lambda pair: (-pair[0][0], -len(pair[1].reports)),
        )[:limit]
        area_ids = {a for _, g in ranked for r in g.reports for a in (r.district_id, r.street_id)}
        areas = org.area_refs(session, [a for a in area_ids if a])
        out = []
        for (value, growth), g in ranked:
            first = g.reports[0]
            addresses = Counter(r.address for r in g.reports if r.address)
            category = directory.by_id[g.category_id]
            out.append(
                HotspotOut(
                    category=category.ref,
                    lon=round(g.lon, 6),
                    lat=round(g.lat, 6),
                    address=addresses.most_common(1)[0][0] if addresses else None,
                    district=areas.get(first.district_id) if first.district_id else None,
                    street=areas.get(first.street_id) if first.street_id else None,
                    title=first.title,
                    reports=len(g.reports),
                    reporters=g.reporters,
                    first_at=first.at,
                    last_at=g.reports[-1].at,
                    score=round(value, 2),
                    growth=round(growth, 2),
                    case_ids=[r.id for r in g.reports],
                    case_numbers=[r.number for r in g.reports],
                )
            )
        return out
