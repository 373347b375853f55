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
  var EVENT_LABELS = {
    "Case.Reported": "Signalement (RC-EDA)", "Case.SituationUpdated": "Point de situation (EMSI)",
    "Case.ResourcesUpdated": "Moyens engagés (RC-RI)", "Case.Acknowledged": "Acquittement (RC-REF)"
  };
  var VICTIMS = {"0": "aucune victime", "1": "une victime", "PLUSIEURS": "plusieurs victimes",
    "BEAUCOUP": "beaucoup de victimes", "INCONNU": "nombre inconnu", "NON DEFINI": "non renseigné"};
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
  function fmtTime(iso) {
    if (!iso) return "–";
    var d = new Date(iso);
    if (isNaN(d)) return esc(iso);
    return d.toLocaleString("fr-FR", {day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit"});
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
      var triage = (v.victims && v.victims.triage) || {};
      var victims = (triage.red || 0) + (triage.yellow || 0) + (triage.green || 0) + (triage.black || 0);
      $("f-active").textContent = num(v.cases_active);
      $("f-total").textContent = num(v.cases_total) + " au total, " + num(v.cases_closed) + " closes";
      $("f-victims").textContent = num(victims);
      $("f-triage").textContent = "UA " + num(triage.red) + " · UR " + num(triage.yellow) + " · impliqués " +
        num(triage.green) + " · décédés " + num(triage.black);
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
    return {status: form.status.value, family: form.family.value};
  }
  function loadCases(fresh) {
    var f = filters();
    var q = "?level=" + encodeURIComponent(state.level) + "&code=" + encodeURIComponent(state.code) +
      "&limit=" + PAGE + "&offset=" + state.offset + (f.status ? "&status=" + f.status : "") + (f.family ? "&family=" + f.family : "");
    return api("/api/v1/cases" + q).then(current(state.nav)).then(function (page) {
      state.total = page.total;
      var body = $("cases");
      if (!page.items.length) {
        body.innerHTML = '<tr><td colspan="5" class="t-empty">Aucune affaire pour ces critères.</td></tr>';
      } else {
        body.innerHTML = page.items.map(function (c) {
          var fam = family(c.family), isNew = fresh && fresh[c.case_id];
          var victims = (c.red || 0) + (c.yellow || 0) + (c.green || 0) + (c.black || 0);
          return '<tr data-case="' + esc(c.case_id) + '"' + (isNew ? ' class="is-new"' : "") + ">" +
            '<td><div class="t-case-nature">' + dot(c.family) +
            esc(c.nature_label || fam[0]) + "</div>" +
            '<span class="t-tag ' + (c.status === "closed" ? "t-tag--closed" : "t-tag--open") + '">' +
            (c.status === "closed" ? "close" : "en cours") + "</span></td>" +
            "<td>" + esc(c.commune_name || "non localisée") + '<div class="t-muted">' + esc(c.location_label || "") + "</div></td>" +
            '<td class="t-hide-sm">' + num(victims) + (c.red ? ' <span class="t-tag t-tag--open">UA ' + c.red + "</span>" : "") + "</td>" +
            '<td class="t-hide-sm">' + num(c.resources_engaged) + "</td>" +
            "<td>" + fmtTime(c.opened_at) + "</td></tr>";
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
      var s = d.state, w = s.where || {}, fam = family(s.family), nature = s.nature || {};
      var cas = s.casualties || {};
      var resources = Object.keys(s.resources || {}).map(function (k) { return s.resources[k]; });
      var personal = "";
      if (d.personal_included && s.personal && Object.keys(s.personal).length) {
        personal = '<h3>Données personnelles</h3><div class="t-personal"><dl>' + Object.keys(s.personal).map(function (k) {
          var v = s.personal[k]; if (typeof v === "object") v = JSON.stringify(v);
          return "<dt>" + esc(k.replace(/_/g, " ")) + "</dt><dd>" + esc(v) + "</dd>";
        }).join("") + "</dl></div>";
      } else if (!d.personal_included) {
        personal = '<p class="t-muted">Données personnelles masquées pour votre rôle.</p>';
      }
      drawer.innerHTML =
        '<button class="t-btn t-btn--secondary t-btn--sm" type="button" id="close-detail">Fermer</button>' +
        '<h2>' + dot(s.family) + " " + esc(nature.label || fam[0]) + "</h2>" +
        '<span class="t-tag ' + (s.status === "closed" ? "t-tag--closed" : "t-tag--open") + '">' + (s.status === "closed" ? "close" : "en cours") + "</span> " +
        '<span class="t-tag">' + esc(s.family_label) + "</span>" +
        "<dl><dt>Affaire</dt><dd>" + esc(s.case_id) + "</dd>" +
        "<dt>Commune</dt><dd>" + esc(w.commune_name || "non localisée") + (w.commune ? " (" + esc(w.commune) + ")" : "") + "</dd>" +
        "<dt>Département</dt><dd>" + esc(w.departement_name || "–") + "</dd>" +
        "<dt>Lieu</dt><dd>" + esc((s.location || {}).label || (s.location || {}).address || "–") + "</dd>" +
        "<dt>Ouverte</dt><dd>" + fmtTime(s.opened_at) + "</dd>" +
        "<dt>Victimes</dt><dd>" + esc(VICTIMS[s.victims_count] || s.victims_count || "non renseigné") + " ; UA " + num(cas.red) + ", UR " + num(cas.yellow) +
        ", impliqués " + num(cas.green) + ", décédés " + num(cas.black) + "</dd>" +
        "<dt>Moyens</dt><dd>" + (resources.length ? resources.map(function (r) {
          return esc((r.name || r.id) + " (" + (r.kind || "?") + ") : " + (r.status_label || r.status || "?"));
        }).join("<br>") : "aucun") + "</dd></dl>" +
        (w.notes && w.notes.length ? '<p class="t-muted">' + w.notes.map(esc).join("<br>") + "</p>" : "") +
        personal +
        "<h3>Chronologie</h3><ol class=\"t-timeline\">" + d.events.slice().reverse().map(function (e) {
          var p = e.provenance || {};
          return "<li><strong>" + esc(EVENT_LABELS[e.type] || e.type) + "</strong><br>" +
            '<span class="t-muted">envoyé ' + fmtTime(p.sent_at) + " par " + esc(p.sender_id || "?") + ", reçu " + fmtTime(p.received_at) + "</span></li>";
        }).join("") + "</ol>";
      $("close-detail").addEventListener("click", closeDetail);
    }).catch(function (e) { drawer.innerHTML = '<p class="t-alert t-alert--error">' + esc(e.message) + "</p>"; });
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
            lateAfter: f.views_late_after_seconds};
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
      late.title = "Des messages reçus depuis le " + new Date(feed.waiting).toLocaleString("fr-FR") +
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
    el.title = "Dernier message NexSIS reçu le " + new Date(feed.last).toLocaleString("fr-FR") +
      (quiet ? " : le flux est peut-être interrompu, les données affichées peuvent être anciennes." : "");
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
