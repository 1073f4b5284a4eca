"""Structure and geometry checks for the demo geography builders (no database)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable

import pytest
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from cityops.demo import geography
from cityops.demo.geography import AreaSeed, changsha, random_point_in, synthetic_city, walk

CHANGSHA_DISTRICTS = {
    "430102": "芙蓉区",
    "430103": "天心区",
    "430104": "岳麓区",
    "430105": "开福区",
    "430111": "雨花区",
    "430112": "望城区",
}
CODE_LENGTHS = {"city": 6, "district": 6, "street": 9, "community": 12, "grid": 14}
BUILDERS: dict[str, Callable[[], AreaSeed]] = {
    "changsha": changsha,
    "synthetic": lambda: synthetic_city(districts=3, streets=2, communities=2, grids=3),
}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def builder(request: pytest.FixtureRequest) -> Callable[[], AreaSeed]:
    return BUILDERS[request.param]


@pytest.fixture(scope="module")
def city(builder: Callable[[], AreaSeed]) -> AreaSeed:
    return builder()


@pytest.fixture(scope="module")
def shapes(city: AreaSeed) -> dict[str, BaseGeometry]:
    return {area.code: shape(area.geometry) for area, _ in walk(city)}


def parents(city: AreaSeed) -> list[AreaSeed]:
    return [area for area, _ in walk(city) if area.children]


def area_at(city: AreaSeed, lon: float, lat: float, level: str) -> AreaSeed:
    point = Point(lon, lat)
    hits = [a for a, _ in walk(city) if a.level == level and shape(a.geometry).contains(point)]
    assert len(hits) == 1, [a.code for a in hits]
    return hits[0]


# --------------------------------------------------------------------------- both builders


def test_codes_are_unique_and_nested(city: AreaSeed) -> None:
    areas = list(walk(city))
    codes = [area.code for area, _ in areas]
    assert len(codes) == len(set(codes))
    for area, parent in areas:
        assert area.code.isalnum()
        assert len(area.code) == CODE_LENGTHS[area.level]
        if parent is not None and parent.level != "city":
            assert area.code.startswith(parent.code)


def test_levels_go_city_to_grid(city: AreaSeed) -> None:
    assert city.level == "city"
    for area, parent in walk(city):
        if parent is None:
            continue
        assert geography.LEVELS.index(area.level) == geography.LEVELS.index(parent.level) + 1
        if area.level == "grid":
            assert area.children == ()
    assert {area.level for area, _ in walk(city)} == set(geography.LEVELS)


def test_walk_yields_parents_before_children(city: AreaSeed) -> None:
    seen: set[str] = set()
    for area, parent in walk(city):
        assert parent is None or parent.code in seen
        seen.add(area.code)
    assert next(iter(walk(city))) == (city, None)


def test_geometries_are_valid_rounded_geojson(city: AreaSeed) -> None:
    for area, _ in walk(city):
        assert area.geometry["type"] in ("Polygon", "MultiPolygon")
        geom = shape(json.loads(json.dumps(area.geometry)))
        assert geom.is_valid, area.code
        assert not geom.is_empty
        assert geom.area > 0
        minx, miny, maxx, maxy = geom.bounds
        assert 73 < minx < maxx < 136, area.code  # lon/lat order, inside China
        assert 3 < miny < maxy < 54, area.code
        coords = shapely.get_coordinates(geom)
        assert (coords.round(6) == coords).all(), area.code


def test_polygons_stay_under_the_vertex_budget(shapes: dict[str, BaseGeometry]) -> None:
    for code, geom in shapes.items():
        for polygon in getattr(geom, "geoms", [geom]):
            assert shapely.get_num_coordinates(polygon) <= geography.MAX_VERTICES, code


def test_children_lie_within_their_parent(city: AreaSeed, shapes: dict[str, BaseGeometry]) -> None:
    for parent in parents(city):
        outer = shapes[parent.code]
        for child in parent.children:
            inner = shapes[child.code]
            assert inner.difference(outer).area < 0.01 * inner.area, child.code


def test_siblings_do_not_overlap(city: AreaSeed, shapes: dict[str, BaseGeometry]) -> None:
    for parent in parents(city):
        kids = [shapes[child.code] for child in parent.children]
        for i, first in enumerate(kids):
            for second in kids[i + 1 :]:
                overlap = first.intersection(second).area
                assert overlap < 1e-4 * min(first.area, second.area), parent.code


def test_children_cover_their_parent(city: AreaSeed, shapes: dict[str, BaseGeometry]) -> None:
    for parent in parents(city):
        outer = shapes[parent.code]
        union = shapely.union_all([shapes[child.code] for child in parent.children])
        assert union.intersection(outer).area >= 0.98 * outer.area, parent.code


def test_names_are_present_in_both_languages(city: AreaSeed) -> None:
    for area, _ in walk(city):
        assert area.name_zh.strip()
        assert area.name_en.strip()
        assert re.search(r"[\u4e00-\u9fff]", area.name_zh), area.name_zh
        assert area.name_en.isascii(), area.name_en
    for parent in parents(city):
        names = [child.name_zh for child in parent.children]
        assert len(names) == len(set(names)), parent.code


def test_building_is_deterministic(builder: Callable[[], AreaSeed], city: AreaSeed) -> None:
    assert builder() == city


def test_area_seeds_are_hashable_and_frozen(city: AreaSeed) -> None:
    assert hash(city) == hash(city)
    with pytest.raises(AttributeError):
        city.code = "000000"  # type: ignore[misc]


# --------------------------------------------------------------------------- Changsha


@pytest.fixture(scope="module")
def cs() -> AreaSeed:
    return changsha()


def test_changsha_has_the_six_central_districts(cs: AreaSeed) -> None:
    assert (cs.code, cs.name_zh, cs.name_en) == ("430100", "长沙市", "Changsha")
    assert {d.code: d.name_zh for d in cs.children} == CHANGSHA_DISTRICTS
    assert all(d.name_en.endswith(" District") for d in cs.children)


def test_changsha_districts_use_the_real_boundaries(cs: AreaSeed) -> None:
    districts = {d.code: shape(d.geometry) for d in cs.children}
    assert 0.19 < shape(cs.geometry).area < 0.21  # the six districts, not the rural counties
    assert districts["430112"].area > districts["430104"].area > districts["430102"].area
    assert area_at(cs, 112.977, 28.196, "district").code == "430102"  # 五一广场, 芙蓉区
    assert area_at(cs, 112.934, 28.184, "district").code == "430104"  # 岳麓山, 岳麓区
    assert area_at(cs, 112.990, 28.140, "district").code == "430103"  # 天心区, 南湖路以南
    assert area_at(cs, 112.890, 28.390, "district").code == "430112"  # 望城区
    assert area_at(cs, 112.977, 28.196, "grid").code.startswith("430102")


def test_changsha_streets_communities_and_grids(cs: AreaSeed) -> None:
    streets = {s.name_zh for d in cs.children for s in d.children}
    assert {
        "文艺路街道",
        "坡子街街道",
        "岳麓街道",
        "东风路街道",
        "侯家塘街道",
        "高塘岭街道",
    } <= streets
    for district in cs.children:
        assert 3 <= len(district.children) <= 6
        for street in district.children:
            assert street.name_zh.endswith("街道")
            assert street.name_en.endswith(" Subdistrict")
            assert 2 <= len(street.children) <= 3
            for community in street.children:
                assert community.name_zh.endswith("社区")
                assert 2 <= len(community.children) <= 4
                for index, grid in enumerate(community.children, 1):
                    assert (grid.name_zh, grid.name_en) == (f"第{index}网格", f"Grid {index}")


def test_changsha_tree_json_is_small(cs: AreaSeed) -> None:
    payload = json.dumps([area.geometry for area, _ in walk(cs)])
    assert len(payload) < 3_000_000


def test_changsha_is_cached_and_matches_a_fresh_build(cs: AreaSeed) -> None:
    assert changsha() is cs
    assert geography._build_changsha(7, 6) == cs


def test_changsha_seed_changes_generated_areas_only(cs: AreaSeed) -> None:
    other = changsha(seed=8)
    assert [d.geometry for d in other.children] == [d.geometry for d in cs.children]
    assert [d.children[0].geometry for d in other.children] != [
        d.children[0].geometry for d in cs.children
    ]


def test_changsha_streets_per_district(cs: AreaSeed) -> None:
    small = changsha(streets_per_district=3)
    assert [len(d.children) for d in small.children] == [3] * 6
    assert [s.name_zh for s in small.children[0].children] == [
        s.name_zh for s in cs.children[0].children[:3]
    ]
    with pytest.raises(ValueError, match="streets_per_district"):
        changsha(streets_per_district=0)
    with pytest.raises(ValueError, match="streets_per_district"):
        changsha(streets_per_district=99)


# --------------------------------------------------------------------------- synthetic city


def test_synthetic_city_shape_and_counts() -> None:
    city = synthetic_city(districts=3, streets=2, communities=2, grids=3, size_deg=0.3)
    levels = [area.level for area, _ in walk(city)]
    assert (city.code, city.level) == ("990100", "city")
    assert [d.code for d in city.children] == ["990101", "990102", "990103"]
    assert city.children[0].children[1].children[0].children[2].code == "99010100200103"
    assert levels.count("grid") == 3 * 2 * 2 * 3
    assert shape(city.geometry).bounds == pytest.approx((112.9, 28.1, 113.2, 28.4))
    grid_area = sum(shape(a.geometry).area for a, _ in walk(city) if a.level == "grid")
    assert grid_area == pytest.approx(0.09)


def test_synthetic_city_defaults() -> None:
    city = synthetic_city()
    counts = dict.fromkeys(geography.LEVELS, 0)
    for area, _ in walk(city):
        counts[area.level] += 1
    assert counts == {"city": 1, "district": 2, "street": 4, "community": 4, "grid": 8}


@pytest.mark.parametrize(
    "kwargs",
    [{"districts": 0}, {"streets": 0}, {"communities": 1000}, {"grids": 100}, {"size_deg": 0}],
)
def test_synthetic_city_rejects_bad_arguments(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        synthetic_city(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- random points

L_SHAPE = {
    "type": "Polygon",
    "coordinates": [[[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2], [0, 0]]],
}


def test_random_point_lies_inside_and_is_uniform() -> None:
    rng = random.Random(1)
    geom = shape(L_SHAPE)
    points = [random_point_in(L_SHAPE, rng) for _ in range(3000)]
    assert all(geom.contains(Point(p)) for p in points)
    # The L has three unit squares; each should get about a third of the points.
    right = sum(1 for x, _ in points if x > 1) / len(points)
    top = sum(1 for _, y in points if y > 1) / len(points)
    assert right == pytest.approx(1 / 3, abs=0.04)
    assert top == pytest.approx(1 / 3, abs=0.04)


def test_random_point_is_deterministic_and_works_on_districts(cs: AreaSeed) -> None:
    yuelu = next(d for d in cs.children if d.code == "430104")
    first = [random_point_in(yuelu.geometry, random.Random(5)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    assert shape(yuelu.geometry).contains(Point(first[0]))


def test_random_point_rejects_empty_geometry() -> None:
    flat = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}
    with pytest.raises(ValueError, match="zero-area"):
        random_point_in(flat, random.Random(0))
