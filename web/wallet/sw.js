// sw.js - the wallet's service worker: caches the app shell (this
// directory's pages, styles, scripts, icons, and the JS client) so the
// wallet opens offline, and never anything under /v1/ (balances, bills and
// sessions always come from the node). The shell is served network-first,
// so a new version is picked up at once when online.
const CACHE = "quipu-wallet-v1";
const SHELL = ["./", "index.html", "style.css", "app.js", "api.js", "ui.js", "state.js",
  "errors.js", "bills.js", "sheet.js", "send.js", "paycode.js", "scan.js", "icon.svg",
  "icon-192.png", "manifest.webmanifest", "/clients/js/quipu.mjs"];

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE)
    .then((c) => Promise.all(SHELL.map((u) => c.add(u).catch(() => {}))))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

function isShell(url) {
  if (url.origin !== self.location.origin) return false;
  if (url.pathname.startsWith("/v1/")) return false;
  const scope = new URL(self.registration.scope).pathname;
  return url.pathname.startsWith(scope) || url.pathname === "/clients/js/quipu.mjs";
}

self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || !isShell(url)) return; // the network, uncached
  e.respondWith(fetch(e.request).then((res) => {
    if (res.ok) {
      const copy = res.clone();
      caches.open(CACHE).then((c) => c.put(e.request, copy));
    }
    return res;
  }).catch(() => caches.match(e.request, { ignoreSearch: true })));
});
