// Security keys (WebAuthn) for otlink: registration on /keys, the second
// factor of the login, and step-up. The server sends the options JSON of
// go-webauthn ({"publicKey": {...}}); binary fields travel as base64url
// both ways. A static file: the Content-Security-Policy forbids inline
// scripts.
(function () {
  "use strict";

  function b64uToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function bufToB64u(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // decodeOptions turns the server's JSON into what navigator.credentials
  // takes: challenge, user.id and credential ids become ArrayBuffers.
  function decodeOptions(pk) {
    pk.challenge = b64uToBuf(pk.challenge);
    if (pk.user && pk.user.id) { pk.user.id = b64uToBuf(pk.user.id); }
    ["excludeCredentials", "allowCredentials"].forEach(function (k) {
      (pk[k] || []).forEach(function (c) { c.id = b64uToBuf(c.id); });
    });
    return pk;
  }

  // encodeCredential is the PublicKeyCredential as JSON with base64url.
  function encodeCredential(cred) {
    var r = cred.response, resp = { clientDataJSON: bufToB64u(r.clientDataJSON) };
    if (r.attestationObject) { resp.attestationObject = bufToB64u(r.attestationObject); }
    if (r.authenticatorData) { resp.authenticatorData = bufToB64u(r.authenticatorData); }
    if (r.signature) { resp.signature = bufToB64u(r.signature); }
    if (r.userHandle) { resp.userHandle = bufToB64u(r.userHandle); }
    if (r.getTransports) { resp.transports = r.getTransports(); }
    return { id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type, response: resp,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {} };
  }

  function say(form, msg) {
    var st = form.querySelector(".webauthn-status");
    if (st) { st.textContent = msg; }
  }

  // word is a translated message: the page renders them in its language
  // as data-t-* attributes of the status line; English otherwise.
  var english = { touch: "Touch your security key…", unsupported: "This browser has no security key support." };
  function word(form, key) {
    var st = form.querySelector(".webauthn-status");
    return (st && st.dataset["t" + key.charAt(0).toUpperCase() + key.slice(1)]) || english[key];
  }

  // busy disables the form's buttons while a ceremony runs: a second
  // press would start a second challenge, which replaces the first on the
  // server, and the browser refuses two pending requests anyway.
  function busy(form, on) {
    form.querySelectorAll("button").forEach(function (b) { b.disabled = on; });
  }

  function post(url, csrf, body) {
    return fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: body ? JSON.stringify(body) : "{}" }).then(function (res) {
      return res.json().then(function (js) {
        if (!res.ok) { throw new Error((js.code ? js.code + " " : "") + (js.message || res.status)); }
        return js;
      });
    });
  }

  function csrfOf(form) {
    var f = form.querySelector("input[name=csrf_token]");
    return f ? f.value : form.getAttribute("data-csrf");
  }

  // assert runs navigator.credentials.get with options from url and puts
  // the answer in the form's field, then submits the form.
  function assert(form, url, field, method) {
    if (!window.PublicKeyCredential) { say(form, word(form, "unsupported")); return; }
    say(form, word(form, "touch"));
    busy(form, true);
    post(url, csrfOf(form)).then(function (opts) {
      return navigator.credentials.get({ publicKey: decodeOptions(opts.publicKey) });
    }).then(function (cred) {
      form.querySelector("input[name=" + field + "]").value = JSON.stringify(encodeCredential(cred));
      if (method) {
        var m = form.querySelector("input[name=stepup_method]");
        if (!m) {
          m = document.createElement("input");
          m.type = "hidden"; m.name = "stepup_method"; form.appendChild(m);
        }
        m.value = method;
      }
      form.submit();
    }).catch(function (e) { busy(form, false); say(form, e.message || String(e)); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button.webauthn-stepup").forEach(function (b) {
      b.addEventListener("click", function () {
        assert(b.form, b.getAttribute("data-begin"), "stepup_webauthn", "webauthn");
      });
    });
    document.querySelectorAll("button.webauthn-login-button").forEach(function (b) {
      b.addEventListener("click", function () {
        assert(b.form, b.getAttribute("data-begin"), "webauthn", "");
      });
    });
    document.querySelectorAll("form.webauthn-register").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (!window.PublicKeyCredential) { say(form, word(form, "unsupported")); return; }
        var csrf = csrfOf(form), name = form.querySelector("input[name=name]").value;
        say(form, word(form, "touch"));
        busy(form, true);
        post("/api/v1/webauthn/register/begin", csrf).then(function (opts) {
          return navigator.credentials.create({ publicKey: decodeOptions(opts.publicKey) });
        }).then(function (cred) {
          return post("/api/v1/webauthn/register/finish", csrf, { name: name, credential: encodeCredential(cred) });
        }).then(function () {
          window.location.reload();
        }).catch(function (e) { busy(form, false); say(form, e.message || String(e)); });
      });
    });
  });
})();
