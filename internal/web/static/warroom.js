// The war room's live part: it polls the /api/v1/security routes every
// 2 s, draws the connection map as SVG, and drives the drill-down and the
// alert buttons. Everything shown came from the network, which an
// attacker controls: this file writes only textContent and attributes,
// never HTML. Translated words come from the data-t-* attributes of #wr.
(function () {
  "use strict";
  var root = document.getElementById("wr");
  if (!root || root.dataset.on !== "1" || !window.fetch) { return; }
  var t = root.dataset;
  var api = "/api/v1/security/";
  var svgNS = "http://www.w3.org/2000/svg";
  var status = document.getElementById("wr-status");
  var stateWord = { "new": t.tNew, "acknowledged": t.tAcknowledged, "resolved": t.tResolved };
  var nextStates = { "new": ["acknowledged", "resolved"], "acknowledged": ["resolved"], "resolved": ["new"] };
  var buttonWord = { "acknowledged": t.tAck, "resolved": t.tResolve, "new": t.tReopen };
  var lastAlerts = "";

  function el(name, text, attrs) {
    var e = document.createElement(name);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    for (var k in attrs || {}) { e.setAttribute(k, attrs[k]); }
    return e;
  }
  function row(cells, header) {
    var tr = el("tr");
    cells.forEach(function (c, i) {
      var cell = i === 0 && header ? el("th", null, { scope: "row" }) : el("td");
      if (c instanceof Node) { cell.appendChild(c); } else { cell.textContent = c === undefined ? "" : String(c); }
      tr.appendChild(cell);
    });
    return tr;
  }
  function fill(id, rows) {
    var tb = document.querySelector("#" + id + " tbody");
    if (!tb || tb.contains(document.activeElement)) { return; }
    tb.replaceChildren.apply(tb, rows);
  }
  function get(path) {
    return fetch(api + path, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.json();
    });
  }
  function fns(list) {
    return (list || []).slice(0, 6).map(function (f) { return (f.name || f.code) + " ×" + f.count; }).join(", ");
  }
  function when(s) { var d = new Date(s); return isNaN(d) ? "" : d.toLocaleString(); }

  function rates(r) {
    if (!r.protos.length) { fill("wr-rates", [row([t.tNodata, "", "", "", ""], true)]); return; }
    fill("wr-rates", r.protos.map(function (p) {
      return row([p.proto, p.pps.toFixed(1), Math.round(p.bps), p.packets, p.bytes], true);
    }));
  }

  function talkers(d) {
    fill("wr-talkers", d.talkers.map(function (h) { return row([h.ip, h.zone, h.role, h.packets, h.bytes, h.peers], true); }));
  }

  function assets(d) {
    fill("wr-assets", d.assets.map(function (a) {
      var link = el("a", a.ip, { "class": "wr-asset", "data-ip": a.ip, href: api + "assets/" + encodeURIComponent(a.ip) + "/flows" });
      var id = Object.keys(a.identity || {}).sort().map(function (k) { return k + "=" + a.identity[k]; }).join(" ");
      return row([link, a.name, a.role, a.zone, a.vendor, id, a.server_of.concat(a.client_of).join(" "), a.packets, a.flows], true);
    }));
  }

  // The map: a box per zone in a grid, the zone's hosts inside it, a line
  // per edge whose width grows with the log of its packets. Each host is
  // a focusable button that opens its flows.
  function drawMap(m) {
    var svg = document.getElementById("wr-map");
    if (!svg) { return; }
    if (svg.contains(document.activeElement)) { return; }
    var nodes = [];
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var title = document.createElementNS(svgNS, "title");
    title.textContent = t.tMap;
    svg.appendChild(title);
    var zones = m.zones, W = 900, cols = Math.max(1, Math.ceil(Math.sqrt(zones.length)));
    var rows = Math.max(1, Math.ceil(zones.length / cols));
    var zw = W / cols, zh = 210, H = rows * zh;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    // Painted in order: zone boxes, then the lines between hosts (across
    // zones too), then the hosts.
    var pos = {}, gZones = document.createElementNS(svgNS, "g"), gEdges = document.createElementNS(svgNS, "g"), gHosts = document.createElementNS(svgNS, "g");
    zones.forEach(function (z, i) {
      var x = (i % cols) * zw, y = Math.floor(i / cols) * zh;
      var box = document.createElementNS(svgNS, "rect");
      [["x", x + 4], ["y", y + 4], ["width", zw - 8], ["height", zh - 8], ["rx", 6], ["fill", "#f7f8fa"], ["stroke", "#8a9099"]].forEach(function (a) { box.setAttribute(a[0], a[1]); });
      gZones.appendChild(box);
      var label = document.createElementNS(svgNS, "text");
      label.setAttribute("x", x + 12); label.setAttribute("y", y + 22); label.setAttribute("font-size", "14"); label.setAttribute("font-weight", "600");
      label.textContent = z.name;
      gZones.appendChild(label);
      var per = Math.max(1, Math.ceil(Math.sqrt(z.hosts.length * (zw / (zh - 40)))));
      var cw = (zw - 24) / per, ch = (zh - 50) / Math.max(1, Math.ceil(z.hosts.length / per));
      z.hosts.forEach(function (h, j) {
        var hx = x + 12 + (j % per + 0.5) * cw, hy = y + 40 + (Math.floor(j / per) + 0.5) * ch;
        pos[h.ip] = [hx, hy];
        var g = document.createElementNS(svgNS, "g");
        g.setAttribute("tabindex", "0");
        g.setAttribute("role", "button");
        g.setAttribute("aria-label", h.ip + " " + (h.name || "") + " " + h.role + " " + z.name);
        g.setAttribute("data-ip", h.ip);
        var c = document.createElementNS(svgNS, "circle");
        c.setAttribute("cx", hx); c.setAttribute("cy", hy); c.setAttribute("r", 9);
        c.setAttribute("fill", h.role === "controller" ? "#c01c28" : h.role === "unknown" ? "#8a9099" : "#1a5fb4");
        var tx = document.createElementNS(svgNS, "text");
        tx.setAttribute("x", hx); tx.setAttribute("y", hy + 24); tx.setAttribute("font-size", "12"); tx.setAttribute("text-anchor", "middle");
        tx.textContent = h.name ? h.name + " " + h.ip : h.ip;
        var tip = document.createElementNS(svgNS, "title");
        tip.textContent = h.ip + " · " + h.role + " · " + h.packets;
        g.appendChild(tip); g.appendChild(c); g.appendChild(tx);
        g.addEventListener("click", function () { flows(h.ip); });
        g.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); flows(h.ip); } });
        gHosts.appendChild(g);
        nodes.push(g);
      });
    });
    m.edges.forEach(function (e) {
      var a = pos[e.client], b = pos[e.server];
      if (!a || !b) { return; }
      var l = document.createElementNS(svgNS, "line");
      l.setAttribute("x1", a[0]); l.setAttribute("y1", a[1]); l.setAttribute("x2", b[0]); l.setAttribute("y2", b[1]);
      l.setAttribute("stroke", "#4d5560"); l.setAttribute("stroke-opacity", "0.6");
      l.setAttribute("stroke-width", Math.min(8, 1 + Math.log10(1 + e.packets)).toFixed(1));
      var tip = document.createElementNS(svgNS, "title");
      tip.textContent = e.client + " → " + e.server + " " + e.protos.join(",") + " " + fns(e.functions);
      l.appendChild(tip);
      gEdges.appendChild(l);
    });
    svg.appendChild(gZones);
    svg.appendChild(gEdges);
    svg.appendChild(gHosts);
    fill("wr-edges", m.edges.map(function (e) {
      return row([e.client, e.server, e.protos.join(", "), fns(e.functions), e.packets], true);
    }));
  }

  function alerts(d) {
    var list = document.getElementById("wr-alerts");
    if (!list || list.contains(document.activeElement)) { return; }
    var sig = JSON.stringify(d.alerts.map(function (a) { return [a.id, a.state, a.count, a.notes.length]; }));
    if (sig === lastAlerts) { return; }
    lastAlerts = sig;
    list.replaceChildren.apply(list, d.alerts.map(function (a) {
      var li = el("li", null, { id: "alert-" + a.id, "data-id": a.id });
      var p = el("p");
      p.appendChild(el("time", when(a.time), { datetime: a.time }));
      p.appendChild(document.createTextNode(" "));
      p.appendChild(el("span", a.severity, { "class": "state" }));
      p.appendChild(document.createTextNode(" "));
      p.appendChild(el("strong", a.title));
      p.appendChild(document.createTextNode(" ×" + a.count + " — "));
      a.techniques.forEach(function (x) { p.appendChild(el("abbr", x.id, { title: x.name })); p.appendChild(document.createTextNode(" ")); });
      p.appendChild(document.createTextNode("— " + a.assets.join(", ") + " — "));
      p.appendChild(el("span", stateWord[a.state] || a.state, { "class": "state state-" + a.state }));
      li.appendChild(p);
      li.appendChild(el("p", a.detail, { "class": "note" }));
      a.notes.forEach(function (n) { li.appendChild(el("p", n.user + ": " + n.text, { "class": "note" })); });
      if (t.canAck === "1") {
        var f = el("form", null, { method: "post", action: api + "alerts/" + encodeURIComponent(a.id) + "/state", "class": "toolbar" });
        f.appendChild(el("label", t.tNote, { "for": "note-" + a.id }));
        f.appendChild(el("input", null, { type: "text", id: "note-" + a.id, name: "note", maxlength: "2000" }));
        (nextStates[a.state] || []).forEach(function (s) { f.appendChild(el("button", buttonWord[s], { type: "submit", name: "state", value: s })); });
        li.appendChild(f);
      }
      return li;
    }));
  }

  // Alert buttons send JSON with the CSRF header; the form posts the
  // same without JavaScript.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f.closest || !f.closest("#wr-alerts")) { return; }
    e.preventDefault();
    var btn = e.submitter;
    var note = f.querySelector("input[name=note]");
    fetch(f.getAttribute("action"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": t.csrf },
      body: JSON.stringify({ state: btn ? btn.value : "", note: note ? note.value : "" })
    }).then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); }).then(function (res) {
      status.textContent = res[0] ? t.tSaved : (res[1].code + " " + res[1].message);
      if (document.activeElement) { document.activeElement.blur(); }
      lastAlerts = "";
      return get("alerts").then(alerts);
    }).catch(function () { status.textContent = t.tStale; });
  });

  function flows(ip) {
    get("assets/" + encodeURIComponent(ip) + "/flows").then(function (d) {
      var tbl = document.getElementById("wr-flows");
      document.getElementById("wr-flows-caption").textContent = t.tFlowsOf + " " + ip;
      tbl.hidden = false;
      document.getElementById("wr-pdus").hidden = true;
      var tb = tbl.querySelector("tbody");
      tb.replaceChildren.apply(tb, d.flows.map(function (f) {
        var b = el("button", t.tPdus + " #" + f.id, { type: "button" });
        b.addEventListener("click", function () { pdus(f.id); });
        return row([b, f.client, f.server, f.proto, f.packets[0] + f.packets[1], f.pdus, fns(f.functions), when(f.last), f.ended || ""], false);
      }));
      document.getElementById("wr-drill").focus();
    }).catch(function () { status.textContent = t.tStale; });
  }

  function pdus(id) {
    get("flows/" + id + "/pdus").then(function (d) {
      var tbl = document.getElementById("wr-pdus");
      document.getElementById("wr-pdus-caption").textContent = t.tPdusOf + " #" + id + " " + d.flow.client + " → " + d.flow.server;
      tbl.hidden = false;
      var tb = tbl.querySelector("tbody");
      tb.replaceChildren.apply(tb, d.pdus.map(function (p) {
        var objs = (p.objects || []).map(function (o) {
          return o.space + " " + o.start + "+" + o.count + (o.values ? " = " + o.values.join(" ") : "");
        }).join("; ");
        var det = [];
        if (p.exception) { det.push("exception " + p.exception); }
        if (p.malformed) { det.push("malformed: " + p.malformed); }
        Object.keys(p.identity || {}).sort().forEach(function (k) { det.push(k + "=" + p.identity[k]); });
        return row([when(p.time), p.frame, p.dir, p.function + " " + p.name, p.action, objs, det.join(" ")], false);
      }));
      tbl.scrollIntoView({ block: "nearest" });
    }).catch(function () { status.textContent = t.tStale; });
  }

  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a.wr-asset");
    if (!a) { return; }
    e.preventDefault();
    flows(a.dataset.ip);
  });

  var busy = false;
  function poll() {
    if (busy || document.hidden) { return; }
    busy = true;
    Promise.all([get("rates").then(rates), get("map").then(drawMap), get("talkers").then(talkers), get("alerts").then(alerts), get("assets").then(assets)])
      .then(function () { status.textContent = t.tLive; })
      .catch(function () { status.textContent = t.tStale; })
      .then(function () { busy = false; });
  }
  poll();
  setInterval(poll, 2000);
})();
