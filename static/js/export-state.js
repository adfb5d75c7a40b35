// A thread export being prepared (templates/messages/export.html): ask the
// portal every few seconds how it stands, and reload the page once it is no
// longer being prepared, so it shows the download link (or why not).
// Without JavaScript, the page's "Check again" link does the same.
"use strict";
(function () {
  var status = document.querySelector("[data-export-url]");
  var every = 2000, tries = 300;  // ten minutes, then the page is left as it is
  if (!status) { return; }

  function ask() {
    if (tries-- <= 0) { return; }
    fetch(status.dataset.exportUrl, {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (state && state.state !== "preparing") { window.location.reload(); return; }
        setTimeout(ask, every);
      })
      .catch(function () { setTimeout(ask, every); });  // offline for a moment
  }
  setTimeout(ask, every);
})();
