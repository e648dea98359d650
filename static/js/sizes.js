// Sizes that depend on data (a bar's share, a chart's height) come as data- attributes and are
// set here through the DOM: the Content-Security-Policy allows no inline style attributes.
(function () {
  "use strict";
  function apply() {
    document.querySelectorAll("[data-width]").forEach(function (el) {
      var share = parseFloat(el.getAttribute("data-width"));
      if (isFinite(share)) el.style.width = Math.max(0, Math.min(100, share)) + "%";
    });
    document.querySelectorAll("[data-height]").forEach(function (el) {
      var px = parseFloat(el.getAttribute("data-height"));
      if (isFinite(px)) el.style.height = px + "px";
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", apply);
  else apply();
})();
