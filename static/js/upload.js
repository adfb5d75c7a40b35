// Progressive enhancement for the upload form: refuse a file that is too
// large, or more files than one upload carries, before anything is sent,
// which spares a phone on a slow line from sending hundreds of megabytes
// only to be refused. The server checks again.
"use strict";
document.querySelectorAll("form.upload").forEach(function (form) {
  var input = form.querySelector("input[type=file]");
  var error = form.querySelector("p.error[role=alert]");
  var max = Number(form.dataset.maxBytes);
  var remaining = Number(form.dataset.remainingBytes);
  var maxFiles = Number(form.dataset.maxFiles);
  function check() {
    var total = 0, message = "";
    Array.prototype.forEach.call(input.files, function (file) {
      total += file.size;
      if (!message && file.size > max) {
        message = error.dataset.tooLarge.replace("{name}", file.name);
      }
    });
    if (!message && total > remaining) { message = error.dataset.noRoom; }
    if (!message && input.files.length > maxFiles) {
      message = error.dataset.tooMany.replace("{chosen}", String(input.files.length));
    }
    error.textContent = message;
    error.hidden = !message;
    input.setCustomValidity(message);
    return !message;
  }
  input.addEventListener("change", check);
  form.addEventListener("submit", function (event) {
    if (!check()) { event.preventDefault(); }
  });
});
