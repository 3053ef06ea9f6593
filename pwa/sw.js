/*
 * The Loyalty Wallet service worker: the app shell works offline, the API never comes from a
 * cache.
 *
 * - install: every file of the shell goes into a cache named after the shell's version, with
 *   `await cache.addAll(...)`, so the worker installs only when the whole shell is stored.
 *   The server replaces __SHELL_HASH__ with a hash of the shell's files: any change to the app
 *   changes this script, and the browser (which fetches it with `Cache-Control: no-cache`)
 *   installs the new version.
 * - activate: caches of other versions are deleted and open pages are taken over.
 * - fetch: `/api/*` and `/.well-known/*` are left alone (network only: balances must never be
 *   stale, and refusing offline is the honest answer). Page navigations get the cached shell
 *   (`/`), since the hash router lives in it. Other same-origin GETs are answered from the
 *   cache when present, else from the network. Nothing else is ever written to the cache.
 * - push: a Web Push message (JSON `{title, body, url}`) becomes a notification; tapping it
 *   focuses the app (or opens it) at `url`, which must be a page of this origin.
 */

const SHELL_VERSION = "__SHELL_HASH__";
const CACHE_PREFIX = "lw-shell-";
const CACHE_NAME = `${CACHE_PREFIX}${SHELL_VERSION}`;

const SHELL_FILES = [
  "/",
  "/manifest.webmanifest",
  "/pwa/css/app.css",
  "/pwa/css/staff.css",
  "/pwa/js/app.js",
  "/pwa/js/i18n.js",
  "/pwa/locales/de/common.js",
  "/pwa/locales/en/common.js",
  "/pwa/locales/de/member.js",
  "/pwa/locales/en/member.js",
  "/pwa/locales/de/till.js",
  "/pwa/locales/en/till.js",
  "/pwa/locales/de/staff.js",
  "/pwa/locales/en/staff.js",
  "/pwa/js/branding.js",
  "/pwa/js/till-queue.js",
  "/pwa/js/api.js",
  "/pwa/js/push.js",
  "/pwa/js/qr.js",
  "/pwa/js/router.js",
  "/pwa/js/session.js",
  "/pwa/js/totp.js",
  "/pwa/js/ui.js",
  "/pwa/js/views/card.js",
  "/pwa/js/views/coupons.js",
  "/pwa/js/views/referrals.js",
  "/pwa/js/views/login.js",
  "/pwa/js/views/notifications.js",
  "/pwa/js/views/points.js",
  "/pwa/js/views/profile.js",
  "/pwa/js/views/rewards.js",
  "/pwa/js/views/staff.js",
  "/pwa/js/views/survey.js",
  "/pwa/js/views/till.js",
  "/pwa/js/staff/automations.js",
  "/pwa/js/staff/campaigns.js",
  "/pwa/js/staff/charts.js",
  "/pwa/js/staff/common.js",
  "/pwa/js/staff/desk.js",
  "/pwa/js/staff/kpis.js",
  "/pwa/js/staff/members.js",
  "/pwa/js/staff/overview.js",
  "/pwa/js/staff/programme.js",
  "/pwa/js/staff/review.js",
  "/pwa/js/staff/segments.js",
  "/pwa/js/staff/shop.js",
  "/pwa/icons/icon-192.png",
  "/pwa/icons/icon-512.png",
  "/pwa/icons/maskable-192.png",
  "/pwa/icons/maskable-512.png",
];

const NETWORK_ONLY_PREFIXES = ["/api/", "/.well-known/"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE_NAME);
      await cache.addAll(SHELL_FILES.map((path) => new Request(path, { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names
          .filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME)
          .map((name) => caches.delete(name)),
      );
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (NETWORK_ONLY_PREFIXES.some((prefix) => url.pathname.startsWith(prefix))) return;
  if (request.mode === "navigate") {
    event.respondWith(shellPage(request));
    return;
  }
  event.respondWith(cachedOrNetwork(request));
});

async function shellPage(request) {
  const cache = await caches.open(CACHE_NAME);
  const url = new URL(request.url);
  if (url.pathname === "/" || url.pathname === "/index.html") {
    const cached = await cache.match("/");
    if (cached) return cached;
  }
  try {
    return await fetch(request);
  } catch (error) {
    const fallback = await cache.match("/");
    if (fallback) return fallback;
    throw error;
  }
}

async function cachedOrNetwork(request) {
  const cache = await caches.open(CACHE_NAME);
  const cached = await cache.match(request, { ignoreSearch: true });
  return cached || fetch(request);
}

function samePageUrl(url) {
  try {
    const target = new URL(url || "/#/card", self.location.origin);
    return target.origin === self.location.origin ? target.href : `${self.location.origin}/#/card`;
  } catch {
    return `${self.location.origin}/#/card`;
  }
}

self.addEventListener("push", (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch {
    message = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    self.registration.showNotification(message.title || "Loyalty Wallet", {
      body: message.body || "",
      icon: "/pwa/icons/icon-192.png",
      badge: "/pwa/icons/maskable-192.png",
      data: { url: samePageUrl(message.url) },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = samePageUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        if (new URL(client.url).origin === self.location.origin) {
          await client.focus();
          if ("navigate" in client) await client.navigate(url);
          return;
        }
      }
      await self.clients.openWindow(url);
    })(),
  );
});
