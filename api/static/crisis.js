// Tocsin — a crisis's page: its figures, map and attached cases (/api/v1/crises/{id}/view), and the sections
// read from the APIs of requests, the log book, situation reports, alerts and call-outs, kept live by the
// server-sent events of /api/v1/stream (`crisis`, `case`, `alert`, `callout`). A section whose API this
// Tocsin does not have (404) says « non disponible ». Vanilla JS, nothing from the internet; the forms
// (attach, detach, close) are plain HTML forms posted to the page's server, with the page's CSRF token.
(function () {
  "use strict";

  var body = document.body;
  var ID = body.dataset.crisis, ZONE = body.dataset.timeZone || "Europe/Paris", ZONE_NAME = body.dataset.timeZoneName;
  var MANAGE = body.dataset.manage === "1", CSRF = body.dataset.csrf || "";
  var HEADERS = {"X-Tocsin-Client": "tableau-de-bord"};
  var FAMILIES = {
    "accident-circulation": "Accident de la circulation", "atteinte-personnes": "Atteinte aux personnes",
    "atteinte-biens": "Atteinte aux biens / animal", "incendie": "Incendie", "explosion": "Explosion",
    "infraction": "Suspicion d'infraction", "ordre-public": "Ordre public",
    "aleas-naturels": "Aléas naturels et météorologiques", "aleas-technologiques": "Aléas technologiques ou techniques",
    "disparition": "Disparitions et découvertes", "autre": "Autre nature de fait", "inconnue": "Nature inconnue"
  };
  var state = {view: null, me: null, attached: {}, start: null, geoKey: null, geo: null, timer: null};
  var $ = function (id) { return document.getElementById(id); };

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function num(n) { return (n || 0).toLocaleString("fr-FR"); }
  // A moment in the crisis's zone, the zone stated (« 07/12/2026 14:32 (heure de Paris) »).
  function when(iso) {
    if (!iso) return "";
    try {
      return new Intl.DateTimeFormat("fr-FR", {dateStyle: "short", timeStyle: "short", timeZone: ZONE})
        .format(new Date(iso)) + " (" + ZONE_NAME + ")";
    } catch (e) { return String(iso); }
  }
  function api(path) {
    return fetch(path, {credentials: "same-origin", headers: HEADERS}).then(function (r) {
      if (r.status === 401) { window.location.href = "/connexion"; throw new Error("session"); }
      if (!r.ok) { var e = new Error(r.statusText); e.status = r.status; throw e; }
      return r.json();
    });
  }
  function hint(text) { return '<p class="t-hint">' + esc(text) + "</p>"; }
  var UNAVAILABLE = hint("Non disponible sur ce Tocsin pour l'instant.");

  // ---- the view: figures, map, cases -----------------------------------------------------------------
  var map = window.TocsinMap ? window.TocsinMap($("map"), {
    tiles: body.dataset.tiles, attribution: body.dataset.tilesAttribution,
    label: function (f) { return FAMILIES[f] || f; }, legend: $("legend"),
    onCase: function (caseId) {
      var row = document.querySelector('#cases tr[data-case="' + (window.CSS ? CSS.escape(caseId) : caseId) + '"]');
      if (row) { row.scrollIntoView({block: "center"}); row.classList.add("is-new"); row.focus(); }
    },
    onArea: function () {}
  }) : null;

  function loadView() {
    return api("/api/v1/crises/" + encodeURIComponent(ID) + "/view").then(function (v) {
      state.view = v;
      state.start = v.crisis.start;
      state.attached = {};
      v.cases.forEach(function (c) { state.attached[c.case_id] = true; });
      v.pending.forEach(function (c) { state.attached[c.case_id] = true; });
      figures(v);
      cases(v);
      drawMap(v);
      return v;
    });
  }

  function figures(v) {
    var f = v.figures, open = f.victims.open;
    $("f-active").textContent = num(f.cases_active);
    $("f-total").textContent = num(f.cases_total) + " rattachée" + (f.cases_total > 1 ? "s" : "") + ", " +
      num(f.cases_closed) + " close" + (f.cases_closed > 1 ? "s" : "");
    $("f-victims").textContent = num(open.triaged_victims || open.cases_with_declared_victims);
    $("f-triage").textContent = open.headline;
    $("f-resources").textContent = num(f.resources.engaged);
    $("f-resources-total").textContent = "sur " + num(f.resources.total) + " moyens venus";
    $("f-evacuated").textContent = num(f.victims.evacuated);
    $("f-displaced").textContent = "déplacés : " + num(f.victims.displaced);
    $("families").innerHTML = f.families.length ? f.families.map(function (x) {
      return '<li><span class="t-dot t-fam-' + esc(FAMILIES[x.family] ? x.family : "inconnue") + '"></span>' +
        esc(x.label) + " : " + num(x.active) + " en cours sur " + num(x.total) + "</li>";
    }).join("") : "<li>Aucune affaire rattachée pour l'instant.</li>";
    var scope = $("scope");
    scope.hidden = v.whole_perimeter;
    scope.textContent = v.whole_perimeter ? "" :
      "Chiffres, carte et liste : les affaires de la crise dans votre périmètre seulement.";
  }

  function detachForm(caseId) {
    return '<form method="post" action="/crises/' + encodeURIComponent(ID) + '/detachement" class="t-inline-fields">' +
      '<input type="hidden" name="csrf" value="' + esc(CSRF) + '"><input type="hidden" name="case_id" value="' + esc(caseId) + '">' +
      '<label class="fr-label fr-sr-only" for="reason-' + esc(caseId) + '">Motif du détachement de ' + esc(caseId) + "</label>" +
      '<input class="fr-input" id="reason-' + esc(caseId) + '" name="reason" maxlength="500" required placeholder="Motif">' +
      '<button class="fr-btn fr-btn--sm fr-btn--tertiary" type="submit">Détacher</button></form>';
  }

  function cases(v) {
    var rows = v.cases.map(function (c) {
      return '<tr data-case="' + esc(c.case_id) + '" tabindex="-1"><td><span class="t-dot t-fam-' +
        esc(FAMILIES[c.family] ? c.family : "inconnue") + '"></span>' + esc(c.nature_label) +
        (c.status === "closed" ? ' <span class="fr-badge fr-badge--sm">Close</span>' : "") +
        '<br><span class="t-hint">' + esc(c.case_id) + "</span></td><td>" + esc(c.commune_name) + "</td><td>" +
        esc(c.victims_text) + "</td><td>" + esc(c.resources_text) + "</td><td>" +
        (c.attached_how === "manuel" ? "à la main" + (c.attached_by ? " par " + esc(c.attached_by) : "") : "à son arrivée") +
        '<br><span class="t-hint">' + esc(c.attached_at_text) + "</span></td>" +
        (MANAGE ? "<td>" + detachForm(c.case_id) + "</td>" : "") + "</tr>";
    });
    $("cases").innerHTML = rows.join("") ||
      '<tr><td colspan="' + (MANAGE ? 6 : 5) + '">Aucune affaire rattachée dans votre périmètre pour l\'instant.</td></tr>';
    var pending = $("pending"), notes = [];
    if (v.cases_left_out) notes.push("Les " + num(v.cases.length) + " plus graves sont listées ; " +
      num(v.cases_left_out) + " autres sont comptées dans les chiffres.");
    if (v.pending.length) notes.push("Rattachées, pas encore dans les vues (ou sans message connu) : " +
      v.pending.map(function (p) { return p.case_id; }).join(", ") + ".");
    pending.hidden = !notes.length;
    pending.textContent = notes.join(" ");
  }

  function drawMap(v) {
    if (!map || !state.me) return;
    // The crisis's territory when the reader sees all of it, else the reader's own.
    var t = v.crisis.territory.split(":"), level = t[0], code = t[1];
    if (!v.whole_perimeter) { level = state.me.level; code = state.me.code; }
    var key = level + "/" + code;
    var geo = state.geoKey === key && state.geo ? Promise.resolve(state.geo) :
      api("/api/v1/territories/" + encodeURIComponent(level) + "/" + encodeURIComponent(code) + "/map");
    geo.then(function (g) {
      state.geo = g; state.geoKey = key;
      map.draw({geo: g, children: [], cases: v.cases, level: level, key: key});
    }).catch(function () {});
  }

  // ---- the sections other parts of Tocsin answer -----------------------------------------------------
  function section(id, path, render) {
    return api(path).then(function (r) {
      $(id).innerHTML = render(r.items || []);
    }).catch(function (e) {
      if (e.message === "session") return;
      $(id).innerHTML = UNAVAILABLE;
    });
  }
  function list(items, empty, item) {
    return items.length ? '<ul class="t-list">' + items.map(item).join("") + "</ul>" : hint(empty);
  }

  function loadRequests() {
    return section("requests", "/api/v1/requests?crisis_id=" + encodeURIComponent(ID), function (items) {
      return list(items, "Aucune demande dans cette crise.", function (r) {
        return '<li data-request="' + esc(r.id) + '"><a class="fr-link" href="/demandes?id=' +
          encodeURIComponent(r.id) + '"><strong>' + esc(r.kind_label) + "</strong></a> — " + esc(r.text) +
          '<br><span class="t-hint">' + esc(r.from_organisation_id) + " → " + esc(r.to_organisation_id) + " · " +
          esc(r.status_label) + (r.due_at ? " · échéance " + esc(when(r.due_at)) : "") +
          " · émise " + esc(when(r.issued_at)) + "</span></li>";
      });
    });
  }
  function loadLog() {
    return section("log", "/api/v1/crises/" + encodeURIComponent(ID) + "/log", function (items) {
      return list(items, "La main courante est vide.", function (e) {
        return "<li><strong>" + esc(when(e.at)) + "</strong> — " + esc(e.kind_label) + " — " +
          esc((e.author || {}).name || e.source || "") + "<br>" + esc(e.text) + "</li>";
      });
    });
  }
  function loadReports() {
    return section("reports", "/api/v1/crises/" + encodeURIComponent(ID) + "/reports", function (items) {
      return list(items, "Aucun point de situation.", function (r) {
        var head = (r.number ? "Point n° " + esc(r.number) : "Point de situation") +
          (r.organisation_name || r.organisation_id ? " — " + esc(r.organisation_name || r.organisation_id) : "");
        return "<li><strong>" + head + "</strong>" + (r.at || r.written_at ? " — " + esc(when(r.at || r.written_at)) : "") +
          (r.text ? "<br>" + esc(r.text) : "") + "</li>";
      });
    });
  }
  function loadMobilisation() {
    var alerts = api("/api/v1/alerts").then(function (r) { return r.items || []; });
    var callouts = api("/api/v1/callouts").then(function (r) { return r.items || []; });
    return Promise.all([alerts.catch(function () { return null; }), callouts.catch(function () { return null; })])
      .then(function (r) {
        if (r[0] === null && r[1] === null) { $("mobilisation").innerHTML = UNAVAILABLE; return; }
        // The alerts on the crisis's cases; the call-outs of the crisis (or launched since its start).
        var mine = (r[0] || []).filter(function (a) { return a.crisis_id === ID || (a.case_id && state.attached[a.case_id]); });
        var calls = (r[1] || []).filter(function (c) {
          return c.crisis_id ? c.crisis_id === ID : !state.start || c.launched_at >= state.start;
        });
        var items = mine.map(function (a) {
          return "<li><strong>Alerte</strong>" + (a.exercise ? " (exercice)" : "") + " — " + esc(a.reason) +
            '<br><span class="t-hint">' + esc(when(a.raised_at)) + " · " +
            (a.acknowledged_at ? "acquittée " + esc(when(a.acknowledged_at)) : "non acquittée") + "</span></li>";
        }).concat(calls.map(function (c) {
          return "<li><strong>Appel à mobilisation</strong>" + (c.exercise ? " (exercice)" : "") + " — " + esc(c.question) +
            '<br><span class="t-hint">lancé ' + esc(when(c.launched_at)) + " · " + num(c.tally.answered) + " réponse" +
            (c.tally.answered > 1 ? "s" : "") + " sur " + num(c.tally.asked) + "</span></li>";
        }));
        $("mobilisation").innerHTML = items.length ? '<ul class="t-list">' + items.join("") + "</ul>" :
          hint("Aucune alerte ni aucun appel dans cette crise.");
      });
  }

  // ---- live ------------------------------------------------------------------------------------------
  function setLive(on, text) {
    $("live").classList.toggle("is-on", on);
    $("live").lastChild.textContent = text;
  }
  function soon(what) {
    clearTimeout(state.timer);
    state.timer = setTimeout(what, 150);
  }
  function connect() {
    var src = new EventSource("/api/v1/stream");
    src.addEventListener("hello", function () { setLive(true, "En direct"); });
    src.addEventListener("crisis", function (e) {
      var c = JSON.parse(e.data);
      if (c.id !== ID) return;
      if (state.view && c.status !== state.view.crisis.status) { window.location.reload(); return; }
      soon(function () { loadView().then(loadMobilisation); });
      // A case attached before the views folded it shows up on its `case` event; outside the reader's
      // perimeter it never does: read the view once more a moment later rather than wait for it.
      setTimeout(loadView, 2500);
      loadRequests(); loadLog(); loadReports();
    });
    src.addEventListener("case", function (e) {
      var c = JSON.parse(e.data);
      if (state.attached[c.case_id]) soon(loadView);
    });
    src.addEventListener("alert", function () { loadMobilisation(); });
    src.addEventListener("callout", function () { loadMobilisation(); });
    src.addEventListener("resync", function () { soon(loadAll); });
    src.addEventListener("session-end", function () { src.close(); window.location.href = "/connexion"; });
    src.onerror = function () { setLive(false, "Reconnexion…"); };
  }
  function loadAll() {
    return loadView().then(function () {
      return Promise.all([loadRequests(), loadLog(), loadReports(), loadMobilisation()]);
    });
  }

  api("/api/v1/me").then(function (me) {
    state.me = me;
    connect();
    return loadAll();
  }).catch(function () {});
})();
