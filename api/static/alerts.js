/* Tocsin — alerts on the dashboard: the banner when something serious happens in my territory (a death,
   red-triage victims, an evacuation, an alert for me), the list of alerts to acknowledge, and the
   call-outs (appels à mobilisation) with their tally, live from the stream's `callout` events, and the
   answer buttons for the people asked.
   Kept apart from dashboard.js: it builds its own elements and follows the live stream on its own. */
(function () {
  "use strict";

  var HEADERS = {"X-Tocsin-Client": "tableau-de-bord"};
  var alerts = {};
  var callouts = {};
  var me = null;
  var csrf = null;

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function when(iso, zone) {
    if (!iso) { return ""; }
    zone = zone || "Europe/Paris";
    try {
      return new Intl.DateTimeFormat("fr-FR", {dateStyle: "short", timeStyle: "short", timeZone: zone})
        .format(new Date(iso)) + " (" + zone + ")";
    } catch (e) { return iso; }
  }

  function build() {
    var main = document.getElementById("app") || document.body;
    var banner = document.createElement("div");
    banner.id = "alert-banner";
    banner.className = "t-alert t-alert--error";
    banner.setAttribute("role", "alert");
    banner.hidden = true;
    main.insertBefore(banner, main.firstChild);
    var panel = document.createElement("section");
    panel.className = "t-card";
    panel.id = "alerts-panel";
    panel.setAttribute("aria-labelledby", "alerts-title");
    panel.innerHTML = '<h2 id="alerts-title" class="fr-h6">Alertes</h2><ul id="alerts-list"></ul>';
    main.appendChild(panel);
    var calls = document.createElement("section");
    calls.className = "t-card";
    calls.id = "callouts-panel";
    calls.setAttribute("aria-labelledby", "callouts-title");
    calls.innerHTML = '<h2 id="callouts-title" class="fr-h6">Appels à mobilisation</h2>' +
      '<ul id="callouts-list" aria-live="polite"></ul>';
    main.appendChild(calls);
    calls.addEventListener("click", function (ev) {
      var id = ev.target && ev.target.getAttribute("data-callout");
      if (id) { answer(id, ev.target.getAttribute("data-choice"), ev.target); }
    });
    banner.addEventListener("click", function (ev) {
      if (ev.target && ev.target.getAttribute("data-dismiss") !== null) { banner.hidden = true; }
    });
    panel.addEventListener("click", function (ev) {
      var id = ev.target && ev.target.getAttribute("data-ack");
      if (id) { acknowledge(id, ev.target); }
    });
  }

  function show(text) {
    var banner = document.getElementById("alert-banner");
    banner.innerHTML = "<strong>" + esc(text) + "</strong> " +
      '<button type="button" class="fr-btn fr-btn--secondary fr-btn--sm" data-dismiss>Masquer</button>';
    banner.hidden = false;
  }

  function render() {
    var list = document.getElementById("alerts-list");
    var items = Object.keys(alerts).map(function (k) { return alerts[k]; });
    items.sort(function (a, b) {
      return (a.acknowledged_at ? 1 : 0) - (b.acknowledged_at ? 1 : 0) || (b.raised_at > a.raised_at ? 1 : -1);
    });
    if (!items.length) { list.innerHTML = "<li>Aucune alerte.</li>"; return; }
    list.innerHTML = items.slice(0, 50).map(function (a) {
      var zone = (a.details || {}).time_zone;
      var state = a.acknowledged_at
        ? '<span class="fr-badge fr-badge--sm fr-badge--success">Acquittée par ' + esc((a.acknowledged_by || {}).name) + " le " +
          esc(when(a.acknowledged_at, zone)) + "</span>"
        : '<button type="button" class="fr-btn fr-btn--sm" data-ack="' + esc(a.id) + '">Accuser réception</button>';
      var unreached = a.unreached
        ? ' <span class="fr-badge fr-badge--sm fr-badge--error" data-unreached>N\'a joint personne</span> ' +
          '<span class="fr-text--xs">' + esc(a.unreached.reason) + "</span>"
        : "";
      return '<li data-alert="' + esc(a.id) + '">' + (a.exercise ? '<span class="fr-badge fr-badge--sm fr-badge--info">EXERCICE</span> ' : "") +
        esc(a.reason) + ' <span class="fr-text--xs">' + esc(when(a.raised_at, zone)) + "</span> " + state + unreached + "</li>";
    }).join("");
  }

  function renderCallouts() {
    var list = document.getElementById("callouts-list");
    var items = Object.keys(callouts).map(function (k) { return callouts[k]; });
    items.sort(function (a, b) { return b.launched_at > a.launched_at ? 1 : -1; });
    if (!items.length) { list.innerHTML = "<li>Aucun appel en cours.</li>"; return; }
    var now = new Date().toISOString();
    list.innerHTML = items.slice(0, 20).map(function (c) {
      var t = c.tally || {counts: {}, answered: 0, waiting: 0, asked: 0};
      var counts = c.choices.map(function (choice) {
        return '<span data-count="' + esc(choice) + '">' + esc(choice) + " : <strong>" + (t.counts[choice] || 0) +
          "</strong></span>";
      }).join(" · ");
      var asked = me && c.asked.some(function (p) { return p.person_id === me; });
      var mine = (c.answers || []).filter(function (a) { return a.person_id === me; })[0];
      var open = c.deadline > now;
      var buttons = asked && open ? " " + c.choices.map(function (choice) {
        return '<button type="button" class="fr-btn fr-btn--sm fr-btn--secondary" data-callout="' + esc(c.id) +
          '" data-choice="' + esc(choice) + '"' + (mine && mine.choice === choice ? ' aria-pressed="true"' : "") + ">" +
          esc(choice) + "</button>";
      }).join(" ") : "";
      return '<li data-callout-item="' + esc(c.id) + '">' +
        (c.exercise ? '<span class="fr-badge fr-badge--sm fr-badge--info">EXERCICE</span> ' : "") +
        "<strong>" + esc(c.question) + "</strong> " +
        '<span class="fr-text--xs">réponse avant le ' + esc(when(c.deadline, "Europe/Paris")) +
        (open ? "" : " (clos)") + "</span><br>" + counts +
        ' <span class="fr-text--xs" data-tally>— ' + t.answered + " réponse(s) sur " + t.asked + ", " + t.waiting +
        " en attente</span>" + buttons + "</li>";
    }).join("");
  }

  function loadCallouts() {
    var who = fetch("/api/v1/me", {credentials: "same-origin", headers: HEADERS}).then(function (r) {
      return r.ok ? r.json() : {};
    }).then(function (body) { me = body.subject || null; });
    var list = fetch("/api/v1/callouts", {credentials: "same-origin", headers: HEADERS}).then(function (r) {
      return r.ok ? r.json() : {items: []};
    }).then(function (body) {
      callouts = {};
      body.items.forEach(function (c) { callouts[c.id] = c; });
    });
    return Promise.all([who, list]).then(renderCallouts, renderCallouts);
  }

  function answer(id, choice, button) {
    button.disabled = true;
    fetch("/appels/jeton", {credentials: "same-origin", headers: HEADERS}).then(function (r) {
      return r.json();
    }).then(function (t) {
      return fetch("/appels/" + encodeURIComponent(id) + "/repondre", {
        method: "POST", credentials: "same-origin", headers: Object.assign({
          "Content-Type": "application/x-www-form-urlencoded"}, HEADERS),
        body: "csrf=" + encodeURIComponent(t.csrf) + "&choix=" + encodeURIComponent(choice)});
    }).then(function (r) { return r.json(); }).then(function (body) {
      if (body.id) { callouts[body.id] = body; }
      renderCallouts();
    }).catch(function () { button.disabled = false; });
  }

  function load() {
    return fetch("/api/v1/alerts", {credentials: "same-origin", headers: HEADERS}).then(function (r) {
      return r.ok ? r.json() : {items: []};
    }).then(function (body) {
      alerts = {};
      body.items.forEach(function (a) { alerts[a.id] = a; });
      render();
    });
  }

  function token() {
    if (csrf) { return Promise.resolve(csrf); }
    return fetch("/alertes/jeton", {credentials: "same-origin", headers: HEADERS}).then(function (r) {
      return r.json();
    }).then(function (body) { csrf = body.csrf; return csrf; });
  }

  function acknowledge(id, button) {
    button.disabled = true;
    token().then(function (t) {
      return fetch("/alertes/" + encodeURIComponent(id) + "/acquitter", {
        method: "POST", credentials: "same-origin", headers: Object.assign({
          "Content-Type": "application/x-www-form-urlencoded"}, HEADERS), body: "csrf=" + encodeURIComponent(t)});
    }).then(function (r) { return r.json(); }).then(function (body) {
      if (body.alert) { alerts[body.alert.id] = body.alert; }
      render();
    }).catch(function () { button.disabled = false; });
  }

  function serious(c) {
    var parts = [];
    if (c.black) { parts.push(c.black + " décès"); }
    if (c.red) { parts.push(c.red + " victime(s) en urgence absolue"); }
    if (c.evacuated || c.displaced) { parts.push("évacuation en cours"); }
    return parts;
  }

  function follow() {
    var src = new EventSource("/api/v1/stream");
    var seen = {};
    src.addEventListener("alert", function (ev) {
      var a = JSON.parse(ev.data);
      var known = alerts[a.id];
      alerts[a.id] = a;
      render();
      if (!known && !a.acknowledged_at) { show((a.exercise ? "" : "Alerte : ") + a.reason); }
    });
    src.addEventListener("callout", function (ev) {
      var c = JSON.parse(ev.data);
      callouts[c.id] = c;
      renderCallouts();
    });
    src.addEventListener("case", function (ev) {
      var c = JSON.parse(ev.data);
      var parts = serious(c);
      var key = c.case_id + ":" + parts.join(",");
      if (parts.length && !seen[key]) {
        seen[key] = true;
        show("Situation grave : " + parts.join(", ") + " — " + (c.city || c.location_label || c.case_id));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    build();
    Promise.all([load(), loadCallouts()]).then(follow);
  });
})();
