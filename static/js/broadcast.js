/* A sending broadcast's progress bar (as static/js/backtest.js): polls the
   broadcast's status endpoint and moves the bar; once it is sent, reloads
   the page to show the figures. Without JavaScript the page reloads itself
   (a <noscript> refresh). */
(function () {
  "use strict";
  var panel = document.querySelector("[data-broadcast-status-url]");
  if (!panel) { return; }
  var url = panel.getAttribute("data-broadcast-status-url");
  var bar = panel.querySelector("[data-broadcast-progress]");
  var label = panel.querySelector("[data-broadcast-label]");

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer) { window.setTimeout(poll, 5000); return; }
        bar.value = answer.percent;
        bar.textContent = answer.percent + " %";
        label.textContent = answer.label;
        if (answer.status !== "sending") {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 500);
}());
