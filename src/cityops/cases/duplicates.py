"""Duplicate reports: find the open case a new report repeats, score it, propose or merge.

The search never scans the open cases: every case carries ``cell``, the integer key of the
~220 m grid cell of its point, and ``ix_cases_duplicate_search`` indexes (category, cell,
created_at). A report looks only at the cells its category's radius reaches, within its time
window and in the open states; the few rows found are scored exactly (haversine distance,
text similarity). See docs/duplicates.md for the score and its thresholds.
"""

from __future__ import annotations

import functools
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from cityops.cases import events
from cityops.cases.access import check_who
from cityops.cases.directory import CategoryInfo
from cityops.cases.models import Case, DuplicateProposal
from cityops.cases.queries import can_read_case, load_case
from cityops.cases.schemas import CaseOut, DuplicateOut
from cityops.cases.similarity import compare, prepare
from cityops.cases.transitions import audit_and_emit, category_of, record_step, snapshot
from cityops.cases.views import present
from cityops.cases.workflow import OPEN_STATES, Action, State, Who, target_state, transition_for
from cityops.core.audit.service import record
from cityops.core.auth import SYSTEM, Actor
from cityops.core.db.engine import Transaction
from cityops.core.errors import Conflict, NotFound, PermissionDenied
from cityops.core.i18n import text
from cityops.core.ids import new_id
from cityops.core.runtime import Runtime
from cityops.org.roles import Perm

# Grid cells of CELL_DEGREES on each side (about 222 m north-south, 196 m east-west at 28°N).
CELL_DEGREES = 0.002
_COLUMNS = 1_000_000  # cell = row * _COLUMNS + column; columns stay below 180 000
EARTH_RADIUS_M = 6_371_008.8
# An open case a duplicate may join (as merge_case): not one only awaiting closure.
MERGE_TARGETS = frozenset(s.value for s in OPEN_STATES - {State.verified})
# A report that may itself be merged away.
MERGEABLE = frozenset({State.reported.value, State.registered.value})
# How many candidates are scored at most (nearest in time first), and proposals kept.
MAX_CANDIDATES = 200
# Cells a candidate search lists one by one (a radius of 2 km spans about 450 at 28°N).
MAX_LISTED_CELLS = 2_000
MAX_PROPOSALS = 5

# The score (docs/duplicates.md): the text decides, place and time confirm.
TEXT_FLOOR = 0.15  # below it the texts share nothing: not a duplicate, whatever the place
TEXT_FULL = 0.55  # a cosine from here on counts as the same wording
BASE, WEIGHT_NEAR, WEIGHT_FRESH = 0.55, 0.3, 0.15

PROPOSED, MERGED, DISMISSED = "proposed", "merged", "dismissed"

# id, number, title, description, lon, lat, created_at of the candidates
CandidateQuery = Select[uuid.UUID, int, str, str, float, float, datetime]


def cell_of(lon: float, lat: float) -> int:
    row = math.floor((lat + 90.0) / CELL_DEGREES)
    column = math.floor((lon + 180.0) / CELL_DEGREES)
    return row * _COLUMNS + column


def cell_ranges(lon: float, lat: float, radius_m: float) -> list[tuple[int, int]]:
    """The cells within ``radius_m`` of the point, as (first, last) runs of one row each."""
    row = math.floor((lat + 90.0) / CELL_DEGREES)
    column = math.floor((lon + 180.0) / CELL_DEGREES)
    metres_per_degree = math.pi * EARTH_RADIUS_M / 180.0
    rows = math.ceil(radius_m / (metres_per_degree * CELL_DEGREES))
    cos_lat = max(math.cos(math.radians(min(abs(lat) + rows * CELL_DEGREES, 89.0))), 0.01)
    columns = math.ceil(radius_m / (metres_per_degree * cos_lat * CELL_DEGREES))
    return [
        (r * _COLUMNS + column - columns, r * _COLUMNS + column + columns)
        for r in range(row - rows, row + rows + 1)
    ]


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Score:
    """A duplicate score in [0, 1] and what it was made of."""

    score: float
    text: float
    distance_m: float
    hours: float
    conflict: str | None = None  # why the signatures say another problem (text discounted)

    def components(self) -> dict[str, float]:
        values = {
            "text": round(self.text, 4),
            "distance_m": round(self.distance_m, 1),
            "hours": round(self.hours, 2),
        }
        if self.conflict:
            values["conflict"] = 1.0
        return values


