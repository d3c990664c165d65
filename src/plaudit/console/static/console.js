// Plaudit console: theme, charts from <script type="application/json"> blocks, explorer keys.
// Loaded in <head> so the saved theme applies before the first paint.
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("plaudit-theme"); } catch (e) { /* storage blocked */ }
  if (saved === "light" || saved === "dark") root.dataset.theme = saved;

  function currentTheme() {
    if (root.dataset.theme) return root.dataset.theme;
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function toggleTheme() {
    var next = currentTheme() === "dark" ? "light" : "dark";
    root.dataset.theme = next;
    try { localStorage.setItem("plaudit-theme", next); } catch (e) { /* ignore */ }
    drawCharts(document);
  }

  var PALETTE = ["#3b82c4", "#d9730d", "#2f9e44", "#c2255c", "#7048e8", "#0c8599", "#a61e4d", "#5c940d"];

  function css(name) { return getComputedStyle(root).getPropertyValue(name).trim(); }

  function drawChart(figure) {
    var data = JSON.parse(figure.querySelector(".chart-data").textContent);
    var plot = figure.querySelector(".plot");
    plot.textContent = "";
    if (!data.x.length || typeof uPlot === "undefined") {
      plot.textContent = "No data to chart.";
      return;
    }
    var fg = css("--fg"), grid = css("--border");
    var bars = data.kind === "bars";
    var fmt = function (v) { return v == null ? "" : data.percent ? (v * 100).toFixed(0) + "%" : String(+v.toFixed(3)); };
    var series = [{ label: bars ? "" : "time" }];
    data.series.forEach(function (s, i) {
      var color = PALETTE[i % PALETTE.length];
      series.push({
        label: s.name, stroke: color, width: 2, spanGaps: true, value: function (u, v) { return fmt(v); },
        fill: bars ? color + "cc" : undefined,
        paths: bars ? uPlot.paths.bars({ size: [0.6, 60] }) : undefined,
        points: { show: !bars && data.x.length < 40 }
      });
    });
    var axisX = { stroke: fg, grid: { stroke: grid } };
    if (bars) {
      axisX.values = function (u, ticks) { return ticks.map(function (t) { return data.categories[t] || ""; }); };
      axisX.splits = function () { return data.x; };
    }
    var options = {
      width: Math.max(280, plot.clientWidth || figure.clientWidth || 600), height: 240,
      scales: { x: { time: !bars, range: bars ? function () { return [-0.5, data.x.length - 0.5]; } : undefined } },
      axes: [axisX, { stroke: fg, grid: { stroke: grid }, size: 60, values: function (u, ticks) { return ticks.map(fmt); } }],
      series: series,
      legend: { show: true }
    };
    new uPlot(options, [data.x].concat(data.series.map(function (s) { return s.values; })), plot);
  }

  function drawCharts(scope) {
    scope.querySelectorAll("figure.chart").forEach(drawChart);
  }

  // Explorer keys: j/k move through the rows, Enter opens the current one, Esc closes the panel.
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#events tbody tr[data-event]")); }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.findIndex(function (r) { return r.classList.contains("current"); });
    var next = all[Math.min(all.length - 1, Math.max(0, at + step))];
    all.forEach(function (r) { r.classList.remove("current"); });
    next.classList.add("current");
    next.querySelector("a.open").focus();
  }

  function onKey(event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (!document.getElementById("events")) return;
    if (event.key === "j") { move(1); event.preventDefault(); }
    else if (event.key === "k") { move(-1); event.preventDefault(); }
    else if (event.key === "Enter") {
      var current = document.querySelector("#events tr.current a.open");
      if (current && document.activeElement !== current) { current.click(); event.preventDefault(); }
    } else if (event.key === "Escape") { closeDetail(); }
  }

  function closeDetail() {
    var panel = document.getElementById("detail");
    if (panel) panel.innerHTML = '<p class="muted">Choose an event to see it in full.</p>';
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.addEventListener("click", toggleTheme);
    document.addEventListener("keydown", onKey);
    document.addEventListener("click", function (event) {
      var row = event.target.closest && event.target.closest("#events tbody tr[data-event]");
      if (row) { rows().forEach(function (r) { r.classList.remove("current"); }); row.classList.add("current"); }
      if (event.target.closest && event.target.closest("[data-close-detail]")) closeDetail();
    });
    document.body.addEventListener("htmx:afterSwap", function (event) { drawCharts(event.target); });
    drawCharts(document);
  });
})();
