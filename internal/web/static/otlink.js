// otlink pages work without JavaScript; this file only adds comfort. It is
// a static file because the Content-Security-Policy forbids inline scripts,
// and it writes only textContent and attributes, never HTML. Translated
// words come from data-t-* attributes the server rendered in the page's
// language.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  // Only a field the page marks autofocus (sign-in forms) takes the
  // focus: on a live page the first field may be far down (the war room's
  // alert notes), and focusing it would scroll there and freeze what is
  // not redrawn under the user's focus.
  var first = document.querySelector("input[autofocus]");
  if (first) { first.focus(); }

  // The language switch returns to this very page (the server only knows a
  // fallback).
  var lang = document.getElementById("lang-switch");
  if (lang) {
    var u = new URL(lang.href, location.href);
    u.searchParams.set("back", location.pathname + location.search);
    lang.href = u.pathname + u.search;
  }

  plantTree();
  devices();
});

// plantTree keeps the machine states of the plant tree live from the tag
// stream: a machine's state tag carries the simulator's state numbers.
function plantTree() {
  "use strict";
  var tree = document.getElementById("plant-tree");
  if (!tree || !window.EventSource) { return; }
  var names = { 1: "idle", 2: "running", 3: "setup", 4: "fault", 5: "maintenance" };
  var badges = {};
  var els = tree.querySelectorAll("[data-state-tag]");
  for (var i = 0; i < els.length; i++) { badges[els[i].dataset.stateTag] = els[i]; }
  if (els.length === 0) { return; }
  var es = new EventSource("/api/v1/events/tags");
  es.addEventListener("tags", function (ev) {
    var list;
    try { list = JSON.parse(ev.data); } catch (e) { return; }
    for (var j = 0; j < list.length; j++) {
      var b = badges[list[j].path];
      if (!b) { continue; }
      var q = String(list[j].quality || "");
      var st = names[Math.trunc(Number(list[j].value))] || "unknown";
      if (q.indexOf("Bad") === 0) { st = "unknown"; }
      b.className = "state state-" + st;
      b.textContent = tree.dataset["t" + st.charAt(0).toUpperCase() + st.slice(1)] || st;
    }
  });
  window.addEventListener("pagehide", function () { es.close(); });
}

// devices refreshes the device health table every few seconds from
// /api/v1/devices.
function devices() {
  "use strict";
  var body = document.getElementById("devices-body");
  var status = document.getElementById("devices-status");
  if (!body || !status) { return; }
  var t = status.dataset;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function fixed(x) { return (Number(x) || 0).toFixed(1); }
  function row(d) {
    var tr = el("tr");
    tr.dataset.device = d.name;
    var th = el("th", "", d.name + " ");
    th.scope = "row";
    th.appendChild(el("span", "driver", d.driver || ""));
    tr.appendChild(th);
    var conn = el("td", "conn");
    conn.appendChild(el("span", d.connected ? "state state-running" : "state state-fault", d.connected ? t.tYes : t.tNo));
    tr.appendChild(conn);
    tr.appendChild(el("td", "endpoint", (d.endpoint || "") + (d.on_backup ? " (" + t.tBackup + ")" : "")));
    tr.appendChild(el("td", "rtt", fixed(d.rtt_p50_ms) + " / " + fixed(d.rtt_p99_ms)));
    tr.appendChild(el("td", "num", String(d.requests || 0)));
    tr.appendChild(el("td", "num", String(d.errors || 0)));
    tr.appendChild(el("td", "num", String(d.overruns || 0)));
    var lim = [];
    var keys = Object.keys(d.learned_limits || {}).sort();
    for (var i = 0; i < keys.length; i++) { lim.push(keys[i] + ": " + d.learned_limits[keys[i]]); }
    tr.appendChild(el("td", "limits", lim.join(" ")));
    var id = d.identity || {};
    tr.appendChild(el("td", "ident", [id.vendor, id.product, id.revision].filter(Boolean).join(" ")));
    var le = el("td", "lasterr");
    if (d.last_error) {
      if (/^OTL-[0-9]{4}$/.test(d.last_error.code || "")) {
        var a = el("a", "code", d.last_error.code);
        a.href = "/errors/" + d.last_error.code;
        le.appendChild(a);
        le.appendChild(document.createTextNode(" "));
      }
      le.appendChild(el("span", "msg", d.last_error.message || ""));
      var when = new Date(d.last_error.time);
      if (!isNaN(when) && when.getFullYear() > 1970) {
        le.appendChild(document.createTextNode(" "));
        le.appendChild(el("time", "", when.toLocaleString()));
      }
    }
    tr.appendChild(le);
    return tr;
  }
  function refresh() {
    fetch("/api/v1/devices", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (body2) {
        var list = (body2.devices || []).slice().sort(function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; });
        while (body.firstChild) { body.removeChild(body.firstChild); }
        for (var i = 0; i < list.length; i++) { body.appendChild(row(list[i])); }
        status.textContent = t.tUpdated + " " + new Date().toLocaleTimeString();
      })
      .catch(function () { status.textContent = t.tLost; });
  }
  setInterval(refresh, 5000);
  refresh();
}
