// Application page: poll the status while scoring runs, then draw each family's effect on
// the probability of default (percentage points; the server adds them up, see presentation).
(function () {
  "use strict";

  var RAISE = "#c0392b", LOWER = "#1f6fb2";

  function pollStatus(card) {
    var url = card.getAttribute("data-status-url");
    var text = card.querySelector("[data-status-text]");
    var delay = 800, started = Date.now();
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          // Signed out meanwhile: the reload shows the sign-in page.
          if (response.redirected) { window.location.reload(); return new Promise(function () {}); }
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (status) {
          if (!status.in_progress) {
            window.location.reload();
            return;
          }
          var badge = document.getElementById("application-status");
          if (badge && badge.getAttribute("data-status") !== status.status) {
            badge.textContent = status.status_label;
            badge.className = "badge badge-lg status-" + status.status.toLowerCase();
            badge.setAttribute("data-status", status.status);
          }
          schedule();
        })
        .catch(function () {
          if (text) text.textContent = "Cannot reach the server; retrying\u2026";
          schedule();
        });
    }
    function schedule() {
      // Quick at first, then gently slower; a stuck application is swept up by the server.
      delay = Math.min(delay * 1.3, 5000);
      if (Date.now() - started > 10 * 60 * 1000) {
        if (text) text.textContent = "This is taking longer than usual. Reload the page later.";
        return;
      }
      window.setTimeout(tick, delay);
    }
    window.setTimeout(tick, delay);
  }

  function drawContributions() {
    var canvas = document.getElementById("contributions-chart");
    var source = document.getElementById("contributions-data");
    if (!canvas || !source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    // On a phone the labels go above their bars (static/js/chart-labels.js).
    var layout = window.CredScopeCharts.horizontalBarLayout(canvas.parentNode, data.labels.length);
    var labels = data.labels;
    var colours = data.values.map(function (v) { return v > 0 ? RAISE : LOWER; });
    new window.Chart(canvas, {
      type: "bar",
      plugins: layout.plugins,
      data: {
        labels: labels,
        datasets: [{
          label: "Effect on the probability of default (percentage points)",
          data: data.values,
          backgroundColor: colours,
          borderRadius: 3,
          barPercentage: layout.barPercentage,
          categoryPercentage: 0.9
        }]
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function (items) { return data.labels[items[0].dataIndex]; },
              label: function (item) {
                var v = item.raw;
                return (v > 0 ? "raises the PD by " : "lowers the PD by ") + Math.abs(v).toFixed(2) + " percentage points";
              }
            }
          }
        },
        scales: {
          x: {
            title: { display: true, text: "\u2190 lowers risk     percentage points of PD     raises risk \u2192" },
            grid: { color: function (ctx) { return ctx.tick && ctx.tick.value === 0 ? "#5b6675" : "#e6eaf0"; } }
          },
          y: { ticks: { display: !layout.narrow, autoSkip: false, font: { size: 13 } }, grid: { display: false } }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var card = document.getElementById("scoring-progress");
    if (card) pollStatus(card);
    drawContributions();
  });
})();
