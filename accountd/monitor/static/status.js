// Re-renders the status page from the /-/monitor/* JSON every 2 s (same markup as page.py).
(function () {
  "use strict";
  var A = window.accountd, base = A.base, e = A.e, shortKey = A.shortKey, clock = A.clock, empty = A.empty, get = A.get;
  var polls = 0;

  function num(v) {
    if (v === null || v === undefined) return "—";
    var digits = Number.isInteger(v) || Math.abs(v) >= 100 ? 0 : 1;
    return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  function bytes(v) {
    if (v === null || v === undefined) return "—";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(v) < 1024 || i === units.length - 1) return i === 0 ? v.toFixed(0) + " B" : v.toFixed(1) + " " + units[i];
      v = v / 1024;
    }
  }
  function ago(s) {
    if (s < 1) return "just now";
    if (s < 120) return s.toFixed(0) + " s ago";
    if (s < 7200) return (s / 60).toFixed(0) + " min ago";
    return (s / 3600).toFixed(0) + " h ago";
  }
  function keyCell(name, key) {
    var label = name ? '<div class="strong">' + e(name) + "</div>" : '<div class="muted">unnamed</div>';
    return label + '<div class="key" title="' + e(key) + '">' + e(shortKey(key)) + "</div>";
  }
  function who(name, key) {
    if (name) return '<span title="' + e(key) + '">' + e(name) + "</span>";
    return '<span class="key" title="' + e(key) + '">' + (e(shortKey(key)) || "—") + "</span>";
  }

  function serverRows(list) {
    if (!list.length) return empty(14, "No server has answered yet.");
    return list.map(function (s) {
      var cpu = s.cpu, width = Math.min(100, cpu || 0), r = s.rates;
      return '<tr data-server="' + e(s.id) + '">' +
        '<td><span class="pill ' + e(s.status) + '">' + e(s.status) + "</span></td>" +
        '<td><a class="plain" href="' + e(base) + "-/servers/" + e(s.id) + '/">' + keyCell(s.name, s.id) + "</a></td>" +
        "<td>" + e(s.cluster || "—") + "</td><td>" + e(s.version) + "</td>" +
        '<td class="num strong" data-field="connections">' + num(s.connections) + "</td>" +
        '<td class="num">' + num(s.subscriptions) + "</td>" +
        '<td><span class="bar' + (width >= 75 ? " hot" : "") + '"><span style="width:' + width.toFixed(0) + '%"></span></span>' +
        (cpu === null ? "—" : cpu.toFixed(0) + "%") + "</td>" +
        '<td class="num">' + bytes(s.mem) + "</td>" +
        '<td class="num">' + num(r.in_msgs) + '</td><td class="num">' + num(r.out_msgs) + "</td>" +
        '<td class="num">' + bytes(s.in_bytes) + '</td><td class="num">' + bytes(s.out_bytes) + "</td>" +
        '<td class="num">' + num(s.slow_consumers) + "</td>" +
        '<td class="muted">' + ago(s.age_seconds) + "</td></tr>";
    }).join("");
  }
  var near = {};  // account → its limits above 80 %
  function accountRows(list) {
    list = list.filter(function (a) { return a.connections || a.leafnodes || a.connects || a.disconnects; });
    if (!list.length) return empty(5, "No client connections seen yet.");
    return list.map(function (a) {
      var chips = Object.keys(a.servers).map(function (k) {
        return '<span class="chip">' + e(k) + ": " + a.servers[k] + "</span>";
      }).join("") || "—";
      var leafs = a.leafnodes ? '<div class="key">+' + a.leafnodes + " leafnodes</div>" : "";
      var flags = (near[a.account] || []).map(function (u) {
        return ' <span class="pill ' + (u.ratio >= 1 ? "full" : "near") + '" data-limit="' + e(u.limit) + '">' + e(u.limit) + " " +
          Math.round(u.ratio * 100) + "%</span>";
      }).join("");
      return '<tr data-account="' + e(a.account) + '"' + (flags ? ' class="near"' : "") + '><td><a class="plain" href="' + e(base) +
        "-/accounts/" + e(a.account) + '/">' + keyCell(a.name, a.account) + "</a>" + flags + "</td>" +
        '<td class="num"><span class="big" data-field="connections">' + a.connections + "</span>" + leafs + "</td>" +
        "<td>" + chips + '</td><td class="num">' + a.connects + '</td><td class="num">' + a.disconnects + "</td></tr>";
    }).join("");
  }
  function eventRows(list) {
    if (!list.length) return empty(8, "No connects or disconnects yet.");
    return list.map(function (ev) {
      var c = ev.client;
      return '<tr data-kind="' + e(ev.kind) + '"><td class="muted">' + clock(ev.time) + "</td>" +
        '<td><span class="pill ' + e(ev.kind) + '">' + e(ev.kind) + "</span></td>" +
        "<td>" + who(ev.account_name, ev.account) + "</td><td>" + who(ev.user_name, ev.user) + "</td>" +
        "<td>" + e(c.name || "—") + '</td><td class="key">' + e(c.host) + "</td><td>" + e(ev.server) + "</td>" +
        '<td class="reason">' + e(ev.reason || "") + "</td></tr>";
    }).join("");
  }
  function authRows(list) {
    if (!list.length) return empty(5, "No authentication errors.");
    return list.map(function (ev) {
      var c = ev.client;
      return '<tr><td class="muted">' + clock(ev.time) + "</td><td>" + e(ev.server) + "</td>" +
        "<td>" + e(c.name || "—") + '<div class="key">' + e(c.host) + "</div></td>" +
        "<td>" + who(ev.user_name, ev.user) + '</td><td class="reason bad">' + e(ev.reason || "") + "</td></tr>";
    }).join("");
  }
  function tile(key, health, label, value, hint) {
    var el = document.getElementById("tile-" + key);
    el.setAttribute("data-health", health);
    el.querySelector(".value").textContent = value;
    el.querySelector(".hint").textContent = hint;
  }
  function tiles(t, lastAuth) {
    var up = t.servers_up, total = t.servers;
    tile("servers", !total ? "idle" : up === total ? "ok" : !up ? "bad" : "warn", "Servers up", up + " / " + total,
      t.servers_stale + " stale · " + t.servers_gone + " gone");
    tile("connections", total ? "ok" : "idle", "Connections", t.connections.toLocaleString("en-US"),
      t.accounts + " accounts · " + t.leafnodes + " leafnodes");
    tile("churn", total ? "ok" : "idle", "Connects / disconnects",
      t.connects.toLocaleString("en-US") + " / " + t.disconnects.toLocaleString("en-US"), "since accountd started");
    tile("auth", t.auth_errors ? "bad" : "ok", "Auth errors", t.auth_errors.toLocaleString("en-US"),
      lastAuth ? "last " + clock(lastAuth.time) + " on " + lastAuth.server : "none seen");
  }
  function nearRows(list, warn) {
    list = list.filter(function (u) { return u.ratio > warn; }).sort(function (a, b) { return b.ratio - a.ratio; });
    if (!list.length) return empty(5, "No account is near a limit.");
    return list.map(function (u) {
      return '<tr data-account="' + e(u.account) + '" data-limit="' + e(u.limit) + '"><td>' + keyCell(u.name, u.account) + "</td>" +
        "<td>" + e(u.limit) + '</td><td class="num">' + num(u.used) + '</td><td class="num">' + num(u.maximum) + "</td>" +
        '<td><span class="pill ' + (u.ratio >= 1 ? "full" : "near") + '">' + Math.round(u.ratio * 100) + "%</span></td></tr>";
    }).join("");
  }
  var CHARTS = [["connections", "Connections", ""], ["subscriptions", "Subscriptions", ""], ["in_msgs", "Messages in / s", ""],
    ["out_msgs", "Messages out / s", ""], ["in_bytes", "Bytes in / s", "bytes"], ["out_bytes", "Bytes out / s", "bytes"],
    ["cpu", "CPU", "%"], ["mem", "Memory", "bytes"], ["slow_consumers", "Slow consumers", ""]];
  function charts(doc) {
    var C = window.accountdCharts;
    var accounts = { minutes: doc.minutes, accounts: {} };
    Object.keys(doc.accounts).map(function (k) {
      var pts = doc.accounts[k].series.connections;
      return [k, pts.length ? pts[pts.length - 1][1] : 0];
    }).sort(function (a, b) { return b[1] - a[1]; }).slice(0, 5).forEach(function (p) { accounts.accounts[p[0]] = doc.accounts[p[0]]; });
    document.getElementById("charts").innerHTML = C.serverCharts(doc, CHARTS) +
      C.accountChart(accounts, "accounts", "Busiest accounts: connections");
  }
  function body(id, html) { document.querySelector("#" + id + " tbody").innerHTML = html; }
  function alertRows(list) {
    if (!list.length) return empty(4, "No alert is firing.");
    return list.map(function (al) {
      return '<tr data-rule="' + e(al.rule) + '"><td>' + e(al.rule) + "</td><td>" + e(al.subject) + "</td><td>" +
        e(clock(al.since)) + "</td><td>" + e(al.message) + "</td></tr>";
    }).join("");
  }
  function alerts() {  // apart from the rest: a monitor served without alert rules answers 404 here
    get("-/monitor/alerts").catch(function () { return null; }).then(function (doc) {
      var card = document.getElementById("alerts-card");
      card.hidden = !doc;
      if (doc) body("alerts", alertRows(doc.alerts));
    }).catch(function () {});
  }
  function refresh() {
    Promise.all([get("-/monitor/servers"), get("-/monitor/accounts"), get("-/monitor/events?limit=50"),
                 get("-/monitor/auth-errors?limit=50"), get("-/monitor/limits"), get("-/monitor/history")]).then(function (res) {
      near = {};
      res[4].limits.forEach(function (u) { if (u.ratio > res[4].warn_ratio) (near[u.account] = near[u.account] || []).push(u); });
      document.querySelector("#near-limits").innerHTML = "<table><thead><tr><th>Account</th><th>Limit</th>" +
        '<th class="num">Used</th><th class="num">Of</th><th>Use</th></tr></thead><tbody>' + nearRows(res[4].limits, res[4].warn_ratio) +
        "</tbody></table>";
      charts(res[5]);
      body("servers", serverRows(res[0].servers));
      body("accounts", accountRows(res[1].accounts));
      body("events", eventRows(res[2].events));
      body("auth-errors", authRows(res[3].auth_errors));
      tiles(res[1].totals, res[3].auth_errors[0]);
      polls += 1;
      document.body.setAttribute("data-polls", String(polls));
      A.live("live", "live · updated " + A.now());
    }).catch(function (err) { A.live("error", "cannot refresh: " + err.message); });
  }
  refresh();
  alerts();
  setInterval(refresh, 2000);
  setInterval(alerts, 2000);
})();
