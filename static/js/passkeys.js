// Passkeys: make one on the account security page, use one at sign-in or to
// confirm it's you. The server sends WebAuthn options as JSON (binary fields
// in base64url), the browser asks the authenticator, and the answer goes back
// as JSON; the server's reply names the page to go to next, or the error.
(function () {
  "use strict";

  function fromB64url(value) {
    var text = atob(value.replace(/-/g, "+").replace(/_/g, "/"));
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer), text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
      body: body === undefined ? "{}" : JSON.stringify(body)
    }).then(function (response) {
      // Asked to confirm it's you first: the server sent a page, not JSON.
      if (response.redirected) { window.location.assign(response.url); return new Promise(function () {}); }
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.error || response.statusText);
        return data;
      });
    });
  }

  function creationOptions(options) {
    options.challenge = fromB64url(options.challenge);
    options.user.id = fromB64url(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
    return options;
  }

  function requestOptions(options) {
    options.challenge = fromB64url(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
    return options;
  }

  function credentialJSON(credential) {
    var r = credential.response, response = {clientDataJSON: toB64url(r.clientDataJSON)};
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    return {id: credential.id, rawId: toB64url(credential.rawId), type: credential.type,
            response: response, clientExtensionResults: credential.getClientExtensionResults()};
  }

  function showError(box, error) {
    var out = box.querySelector("[data-passkey-error]");
    // A cancelled or timed-out prompt is the person's choice: a short, calm line.
    out.textContent = error && error.name === "NotAllowedError"
      ? (box.getAttribute("data-cancelled") || error.message) : error.message;
    out.hidden = false;
  }

  function supported(box) {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    var note = box.querySelector("[data-passkey-unsupported]");
    if (note) note.hidden = false;
    var button = box.querySelector("button");
    if (button) button.disabled = true;
    return false;
  }

  function use(box, extra) {
    var next = new URLSearchParams(window.location.search).get("next");
    var verifyUrl = box.dataset.verifyUrl + (next ? "?next=" + encodeURIComponent(next) : "");
    return post(box.dataset.optionsUrl)
      .then(function (options) {
        return navigator.credentials.get({publicKey: requestOptions(options)});
      })
      .then(function (credential) {
        var body = extra ? extra() : {};
        body.credential = credentialJSON(credential);
        return post(verifyUrl, body);
      })
      .then(function (data) { window.location.assign(data.redirect); })
      .catch(function (error) { showError(box, error); });
  }

  document.querySelectorAll("[data-passkey-register]").forEach(function (form) {
    if (!supported(form)) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      post(form.dataset.optionsUrl)
        .then(function (options) {
          return navigator.credentials.create({publicKey: creationOptions(options)});
        })
        .then(function (credential) {
          return post(form.dataset.verifyUrl,
                      {name: form.elements.name.value, credential: credentialJSON(credential)});
        })
        .then(function (data) { window.location.assign(data.redirect); })
        .catch(function (error) { showError(form, error); });
    });
  });

  document.querySelectorAll("[data-passkey-sign-in]").forEach(function (box) {
    if (!supported(box)) return;
    box.querySelector("[data-passkey-button]").addEventListener("click", function () { use(box); });
  });

  document.querySelectorAll("[data-passkey-confirm]").forEach(function (box) {
    if (!supported(box)) return;
    box.querySelector("[data-passkey-button]").addEventListener("click", function () {
      use(box, function () {
        return {password: document.querySelector("input[name=password]").value};
      });
    });
  });
})();
