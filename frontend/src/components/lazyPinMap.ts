import { defineAsyncComponent, h } from "vue";

// The report pages' pin map, whose MapLibre chunk is fetched only once the form is on screen;
// an empty frame of the map's size keeps its place meanwhile, so nothing below it moves.
export const LazyPinMap = defineAsyncComponent({
  loader: () => import("./PinMap.vue"),
  loadingComponent: { render: () => h("div", { class: "pin-map", "data-testid": "pin-map-loading" }) },
  delay: 0,
});
