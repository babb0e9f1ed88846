// The mailing form: whenever its targets change ("all my clients", lists, segments,
// clients), asks the server how many recipients they make and shows the answer
// under the targets, before anything is saved.
// Admin media scripts load in <head>, before the form exists: start once it does.
(function (start) {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})(function () {
  "use strict";
  const form = document.querySelector("#mailing_form");
  if (!form) {
    return;
  }
  const url = form.dataset.recipientCountUrl ||
    window.location.pathname.replace(/(add|\d+\/change)\/?$/, "recipient-count/");
  const names = ["to_all_clients", "lists", "segments", "clients"];
  const anchor = form.querySelector(".field-to_all_clients, .form-row.field-lists");
  if (!anchor) {
    return;
  }
  const box = document.createElement("p");
  box.setAttribute("aria-live", "polite");
  box.setAttribute("data-recipient-count", "");
  box.className = "font-semibold px-3 py-2";
  anchor.before(box);
  const match = window.location.pathname.match(/\/(\d+)\/change\/?$/);

  function refresh() {
    const params = new URLSearchParams();
    for (const name of names) {
      const field = form.elements.namedItem(name);
      if (!field) {
        continue;
      }
      if (field.type === "checkbox") {
        if (field.checked) params.append(name, "on");
      } else if (field.options) {
        for (const option of field.selectedOptions) params.append(name, option.value);
        // The field is on the form: its (maybe empty) choice is the whole answer.
        params.append(name + "_field", "1");
      }
    }
    if (match) params.append("mailing", match[1]);
    fetch(url + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => (response.ok ? response.json() : Promise.reject(response)))
      .then((result) => {
        box.textContent = result.text;
      })
      .catch(() => {});
  }

  form.addEventListener("change", (event) => {
    if (names.includes(event.target.name)) refresh();
  });
  // Select2 (the clients autocomplete) reports its changes through jQuery only.
  if (window.django && window.django.jQuery) {
    window.django.jQuery(form).on("select2:select select2:unselect", refresh);
  }
  refresh();
});
