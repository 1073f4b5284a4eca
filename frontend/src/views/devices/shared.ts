// Types and helpers shared by the perception pages.
import { useI18n } from "vue-i18n";

export interface Ref3 { code: string; name_zh: string; name_en: string }
export interface Metric extends Ref3 { unit: string; min: number; max: number; common: boolean }
export interface DeviceType extends Ref3 { department_kind: string; interval_seconds: number; metrics: Metric[] }
export interface Health { state: "online" | "offline" | "never_seen"; last_seen_at: string | null; offline_after: string | null }
export interface Device {
  id: string; type: Ref3; name: string; status: string; installed_on: string | null;
  location: { lon: number; lat: number; address: string | null; district: Ref3 | null; street: Ref3 | null };
  department: Ref3 | null; health: Health;
}
export interface LatestValue { value: number; ts: string }
export interface Latest { device_id: string; values: Record<string, LatestValue> }
export interface Level { severity: string; above: number | null; below: number | null }
export interface Rule {
  id: string; code: string; name_zh: string; name_en: string; device_type: string; kind: string;
  metric: string | null; levels: Level[]; deadband: number; for_seconds: number; window_seconds: number;
  silence_seconds: number; case_severity: string | null; case_category: string | null; enabled: boolean;
  overrides: number;
}
export interface Alarm {
  id: string; rule_code: string; rule_name_zh: string; rule_name_en: string; kind: string; metric: string | null;
  device_id: string; device_type: string; device_name: string; department_code: string | null; state: string;
  severity: string; raised_at: string; last_at: string; first_value: number | null; last_value: number | null;
  peak_value: number | null; count: number; acknowledged_at: string | null; acknowledged_by: string | null;
  cleared_at: string | null; cleared_by: string | null; clear_note: string | null;
  case: { id: string | null; pending: boolean; error: string | null }; allowed_actions: string[];
}
export interface AlarmDetail extends Alarm {
  readings: { ts: string; value: number | null; reading: number | null }[];
  history: { id: string; at: string; action: string; from_state: string | null; to_state: string;
    severity: string; actor_name: string; note: string | null }[];
}

export const SEVERITIES = ["info", "warning", "major", "critical"];
export const KINDS = ["threshold", "sustained", "rate", "no_data"];

/** Names in the current language; times in China Standard Time with the zone; numbers. */
export function useNames() {
  const { locale } = useI18n();
  function name(item: Ref3 | null | undefined): string {
    if (!item) return "—";
    return locale.value === "en" ? item.name_en : item.name_zh;
  }
  function when(value: string | null | undefined): string {
    if (!value) return "—";
    const text = new Date(value).toLocaleString(locale.value, {
      timeZone: "Asia/Shanghai", hour12: false, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
    return `${text} (UTC+8)`;
  }
  function num(value: number | null | undefined): string {
    if (value === null || value === undefined) return "—";
    return Number.isInteger(value) ? String(value) : value.toFixed(2);
  }
  return { name, when, num };
}