def score(text: float, distance_m: float, hours: float, radius_m: float, window_h: float) -> float:
    """0 outside the radius or window or below TEXT_FLOOR; else wording x (BASE + WEIGHT_NEAR x
    nearness + WEIGHT_FRESH x freshness): wording is the text similarity over TEXT_FULL (at
    most 1), nearness 1 at the point and 0 at the radius, freshness 1 at once and 0 at the end
    of the window. A product, so that place and time never make up for different wording."""
    if distance_m > radius_m or hours > window_h or hours < 0 or text < TEXT_FLOOR:
        return 0.0
    wording = min(1.0, text / TEXT_FULL)
    near = 1.0 - distance_m / radius_m
    fresh = 1.0 - hours / window_h
    return wording * (BASE + WEIGHT_NEAR * near + WEIGHT_FRESH * fresh)


def search_query(case: Case, category: CategoryInfo) -> tuple[CandidateQuery, dict[str, Any]]:
    """The indexed candidate query for ``case`` (category, cells, window, open), newest first,
    and its parameters. The cells are listed one by one, so that the index is searched for
    each (category, cell) and then by time; near the poles, where a radius spans too many
    cells to list, by their runs of one row each."""
    ranges = cell_ranges(case.lon, case.lat, category.duplicate_radius_m)
    params: dict[str, Any] = {
        "category_id": category.id,
        "since": case.created_at - timedelta(hours=category.duplicate_window_hours),
        "until": case.created_at,
        "number": case.number,
    }
    if sum(last - first + 1 for first, last in ranges) <= MAX_LISTED_CELLS:
        params["cells"] = [cell for first, last in ranges for cell in range(first, last + 1)]
        return _search(None), params
    for row, (first, last) in enumerate(ranges):
        params[f"first_{row}"], params[f"last_{row}"] = first, last
    return _search(len(ranges)), params


@functools.lru_cache(maxsize=16)
def _search(rows: int | None) -> CandidateQuery:
    """The candidate query by listed cells (``rows`` None) or by ``rows`` runs of cells. Built
    once each: a statement reused is not built, nor its cache key computed, again."""
    in_cells: ColumnElement[bool]
    if rows is None:
        in_cells = Case.cell.in_(bindparam("cells", expanding=True))
    else:
        in_cells = or_(
            *(
                Case.cell.between(bindparam(f"first_{r}"), bindparam(f"last_{r}"))
                for r in range(rows)
            )
        )
    return (
        select(
            Case.id,
            Case.number,
            Case.title,
            Case.description,
            Case.lon,
            Case.lat,
            Case.created_at,
        )
        .where(
            Case.category_id == bindparam("category_id"),
            in_cells,
            Case.created_at >= bindparam("since"),
            Case.created_at <= bindparam("until"),
            Case.state.in_(sorted(MERGE_TARGETS)),
            Case.number < bindparam("number"),
        )
        .order_by(Case.created_at.desc())
        .limit(MAX_CANDIDATES)
    )


@dataclass(frozen=True)
class Candidate:
    """An earlier open case a report may repeat: what the score reads of it."""

    id: uuid.UUID
    number: int
    title: str
    description: str
    lon: float
    lat: float
    created_at: datetime


def candidates(
    session: Session, case: Case, category: CategoryInfo
) -> list[tuple[Candidate, Score]]:
    """Earlier open cases of the category near ``case``, best first, with their scores."""
    query, params = search_query(case, category)
    rows = session.execute(query, params).all()
    report = prepare(f"{case.title} {case.description}")
    scored = []
    for row in rows:
        other = Candidate(*row)
        distance = haversine_m(case.lon, case.lat, other.lon, other.lat)
        hours = (case.created_at - other.created_at).total_seconds() / 3600.0
        similarity, differs = compare(report, prepare(f"{other.title} {other.description}"))
        value = score(
            similarity,
            distance,
            hours,
            category.duplicate_radius_m,
            category.duplicate_window_hours,
        )
        if value > 0:
            scored.append((other, Score(value, similarity, distance, hours, differs)))
    scored.sort(key=lambda pair: (-pair[1].score, pair[0].number))
    return scored


