/* The segment builder's live count and preview: on each change the form is
   posted as it stands to the preview endpoint, and its answer replaces the
   count and the first members. Without JavaScript, "Preview members" does it. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-segment-preview-url]");
  if (!form) { return; }
  var count = document.querySelector("[data-segment-count]");
  var list = document.querySelector("[data-segment-preview]");
  var timer = null;
  var latest = 0;

  function show(answer) {
    if (answer.count === null) {
      count.textContent = answer.errors.join(" ");
      return;
    }
    count.textContent = answer.count_label || String(answer.count);
    list.textContent = "";
    answer.members.forEach(function (member) {
      var item = document.createElement("li");
      item.textContent = member.name + " · " + member.card_number + (member.tier ? " · " + member.tier : "");
      list.appendChild(item);
    });
  }

  function refresh() {
    var asked = ++latest;
    fetch(form.getAttribute("data-segment-preview-url"), {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) { return response.json(); })
      .then(function (answer) { if (asked === latest) { show(answer); } })
      .catch(function () { /* the Preview button still works */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  }
  form.addEventListener("change", later);
  form.addEventListener("input", later);
})();
