/* The referral page's "Copy link" button: shown only when the clipboard can
   be used; without JavaScript the link stays in its read-only field. */
(function () {
  "use strict";
  var button = document.querySelector("[data-copy-target]");
  if (!button || !navigator.clipboard) {
    return;
  }
  var field = document.getElementById(button.getAttribute("data-copy-target"));
  var status = document.querySelector("[data-copy-status]");
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(field.value).then(function () {
      if (status) {
        status.textContent = button.getAttribute("data-copied");
      }
    }, function () {
      field.select();
    });
  });
})();
