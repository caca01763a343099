// The console works without this file; it only helps: it finishes signing out at the identity
// provider without a second click, says a form is waiting for convening's answer (and stops a
// second submission meanwhile), and asks for a reason when an answer needs one.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var leaving = document.querySelector("form[data-autosubmit]");
    if (leaving) { leaving.submit(); return; }
    document.querySelectorAll("main form, header form").forEach(function (form) {
      if (form.id === "open-form") { return; }
      form.addEventListener("submit", function () {
        var button = form.querySelector("button[type=submit]");
        if (button) {
          button.disabled = true;
          button.textContent = "Waiting for the answer…";
        }
      });
    });
    document.querySelectorAll("select[data-reason-required]").forEach(function (select) {
      var needs = select.getAttribute("data-reason-required").split(" ");
      var reason = select.form && select.form.querySelector("input[name=reason]");
      if (!reason) { return; }
      var update = function () { reason.required = needs.indexOf(select.value) >= 0; };
      select.addEventListener("change", update);
      update();
    });
  });
}());
