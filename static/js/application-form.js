// New application form: "not employed" clears and disables the employment start date.
(function () {
  "use strict";
  var form = document.querySelector("[data-application-form]");
  if (!form) return;
  var box = form.querySelector("#id_not_employed");
  var since = form.querySelector("#id_employed_since");
  var sector = form.querySelector("#id_organization");
  if (!box || !since) return;
  function sync() {
    since.disabled = box.checked;
    if (sector) sector.disabled = box.checked;
    if (box.checked) since.value = "";
  }
  box.addEventListener("change", sync);
  sync();
})();
