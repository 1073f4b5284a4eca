// How the grid pages show times: China Standard Time, with the zone named.
import type { ComposerTranslation } from "vue-i18n";

export function cstTime(iso: string, locale: string, t: ComposerTranslation): string {
  const text = new Date(iso).toLocaleString(locale === "en" ? "en-GB" : "zh-CN", {
    timeZone: "Asia/Shanghai",
    hour12: false,
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
  return t("grid.cst", { time: text });
}

/** Field errors of the API keyed by the form's field: `photos.0` and an upload's `file` → photos. */
export function fieldKey(field: string): string {
  const head = field.split(".")[0] ?? field;
  return head === "file" ? "photos" : head;
}
