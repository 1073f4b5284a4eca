// Types and helpers of the department workspace (/dept).
import { may, type Me } from "./api";

export interface Named { code: string; name_zh: string; name_en: string }
export interface Person { id: string; username: string; display_name: string; role: string }
export interface Due {
  register_by: string | null; dispatch_by: string | null; handle_by: string | null;
  stage: string | null; status: string;
}
export interface DeptCase {
  id: string;
  number: number;
  title: string;
  description: string;
  state: string;
  priority: string;
  category: Named | null;
  location: {
    lon: number; lat: number; address: string | null;
    district: Named | null; street: Named | null; community: Named | null; grid: Named | null;
  };
  department: Named | null;
  assignee: Person | null;
  reporter: Person | null;
  reporter_name: string | null;
  reporter_phone: string | null;
  due: Due;
  urge_count: number;
  return_count: number;
  verify_fail_count: number;
  escalation_level: number;
  photos: string[];
  allowed_actions: string[];
  created_at: string;
  dispatched_at: string | null;
  accepted_at: string | null;
  handled_at: string | null;
}
export interface TimelineEntry {
  id: string; at: string; action: string; from_state: string | null; to_state: string;
  actor_name: string; actor_role: string; note: string | null; photos: string[];
}
export interface DeptMe extends Me {
  user: Me["user"] & { display_name: string };
  department: Named | null;
}

/** The states a department works on: to accept, in hand (including a failed verification). */
export const QUEUE_STATES = ["dispatched", "accepted"];
/** The state filter's choices; "queue" is QUEUE_STATES, "all" every case the department holds. */
export const STATE_CHOICES = ["queue", "dispatched", "accepted", "handled", "all"];

/** May this user work a department's queue (accept or handle cases)? */
export function mayWorkDepartment(me: Me | undefined): boolean {
  return may(me, "cases.accept") || may(me, "cases.handle");
}

/** The time limit of the stage the case is in (the handling limit while with a department). */
export function stageDue(due: Due): string | null {
  if (due.stage === "register") return due.register_by;
  if (due.stage === "dispatch") return due.dispatch_by;
  if (due.stage === "handle") return due.handle_by;
  return null;
}

const CST = new Intl.DateTimeFormat("sv-SE", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", hour12: false,
});

/** An instant as wall-clock time in China Standard Time ("2026-03-02 18:00"), no zone name. */
export function cst(value: string | null | undefined): string {
  return value ? CST.format(new Date(value)) : "—";
}

/** The first segment of an API field path ("photos.0" → "photos"). */
export function fieldKey(path: string): string {
  return path.split(".")[0] ?? path;
}
