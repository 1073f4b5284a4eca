// State shared by the grid worker's pages: who is logged in, whether the phone is online, the
// outbox, and sending it — in order, once at a time (also across tabs), whenever the
// connection comes back, on start, and after each new item.
import { reactive } from "vue";
import { ApiError, get, post, token, upload, type Me } from "../api";
import * as outbox from "./outbox";
import type { OutboxItem, SendError } from "./outbox";

export interface SentCase {
  id: string;
  number: number;
  title: string;
  state: string;
}

export type Outcome =
  | { kind: "sent"; result: SentCase }
  | { kind: "failed"; error: SendError }
  | { kind: "waiting" };

export interface SentNote {
  kind: OutboxItem["kind"];
  number: number;
  caseId: string;
  passed?: boolean;
  at: string;
}

const API_CACHE = "cityops-grid-api";
const OWNER_KEY = "cityops.grid.owner";
const ME_KEY = "cityops.grid.me";
/** The reads the grid pages start with (the tasks page's lists among them). */
export const TO_VERIFY = { state: "handled", sort: "updated_at", page_size: "100" };
export const OTHER_OPEN = {
  state: ["reported", "registered", "dispatched", "returned", "accepted", "verified"],
  sort: "-created_at",
  page_size: "20",
};
const OFFLINE_READS: [string, Record<string, string | string[]>][] = [
  ["/me", {}],
  ["/categories", {}],
  ["/areas.geojson", { level: "district" }],
  ["/cases", TO_VERIFY],
  ["/cases", OTHER_OPEN],
];
const RETRY_MS = 30_000;

export const grid = reactive({
  me: undefined as Me | undefined,
  online: navigator.onLine,
  items: [] as OutboxItem[],
  sending: false,
  /** The server refused the token while sending: the outbox waits for a new login. */
  needsLogin: false,
  /** What this session sent from the outbox, newest first. */
  sent: [] as SentNote[],
  /** An item the user chose to fix, handed to the page that edits its kind. */
  draft: undefined as OutboxItem | undefined,
});

let started = false;
let chain: Promise<Map<number, Outcome>> = Promise.resolve(new Map());

/** Called by every grid page when it opens; the first call wires the listeners. */
export async function start(): Promise<void> {
  if (!started) {
    started = true;
    window.addEventListener("online", () => {
      grid.online = true;
      void sync();
    });
    window.addEventListener("offline", () => (grid.online = false));
    window.setInterval(() => {
      if (grid.online && grid.items.some((item) => item.status === "waiting")) void sync();
    }, RETRY_MS);
    installable();
  }
  if (!grid.me) {
    grid.me = await whoAmI();
    await forgetOtherUsersData(grid.me.user.username);
  }
  await refresh();
  void sync();
}

/** The logged-in user; offline, the one this tab last heard of (the token is per tab too). */
async function whoAmI(): Promise<Me> {
  try {
    const me = await get<Me>("/me");
    sessionStorage.setItem(ME_KEY, JSON.stringify(me));
    return me;
  } catch (error) {
    const kept = sessionStorage.getItem(ME_KEY);
    if (error instanceof ApiError || !kept) throw error;
    return JSON.parse(kept) as Me;
  }
}

/** Once the service worker controls the page, fetch what the pages need offline through it. */
function warmUp(): void {
  for (const [path, params] of OFFLINE_READS) void get(path, params).catch(() => undefined);
}

export async function refresh(): Promise<void> {
  grid.items = grid.me ? await outbox.itemsOf(grid.me.user.username) : [];
}

export function waitingCount(): number {
  return grid.items.filter((item) => item.status === "waiting").length;
}

/** Keep an item in the outbox and, when online, send it (after those before it). */
export async function submit(item: OutboxItem): Promise<Outcome> {
  item.status = "waiting";
  delete item.error;
  item.id = await outbox.save(item);
  await refresh();
  if (!navigator.onLine) return { kind: "waiting" };
  const outcomes = await sync();
  return outcomes.get(item.id) ?? { kind: "waiting" };
}

export async function discard(id: number): Promise<void> {
  await outbox.remove(id);
  await refresh();
}

export async function retry(item: OutboxItem): Promise<void> {
  await submit(item);
}

