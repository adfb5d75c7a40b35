// Progressive enhancement for a message thread: while the page is open and
// visible, ask every few seconds for messages after the last one shown and
// append them, so an answer appears without a reload, and mark one's own
// messages "Read" once the other side has opened them. Without JavaScript
// the page works as before (reload to see new messages). The server renders
// the new items; polling does not count as activity for the idle timeout.
"use strict";
(function () {
  var list = document.querySelector("ol.messages[data-poll-url]");
  if (!list || !window.fetch) { return; }
  var every = (Number(list.dataset.pollSeconds) || 15) * 1000;
  var busy = false;

  function lastUuid() {
    var items = list.querySelectorAll("li.message[data-uuid]");
    return items.length ? items[items.length - 1].dataset.uuid : "";
  }

  // One's own messages up to ``until`` get the "Read" mark the page shows on a reload.
  function markRead(until) {
    var limit = until ? Date.parse(until) : NaN;
    if (isNaN(limit)) { return; }
    list.querySelectorAll("li.message.mine:not(.internal-note)").forEach(function (item) {
      var meta = item.querySelector(".meta"), time = item.querySelector("time");
      if (!meta || !time || meta.querySelector(".read-mark")) { return; }
      if (Date.parse(time.getAttribute("datetime")) > limit) { return; }
      var mark = document.createElement("span");
      mark.className = "read-mark";
      mark.textContent = list.dataset.readLabel;
      meta.append(" · ", mark);
    });
  }

  function poll() {
    if (busy || document.visibilityState === "hidden") { return; }
    busy = true;
    var url = list.dataset.pollUrl + "?after=" + encodeURIComponent(lastUuid());
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        // Signed out meanwhile (idle timeout): reload, so the sign-in page says why.
        if (response.status === 401) { window.location.reload(); }
        // Taken off the case meanwhile: stop asking, and reload to the page
        // anyone without the case gets.
        if (response.status === 404) { window.clearInterval(timer); window.location.reload(); }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) { return; }
        if (data.html) {
          var empty = list.querySelector("li.empty");
          if (empty) { empty.remove(); }
          list.insertAdjacentHTML("beforeend", data.html);
        }
        markRead(data.read_until);
      })
      .catch(function () { /* offline: try again at the next tick */ })
      .then(function () { busy = false; });
  }

  var timer = window.setInterval(poll, every);
  document.addEventListener("visibilitychange", poll);
})();
