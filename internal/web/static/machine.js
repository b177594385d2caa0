// Live values of the machine page. The page is complete without this
// file; it only keeps it current. It is a static file because the
// Content-Security-Policy forbids inline scripts, and it writes only
// textContent, never HTML. Trends are trend.js.
(function () {
  "use strict";
  var head = document.getElementById("machine");
  if (!head) { return; }
  var machine = head.dataset.machine;
  var status = document.getElementById("live-status");

  function say(el, text) { if (el) { el.textContent = text; } }

  var byPath = {};
  var trs = document.querySelectorAll("table.live tbody tr");
  for (var i = 0; i < trs.length; i++) { byPath[trs[i].dataset.path] = trs[i]; }

  function show(v) {
    if (v === null || v === undefined) { return ""; }
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  function update(t) {
    var tr = byPath[t.path];
    if (!tr) { return; }
    tr.querySelector("td.value").textContent = show(t.value);
    var q = tr.querySelector("td.quality");
    q.textContent = t.quality + " ";
    if (/^OTL-[0-9]{4}$/.test(t.code || "")) {
      var a = document.createElement("a");
      a.className = "code";
      a.href = "/errors/" + t.code;
      a.textContent = t.code;
      q.appendChild(a);
    }
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
      for (var j = 0; j < list.length; j++) { update(list[j]); }
      say(status, head.dataset.tLive + " " + new Date().toLocaleTimeString() + ".");
    });
    es.onerror = function () { say(status, head.dataset.tLost); };
  }
})();
