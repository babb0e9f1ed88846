// The segment form: after each change of a rule row, posts the rows to the preview
// endpoint and shows how many clients match and the first of them, or the errors.
// Admin media scripts load in <head>, before the form exists: start once it does.
(function (start) {
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})(function () {
  "use strict";
  const table = document.querySelector("[data-segment-rules]");
  if (!table || !table.dataset.previewUrl) {
    return;
  }
  const form = table.closest("form");
  const box = document.createElement("div");
  box.setAttribute("aria-live", "polite");
  box.className = "mt-3";
  table.after(box);
  let timer = null;

  function refresh() {
    const data = new FormData();
    for (const field of form.querySelectorAll("[name^='rules-'], [name='csrfmiddlewaretoken']")) {
      data.append(field.name, field.value);
    }
    fetch(table.dataset.previewUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => response.json())
      .then((result) => {
        box.replaceChildren();
        if (result.errors) {
          for (const message of result.errors) {
            const p = document.createElement("p");
            p.className = "text-red-600";
            p.textContent = message;
            box.append(p);
          }
          return;
        }
        const count = document.createElement("p");
        count.className = "font-semibold";
        count.textContent = result.count_text;
        const list = document.createElement("ul");
        for (const client of result.preview) {
          const item = document.createElement("li");
          item.textContent = client;
          list.append(item);
        }
        box.append(count, list);
      })
      .catch(() => {});
  }

  table.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  });
  table.addEventListener("change", refresh);
  refresh();
});
