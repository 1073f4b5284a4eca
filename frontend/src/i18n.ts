import { createI18n } from "vue-i18n";

const LOCALE_KEY = "cityops.locale";
export type Locale = "zh-CN" | "en";
interface Messages { [key: string]: string | Messages }

// Each part of the front end keeps its strings in locales/<part>/<locale>.json; the parts'
// top-level sections are merged into one catalogue per locale.
const files = import.meta.glob<Messages>("./locales/*/*.json", { eager: true, import: "default" });
const zhCN: Messages = {};
const en: Messages = {};
for (const [path, sections] of Object.entries(files)) {
  Object.assign(path.endsWith("/en.json") ? en : zhCN, sections);
}

function initialLocale(): Locale {
  return localStorage.getItem(LOCALE_KEY) === "en" ? "en" : "zh-CN";
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: "zh-CN",
  messages: { "zh-CN": zhCN, en },
});

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  localStorage.setItem(LOCALE_KEY, locale);
  document.documentElement.lang = locale;
}
