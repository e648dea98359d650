// Batch page: a progress bar that follows the scoring, then the histogram of PDs.
(function () {
  "use strict";

  var ZONES = { APPROVE: "#6cc08b", REFER: "#f3c969", REJECT: "#e5837b" };

  function follow(card) {
    var url = card.getAttribute("data-status-url");
    var bar = card.querySelector("[data-progress-bar]");
    var text = card.querySelector("[data-progress-text]");
    var holder = card.querySelector("[role=progressbar]");
    function show(p) {
      bar.style.width = p.percent + "%";
      holder.setAttribute("aria-valuenow", p.percent);
      text.textContent = p.processed + " of " + p.total_rows + " rows processed";
      var counts = { decided: p.decided, invalid: p.invalid, failed: p.failed };
      Object.keys(p.outcomes).forEach(function (k) { counts[k] = p.outcomes[k]; });
      Object.keys(counts).forEach(function (k) {
        var el = card.querySelector('[data-count="' + k + '"]');
        if (el) el.textContent = counts[k];
      });
    }
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) {
          // Signed out meanwhile: the reload shows the sign-in page.
          if (r.redirected) { window.location.reload(); return new Promise(function () {}); }
          if (!r.ok) throw new Error(r.status);
          return r.json();
        })
        .then(function (p) {
          show(p);
          if (p.finished) { window.location.reload(); return; }
          window.setTimeout(tick, 1000);
        })
        .catch(function () {
          text.textContent = "Cannot reach the server; retrying\u2026";
          window.setTimeout(tick, 3000);
        });
    }
    window.setTimeout(tick, 600);
  }

  function histogram() {
    var canvas = document.getElementById("pd-histogram");
    var source = document.getElementById("histogram-data");
    if (!canvas || !source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{
          label: "Applications",
          data: data.counts,
          backgroundColor: data.zones.map(function (z) { return ZONES[z]; }),
          barPercentage: 1.0,
          categoryPercentage: 0.96
        }]
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { title: { display: true, text: "probability of default" }, grid: { display: false },
               ticks: { maxRotation: 60, autoSkip: true } },
          y: { title: { display: true, text: "applications" }, beginAtZero: true, ticks: { precision: 0 } }
        }
      }
    });
  }

  // The same colours as the band swatches in credscope.css (.band-*).
  var BANDS = { VERY_LOW: "#1e7b4f", LOW: "#5a9a3c", MEDIUM: "#b88a00", HIGH: "#c25e12", VERY_HIGH: "#b3261e" };

  function bandChart() {
    var canvas = document.getElementById("band-chart");
    var source = document.getElementById("band-data");
    if (!canvas || !source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{
          label: "Scored rows",
          data: data.counts,
          backgroundColor: data.bands.map(function (b) { return BANDS[b]; }),
          borderRadius: 3
        }]
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { title: { display: true, text: "risk band" }, grid: { display: false } },
          y: { title: { display: true, text: "applications" }, beginAtZero: true, ticks: { precision: 0 } }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var card = document.getElementById("batch-progress");
    if (card && card.getAttribute("data-status-url")) follow(card);
    histogram();
    bandChart();
  });
})();
