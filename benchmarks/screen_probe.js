// Injected into every page of the command-screen benchmark before the app's own scripts
// (Playwright add_init_script). Records, in page time (performance.now(), ms since navigation):
//   - when the KPI tiles first show numbers, when the map has its devices (data-devices) and
//     when it reports ready, each taken after the next paint (requestAnimationFrame, then a message: the frame has been produced);
//   - frame gaps (requestAnimationFrame), long tasks, event timing entries, the latency of
//     clicks on the language switch (input time stamp → after the paint showing the change);
//   - when each case number first appears in the live feed and on the map (the map's
//     data-live-cases, set as its live layer is drawn), in wall-clock milliseconds
//     (performance.timeOrigin + now), for comparison with the moment its POST returned.
// Everything is kept in window.__bench; the benchmark reads it with page.evaluate.
(() => {
  const bench = {
    marks: {},
    frames: [],
    longtasks: [],
    events: [],
    clicks: [],
    feed: {},
    map: {},
    recording: false,
  };
  window.__bench = bench;
  const now = () => performance.now();
  const afterPaint = (done) =>
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => done(now());
      channel.port2.postMessage(0);
    });

  // --- first moments -------------------------------------------------------------------
  const firsts = () => {
    const marks = bench.marks;
    // The tiles show numbers: first the counts, then every tile (none still "…" loading).
    const values = [...document.querySelectorAll("[data-testid=kpi-tiles] [data-kpi] b")]
      .filter((b) => b.getBoundingClientRect().width > 0)
      .map((b) => (b.textContent || "").trim());
    if (marks.kpisFirstDom === undefined && values.some((text) => /\d/.test(text))) {
      marks.kpisFirstDom = now();
      afterPaint((at) => (marks.kpisFirst = at));
    }
    if (marks.kpisDom === undefined && values.length > 0 &&
        values.some((text) => /\d/.test(text)) &&
        values.every((text) => text !== "" && text !== "…" && text !== "...")) {
      marks.kpisDom = now();
      afterPaint((at) => (marks.kpis = at));
    }
    // The device layer handed to the map (its data-devices count set), then painted.
    const map = document.querySelector("[data-testid=city-map]");
    if (marks.devicesDom === undefined && map && Number(map.getAttribute("data-devices")) > 0) {
      marks.devicesDom = now();
      bench.deviceCount = Number(map.getAttribute("data-devices"));
      afterPaint((at) => (marks.devices = at));
    }
    if (marks.mapReadyDom === undefined &&
        document.querySelector('[data-testid=city-map][data-map-ready=true]')) {
      marks.mapReadyDom = now();
      afterPaint((at) => (marks.mapReady = at));
    }
  };

  // --- the live feed -------------------------------------------------------------------
  const wall = () => performance.timeOrigin + now();
  const seen = (element) => {
    const number = element.getAttribute("data-case-number");
    if (number && !(number in bench.feed) && element.closest("[data-testid=live-feed]")) {
      bench.feed[number] = wall();
    }
  };
  const mapped = (element) => {
    if (element.getAttribute("data-testid") !== "city-map") return;
    const at = wall();
    for (const number of (element.getAttribute("data-live-cases") || "").split(" ")) {
      if (number && !(number in bench.map)) bench.map[number] = at;
    }
  };
  const scan = (node) => {
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    if (node.hasAttribute("data-case-number")) seen(node);
    for (const element of node.querySelectorAll("[data-case-number]")) seen(element);
  };

  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "childList") record.addedNodes.forEach(scan);
      else if (record.type === "attributes" && record.attributeName === "data-case-number") {
        seen(record.target);
      } else if (record.type === "attributes" && record.attributeName === "data-live-cases") {
        mapped(record.target);
      }
    }
    firsts();
  }).observe(document, {
    subtree: true,
    childList: true,
    characterData: true,
    attributes: true,
    attributeFilter: ["data-case-number", "data-map-ready", "data-live-cases", "data-devices"],
  });

  // --- responsiveness ------------------------------------------------------------------
  let last = null;
  const frame = (at) => {
    if (bench.recording && last !== null) bench.frames.push([at, at - last]);
    last = at;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);

  const observe = (type, keep, options = {}) => {
    try {
      new PerformanceObserver((list) => list.getEntries().forEach(keep))
        .observe({ type, buffered: true, ...options });
    } catch (error) {
      bench.marks[`no_${type}`] = String(error);
    }
  };
  observe("longtask", (entry) => bench.longtasks.push([entry.startTime, entry.duration]));
  observe("event", (entry) => {
    if (entry.name === "click" || entry.name === "pointerdown") {
      bench.events.push([entry.name, entry.startTime, entry.processingStart, entry.duration]);
    }
  }, { durationThreshold: 16 });

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element && event.target.closest("[data-locale]");
    if (!button) return;
    const wanted = button.getAttribute("data-locale");
    const start = event.timeStamp;
    const handled = now();
    // Vue re-renders in a microtask queued by the button's handler, before this one.
    Promise.resolve().then(() => {
      const changed = document.documentElement.lang === wanted &&
        button.getAttribute("aria-pressed") === "true";
      afterPaint((at) => bench.clicks.push({ start, handled, painted: at, changed }));
    });
  });

  // --- read by the benchmark ------------------------------------------------------------
  const mark = (name) => {
    const entry = performance.getEntriesByName(name)[0];
    return entry ? entry.startTime : null;
  };
  // CityMap.vue marks the first frame drawn with the cases loaded, then the first idle.
  const PAINTED = "cityops:map-cases-painted";
  const IDLE = "cityops:map-idle";
  bench.ready = () =>
    bench.marks.kpis !== undefined && bench.marks.mapReady !== undefined &&
    mark(PAINTED) !== null;
  bench.collect = () => {
    const navigation = performance.getEntriesByType("navigation")[0];
    const api = performance.getEntriesByType("resource")
      .filter((entry) => entry.name.includes("/api/v1/"))
      .map((entry) => ({
        url: entry.name,
        start: entry.startTime,
        end: entry.responseEnd,
        duration: entry.duration,
        server: (entry.serverTiming.find((timing) => timing.name === "app") || {}).duration ?? null,
        bytes: entry.encodedBodySize,
        decoded_bytes: entry.decodedBodySize,
      }));
    return {
      marks: bench.marks,
      device_count: bench.deviceCount ?? 0,
      painted: mark(PAINTED),
      idle: mark(IDLE),
      paint: Object.fromEntries(
        performance.getEntriesByType("paint").map((entry) => [entry.name, entry.startTime])),
      api,
      dom_content_loaded: navigation ? navigation.domContentLoadedEventEnd : null,
    };
  };
  bench.start = () => {
    bench.frames = [];
    bench.clicks = [];
    bench.recording = true;
    return now();
  };
  bench.stop = () => {
    bench.recording = false;
    return now();
  };
})();
