// 热点问题: where a hot spot leads, for its list entry and its circle on the command screen map.
import type { Hotspot } from "./components/HotspotList.vue";

/** The operations desk on a hot spot's reports: its category around its centre since its first
 * report, the latest report selected. */
export function hotspotDrill(item: Hotspot): Record<string, string> {
  return {
    state: "all",
    category: item.category.code,
    near: `${item.lon.toFixed(6)},${item.lat.toFixed(6)}`,
    radius: "500",
    since: item.first_at,
    case: String(item.case_numbers[item.case_numbers.length - 1]),
  };
}
