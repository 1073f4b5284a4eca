// What the command screen reads besides the case list: compact map points, the trend, the KPI
// report, and the /ops links ("drills") that take a figure to the cases behind it.
import { OPEN_STATES, todayStartCst } from "./api";
import type { LiveCase, Named } from "./live";

export type PointKind = "open" | "overdue" | "closed";

/** GET /api/v1/overview/points: rows of [number, lon, lat, kind index]. */
export interface MapPoints {
  columns: string[];
  kinds: PointKind[];
  points: [number, number, number, number][];
  open: number;
  closed: number;
  truncated: boolean;
  cursor: string | null;
}

export interface TrendSeries {
  kind: "category" | "uncategorised" | "other";
  code: string | null;
  name_zh: string | null;
  name_en: string | null;
  counts: number[];
  total: number;
}

export interface Trend { days: string[]; since: string; until: string; series: TrendSeries[] }

/** GET /api/v1/overview/performance: the figures of /kpi, in total and per department. */
export interface OnTime extends Partial<Named> {
  handled: number;
  on_time: number;
  on_time_rate: number | null;
  rating_count: number;
  satisfaction: number | null;
}

export interface Performance { since: string; until: string; total: OnTime; departments: OnTime[] }

/** Query of /ops (see OpsView): every value a string. */
export type Drill = Record<string, string>;

const CLOSED = new Set(["closed", "evaluated", "rejected", "merged", "cancelled"]);

export function pointKind(item: Pick<LiveCase, "state" | "sla_status">): PointKind {
  if (CLOSED.has(item.state)) return "closed";
  return item.sla_status === "overdue" ? "overdue" : "open";
}

export function isOpen(state: string): boolean {
  return OPEN_STATES.includes(state);
}

/** Midnight of a city day ("2026-03-02") and of the day after, as ISO 8601 with +08:00. */
export function cityDay(day: string): { since: string; until: string } {
  const next = new Date(`${day}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return { since: `${day}T00:00:00+08:00`, until: `${next.toISOString().slice(0, 10)}T00:00:00+08:00` };
}

/** Where each KPI tile leads: the cases its figure counts (or, for rates, measures). */
export function kpiDrills(report: Performance | undefined, now = new Date()): Record<string, Drill> {
  const period: Drill = report ? { since: report.since, until: report.until } : {};
  return {
    today: { state: "all", since: todayStartCst(now), sort: "-created_at" },
    open: { state: "open", sort: "-created_at" },
    overdue: { state: "open", overdue: "1", sort: "-created_at" },
    "on-time": { state: "all", ...period, sort: "-created_at" },
    satisfaction: { state: "evaluated", ...period, sort: "-created_at" },
  };
}
