// Questions that apply only after a given answer on the same page
// (data-shown-if names the controlling field, data-shown-values the answers
// that show it): hidden, and their fields disabled so nothing of them is
// sent, until that answer is chosen. Without JavaScript every question is
// shown with a hint saying when to answer it, and the server checks.
"use strict";
(function () {
  var form = document.querySelector(".questionnaire-form");
  if (!form) { return; }
  var dependents = form.querySelectorAll("[data-shown-if]");
  if (!dependents.length) { return; }

  function answer(name) {
    var fields = form.querySelectorAll("[name='" + CSS.escape(name) + "']");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if ((field.type === "radio" || field.type === "checkbox")) {
        if (field.checked) { return field.value; }
      } else {
        return field.value;
      }
    }
    return "";
  }

  function update() {
    dependents.forEach(function (block) {
      var wanted = block.getAttribute("data-shown-values").split(" ");
      var shown = wanted.indexOf(answer(block.getAttribute("data-shown-if"))) !== -1;
      block.hidden = !shown;
      block.querySelectorAll("input, select, textarea, button").forEach(function (field) {
        field.disabled = !shown;
      });
      var hint = block.querySelector(".condition");
      if (hint) { hint.hidden = true; }  // the script does what the hint says
    });
  }

  form.addEventListener("change", update);
  update();
})();
