// Model pages: ROC, calibration, importance and AUC charts; the challenger's PD shift.
// Data comes from json_script blocks; nothing here is inline in a template.
(function () {
  "use strict";

  var BRAND = "#1f6fb2", GREY = "#9aa5b1", RED = "#c0392b", GREEN = "#2e7d4f";

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  function pct(v) { return (v * 100).toFixed(0) + "%"; }
  function narrow(canvas) { return canvas.parentNode.clientWidth < 520; }

  function line(id, datasets, xTitle, yTitle) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    new window.Chart(canvas, {
      type: "scatter",
      data: { datasets: datasets },
      options: {
        maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: "bottom" },
          tooltip: { callbacks: { label: function (c) {
            return c.dataset.label + ": " + pct(c.parsed.x) + ", " + pct(c.parsed.y); } } } },
        scales: {
          x: { min: 0, max: 1, title: { display: true, text: xTitle }, ticks: { callback: pct } },
          y: { min: 0, max: 1, title: { display: true, text: yTitle }, ticks: { callback: pct } }
        }
      }
    });
  }

  function points(xs, ys) { return xs.map(function (x, i) { return { x: x, y: ys[i] }; }); }
  function diagonal() {
    return { label: "Coin toss", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true,
      borderColor: GREY, borderDash: [4, 4], pointRadius: 0, borderWidth: 1 };
  }

  function drawRoc(charts) {
    if (!charts.roc) return;
    var sets = [{ label: "Served model", data: points(charts.roc.fpr, charts.roc.tpr), showLine: true,
      borderColor: BRAND, pointRadius: 0, borderWidth: 2 }];
    if (charts.oracle_roc) {
      sets.push({ label: "Oracle (true probabilities)", data: points(charts.oracle_roc.fpr, charts.oracle_roc.tpr),
        showLine: true, borderColor: GREEN, borderDash: [6, 3], pointRadius: 0, borderWidth: 2 });
    }
    sets.push(diagonal());
    line("roc-chart", sets, "Good payers flagged (false-positive rate)", "Defaulters caught (true-positive rate)");
  }

  function drawCalibration(charts) {
    if (!charts.calibration || !charts.calibration.length) return;
    var top = Math.max.apply(null, charts.calibration.map(function (r) { return Math.max(r.predicted, r.observed); }));
    var canvas = document.getElementById("calibration-chart");
    if (!canvas) return;
    var max = Math.min(1, Math.ceil(top * 10 + 0.5) / 10);
    new window.Chart(canvas, {
      type: "scatter",
      data: { datasets: [
        { label: "Deciles", data: charts.calibration.map(function (r) { return { x: r.predicted, y: r.observed }; }),
          showLine: true, borderColor: BRAND, backgroundColor: BRAND, pointRadius: 4 },
        { label: "Perfect calibration", data: [{ x: 0, y: 0 }, { x: max, y: max }], showLine: true,
          borderColor: GREY, borderDash: [4, 4], pointRadius: 0, borderWidth: 1 }
      ] },
      options: { maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: "bottom" } },
        scales: {
          x: { min: 0, max: max, title: { display: true, text: "Predicted PD" }, ticks: { callback: pct } },
          y: { min: 0, max: max, title: { display: true, text: "Observed default rate" }, ticks: { callback: pct } }
        } }
    });
  }

  function drawBars(id, labels, values, options) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: [{ data: values, backgroundColor: options.colors || BRAND }] },
      options: { indexAxis: options.horizontal ? "y" : "x", maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: false }, tooltip: { callbacks: options.tooltip || {} } },
        scales: options.scales || {} }
    });
  }

  function drawImportance(charts) {
    if (!charts.importance || !charts.importance.length) return;
    var canvas = document.getElementById("importance-chart");
    if (!canvas) return;
    var cut = narrow(canvas) ? 20 : 60;
    var labels = charts.importance.map(function (r) {
      return r.label.length > cut ? r.label.slice(0, cut - 1) + "\u2026" : r.label; });
    drawBars("importance-chart", labels, charts.importance.map(function (r) { return r.value; }), {
      horizontal: true,
      tooltip: { title: function (items) { return charts.importance[items[0].dataIndex].label; },
        afterTitle: function (items) { return "Family: " + charts.importance[items[0].dataIndex].family; },
        label: function (c) { return "Share of importance: " + (c.parsed.x * 100).toFixed(1) + "%"; } },
      scales: { x: { ticks: { callback: function (v) { return (v * 100).toFixed(0) + "%"; } } } }
    });
  }

  function drawAuc(charts) {
    if (!charts.auc || !charts.auc.length) return;
    var values = charts.auc.map(function (r) { return r.auc; });
    var low = Math.max(0.5, Math.floor(Math.min.apply(null, values) * 20 - 1) / 20);
    drawBars("auc-chart", charts.auc.map(function (r) { return r.name.replace(" (served, calibrated)", ""); }), values, {
      colors: charts.auc.map(function (r, i) { return i === charts.auc.length - 1 ? BRAND : GREY; }),
      tooltip: { label: function (c) { return "AUC " + (c.parsed.y * 100).toFixed(1) + "%"; } },
      scales: { y: { min: low, max: 1, ticks: { callback: pct } } }
    });
  }

  function drawShift(comparison) {
    if (!comparison || !comparison.pd_shift || !comparison.decisions) return;
    var edges = comparison.pd_shift.edges;
    function pp(v) { return Math.round(v * 100); }
    var last = comparison.pd_shift.counts.length - 1;
    var labels = comparison.pd_shift.counts.map(function (_, i) {
      if (i === 0) return "\u2264 " + pp(edges[1]);
      if (i === last) return "\u2265 " + pp(edges[i]);
      return pp(edges[i]) + " to " + pp(edges[i + 1]); });
    drawBars("shift-chart", labels, comparison.pd_shift.counts, {
      colors: comparison.pd_shift.counts.map(function (_, i) { return edges[i] < 0 ? GREEN : RED; }),
      tooltip: { label: function (c) { return c.parsed.y + " decisions"; } },
      scales: { x: { title: { display: true, text: "Challenger PD minus champion PD" } },
        y: { title: { display: true, text: "Decisions" } } }
    });
  }

  function start() {
    if (typeof window.Chart === "undefined") return;
    var charts = data("model-charts");
    if (charts) {
      drawRoc(charts); drawCalibration(charts); drawImportance(charts); drawAuc(charts);
    }
    drawShift(data("challenger-data"));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
