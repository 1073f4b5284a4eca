// The dashboard's chart options: on-time ranking, volume, satisfaction, one bar per group.
import type { ChartOption } from "../components/OptionChart.vue";
import type { KpiRow } from "./kpi";

const TEXT = "#9fb7cf";
const AXIS = "#1f4f80";
const SPLIT = "#16365a";
const GOOD = "#66bb6a";
const FAIR = "#ffb300";
const POOR = "#ff5252";

export interface Named { row: KpiRow; name: string }

function band(value: number, good: number, fair: number): string {
  if (value >= good) return GOOD;
  return value >= fair ? FAIR : POOR;
}

function shortName(name: string): string {
  return name.length > 12 ? `${name.slice(0, 11)}…` : name;
}

/** The groups a chart shows at once; more scroll (a slider beside the axis, or the wheel). */
const VISIBLE = 10;

function scroller(count: number, axis: "xAxisIndex" | "yAxisIndex"): ChartOption["dataZoom"] {
  if (count <= VISIBLE) return [];
  const slider = axis === "yAxisIndex"
    ? { right: 0, width: 12 } : { bottom: 0, height: 12 };
  return [
    { type: "inside", [axis]: 0, startValue: 0, endValue: VISIBLE - 1, zoomLock: true },
    { type: "slider", [axis]: 0, startValue: 0, endValue: VISIBLE - 1, zoomLock: true,
      showDetail: false, brushSelect: false, textStyle: { color: TEXT }, ...slider },
  ];
}

/** Horizontal bars of one figure per group, best at the top; groups without it left out. */
function ranking(
  groups: Named[],
  value: (row: KpiRow) => number | null,
  color: (value: number) => string,
  axis: { max: number; format: (v: number) => string },
  seriesName: string,
): ChartOption {
  const ranked = groups
    .map((g) => ({ name: g.name, value: value(g.row) }))
    .filter((g): g is { name: string; value: number } => g.value !== null)
    .sort((a, b) => b.value - a.value);
  const scrolls = ranked.length > VISIBLE;
  return {
    grid: { left: 8, right: scrolls ? 64 : 48, top: 8, bottom: 8, containLabel: true },
    dataZoom: scroller(ranked.length, "yAxisIndex"),
    tooltip: { trigger: "item", valueFormatter: (v) => axis.format(Number(v)) },
    xAxis: {
      type: "value", max: axis.max, axisLabel: { color: TEXT, formatter: axis.format },
      splitLine: { lineStyle: { color: SPLIT } },
    },
    yAxis: {
      type: "category", inverse: true, data: ranked.map((g) => g.name),
      axisLabel: { color: TEXT, formatter: shortName }, axisLine: { lineStyle: { color: AXIS } },
    },
    series: [{
      type: "bar", name: seriesName, barMaxWidth: 18,
      data: ranked.map((g) => ({ value: g.value, itemStyle: { color: color(g.value) } })),
      label: { show: true, position: "right", color: "#d8e6f5",
        formatter: (p) => axis.format(Number(p.value)) },
    }],
  };
}

export function onTimeRanking(groups: Named[], seriesName: string): ChartOption {
  return ranking(groups, (row) => row.figures.on_time_rate, (v) => band(v, 0.9, 0.75),
    { max: 1, format: (v) => `${(v * 100).toFixed(0)}%` }, seriesName);
}

export function satisfactionRanking(groups: Named[], seriesName: string): ChartOption {
  return ranking(groups, (row) => row.figures.satisfaction, (v) => band(v, 4.5, 4),
    { max: 5, format: (v) => v.toFixed(1) }, seriesName);
}

/** Reported, closed and overdue open cases per group, side by side. */
export function volume(groups: Named[], names: { reported: string; closed: string; overdue: string })
  : ChartOption {
  const series = (name: string, color: string, pick: (row: KpiRow) => number) => ({
    type: "bar" as const, name, barMaxWidth: 14, itemStyle: { color },
    data: groups.map((g) => pick(g.row)),
  });
  return {
    grid: { left: 8, right: 8, top: 32, bottom: groups.length > VISIBLE ? 24 : 8, containLabel: true },
    dataZoom: scroller(groups.length, "xAxisIndex"),
    legend: { top: 0, textStyle: { color: TEXT } },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    xAxis: {
      type: "category", data: groups.map((g) => g.name),
      axisLabel: { color: TEXT, interval: 0, rotate: groups.length > 4 ? 30 : 0, formatter: shortName },
      axisLine: { lineStyle: { color: AXIS } },
    },
    yAxis: {
      type: "value", minInterval: 1, axisLabel: { color: TEXT },
      splitLine: { lineStyle: { color: SPLIT } },
    },
    series: [
      series(names.reported, "#29b6f6", (row) => row.figures.reported),
      series(names.closed, GOOD, (row) => row.figures.closed),
      series(names.overdue, POOR, (row) => row.figures.overdue_open),
    ],
  };
}
