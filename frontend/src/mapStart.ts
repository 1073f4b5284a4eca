// What the command screen's map needs before it can draw, started while the page loads its
// data: MapLibre's worker (created and its script fetched) and the area boundaries.
import type { FeatureCollection } from "geojson";
import { prewarm, setWorkerUrl } from "maplibre-gl";
import workerUrl from "maplibre-gl/dist/maplibre-gl-worker.mjs?url";

const LEVELS = ["district", "street", "grid"] as const;
let boundaries: Promise<FeatureCollection[]> | undefined;

async function level(name: string): Promise<FeatureCollection> {
  const response = await fetch(`/api/v1/areas.geojson?level=${name}`);
  if (!response.ok) throw new Error(`areas.geojson?level=${name}: ${response.status}`);
  return (await response.json()) as FeatureCollection;
}

/** The district, street and grid boundaries, fetched once per page load (asked again after a
 * failure). */
export function areaLayers(): Promise<FeatureCollection[]> {
  boundaries ??= Promise.all(LEVELS.map(level)).catch((error: unknown) => {
    boundaries = undefined;
    throw error;
  });
  return boundaries;
}

/** Start the map's slow parts now; the map itself is made when its data is there. */
export function startMap(): void {
  setWorkerUrl(workerUrl); // the bundler serves the worker as a file of its own
  prewarm();
  void areaLayers().catch(() => undefined);
}
