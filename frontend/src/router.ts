import { createRouter, createWebHistory } from "vue-router";
import { token } from "./api";
import { adminRoutes } from "./views/admin/routes";
import { deviceRoutes } from "./views/devices/routes";

// Every page is loaded on demand, so a page fetches only its own code: the login page, the phone
// pages and the admin pages never fetch MapLibre or ECharts (chunks of their own, vite.config.ts).
export const router = createRouter({
  history: createWebHistory("/"),
  routes: [
    { path: "/", redirect: () => (token.get() ? "/screen" : "/login") },
    { path: "/login", component: () => import("./views/LoginView.vue") },
    { path: "/screen", component: () => import("./views/ScreenView.vue"), meta: { auth: true } },
    { path: "/ops", component: () => import("./views/OpsView.vue"), meta: { auth: true } },
    { path: "/dept", component: () => import("./views/DeptView.vue"), meta: { auth: true } },
    { path: "/dept/cases/:id", component: () => import("./views/DeptView.vue"), meta: { auth: true } },
    { path: "/m/report", component: () => import("./views/MobileReportView.vue"), meta: { auth: true } },
    { path: "/m/mine", component: () => import("./views/MobileMineView.vue"), meta: { auth: true } },
    { path: "/admin", component: () => import("./views/AdminView.vue"), meta: { auth: true }, redirect: "/admin/users", children: adminRoutes },
    { path: "/leader", component: () => import("./views/LeaderView.vue"), meta: { auth: true } },
    { path: "/devices", component: () => import("./views/devices/DevicesView.vue"), meta: { auth: true }, children: deviceRoutes },
    { path: "/m/grid", component: () => import("./views/grid/GridCasesView.vue"), meta: { auth: true } },
    { path: "/m/grid/report", component: () => import("./views/grid/GridReportView.vue"), meta: { auth: true } },
    { path: "/m/grid/outbox", component: () => import("./views/grid/GridOutboxView.vue"), meta: { auth: true } },
    { path: "/m/grid/cases/:id", component: () => import("./views/grid/GridCaseView.vue"), meta: { auth: true } },
  ],
});

router.beforeEach((to) => (to.meta.auth && !token.get() ? "/login" : true));

// A page's chunk that cannot be fetched (a tab opened before a new build asks for files that
// build replaced, or the network dropped) is retried by loading the page afresh, once per
// address: the flag is cleared by the next navigation that succeeds.
const RELOADED_KEY = "cityops-chunk-reload";
const CHUNK_FAILED = /dynamically imported module|module script failed/i;

router.onError((error: unknown, to) => {
  if (!(error instanceof TypeError) || !CHUNK_FAILED.test(error.message)) return;
  if (sessionStorage.getItem(RELOADED_KEY) === to.fullPath) return;
  sessionStorage.setItem(RELOADED_KEY, to.fullPath);
  window.location.assign(to.fullPath);
});
router.afterEach((_to, _from, failure) => {
  if (!failure) sessionStorage.removeItem(RELOADED_KEY);
});
