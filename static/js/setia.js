/* Setia's small progressive enhancements. Every page works without them. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // A select marked data-autosubmit submits its form when the choice changes
  // (the language switch); its submit button stays for people without JS.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
      target.form.requestSubmit ? target.form.requestSubmit() : target.form.submit();
    }
  });

  // A form or button marked data-confirm asks before it goes ahead.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var question = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    // One click, one submission: a double click must not post a form twice.
    if (form.hasAttribute("data-submitted")) {
      event.preventDefault();
      return;
    }
    if ((form.method || "").toLowerCase() === "post") {
      form.setAttribute("data-submitted", "");
    }
  });

  // A page restored from the back-forward cache may be submitted again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitted]").forEach(function (form) {
      form.removeAttribute("data-submitted");
    });
  });
})();
