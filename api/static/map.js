// Tocsin's map: the territory's boundaries and its cases, drawn with Leaflet and leaflet.markercluster
// (served from node_modules by the app, no CDN). Offline by default: the shapes are the project's own
// GeoJSON (/api/v1/territories/…/map); a base map is added only when the operator configured
// TOCSIN_MAP_TILES (the body's data-tiles). No inline style anywhere (the content security policy
// allows none): colours and shapes are classes of tocsin.css; Leaflet positions things through the
// DOM's style properties, which the policy does not govern.
(function () {
  "use strict";

  // Metropolitan France: the national map opens on it; the overseas territories are one click away.
  var METROPOLE = L.latLngBounds([41.2, -5.3], [51.2, 9.7]);
  var MARKER = 32, CLUSTER = 40;  // px: touch targets of at least 24 px, larger on purpose

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function num(n) { return (n || 0).toLocaleString("fr-FR"); }

  // A div icon whose element carries an accessible name and data attributes (for the keyboard, screen
  // readers and tests); Leaflet makes a keyboard-enabled marker a focusable role="button".
  var LabelledIcon = L.DivIcon.extend({
    createIcon: function (old) {
      var el = L.DivIcon.prototype.createIcon.call(this, old), o = this.options;
      el.setAttribute("aria-label", o.label);
      el.setAttribute("title", o.label);
      Object.keys(o.data || {}).forEach(function (k) { el.setAttribute("data-" + k, o.data[k]); });
      return el;
    }
  });

  function shade(n, max) {  // light on purpose: the markers stay readable on the most loaded area
    if (!n) return "#f6f6fb";
    var t = Math.sqrt(n / Math.max(1, max)), from = [236, 236, 252], to = [165, 165, 232];
    return "rgb(" + from.map(function (c, i) { return Math.round(c + (to[i] - c) * t); }).join(",") + ")";
  }

  function TocsinMap(el, opts) {
    // opts: tiles, attribution, label(family) → French label, onCase(caseId), onArea(level, code),
    // legend, hint, areas (elements beside the map).
    var map = L.map(el, {zoomSnap: 0.25, minZoom: 2, maxZoom: 18, zoomControl: false, worldCopyJump: false});
    L.control.zoom({zoomInTitle: "Zoom avant", zoomOutTitle: "Zoom arrière"}).addTo(map);
    map.attributionControl.setPrefix('<a href="https://leafletjs.com" hreflang="en">Leaflet</a>');
    if (opts.tiles) {
      L.tileLayer(opts.tiles, {attribution: esc(opts.attribution || ""), maxZoom: 18, crossOrigin: false}).addTo(map);
      el.classList.add("has-tiles");
    }
    // The areas' names under the markers (Leaflet's tooltip pane is above them): a name never hides a case.
    map.createPane("t-labels").style.zIndex = 450;
    var areaLayer = L.layerGroup().addTo(map);
    var cluster = L.markerClusterGroup({
      maxClusterRadius: 28,  // below a marker's size: only markers that would overlap are grouped
      showCoverageOnHover: false, spiderfyOnMaxZoom: true, zoomToBoundsOnClick: true,
      spiderfyDistanceMultiplier: 1.6,
      iconCreateFunction: function (c) {
        var n = c.getChildCount();
        return new LabelledIcon({
          html: "<span>" + n + "</span>", className: "t-cluster", iconSize: [CLUSTER, CLUSTER],
          label: n + " affaires proches : toucher pour les séparer", data: {count: n}
        });
      }
    });
    map.addLayer(cluster);
    // Leaflet makes a marker a focusable role="button" but Enter only opens popups: a case opens, and a
    // cluster zooms or spreads, by keyboard as by touch.
    function activates(e) {
      var key = e.originalEvent && e.originalEvent.key;
      if (key !== "Enter" && key !== " ") return false;
      L.DomEvent.preventDefault(e.originalEvent);
      return true;
    }
    cluster.on("clusterkeydown", function (e) {
      if (!activates(e)) return;
      var b = e.layer.getBounds();
      if (map.getZoom() >= map.getMaxZoom() || b.getNorthEast().equals(b.getSouthWest())) e.layer.spiderfy();
      else e.layer.zoomToBounds({padding: [24, 24]});
    });
    var framedKey = null, areas = [];

    function frame(level, selfBounds) {
      if (level === "national") map.fitBounds(METROPOLE, {padding: [8, 8]});
      else if (selfBounds && selfBounds.isValid()) map.fitBounds(selfBounds, {padding: [12, 12]});
    }

    function draw(args) {
      // args: geo (FeatureCollection, roles self/child), children (views), cases (list items), fresh
      // ({caseId: true} just changed), level, key (the territory: framed again only when it changes).
      var features = args.geo.features, counts = {}, max = 0;
      args.children.forEach(function (c) { counts[c.code] = c.cases_active; if (c.cases_active > max) max = c.cases_active; });
      var children = features.filter(function (f) { return f.properties.role === "child"; });
      var self = features.filter(function (f) { return f.properties.role === "self"; });
      areaLayer.clearLayers();
      areas = [];
      var many = children.length > 40;
      children.forEach(function (f) {
        var p = f.properties, n = counts[p.code] || 0;
        var layer = L.geoJSON(f, {style: {fillColor: shade(n, max), fillOpacity: opts.tiles ? 0.55 : 0.9,
          color: many ? "#9a9abf" : "#6a6a8a", weight: many ? 0.6 : 1, className: "child"}});
        var label = p.name + (n ? " (" + num(n) + ")" : "");
        // Names of the areas with cases always shown, the others on hover (a département has hundreds);
        // above the area's centre, where its cases' cluster often sits.
        layer.bindTooltip(esc(label), {permanent: !!n || !many, direction: "top", offset: [0, -MARKER / 2 - 4],
          className: "t-area-label" + (n ? " has-cases" : ""), opacity: 1, pane: "t-labels"});
        layer.on("click", function () { opts.onArea(p.level, p.code); });
        layer.on("add", function () {
          layer.eachLayer(function (l) {
            var path = l.getElement && l.getElement();
            if (path) { path.setAttribute("data-level", p.level); path.setAttribute("data-code", p.code); }
          });
        });
        areaLayer.addLayer(layer);
        areas.push({level: p.level, code: p.code, name: p.name, n: n, bounds: layer.getBounds()});
      });
      var selfLayer = L.geoJSON(self, {interactive: false, style: {fill: !children.length, fillColor: "#ffffff",
        fillOpacity: opts.tiles ? 0.25 : 0.9, color: "#000091", weight: 2, className: "self"}});
      areaLayer.addLayer(selfLayer);
      var selfBounds = selfLayer.getBounds();
      if (!children.length && self.length && selfBounds.isValid()) {  // a commune: its name, at its northern edge
        areaLayer.addLayer(L.tooltip({permanent: true, direction: "bottom", className: "t-area-label t-area-label--self",
          opacity: 1, pane: "t-labels"}).setLatLng([selfBounds.getNorth(), selfBounds.getCenter().lng]).setContent(esc(self[0].properties.name)));
      }
      if (framedKey !== args.key) { framedKey = args.key; frame(args.level, selfBounds); }

      cluster.clearLayers();
      var markers = [], seen = {};
      args.cases.forEach(function (c) {
        if (c.lat == null || c.lon == null) return;
        var fam = c.family || "inconnue", name = opts.label(fam);
        seen[fam] = (seen[fam] || 0) + 1;
        var classes = "t-marker" + (c.approximate ? " is-approx" : "") + (c.red ? " is-serious" : "") +
          (args.fresh && args.fresh[c.case_id] ? " is-new" : "");
        var label = (c.nature_label || name) + " — " + (c.commune_name || "lieu inconnu") +
          (c.approximate ? " (position approximative)" : "");
        var marker = L.marker([c.lat, c.lon], {keyboard: true, riseOnHover: true, icon: new LabelledIcon({
          html: '<span class="t-glyph t-fam-' + esc(fam) + '" aria-hidden="true"></span>', className: classes,
          iconSize: [MARKER, MARKER], label: label, data: {"case": c.case_id, family: fam}
        })});
        marker.on("click", function () { opts.onCase(c.case_id); });
        marker.on("keydown", function (e) { if (activates(e)) opts.onCase(c.case_id); });
        markers.push(marker);
      });
      cluster.addLayers(markers);
      legend(seen, children.length > 0, args.cases.some(function (c) { return c.approximate; }));
      selector(args.level, children);
      if (opts.hint) {
        opts.hint.textContent = "Touchez " + (children.length ? "une subdivision pour y descendre, " : "") +
          "un symbole pour ouvrir l'affaire, un nombre pour séparer les affaires proches. " +
          "La carte montre les affaires de la liste (mêmes filtres).";
      }
    }

    function legend(seen, hasChildren, approx) {
      if (!opts.legend) return;
      var items = Object.keys(seen).sort().map(function (f) {
        return '<li><span class="t-marker t-marker--legend"><span class="t-glyph t-fam-' + esc(f) +
          '" aria-hidden="true"></span></span>' + esc(opts.label(f)) + " (" + num(seen[f]) + ")</li>";
      });
      items.push('<li><span class="t-cluster t-cluster--legend" aria-hidden="true"><span>3</span></span>affaires proches regroupées</li>');
      if (approx) items.push('<li><span class="t-marker t-marker--legend is-approx" aria-hidden="true"></span>position approximative (commune)</li>');
      if (hasChildren) items.push('<li><span class="t-scale" aria-hidden="true"></span>affaires en cours par subdivision</li>');
      opts.legend.innerHTML = '<ul class="t-legend__list">' + items.join("") + "</ul>";
    }

    // The parts of the territory far from metropolitan France (the overseas départements on the national
    // map, given as the zones' `parts`; a zone's or a département's own children elsewhere): one button
    // each, which frames it. And a list to reach any subdivision by keyboard.
    var places = {};
    function selector(level, children) {
      if (!opts.areas) return;
      places = {};
      var overseas = [];
      children.forEach(function (f) {
        var parts = f.properties.parts;
        if (parts) {
          parts.forEach(function (part) {
            var b = L.latLngBounds([part.bbox[1], part.bbox[0]], [part.bbox[3], part.bbox[2]]);
            overseas.push({code: part.code, name: part.name, bounds: b, zone: f.properties.code});
          });
        }
      });
      if (!overseas.length) overseas = areas.slice();
      overseas = overseas.filter(function (a) { return a.bounds.isValid() && !METROPOLE.contains(a.bounds.getCenter()); });
      var html = "";
      if (overseas.length) {
        overseas.forEach(function (a) { places[a.code] = a.bounds; });
        var home = level === "national" || overseas.length < areas.length;
        html += '<ul class="fr-btns-group fr-btns-group--inline fr-btns-group--sm t-areas__list">' +
          (home ? '<li><button class="fr-btn fr-btn--tertiary fr-btn--sm" type="button" data-area="metropole">Métropole</button></li>' : "") +
          overseas.map(function (a) {
            return '<li><button class="fr-btn fr-btn--tertiary fr-btn--sm" type="button" data-area="' + esc(a.code) + '">' +
              esc(a.name) + "</button></li>";
          }).join("") + "</ul>";
      }
      if (areas.length) {
        html += '<div class="fr-select-group t-areas__go"><label class="fr-label fr-sr-only" for="area-go">Aller à une subdivision</label>' +
          '<select class="fr-select" id="area-go"><option value="">Aller à une subdivision…</option>' +
          areas.slice().sort(function (a, b) { return a.name.localeCompare(b.name, "fr"); }).map(function (a) {
            return '<option value="' + esc(a.level + "/" + a.code) + '">' + esc(a.name) + (a.n ? " (" + num(a.n) + ")" : "") + "</option>";
          }).join("") + "</select></div>";
      }
      opts.areas.innerHTML = html;
      opts.areas.hidden = !html;
    }
    if (opts.areas) {
      opts.areas.addEventListener("click", function (e) {
        var b = e.target.closest("button[data-area]");
        if (!b) return;
        var target = b.dataset.area === "metropole" ? METROPOLE : places[b.dataset.area];
        if (target) map.fitBounds(target, {padding: [12, 12], maxZoom: 10});
      });
      opts.areas.addEventListener("change", function (e) {
        if (e.target.id !== "area-go" || !e.target.value) return;
        var i = e.target.value.indexOf("/");
        opts.onArea(e.target.value.slice(0, i), e.target.value.slice(i + 1));
      });
    }

    return {
      draw: draw,
      // After the map's box changed size (shown again, phone rotated).
      resize: function () { map.invalidateSize(); },
      leaflet: map
    };
  }

  window.TocsinMap = TocsinMap;
})();
