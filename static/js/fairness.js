// Fairness audit page: follow a running audit, then draw approval rate by group per attribute,
// with the reference group's rate and the four-fifths line.
(function () {
  "use strict";

  var COLOURS = { pass: "#1e7b4f", review: "#b26a00", fail: "#b3261e", too_few: "#9aa4b2", reference: "#0f4c81" };
  var REF = "#0f4c81", THRESHOLD = "#b3261e";

  function follow(card) {
    var url = card.getAttribute("data-status-url"), delay = 700;
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok || r.redirected) throw new Error(); return r.json(); })
        .then(function (s) { if (!s.in_progress) { window.location.reload(); } else { later(); } })
        .catch(later);
    }
    function later() { delay = Math.min(delay * 1.4, 5000); window.setTimeout(tick, delay); }
    window.setTimeout(tick, delay);
  }

  // Vertical lines at the reference rate and at 80% of it, drawn over the bars.
  var lines = {
    id: "fairnessLines",
    afterDatasetsDraw: function (chart, args, options) {
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      [[options.reference, REF, [2, 3], "reference"], [options.threshold, THRESHOLD, [6, 4], "80%"]]
        .forEach(function (line) {
          if (line[0] === null || line[0] === undefined) return;
          var px = x.getPixelForValue(line[0] * 100);
          ctx.save();
          ctx.strokeStyle = line[1];
          ctx.lineWidth = 2;
          ctx.setLineDash(line[2]);
          ctx.beginPath();
          ctx.moveTo(px, area.top);
          ctx.lineTo(px, area.bottom);
          ctx.stroke();
          ctx.fillStyle = line[1];
          ctx.font = "11px sans-serif";
          ctx.textAlign = line[3] === "80%" ? "right" : "left";
          ctx.fillText(line[3], px + (line[3] === "80%" ? -4 : 4), area.top + 10);
          ctx.restore();
        });
    }
  };

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-source"));
    if (!source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    canvas.parentNode.style.height = (data.labels.length * 36 + 50) + "px";
    var labels = data.labels.map(function (label, i) {
      return label + " (n=" + data.counts[i] + ")" + (label === data.reference ? " \u2605" : "");
    });
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: [{
          label: "Approval rate (final decisions)",
          data: data.rates.map(function (r) { return r * 100; }),
          backgroundColor: data.verdicts.map(function (v) { return COLOURS[v] || "#5b6675"; }),
          borderRadius: 3,
          barPercentage: 0.8
        }]
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } },
          y: { ticks: { autoSkip: false } }
        },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (c) { return c.parsed.x.toFixed(1) + "% approved (" + data.verdicts[c.dataIndex].replace("_", " ") + ")"; } } },
          fairnessLines: { reference: data.reference_rate, threshold: data.threshold_rate }
        }
      },
      plugins: [lines]
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var progress = document.getElementById("audit-progress");
    if (progress) follow(progress);
    Array.prototype.forEach.call(document.querySelectorAll("canvas.approval-chart"), draw);
  });
})();
