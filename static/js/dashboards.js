// The monitoring dashboards (/ops/): draws each <figure class="chart" data-chart="..."> with
// uPlot (static/vendor/uPlot-1.6.32.iife.min.js). The numbers are also in the figure's table,
// which screen readers and browsers without JavaScript use; the canvas is aria-hidden. Clicking
// a point opens the list of rows behind its bucket (the same URL as the table's row link).
(function () {
  "use strict";

  var COLOURS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777"];

  function format(value, unit) {
    if (value === null || value === undefined) return "—";
    if (unit === "share") return (value * 100).toFixed(1) + "%";
    if (unit === "ms") return Math.round(value) + " ms";
    if (unit === "USD") return "$" + value.toFixed(4);
    return String(Math.round(value * 100) / 100);
  }

  function bucketUrl(data, index) {
    var start = data.x[index];
    var from = new Date(start * 1000).toISOString();
    var to = new Date((start + data.bucket_seconds) * 1000).toISOString();
    return data.drill + "&from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
  }

  function draw(figure) {
    var data = JSON.parse(figure.dataset.chart);
    var target = figure.querySelector(".chart-plot");
    if (!target || !data.x.length) return;
    // Shares (0-1) get their own axis on the right when the chart mixes them with counts.
    var mixed = data.series.some(function (s) { return s.unit === "share"; }) &&
      data.series.some(function (s) { return s.unit !== "share"; });
    var series = [{}];
    data.series.forEach(function (s, i) {
      series.push({
        label: s.label,
        stroke: COLOURS[i % COLOURS.length],
        width: 2,
        spanGaps: false,
        points: { show: data.x.length <= 60 },
        scale: mixed && s.unit === "share" ? "share" : "y",
        value: function (u, v) { return format(v, s.unit); }
      });
    });
    var percent = function (u, vals) { return vals.map(function (v) { return (v * 100).toFixed(0) + "%"; }); };
    var onlyShares = data.series.every(function (s) { return s.unit === "share"; });
    var axes = [{}, onlyShares ? { scale: "y", size: 60, values: percent } : { scale: "y", size: 60 }];
    if (mixed) axes.push({ scale: "share", side: 1, grid: { show: false }, values: percent });
    var columns = [data.x].concat(data.series.map(function (s) { return s.values; }));
    var width = Math.max(280, target.clientWidth || figure.clientWidth || 560);
    var plot = new uPlot({
      width: width,
      height: 220,
      series: series,
      axes: axes,
      scales: { x: { time: true } },
      cursor: { focus: { prox: 16 } },
      legend: { live: true }
    }, columns, target);
    plot.over.addEventListener("click", function () {
      var index = plot.cursor.idx;
      if (index !== null && index !== undefined) window.location.href = bucketUrl(data, index);
    });
    plot.over.classList.add("chart-clickable");
    figure.dataset.drawn = "true";
  }

  function start() {
    if (typeof uPlot === "undefined") return;
    document.querySelectorAll("figure.chart[data-chart]").forEach(function (figure) {
      try { draw(figure); } catch (error) { figure.dataset.drawError = String(error); }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
