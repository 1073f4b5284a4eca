import type { RouteRecordRaw } from "vue-router";
import AuditPanel from "./AuditPanel.vue";
import CalendarPanel from "./CalendarPanel.vue";
import CategoriesPanel from "./CategoriesPanel.vue";
import DepartmentsPanel from "./DepartmentsPanel.vue";
import ModelsPanel from "./ModelsPanel.vue";
import UsersPanel from "./UsersPanel.vue";

// The sections of /admin, in the order of its tabs.
export const adminRoutes: RouteRecordRaw[] = [
  { path: "users", component: UsersPanel, meta: { auth: true, tab: "users" } },
  { path: "departments", component: DepartmentsPanel, meta: { auth: true, tab: "departments" } },
  { path: "categories", component: CategoriesPanel, meta: { auth: true, tab: "categories" } },
  { path: "calendar", component: CalendarPanel, meta: { auth: true, tab: "calendar" } },
  { path: "audit", component: AuditPanel, meta: { auth: true, tab: "audit" } },
  { path: "models", component: ModelsPanel, meta: { auth: true, tab: "models" } },
];

export const ADMIN_TABS = ["users", "departments", "categories", "calendar", "audit", "models"];
