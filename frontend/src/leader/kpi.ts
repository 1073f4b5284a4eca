// The leader's dashboard (领导驾驶舱): the KPI report's types, its columns, the period presets
// in China Standard Time and the authenticated file download.
import { ApiError, authHeaders } from "../api";

export type GroupBy = "department" | "category" | "district";
export const GROUPINGS: GroupBy[] = ["department", "category", "district"];

export interface Durations {
  count: number;
  median_working_hours: number | null;
  p90_working_hours: number | null;
  median_hours: number | null;
  p90_hours: number | null;
}

export interface Figures {
  reported: number;
  closed: number;
  by_state: Record<string, number>;
  registration: Durations;
  dispatch: Durations;
  handling: Durations;
  handled: number;
  on_time: number;
  on_time_rate: number | null;
  dispatched: number;
  returned: number;
  return_rate: number | null;
  verified: number;
  verify_failures: number;
  verification_pass_rate: number | null;
  reopened: number;
  reopen_rate: number | null;
  rating_count: number;
  satisfaction: number | null;
  overdue_open: number;
}

export interface KpiRow {
  id: string | null;
  code: string | null;
  name_zh: string;
  name_en: string;
  figures: Figures;
}

export interface KpiReport {
  since: string;
  until: string;
  as_of: string;
  group_by: string;
  timezone: string;
  total: KpiRow;
  rows: KpiRow[];
}

// --- columns -------------------------------------------------------------------------------

export type Kind = "cases" | "times" | "ratings" | "working_hours" | "hours" | "rate" | "score";
export interface Column { key: string; kind: Kind }
export type Section = "overview" | "durations" | "states";

const STAGES = ["registration", "dispatch", "handling"] as const;
export const STATES = ["reported", "registered", "rejected", "dispatched", "returned", "accepted",
  "handled", "verified", "closed", "evaluated", "merged", "cancelled"];

// The same figures, in the same order, as the Excel and PDF exports.
export const SECTIONS: Record<Section, Column[]> = {
  overview: [
    { key: "reported", kind: "cases" },
    { key: "closed", kind: "cases" },
    { key: "handled", kind: "cases" },
    { key: "on_time", kind: "cases" },
    { key: "on_time_rate", kind: "rate" },
    { key: "dispatched", kind: "cases" },
    { key: "returned", kind: "cases" },
    { key: "return_rate", kind: "rate" },
    { key: "verified", kind: "cases" },
    { key: "verify_failures", kind: "times" },
    { key: "verification_pass_rate", kind: "rate" },
    { key: "reopened", kind: "cases" },
    { key: "reopen_rate", kind: "rate" },
    { key: "rating_count", kind: "ratings" },
    { key: "satisfaction", kind: "score" },
    { key: "overdue_open", kind: "cases" },
  ],
  durations: STAGES.flatMap((stage): Column[] => [
    { key: `${stage}_count`, kind: "cases" },
    { key: `${stage}_median_working_hours`, kind: "working_hours" },
    { key: `${stage}_p90_working_hours`, kind: "working_hours" },
    { key: `${stage}_median_hours`, kind: "hours" },
    { key: `${stage}_p90_hours`, kind: "hours" },
  ]),
  states: STATES.map((state): Column => ({ key: `state_${state}`, kind: "cases" })),
};

export type Flat = Record<string, number | null>;

/** The figures by column key: durations as `<stage>_<figure>`, states as `state_<name>`. */
export function flatten(figures: Figures): Flat {
  const flat: Flat = {};
  for (const [name, value] of Object.entries(figures)) {
    if (name === "by_state") {
      for (const [state, count] of Object.entries(value as Record<string, number>)) {
        flat[`state_${state}`] = count;
      }
    } else if (value !== null && typeof value === "object") {
      for (const [key, figure] of Object.entries(value as Durations)) flat[`${name}_${key}`] = figure;
    } else {
      flat[name] = value as number | null;
    }
  }
  return flat;
}

// --- the period ----------------------------------------------------------------------------

