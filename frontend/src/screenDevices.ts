// The command screen's device layer: GET /api/v1/overview/devices (compact rows) and
// /overview/device-counts (the tiles), and what an alarm event does to a device's status.
import type { AlarmChange, LiveAlarm } from "./live";

export type DeviceStatus = "online" | "offline" | "maintenance" | "alarm";
export type Severity = LiveAlarm["severity"];

export interface DeviceTypeRef { code: string; name_zh: string; name_en: string }

/** Rows of [id, lon, lat, type index, status, severity of its worst open alarm or null]. */
export interface DeviceLayer {
  columns: string[];
  statuses: DeviceStatus[];
  types: DeviceTypeRef[];
  devices: [string, number, number, number, DeviceStatus, Severity | null][];
  truncated: boolean;
}

export interface DeviceCounts {
  total: number;
  online: number;
  offline: number;
  maintenance: number;
  /** null for readers without alarms.read */
  active_alarms: number | null;
  alarm_devices: number | null;
}

/** A device as the map keeps it: its health, and its open alarms by id with their severity. */
export interface MapDevice {
  id: string;
  name: string | null;
  lon: number;
  lat: number;
  type: string;
  health: Exclude<DeviceStatus, "alarm">;
  alarms: Map<string, Severity>;
}

export const DEVICE_STATUSES: DeviceStatus[] = ["online", "offline", "maintenance", "alarm"];
export const SEVERITIES: Severity[] = ["info", "warning", "major", "critical"];

export const STATUS_COLOUR: Record<DeviceStatus, string> = {
  online: "#2ee6a8",
  offline: "#8796a8",
  maintenance: "#d4a017",
  alarm: "#ff1744",
};

export const SEVERITY_COLOUR: Record<Severity, string> = {
  info: "#40c4ff",
  warning: "#ffd600",
  major: "#ff6d00",
  critical: "#ff1744",
};

// The snapshot gives a device's worst open severity, not its alarms' ids: it stands under
// this key until the next snapshot (a clear of any of the device's alarms drops it).
const SNAPSHOT = "snapshot";

export function deviceStatus(device: MapDevice): DeviceStatus {
  return device.alarms.size ? "alarm" : device.health;
}

export function worstSeverity(device: MapDevice): Severity | null {
  let worst: Severity | null = null;
  for (const severity of device.alarms.values()) {
    if (worst === null || SEVERITIES.indexOf(severity) > SEVERITIES.indexOf(worst)) worst = severity;
  }
  return worst;
}

export function fromLayer(layer: DeviceLayer): Map<string, MapDevice> {
  const out = new Map<string, MapDevice>();
  for (const [id, lon, lat, type, status, severity] of layer.devices) {
    const alarms = new Map<string, Severity>();
    if (severity) alarms.set(SNAPSHOT, severity);
    out.set(id, { id, name: null, lon, lat, type: layer.types[type]?.code ?? "",
      health: status === "alarm" ? "online" : status, alarms });
  }
  return out;
}

/** Apply one alarm step to the devices (a device unknown to the snapshot joins them: then
 * true). */
export function applyAlarm(devices: Map<string, MapDevice>, change: AlarmChange): boolean {
  const alarm = change.alarm;
  let device = devices.get(alarm.device_id);
  const added = !device;
  if (!device) {
    device = { id: alarm.device_id, name: alarm.device_name, lon: alarm.lon, lat: alarm.lat,
      type: alarm.device_type, health: "online", alarms: new Map() };
    devices.set(device.id, device);
  }
  device.name = alarm.device_name || device.name;
  if (alarm.state === "cleared") {
    device.alarms.delete(alarm.id);
    device.alarms.delete(SNAPSHOT);
  } else {
    device.alarms.set(alarm.id, alarm.severity);
  }
  return added;
}
