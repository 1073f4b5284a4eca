"""GeoJSON helpers and a point-in-area index (shapely STRtree), WGS84 lon/lat throughout."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shapely import STRtree
from shapely.geometry import Point, mapping, shape
from shapely.geometry.base import BaseGeometry

from cityops.core.errors import invalid
from cityops.core.i18n import text

POLYGON_TYPES = ("Polygon", "MultiPolygon")


def parse_polygon(geojson: dict[str, Any], field: str = "geometry") -> BaseGeometry:
    """Parse a GeoJSON (Multi)Polygon into a valid shapely geometry, or raise a field error."""
    if not isinstance(geojson, dict) or geojson.get("type") not in POLYGON_TYPES:
        raise invalid(field, "must be a GeoJSON Polygon or MultiPolygon")
    try:
        geometry = shape(geojson)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise invalid(field, text("invalid GeoJSON coordinates: {error}", error=str(exc))) from None
    if geometry.is_empty or not geometry.is_valid:
        raise invalid(field, "polygon is empty or self-intersecting")
    minx, miny, maxx, maxy = geometry.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise invalid(field, "coordinates must be WGS84 longitude/latitude")
    return geometry


def to_geojson(geometry: BaseGeometry) -> dict[str, Any]:
    return dict(mapping(geometry))


def point_geojson(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


@dataclass(frozen=True)
class IndexedArea:
    id: Any
    path: str
    level: str
    depth: int
    geometry: BaseGeometry


class AreaIndex:
    """Finds the areas containing a point; the deepest match is the finest area."""

    def __init__(self, areas: Iterable[IndexedArea]) -> None:
        self._areas: Sequence[IndexedArea] = list(areas)
        self._tree = STRtree([area.geometry for area in self._areas])

    def __len__(self) -> int:
        return len(self._areas)

    def containing(self, lon: float, lat: float) -> list[IndexedArea]:
        """All areas containing the point, outermost first."""
        point = Point(lon, lat)
        hits = self._tree.query(point, predicate="intersects")
        found = [self._areas[int(i)] for i in hits]
        return sorted(found, key=lambda area: area.depth)


class CachedIndex:
    """A lazily built AreaIndex, rebuilt after ``invalidate()`` (areas change rarely)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: AreaIndex | None = None

    def get(self, build: Any) -> AreaIndex:
        with self._lock:
            if self._index is None:
                self._index = AreaIndex(build())
            return self._index

    def invalidate(self) -> None:
        with self._lock:
            self._index = None
