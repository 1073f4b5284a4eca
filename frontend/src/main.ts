import { createApp } from "vue";
import App from "./App.vue";
import { i18n } from "./i18n";
import { router } from "./router";
// The global style sheets, in the order they had when the pages were one bundle: the pages load
// on demand, but these hold classes several pages share, and style.css (last) overrides
// MapLibre's own rules (.city-map, .pin-map over .maplibregl-map).
import "./views/admin/admin.css";
import "maplibre-gl/dist/maplibre-gl.css";
import "./components/dept/dept.css";
import "./grid/grid.css";
import "./style.css";

document.documentElement.lang = i18n.global.locale.value;
createApp(App).use(i18n).use(router).mount("#app");
