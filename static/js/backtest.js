/* A running back-test's (or import's) progress bar: polls the run's status
   endpoint and moves the bar; when the run is over ("finished", or status
   done or failed), reloads the page to show the result.
   Without JavaScript the page reloads itself (a <noscript> refresh). */
(function () {
  "use strict";
  var panel = document.querySelector("[data-backtest-status-url]");
  if (!panel) { return; }
  var url = panel.getAttribute("data-backtest-status-url");
  var bar = panel.querySelector("[data-backtest-progress]");
  var label = panel.querySelector("[data-backtest-label]");

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer) { window.setTimeout(poll, 5000); return; }
        bar.value = answer.percent;
        bar.textContent = answer.percent + " %";
        label.textContent = answer.label;
        if (answer.finished || answer.status === "done" || answer.status === "failed") {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 500);
}());
