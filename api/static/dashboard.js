// Tocsin dashboard: figures, map, case list and detail of one territory, kept live by server-sent events.
// Vanilla JS, no dependency, nothing fetched from the internet. The API calls are authenticated by the
// session cookie; the server scopes every answer to the user's territory.
(function () {
  "use strict";

  var FAMILIES = {
    "accident-circulation": ["Accident de la circulation", "#ff9940"],
    "atteinte-personnes": ["Atteinte aux personnes", "#e1000f"],
    "atteinte-biens": ["Atteinte aux biens / animal", "#a558a0"],
    "incendie": ["Incendie", "#ce0500"],
    "explosion": ["Explosion", "#7d2a00"],
    "infraction": ["Suspicion d'infraction", "#6e445a"],
    "ordre-public": ["Ordre public", "#3a3a3a"],
    "aleas-naturels": ["Aléas naturels et météorologiques", "#0063cb"],
    "aleas-technologiques": ["Aléas technologiques ou techniques", "#716043"],
    "disparition": ["Disparitions et découvertes", "#009081"],
    "autre": ["Autre nature de fait", "#929292"],
    "inconnue": ["Nature inconnue", "#b7b7b7"]
  };
  var LEVEL_LABELS = {national: "National", zone: "Zone", departement: "Département", commune: "Commune"};
  var PAGE = 20;
  // Metropolitan France: the national map is framed on it (overseas territories are reached by drill-down).
  var METROPOLE = [-5.3, 41.2, 9.7, 51.2];

  var state = {me: null, level: null, code: null, offset: 0, total: 0, source: null, known: {}, mapKey: null,
               geo: null, project: null, reloadTimer: null};
  var $ = function (id) { return document.getElementById(id); };
  // Logging out: the stream's `session-end` must not take the page elsewhere than where the logout goes.
  // (Any logout form: the DSFR copies the header's tools into the phone menu.)
  document.addEventListener("submit", function (e) {
    if (e.target.getAttribute("action") !== "/deconnexion") return;
    state.leaving = true;
    if (state.source) state.source.close();
  });

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function num(n) { return (n || 0).toLocaleString("fr-FR"); }
  function family(f) { return FAMILIES[f] || FAMILIES.inconnue; }
  // A family's coloured dot: a class per family (tocsin.css), as the content security policy allows no inline style.
  function dot(f) { return '<span class="t-dot t-fam-' + (FAMILIES[f] ? f : "inconnue") + '"></span>'; }

  function api(path) {
    return fetch(path, {credentials: "same-origin", headers: {"X-Tocsin-Client": "tableau-de-bord"}}).then(function (r) {
      if (r.status === 401) { window.location.href = "/connexion"; throw new Error("session"); }
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (b) {
          var error = new Error(typeof b.detail === "string" ? b.detail : r.statusText);
          error.status = r.status;
          throw error;
        });
      }
      return r.json();
    });
  }
  // Answers for a territory the user has already left are dropped.
  function current(nav) { return function (value) { if (nav !== state.nav) throw new Error("stale"); return value; }; }
  function territoryPath(level, code) { return encodeURIComponent(level) + "/" + encodeURIComponent(code); }

  // ---- navigation -----------------------------------------------------------------------------
  function fromHash() {
    var m = /^#\/?([a-z]+)\/(.+)$/.exec(window.location.hash);
    return m ? {level: m[1], code: decodeURIComponent(m[2])} : {level: state.me.level, code: state.me.code};
  }
  function go(level, code) { window.location.hash = "#/" + level + "/" + encodeURIComponent(code); }
  window.addEventListener("hashchange", function () { var t = fromHash(); show(t.level, t.code); });

  function show(level, code) {
    state.level = level; state.code = code; state.offset = 0; state.known = {}; state.nav = (state.nav || 0) + 1;
    closeDetail();
    var nav = state.nav;
    outside(false);
    Promise.all([loadTerritory(), loadView(), loadCases(), loadMap()]).catch(function (e) {
      if (e.message !== "stale" && nav === state.nav) outside(true, e);
    });
    connect();
  }

  // A territory the user may not see (typed address, old link), or that does not exist: say so in
  // words and offer the way back, rather than an empty map waiting for a stream that will not come.
  function outside(on, error) {
    var box = $("out-of-territory");
    $("app").hidden = on;
    box.hidden = !on;
    if (!on) { box.innerHTML = ""; map.resize(); return; }
    if (state.source) { state.source.close(); state.source = null; }
    setLive(false, "Hors de votre territoire");
    feed = null;
    $("feed").textContent = "";
    $("views-late").hidden = true;
    $("breadcrumb").innerHTML = "";
    var home = state.me, known = error.status === 403 || error.status === 404;
    $("title").textContent = error.status === 404 ? "Territoire introuvable" : "Accès impossible à ce territoire";
    document.title = $("title").textContent + " — Tocsin";
    box.innerHTML = '<div class="fr-alert fr-alert--' + (known ? "warning" : "error") + ' fr-mb-3w" role="alert">' +
      '<h2 class="fr-alert__title">' + (error.status === 404 ? "Ce territoire n'existe pas." :
        error.status === 403 ? "Ce territoire est en dehors de votre périmètre." : "Le serveur n'a pas pu répondre.") + "</h2>" +
      "<p>" + esc(error.message) + "</p>" +
      "<p>Votre compte donne accès à : <strong>" + esc(home.territory_name || home.code) + "</strong>.</p></div>" +
      '<a class="fr-btn fr-icon-arrow-go-back-line fr-btn--icon-left" id="back-home" href="#/' + esc(home.level) + "/" +
      encodeURIComponent(home.code) + '">Revenir à ' + esc(home.territory_name || "mon territoire") + "</a>";
  }

  function loadTerritory() {
    return api("/api/v1/territories/" + territoryPath(state.level, state.code)).then(current(state.nav)).then(function (t) {
      $("title").innerHTML = esc(t.label) + " <small>" + esc(LEVEL_LABELS[t.level] || t.level) + "</small>";
      document.title = t.label + " — Tocsin";
      // Breadcrumb: ancestors the user may see (the API gives a parent only when it is in scope).
      var chain = [t];
      function up(node) {
        if (!node.parent) return Promise.resolve();
        return api("/api/v1/territories/" + territoryPath(node.parent.level, node.parent.code)).then(function (p) {
          chain.unshift(p); return up(p);
        });
      }
      return up(t).then(function () {
        $("breadcrumb").innerHTML = chain.map(function (n, i) {
          var last = i === chain.length - 1;
          return '<li><a class="fr-breadcrumb__link" ' + (last ? 'aria-current="page"'
            : 'href="#/' + esc(n.level) + "/" + encodeURIComponent(n.code) + '"') + ">" + esc(n.name) + "</a></li>";
        }).join("");
      });
    });
  }

  // ---- figures ----------------------------------------------------------------------------------
  function loadView() {
    return api("/api/v1/views/" + territoryPath(state.level, state.code)).then(current(state.nav)).then(function (v) {
      // The victims of the open cases: the field's triage where there is one, else what the calls declared
      // (the server words it and says which is which).
      var open = (v.victims && v.victims.open) || {};
      $("f-active").textContent = num(v.cases_active);
      $("f-total").textContent = num(v.cases_total) + " au total, " + num(v.cases_closed) + " closes";
      if (open.triaged_victims) {
        $("f-victims").textContent = num(open.triaged_victims);
        $("f-victims-label").textContent = "Victimes au bilan des secours (affaires en cours)";
      } else {
        $("f-victims").textContent = num(open.cases_with_declared_victims);
        $("f-victims-label").textContent = "Affaires en cours signalant des victimes (sans bilan des secours)";
      }
      $("f-triage").textContent = (open.headline || "") + " · évacués " + num(open.evacuated) +
        " · déplacés " + num(open.displaced);
      $("f-resources").textContent = num(v.resources && v.resources.engaged);
      $("f-resources-total").textContent = num(v.resources && v.resources.total) + " moyens au total";
      $("f-hour").textContent = num(v.opened_last_hour);
      $("f-day").textContent = num(v.opened_last_24h) + " depuis 24 h";
      var select = $("family-filter"), current = select.value;
      select.innerHTML = '<option value="">Toutes</option>' + Object.keys(FAMILIES).map(function (f) {
        return '<option value="' + f + '"' + (f === current ? " selected" : "") + ">" + esc(FAMILIES[f][0]) + "</option>";
      }).join("");
    });
  }

  // ---- case list ---------------------------------------------------------------------------------
  function filters() {
    var form = $("filters");
    return {status: form.status.value, family: form.family.value, sort: form.sort ? form.sort.value : "severity"};
  }
  function loadCases(fresh) {
    var f = filters();
    var q = "?level=" + encodeURIComponent(state.level) + "&code=" + encodeURIComponent(state.code) +
      "&limit=" + PAGE + "&offset=" + state.offset + (f.status ? "&status=" + f.status : "") +
      (f.family ? "&family=" + f.family : "") + "&sort=" + encodeURIComponent(f.sort || "severity");
    return api("/api/v1/cases" + q).then(current(state.nav)).then(function (page) {
      state.total = page.total;
      var body = $("cases");
      if (!page.items.length) {
        body.innerHTML = '<tr><td colspan="5" class="t-empty">Aucune affaire pour ces critères.</td></tr>';
      } else {
        body.innerHTML = page.items.map(function (c) {
          // Worded by the server (projections.read.rows): nature, victims, resources, time in the zone.
          var fam = family(c.family), isNew = fresh && fresh[c.case_id];
          var classes = (isNew ? "is-new " : "") + (c.severity_label ? "is-serious" : "");
          return '<tr data-case="' + esc(c.case_id) + '"' + (classes.trim() ? ' class="' + classes.trim() + '"' : "") + ">" +
            '<td><div class="t-case-nature">' + dot(c.family) +
            esc(c.nature_label || fam[0]) + "</div>" +
            '<span class="t-tag ' + (c.status === "closed" ? "t-tag--closed" : "t-tag--open") + '">' +
            (c.status === "closed" ? "close" : "en cours") + "</span>" +
            (c.severity_label ? ' <strong class="t-tag t-tag--open t-serious">' + esc(c.severity_label) + "</strong>" : "") + "</td>" +
            "<td>" + esc(c.commune_name || "non localisée") + '<div class="t-muted">' + esc(c.location_label || "") + "</div></td>" +
            '<td class="t-hide-sm">' + esc(c.victims_text) + "</td>" +
            '<td class="t-hide-sm">' + esc(c.resources_text) + "</td>" +
            "<td>" + esc(c.opened_at_text) + "</td></tr>";
        }).join("");
      }
      var last = Math.min(state.offset + PAGE, state.total);
      $("page-info").textContent = state.total ? (state.offset + 1) + "–" + last + " sur " + num(state.total) : "";
      $("prev").disabled = state.offset === 0;
      $("next").disabled = last >= state.total;
    });
  }
  $("filters").addEventListener("change", function () { state.offset = 0; loadCases(); loadMap(); });
  $("prev").addEventListener("click", function () { state.offset = Math.max(0, state.offset - PAGE); loadCases(); });
  $("next").addEventListener("click", function () { state.offset += PAGE; loadCases(); });
  $("cases").addEventListener("click", function (e) {
    var tr = e.target.closest("tr[data-case]");
    if (tr) openDetail(tr.dataset.case);
  });

  // ---- map (api/static/map.js) ---------------------------------------------------------------------
  var map = window.TocsinMap($("map"), {
    tiles: document.body.getAttribute("data-tiles") || "",
    attribution: document.body.getAttribute("data-tiles-attribution") || "",
    label: function (f) { return family(f)[0]; },
    onCase: function (caseId) { openDetail(caseId); },
    onArea: go,
    legend: $("legend"), hint: $("map-hint"), areas: $("map-areas")
  });
  // The map shows the cases the list shows: the same filters, all pages.
  function mapCases() {
    var f = filters();
    return api("/api/v1/cases?level=" + encodeURIComponent(state.level) + "&code=" + encodeURIComponent(state.code) +
      "&limit=500" + (f.status ? "&status=" + f.status : "") + (f.family ? "&family=" + f.family : ""));
  }
  function loadMap() {
    var key = state.level + "/" + state.code;
    var geo = state.mapKey === key && state.geo ? Promise.resolve(state.geo)
      : api("/api/v1/territories/" + territoryPath(state.level, state.code) + "/map");
    return Promise.all([geo, api("/api/v1/views/" + territoryPath(state.level, state.code) + "/children"), mapCases()
    ]).then(current(state.nav)).then(function (r) {
      state.geo = r[0]; state.mapKey = key;
      drawMap(r[0], r[1], r[2].items);
    });
  }
  function drawMap(geo, children, cases, fresh) {
    map.draw({geo: geo, children: children, cases: cases, fresh: fresh, level: state.level, key: state.mapKey});
  }

  // ---- detail ----------------------------------------------------------------------------------
  function openDetail(caseId) {
    var drawer = $("drawer");
    drawer.innerHTML = "<p>Chargement…</p>";
    drawer.classList.add("is-open"); drawer.setAttribute("aria-hidden", "false"); $("overlay").classList.add("is-open");
    api("/api/v1/cases/" + encodeURIComponent(caseId)).then(function (d) {
      // The case as the server words it (projections.read.readable): the drawer only lays it out.
      var s = d.state, r = s.readable, w = s.where || {};
      function list(items) {
        return items.map(function (i) { return "<dt>" + esc(i.label) + "</dt><dd>" + esc(i.text) + "</dd>"; }).join("");
      }
      var personal = "";
      if (r.personal.length) {
        personal = '<h3 class="fr-h6">Données personnelles</h3><div class="t-personal"><dl>' + list(r.personal) + "</dl></div>";
      } else if (!d.personal_included) {
        personal = '<p class="t-muted">Données personnelles (appelant, téléphone, identité et état des victimes) ' +
          "masquées pour votre rôle ; noms et numéros masqués dans la description.</p>";
      }
      drawer.innerHTML =
        '<button class="t-btn t-btn--secondary t-btn--sm" type="button" id="close-detail">Fermer</button>' +
        '<h2>' + dot(s.family) + " " + esc(r.title) + "</h2>" +
        '<span class="t-tag ' + (s.status === "closed" ? "t-tag--closed" : "t-tag--open") + '">' + esc(r.status_text) + "</span>" +
        "<dl><dt>Lieu</dt><dd>" + esc(r.place) + (r.where ? "<br>" + esc(r.where) : "") + "</dd>" +
        (r.location_kind ? "<dt>Type de lieu</dt><dd>" + esc(r.location_kind) + "</dd>" : "") +
        (r.risks.length ? "<dt>Risques</dt><dd>" + r.risks.map(esc).join(", ") + "</dd>" : "") +
        "<dt>Ouverte</dt><dd>" + esc(r.opened) + "</dd>" +
        (r.closed ? "<dt>Close</dt><dd>" + esc(r.closed) + "</dd>" : "") +
        "<dt>Affaire</dt><dd>" + esc(s.case_id) + "</dd></dl>" +
        (w.notes && w.notes.length ? '<p class="t-muted">' + w.notes.map(esc).join("<br>") + "</p>" : "") +
        '<h3 class="fr-h6">Situation</h3>' + (r.situation.length ? '<dl class="t-situation">' + list(r.situation) + "</dl>"
          : '<p class="t-muted">Aucune description transmise.</p>') +
        '<h3 class="fr-h6">Victimes</h3><ul>' + r.victims.lines.map(function (l) { return "<li>" + esc(l) + "</li>"; }).join("") + "</ul>" +
        '<h3 class="fr-h6">Moyens</h3><p>' + esc(r.resources_text) + "</p>" + (r.resources.length ? '<ul class="t-resources">' +
          r.resources.map(function (m) {
            return "<li><strong>" + esc(m.name) + "</strong>" + (m.kind ? " (" + esc(m.kind) + ")" : "") + " : " +
              esc(m.status) + (m.since ? ' <span class="t-muted">depuis le ' + esc(m.since) + "</span>" : "") + "</li>";
          }).join("") + "</ul>" : "") +
        nexsisRequests(r.nexsis_requests || []) +
        personal +
        '<h3 class="fr-h6">Chronologie</h3><ol class="t-timeline">' + r.chronology.map(function (e) {
          return "<li><strong>" + esc(e.title) + "</strong> — " + esc(e.changes.join(" ; ")) + "<br>" +
            '<span class="t-muted">' + esc(e.when) + ", " + esc(e.by) + "</span></li>";
        }).join("") + "</ol>";
      $("close-detail").addEventListener("click", closeDetail);
    }).catch(function (e) { drawer.innerHTML = '<p class="t-alert t-alert--error">' + esc(e.message) + "</p>"; });
  }
  // Requests the emergency services exchanged through NexSIS on the case: shown, never acted on here.
  function nexsisRequests(items) {
    if (!items.length) return "";
    return '<h3 class="fr-h6">Demandes entre services (NexSIS)</h3><ul class="t-requests">' + items.map(function (q) {
      var details = [];
      if (q.purpose_label) details.push("Objet : " + q.purpose_label);
      if (q.deadline_text) details.push("Délai demandé : " + q.deadline_text);
      if (q.answer_text) {
        details.push("Réponse : " + q.answer_text + (q.answered_by_label ? " (" + q.answered_by_label + ")" : "") +
          (q.answer_deadline_text ? ", délai engagé : " + q.answer_deadline_text : ""));
      }
      if (q.mission_status_text) details.push("Mission : " + q.mission_status_text);
      return "<li><strong>" + esc(q.kind_label) + "</strong> — " + esc(q.from_label) + " → " + esc(q.to_label) +
        (details.length ? "<br>" + esc(details.join(" ; ")) : "") +
        '<br><span class="t-muted">' + esc(q.status_text) + (q.requested_text ? ", le " + esc(q.requested_text) : "") +
        "</span></li>";
    }).join("") + "</ul>";
  }
  function closeDetail() {
    $("drawer").classList.remove("is-open"); $("drawer").setAttribute("aria-hidden", "true");
    $("overlay").classList.remove("is-open");
  }
  $("overlay").addEventListener("click", closeDetail);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") closeDetail(); });

  // ---- live ------------------------------------------------------------------------------------
  function setLive(on, text) {
    $("live").classList.toggle("is-on", on);
    $("live").lastChild.textContent = text;
  }
  // When the last NexSIS message arrived: « En direct » alone would hide a stopped feed. And since when
  // received events wait for the views: fresh messages do not make fresh figures if the views stand
  // still. The server sends its clock, so the ages counted here are right even if this computer's is not.
  var feed = null;  // set by the stream; dropped when the territory is out of reach
  function setFeed(f) {
    feed = {last: f.last_received_at ? Date.parse(f.last_received_at) : null,
            waiting: f.views_waiting_since ? Date.parse(f.views_waiting_since) : null,
            skew: Date.parse(f.now) - Date.now(), quietAfter: f.quiet_after_seconds,
            lateAfter: f.views_late_after_seconds, lastText: f.last_received_text, waitingText: f.views_waiting_since_text};
    drawReplica(f.replication);
    drawFeed();
  }
  function duration(seconds) {
    if (seconds < 60) return Math.max(0, Math.floor(seconds)) + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min";
    if (seconds < 86400) {
      var m = Math.floor(seconds % 3600 / 60);
      return Math.floor(seconds / 3600) + " h" + (m ? " " + String(m).padStart(2, "0") : "");
    }
    return Math.floor(seconds / 86400) + " j";
  }
  function drawFeed() {
    if (!feed) return;
    var el = $("feed"), late = $("views-late"), now = Date.now() + feed.skew;
    var waited = feed.waiting === null ? 0 : (now - feed.waiting) / 1000;
    late.hidden = !(waited > feed.lateAfter);
    if (!late.hidden) {
      late.textContent = "Chiffres en retard de " + duration(waited);
      late.title = "Des messages reçus depuis le " + feed.waitingText +
        " ne sont pas encore intégrés aux chiffres, à la carte et à la liste" +
        " (mise à jour des vues arrêtée ou en cours de reconstruction).";
    }
    if (feed.last === null) {
      el.className = "t-feed is-quiet"; el.textContent = "Aucun message NexSIS reçu"; el.title = "";
      return;
    }
    var age = (now - feed.last) / 1000, quiet = age > feed.quietAfter;
    el.className = "t-feed" + (quiet ? " is-quiet" : "");
    el.textContent = (quiet ? "Aucun message NexSIS depuis " : "Dernier message NexSIS il y a ") + duration(age);
    el.title = "Dernier message NexSIS reçu le " + feed.lastText +
      (quiet ? " : le flux est peut-être interrompu, les données affichées peuvent être anciennes." : "");
  }
  // Read from a standby (TOCSIN_READ_DATABASE_URL): how far its replay of the primary lags, said plainly.
  function drawReplica(r) {
    var el = $("replica");
    el.hidden = !(r && r.standby);
    if (el.hidden) return;
    var lag = r.lag_seconds;
    el.className = "t-feed" + (lag > 5 ? " is-quiet" : "");
    el.textContent = "Serveur secondaire : retard " + (lag < 1 ? "< 1 s" : duration(lag));
    el.title = "Ce tableau de bord lit une copie de la base (serveur secondaire), à jour à " +
      duration(lag) + " près (" + r.lag_bytes + " octets de journal restant à rejouer).";
  }
  setInterval(drawFeed, 5000);
  function connect() {
    if (state.source) state.source.close();
    var src = new EventSource("/api/v1/stream?level=" + encodeURIComponent(state.level) + "&code=" + encodeURIComponent(state.code));
    state.source = src;
    src.addEventListener("hello", function (e) {
      setLive(true, "En direct");
      setFeed(JSON.parse(e.data).feed);
    });
    src.addEventListener("feed", function (e) { setFeed(JSON.parse(e.data)); });
    src.addEventListener("case", function (e) {
      var c = JSON.parse(e.data);
      state.known[c.case_id] = true;
      scheduleReload(c.case_id);
    });
    src.addEventListener("resync", function () { scheduleReload(null); });
    // The session expired or was ended (logout, maybe in another tab): back to the login page.
    // Not while this page's own logout is on its way (to the identity provider, maybe): it goes there.
    src.addEventListener("session-end", function () {
      src.close();
      if (!state.leaving) window.location.href = "/connexion";
    });
    src.onerror = function () { setLive(false, "Reconnexion…"); };
  }
  var pending = {};
  function scheduleReload(caseId) {
    if (caseId) pending[caseId] = true;
    clearTimeout(state.reloadTimer);
    state.reloadTimer = setTimeout(function () {
      var fresh = pending; pending = {};
      loadView();
      loadCases(fresh);
      var key = state.level + "/" + state.code;
      Promise.all([api("/api/v1/views/" + territoryPath(state.level, state.code) + "/children"), mapCases()
      ]).then(function (r) { if (state.mapKey === key && state.geo) drawMap(state.geo, r[0], r[1].items, fresh); });
    }, 120);
  }

  // ---- start -----------------------------------------------------------------------------------
  api("/api/v1/me").then(function (me) {
    state.me = me;
    var t = fromHash();
    show(t.level, t.code);
  });
})();
