/* riskplan map runtime: builds the layers of a riskplan map from compact GeoJSON specs.
 * Offline: needs only Leaflet, Leaflet.markercluster and leaflet.fullscreen (inlined). */
(function () {
  "use strict";
  var rp = (window.riskplan = window.riskplan || {});
  rp.layers = {};
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) { return ESC[c]; });
  }
  rp.esc = esc;

  /* The words the runtime writes, in the map's language (set by the page: riskplan.setWords). */
  var W = { notReached: "not reached", yes: "yes", no: "no", median: "\u00d7 median", sec: " s", min: " min",
            fullScreen: "Full screen", exitFullScreen: "Exit full screen", locale: "en-US" };
  rp.setWords = function (words) { Object.keys(words || {}).forEach(function (k) { W[k] = words[k]; }); };

  function fmt(v, f) {
    if (v === null || v === undefined || v === "") { return f === "s" ? W.notReached : "\u2013"; }
    if (typeof v === "boolean") { return v ? W.yes : W.no; }
    if (typeof v !== "number") { return esc(v); }
    if (f === "s") { return Math.round(v) + W.sec + " (" + (v / 60).toFixed(1) + W.min + ")"; }
    if (f === "pct") { return (100 * v).toFixed(0) + "%"; }
    if (f === "int") { return Math.round(v).toLocaleString(W.locale); }
    if (f === "x") { return v.toFixed(2) + W.median; }
    if (f && f.charAt(0) === ".") { return v.toFixed(+f.slice(1)); }
    return String(v);
  }

  rp.tooltipHtml = function (tip, p) {
    var h = "";
    if (tip.title) { h += "<b>" + esc((tip.prefix || "") + (p[tip.title] == null ? "" : p[tip.title])) + "</b>"; }
    h += "<table>";
    tip.fields.forEach(function (f) {
      if (!(f[0] in p)) { return; }
      h += "<tr><th>" + esc(f[1]) + "</th><td>" + fmt(p[f[0]], f[2]) + "</td></tr>";
    });
    return h + "</table>";
  };

  function styleOf(spec, p) {
    var st = {};
    var k;
    for (k in spec.style) { st[k] = spec.style[k]; }
    if (spec.styleBy) {
      var extra = spec.styleBy.values[p[spec.styleBy.prop]];
      for (k in extra || {}) { st[k] = extra[k]; }
    }
    st.className = spec.cls;
    return st;
  }

  function clusterIcon(cluster) {
    var n = cluster.getChildCount();
    var size = n < 10 ? 28 : n < 100 ? 34 : 42;
    return L.divIcon({
      html: '<div><span data-count="' + n + '">' + n + "</span></div>",
      className: "marker-cluster rp-cluster",
      iconSize: L.point(size, size)
    });
  }

  rp.layer = function (map, spec) {
    rp.map = map;
    var tip = spec.tooltip;
    var gj = L.geoJSON(spec.data, {
      style: function (f) { return styleOf(spec, f.properties); },
      pointToLayer: function (f, latlng) {
        var p = f.properties;
        if (spec.marker === "circle") {
          var st = styleOf(spec, p);
          st.radius = p.r || spec.radius || 5;
          return L.circleMarker(latlng, st);
        }
        var key = spec.iconBy ? p[spec.iconBy] : "default";
        var html = spec.icons[key] || spec.icons["default"] || "";
        var s = spec.iconSize || 16;
        var cls = "rp-marker " + spec.cls + (p.open ? " rp-open" : "") + (p.closed ? " rp-closed" : "");
        var icon = L.divIcon({ html: html, className: cls, iconSize: [s, s], iconAnchor: [s / 2, s / 2] });
        return L.marker(latlng, { icon: icon, keyboard: false, riseOnHover: true });
      },
      onEachFeature: function (f, layer) {
        if (tip) {
          layer.bindTooltip(function () { return rp.tooltipHtml(tip, f.properties); },
            { sticky: spec.kind !== "point", direction: "top", className: "rp-tip" });
        }
        if (spec.popup) {
          layer.bindPopup(function () { return rp.tooltipHtml(spec.popup, f.properties); },
            { className: "rp-tip rp-popup", minWidth: 240, maxWidth: 360 });
        }
      }
    });
    var out = gj;
    if (spec.cluster) {
      out = L.markerClusterGroup({
        showCoverageOnHover: false, maxClusterRadius: 40, spiderfyOnMaxZoom: true,
        disableClusteringAtZoom: 17, iconCreateFunction: clusterIcon
      });
      out.addLayers(gj.getLayers());
    }
    rp.layers[spec.id] = {
      name: spec.name, layer: out, geo: gj, cluster: !!spec.cluster, expected: spec.data.features.length
    };
    return out;
  };

  /* Features of each layer drawn on the page: SVG paths and marker icons in the document;
   * for clustered layers, markers shown alone or inside a cluster icon shown. */
  rp.drawn = function () {
    var out = {};
    Object.keys(rp.layers).forEach(function (id) {
      var e = rp.layers[id];
      var n = 0;
      var clusters = new Set();
      e.geo.eachLayer(function (l) {
        var shown = e.cluster ? e.layer.getVisibleParent(l) : l;
        var el = shown && (shown._path || shown._icon);
        if (el && el.isConnected) {
          n += 1;
          if (shown !== l) { clusters.add(shown); }
        }
      });
      out[id] = {
        name: e.name, expected: e.expected, drawn: n, clusters: clusters.size,
        shown: !!(rp.map && rp.map.hasLayer(e.layer))
      };
    });
    return out;
  };

  rp.showAll = function () {
    Object.keys(rp.layers).forEach(function (id) { rp.map.addLayer(rp.layers[id].layer); });
  };

  rp.control = function (map, position, cls, html) {
    var c = L.control({ position: position });
    c.onAdd = function () {
      var div = L.DomUtil.create("div", "leaflet-control " + cls);
      div.innerHTML = html;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    return c.addTo(map);
  };

  function hatch(colour) {
    return '<svg width="0" height="0" style="position:absolute"><defs>' +
      '<pattern id="rp-hatch" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      '<line x1="0" y1="0" x2="0" y2="7" stroke="' + esc(colour) + '" stroke-width="2"/></pattern>' +
      '<pattern id="rp-hatch-uncertain" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">' +
      '<line x1="0" y1="0" x2="0" y2="5" stroke="#333333" stroke-width="1.5"/></pattern></defs></svg>';
  }

  /* Finish the map: hatch pattern of uncovered places, full screen, view, ready flag. */
  rp.ready = function (map, bounds, hatchColour) {
    rp.map = map;
    document.body.insertAdjacentHTML("beforeend", hatch(hatchColour || "#c51b7d"));
    if (bounds) { map.fitBounds(bounds, { animate: false, padding: [10, 10] }); }
    if (L.Control.FullScreen) {
      new L.Control.FullScreen({ position: "topleft", title: W.fullScreen, titleCancel: W.exitFullScreen }).addTo(map);
    }
    map.whenReady(function () {
      requestAnimationFrame(function () {
        requestAnimationFrame(function () {
          document.documentElement.setAttribute("data-riskplan-ready", "1");
          window.riskplanReady = true;
        });
      });
    });
  };
})();
