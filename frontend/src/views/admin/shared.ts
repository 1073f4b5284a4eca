// Types and helpers shared by the administration panels.
import { reactive, ref } from "vue";
import { useI18n } from "vue-i18n";
import { useRouter } from "vue-router";
import { ApiError, token } from "../../api";

export interface Named { code: string; name_zh: string; name_en: string }
export interface Area extends Named { id: string; level: string; path: string; parent_id: string | null }
export interface Department extends Named {
  id: string; kind: string; area_id: string; phone: string | null; active: boolean;
}
export interface PageOf<T> { items: T[]; total: number; page: number; page_size: number }

export const ROLES = ["admin", "operator", "dispatcher", "handler", "gridworker", "citizen", "leader",
  "dataofficer", "integration"];
/** Roles that must have a department, and roles that must have an area (org/roles.py). */
export const DEPARTMENT_ROLES = ["handler"];
export const AREA_ROLES = ["gridworker"];

/** Names in the current language, times in China Standard Time with the zone. */
export function useFormat() {
  const { locale } = useI18n();
  function name(item: Named | null | undefined): string {
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
  return { name, when };
}

/** A form's field errors from the API, a general message when none names a field, a busy flag. */
export function useForm() {
  const router = useRouter();
  const errors = reactive<Record<string, string>>({});
  const busy = ref(false);
  function clear(): void {
    for (const key of Object.keys(errors)) delete errors[key];
  }
  /** Run a request; on failure show its field errors and keep whatever the user typed. */
  async function run(task: () => Promise<void>): Promise<boolean> {
    clear();
    busy.value = true;
    try {
      await task();
      return true;
    } catch (error) {
      if (!(error instanceof ApiError)) {
        errors.general = error instanceof Error ? error.message : String(error);
        return false;
      }
      if (error.status === 401) {
        token.clear();
        await router.push("/login");
        return false;
      }
      for (const field of error.fields) errors[field.field] = field.message;
      if (!error.fields.length) errors.general = error.message;
      return false;
    } finally {
      busy.value = false;
    }
  }
  return { errors, busy, clear, run };
}

/** Areas sorted by path, each labelled with its indentation by level (for select lists). */
export function areaLabel(area: Area, name: (item: Named) => string): string {
  const depth = area.path.split("/").length - 2;
  return `${"\u3000".repeat(Math.max(0, depth))}${name(area)} (${area.code})`;
}
