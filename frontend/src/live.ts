// The live feed (GET /api/v1/live, server-sent events) read with fetch, because the browser's
// EventSource cannot send the Authorization header. Reconnects with backoff and Last-Event-ID.
import { token } from "./api";

export interface Named { code: string; name_zh: string; name_en: string }

export interface LiveCase {
  id: string;
  number: number;
  title: string;
  state: string;
  sla_status: string;
  closed: boolean;
  lon: number;
  lat: number;
  category: Named | null;
  district: Named | null;
  created_at: string;
}

/** One timeline entry of a case (event `case`) and the case as it is now. */
export interface CaseChange {
  id: string;
  at: string;
  action: string;
  from_state: string | null;
  to_state: string;
  case: LiveCase;
}

/** The alarm as it is now (event `alarm`). */
export interface LiveAlarm {
  id: string;
  state: "active" | "acknowledged" | "cleared";
  severity: "info" | "warning" | "major" | "critical";
  rule_code: string;
  kind: string;
  metric: string | null;
  device_id: string;
  device_type: string;
  device_name: string;
  lon: number;
  lat: number;
  department_code: string | null;
  last_value: number | null;
  peak_value: number | null;
  count: number;
  raised_at: string;
  case_id: string | null;
}

/** One step of an alarm's history (event `alarm`: raise, escalate, acknowledge, clear,
 * condition_ended, link_case) and the alarm as it is now. */
export interface AlarmChange {
  id: string;
  at: string;
  action: string;
  from_state: string | null;
  to_state: string;
  alarm: LiveAlarm;
}

export type LiveStatus = "connecting" | "live" | "reconnecting";

export interface LiveHandlers {
  onCase(change: CaseChange): void;
  /** A step of an alarm (readers with alarms.read only). */
  onAlarm?(change: AlarmChange): void;
  /** More was missed than the server can replay: reload the snapshot. */
  onReset?(): void;
  onStatus?(status: LiveStatus): void;
  /** The token was refused: log in again. */
  onUnauthorized?(): void;
}

export interface SseMessage { event: string; data: string; id?: string }

/** Splits a text stream into server-sent events (the WHATWG rules, without the retry field). */
export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];
  private id: string | undefined;

  feed(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      const message = this.line(line);
      if (message) out.push(message);
    }
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === "") {
      const message = this.data.length
        ? { event: this.event || "message", data: this.data.join("\n"), id: this.id } : undefined;
      this.event = "";
      this.data = [];
      this.id = undefined;
      return message;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = value;
    return undefined;
  }
}

/** Remembers the last few thousand event ids: a replay after reconnecting may repeat some. */
class SeenIds {
  private ids = new Set<string>();
  private order: string[] = [];

  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    this.order.push(id);
    if (this.order.length > 4000) this.ids.delete(this.order.shift()!);
    return true;
  }
}

const SILENCE_MS = 45_000; // the server sends a comment every 15 s
const MAX_BACKOFF_MS = 30_000;

export interface LiveConnection { close(): void }

/** Connect to the live feed; `since` is a cursor (an event id) from a snapshot. */
export function connectLive(handlers: LiveHandlers, since?: string): LiveConnection {
  let closed = false;
  let lastId = since;
  let failures = 0;
  let controller: AbortController | undefined;
  const seen = new SeenIds();

  function dispatch(message: SseMessage): "ready" | "stop" | "bye" | undefined {
    if (message.event === "case") {
      if (message.id) lastId = message.id;
      if (message.id && !seen.add(message.id)) return undefined;
      handlers.onCase(JSON.parse(message.data) as CaseChange);
    } else if (message.event === "alarm") {
      if (message.id) lastId = message.id;
      if (message.id && !seen.add(message.id)) return undefined;
      handlers.onAlarm?.(JSON.parse(message.data) as AlarmChange);
    } else if (message.event === "reset") {
      handlers.onReset?.();
    } else if (message.event === "ready") {
      failures = 0;
      handlers.onStatus?.("live");
      return "ready";
    } else if (message.event === "unauthorized") {
      handlers.onUnauthorized?.();
      return "stop";
    } else if (message.event === "bye") {
      return "bye";
    }
    return undefined;
  }

  async function once(): Promise<"retry" | "now" | "stop"> {
    controller = new AbortController();
    const abort = controller;
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    const bearer = token.get();
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (lastId) headers["Last-Event-ID"] = lastId;
    const response = await fetch("/api/v1/live", { headers, signal: abort.signal, cache: "no-store" });
    if (response.status === 401) {
      handlers.onUnauthorized?.();
      return "stop";
    }
    if (response.status === 422 && lastId) {
      // The cursor is not one this server understands: start afresh from a new snapshot.
      lastId = undefined;
      handlers.onReset?.();
      return "now";
    }
    if (!response.ok || !response.body) return "retry";
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    let watchdog = window.setTimeout(() => abort.abort(), SILENCE_MS);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return "retry";
        window.clearTimeout(watchdog);
        watchdog = window.setTimeout(() => abort.abort(), SILENCE_MS);
        for (const message of parser.feed(value)) {
          const outcome = dispatch(message);
          if (outcome === "stop") return "stop";
          if (outcome === "bye") return "now";
        }
      }
    } finally {
      window.clearTimeout(watchdog);
      reader.cancel().catch(() => undefined);
    }
  }

  async function run(): Promise<void> {
    while (!closed) {
      handlers.onStatus?.(failures ? "reconnecting" : "connecting");
      let outcome: "retry" | "now" | "stop";
      try {
        outcome = await once();
      } catch {
        outcome = "retry";
      }
      if (closed || outcome === "stop") return;
      if (outcome === "retry") failures += 1;
      handlers.onStatus?.("reconnecting");
      const backoff = outcome === "now" ? 100
        : Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures - 1, 5));
      await new Promise((resolve) => window.setTimeout(resolve, backoff * (0.75 + Math.random() / 2)));
    }
  }

  void run();
  return {
    close(): void {
      closed = true;
      controller?.abort();
    },
  };
}
