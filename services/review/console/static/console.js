// The console works without this script; it only saves a click. A filter form marked data-autosubmit is
// sent as soon as one of its choices changes (its button stays, for keyboards and for no script at all).
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-autosubmit]")) {
    for (const select of form.querySelectorAll("select")) {
      select.addEventListener("change", () => form.requestSubmit());
    }
  }
  // A decision form is sent once: a second click while the first is on its way would only meet a conflict.
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button[type=submit]")) {
        button.setAttribute("aria-disabled", "true");
        setTimeout(() => { button.disabled = true; }, 0);
      }
    });
  }
});
