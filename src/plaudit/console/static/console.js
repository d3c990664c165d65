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
    var when = function (v) { return v == null ? "" : new Date(v * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC"; };
    var series = [bars
      ? { label: "", value: function (u, v) { return v == null ? "" : data.categories[v] || ""; } }
      : { label: "time", value: function (u, v) { return when(v); } }];
    data.series.forEach(function (s, i) {
      var color = PALETTE[i % PALETTE.length];
      series.push({
        label: s.name, stroke: color, width: 2, spanGaps: true, value: function (u, v) { return v == null ? "–" : fmt(v); },
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
    // Values start at 0 (a satisfaction axis from 40% exaggerates every dip); shares end at 100%.
    var yRange = function (u, min, max) {
      if (data.percent) return [0, 1];
      return [0, max > 0 ? max * 1.1 : 1];
    };
    var options = {
      width: Math.max(280, plot.clientWidth || figure.clientWidth || 600), height: 240,
      scales: { x: { time: !bars, range: bars ? function () { return [-0.5, data.x.length - 0.5]; } : undefined }, y: { range: yRange } },
      axes: [axisX, { stroke: fg, grid: { stroke: grid }, size: 60, values: function (u, ticks) { return ticks.map(fmt); } }],
      series: series,
      legend: { show: true },
      hooks: {
        // The legend shows the latest bucket's values until the pointer picks another one.
        ready: [function (u) { showLatest(u, data); }],
        setCursor: [function (u) { if (u.cursor.idx == null) showLatest(u, data); }]
      }
    };
    var chart = new uPlot(options, [data.x].concat(data.series.map(function (s) { return s.values; })), plot);
    figure.uplot = chart;
    if (data.drill) {
      plot.classList.add("drillable");
      chart.over.addEventListener("click", function () { drill(chart, data); });
    }
  }

  function showLatest(u, data) {
    var last = -1;
    data.series.forEach(function (s) {
      for (var i = s.values.length - 1; i > last; i--) { if (s.values[i] != null) { last = i; break; } }
    });
    if (last < 0) last = data.x.length - 1;
    if (last >= 0) u.setLegend({ idx: last });
  }

  // A click on a point opens the explorer on that series' value and bucket: the series whose
  // point at the pointer's x is nearest the pointer.
  function drill(u, data) {
    var idx = u.cursor.idx;
    if (idx == null || u.cursor.top == null) return;
    var best = -1, distance = Infinity;
    data.series.forEach(function (s, i) {
      var v = s.values[idx];
      if (v == null || (u.series[i + 1] && u.series[i + 1].show === false)) return;
      var d = Math.abs(u.valToPos(v, "y") - u.cursor.top);
      if (d < distance) { distance = d; best = i; }
    });
    if (best < 0) return;
    window.location.assign(drillUrl(data, best, idx));
  }

  function drillUrl(data, seriesIndex, idx) {
    var spec = data.drill, params = new URLSearchParams();
    var name = data.kind === "bars" ? data.categories[idx] : data.series[seriesIndex].name;
    if (name !== "(none)") params.set(spec.param, name);
    if (data.kind !== "bars") {
      var iso = function (s) { return new Date(s * 1000).toISOString().replace(".000Z", "Z"); };
      params.set("since", iso(data.x[idx]));
      params.set("until", iso(data.x[idx] + spec.step));
    }
    return spec.href + "?" + params.toString();
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
    if (!panel) return;
    panel.innerHTML = '<p class="muted">Choose an event to see it in full.</p>';
    // The URL holds the opened event (a shared link reopens it); closed, it holds none.
    var url = new URL(window.location.href);
    if (url.searchParams.has("event")) {
      url.searchParams.delete("event");
      history.replaceState(history.state, "", url.pathname + (url.search || ""));
    }
    rows().forEach(function (r) { r.classList.remove("current"); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.addEventListener("click", toggleTheme);
    document.addEventListener("keydown", onKey);
    document.addEventListener("click", function (event) {
      var row = event.target.closest && event.target.closest("#events tbody tr[data-event]");
      if (row) { rows().forEach(function (r) { r.classList.remove("current"); }); row.classList.add("current"); }
      if (event.target.closest && event.target.closest("[data-close-detail]")) closeDetail();
      // A click anywhere on a trace's row opens it (its first cell holds the link for keyboards).
      var trace = event.target.closest && event.target.closest("#traces tbody tr[data-trace]");
      if (trace && !event.target.closest("a")) {
        var link = trace.querySelector("a.open");
        if (link) window.location.assign(link.href);
      }
    });
    document.body.addEventListener("htmx:afterSwap", function (event) { drawCharts(event.target); });
    drawCharts(document);
  });
})();
