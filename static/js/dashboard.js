/* The dashboard's filters: typing a date chooses "Dates below" in the period
   list, so the dates typed are the ones shown. Without it, people choose
   "Dates below" themselves. */
(function () {
  "use strict";
  var period = document.getElementById("id_period");
  if (!period) {
    return;
  }
  ["id_date_from", "id_date_to"].forEach(function (id) {
    var field = document.getElementById(id);
    if (field) {
      field.addEventListener("change", function () {
        period.value = "custom";
      });
    }
  });
})();
