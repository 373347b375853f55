// Tocsin dashboard, analysts' and auditors' tools: replay of the last 24 hours (figures as of a chosen
// moment, the timeline, the after-action report) and, for auditors, the quarantine and the access log.
// Separate from dashboard.js; the panels exist only for the roles the server lets use them (api/routes/dashboard.py).
// Times are shown in the territory's zone, named by the panel (data-zone), never the browser's.
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var HOUR = 3600 * 1000, STEP = 15 * 60 * 1000;

  function api(path) {
    return fetch(path, {credentials: "same-origin", headers: {"X-Tocsin-Client": "tableau-de-bord"}}).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (b) {
          throw new Error(typeof b.detail === "string" ? b.detail : r.statusText);
        });
      }
      return r.json();
    });
  }
  function num(n) { return (n || 0).toLocaleString("fr-FR"); }
  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }
  function formatter(zone) {
    var f = new Intl.DateTimeFormat("fr-FR", {timeZone: zone, day: "2-digit", month: "2-digit", year: "numeric",
                                              hour: "2-digit", minute: "2-digit"});
    return function (when) { return when ? f.format(new Date(when)) : "—"; };
  }
  function message(tbody, columns, text) {
    tbody.textContent = "";
    var row = tbody.insertRow(), td = cell(row, text);
    td.colSpan = columns;
  }

  // ---- replay --------------------------------------------------------------------------------------
  function setupReplay(panel) {
    var zone = panel.getAttribute("data-zone"), zoneName = panel.getAttribute("data-zone-name");
    var territory = panel.getAttribute("data-territory"), when = formatter(zone);
    var level = territory.split(":")[0], code = territory.slice(level.length + 1);
    var path = level === "national" ? "national/FR" : level + "/" + encodeURIComponent(code);
    var end = Math.ceil(Date.now() / STEP) * STEP, start = end - 24 * HOUR;
    var slider = $("replay-at"), pending = null, asked = 0;

    function show(at) {
      var ask = ++asked;
      $("replay-at-label").textContent = when(at) + " (" + zoneName + ")";
      $("replay-state").textContent = "Reconstitution…";
      api("/api/v1/replay/views/" + path + "?sense=known-at&at=" + encodeURIComponent(new Date(at).toISOString()))
        .then(function (r) {
          if (ask !== asked) return;  // the slider has moved on
          var f = (r.view && r.view.figures) || {};
          var victims = ["red", "yellow", "green", "black"].reduce(function (s, k) { return s + (f["open:triage:" + k] || 0); }, 0);
          $("r-active").textContent = num(f["cases:active"]);
          $("r-total").textContent = num(f["cases:total"]) + " au total, " + num(f["cases:closed"]) + " closes";
          $("r-victims").textContent = num(victims);
          $("r-resources").textContent = num(f["resources:engaged"]);
          $("r-resources-total").textContent = num(f["resources:total"]) + " moyens au total";
          $("replay-state").textContent = "Situation au " + when(at) + " (" + zoneName + ") : " + num(r.events) +
            " événements rejoués" + (r.checkpoint != null ? " depuis un point de reprise" : "") + ".";
        })
        .catch(function (e) { if (ask === asked) $("replay-state").textContent = "Rejeu impossible : " + e.message; });
    }
    slider.addEventListener("input", function () {
      var at = end + Number(slider.value) * STEP;
      $("replay-at-label").textContent = when(at) + " (" + zoneName + ")";
      clearTimeout(pending);
      pending = setTimeout(function () { show(at); }, 250);  // one replay when the slider rests, not one per step
    });
    show(Math.min(end, Date.now()));

    var window = "territory=" + encodeURIComponent(territory) + "&from=" + encodeURIComponent(new Date(start).toISOString()) +
      "&to=" + encodeURIComponent(new Date(end).toISOString()) + "&interval=1h";
    $("report-link").href = "/api/v1/replay/report?" + window;
    api("/api/v1/replay/timeline?" + window).then(function (t) {
      var tbody = $("timeline-rows");
      tbody.textContent = "";
      t.intervals.forEach(function (i) {
        var row = tbody.insertRow();
        [when(i.start), num(i.opened), num(i.closed), num(i.active), num(i.victims), num(i.resources_engaged)]
          .forEach(function (text) { cell(row, text); });
      });
      chart($("timeline-chart"), t.intervals);
    }).catch(function (e) { message($("timeline-rows"), 6, "Chronologie indisponible : " + e.message); });
  }

  // Cases in progress per interval, as SVG bars built in the DOM (the content security policy allows no
  // inline script or style). The table below carries the same figures for screen readers.
  function chart(box, intervals) {
    var NS = "http://www.w3.org/2000/svg", width = 600, height = 120;
    var max = Math.max.apply(null, intervals.map(function (i) { return i.active; }).concat([1]));
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + (height + 4));
    svg.setAttribute("class", "t-timeline");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("preserveAspectRatio", "none");  // the bars span the panel's width
    var w = width / Math.max(intervals.length, 1);
    intervals.forEach(function (i, n) {
      var h = Math.round(height * i.active / max), bar = document.createElementNS(NS, "rect");
      bar.setAttribute("x", String(n * w + 1));
      bar.setAttribute("y", String(height - h));
      bar.setAttribute("width", String(Math.max(w - 2, 1)));
      bar.setAttribute("height", String(h));
      bar.setAttribute("fill", "#000091");
      svg.appendChild(bar);
    });
    box.textContent = "";
    box.appendChild(svg);
  }

  // ---- audit ---------------------------------------------------------------------------------------
  var STATUS = {open: "En quarantaine", reingested: "Réintégré", discarded: "Écarté"};

  function setupQuarantine(panel) {
    var when = formatter(panel.getAttribute("data-zone")), tbody = $("quarantine-rows");
    api("/api/v1/quarantine").then(function (entries) {
      if (!entries.length) { message(tbody, 5, "Aucun message en quarantaine."); return; }
      tbody.textContent = "";
      entries.forEach(function (e) {
        var row = tbody.insertRow();
        cell(row, when(e.received_at));
        cell(row, e.source);
        cell(row, [e.distribution_id, e.sender_id].filter(Boolean).join(" · ") || "—");
        cell(row, (e.reasons || []).map(function (r) { return r.message || r.reason || r.code || JSON.stringify(r); }).join(" ; "));
        cell(row, STATUS[e.status] || e.status);
      });
    }).catch(function (e) { message(tbody, 5, "Quarantaine indisponible : " + e.message); });
  }

  function setupAccessLog(panel) {
    var when = formatter(panel.getAttribute("data-zone")), tbody = $("access-log-rows");
    var roles = JSON.parse(panel.getAttribute("data-roles") || "{}");  // role codes as people read them
    api("/api/v1/access-log?limit=100").then(function (entries) {
      if (!entries.length) { message(tbody, 6, "Aucune lecture enregistrée."); return; }
      tbody.textContent = "";
      entries.forEach(function (e) {
        var row = tbody.insertRow();
        cell(row, when(e.at));
        cell(row, e.subject);
        cell(row, (roles[e.role] || e.role) + " — " + e.territory);
        cell(row, e.case_id);
        cell(row, e.personal ? "oui" : "non");
        cell(row, e.via);
      });
    }).catch(function (e) { message(tbody, 6, "Journal indisponible : " + e.message); });
  }

  if ($("replay")) setupReplay($("replay"));
  if ($("quarantine")) setupQuarantine($("quarantine"));
  if ($("access-log")) setupAccessLog($("access-log"));
})();
