// The operator workspace's filters as a URL query, both ways (links from the command screen).
import type { LocationQuery } from "vue-router";

export interface OpsFilters {
  state: string;
  category: string;
  district: string;
  department: string;
  overdue: boolean;
  q: string;
  since: string;
  until: string;
  near: string;
  radius: string;
  sort: string;
}

export const SORTS = ["register_due_at", "-created_at"];
const DEFAULTS: OpsFilters = { state: "queue", category: "", district: "", department: "",
  overdue: false, q: "", since: "", until: "", near: "", radius: "", sort: "register_due_at" };

function text(query: LocationQuery, name: string): string {
  const value = query[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === "string" ? first : "";
}

export function filtersFromQuery(query: LocationQuery): OpsFilters {
  const sort = text(query, "sort");
  const near = text(query, "near");
  return {
    state: text(query, "state") || DEFAULTS.state,
    category: text(query, "category"),
    district: text(query, "district"),
    department: text(query, "department"),
    overdue: ["1", "true"].includes(text(query, "overdue")),
    q: text(query, "q"),
    since: text(query, "since"),
    until: text(query, "until"),
    near: /^-?\d+(\.\d+)?,-?\d+(\.\d+)?$/.test(near) ? near : "",
    radius: /^\d+(\.\d+)?$/.test(text(query, "radius")) ? text(query, "radius") : "",
    sort: SORTS.includes(sort) ? sort : DEFAULTS.sort,
  };
}

/** Only what differs from the defaults, so links stay short. */
export function filtersToQuery(filters: OpsFilters, page = 1): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(filters) as [keyof OpsFilters, string | boolean][]) {
    if (value === DEFAULTS[name] || value === "" || value === false) continue;
    query[name] = value === true ? "1" : String(value).trim();
  }
  if (page > 1) query.page = String(page);
  return query;
}

