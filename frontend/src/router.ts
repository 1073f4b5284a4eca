import { createRouter, createWebHistory } from "vue-router";
import { token } from "./api";
import AdminView from "./views/AdminView.vue";
import { adminRoutes } from "./views/admin/routes";
import { deviceRoutes } from "./views/devices/routes";
import DeptView from "./views/DeptView.vue";
import LoginView from "./views/LoginView.vue";
import MobileMineView from "./views/MobileMineView.vue";
import MobileReportView from "./views/MobileReportView.vue";
import OpsView from "./views/OpsView.vue";
import ScreenView from "./views/ScreenView.vue";
import GridCasesView from "./views/grid/GridCasesView.vue";
import GridCaseView from "./views/grid/GridCaseView.vue";
import GridOutboxView from "./views/grid/GridOutboxView.vue";
import GridReportView from "./views/grid/GridReportView.vue";

export const router = createRouter({
  history: createWebHistory("/"),
  routes: [
    { path: "/", redirect: () => (token.get() ? "/screen" : "/login") },
    { path: "/login", component: LoginView },
    { path: "/screen", component: ScreenView, meta: { auth: true } },
    { path: "/ops", component: OpsView, meta: { auth: true } },
    { path: "/dept", component: DeptView, meta: { auth: true } },
    { path: "/dept/cases/:id", component: DeptView, meta: { auth: true } },
    { path: "/m/report", component: MobileReportView, meta: { auth: true } },
    { path: "/m/mine", component: MobileMineView, meta: { auth: true } },
    { path: "/admin", component: AdminView, meta: { auth: true }, redirect: "/admin/users", children: adminRoutes },
    { path: "/leader", component: () => import("./views/LeaderView.vue"), meta: { auth: true } },
    { path: "/devices", component: () => import("./views/devices/DevicesView.vue"), meta: { auth: true }, children: deviceRoutes },
    { path: "/m/grid", component: GridCasesView, meta: { auth: true } },
    { path: "/m/grid/report", component: GridReportView, meta: { auth: true } },
    { path: "/m/grid/outbox", component: GridOutboxView, meta: { auth: true } },
    { path: "/m/grid/cases/:id", component: GridCaseView, meta: { auth: true } },
  ],
});

router.beforeEach((to) => (to.meta.auth && !token.get() ? "/login" : true));
