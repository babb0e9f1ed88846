// The page of a running client import: asks for its progress every second and
// reloads the page, which then shows the result, once the import has finished.
(function () {
  "use strict";
  const box = document.querySelector("[data-import-progress]");
  if (!box) {
    return;
  }
  const text = box.querySelector("[data-import-text]");
  const bar = box.querySelector("progress");

  function poll() {
    fetch(box.dataset.importProgress, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => (response.ok ? response.json() : Promise.reject(response)))
      .then((progress) => {
        if (progress.finished) {
          window.location.reload();
          return;
        }
        text.textContent = progress.text;
        if (progress.percent === null) {
          bar.removeAttribute("value");
        } else {
          bar.value = progress.percent;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(() => window.setTimeout(poll, 5000));
  }

  // A small file is often done by the time the page has loaded.
  window.setTimeout(poll, 300);
})();
