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
