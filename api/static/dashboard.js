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
      if (!r.ok) return r.json().then(function (b) { throw new Error(b.detail || r.statusText); });
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
    Promise.all([loadTerritory(), loadView(), loadCases(), loadMap()]).catch(function (e) {
      if (e.message !== "stale") $("title").textContent = "Accès impossible : " + e.message;
    });
    connect();
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
          return (i ? '<span class="sep"></span>' : "") + (last
            ? '<span class="current" aria-current="page">' + esc(n.name) + "</span>"
            : '<button type="button" data-level="' + esc(n.level) + '" data-code="' + esc(n.code) + '">' + esc(n.name) + "</button>");
        }).join("");
      });
    });
  }
  $("breadcrumb").addEventListener("click", function (e) {
    var b = e.target.closest("button[data-level]");
    if (b) go(b.dataset.level, b.dataset.code);
  });

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
  $("filters").addEventListener("change", function () { state.offset = 0; loadCases(); });
  $("prev").addEventListener("click", function () { state.offset = Math.max(0, state.offset - PAGE); loadCases(); });
  $("next").addEventListener("click", function () { state.offset += PAGE; loadCases(); });
  $("cases").addEventListener("click", function (e) {
    var tr = e.target.closest("tr[data-case]");
    if (tr) openDetail(tr.dataset.case);
  });

  // ---- map ---------------------------------------------------------------------------------------
  function rings(geometry) {
    if (!geometry) return [];
    if (geometry.type === "Polygon") return geometry.coordinates;
    if (geometry.type === "MultiPolygon") return [].concat.apply([], geometry.coordinates);
    if (geometry.type === "GeometryCollection") return [].concat.apply([], geometry.geometries.map(rings));
    return [];
  }
  function bbox(features) {
    var b = [Infinity, Infinity, -Infinity, -Infinity];
    features.forEach(function (f) {
      rings(f.geometry).forEach(function (ring) {
        ring.forEach(function (p) {
          if (p[0] < b[0]) b[0] = p[0]; if (p[1] < b[1]) b[1] = p[1];
          if (p[0] > b[2]) b[2] = p[0]; if (p[1] > b[3]) b[3] = p[1];
        });
      });
    });
    return b;
  }
  // Optional background tiles (TOCSIN_MAP_TILES, an XYZ URL template): then the map is drawn in Web
  // Mercator so that the boundaries sit on the tiles; without it, a plain projection and no network.
  var TILES = document.body.getAttribute("data-tiles") || "";
  function mercator(lon, lat) {  // world pixels at zoom 0 (256 × 256)
    var r = Math.max(-85, Math.min(85, lat)) * Math.PI / 180;
    return [(lon + 180) / 360 * 256, (1 - Math.log(Math.tan(Math.PI / 4 + r / 2)) / Math.PI) / 2 * 256];
  }
  function makeProjection(b) {
    var k = Math.cos(((b[1] + b[3]) / 2) * Math.PI / 180);
    var plane = TILES ? mercator : function (lon, lat) { return [lon * k, -lat]; };
    var lo = plane(b[0], b[3]), hi = plane(b[2], b[1]);
    var w = (hi[0] - lo[0]) || 0.01, h = (hi[1] - lo[1]) || 0.01, W = 1000, H = Math.max(400, Math.min(1100, W * h / w));
    var s = Math.min((W - 20) / w, (H - 20) / h);
    var ox = (W - w * s) / 2, oy = (H - h * s) / 2;
    return {width: W, height: H, scale: s, origin: [lo[0] - ox / s, lo[1] - oy / s], xy: function (lon, lat) {
      var p = plane(lon, lat);
      return [ox + (p[0] - lo[0]) * s, oy + (p[1] - lo[1]) * s];
    }};
  }
  function tiles(project) {
    if (!TILES) return "";
    var z = Math.max(0, Math.min(18, Math.round(Math.log(project.scale) / Math.LN2))), n = Math.pow(2, z), size = 256 / n;
    var x0 = Math.floor(project.origin[0] / size), y0 = Math.floor(project.origin[1] / size);
    var x1 = Math.floor((project.origin[0] + project.width / project.scale) / size);
    var y1 = Math.floor((project.origin[1] + project.height / project.scale) / size), out = [];
    for (var x = x0; x <= x1 && out.length < 200; x++) {
      for (var y = Math.max(0, y0); y <= Math.min(n - 1, y1); y++) {
        var url = TILES.replace("{z}", z).replace("{x}", ((x % n) + n) % n).replace("{y}", y);
        out.push('<image href="' + esc(url) + '" x="' + ((x * size - project.origin[0]) * project.scale).toFixed(1) + '" y="' +
          ((y * size - project.origin[1]) * project.scale).toFixed(1) + '" width="' + (size * project.scale + 0.5).toFixed(1) +
          '" height="' + (size * project.scale + 0.5).toFixed(1) + '" preserveAspectRatio="none"></image>');
      }
    }
    return out.join("");
  }
  function pathOf(geometry, project) {
    return rings(geometry).map(function (ring) {
      return "M" + ring.map(function (p) { var xy = project.xy(p[0], p[1]); return xy[0].toFixed(1) + "," + xy[1].toFixed(1); }).join("L") + "Z";
    }).join("");
  }
  function shade(n, max) {
    if (!n) return "#f5f5fe";
    var t = Math.sqrt(n / Math.max(1, max));
    var from = [227, 227, 253], to = [0, 0, 145];
    return "rgb(" + from.map(function (c, i) { return Math.round(c + (to[i] - c) * t); }).join(",") + ")";
  }

  function loadMap() {
    var key = state.level + "/" + state.code;
    var geo = state.mapKey === key && state.geo ? Promise.resolve(state.geo)
      : api("/api/v1/territories/" + territoryPath(state.level, state.code) + "/map");
    return Promise.all([geo, api("/api/v1/views/" + territoryPath(state.level, state.code) + "/children"),
      api("/api/v1/cases?level=" + encodeURIComponent(state.level) + "&code=" + encodeURIComponent(state.code) + "&status=open&limit=500")
    ]).then(current(state.nav)).then(function (r) {
      state.geo = r[0]; state.mapKey = key;
      drawMap(r[0], r[1], r[2].items);
    });
  }
  function drawMap(geo, children, cases, fresh) {
    var svg = $("map");
    var features = geo.features;
    var framing = features;
    if (state.level === "national") {
      framing = [{geometry: {type: "Polygon", coordinates: [[[METROPOLE[0], METROPOLE[1]], [METROPOLE[2], METROPOLE[3]]]]}}];
    } else {
      var self = features.filter(function (f) { return f.properties.role === "self"; });
      if (self.length) framing = self;
    }
    var project = makeProjection(bbox(framing));
    state.project = project;
    svg.setAttribute("viewBox", "0 0 " + project.width + " " + Math.round(project.height));
    var counts = {}, max = 0;
    children.forEach(function (c) { counts[c.code] = c.cases_active; if (c.cases_active > max) max = c.cases_active; });
    var parts = [tiles(project)];
    var hasChildren = features.some(function (f) { return f.properties.role === "child"; });
    features.forEach(function (f) {
      var p = f.properties;
      if (p.role === "child") {
        parts.push('<path class="child" data-level="' + esc(p.level) + '" data-code="' + esc(p.code) + '" fill="' +
          shade(counts[p.code], max) + '" d="' + pathOf(f.geometry, project) + '"><title>' + esc(p.name) + " : " +
          num(counts[p.code]) + " affaire(s) en cours</title></path>");
      }
    });
    features.forEach(function (f) {
      if (f.properties.role === "self") {
        parts.push('<path class="self' + (hasChildren ? "" : " alone") + '" d="' + pathOf(f.geometry, project) + '"></path>');
      }
    });
    cases.forEach(function (c) {
      if (c.lat == null || c.lon == null) return;
      var xy = project.xy(c.lon, c.lat), fam = family(c.family);
      if (c.approximate) {
        // No point in the list row: the commune's own point, spread a little so that cases do not hide each other.
        var h = 0;
        for (var i = 0; i < c.case_id.length; i++) h = (h * 31 + c.case_id.charCodeAt(i)) | 0;
        var angle = (h & 1023) / 1023 * 2 * Math.PI, radius = 6 + ((h >>> 10) & 15);
        xy = [xy[0] + radius * Math.cos(angle), xy[1] + radius * Math.sin(angle)];
      }
      var isNew = fresh && fresh[c.case_id];
      parts.push('<circle class="case' + (isNew ? " is-new" : "") + (c.approximate ? " approx" : "") + '" data-case="' + esc(c.case_id) + '" cx="' +
        xy[0].toFixed(1) + '" cy="' + xy[1].toFixed(1) + '" r="' + (c.red ? 9 : 7) + '" fill="' + fam[1] + '"><title>' +
        esc((c.nature_label || fam[0]) + " — " + (c.commune_name || "")) + "</title></circle>");
    });
    svg.innerHTML = parts.join("");
    var seen = {};
    cases.forEach(function (c) { seen[c.family] = true; });
    $("legend").innerHTML = Object.keys(seen).map(function (f) {
      return "<span>" + dot(f) + esc(family(f)[0]) + "</span>";
    }).join("") + (hasChildren ? '<span><span class="t-scale"></span> affaires en cours par subdivision</span>' : "");
    $("map-hint").textContent = hasChildren ? "Touchez une subdivision pour y descendre ; un point pour ouvrir l'affaire."
      + (state.level === "national" ? " Outre-mer : via la zone ou le département." : "") : "Touchez un point pour ouvrir l'affaire.";
  }
  $("map").addEventListener("click", function (e) {
    var c = e.target.closest("circle[data-case]");
    if (c) { openDetail(c.dataset.case); return; }
    var p = e.target.closest("path[data-level]");
    if (p) go(p.dataset.level, p.dataset.code);
  });

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
        personal = '<h3>Données personnelles</h3><div class="t-personal"><dl>' + list(r.personal) + "</dl></div>";
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
        "<h3>Situation</h3>" + (r.situation.length ? '<dl class="t-situation">' + list(r.situation) + "</dl>"
          : '<p class="t-muted">Aucune description transmise.</p>') +
        "<h3>Victimes</h3><ul>" + r.victims.lines.map(function (l) { return "<li>" + esc(l) + "</li>"; }).join("") + "</ul>" +
        "<h3>Moyens</h3><p>" + esc(r.resources_text) + "</p>" + (r.resources.length ? '<ul class="t-resources">' +
          r.resources.map(function (m) {
            return "<li><strong>" + esc(m.name) + "</strong>" + (m.kind ? " (" + esc(m.kind) + ")" : "") + " : " +
              esc(m.status) + (m.since ? ' <span class="t-muted">depuis le ' + esc(m.since) + "</span>" : "") + "</li>";
          }).join("") + "</ul>" : "") +
        personal +
        "<h3>Chronologie</h3><ol class=\"t-timeline\">" + r.chronology.map(function (e) {
          return "<li><strong>" + esc(e.title) + "</strong> — " + esc(e.changes.join(" ; ")) + "<br>" +
            '<span class="t-muted">' + esc(e.when) + ", " + esc(e.by) + "</span></li>";
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
  var feed = null;
  function setFeed(f) {
    feed = {last: f.last_received_at ? Date.parse(f.last_received_at) : null,
            waiting: f.views_waiting_since ? Date.parse(f.views_waiting_since) : null,
            skew: Date.parse(f.now) - Date.now(), quietAfter: f.quiet_after_seconds,
            lateAfter: f.views_late_after_seconds, lastText: f.last_received_text, waitingText: f.views_waiting_since_text};
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
    src.addEventListener("session-end", function () { src.close(); window.location.href = "/connexion"; });
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
      Promise.all([api("/api/v1/views/" + territoryPath(state.level, state.code) + "/children"),
        api("/api/v1/cases?level=" + encodeURIComponent(state.level) + "&code=" + encodeURIComponent(state.code) + "&status=open&limit=500")
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
