// Resumable uploads for phones on slow lines: where the page says the portal
// has a tus endpoint (data-tus), Uppy's Dashboard takes the place of the plain
// upload form's file input and sends each file so that it survives a lost
// connection and a closed tab. Without JavaScript, or if the vendored bundle
// (static/vendor/uppy/uppy.min.js, window.PortalUppy) did not load, the plain
// form works as before.
//
// The server's side, in short: POST <data-tus> creates an upload from the
// metadata filename, form (the plain form's path, from which the server finds
// the case and what the file is for), submission_id and, for a message,
// client_key; PATCHes carry the chunks; once the last one is in, the server
// stores the file in the background and GET <upload url> (JSON) says
// {"state": "saving" | "saved" | "failed", "message": "..."}.
"use strict";
(function () {
  var P = window.PortalUppy;
  if (!P || !window.fetch || !window.URL) { return; }

  var RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];
  var SAVE_POLL_MS = 1000;
  var SAVE_POLL_TRIES = 120; // about two minutes
  var ERRORS_KEY = "portal-uploader-errors:"; // + form path, in sessionStorage

  /** The settings a form or the page's #uploader-config carries. */
  function settings(element) {
    var data = element.dataset;
    var strings = {};
    try { strings = JSON.parse(data.strings || "{}"); } catch (e) { strings = {}; }
    return {
      endpoint: new URL(data.tus, window.location.href).href,
      chunk: Number(data.tusChunk) || Infinity, // the whole file, unless the server caps it
      maxBytes: Number(data.maxBytes),
      maxFiles: Number(data.maxFiles) || 1,
      remaining: Number(data.remainingBytes),
      accept: (data.accept || "").split(",").map(function (t) { return t.trim(); })
        .filter(Boolean),
      csrf: data.csrf || "",
      submissionId: data.submissionId || "",
      strings: strings
    };
  }

  /** ``template`` with each {key} replaced by ``values[key]`` (one pass, so a
   * file name holding "{message}" stays as it is). */
  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  function pathOf(url) {
    return new URL(url, window.location.href).pathname;
  }

  /** Uppy's own strings in the page's language (English is built in). */
  function uppyLocale() {
    var lang = (document.documentElement.lang || "en").toLowerCase().split(/[-_]/)[0];
    return P.locales[lang];
  }

  /** What to tell the person about a failed tus request: the server's own
   * words (a plain-text body in their language, e.g. a 413 or 415), else ours. */
  function serverMessage(error, strings) {
    var response = error && error.originalResponse;
    if (!response) { return strings.connection || null; }
    var status = response.getStatus();
    var type = response.getHeader("Content-Type") || "";
    var body = String(response.getBody() || "").trim();
    if (body && /^text\/plain/i.test(type) && body.length < 1000) { return body; }
    if (status === 403 || status === 404) { return strings.notAllowed; }
    if (status === 410) { return strings.expired; }
    return strings.refused;
  }

  /** Whether tus-js-client gives up on this status for good (as Uppy's Tus does). */
  function isFinal(status) {
    return status >= 400 && status < 500 && status !== 409 && status !== 423 && status !== 429;
  }

  /** Ask the upload's address until the server says the file was saved or
   * not (or about two minutes pass). Resolves with its JSON answer, or
   * {state: "saving"} on time-out, or {state: "unknown"} if the upload is gone. */
  function waitForSave(url) {
    var tries = 0;
    return new Promise(function (resolve) {
      function ask() {
        tries += 1;
        fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin",
                    cache: "no-store"})
          .then(function (response) {
            if (response.status >= 400 && response.status < 500) { return {state: "unknown"}; }
            var type = response.headers.get("Content-Type") || "";
            return response.ok && type.indexOf("json") >= 0 ? response.json() : null;
          })
          .catch(function () { return null; }) // offline for a moment: ask again
          .then(function (answer) {
            var state = answer && answer.state;
            if (state === "saved" || state === "failed" || state === "unknown") {
              resolve(answer);
            } else if (tries >= SAVE_POLL_TRIES) {
              resolve({state: "saving"});
            } else {
              window.setTimeout(ask, SAVE_POLL_MS);
            }
          });
      }
      ask();
    });
  }

  // What went wrong, kept across the reload that shows the server's list.
  function keepErrors(formPath, lines) {
    if (!lines.length) { return; }
    try { window.sessionStorage.setItem(ERRORS_KEY + formPath, JSON.stringify(lines)); }
    catch (e) { /* private browsing: the reload shows the list without them */ }
  }

  function takeErrors(formPath) {
    try {
      var kept = window.sessionStorage.getItem(ERRORS_KEY + formPath);
      window.sessionStorage.removeItem(ERRORS_KEY + formPath);
      return kept ? JSON.parse(kept) : [];
    } catch (e) { return []; }
  }

  /** Show ``lines`` in ``alert`` (a role=alert paragraph), one a line. */
  function showLines(alert, lines) {
    alert.textContent = "";
    lines.forEach(function (line, i) {
      if (i) { alert.appendChild(document.createElement("br")); }
      alert.appendChild(document.createTextNode(line));
    });
    alert.hidden = !lines.length;
  }

  /**
   * One Uppy for one target (a form's path): restrictions from ``cfg``, tus
   * with resumption, and the wait for the server's save. ``options.onSettled``
   * runs once every file is saved, failed or refused for good.
   */
  function makeUppy(cfg, formPath, options) {
    var strings = cfg.strings;
    var meta = {form: formPath, submission_id: cfg.submissionId};
    if (options.clientKey) { meta.client_key = options.clientKey; }
    // The id is part of each file's id and so of its resumption fingerprint:
    // the same file added again for the same target resumes where it stopped
    // (a message's files only on its own page: another page is another message).
    var uppy = new P.Uppy({
      id: "portal:" + formPath + (options.clientKey ? ":" + options.clientKey : ""),
      autoProceed: false,
      locale: uppyLocale(),
      meta: meta,
      restrictions: {
        maxFileSize: Math.max(cfg.maxBytes, 1),
        maxNumberOfFiles: cfg.maxFiles,
        maxTotalFileSize: Math.max(cfg.remaining, 1), // 0 would mean "no limit"
        allowedFileTypes: cfg.accept.length ? cfg.accept : null
      }
    });
    var outcome = {}; // file id -> "saved" | "failed" | "saving" | "unknown" | "refused"
    var errors = {}; // file id -> what went wrong, shown in options.alert too

    function showErrors() {
      if (options.alert) {
        showLines(options.alert, Object.keys(errors).map(function (id) { return errors[id]; }));
      }
    }
    /** Note what went wrong with ``file``: the server's or our ``reason``, or
     * (``line``) a whole sentence that names the file already. */
    function fileFailed(file, reason, line) {
      errors[file.id] = line || fill(strings.fileError, {name: file.name, message: reason});
      showErrors();
    }

    uppy.on("file-added", function (file) {
      uppy.setFileMeta(file.id, {filename: file.name});
    });
    uppy.on("upload-start", function (files) {
      files.forEach(function (file) { delete outcome[file.id]; delete errors[file.id]; });
      showErrors();
    });
    uppy.on("file-removed", function (file) {
      if (file && errors[file.id]) { delete errors[file.id]; showErrors(); }
    });
    uppy.on("upload-error", function (file, error, response) {
      if (!file) { return; }
      if (response && isFinal(response.status)) { outcome[file.id] = "refused"; }
      var message = (error && error.message) || strings.refused;
      fileFailed(file, message);
      // Uppy's notice says "Failed to upload <name>" and hides the reason
      // behind a hover tooltip, which a phone never shows: name the reason.
      var info = uppy.getState().info || [];
      var last = info[info.length - 1];
      if (last && last.type === "error" && String(last.details || "").indexOf(message) === 0) {
        uppy.setState({info: info.slice(0, -1).concat([{type: "error", details: null,
          message: errors[file.id]}])});
      }
    });

    uppy.use(P.Dashboard, options.dashboard);
    // Uppy draws a single file's row (role=listitem) in a container without
    // role=list, which screen readers then misreport; give it the role.
    uppy.on("state-update", function () {
      window.requestAnimationFrame(function () {
        document.querySelectorAll(".uppy-Dashboard-files:not([role])").forEach(function (el) {
          el.setAttribute("role", "list");
        });
      });
    });
    uppy.use(P.Tus, {
      endpoint: cfg.endpoint,
      chunkSize: cfg.chunk, // a dropped PATCH keeps what arrived: resumable from there
      retryDelays: RETRY_DELAYS,
      removeFingerprintOnSuccess: true,
      headers: {"X-CSRFToken": cfg.csrf},
      allowedMetaFields: ["filename"].concat(Object.keys(meta)), // nothing else leaves
      limit: 1, // one file at a time: on a slow line the first arrives sooner
      onError: function (error) {
        var message = serverMessage(error, strings);
        if (message) { error.message = message; }
      }
    });

    // After the last chunk the server stores the file: "Saving…" until it says.
    uppy.addPostProcessor(function (fileIDs) {
      return Promise.all(fileIDs.map(function (id) {
        var file = uppy.getFile(id);
        if (!file || file.error || !file.uploadURL) { return null; }
        uppy.emit("postprocess-progress", file, {mode: "indeterminate", message: strings.saving});
        return waitForSave(file.uploadURL).then(function (answer) {
          var current = uppy.getFile(id);
          if (!current) { return; }
          outcome[id] = answer.state;
          uppy.emit("postprocess-complete", current);
          if (answer.state === "saved") {
            uppy.info(fill(strings.saved, {name: current.name}), "success", 3000);
          } else if (answer.state === "failed") {
            var notSaved = fill(strings.notSaved, {name: current.name});
            uppy.setFileState(id, {error: answer.message || notSaved});
            fileFailed(current, answer.message, answer.message ? "" : notSaved);
            uppy.info(errors[id], "error", 10000);
          }
        });
      }));
    });

    /** Every file done with, and at least one reached the server's list? */
    function checkSettled() {
      var files = uppy.getFiles();
      var open = files.some(function (file) { return !outcome[file.id]; });
      // Reached the server's list: any file not refused, even one removed since.
      var arrived = Object.keys(outcome).some(function (id) { return outcome[id] !== "refused"; });
      if (open || !(arrived || options.alwaysSettle())) { return; }
      var lines = [];
      files.forEach(function (file) {
        var state = outcome[file.id];
        if ((state === "failed" || state === "refused") && errors[file.id]) {
          lines.push(errors[file.id]);
        } else if (state === "saving") {
          lines.push(fill(strings.stillSaving, {name: file.name}));
        }
      });
      keepErrors(formPath, lines);
      options.onSettled();
    }
    uppy.on("complete", checkSettled);
    uppy.on("file-removed", checkSettled);
    return uppy;
  }

  function reload() { window.location.reload(); }

  /** Show what went wrong with the uploads before the last reload, if anything. */
  function showKeptErrors(formPath, alert) {
    var lines = takeErrors(formPath);
    if (lines.length) { showLines(alert, lines); }
  }

  /** A plain upload form (documents, a new version, a request, a message). */
  function enhanceForm(form) {
    var cfg = settings(form);
    var input = form.querySelector("input[type=file]");
    var submit = form.querySelector("button[type=submit]");
    var alert = form.querySelector("p.error[role=alert]");
    var keyInput = form.querySelector("input[name=client_key]");
    if (!input || !submit) { return; }
    var isMessage = Boolean(keyInput);
    var formPath = pathOf(form.action);
    if (alert) { showKeptErrors(formPath, alert); }

    var target = document.createElement("div");
    target.className = "uploader";
    // The form's label and hint now name the Dashboard instead of the hidden input.
    var label = form.querySelector("label[for='" + input.id + "']");
    if (label) {
      label.id = label.id || input.id + "-label";
      target.setAttribute("role", "group");
      target.setAttribute("aria-labelledby", label.id);
    }
    if (input.getAttribute("aria-describedby")) {
      target.setAttribute("aria-describedby", input.getAttribute("aria-describedby"));
    }
    input.parentNode.insertBefore(target, input.nextSibling);
    var textSent = false;
    var uppy = makeUppy(cfg, formPath, {
      clientKey: isMessage ? keyInput.value : "",
      alert: alert,
      alwaysSettle: function () { return textSent; }, // the message is there: show it
      onSettled: reload,
      dashboard: {
        inline: true,
        target: target,
        width: "100%",
        height: cfg.maxFiles > 1 ? 320 : 260,
        proudlyDisplayPoweredByUppy: false,
        disableThumbnailGenerator: true,
        hideProgressDetails: false, // time left (Uppy 5+: showProgressDetails is the default)
        hideUploadButton: isMessage, // a message's files go with its Send button
        doneButtonHandler: reload
      }
    });
    // The plain input and button step aside (the label and hint stay).
    input.hidden = true;
    input.disabled = true;
    input.required = false;
    if (!isMessage) { submit.hidden = true; return; }

    var body = form.querySelector("textarea");
    var busy = false;
    form.addEventListener("submit", function (event) {
      if (!uppy.getFiles().length) {
        // No files: the form goes as it always did, without Uppy's own inputs.
        target.querySelectorAll("input").forEach(function (i) { i.disabled = true; });
        return;
      }
      event.preventDefault();
      if (busy) { return; }
      busy = true;
      submit.disabled = true;
      if (alert) { showLines(alert, []); }
      var sent = textSent ? Promise.resolve() : sendText(form, cfg.strings).then(function () {
        textSent = true;
        if (body) { body.readOnly = true; }
      });
      sent.then(function () { return uppy.upload(); })
        .catch(function (error) {
          var message = (error && error.message) || cfg.strings.messageFailed;
          if (alert) { showLines(alert, [message]); }
          uppy.info(message, "error", 10000);
        })
        .then(function () { busy = false; submit.disabled = false; });
    });
  }

  /** Post the message's fields (no files) as the plain form would; resolves
   * once the server stored it (it answers with a redirect to the thread),
   * rejects with the server's flashed error or our own. */
  function sendText(form, strings) {
    var fields = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string") { fields.append(name, value); }
    });
    return fetch(form.action, {method: "POST", body: fields, credentials: "same-origin",
                               headers: {Accept: "text/html"}})
      .then(function (response) {
        if (response.ok && response.redirected) { return null; }
        // Refused: the page came back with the reason flashed (a 200 without
        // a redirect), or an error page.
        return response.text().then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var flashed = Array.prototype.map.call(page.querySelectorAll("p.flash.error"),
            function (p) { return p.textContent.trim(); }).filter(Boolean);
          throw new Error(flashed.join(" ") || strings.messageFailed);
        });
      }, function () { throw new Error(strings.messageFailed); });
  }

  // "Upload" links (one line per request): the Dashboard opens in a window
  // for the link's form, with the page's settings (#uploader-config).
  var pageConfig = document.getElementById("uploader-config");
  var linkUploaders = {};

  function openForLink(link) {
    var formPath = pathOf(link.dataset.uploadForm);
    var uppy = linkUploaders[formPath];
    if (!uppy) {
      var cfg = settings(pageConfig);
      var title = link.dataset.uploadTitle || link.textContent.trim();
      uppy = makeUppy(cfg, formPath, {
        alwaysSettle: function () { return false; },
        onSettled: reload,
        dashboard: {
          inline: false,
          closeModalOnClickOutside: true,
          proudlyDisplayPoweredByUppy: false,
          disableThumbnailGenerator: true,
          hideProgressDetails: false,
          note: [fill(cfg.strings.forRequest, {title: title}), cfg.strings.limits]
            .filter(Boolean).join(" "),
          doneButtonHandler: reload
        }
      });
      linkUploaders[formPath] = uppy;
    }
    uppy.getPlugin("Dashboard").openModal();
  }

  document.querySelectorAll("form.upload[data-tus]").forEach(enhanceForm);

  if (pageConfig && pageConfig.dataset.tus) {
    document.querySelectorAll("a[data-upload-form]").forEach(function (link) {
      var lines = takeErrors(pathOf(link.dataset.uploadForm));
      if (!lines.length) { return; }
      var alert = document.createElement("p");
      alert.className = "error";
      alert.setAttribute("role", "alert");
      link.parentNode.insertBefore(alert, link.nextSibling);
      showLines(alert, lines);
    });
    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[data-upload-form]") : null;
      // A new tab or window (modifier keys, middle button) opens the plain form.
      if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey ||
          event.altKey) { return; }
      event.preventDefault();
      openForLink(link);
    });
  }
})();
