/* Setia's service worker (served at /sw.js by loyalty.views.service_worker).
 *
 * - The member card (the portal home) works offline from the last visit:
 *   network first, the last good copy when the network fails or is slow.
 *   Static files are kept the same way, so the page looks the same offline.
 *   When installed, it fetches the card and the portal's own static files
 *   once, so the visit that installed it counts too.
 * - Only the card page and static files are kept, never another page. They are
 *   forgotten whenever someone signs in, signs up or signs out on this browser,
 *   so one member never sees another's card; signing out also unsubscribes
 *   this browser from web push.
 * - A web push message ({"title", "body", "url"}, loyalty/webpush.py) is
 *   shown as a notification; clicking it opens its url on this site.
 */
"use strict";

var CACHE = "setia-card-v1";
var CARD_URL = "{{ card_url|escapejs }}";
var STATIC_URL = "{{ static_url|escapejs }}";
var SIGN_URLS = [{% for url in sign_urls %}"{{ url|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];
var ICON_URL = "{{ icon_url|escapejs }}";
var PORTAL_FILES = [{% for url in portal_files %}"{{ url|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];
// A network slower than this shows the kept card instead (when there is one).
var NETWORK_WAIT_MS = 4000;

self.addEventListener("install", function (event) {
  self.skipWaiting();
  event.waitUntil(Promise.all([CARD_URL].concat(PORTAL_FILES).map(function (url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      return store(url, response);
    }).catch(function () { /* kept at the next visit instead */ });
  })));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) { return name !== CACHE; }).map(function (name) {
        return caches.delete(name);
      }));
    }).then(function () { return self.clients.claim(); })
  );
});

function forget() {
  return caches.delete(CACHE).then(function () {
    return self.registration.pushManager.getSubscription();
  }).then(function (subscription) {
    return subscription ? subscription.unsubscribe() : false;
  }).catch(function () { return false; });
}

// Only a page that is what it says (not the sign-in page a signed-out visit
// is redirected to) and comes from this site.
function store(key, response) {
  if (!(response.ok && !response.redirected && response.type === "basic")) return Promise.resolve();
  var copy = response.clone();
  return caches.open(CACHE).then(function (cache) { return cache.put(key, copy); });
}

function keep(key, response) {
  store(key, response);
  return response;
}

function networkFirst(request, key) {
  var network = fetch(request).then(function (response) { return keep(key, response); });
  var kept = caches.open(CACHE).then(function (cache) { return cache.match(key); });
  var slow = new Promise(function (resolve) {
    setTimeout(function () { kept.then(function (copy) { if (copy) resolve(copy); }); }, NETWORK_WAIT_MS);
  });
  var answer = network.catch(function (error) {
    return kept.then(function (copy) { if (copy) return copy; throw error; });
  });
  return Promise.race([answer, slow]);
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && SIGN_URLS.indexOf(url.pathname) !== -1) {
    // Let the request go to the server as it is; forget in the meantime.
    event.waitUntil(forget());
    return;
  }
  if (request.method !== "GET") return;
  if (url.pathname === CARD_URL && request.mode === "navigate") {
    event.respondWith(networkFirst(request, CARD_URL));
  } else if (url.pathname.indexOf(STATIC_URL) === 0) {
    event.respondWith(networkFirst(request, request));
  }
});

self.addEventListener("push", function (event) {
  var message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch (error) {
    message = {};
  }
  event.waitUntil(self.registration.showNotification(message.title || "", {
    body: message.body || "",
    icon: ICON_URL,
    data: { url: message.url || CARD_URL }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = new URL((event.notification.data && event.notification.data.url) || CARD_URL, self.location.origin);
  if (target.origin !== self.location.origin) {
    target = new URL(CARD_URL, self.location.origin);
  }
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        if (windows[i].url === target.href && "focus" in windows[i]) return windows[i].focus();
      }
      return self.clients.openWindow(target.href);
    })
  );
});
