import type { RouteRecordRaw } from "vue-router";

// The sections of /admin, in the order of its tabs, each loaded on demand.
export const adminRoutes: RouteRecordRaw[] = [
  { path: "users", component: () => import("./UsersPanel.vue"), meta: { auth: true, tab: "users" } },
  { path: "departments", component: () => import("./DepartmentsPanel.vue"), meta: { auth: true, tab: "departments" } },
  { path: "categories", component: () => import("./CategoriesPanel.vue"), meta: { auth: true, tab: "categories" } },
  { path: "calendar", component: () => import("./CalendarPanel.vue"), meta: { auth: true, tab: "calendar" } },
  { path: "audit", component: () => import("./AuditPanel.vue"), meta: { auth: true, tab: "audit" } },
  { path: "models", component: () => import("./ModelsPanel.vue"), meta: { auth: true, tab: "models" } },
];

export const ADMIN_TABS = ["users", "departments", "categories", "calendar", "audit", "models"];
