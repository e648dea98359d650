// Horizontal bar charts on narrow screens: each bar's whole label on its own line above the
// bar, instead of a y axis that squeezes every label into the same cut stub. Generic: it
// draws whatever the chart's labels are (a string, or an array of lines joined by spaces).
(function () {
  "use strict";

  function text(label) { return Array.isArray(label) ? label.join(" ") : String(label); }

  // Shorten with an ellipsis only past the chart's full width (the tooltip keeps it whole).
  function fit(ctx, value, width) {
    if (ctx.measureText(value).width <= width) return value;
    var cut = value.length;
    while (cut > 1 && ctx.measureText(value.slice(0, cut) + "\u2026").width > width) cut -= 1;
    return value.slice(0, cut) + "\u2026";
  }

  var labelsAbove = {
    id: "labelsAbove",
    afterDatasetsDraw: function (chart, args, options) {
      var ctx = chart.ctx, area = chart.chartArea, meta = chart.getDatasetMeta(0);
      ctx.save();
      ctx.font = (options.size || 12) + "px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
      ctx.fillStyle = options.color || "#1b2430";
      ctx.textBaseline = "bottom";
      ctx.textAlign = "left";
      meta.data.forEach(function (bar, index) {
        var top = bar.y - bar.height / 2 - 3;
        ctx.fillText(fit(ctx, text(chart.data.labels[index]), area.right - area.left), area.left, top);
      });
      ctx.restore();
    }
  };

  // Options for a horizontal bar chart of `count` bars in `box`: on a narrow box the y axis
  // is hidden, the labels are drawn above the bars and the box grows to give each room.
  function horizontalBarLayout(box, count) {
    var narrow = box.clientWidth < 600;
    if (!narrow) return { narrow: false, plugins: [], barPercentage: 0.8 };
    box.style.height = (count * 46 + 64) + "px";
    return { narrow: true, plugins: [labelsAbove], barPercentage: 0.42 };
  }

  window.CredScopeCharts = { labelsAbove: labelsAbove, horizontalBarLayout: horizontalBarLayout };
})();
