// The live progress of a run on a mailing's or an attempt's page: asks its JSON
// endpoint every two seconds, updates the counts and the bar, and once the run has
// ended reloads the page (once) so the state and the list of runs are current.
(function () {
  "use strict";
  const box = document.querySelector("[data-run-progress]");
  if (!box || !box.dataset.runProgress) {
    return;
  }
  const url = box.dataset.runProgress;
  const bar = box.querySelector("[data-progress-bar]");
  const fields = ["sent", "failed", "skipped", "pending", "total", "text", "state_label"];
  let failures = 0;

  function show(progress) {
    for (const name of fields) {
      const element = box.querySelector('[data-progress="' + name + '"]');
      if (element && progress[name] !== undefined && progress[name] !== null) {
        element.textContent = String(progress[name]);
      }
    }
    if (bar) {
      bar.value = progress.percent;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response)))
      .then((progress) => {
        failures = 0;
        show(progress);
        box.dataset.runState = progress.running ? "running" : "done";
        if (progress.running) {
          window.setTimeout(poll, 2000);
        } else {
          window.location.reload();
        }
      })
      .catch(() => {
        // A 404 (deleted, or no longer yours) or the server gone: stop after a few.
        failures += 1;
        if (failures < 5) {
          window.setTimeout(poll, 5000);
        }
      });
  }

  window.setTimeout(poll, 2000);
})();
