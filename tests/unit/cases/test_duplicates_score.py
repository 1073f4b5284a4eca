"""The pure parts of duplicate detection and hot spots: text similarity, the grid cells of
the candidate search, the score, grouping and the heat score."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cityops.cases.directory import CategoryInfo
from cityops.cases.duplicates import (
    MAX_LISTED_CELLS,
    TEXT_FLOOR,
    cell_of,
    cell_ranges,
    haversine_m,
    score,
    search_query,
)
from cityops.cases.hotspots import Group, Report, group_reports, heat
from cityops.cases.models import Case
from cityops.cases.similarity import (
    CONFLICT_FACTOR,
    conflict,
    normalise,
    report_similarity,
    signature,
    text_similarity,
)

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


# The same problem told by two citizens at one place: must still read alike.
SAME_PROBLEM = [
    (
        "芙蓉中路与人民路交叉口东北角的路灯不亮，晚上过马路看不清",
        "人民路芙蓉中路路口路灯坏了好几天，一到晚上就黑灯瞎火",
    ),
    (
        "书院路小学门口的污水井盖不见了，孩子上学很危险",
        "书院路小学校门口井盖丢了，下面是空的",
    ),
    (
        "锦绣家园3栋电梯故障，一直停在一楼不动",
        "锦绣家园小区3栋的电梯坏了，老人上下楼很不方便",
    ),
    (
        "东塘菜市场旁边的人行道上停满了汽车，行人只能走机动车道",
        "东塘菜市场附近人行道被乱停的小汽车占了",
    ),
    (
        "枫林路地铁站出口自来水管爆了，水往路面上冒",
        "枫林路地铁口水管破裂漏水，路上全是水",
    ),
    ("Street light out of order at Renmin Road bus stop", "Renmin Road bus stop light not working"),
]
# Another problem of the same category at the same place: must not read alike.
OTHER_PROBLEM = [
    (
        "芙蓉中路与人民路交叉口东北角的路灯不亮，晚上过马路看不清",
        "芙蓉中路与人民路交叉口东北角的路灯白天一直开着，浪费电",
    ),
    (
        "芙蓉中路与人民路交叉口的路灯不亮",
        "芙蓉中路与人民路交叉口的路灯杆被车撞歪了",
    ),
    (
        "书院路小学门口的污水井盖不见了，孩子上学很危险",
        "书院路小学门口的污水井盖破损松动，车压过去哐哐响",
    ),
    (
        "锦绣家园3栋电梯故障，一直停在一楼不动",
        "锦绣家园5栋电梯故障，一直停在一楼不动",
    ),
    (
        "锦绣家园3栋电梯坏了好几天了没人修",
        "锦绣家园3栋电梯困人了，里面有老人出不来",
    ),
    (
        "东塘菜市场旁边的人行道上停满了汽车",
        "东塘菜市场旁边的消防通道停满了汽车",
    ),
    (
        "河西大学城南门烧烤摊半夜噪音太大，吵得睡不着",
        "河西大学城南门工地半夜施工，噪音太大睡不着",
    ),
    (
        "Renmin Road bus stop street light is not working",
        "Renmin Road bus stop street light is on all day",
    ),
]


@pytest.mark.parametrize(("a", "b"), SAME_PROBLEM)
def test_the_same_problem_in_other_words_reads_alike(a: str, b: str) -> None:
    assert conflict(signature(a), signature(b)) is None
    # still a candidate: place and time then decide between proposing and merging
    assert report_similarity(a, b) >= TEXT_FLOOR


@pytest.mark.parametrize(("a", "b"), OTHER_PROBLEM)
def test_another_problem_at_the_same_place_does_not(a: str, b: str) -> None:
    assert conflict(signature(a), signature(b)) is not None
    assert report_similarity(a, b) == pytest.approx(text_similarity(a, b) * CONFLICT_FACTOR)
    # the place and the category's words alone made them look alike
    assert text_similarity(a, b) > 0.3 > report_similarity(a, b)


def test_what_a_signature_reads() -> None:
    found = signature("锦绣家园３栋２单元门口路灯不亮，有人被困在电梯里")
    assert found.aspects == {"off"}
    assert found.markers == {"people_trapped"}
    assert found.numbers == {"3栋", "2单元"}
    assert signature("五号楼电梯坏了").numbers == {"五栋"}
    assert conflict(signature("3号楼电梯坏了"), signature("3栋电梯故障")) is None
    assert signature("Someone is stuck inside the lift").markers == {"people_trapped"}
    # English words are matched whole: a barrier is no bar
    assert signature("a barrier blocks the road").aspects == set()


def test_a_shared_number_or_no_signature_is_no_conflict() -> None:
    assert conflict(signature("3栋2单元电梯坏了"), signature("3栋电梯坏了")) is None
    assert conflict(signature("3栋电梯坏了"), signature("2单元电梯坏了")) is None
    assert conflict(signature("这里有问题"), signature("路灯白天一直亮着")) is None
    # one report names more of the same problem (a burst pipe that floods)
    assert conflict(signature("水管破裂"), signature("水管爆了，路上全是水")) is None


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


def _search_params(lon: float, lat: float, radius: float) -> dict[str, Any]:
    category = CategoryInfo(
        id=uuid.uuid4(),
        code="E-01-02",
        parent_id=uuid.uuid4(),
        name_zh="暴露垃圾",
        name_en="Exposed rubbish",
        kind="event",
        department_kind=None,
        register_hours=None,
        dispatch_hours=None,
        handle_hours=None,
        priority="normal",
        active=True,
        duplicate_radius_m=radius,
    )
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    case = Case(lon=lon, lat=lat, created_at=now, number=42)
    return search_query(case, category)[1]


def test_the_search_lists_the_cells_of_its_runs() -> None:
    params = _search_params(112.95, 28.12, 150.0)
    runs = cell_ranges(112.95, 28.12, 150.0)
    assert params["cells"] == [c for first, last in runs for c in range(first, last + 1)]
    assert len(_search_params(112.95, 28.12, 2000.0)["cells"]) <= MAX_LISTED_CELLS


def test_near_the_pole_the_search_goes_by_runs_instead() -> None:
    params = _search_params(10.0, 89.9, 2000.0)
    runs = cell_ranges(10.0, 89.9, 2000.0)
    assert "cells" not in params
    assert [(params[f"first_{r}"], params[f"last_{r}"]) for r in range(len(runs))] == runs


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


def test_two_problems_at_one_corner_form_two_groups() -> None:
    off = [
        "人民路与八一路交叉口路灯不亮",
        "人民路八一路交叉口的路灯坏了",
        "人民路与八一路交叉口路灯晚上不亮",
    ]
    on = [
        "人民路与八一路交叉口路灯白天一直亮着",
        "人民路八一路交叉口路灯大白天开着",
        "人民路与八一路交叉口路灯白天没关",
    ]
    reports = [
        _report(i, 10 - i, lon=112.95 + i * 0.00001, text=text)
        for i, text in enumerate(t for pair in zip(off, on, strict=True) for t in pair)
    ]
    groups = group_reports(reports, {CATEGORY: 50.0})
    assert sorted(sorted(r.text for r in g.reports) for g in groups) == [sorted(off), sorted(on)]


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
        group.add(_report(i, h, who=who))
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
