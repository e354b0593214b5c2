// The accounts list: one GET /-/accounts?q=&after=&limit= per search (debounced) or page, never all of them.
(function () {
  "use strict";
  var A = window.accountd, e = A.e;
  var LIMIT = 50, DEBOUNCE_MS = 250;
  var box = document.getElementById("q"), prev = document.getElementById("prev"), next = document.getElementById("next");
  var params = new URLSearchParams(window.location.search);
  var q = params.get("q") || "";
  var trail = params.get("after") ? [null] : [];  // the "after" of each page before this one (a link in: the first)
  var after = params.get("after") || null, nextKey = null, seq = 0, loads = 0, timer = null;
  box.value = q;

  function expiry(exp) {
    if (!exp) return '<span class="muted">never</span>';
    var gone = exp * 1000 < Date.now();
    return (gone ? '<span class="pill gone">expired</span> ' : "") + A.when(exp);
  }
  function rows(list) {
    if (!list.length) return A.empty(5, q ? "No account matches “" + q + "”." : "No accounts are stored.");
    return list.map(function (a) {
      var href = A.base + "-/accounts/" + encodeURIComponent(a.account) + "/";
      var name = a.name ? e(a.name) : '<span class="muted">unnamed</span>';
      return '<tr data-account="' + e(a.account) + '"><td><a class="strong" href="' + e(href) + '">' + name + "</a>" +
        '<div class="key">' + e(a.account) + "</div></td>" +
        "<td>" + (A.chips(a.tags) || '<span class="muted">—</span>') + "</td>" +
        '<td class="muted">' + A.when(a.iat) + "</td><td>" + expiry(a.exp) + "</td>" +
        '<td class="num">' + e(a.revision === undefined ? "—" : a.revision) + "</td></tr>";
    }).join("");
  }
  function remember() {
    var p = new URLSearchParams();
    if (q) p.set("q", q);
    if (after) p.set("after", after);
    var s = p.toString();
    window.history.replaceState(null, "", window.location.pathname + (s ? "?" + s : ""));
  }
  // Accounts above 80 % of a limit get a pill (from the monitor; absent without --nats).
  function flag() {
    A.get("-/monitor/limits").then(function (doc) {
      doc.limits.forEach(function (u) {
        if (u.ratio <= doc.warn_ratio) return;
        var cell = document.querySelector('#accounts-list tr[data-account="' + u.account + '"] td');
        if (cell) cell.insertAdjacentHTML("beforeend", ' <span class="pill ' + (u.ratio >= 1 ? "full" : "near") + '" data-limit="' +
          e(u.limit) + '">' + e(u.limit) + " " + Math.round(u.ratio * 100) + "%</span>");
      });
    }, function () { /* no monitor: nothing to flag */ });
  }
  function load() {
    var mine = ++seq;
    var path = "-/accounts?limit=" + LIMIT + "&q=" + encodeURIComponent(q) + (after ? "&after=" + encodeURIComponent(after) : "");
    A.live("static", "loading…");
    A.get(path).then(function (doc) {
      if (mine !== seq) return;  // an older search answered after a newer one
      var list = doc.accounts || [];
      nextKey = doc.next || null;
      document.querySelector("#accounts-list tbody").innerHTML = rows(list);
      flag();
      document.getElementById("page").textContent = "page " + (trail.length + 1);
      document.getElementById("summary").textContent = list.length + (nextKey ? "+" : "") +
        (q ? " matching “" + q + "”" : " stored in accountd");
      prev.disabled = !trail.length;
      next.disabled = !nextKey;
      remember();
      loads += 1;
      document.body.setAttribute("data-loads", String(loads));
      document.body.setAttribute("data-count", String(list.length));
      A.live("live", "updated " + A.now());
    }).catch(function (err) {
      if (mine !== seq) return;
      document.querySelector("#accounts-list tbody").innerHTML = A.empty(5, "Cannot list the accounts: " + err.message);
      A.live("error", "cannot load: " + err.message);
    });
  }
  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (box.value.trim() === q) return;
      q = box.value.trim();
      after = null;
      trail = [];
      load();
    }, DEBOUNCE_MS);
  });
  next.addEventListener("click", function () {
    if (!nextKey) return;
    trail.push(after);
    after = nextKey;
    load();
  });
  prev.addEventListener("click", function () {
    if (!trail.length) return;
    after = trail.pop();
    load();
  });
  load();
})();
