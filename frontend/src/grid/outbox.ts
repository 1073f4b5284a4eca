// The grid worker's outbox: reports and verifications waiting to be sent, with their photos,
// kept in IndexedDB so they survive a closed page, a reload or a dead battery.
import { toRaw } from "vue";
import type { FieldError } from "../api";

export interface QueuedPhoto {
  blob: Blob;
  name: string;
  /** Set once the photo is uploaded, so a resend uploads only what is missing. */
  uploadId?: string;
}

export interface SendError {
  status: number;
  message: string;
  fields: FieldError[];
}

interface ItemBase {
  /** IndexedDB key, increasing: the order in which items are sent. */
  id?: number;
  /** Whose item it is: only that user's session sends it. */
  user: string;
  createdAt: string;
  /** Sent with the command, so a resend after a lost answer is not taken twice. */
  clientRef: string;
  photos: QueuedPhoto[];
  status: "waiting" | "failed";
  error?: SendError;
}

export interface ReportItem extends ItemBase {
  kind: "report";
  body: {
    description: string;
    category_code?: string;
    location: { lon: number; lat: number };
    address?: string;
  };
}

export interface VerifyItem extends ItemBase {
  kind: "verify";
  caseId: string;
  caseNumber: number;
  caseTitle: string;
  body: { passed: boolean; note?: string };
}

export type OutboxItem = ReportItem | VerifyItem;

const DB_NAME = "cityops-grid";
const STORE = "outbox";
let opened: Promise<IDBDatabase> | undefined;

function database(): Promise<IDBDatabase> {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

async function run<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await database();
  return new Promise<T>((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = work(tx.objectStore(STORE));
    // Resolve once the transaction is durable, not merely when the request succeeded.
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

// IndexedDB stores plain data (and Blobs), never Vue's reactive proxies.
function plain<T>(value: T): T {
  const raw = toRaw(value) as unknown;
  if (raw === null || typeof raw !== "object" || raw instanceof Blob) return raw as T;
  if (Array.isArray(raw)) return raw.map(plain) as T;
  return Object.fromEntries(Object.entries(raw).map(([key, inner]) => [key, plain(inner)])) as T;
}

/** Add an item (or replace it, when it has an id); answers its id. */
export async function save(item: OutboxItem): Promise<number> {
  const data = plain(item);
  if (data.id === undefined) delete data.id; // let the store number it
  const key = await run("readwrite", (store) => store.put(data));
  return Number(key);
}

export async function remove(id: number): Promise<void> {
  await run("readwrite", (store) => store.delete(id));
}

/** The user's items, oldest first. */
export async function itemsOf(user: string): Promise<OutboxItem[]> {
  const all = await run<OutboxItem[]>("readonly", (store) => store.getAll());
  return all.filter((item) => item.user === user).sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
}

export async function item(id: number): Promise<OutboxItem | undefined> {
  return run<OutboxItem | undefined>("readonly", (store) => store.get(id));
}