def find_duplicates(
    rt: Runtime, tx: Transaction, case: Case, now: datetime, *, new: bool = False
) -> str | None:
    """Run the duplicate check of ``case`` inside ``tx``: merge it into the best candidate at
    or above the merge score, else store proposals at or above the propose score. Returns
    ``"merged"``, ``"proposed"`` or None. ``new``: the case is being reported in ``tx`` (it
    has no proposals yet)."""
    session = tx.session
    category = category_of(session, case)
    if category is None or case.state not in MERGEABLE or case.merged_into_id is not None:
        return None
    if case.cell is None:  # a case from before cells (assigning it again would dirty it)
        case.cell = cell_of(case.lon, case.lat)
    settings = rt.settings
    found = candidates(session, case, category)
    propose_at = settings.duplicate_propose_score
    merge_at = max(settings.duplicate_merge_score, propose_at)
    known = (
        {}
        if new
        else {
            p.candidate_id: p
            for p in session.scalars(
                select(DuplicateProposal).where(DuplicateProposal.case_id == case.id)
            )
        }
    )
    if found and settings.duplicate_auto_merge and found[0][1].score >= merge_at:
        first, best = found[0]
        target = _still_open(session, first.id)
        if target is not None:
            proposal = known.get(target.id) or _proposal(session, case, target.id, best, now)
            proposal.status, proposal.decided_at = MERGED, now
            merge_into(tx, case, target, best, now)
            return "merged"
        found = found[1:]
    outcome = None
    for other, value in found[:MAX_PROPOSALS]:
        if value.score < propose_at:
            break
        if other.id not in known:
            _proposal(session, case, other.id, value, now)
        outcome = PROPOSED
    return outcome


def _still_open(session: Session, case_id: uuid.UUID) -> Case | None:
    """The merge target, locked and read afresh, if it still takes duplicates: a transition
    that committed after the candidates were read may have moved it on."""
    target = load_case(session, case_id, for_update=True)
    if target.state not in MERGE_TARGETS or target.merged_into_id is not None:
        return None
    return target


def _proposal(
    session: Session, case: Case, target_id: uuid.UUID, value: Score, now: datetime
) -> DuplicateProposal:
    proposal = DuplicateProposal(
        id=new_id(),
        case_id=case.id,
        candidate_id=target_id,
        score=round(value.score, 4),
        components=value.components(),
        status=PROPOSED,
        created_at=now,
    )
    session.add(proposal)
    return proposal


def merge_into(tx: Transaction, case: Case, target: Case, value: Score, now: datetime) -> None:
    """合并 by the system: the same change as ``merge_case``, inside the caller's transaction,
    recorded on both timelines with the score."""
    from_state = case.state
    transition = transition_for(Action.merge, State(from_state))
    before = snapshot(case)
    data: dict[str, Any] = {"automatic": True, "score": round(value.score, 4)}
    data.update(value.components())
    case.merged_into_id, case.closed_at = target.id, now
    case.state = target_state(transition, State(from_state)).value
    case.updated_at = now
    target.duplicate_count += 1
    record_step(
        tx.session,
        target,
        SYSTEM,
        Action.merge,
        target.state,
        now,
        None,
        {**data, "merged_case_id": str(case.id), "merged_case_number": case.number},
    )
    record_step(
        tx.session,
        case,
        SYSTEM,
        Action.merge,
        from_state,
        now,
        None,
        {**data, "into": str(target.id), "into_number": target.number},
    )
    audit_and_emit(tx, SYSTEM, case, Action.merge, from_state, now, before)


