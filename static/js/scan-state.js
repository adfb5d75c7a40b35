// A file being checked for viruses says so ("templates/scanning/_state.html"),
// and this asks the portal every few seconds how the check stands, then says
// the outcome in place (the element is a polite live region): "checked", or
// why the file is quarantined. Without JavaScript, reloading the page shows it.
"use strict";
(function () {
  var waiting = Array.prototype.slice.call(document.querySelectorAll("[data-scan-url]"));
  var every = 3000, tries = 200;  // ten minutes, then the page is left as it is

  function ask() {
    if (!waiting.length || tries-- <= 0) { return; }
    Promise.all(waiting.map(function (element) {
      return fetch(element.dataset.scanUrl, {credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) {
          if (!state || state.state === "scanning") { return; }
          element.textContent = state.label || element.dataset.clearedText;
          element.className = "scan-state " + state.state;
          element.removeAttribute("data-scan-url");
        })
        .catch(function () { /* offline for a moment: ask again next time */ });
    })).then(function () {
      waiting = waiting.filter(function (element) { return element.dataset.scanUrl; });
      setTimeout(ask, every);
    });
  }
  setTimeout(ask, every);
})();
