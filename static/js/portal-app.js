/* The portal as an app (docs/web-push.md): registers the service worker
 * (/sw.js) that keeps the member card for offline use and shows web push,
 * says when the card shown is the kept one, and runs the "Notifications on
 * this device" switch of the profile page. Every page works without it. */
(function () {
  "use strict";
  var script = document.currentScript;
  var workerUrl = script && script.getAttribute("data-service-worker");
  var supported = "serviceWorker" in navigator && workerUrl;

  if (supported) {
    navigator.serviceWorker.register(workerUrl, { scope: "/" }).catch(function () {
      /* No worker: the portal still works, only not offline. */
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    offlineNote();
    pushSwitch();
  });

  function offlineNote() {
    var note = document.querySelector("[data-offline-note]");
    if (!note) return;
    function show() { note.hidden = navigator.onLine; }
    window.addEventListener("online", show);
    window.addEventListener("offline", show);
    show();
  }

  function keyBytes(base64url) {
    var base64 = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function pushSwitch() {
    var form = document.querySelector("[data-push-form]");
    if (!form) return;
    var onButton = form.querySelector("[data-push-on]");
    var offButton = form.querySelector("[data-push-off]");
    var token = form.querySelector("[name=csrfmiddlewaretoken]").value;
    var current = null;

    function show(state) {
      document.querySelectorAll("[data-push-state]").forEach(function (element) {
        element.hidden = element.getAttribute("data-push-state") !== state;
      });
      var canSwitch = state === "on" || state === "off" || state === "error";
      form.hidden = !canSwitch;
      onButton.hidden = !!current;
      offButton.hidden = !current;
      onButton.disabled = offButton.disabled = false;
    }

    function send(method, body) {
      return fetch(form.action, {
        method: method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token },
        body: JSON.stringify(body)
      }).then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response;
      });
    }

    if (!supported || !("PushManager" in window) || !("Notification" in window)) {
      show("unsupported");
      return;
    }
    if (Notification.permission === "denied") {
      show("blocked");
      return;
    }
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription().then(function (subscription) {
        current = subscription;
        show(subscription ? "on" : "off");

        form.addEventListener("submit", function (event) {
          event.preventDefault();
          form.removeAttribute("data-submitted");
          onButton.disabled = offButton.disabled = true;
          var turningOn = !current;
          var step = turningOn
            ? Notification.requestPermission().then(function (permission) {
                if (permission !== "granted") return "blocked";
                return registration.pushManager.subscribe({
                  userVisibleOnly: true,
                  applicationServerKey: keyBytes(form.getAttribute("data-vapid-key"))
                }).then(function (made) {
                  return send("POST", made.toJSON()).then(function () {
                    current = made;
                    return "on";
                  }, function (error) {
                    return made.unsubscribe().then(function () { throw error; });
                  });
                });
              })
            : send("DELETE", { endpoint: current.endpoint }).then(function () {
                return current.unsubscribe();
              }).then(function () {
                current = null;
                return "off";
              });
          step.then(show, function () { show("error"); });
        });
      });
    });
  }
})();
