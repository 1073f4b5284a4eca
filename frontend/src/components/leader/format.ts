import type { Kind } from "../../leader/kpi";

/** One figure as text: counts grouped, rates in percent, hours and scores with decimals. */
export function formatFigure(value: number | null | undefined, kind: Kind, locale: string,
  none: string): string {
  if (value === null || value === undefined) return none;
  switch (kind) {
    case "rate":
      return `${(value * 100).toFixed(1)}%`;
    case "working_hours":
    case "hours":
      return value.toFixed(1);
    case "score":
      return value.toFixed(2);
    default:
      return value.toLocaleString(locale);
  }
}
