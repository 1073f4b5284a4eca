// The grid worker's offline app. The build prepends VERSION and PRECACHE: every built file, so
// the app shell opens with no network; a new build brings a new VERSION, whose install fills a
// new cache and whose activation drops the old ones. Its scope is the whole site, because the
// page a worker logs in on (/login) must be controlled once it has moved on to /m/grid; the
// API answers it keeps are only those asked for by the phone pages (/m/…).
/* global VERSION, PRECACHE */
const PREFIX = "cityops-grid-";
const SHELL_CACHE = `${PREFIX}shell-${VERSION}`;
// Read-only API answers the phone pages need offline: the last good answer is kept. The page
// deletes this cache when the user logs out or another user logs in.
const API_CACHE = `${PREFIX}api`;
const SHELL = "/assets/app/index.html";
const NETWORK_WAIT_MS = 5000;
const API_READS = [
  /^\/api\/v1\/me$/,
  /^\/api\/v1\/categories$/,
  /^\/api\/v1\/areas\.geojson$/,
  /^\/api\/v1\/cases$/,
  /^\/api\/v1\/cases\/[0-9a-f-]{36}(\/timeline)?$/,
];
// Pages that open offline: the phone pages and the login page in front of them.
const OFFLINE_PAGES = /^\/(m\/.*|login)?$/;
const PHOTO = /^\/api\/v1\/uploads\/[0-9a-f-]{36}$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      .then((cache) => cache.addAll(PRECACHE))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith(`${PREFIX}shell-`) && name !== SHELL_CACHE)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && OFFLINE_PAGES.test(url.pathname)) {
    event.respondWith(networkFirst(request, null, () => caches.match(SHELL)));
  } else if (url.pathname.startsWith("/assets/app/")) {
    event.respondWith(cacheFirst(request, SHELL_CACHE));
  } else if (PHOTO.test(url.pathname) || API_READS.some((pattern) => pattern.test(url.pathname))) {
    event.respondWith(apiRead(event, PHOTO.test(url.pathname)));
  }
});

// The referrer is the asking page's current address (a client's url can still be the
// address it was created with, before the router moved on from /login).
function fromPhonePage(request) {
  return request.referrer !== "" && new URL(request.referrer).pathname.startsWith("/m/");
}

async function apiRead(event, immutable) {
  if (!fromPhonePage(event.request)) return fetch(event.request);
  if (immutable) return cacheFirst(event.request, API_CACHE);
  return networkFirst(event.request, API_CACHE, () => caches.match(event.request));
}

async function cacheFirst(request, cacheName) {
  const cached = await caches.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(cacheName);
    await cache.put(request, response.clone());
  }
  return response;
}

// The network when it answers in time, else what was kept; a failed answer (401, 500) is
// passed on as it is, never replaced by an older one.
async function networkFirst(request, cacheName, fallback) {
  try {
    const response = await withDeadline(fetch(request), NETWORK_WAIT_MS);
    if (response.ok && cacheName) {
      const cache = await caches.open(cacheName);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    const kept = await fallback();
    if (kept) return kept;
    throw error;
  }
}

function withDeadline(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("network timeout")), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
