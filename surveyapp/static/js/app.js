// Progressive enhancement only: every page works without JavaScript.
(function () {
  "use strict";
  // The language link on a page with a form posts the form, so typed text is kept
  // (the server re-shows the same page in the other language with what was typed).
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-switch-lang]");
    var form = document.querySelector("form[data-lang-switch-form]");
    if (!link || !form) { return; }
    event.preventDefault();
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "_switch_lang";
    input.value = link.getAttribute("data-switch-lang");
    form.appendChild(input);
    form.submit();
  });
  // Move focus to the error summary so screen readers hear it first.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
  });
})();