export type Preset = "today" | "week" | "month" | "last30" | "year" | "custom";
export const PRESETS: Preset[] = ["today", "week", "month", "last30", "year", "custom"];
const CST_OFFSET_MS = 8 * 3600_000; // China Standard Time: UTC+8, no daylight saving

export interface Period { since: string; until: string }

/** A calendar day in China Standard Time as `YYYY-MM-DD` (month 0-based, overflow allowed). */
function day(year: number, month: number, date: number): string {
  return new Date(Date.UTC(year, month, date)).toISOString().slice(0, 10);
}

/** Midnight at the start of a `YYYY-MM-DD` day in China Standard Time. */
export function cstMidnight(isoDay: string): string {
  return `${isoDay}T00:00:00+08:00`;
}

/** Today in China Standard Time as `YYYY-MM-DD`. */
export function todayCst(now: Date = new Date()): string {
  return new Date(now.getTime() + CST_OFFSET_MS).toISOString().slice(0, 10);
}

/** The day after a `YYYY-MM-DD` day. */
export function nextDay(isoDay: string): string {
  const [y, m, d] = isoDay.split("-").map(Number);
  return day(y, m - 1, d + 1);
}

/** `[since, until)` of a preset at `now`, whole days in China Standard Time. */
export function presetPeriod(preset: Exclude<Preset, "custom">, now: Date = new Date()): Period {
  const cst = new Date(now.getTime() + CST_OFFSET_MS);
  const [y, m, d] = [cst.getUTCFullYear(), cst.getUTCMonth(), cst.getUTCDate()];
  const monday = d - ((cst.getUTCDay() + 6) % 7);
  const [from, to] = {
    today: [day(y, m, d), day(y, m, d + 1)],
    week: [day(y, m, monday), day(y, m, monday + 7)],
    month: [day(y, m, 1), day(y, m + 1, 1)],
    last30: [day(y, m, d - 29), day(y, m, d + 1)],
    year: [day(y, 0, 1), day(y + 1, 0, 1)],
  }[preset];
  return { since: cstMidnight(from), until: cstMidnight(to) };
}

/** `[from 00:00, the day after to 00:00)` of an inclusive custom range of days. */
export function customPeriod(from: string, to: string): Period {
  return { since: cstMidnight(from), until: cstMidnight(nextDay(to)) };
}

/** A moment from the API as `YYYY-MM-DD HH:mm` in China Standard Time. */
export function cstText(moment: string): string {
  const shifted = new Date(new Date(moment).getTime() + CST_OFFSET_MS).toISOString();
  return `${shifted.slice(0, 10)} ${shifted.slice(11, 16)}`;
}

/** The report's period in words: inclusive days when whole days, else from–to minutes. */
export function periodText(report: Pick<KpiReport, "since" | "until">, to: string): string {
  const start = cstText(report.since);
  const endMoment = new Date(new Date(report.until).getTime() - 1);
  const lastDay = todayCst(endMoment);
  const end = cstText(report.until);
  if (start.endsWith("00:00") && end.endsWith("00:00")) {
    const first = start.slice(0, 10);
    return first === lastDay ? first : `${first} ${to} ${lastDay}`;
  }
  return `${start} ${to} ${end}`;
}

// --- downloads -----------------------------------------------------------------------------

/** The file name from a Content-Disposition header, preferring RFC 5987 `filename*`. */
export function dispositionName(header: string | null, fallback: string): string {
  if (!header) return fallback;
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (utf8) {
    try {
      return decodeURIComponent(utf8[1]);
    } catch {
      // a malformed escape: fall back to the plain name
    }
  }
  const plain = /filename="([^"]+)"/i.exec(header);
  return plain ? plain[1] : fallback;
}

/** Fetch a protected file with the bearer token and hand it to the browser as a download. */
export async function download(path: string, params: Record<string, string>, fallback: string)
  : Promise<string> {
  const response = await fetch(`/api/v1${path}?${new URLSearchParams(params)}`, { headers: authHeaders() });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    const error = body?.error ?? {};
    throw new ApiError(response.status, error.message ?? response.statusText, error.fields ?? []);
  }
  const name = dispositionName(response.headers.get("Content-Disposition"), fallback);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}
