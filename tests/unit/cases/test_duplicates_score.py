"""The pure parts of duplicate detection and hot spots: text similarity, the grid cells of
the candidate search, the score, grouping and the heat score."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cityops.cases.duplicates import cell_of, cell_ranges, haversine_m, score
from cityops.cases.hotspots import Group, Report, group_reports, heat
from cityops.cases.similarity import normalise, text_similarity

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CATEGORY = uuid.uuid4()


def test_normalise_folds_width_case_punctuation_and_boilerplate() -> None:
    assert normalise("ＡＢＣ，路灯不亮！请尽快处理。") == "abc 路灯不亮"


def test_paraphrases_are_closer_than_different_problems() -> None:
    same = text_similarity("人民路口的井盖丢了，很危险", "人民路路口井盖缺失，晚上很危险")
    other = text_similarity("人民路口的井盖丢了，很危险", "人民路口垃圾桶满了没人清理")
    assert same > 0.4
    assert other < same - 0.1


def test_english_compares_by_word() -> None:
    assert text_similarity("Broken street light", "street light broken again") > 0.5
    assert text_similarity("Broken street light", "Noisy bar at night") < 0.1


def test_empty_text_is_similar_to_nothing() -> None:
    assert text_similarity("，。！", "路灯不亮") == 0.0


def test_every_point_within_the_radius_falls_in_the_searched_cells() -> None:
    lon, lat = 112.95, 28.12
    for radius in (10.0, 150.0, 1000.0):
        runs = cell_ranges(lon, lat, radius)
        for step in range(-10, 11):
            for other in ((lon + step * radius / 1e6, lat), (lon, lat + step * radius / 1e6)):
                if haversine_m(lon, lat, *other) <= radius:
                    cell = cell_of(*other)
                    assert any(a <= cell <= b for a, b in runs), (radius, other)


def test_the_search_covers_few_cells() -> None:
    assert len(cell_ranges(112.95, 28.12, 150.0)) == 3
    first, last = cell_ranges(112.95, 28.12, 150.0)[0]
    assert last - first == 2


def test_haversine() -> None:
    assert haversine_m(112.95, 28.12, 112.95, 28.13) == pytest.approx(1112, rel=0.01)


@pytest.mark.parametrize(
    ("text", "distance", "hours", "expected"),
    [
        (0.9, 0.0, 0.0, 1.0),
        (0.55, 0.0, 0.0, 1.0),
        (0.9, 151.0, 0.0, 0.0),  # outside the radius
        (0.9, 0.0, 73.0, 0.0),  # outside the window
        (0.1, 0.0, 0.0, 0.0),  # nothing in common
        (0.9, 75.0, 36.0, 0.55 + 0.15 + 0.075),
        (0.275, 0.0, 0.0, 0.5),
    ],
)
def test_score(text: float, distance: float, hours: float, expected: float) -> None:
    assert score(text, distance, hours, 150.0, 72.0) == pytest.approx(expected)


def test_text_counts_most() -> None:
    weak_text_close = score(0.3, 0.0, 0.0, 150.0, 72.0)
    strong_text_far = score(0.55, 100.0, 30.0, 150.0, 72.0)
    assert weak_text_close < 0.6 < strong_text_far


def _report(
    n: int, hours_ago: float, *, lon: float = 112.95, text: str = "人民路井盖丢了", who: str = ""
) -> Report:
    return Report(
        id=uuid.uuid4(),
        number=n,
        category_id=CATEGORY,
        lon=lon,
        lat=28.12,
        at=NOW - timedelta(hours=hours_ago),
        text=text,
        reporter=who or f"user-{n}",
    )


def test_a_burst_of_similar_reports_forms_one_group() -> None:
    reports = [_report(i, 10 - i, lon=112.95 + i * 0.0001) for i in range(5)]
    reports.append(_report(9, 1, text="公园里噪音扰民"))
    groups = group_reports(reports, {CATEGORY: 150.0})
    sizes = sorted(len(g.reports) for g in groups)
    assert sizes == [1, 5]


def test_scattered_reports_do_not_group() -> None:
    reports = [_report(i, 5, lon=112.95 + i * 0.01) for i in range(5)]
    assert all(len(g.reports) == 1 for g in group_reports(reports, {CATEGORY: 150.0}))


def test_a_merged_report_joins_the_case_it_was_merged_into() -> None:
    first = _report(1, 5)
    far = Report(**{**first.__dict__, "id": uuid.uuid4(), "number": 2, "lon": 113.5})
    merged = Report(**{**far.__dict__, "merged_into": first.id, "text": "别的说法"})
    groups = group_reports([first, merged], {CATEGORY: 150.0})
    assert len(groups) == 1


def _group(*hours_ago: float, reporters: int | None = None) -> Group:
    group = Group(category_id=CATEGORY)
    for i, h in enumerate(hours_ago):
        who = f"u{i % reporters}" if reporters else f"u{i}"
        group.add(_report(i, h, who=who), vector=None)  # type: ignore[arg-type]
    return group


def test_heat_grows_with_reports_reporters_recency_and_growth() -> None:
    start = NOW - timedelta(days=7)
    base, _ = heat(_group(100, 90, 2), start, NOW)
    more, _ = heat(_group(100, 90, 2, 1), start, NOW)
    fewer_people, _ = heat(_group(100, 90, 2, reporters=1), start, NOW)
    older, _ = heat(_group(100, 90, 50), start, NOW)
    growing, growth = heat(_group(20, 10, 2), start, NOW)
    assert more > base > fewer_people
    assert older < base
    assert growing > base
    assert growth == pytest.approx(4.0)
