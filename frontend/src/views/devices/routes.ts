import type { RouteRecordRaw } from "vue-router";

// Loaded on demand. The perception pages: devices, one device, alarms, the rule editor and the import, each
// under the shared header of DevicesView. `need` is the permission a tab asks for.
export const deviceRoutes: RouteRecordRaw[] = [
  { path: "/devices", component: () => import("./DevicesPanel.vue"), meta: { auth: true, tab: "devices", need: "devices.read" } },
  { path: "/devices/import", component: () => import("./ImportPanel.vue"), meta: { auth: true, tab: "import", need: "devices.manage" } },
  { path: "/devices/:id", component: () => import("./DevicePanel.vue"), meta: { auth: true, tab: "devices", need: "devices.read" } },
  { path: "/alarms", component: () => import("./AlarmsPanel.vue"), meta: { auth: true, tab: "alarms", need: "alarms.read" } },
  { path: "/alarms/rules", component: () => import("./RulesPanel.vue"), meta: { auth: true, tab: "rules", need: "alarms.manage" } },
];

export const DEVICE_TABS: { tab: string; to: string; need: string }[] = [
  { tab: "devices", to: "/devices", need: "devices.read" },
  { tab: "alarms", to: "/alarms", need: "alarms.read" },
  { tab: "rules", to: "/alarms/rules", need: "alarms.manage" },
  { tab: "import", to: "/devices/import", need: "devices.manage" },
];
