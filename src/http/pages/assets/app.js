// Progressive enhancement only: every page works without this file.
// Copy buttons: <button data-copy="ID"> copies the value of the element with that id.
(function () {
  "use strict";
  function copied(button) {
    var note = button.parentNode.querySelector(".copy-done");
    if (!note) {
      note = document.createElement("span");
      note.className = "copy-done";
      note.setAttribute("role", "status");
      button.parentNode.insertBefore(note, button.nextSibling);
    }
    note.textContent = "Copied";
    button.setAttribute("data-copied", "true");
  }
  function fallback(field, button) {
    field.focus();
    field.select();
    try {
      if (document.execCommand("copy")) { copied(button); }
    } catch (e) { /* the text stays selected for the user to copy */ }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    var text = field.value !== undefined ? field.value : field.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, function () { fallback(field, button); });
    } else {
      fallback(field, button);
    }
  });
  var buttons = document.querySelectorAll("[data-copy]");
  for (var i = 0; i < buttons.length; i++) { buttons[i].hidden = false; }
})();

// The verify page: a print button, drag and drop onto the upload form, and the wallet
// request's answer (the page reloads when the request stops being pending; without
// this script, the page's refresh link does the same).
(function () {
  "use strict";
  var print = document.querySelectorAll("[data-print]");
  for (var i = 0; i < print.length; i++) {
    print[i].hidden = false;
    print[i].addEventListener("click", function () { window.print(); });
  }

  var zones = document.querySelectorAll("[data-dropzone]");
  for (var j = 0; j < zones.length; j++) {
    (function (zone) {
      var input = zone.querySelector("input[type=file]");
      var hint = zone.querySelector(".drop-hint");
      if (!input || typeof DataTransfer === "undefined") { return; }
      if (hint) { hint.hidden = false; }
      function over(on) { zone.setAttribute("data-over", on ? "true" : "false"); }
      zone.addEventListener("dragover", function (e) { e.preventDefault(); over(true); });
      zone.addEventListener("dragleave", function () { over(false); });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        over(false);
        if (!e.dataTransfer || !e.dataTransfer.files || e.dataTransfer.files.length === 0) { return; }
        var dt = new DataTransfer();
        dt.items.add(e.dataTransfer.files[0]);
        input.files = dt.files;
        if (input.form) {
          if (input.form.requestSubmit) { input.form.requestSubmit(); } else { input.form.submit(); }
        }
      });
    })(zones[j]);
  }

  var req = document.querySelector("[data-poll][data-request-state=pending]");
  if (!req || !window.fetch) { return; }
  var url = req.getAttribute("data-poll");
  var tries = 0;
  function poll() {
    tries += 1;
    fetch(url, { headers: { "Accept": "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.state && body.state !== "pending") {
          window.location.reload();
          return;
        }
        // Every 2 s for the first minutes, then every 10 s; the request expires anyway.
        window.setTimeout(poll, tries < 90 ? 2000 : 10000);
      }, function () { window.setTimeout(poll, 10000); });
  }
  window.setTimeout(poll, 2000);
})();

// The console's CSV award in progress: the bar moves as rows are awarded, and the
// page reloads with the results when it is done (without this script, the page's
// refresh link does the same).
(function () {
  "use strict";
  var box = document.querySelector("[data-job-poll][data-job-state=running]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-job-poll");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress]");
  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { window.setTimeout(poll, 5000); return; }
        if (bar) { bar.max = body.total; bar.value = body.done; bar.textContent = body.done + " of " + body.total; }
        if (text) { text.textContent = body.done + " of " + body.total + " done."; }
        if (body.state === "done") { window.location.reload(); return; }
        window.setTimeout(poll, 1000);
      }, function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
