// One account for people: the decoded JWT, live usage against its limits (polled), versions with diffs.
(function () {
  "use strict";
  var A = window.accountd, e = A.e, table = A.table;
  var pub = document.body.getAttribute("data-account");
  var enc = encodeURIComponent(pub);
  var BYTES = { data: 1, payload: 1, mem_storage: 1, disk_storage: 1, mem_max_stream_bytes: 1, disk_max_stream_bytes: 1 };
  var limits = {}, polls = 0, monitored = true;

  function set(id, html) { document.getElementById(id).innerHTML = html; }
  function bytes(v) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(1) : v.toFixed(0)) + " " + units[i];
  }
  function limit(name, v) {
    if (v === -1) return '<span class="muted">unlimited</span>';
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v === "number" && BYTES[name] && v > 0) return e(bytes(v)) + ' <span class="muted">(' + e(v) + ")</span>";
    if (v !== null && typeof v === "object") return '<code>' + e(JSON.stringify(v)) + "</code>";
    return e(v);
  }
  function list(v) { return (v || []).map(function (s) { return "<code>" + e(s) + "</code>"; }).join(" "); }
  function kv(pairs) {
    return '<dl class="kv">' + pairs.filter(function (p) { return p[1] !== "" && p[1] !== null && p[1] !== undefined; })
      .map(function (p) { return "<dt>" + e(p[0]) + "</dt><dd>" + p[1] + "</dd>"; }).join("") + "</dl>";
  }

  function identity(claims, newest) {
    var n = claims.nats || {};
    var exp = claims.exp ? A.when(claims.exp) + (claims.exp * 1000 < Date.now() ? ' <span class="pill gone">expired</span>' : "")
      : '<span class="muted">never</span>';
    var deleted = newest && newest.deleted ? '<span class="pill gone">deleted</span> ' : "";
    return '<div class="identity"><h1 id="account-name">' + deleted + (claims.name ? e(claims.name) : '<span class="muted">unnamed</span>') +
      "</h1>" + kv([
        ["Key", '<code class="full" id="account-key">' + e(pub) + "</code>"],
        ["Issuer", '<code class="full">' + e(claims.iss) + '</code> <span class="muted" id="issuer-role"></span>'],
        ["Issued", A.when(claims.iat) + " UTC"], ["Expires", exp],
        ["Revision", newest ? e(newest.revision) : ""], ["JWT ID", claims.jti ? "<code>" + e(claims.jti) + "</code>" : ""],
        ["Tags", A.chips(n.tags)], ["Description", e(n.description || "")],
        ["Info", n.info_url ? '<a href="' + e(n.info_url) + '" rel="noreferrer">' + e(n.info_url) + "</a>" : ""],
      ]) + "</div>";
  }
  function limitsTable(l) {
    var first = ["conn", "leaf", "subs"];
    var names = first.filter(function (k) { return k in l; }).concat(Object.keys(l).filter(function (k) {
      return k !== "tiered_limits" && first.indexOf(k) < 0;
    }));
    var rows = names.map(function (k) {
      return '<tr data-limit="' + e(k) + '"><td>' + e(k) + '</td><td class="num">' + limit(k, l[k]) + "</td></tr>";
    });
    Object.keys(l.tiered_limits || {}).forEach(function (tier) {
      rows.push("<tr><td>JetStream tier " + e(tier) + "</td><td>" + limit("", l.tiered_limits[tier]) + "</td></tr>");
    });
    return table(["Limit", ">Value"], rows.join(""));
  }
  function scope(t) {
    var out = [];
    ["pub", "sub"].forEach(function (w) {
      var p = t[w] || {};
      if (p.allow && p.allow.length) out.push([w + " allow", list(p.allow)]);
      if (p.deny && p.deny.length) out.push([w + " deny", list(p.deny)]);
    });
    if (t.resp) out.push(["responses", e((t.resp.max || 0) + " within " + (t.resp.ttl || 0) + " ns")]);
    ["subs", "data", "payload"].forEach(function (k) { if (t[k] !== undefined && t[k] !== -1) out.push([k, limit(k, t[k])]); });
    if (t.bearer_token) out.push(["bearer token", "allowed"]);
    if (t.allowed_connection_types && t.allowed_connection_types.length) out.push(["connection types", list(t.allowed_connection_types)]);
    if (t.src && t.src.length) out.push(["source networks", list(t.src)]);
    if (t.times && t.times.length) out.push(["times", e(JSON.stringify(t.times))]);
    return out.length ? kv(out) : '<span class="muted">no restrictions in the template</span>';
  }
  function signingKeys(keys) {
    return table(["Key", "Scope"], (keys || []).map(function (k) {
      if (typeof k === "string") return '<tr><td><code class="full">' + e(k) + '</code></td><td class="muted">unscoped: users it signs carry their own permissions</td></tr>';
      var role = k.role ? '<span class="chip">role ' + e(k.role) + "</span> " : "";
      return '<tr><td><code class="full">' + e(k.key) + "</code>" + (k.description ? '<div class="muted">' + e(k.description) + "</div>" : "") +
        '</td><td class="wrap">' + role + scope(k.template || {}) + "</td></tr>";
    }).join(""));
  }
  function exportsTable(list) {
    return table(["Name", "Subject", "Type", "Access", "Details"], (list || []).map(function (x) {
      var details = [x.response_type && x.type === "service" ? "responses: " + x.response_type : "",
        x.account_token_position ? "token position " + x.account_token_position : "", x.advertise ? "advertised" : "",
        x.revocations ? Object.keys(x.revocations).length + " revoked" : "", x.description || ""].filter(Boolean).join(" · ");
      return "<tr><td>" + e(x.name || "—") + "</td><td><code>" + e(x.subject) + "</code></td><td>" + e(x.type) + "</td><td>" +
        (x.token_req ? '<span class="pill stale">private</span>' : '<span class="pill up">public</span>') +
        '</td><td class="wrap muted">' + e(details) + "</td></tr>";
    }).join(""));
  }
  function accountLink(k) {
    return '<a href="' + e(A.base + "-/accounts/" + encodeURIComponent(k || "") + "/") + '">' + A.key(k) + "</a>";
  }
  function importsTable(list) {
    return table(["Name", "Subject", "From account", "Type", "As"], (list || []).map(function (x) {
      var as = x.local_subject || x.to || "";
      return "<tr><td>" + e(x.name || "—") + (x.token ? ' <span class="chip">token</span>' : "") + "</td><td><code>" + e(x.subject) +
        "</code></td><td>" + accountLink(x.account) + "</td><td>" + e(x.type) + (x.share ? " · shared" : "") + "</td><td>" +
        (as ? "<code>" + e(as) + "</code>" : '<span class="muted">same</span>') + "</td></tr>";
    }).join(""));
  }
  function revocations(revs) {
    return table(["User", "Issued before"], Object.keys(revs || {}).sort().map(function (k) {
      return "<tr><td>" + (k === "*" ? '<span class="strong">every user</span>' : '<code class="full">' + e(k) + "</code>") +
        "</td><td>" + A.when(revs[k]) + "</td></tr>";
    }).join(""));
  }

  // Whether the issuer is the operator itself or one of its signing keys (the operator JWT is public).
  function issuer(iss) {
    A.get("jwt/v1/operator?decode=true").then(function (op) {
      var c = op.claims || {}, keys = (c.nats || {}).signing_keys || [];
      var role = iss === c.sub ? "the operator" + (c.name ? " " + c.name : "") :
        keys.indexOf(iss) >= 0 ? "a signing key of the operator" + (c.name ? " " + c.name : "") : "";
      document.getElementById("issuer-role").textContent = role;
    }, function () { /* the label is a nicety */ });
  }
  function source(s) {
    if (!s) return "—";
    if (typeof s === "string") return '<span class="chip">' + e(s) + "</span>";
    var rest = Object.keys(s).filter(function (k) { return k !== "via"; }).map(function (k) { return e(k) + " " + e(s[k]); });
    return '<span class="chip">' + e(s.via || "?") + "</span> " + '<span class="muted">' + rest.join(" · ") + "</span>";
  }
  function versions(list) {
    if (!list.length) return table(["Revision"], "");
    return table([">Rev", "Issued", "Stored", "Source", "Issuer", "JWT ID"], list.map(function (v, i) {
      var mark = i === 0 ? ' <span class="pill up">current</span>' : "";
      var row = '<tr class="version" data-revision="' + e(v.revision) + '"><td class="num strong">' + e(v.revision) + "</td><td>" +
        A.when(v.iat) + mark + (v.deleted ? ' <span class="pill gone">deleted</span>' : "") + '</td><td class="muted">' + A.when(v.stored_at) +
        "</td><td>" + source(v.source) + "</td><td>" + A.key(v.issuer) + '</td><td class="key">' + e(v.jti || "") + "</td></tr>";
      var note = i === list.length - 1 ? "the oldest version kept" : "comparing…";
      return row + '<tr class="diff-row"><td></td><td colspan="5"><ul class="diff" id="diff-' + e(v.revision) + '"><li class="muted">' +
        e(note) + "</li></ul></td></tr>";
    }).join(""));
  }
  function diffs(list) {
    var pairs = [], done = 0;
    for (var i = 0; i + 1 < list.length; i++) pairs.push([list[i + 1], list[i]]);
    function show(newer, items, cls) {
      document.getElementById("diff-" + newer.revision).innerHTML = items.map(function (t) {
        return '<li class="' + (cls || "") + '">' + e(t) + "</li>";
      }).join("");
      done += 1;
      document.body.setAttribute("data-diffs", String(done));
    }
    function one(pair) {
      var older = pair[0], newer = pair[1];
      if (newer.deleted) { show(newer, ["account deleted"], "bad"); return Promise.resolve(); }
      if (older.deleted) {  // compare with the live version before the deletion (the route's default "from")
        return A.get("-/accounts/" + enc + "/diff?to=" + newer.revision).then(function (d) {
          show(newer, ["stored again after a deletion; since revision " + d.from + ":"].concat(d.lines || []));
        }, function () { show(newer, ["stored again after a deletion"]); });
      }
      return A.get("-/accounts/" + enc + "/diff?from=" + older.revision + "&to=" + newer.revision).then(function (d) {
        var lines = d.lines || [];
        show(newer, lines.length ? lines : ["no change in the claims (re-issued)"], lines.length ? "" : "muted");
      }, function (err) { show(newer, ["cannot compare: " + err.message], "bad"); });
    }
    function worker() { var p = pairs.shift(); return p ? one(p).then(worker) : Promise.resolve(); }
    return Promise.all([worker(), worker(), worker(), worker()]);
  }

  function meter(label, used, max, hint) {
    var known = used !== null && used !== undefined;
    var capped = typeof max === "number" && max >= 0;
    var pct = capped && known ? (max === 0 ? 100 : Math.min(100, used * 100 / max)) : 0;
    var health = !known ? "idle" : pct >= 90 ? "bad" : pct >= 75 ? "warn" : "ok";
    return '<div class="tile meter" data-health="' + health + '" id="meter-' + label.toLowerCase() + '"><div class="label">' + e(label) +
      '</div><div class="value"><span data-field="used">' + (known ? e(used) : "—") + "</span>" +
      (max === null ? "" : ' <span class="of">of ' + (capped ? e(max) : "unlimited") + "</span>") + "</div>" + (capped ? '<span class="bar wide' + (pct >= 75 ? " hot" : "") +
      '"><span style="width:' + pct.toFixed(0) + '%"></span></span>' : "") + '<div class="hint">' + e(hint) + "</div></div>";
  }
  function usage(u) {
    var servers = Object.keys(u.servers || {}).map(function (k) { return k + ": " + u.servers[k]; }).join(", ");
    set("usage", meter("Connections", u.connections, limits.conn, servers ? "per server: " + servers : "no clients now") +
      meter("Leafnodes", u.leafnodes, limits.leaf, "leafnode connections into this account") +
      meter("Subscriptions", u.subscriptions, limits.subs,
        u.subscriptions === null ? "not reported yet (nats-server 2.10+, every 10 s)" : "summed over servers") +
      meter("Connects", u.connects, null, u.disconnects + " disconnects seen since accountd started"));
  }
  function events(list) {
    return table(["Time", "Event", "User", "Client", "Address", "Server", "Reason"], list.map(function (ev) {
      var c = ev.client || {};
      return '<tr data-kind="' + e(ev.kind) + '"><td class="muted">' + A.clock(ev.time) + '</td><td><span class="pill ' + e(ev.kind) +
        '">' + e(ev.kind) + "</span></td><td>" + (ev.user_name ? e(ev.user_name) : A.key(ev.user)) + "</td><td>" + e(c.name || "—") +
        '</td><td class="key">' + e(c.host) + "</td><td>" + e(ev.server) + '</td><td class="reason">' + e(ev.reason || "") + "</td></tr>";
    }).join(""));
  }
  function authErrors(list) {
    return table(["Time", "Server", "Client", "Claimed user", "Reason"], list.map(function (ev) {
      var c = ev.client || {};
      return '<tr><td class="muted">' + A.clock(ev.time) + "</td><td>" + e(ev.server) + "</td><td>" + e(c.name || "—") +
        '<div class="key">' + e(c.host) + "</div></td><td>" + (ev.user_name ? e(ev.user_name) : A.key(ev.user)) +
        '</td><td class="reason bad">' + e(ev.reason || "") + "</td></tr>";
    }).join(""));
  }
  function connections(doc) {
    document.getElementById("connections-note").textContent = doc.connections.length + " on " + doc.servers + " server(s) · asked of every server (CONNZ)";
    return table(["Client", "Address", "User", "Language", "Uptime", ">Pending", ">Msgs in", ">Msgs out", "Server"], doc.connections.map(function (c) {
      return '<tr class="connection" data-name="' + e(c.name) + '"><td>' + e(c.name || "—") + '</td><td class="key">' + e(c.address) + "</td><td>" +
        (c.user_name ? e(c.user_name) : A.key(c.user)) + "</td><td>" + e(c.lang) + " " + e(c.version) + "</td><td>" + e(c.uptime) +
        '</td><td class="num">' + e(c.pending_bytes) + '</td><td class="num">' + e(c.in_msgs) + '</td><td class="num">' + e(c.out_msgs) +
        "</td><td>" + e(c.server) + "</td></tr>";
    }).join(""));
  }
  function extras() {  // the live connections, this account's history and its limits above 80 %
    A.get("-/monitor/accounts/" + enc + "/connections").then(function (doc) { set("connections", connections(doc)); }, function () {});
    Promise.all([A.get("-/monitor/history?account=" + enc), A.get("-/monitor/limits?account=" + enc)]).then(function (res) {
      set("account-charts", window.accountdCharts.accountChart(res[0], "account-connections", "Connections, the last " +
        res[0].minutes + " minutes", limits.conn));
      res[1].limits.forEach(function (u) {
        var el = document.getElementById("meter-" + { conn: "connections", leaf: "leafnodes", subs: "subscriptions" }[u.limit]);
        if (el && u.ratio > res[1].warn_ratio) el.setAttribute("data-near", String(Math.round(u.ratio * 100)));
      });
      var js = res[1].limits.filter(function (u) { return ["mem_storage", "disk_storage", "streams", "consumer"].indexOf(u.limit) >= 0; });
      if (js.length) {
        document.getElementById("usage").insertAdjacentHTML("beforeend", js.map(function (u) {
          var b = u.limit.indexOf("storage") > 0;
          var hint = Math.round(u.ratio * 100) + "% used" + (b ? " · " + bytes(u.used) + " of " + bytes(u.maximum) : "");
          return meter("JetStream " + u.limit, u.used, u.maximum, hint)
            .replace('id="meter-jetstream ' + u.limit + '"', 'id="meter-js-' + u.limit + '"');
        }).join(""));
      }
    }, function () {});
  }
  function poll() {
    if (!monitored) return;
    A.get("-/monitor/accounts/" + enc + "?limit=50").then(function (u) {
      usage(u);
      set("events", events(u.events || []));
      set("auth-errors", authErrors(u.auth_errors || []));
      extras();
      polls += 1;
      document.body.setAttribute("data-polls", String(polls));
      A.live("live", "live · updated " + A.now());
    }).catch(function (err) {
      if (err.status === 404) {
        monitored = false;  // no --nats: nothing watches the $SYS events
        document.getElementById("usage-note").textContent = "accountd runs without --nats: no live usage";
        ["events", "auth-errors"].forEach(function (id) { set(id, table(["Events"], A.empty(1, "Needs accountd serve --nats."))); });
        A.live("static", "rendered " + A.now());
        return;
      }
      A.live("error", "cannot refresh: " + err.message);
    });
  }

  function current(history) {
    // The decoded JWT; for a deleted account, the newest version that was not a deletion.
    return A.get("jwt/v1/accounts/" + enc + "?decode=true").catch(function (err) {
      var live = (history.versions || []).filter(function (v) { return !v.deleted; })[0];
      if (err.status !== 404 || !live) throw err;
      return { claims: A.claimsOf(live.jwt) || {} };
    });
  }
  A.get("-/accounts/" + enc + "/history").catch(function (err) {
    if (err.status === 404) return { versions: [] };
    throw err;
  }).then(function (history) {
    var list = history.versions || [];
    return current(history).then(function (doc) {
      var claims = doc.claims || {}, n = claims.nats || {};
      limits = n.limits || {};
      set("identity", identity(claims, list[0]));
      set("limits", limitsTable(limits));
      set("signing-keys", signingKeys(n.signing_keys));
      set("exports", exportsTable(n.exports));
      set("imports", importsTable(n.imports));
      set("revocations", revocations(n.revocations));
      set("versions", versions(list));
      document.getElementById("decoded").textContent = JSON.stringify(doc, null, 2);
      issuer(claims.iss);
      document.body.setAttribute("data-rendered", "1");
      poll();
      setInterval(poll, 2000);
      return diffs(list);
    });
  }).catch(function (err) {
    set("identity", '<div class="pad bad">' + e(err.status === 404 ? "accountd has no account " + pub + "." : "Cannot load: " + err.message) + "</div>");
    document.body.setAttribute("data-rendered", "error");
    A.live("error", err.message);
  });
})();
