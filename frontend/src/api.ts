// A small client for the platform's REST API; the bearer token lives in sessionStorage.
import { i18n } from "./i18n";

const TOKEN_KEY = "cityops.token";

export interface FieldError {
  field: string;
  message: string;
  code: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: FieldError[],
  ) {
    super(message);
  }
}

export interface Me {
  user: { username: string; display_name?: string; role: string };
  permissions: string[];
}

export interface CaseItem {
  id: string;
  number: string;
  title: string;
  state: string;
  location: { lon: number; lat: number };
  due: { status: string };
}

export interface Page<T> {
  items: T[];
  total: number;
}

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string): void => sessionStorage.setItem(TOKEN_KEY, value),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

async function parse<T>(response: Response): Promise<T> {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = body?.error ?? {};
    throw new ApiError(response.status, error.message ?? response.statusText, error.fields ?? []);
  }
  return body as T;
}

export async function get<T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) query.append(name, item);
  }
  const headers = authHeaders();
  const suffix = query.size ? `?${query}` : "";
  return parse<T>(await fetch(`/api/v1${path}${suffix}`, { headers }));
}

/** The token, and the page's language so that the server words its errors in it. */
export function authHeaders(): Record<string, string> {
  const bearer = token.get();
  const headers: Record<string, string> = { "Accept-Language": i18n.global.locale.value };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  return headers;
}

export async function post<T>(path: string, body: unknown = {}): Promise<T> {
  const headers = { ...authHeaders(), "Content-Type": "application/json" };
  const response = await fetch(`/api/v1${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  return parse<T>(response);
}

/** A protected file (a photo) as an object URL; the caller revokes it. */
export async function objectUrl(path: string): Promise<string> {
  const response = await fetch(`/api/v1${path}`, { headers: authHeaders() });
  if (!response.ok) await parse(response);
  return URL.createObjectURL(await response.blob());
}

/** May this user work the case queue (register or dispatch)? */
/** Does this user hold the permission? An administrator's `*` holds them all. */
export function may(me: Me | undefined, permission: string): boolean {
  const perms = me?.permissions ?? [];
  return perms.includes("*") || perms.includes(permission);
}

export function mayWorkCases(me: Me | undefined): boolean {
  return may(me, "cases.register") || may(me, "cases.dispatch");
}

export async function login(username: string, password: string): Promise<void> {
  const form = new URLSearchParams({ username, password });
  const response = await fetch("/api/v1/auth/token", { method: "POST", headers: authHeaders(), body: form });
  const body = await parse<{ access_token: string }>(response);
  token.set(body.access_token);
}

export const OPEN_STATES = [
  "reported", "registered", "dispatched", "returned", "accepted", "handled", "verified",
];

/** Midnight today in China Standard Time (UTC+8, no daylight saving), as ISO 8601. */
export function todayStartCst(now: Date = new Date()): string {
  const cst = new Date(now.getTime() + 8 * 3600_000);
  const day = cst.toISOString().slice(0, 10);
  return `${day}T00:00:00+08:00`;
}

/** Upload one photo (multipart field `file`); the platform answers its id. */
export async function upload(file: Blob, filename = "photo"): Promise<{ id: string }> {
  const body = new FormData();
  body.append("file", file, filename);
  const response = await fetch("/api/v1/uploads", { method: "POST", headers: authHeaders(), body });
  return parse<{ id: string }>(response);
}

/** May this user see the command screen (cases and indicators)? */
export function mayScreen(me: Me | undefined): boolean {
  return may(me, "cases.read") && may(me, "kpi.read");
}

/** Where a user lands after logging in: administrators on the admin pages, department
 *  handlers on their department's queue, grid workers and citizens on their phone pages. */
export function homeFor(me: Me | undefined): string {
  if (mayAdmin(me)) return "/admin";
  if (me?.user.role === "handler") return "/dept";
  if (me?.user.role === "gridworker") return "/m/grid";
  if (me?.user.role === "citizen" || !mayScreen(me)) return "/m/report";
  if (me?.user.role === "leader") return "/leader";
  return "/screen";
}

/** A random id for one report form, so a resend cannot make a second case. */
export function newClientRef(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  const bytes = Array.from({ length: 16 }, () => Math.floor(Math.random() * 256));
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Any method with an optional JSON body and query; a 204 answers undefined. */
export async function send<T>(
  method: "PUT" | "PATCH" | "DELETE", path: string, body?: unknown, params: Record<string, string> = {},
): Promise<T> {
  const headers: Record<string, string> = authHeaders();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const query = new URLSearchParams(params);
  const suffix = query.size ? `?${query}` : "";
  const init: RequestInit = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  const response = await fetch(`/api/v1${path}${suffix}`, init);
  if (response.status === 204) return undefined as T;
  return parse<T>(response);
}

/** May this user use the administration pages (users, departments, catalogue, calendar)? */
export function mayAdmin(me: Me | undefined): boolean {
  return me?.user.role === "admin";
}