def mark_merged(session: Session, case_id: uuid.UUID, into: uuid.UUID, at: datetime) -> None:
    """A merge by hand settles the proposal between the two cases, whichever way it ran."""
    rows = session.scalars(
        select(DuplicateProposal).where(
            or_(
                and_(DuplicateProposal.case_id == case_id, DuplicateProposal.candidate_id == into),
                and_(DuplicateProposal.case_id == into, DuplicateProposal.candidate_id == case_id),
            )
        )
    )
    for proposal in rows:
        proposal.status, proposal.decided_at = MERGED, at


def check_duplicates(rt: Runtime, *, actor: Actor, case_id: uuid.UUID) -> CaseOut:
    """Run the duplicate check for a case whose category was set after intake (registration,
    the classifier): merges or proposes as at intake, in one transaction."""
    actor.require(Perm.cases_register)
    with rt.db.transaction() as tx:
        case = load_case(tx.session, case_id, for_update=True)
        check_who(actor, case, Who.area)
        find_duplicates(rt, tx, case, rt.clock.now())
        return present(tx.session, actor, case)


def list_duplicates(rt: Runtime, *, actor: Actor, case_id: uuid.UUID) -> list[DuplicateOut]:
    """Proposals naming the case, either as the later report or as the earlier case."""
    actor.require(Perm.cases_read)
    if actor.role == "citizen":
        raise PermissionDenied("duplicate proposals are for the operations staff")
    with rt.db.read() as session:
        case = load_case(session, case_id)
        if not can_read_case(session, actor, case):
            raise PermissionDenied(
                "the case is outside your jurisdiction", code="out_of_jurisdiction"
            )
        rows = session.scalars(
            select(DuplicateProposal)
            .where(
                or_(DuplicateProposal.case_id == case_id, DuplicateProposal.candidate_id == case_id)
            )
            .order_by(DuplicateProposal.score.desc(), DuplicateProposal.created_at)
        ).all()
        others = {
            c.id: c
            for c in session.scalars(
                select(Case).where(
                    Case.id.in_(
                        {p.candidate_id if p.case_id == case_id else p.case_id for p in rows}
                    )
                )
            )
        }
        return [
            _out(p, case_id, other)
            for p in rows
            if can_read_case(
                session,
                actor,
                other := others[p.candidate_id if p.case_id == case_id else p.case_id],
            )
        ]


def _out(p: DuplicateProposal, case_id: uuid.UUID, other: Case) -> DuplicateOut:
    return DuplicateOut(
        id=p.id,
        case_id=p.case_id,
        candidate_id=p.candidate_id,
        direction="earlier" if p.case_id == case_id else "later",
        other_id=other.id,
        other_number=other.number,
        other_title=other.title,
        other_state=other.state,
        other_address=other.address,
        other_created_at=other.created_at,
        score=p.score,
        components=p.components or {},
        status=p.status,
        created_at=p.created_at,
        decided_at=p.decided_at,
    )


def dismiss_duplicate(
    rt: Runtime, *, actor: Actor, case_id: uuid.UUID, proposal_id: uuid.UUID
) -> DuplicateOut:
    """不是重复: the operator says the two cases are different problems."""
    actor.require(Perm.cases_merge)
    with rt.db.transaction() as tx:
        session = tx.session
        proposal = session.get(DuplicateProposal, proposal_id)
        if proposal is None or case_id not in (proposal.case_id, proposal.candidate_id):
            raise NotFound("duplicate proposal", proposal_id)
        case = load_case(session, proposal.case_id)
        check_who(actor, case, Who.area)
        if proposal.status != PROPOSED:
            raise Conflict(text("the proposal is already {status}", status=proposal.status))
        now = rt.clock.now()
        proposal.status, proposal.decided_at, proposal.decided_by = DISMISSED, now, actor.user_id
        record(
            session,
            actor=actor,
            action=events.DUPLICATE_DISMISSED,
            subject_type="case",
            subject_id=proposal.case_id,
            at=now,
            before={"proposal": str(proposal.id), "status": PROPOSED},
            after={
                "proposal": str(proposal.id),
                "status": DISMISSED,
                "candidate_id": str(proposal.candidate_id),
                "score": proposal.score,
            },
        )
        other_id = proposal.candidate_id if proposal.case_id == case_id else proposal.case_id
        return _out(proposal, case_id, load_case(session, other_id))
