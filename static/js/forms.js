// Forms that say what is wrong. After a failed submit the page opens with
// the error summary ("There is a problem", templates/_macros.html): it takes
// the focus, so a screen reader reads it first and the keyboard starts there.
// A page with no summary but an error message at its top (a refusal after a
// redirect) focuses that message instead. A link of the summary moves the
// focus to its field, opening the folded section that holds it: a plain
// "#id" link would only scroll, and not into a closed <details>. Without
// JavaScript the summary and its links still work, less conveniently.
"use strict";
(function () {
  var summary = document.querySelector("[data-error-summary]");
  var first = summary || document.querySelector(".flash.error");
  if (first) {
    first.setAttribute("tabindex", "-1");  // focusable by script, not a tab stop
    first.focus();
  }
  if (!summary) { return; }

  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    var field = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!field) { return; }
    event.preventDefault();
    for (var fold = field.closest("details"); fold; fold = fold.parentElement.closest("details")) {
      fold.open = true;
    }
    // The label (or the group's legend) in view above the field, as people read them.
    var label = document.querySelector("label[for='" + CSS.escape(field.id) + "']");
    var group = field.closest("fieldset");
    var top = (field.type === "radio" || field.type === "checkbox") && group ?
      group.querySelector("legend") || group : label || field;
    top.scrollIntoView();
    field.focus({ preventScroll: true });
  });
}());
