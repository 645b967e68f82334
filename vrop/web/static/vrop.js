/* Virtual ROP: small behaviours without a build step. */
(function () {
  "use strict";

  // Line formsets: "add line" clones the empty form; "remove" hides the row and ticks DELETE.
  function totalForms(formset) {
    return formset.querySelector("#id_" + formset.dataset.prefix + "-TOTAL_FORMS");
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-formset-add]");
    if (add) {
      event.preventDefault();
      var formset = document.getElementById(add.dataset.formsetAdd);
      var total = totalForms(formset);
      var index = parseInt(total.value, 10);
      var template = formset.querySelector("template");
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      formset.querySelector("[data-formset-body]").insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      return;
    }
    var remove = event.target.closest("[data-formset-remove]");
    if (remove) {
      event.preventDefault();
      var row = remove.closest(".line-row");
      var deleteBox = row.querySelector("input[name$='-DELETE']");
      if (deleteBox) { deleteBox.checked = true; }
      row.classList.add("removed");
    }
  });

  // Show the lost reason only when the chosen stage is "lost".
  document.addEventListener("change", function (event) {
    var select = event.target.closest("[data-stage-select]");
    if (!select) { return; }
    var reason = document.getElementById(select.dataset.stageSelect);
    if (reason) { reason.hidden = select.value !== "lost"; }
  });
})();
