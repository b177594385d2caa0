// Live values and a last-hour preview for the machine page. The page is
// complete without this file; it only keeps it current. It is a static
// file because the Content-Security-Policy forbids inline scripts, and it
// writes only textContent and SVG attributes, never HTML.
(function () {
  "use strict";
  var head = document.getElementById("machine");
  if (!head) { return; }
  var machine = head.dataset.machine;
  var status = document.getElementById("live-status");

  function say(el, text) { if (el) { el.textContent = text; } }

  function rows() {
    var byPath = {};
    var trs = document.querySelectorAll("table.live tbody tr");
    for (var i = 0; i < trs.length; i++) { byPath[trs[i].dataset.path] = trs[i]; }
    return byPath;
  }
  var byPath = rows();

  function show(v) {
    if (v === null || v === undefined) { return ""; }
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  function update(t) {
    var tr = byPath[t.path];
    if (!tr) { return; }
    tr.querySelector("td.value").textContent = show(t.value);
    tr.querySelector("td.quality").textContent = t.quality + (t.code ? " " + t.code : "");
    var cell = tr.querySelector("td.time");
    var d = new Date(t.time);
    cell.textContent = isNaN(d) || d.getFullYear() < 1971 ? "" : d.toLocaleString();
    tr.classList.add("changed");
    setTimeout(function () { tr.classList.remove("changed"); }, 800);
  }

  if (window.EventSource) {
    var es = new EventSource("/api/v1/events/tags?prefix=" + encodeURIComponent(machine + "/"));
    es.addEventListener("tags", function (ev) {
      var list;
      try { list = JSON.parse(ev.data); } catch (e) { return; }
      for (var i = 0; i < list.length; i++) { update(list[i]); }
      say(status, "Live. Last update " + new Date().toLocaleTimeString() + ".");
    });
    es.onerror = function () { say(status, "Connection lost; retrying…"); };
  }

  // The trend preview: one tag, the last hour, as a polyline.
  var sel = document.getElementById("trend-tag");
  var svg = document.getElementById("trend");
  var tstatus = document.getElementById("trend-status");
  if (!sel || !svg) { return; }
  var NS = "http://www.w3.org/2000/svg";

  function draw(points) {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var xs = [], ys = [];
    for (var i = 0; i < points.length; i++) {
      var v = points[i].v;
      if (typeof v === "boolean") { v = v ? 1 : 0; }
      if (typeof v !== "number") { continue; }
      xs.push(Date.parse(points[i].t));
      ys.push(v);
    }
    if (xs.length === 0) { say(tstatus, "No numeric samples in the last hour."); return; }
    var now = Date.now(), from = now - 3600e3;
    var lo = Math.min.apply(null, ys), hi = Math.max.apply(null, ys);
    if (hi === lo) { hi = lo + 1; lo = lo - 1; }
    var pts = [];
    for (var j = 0; j < xs.length; j++) {
      var x = (xs[j] - from) / 3600e3 * 600;
      var y = 195 - (ys[j] - lo) / (hi - lo) * 190;
      pts.push(x.toFixed(1) + "," + y.toFixed(1));
    }
    var line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", pts.join(" "));
    svg.appendChild(line);
    say(tstatus, xs.length + " points, from " + lo.toPrecision(4) + " to " + hi.toPrecision(4) + ".");
  }

  function load() {
    say(tstatus, "Loading…");
    var q = "/api/v1/history/plot?from=now-1h&to=now&width=600&tags=" + encodeURIComponent(sel.value);
    fetch(q, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error((body.code || r.status) + " " + (body.message || "")); }
          return body;
        });
      })
      .then(function (body) {
        var s = body.series && body.series[0];
        draw(s ? s.points || [] : []);
      })
      .catch(function (e) { say(tstatus, "Trend unavailable: " + e.message); });
  }
  sel.addEventListener("change", load);
  load();
})();
