// Line charts as inline SVG, drawn from /-/monitor/history series ([[t, value], ...]); window.accountdCharts.
(function () {
  "use strict";
  var W = 320, H = 96, PAD = 4;
  var COLORS = ["#2f6fed", "#16a34a", "#c2780a", "#d13b3b", "#7c3aed", "#0891b2"];

  var esc = window.accountd.e;
  function fmt(v, unit) {
    if (unit === "bytes") {
      var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
      while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
      return (i ? v.toFixed(1) : v.toFixed(0)) + " " + u[i];
    }
    if (unit === "%") return v.toFixed(0) + "%";
    return Math.abs(v) >= 100 || Number.isInteger(v) ? Math.round(v).toLocaleString("en-US") : v.toFixed(1);
  }
  // lines: [{label, points: [[t, v], ...]}]; the x axis spans [t0, t1] (Unix seconds).
  function chart(id, title, lines, t0, t1, unit) {
    var max = 0, last = [];
    lines.forEach(function (l) { l.points.forEach(function (p) { if (p[1] > max) max = p[1]; }); });
    var top = max > 0 ? max * 1.1 : 1, span = Math.max(1, t1 - t0);
    var paths = lines.map(function (l, i) {
      var color = COLORS[i % COLORS.length];
      var x = 0, y = 0;
      var d = l.points.map(function (p, j) {
        x = PAD + (W - 2 * PAD) * Math.max(0, p[0] - t0) / span;
        y = H - PAD - (H - 2 * PAD) * p[1] / top;
        return (j ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
      }).join(" ");
      // The newest sample as a dot, so a series of one sample shows too.
      var dot = d ? '<circle cx="' + x.toFixed(1) + '" cy="' + y.toFixed(1) + '" r="2.5" fill="' + color + '"/>' : "";
      var now = l.points.length ? l.points[l.points.length - 1][1] : null;
      last.push('<span class="legend"><i style="background:' + color + '"></i>' + esc(l.label) + " " +
        (now === null ? "—" : esc(fmt(now, unit))) + "</span>");
      return d ? '<path d="' + d + '" fill="none" stroke="' + color + '" stroke-width="1.6" stroke-linejoin="round" ' +
        'vector-effect="non-scaling-stroke"/>' + dot : "";
    }).join("");
    var points = lines.reduce(function (n, l) { return n + l.points.length; }, 0);
    return '<figure class="chart" id="chart-' + esc(id) + '" data-points="' + points + '"><figcaption>' + esc(title) +
      ' <span class="muted">max ' + esc(fmt(max, unit)) + "</span></figcaption>" +
      '<svg viewBox="0 0 ' + W + " " + H + '" preserveAspectRatio="none" role="img" aria-label="' + esc(title) + '">' +
      '<line x1="0" y1="' + (H - PAD) + '" x2="' + W + '" y2="' + (H - PAD) + '" class="axis"/>' + paths + "</svg>" +
      '<div class="legends">' + last.join("") + "</div></figure>";
  }
  // The charts of servers (one line per server) for the given series names.
  function serverCharts(doc, specs) {
    var t1 = Date.now() / 1000, t0 = t1 - doc.minutes * 60;
    var ids = Object.keys(doc.servers || {});
    return specs.map(function (s) {
      var lines = ids.map(function (id) { return { label: doc.servers[id].name, points: doc.servers[id].series[s[0]] || [] }; });
      return chart(s[0], s[1], lines, t0, t1, s[2]);
    }).join("");
  }
  function accountChart(doc, id, title, limit) {
    var t1 = Date.now() / 1000, t0 = t1 - doc.minutes * 60;
    var keys = Object.keys(doc.accounts || {});
    var lines = keys.map(function (k) {
      return { label: doc.accounts[k].name || k.slice(0, 6) + "…", points: doc.accounts[k].series.connections || [] };
    });
    if (typeof limit === "number" && limit > 0) lines.push({ label: "limit", points: [[t0, limit], [t1, limit]] });
    return chart(id, title, lines, t0, t1, "");
  }
  window.accountdCharts = { chart: chart, serverCharts: serverCharts, accountChart: accountChart, fmt: fmt };
})();