/** Send every waiting item in order; stop at the first that cannot go now. */
export function sync(): Promise<Map<number, Outcome>> {
  chain = chain.then(exclusively, exclusively);
  return chain;
}

function exclusively(): Promise<Map<number, Outcome>> {
  // Two tabs of the app must not send the same item at the same time.
  if (navigator.locks) return navigator.locks.request("cityops-grid-outbox", sendAll);
  return sendAll();
}

async function sendAll(): Promise<Map<number, Outcome>> {
  const outcomes = new Map<number, Outcome>();
  const user = grid.me?.user.username;
  if (!user || !navigator.onLine) return outcomes;
  grid.sending = true;
  try {
    for (const item of await outbox.itemsOf(user)) {
      if (item.status !== "waiting" || item.id === undefined) continue;
      const outcome = await sendOne(item);
      outcomes.set(item.id, outcome);
      if (outcome.kind === "waiting") break; // offline again: the rest keeps its order
    }
  } finally {
    grid.sending = false;
    await refresh();
  }
  return outcomes;
}

async function sendOne(item: OutboxItem): Promise<Outcome> {
  try {
    for (const photo of item.photos) {
      if (photo.uploadId) continue;
      photo.uploadId = (await upload(photo.blob, photo.name)).id;
      await outbox.save(item);
    }
    const photos = item.photos.map((photo) => photo.uploadId);
    const body = { ...item.body, photos, client_ref: item.clientRef };
    const path = item.kind === "report" ? "/cases" : `/cases/${item.caseId}/verify`;
    const result = await post<SentCase>(path, body);
    await outbox.remove(item.id!);
    grid.needsLogin = false;
    grid.sent.unshift({
      kind: item.kind,
      number: result.number,
      caseId: result.id,
      passed: item.kind === "verify" ? item.body.passed : undefined,
      at: new Date().toISOString(),
    });
    return { kind: "sent", result };
  } catch (error) {
    return settle(item, error);
  }
}

async function settle(item: OutboxItem, error: unknown): Promise<Outcome> {
  if (!(error instanceof ApiError)) {
    // fetch rejects only when the request could not be made: keep the item for later.
    if (!(error instanceof TypeError)) console.error(error);
    return { kind: "waiting" };
  }
  if (error.status === 401) {
    grid.needsLogin = true;
    return { kind: "waiting" };
  }
  if (error.status >= 500 || error.status === 408 || error.status === 429) return { kind: "waiting" };
  // Refused for what it says: kept, with the platform's reasons, for the user to fix or drop.
  item.status = "failed";
  item.error = { status: error.status, message: error.message, fields: error.fields };
  await outbox.save(item);
  return { kind: "failed", error: item.error };
}

/** Cached answers belong to one user: drop them when another one logs in on this phone. */
async function forgetOtherUsersData(username: string): Promise<void> {
  if (localStorage.getItem(OWNER_KEY) === username) return;
  if ("caches" in window) await caches.delete(API_CACHE);
  localStorage.setItem(OWNER_KEY, username);
}

export async function logOut(): Promise<void> {
  token.clear();
  grid.me = undefined;
  grid.needsLogin = false;
  grid.items = [];
  grid.sent = [];
  localStorage.removeItem(OWNER_KEY);
  sessionStorage.removeItem(ME_KEY);
  if ("caches" in window) await caches.delete(API_CACHE);
}

function headTag(tag: "link" | "meta", attrs: Record<string, string>): void {
  const key = tag === "link" ? `link[rel="${attrs.rel}"]` : `meta[name="${attrs.name}"]`;
  if (document.head.querySelector(key)) return;
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  document.head.append(element);
}

/** The web app manifest and the service worker that keeps the pages working offline. */
function installable(): void {
  headTag("link", { rel: "manifest", href: "/assets/app/grid/manifest.webmanifest" });
  headTag("meta", { name: "theme-color", content: "#1565c0" });
  headTag("link", { rel: "apple-touch-icon", href: "/assets/app/grid/apple-touch-icon.png" });
  if (!("serviceWorker" in navigator) || !import.meta.env.PROD) return;
  navigator.serviceWorker.addEventListener("controllerchange", warmUp);
  // Scope "/": the login page the worker came through must come under it too (see the worker).
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((error) => console.error(error));
}
