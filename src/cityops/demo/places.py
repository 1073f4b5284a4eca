"""Where things happen in the demo city: grids of the area tree, real road names of Changsha,
and spots (a point plus the words people use for it: "五一大道128号附近")."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from cityops.demo.geography import AreaSeed, random_point_in

# Real roads of the six central districts (a road may cross several; each is listed once).
ROADS: dict[str, tuple[str, ...]] = {
    "430102": (
        "五一大道",
        "芙蓉中路",
        "韶山北路",
        "八一路",
        "解放东路",
        "人民中路",
        "车站北路",
        "远大一路",
        "蔡锷中路",
        "晚报大道",
        "东二环一段",
        "浏城桥",
    ),
    "430103": (
        "劳动西路",
        "书院路",
        "芙蓉南路",
        "湘江中路",
        "黄兴南路",
        "坡子街",
        "南二环",
        "新姚路",
        "城南西路",
        "雀园路",
        "友谊路",
        "解放西路",
    ),
    "430104": (
        "麓山南路",
        "岳麓大道",
        "枫林三路",
        "潇湘大道",
        "桐梓坡路",
        "金星中路",
        "银盆南路",
        "西二环",
        "麓山路",
        "梅溪湖路",
        "麓谷大道",
        "望城坡路",
    ),
    "430105": (
        "湘江北路",
        "芙蓉北路",
        "三一大道",
        "营盘路",
        "中山路",
        "湘雅路",
        "北二环",
        "福城路",
        "德雅路",
        "东风路",
        "新河路",
        "洪山路",
    ),
    "430111": (
        "韶山中路",
        "万家丽路",
        "劳动东路",
        "人民东路",
        "香樟路",
        "曲塘路",
        "东二环二段",
        "车站南路",
        "树木岭路",
        "湘府东路",
        "井湾路",
        "圭塘路",
    ),
    "430112": (
        "雷锋大道",
        "旺旺路",
        "金星北路",
        "普瑞大道",
        "郭亮中路",
        "银星路",
        "马桥河路",
        "月亮岛路",
        "黄金大道",
    ),
}
LANDMARKS = (
    "公交站旁",
    "地铁站出口",
    "菜市场门口",
    "农贸市场旁",
    "小学门口",
    "人行天桥下",
    "加油站旁",
    "超市门口",
    "医院东门",
    "公园北门",
    "幼儿园对面",
    "银行网点旁",
)
_COMPOUNDS = ("苑", "小区", "新村", "花园", "家园")
# Relative report volume per district: denser central districts report more.
_DISTRICT_WEIGHT = {"430104": 1.2, "430111": 1.3, "430112": 0.6}
_JITTER_DEGREES = 0.0003  # about 30 m: a second report of the same problem


@dataclass(frozen=True)
class GridInfo:
    """One 网格 with the names of the areas above it."""

    code: str
    district_code: str
    district_name: str
    street_name: str
    community_stem: str
    geometry: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Spot:
    """A point in a grid and the words for it."""

    lon: float
    lat: float
    grid: GridInfo
    road: str
    place: str
    community: str

    @property
    def address(self) -> str:
        return f"{self.grid.district_name}{self.grid.street_name}{self.place}"


class CityMap:
    """The grids of the city, by district, and random spots in them."""

    def __init__(self, city: AreaSeed) -> None:
        self.by_district: dict[str, list[GridInfo]] = {}
        self.grids: dict[str, GridInfo] = {}
        for district in city.children:
            for street in district.children:
                for community in street.children:
                    for grid in community.children:
                        info = GridInfo(
                            grid.code,
                            district.code,
                            district.name_zh,
                            street.name_zh,
                            community.name_zh.removesuffix("社区"),
                            grid.geometry,
                        )
                        self.by_district.setdefault(district.code, []).append(info)
                        self.grids[grid.code] = info
        self._shapes: dict[str, BaseGeometry] = {}

    @property
    def district_codes(self) -> list[str]:
        return list(self.by_district)

    def random_grid(self, rng: random.Random, district_code: str | None = None) -> GridInfo:
        if district_code is None:
            codes = self.district_codes
            weights = [_DISTRICT_WEIGHT.get(code, 1.0) for code in codes]
            district_code = rng.choices(codes, weights)[0]
        return rng.choice(self.by_district[district_code])

    def spot_in(self, grid: GridInfo, rng: random.Random) -> Spot:
        lon, lat = random_point_in(grid.geometry, rng)
        return self._describe(grid, lon, lat, rng)

    def near(self, spot: Spot, rng: random.Random) -> Spot:
        """Another report of the same problem: a few metres away, still in the same grid."""
        lon = spot.lon + rng.uniform(-_JITTER_DEGREES, _JITTER_DEGREES)
        lat = spot.lat + rng.uniform(-_JITTER_DEGREES, _JITTER_DEGREES)
        if not self._shape(spot.grid).contains(Point(lon, lat)):
            lon, lat = spot.lon, spot.lat
        return Spot(lon, lat, spot.grid, spot.road, spot.place, spot.community)

    def _shape(self, grid: GridInfo) -> BaseGeometry:
        if grid.code not in self._shapes:
            self._shapes[grid.code] = shape(grid.geometry)
        return self._shapes[grid.code]

    def _describe(self, grid: GridInfo, lon: float, lat: float, rng: random.Random) -> Spot:
        roads = ROADS.get(grid.district_code) or ROADS["430102"]
        road, other = rng.sample(roads, 2)
        community = grid.community_stem + rng.choice(_COMPOUNDS)
        place = rng.choice(
            (
                f"{road}{rng.randint(1, 400)}号附近",
                f"{road}与{other}交叉口",
                f"{community}{rng.randint(1, 30)}栋楼下",
                f"{road}{rng.choice(LANDMARKS)}",
            )
        )
        return Spot(lon, lat, grid, road, place, community)
