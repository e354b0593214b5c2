// One server: STATSZ, routes, gateways, leafnodes, JetStream and health from /-/monitor/servers/<id>, with its charts.
(function () {
  "use strict";
  var A = window.accountd, e = A.e, get = A.get;
  var id = document.body.getAttribute("data-server");
  var C = window.accountdCharts, polls = 0;

  function set(elId, html) { document.getElementById(elId).innerHTML = html; }
  function table(headers, rows, none) {
    var head = headers.map(function (h) { return "<th>" + e(h) + "</th>"; }).join("");
    return "<table><thead><tr>" + head + "</tr></thead><tbody>" +
      (rows || '<tr class="empty"><td colspan="' + headers.length + '">' + e(none) + "</td></tr>") + "</tbody></table>";
  }
  function kv(pairs) {
    return table(["Field", "Value"], pairs.map(function (p) {
      return '<tr data-field="' + e(p[0]) + '"><td>' + e(p[0]) + '</td><td class="num">' + e(p[1]) + "</td></tr>";
    }).join(""), "Not answered.");
  }
  function render(d, h) {
    var s = d.statsz, row = d.row || {};
    var health = d.health ? d.health.status : "no answer";
    document.getElementById("tiles").innerHTML =
      tile("Server", row.status === "up" ? "ok" : row.status ? "bad" : "idle", row.name || (d.server && d.server.name) || id.slice(0, 8),
        (row.status || "unknown") + (row.cluster ? " · cluster " + row.cluster : "") + " · " + (row.version || ""), "server-name") +
      tile("Health", health === "ok" ? "ok" : "bad", health, d.health && d.health.error ? d.health.error : "HEALTHZ") +
      tile("Connections", "ok", s ? C.fmt(s.connections, "") : "—", s ? s.subscriptions + " subscriptions" : "") +
      tile("JetStream", d.jetstream ? "ok" : "idle", d.jetstream ? C.fmt(d.jetstream.streams || 0, "") + " streams" : "off",
        d.jetstream ? C.fmt(d.jetstream.memory || 0, "bytes") + " memory · " + C.fmt(d.jetstream.storage || 0, "bytes") + " disk" : "");
    set("statsz", s ? kv([["start", s.start], ["cores", s.cores], ["cpu %", s.cpu], ["memory", C.fmt(s.mem, "bytes")],
      ["connections", s.connections], ["total connections", s.total_connections], ["subscriptions", s.subscriptions],
      ["active accounts", s.active_accounts], ["messages in", s.received && s.received.msgs], ["messages out", s.sent && s.sent.msgs],
      ["bytes in", s.received && C.fmt(s.received.bytes, "bytes")], ["bytes out", s.sent && C.fmt(s.sent.bytes, "bytes")],
      ["slow consumers", s.slow_consumers]]) : kv([]));
    var js = d.jetstream;
    set("jetstream", kv([["health", health]].concat(js ? [["memory", C.fmt(js.memory || 0, "bytes")], ["storage", C.fmt(js.storage || 0, "bytes")],
      ["accounts", js.accounts], ["streams", js.streams], ["consumers", js.consumers], ["messages", js.messages],
      ["API requests", js.api && js.api.total], ["API errors", js.api && js.api.errors]] : [["JetStream", "off or not answered"]])));
    set("routes", table(["Remote", "Name", "Address", "Pending", "Msgs in", "Msgs out", "Subs"], (d.routes || []).map(function (r) {
      return '<tr class="route"><td class="key">' + e(r.remote_id) + "</td><td>" + e(r.remote_name || "") + "</td><td>" + e(r.ip) + ":" + e(r.port) +
        '</td><td class="num">' + e(r.pending_size) + '</td><td class="num">' + e(r.in_msgs) + '</td><td class="num">' + e(r.out_msgs) +
        '</td><td class="num">' + e(r.subscriptions) + "</td></tr>";
    }).join(""), d.routes ? "No routes." : "Not answered."));
    var gw = d.gateways || { outbound: {}, inbound: {} };
    var gws = Object.keys(gw.outbound).map(function (k) { return "<tr><td>outbound</td><td>" + e(k) + "</td></tr>"; })
      .concat(Object.keys(gw.inbound).map(function (k) { return "<tr><td>inbound</td><td>" + e(k) + "</td></tr>"; }));
    set("gateways", table(["Direction", "Gateway"], gws.join(""), d.gateways ? "No gateways." : "Not answered."));
    set("leafnodes", table(["Name", "Account", "Address", "Msgs in", "Msgs out"], (d.leafnodes || []).map(function (l) {
      return "<tr><td>" + e(l.name || "") + '</td><td class="key">' + e(l.account) + "</td><td>" + e(l.ip) + ":" + e(l.port) +
        '</td><td class="num">' + e(l.in_msgs) + '</td><td class="num">' + e(l.out_msgs) + "</td></tr>";
    }).join(""), d.leafnodes ? "No leafnodes." : "Not answered."));
    set("charts", C.serverCharts(h, [["connections", "Connections", ""], ["subscriptions", "Subscriptions", ""],
      ["in_msgs", "Messages in / s", ""], ["out_msgs", "Messages out / s", ""], ["cpu", "CPU", "%"], ["mem", "Memory", "bytes"]]));
  }
  function tile(label, health, value, hint, valueId) {
    return '<div class="tile" data-health="' + health + '"><div class="label">' + e(label) + '</div><div class="value"' +
      (valueId ? ' id="' + valueId + '"' : "") + ">" + e(value) +
      '</div><div class="hint">' + e(hint) + "</div></div>";
  }
  function poll() {
    Promise.all([get("-/monitor/servers/" + encodeURIComponent(id)), get("-/monitor/history?server=" + encodeURIComponent(id))])
      .then(function (res) {
        render(res[0], res[1]);
        polls += 1;
        document.body.setAttribute("data-polls", String(polls));
        A.live("live", "live · updated " + A.now());
      }).catch(function (err) { A.live("error", "cannot refresh: " + err.message); });
  }
  poll();
  setInterval(poll, 5000);
})();
