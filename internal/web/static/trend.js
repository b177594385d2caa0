// Trend charts of the machine page, drawn with the vendored uPlot
// (static/vendor/uplot, see docs/ui.md). Every zoom and pan asks
// /api/v1/history/plot again for the new window at the chart's width in
// pixels, so the historian decimates to what can be seen: a zoom shows
// detail, never a stretched picture of the wider window.
//
// The page's data-* attributes carry translated words; this file writes
// only textContent. For tests and tools it keeps on #trend: data-from and
// data-to (the window, Unix seconds), data-fetches (plot requests sent)
// and data-loaded (responses drawn).
(function () {
  "use strict";
  var root = document.getElementById("trend");
  var chartEl = document.getElementById("trend-chart");
  if (!root || !chartEl) { return; }
  var T = root.dataset;
  var status = document.getElementById("trend-status");
  var HEIGHT = 300;
  var HOUR = 3600;
  var MIN_SPAN = 1; // seconds: below this the historian has nothing more to show
  var COLORS = ["#1a5fb4", "#c01c28", "#26a269", "#e66100", "#613583", "#865e3c", "#0b7285", "#5e5c64"];

  function say(text) { if (status) { status.textContent = text; } }
  if (!window.uPlot) { say(T.tError + " uPlot"); return; }

  function nowS() { return Date.now() / 1000; }
  var win = { from: nowS() - HOUR, to: nowS() };
  var u = null;          // the chart
  var drawn = "";        // the tags the chart has series for
  var seq = 0;           // the newest request; older answers are dropped

  function selected() {
    var out = [];
    var boxes = root.querySelectorAll("input.trend-tag");
    for (var i = 0; i < boxes.length; i++) { if (boxes[i].checked) { out.push(boxes[i].value); } }
    return out;
  }

  // width is the plot area's width in CSS pixels: one decimation bucket per
  // pixel column.
  function width() {
    if (u) { return Math.max(50, Math.round(u.bbox.width / (window.devicePixelRatio || 1))); }
    return Math.max(50, chartEl.clientWidth - 70);
  }

  function iso(s) { return new Date(s * 1000).toISOString(); }

  function num(v) {
    if (typeof v === "number") { return v; }
    if (typeof v === "boolean") { return v ? 1 : 0; }
    return null;
  }

  // align turns the plot response into uPlot's columns: one x array (the
  // union of the series' times) and one y array per tag, null where a tag
  // has no point at that time (spanGaps joins across them).
  function align(tags, series) {
    var byTag = {};
    for (var i = 0; i < series.length; i++) { byTag[series[i].tag] = series[i].points || []; }
    var times = {};
    var per = tags.map(function (tag) {
      var m = {};
      var pts = byTag[tag] || [];
      for (var j = 0; j < pts.length; j++) {
        var y = num(pts[j].v);
        var x = Date.parse(pts[j].t) / 1000;
        if (y === null || isNaN(x)) { continue; }
        m[x] = y;
        times[x] = true;
      }
      return m;
    });
    var xs = Object.keys(times).map(Number).sort(function (a, b) { return a - b; });
    var data = [xs];
    var n = 0;
    for (var k = 0; k < per.length; k++) {
      var col = new Array(xs.length);
      for (var q = 0; q < xs.length; q++) {
        var v = per[k][xs[q]];
        col[q] = v === undefined ? null : v;
        if (v !== undefined) { n++; }
      }
      data.push(col);
    }
    return { data: data, points: n };
  }

  function build(tags, data) {
    if (u) { u.destroy(); u = null; }
    var series = [{}];
    for (var i = 0; i < tags.length; i++) {
      series.push({ label: tags[i], stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: { show: false } });
    }
    u = new window.uPlot({
      width: chartEl.clientWidth || 600,
      height: HEIGHT,
      scales: { x: { time: true } },
      series: series,
      cursor: {
        // The selection zooms through zoomTo, which also fetches.
        drag: { x: true, y: false, setScale: false },
        bind: { mousedown: panOrSelect }
      },
      hooks: { setSelect: [onSelect] }
    }, data, chartEl);
    drawn = tags.join("\n");
    window.otlinkTrend = { chart: u };
  }

  function show(tags, body) {
    var a = align(tags, body.series || []);
    if (!u || drawn !== tags.join("\n")) {
      build(tags, a.data);
    } else {
      u.setData(a.data, false);
    }
    u.setScale("x", { min: win.from, max: win.to });
    root.dataset.loaded = String(Number(root.dataset.loaded || 0) + 1);
    say(a.points === 0 ? T.tNone : a.points + " " + T.tPoints + ", " +
      new Date(win.from * 1000).toLocaleString() + " – " + new Date(win.to * 1000).toLocaleString());
  }

  // load fetches the current window, decimated to the chart's width.
  function load() {
    var tags = selected();
    root.dataset.from = String(Math.round(win.from));
    root.dataset.to = String(Math.round(win.to));
    if (tags.length === 0) {
      if (u) { u.destroy(); u = null; drawn = ""; }
      say(T.tNone);
      return;
    }
    var my = ++seq;
    var q = "/api/v1/history/plot?from=" + encodeURIComponent(iso(win.from)) + "&to=" + encodeURIComponent(iso(win.to)) +
      "&width=" + width() + tags.map(function (t) { return "&tags=" + encodeURIComponent(t); }).join("");
    root.dataset.fetches = String(Number(root.dataset.fetches || 0) + 1);
    say(T.tLoading);
    fetch(q, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error((body.code || r.status) + " " + (body.message || "")); }
          return body;
        });
      })
      .then(function (body) { if (my === seq) { show(tags, body); } })
      .catch(function (e) { if (my === seq) { say(T.tError + " " + e.message); } });
  }

  // zoomTo shows [from, to] at once (uPlot rescales what it has) and
  // fetches the window again at full detail.
  function zoomTo(from, to) {
    if (!(to - from >= MIN_SPAN)) {
      var mid = (from + to) / 2;
      from = mid - MIN_SPAN / 2;
      to = mid + MIN_SPAN / 2;
    }
    win = { from: from, to: to };
    if (u) { u.setScale("x", { min: from, max: to }); }
    load();
  }

  function onSelect(self) {
    var sel = self.select;
    if (!sel || sel.width < 2) { return; }
    var from = self.posToVal(sel.left, "x");
    var to = self.posToVal(sel.left + sel.width, "x");
    self.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    zoomTo(from, to);
  }

  // panOrSelect: Shift and drag pans; a plain drag is uPlot's selection.
  function panOrSelect(self, targ, handler) {
    return function (e) {
      if (!e.shiftKey) { return handler(e); }
      e.preventDefault();
      var x0 = e.clientX;
      var w0 = { from: win.from, to: win.to };
      var px = self.over.getBoundingClientRect().width || 1;
      function shift(ev) { return -(ev.clientX - x0) / px * (w0.to - w0.from); }
      function move(ev) { var d = shift(ev); self.setScale("x", { min: w0.from + d, max: w0.to + d }); }
      function up(ev) {
        window.removeEventListener("mousemove", move);
        window.removeEventListener("mouseup", up);
        var d = shift(ev);
        if (d !== 0) { zoomTo(w0.from + d, w0.to + d); }
      }
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
      return null;
    };
  }

  function zoom(f) {
    var mid = (win.from + win.to) / 2, half = (win.to - win.from) * f / 2;
    zoomTo(mid - half, mid + half);
  }
  function pan(f) {
    var d = (win.to - win.from) * f;
    zoomTo(win.from + d, win.to + d);
  }
  function reset() { zoomTo(nowS() - HOUR, nowS()); }

  function on(id, fn) {
    var b = document.getElementById(id);
    if (b) { b.addEventListener("click", fn); }
  }
  on("trend-in", function () { zoom(0.5); });
  on("trend-out", function () { zoom(2); });
  on("trend-left", function () { pan(-0.25); });
  on("trend-right", function () { pan(0.25); });
  on("trend-reset", reset);

  // Keys on the chart and its buttons: + and - zoom, arrows pan, 0 resets.
  root.addEventListener("keydown", function (e) {
    if (e.target && e.target.tagName === "INPUT") { return; }
    var k = e.key;
    if (k === "+" || k === "=") { zoom(0.5); } else if (k === "-") { zoom(2); } else if (k === "ArrowLeft") { pan(-0.25); } else if (k === "ArrowRight") { pan(0.25); } else if (k === "0") { reset(); } else { return; }
    e.preventDefault();
  });
  chartEl.tabIndex = 0;

  var boxes = root.querySelectorAll("input.trend-tag");
  for (var i = 0; i < boxes.length; i++) { boxes[i].addEventListener("change", load); }

  // A wider or narrower chart has other pixel columns: fetch again.
  var resizing = 0;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      if (!u || Math.abs(u.width - chartEl.clientWidth) < 8) { return; }
      u.setSize({ width: chartEl.clientWidth, height: HEIGHT });
      load();
    }, 200);
  });

  load();
})();
