// Helpers shared by every page (window.accountd): escaping, keys, times, tables, GET of a JSON route, the live indicator.
// Loaded first; charts.js and each page's script use them.
(function () {
  "use strict";
  var base = document.body.getAttribute("data-base") || "./";

  function e(v) {
    return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" }[c];
    });
  }
  function shortKey(k) { k = k || ""; return k.length <= 14 ? k : k.slice(0, 6) + "…" + k.slice(-4); }
  function key(k) { return '<span class="key" title="' + e(k) + '">' + e(shortKey(k)) + "</span>"; }
  // Unix seconds (or an ISO string) as "2024-05-01 12:00:00"; 0 and missing as the dash.
  function when(t) {
    if (t === null || t === undefined || t === 0 || t === "") return "—";
    var d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
    if (isNaN(d.getTime())) return e(t);
    return d.toISOString().slice(0, 19).replace("T", " ");
  }
  function clock(iso) { return iso ? String(iso).slice(11, 19) : "—"; }
  function empty(cols, text) { return '<tr class="empty"><td colspan="' + cols + '">' + e(text) + "</td></tr>"; }
  function table(headers, rows) {
    var head = headers.map(function (h) {
      return h.charAt(0) === ">" ? '<th class="num">' + e(h.slice(1)) + "</th>" : "<th>" + e(h) + "</th>";
    }).join("");
    return "<table><thead><tr>" + head + "</tr></thead><tbody>" + (rows || empty(headers.length, "None.")) +
      "</tbody></table>";
  }
  function chips(list) {
    if (typeof list === "string") list = list ? list.split("\n") : [];
    return (list || []).map(function (t) { return '<span class="chip">' + e(t) + "</span>"; }).join("");
  }
  function HttpError(status, message) { this.status = status; this.message = message; }
  // GET a JSON route of accountd (same origin, so the session cookie goes along).
  function get(path) {
    return fetch(base + path, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) window.location.reload();  // the session ended: the page asks to sign in again
        if (!r.ok) {
          return r.text().then(function (t) {
            var msg = t;
            try { var doc = JSON.parse(t); msg = (doc.error && (doc.error.message || doc.error)) || doc.message || t; } catch (_) { /* text */ }
            throw new HttpError(r.status, path.split("?")[0] + ": HTTP " + r.status + (msg ? " — " + String(msg).slice(0, 200) : ""));
          });
        }
        return r.json();
      });
  }
  // The claims of a JWT, unchecked (for display only: accountd verified it when it was stored).
  function claimsOf(jwt) {
    try {
      var part = String(jwt).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var text = decodeURIComponent(Array.prototype.map.call(atob(part), function (c) {
        return "%" + ("00" + c.charCodeAt(0).toString(16)).slice(-2);
      }).join(""));
      return JSON.parse(text);
    } catch (_) {
      return null;
    }
  }
  function live(state, text) {
    document.getElementById("live").setAttribute("data-state", state);
    document.getElementById("updated").textContent = text;
  }
  function now() { return new Date().toISOString().slice(11, 19) + " UTC"; }

  window.accountd = { base: base, e: e, shortKey: shortKey, key: key, when: when, clock: clock, empty: empty,
    table: table, chips: chips, get: get, claimsOf: claimsOf, live: live, now: now, HttpError: HttpError };
})();
