import type { FeatureCollection } from "geojson";
import { LngLatBounds } from "maplibre-gl";

/** The bounding box of every coordinate in a GeoJSON collection (undefined when empty). */
export function extent(collection: FeatureCollection): LngLatBounds | undefined {
  const bounds = new LngLatBounds();
  const visit = (coords: unknown): void => {
    if (typeof (coords as number[])[0] === "number") bounds.extend(coords as [number, number]);
    else for (const inner of coords as unknown[]) visit(inner);
  };
  for (const feature of collection.features) {
    if ("coordinates" in feature.geometry) visit(feature.geometry.coordinates);
  }
  return bounds.isEmpty() ? undefined : bounds;
}
