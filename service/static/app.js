/* riskplan web page: scenarios, coverage layers, point queries and jobs on a Leaflet map.
 *
 * Plain JavaScript, no build step, no network beyond this server (map tiles are optional and
 * off by default). Every piece of data reaches the DOM through textContent or DOM nodes,
 * never innerHTML. window.riskplan exposes the map for tests and debugging.
 */
(function () {
  "use strict";

  const API = "/api/v1";
  const TOKEN_KEY = "riskplan.token";
  const COLOURS = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"];
  const NO_DATA = "#9e9e9e";
  const JOB_POLL_MS = 500;

  const $ = (id) => document.getElementById(id);
  const state = { scenario: null, standardS: 300, layers: {}, query: null, seq: 0, job: null };

  const map = L.map("map", { preferCanvas: false, zoomControl: true }).setView([38.3, 112.9], 12);
  const tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 19,
    attribution: "&copy; OpenStreetMap contributors",
  });
  window.riskplan = { map: map, layers: state.layers, state: state, api: api }; // whatif.js uses state, api

  // -- small helpers ------------------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => node.appendChild(typeof c === "string" ? document.createTextNode(c) : c));
    return node;
  }

  function replace(node, ...children) {
    node.replaceChildren(...children);
  }

  function status(text, isError) {
    const node = $("status");
    node.textContent = text;
    node.className = isError ? "error" : "";
  }

  function seconds(value) {
    if (value === null || value === undefined) return "unreachable";
    const s = Math.round(value);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function pct(value) {
    return value === null || value === undefined ? "n/a" : (100 * value).toFixed(1) + " %";
  }

  function token() {
    return $("token").value.trim();
  }

  const RETRIES_429 = 5;

  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    if (token()) opts.headers.Authorization = "Bearer " + token();
    let response = await fetch(API + path, opts);
    // without the token, a first computation may take longer than the server waits: it answers
    // 429 with Retry-After while it finishes into its cache, so ask again a few times
    for (let i = 0; response.status === 429 && i < RETRIES_429; i++) {
      const wait = Math.min(30, Number(response.headers.get("Retry-After")) || 2);
      status("the server is computing " + path.split("?")[0] + "; retrying in " + wait + " s");
      await new Promise((done) => setTimeout(done, wait * 1000));
      response = await fetch(API + path, opts);
    }
    const type = response.headers.get("content-type") || "";
    const body = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const detail = body && body.detail ? body.detail : response.status + " " + response.statusText;
      const error = new Error(detail);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function tooltip(lines) {
    return el("div", {}, lines.map((line) => el("div", { text: line })));
  }

  function colour(responseS) {
    if (responseS === null || responseS === undefined) return NO_DATA;
    const ratio = responseS / state.standardS;
    const breaks = [0.6, 1.0, 1.6, 2.0];
    const i = breaks.findIndex((b) => ratio <= b);
    return COLOURS[i === -1 ? COLOURS.length - 1 : i];
  }

  // -- layers -------------------------------------------------------------------------------

  function setLayer(name, layer) {
    if (state.layers[name]) map.removeLayer(state.layers[name]);
    state.layers[name] = layer;
    const box = $("show-" + name);
    if (layer && (!box || box.checked)) layer.addTo(map);
  }

  function clearLayers() {
    Object.keys(state.layers).forEach((name) => setLayer(name, null));
    if (state.query) map.removeLayer(state.query);
    state.query = null;
  }

  function communitiesLayer(geojson, coloured) {
    return L.geoJSON(geojson, {
      style: (f) => ({
        color: "#455a64",
        weight: 1,
        fillOpacity: 0.55,
        fillColor: coloured ? colour(f.properties.response_time_s) : NO_DATA,
      }),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        const lines = [String(p.name || f.id), "population " + (p.population ?? "n/a")];
        if (coloured) lines.push("response " + seconds(p.response_time_s) + " from " + (p.nearest_station ?? "none"));
        layer.bindTooltip(tooltip(lines), { sticky: true });
      },
    });
  }

  // Risk levels in the four colours of Chinese urban safety risk maps (REFERENCE.md).
  const RISK_COLOURS = { red: "#d7191c", orange: "#fdae61", yellow: "#ffee58", blue: "#2c7bb6" };

  function riskStyle(p) {
    return { color: "#37474f", weight: 1, fillOpacity: 0.6, fill: true, fillColor: RISK_COLOURS[p.level] || NO_DATA };
  }

  function riskLines(p, id) {
    const lines = [
      String(p.name || p.unit_id || id),
      "risk " + String(p.level) + " (score " + Number(p.score).toFixed(1) + ", rank " + String(p.rank) + ")",
      "vs the median unit: hazard x" + Number(p.hazard_vs_median).toFixed(1) +
        ", exposure x" + Number(p.exposure_factor_vs_median).toFixed(1) +
        ", vulnerability x" + Number(p.vulnerability_factor_vs_median).toFixed(1) +
        ", response x" + Number(p.response_factor_vs_median).toFixed(1),
    ];
    // a thinned tile square stands for several cells and names the worst of them
    if (p.cells > 1) lines.push("worst of " + String(p.cells) + " cells here; zoom in for each");
    return lines;
  }

  function riskLayer(geojson) {
    return L.geoJSON(geojson, {
      style: (f) => riskStyle(f.properties),
      onEachFeature: (f, layer) => layer.bindTooltip(tooltip(riskLines(f.properties, f.id)), { sticky: true }),
    });
  }

  // A layer above the server's geojson_max_features is drawn from vector tiles
  // (GET /scenarios/{id}/tiles/risk/{z}/{x}/{y}.mvt), styled and labelled as the GeoJSON one.
  function riskTileLayer(info) {
    const headers = token() ? { Authorization: "Bearer " + token() } : {};
    const layer = L.vectorGrid.protobuf(info.tiles[0], {
      rendererFactory: L.canvas.tile,
      vectorTileLayerStyles: { risk: (p) => riskStyle(p) },
      interactive: true,
      maxNativeZoom: info.maxzoom,
      fetchOptions: { headers: headers },
    });
    const popup = L.tooltip({ sticky: true });
    layer.on("mouseover", (e) => {
      popup.setContent(tooltip(riskLines(e.layer.properties, e.layer.properties.unit_id)));
      popup.setLatLng(e.latlng);
      map.openTooltip(popup);
    });
    layer.on("mouseout", () => map.closeTooltip(popup));
    layer.on("load", () => (document.body.dataset.riskTiles = "loaded"));
    return layer;
  }

  async function loadRisk(sid, seq) {
    const q = "?units=" + encodeURIComponent($("risk-units").value) + "&standard=" + encodeURIComponent($("standard").value);
    const info = await api("/scenarios/" + sid + "/tiles/risk.json" + q);
    if (seq !== state.seq) return;
    const tiled = info.features > info.geojson_max_features;
    document.body.dataset.riskSource = tiled ? "tiles" : "geojson";
    if (tiled) {
      setLayer("risk", riskTileLayer(info));
    } else {
      const gj = await api("/scenarios/" + sid + "/risk" + q);
      if (seq !== state.seq) return;
      setLayer("risk", riskLayer(gj));
    }
    document.body.dataset.risk = "ready";
  }

  function pointsLayer(geojson, style, label) {
    return L.geoJSON(geojson, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, style),
      style: () => style,
      onEachFeature: (f, layer) => layer.bindTooltip(tooltip(label(f))),
    });
  }

  const STATION_STYLE = { radius: 8, color: "#0d47a1", weight: 2, fillColor: "#42a5f5", fillOpacity: 0.9 };
  const HAZARD_STYLE = { radius: 4, color: "#4a148c", weight: 1, fillColor: "#ce93d8", fillOpacity: 0.8 };
  const RESULT_STYLE = { radius: 6, color: "#e65100", weight: 2, fillColor: "#ffb74d", fillOpacity: 0.9 };
  const PROPOSED_STYLE = { radius: 10, color: "#b71c1c", weight: 3, fillColor: "#ffeb3b", fillOpacity: 0.95 };

  function drawLegend() {
    const limits = [0.6, 1.0, 1.6, 2.0].map((b) => seconds(b * state.standardS));
    const labels = ["up to " + limits[0], limits[0] + " to " + limits[1] + " (standard)",
      limits[1] + " to " + limits[2], limits[2] + " to " + limits[3], "over " + limits[3]];
    const rows = labels.map((text, i) =>
      el("div", {}, [el("span", { class: "swatch", style: "background:" + COLOURS[i] }), text]));
    rows.push(el("div", {}, [el("span", { class: "swatch", style: "background:" + NO_DATA }), "not computed / unreachable"]));
    rows.push(el("div", {}, [el("span", { class: "swatch", style: "background:#42a5f5;border-radius:50%" }), "fire station"]));
    rows.push(el("div", {}, [el("span", { class: "swatch", style: "background:#ce93d8;border-radius:50%" }), "hazard source"]));
    replace($("legend"), el("strong", { text: "Response time (min:s)" }), ...rows);
  }

  function drawSummary(summary) {
    const rows = Object.entries(summary.layers).map(([name, s]) =>
      el("tr", {}, [
        el("td", { text: name }),
        el("td", { class: "num", text: s.covered + "/" + s.features }),
        el("td", { class: "num", text: pct(s.share_covered) }),
        el("td", { class: "num", text: seconds(s.p50_response_s) }),
        el("td", { class: "num", text: seconds(s.p95_response_s) }),
      ]));
    const head = el("tr", {}, ["layer", "covered", "share", "p50", "p95"].map((t) => el("th", { text: t })));
    const std = summary.standard;
    replace($("coverage"),
      el("div", { text: summary.scenario + " under " + std.name + " (" + seconds(std.response_s) + ")" }),
      el("table", {}, [head, ...rows]),
      el("div", { text: summary.violations + " district violation(s)" }));
  }

  async function loadCoverage(sid, seq) {
    const standard = $("standard").value;
    status("computing coverage (first time takes a few seconds)…");
    const q = "?standard=" + encodeURIComponent(standard);
    const summary = await api("/scenarios/" + sid + "/coverage" + q);
    if (seq !== state.seq) return;
    state.standardS = summary.standard.response_s;
    drawLegend();
    drawSummary(summary);
    const communities = await api("/scenarios/" + sid + "/coverage/communities" + q);
    if (seq !== state.seq) return;
    setLayer("communities", communitiesLayer(communities, true));
    ["hazards", "stations"].forEach((name) => state.layers[name] && state.layers[name].bringToFront());
    await Promise.all(["isochrones", "districts"].map(async (name) => {
      const gj = await api("/scenarios/" + sid + "/" + name + q);
      if (seq !== state.seq) return;
      const style = name === "isochrones"
        ? (f) => ({ color: "#1565c0", weight: 1, fillOpacity: 0.08, fill: true, dashArray: f.properties.break_min > 5 ? "4" : null })
        : () => ({ color: "#37474f", weight: 2, fill: false });
      setLayer(name, L.geoJSON(gj, { style: style, interactive: false }));
    }));
    document.body.dataset.coverage = "ready";
    status("coverage ready: click the map for response times");
    await loadRisk(sid, seq);
  }

  async function selectScenario(sid) {
    const seq = ++state.seq;
    clearLayers();
    replace($("response-times"));
    document.body.dataset.coverage = "";
    document.body.dataset.layers = "";
    document.body.dataset.proposed = "";
    state.scenario = sid || null;
    if (!sid) return;
    try {
      const detail = await api("/scenarios/" + sid);
      if (detail.bounds_wgs84) {
        const [w, s, e, n] = detail.bounds_wgs84;
        map.fitBounds([[s, w], [n, e]]);
      }
      const [communities, hazards, stations] = await Promise.all(
        ["communities", "hazards", "fire_stations"].map((l) => api("/scenarios/" + sid + "/layers/" + l)));
      if (seq !== state.seq) return;
      setLayer("communities", communitiesLayer(communities, false));
      setLayer("hazards", pointsLayer(hazards, HAZARD_STYLE, (f) => [String(f.properties.name), String(f.properties.category)]));
      setLayer("stations", pointsLayer(stations, STATION_STYLE, (f) => [String(f.properties.name), "grade " + f.properties.grade]));
      document.body.dataset.layers = "ready";
      await loadCoverage(sid, seq);
    } catch (err) {
      if (seq === state.seq) status(err.message, true);
    }
  }

  // -- point query --------------------------------------------------------------------------

  async function pointQuery(latlng) {
    if (!state.scenario) {
      status("choose a scenario first", true);
      return;
    }
    const lon = latlng.lng.toFixed(6), lat = latlng.lat.toFixed(6);
    const panel = $("response-times");
    replace(panel, el("div", { text: "asking for " + lon + ", " + lat + "…" }));
    const params = new URLSearchParams({ lon: lon, lat: lat, k: "3", standard: $("standard").value });
    if (state.query) map.removeLayer(state.query);
    state.query = null;
    try {
      const ans = await api("/scenarios/" + state.scenario + "/response-times?" + params);
      const group = L.layerGroup([L.circleMarker(latlng, { radius: 6, color: "#000", fillColor: "#fff", fillOpacity: 1 })]);
      ans.stations.forEach((s) => {
        const line = L.polyline([[s.lat, s.lon], latlng], { color: s.covered ? "#1b5e20" : "#b71c1c", weight: 2, dashArray: "6 4" });
        line.bindTooltip(tooltip([s.name + ": " + seconds(s.response_time_s)]));
        group.addLayer(line);
      });
      state.query = group.addTo(map);
      const head = el("tr", {}, ["#", "station", "response", "travel", ""].map((t) => el("th", { text: t })));
      const rows = ans.stations.map((s) => el("tr", { class: "station-time" }, [
        el("td", { text: String(s.rank) }),
        el("td", { text: s.name }),
        el("td", { class: "num response-time", text: seconds(s.response_time_s) }),
        el("td", { class: "num", text: seconds(s.travel_time_s) }),
        el("td", { class: s.covered ? "ok" : "bad", text: s.covered ? "within" : "over" }),
      ]));
      replace(panel,
        el("div", { class: ans.covered ? "ok" : "bad",
          text: (ans.covered ? "Covered" : "Not covered") + " under " + ans.standard + " (" + seconds(ans.response_standard_s) + ")" }),
        el("table", {}, [head, ...rows]),
        el("div", { class: "hint", text: "point " + lon + ", " + lat + "; nearest road " + Math.round(ans.snap_distance_m) + " m" }));
    } catch (err) {
      replace(panel, el("div", { class: "error", text: err.message }));
    }
  }

  // -- jobs ---------------------------------------------------------------------------------

  async function showResultLayer(jobId, layer) {
    try {
      const gj = await api("/jobs/" + jobId + "/result/layers/" + encodeURIComponent(layer));
      setLayer("result", pointsLayer(gj, RESULT_STYLE, (f) =>
        Object.entries(f.properties).slice(0, 6).map(([k, v]) => k + ": " + v)));
      status("showing job layer " + layer);
    } catch (err) {
      status(err.message, true);
    }
  }

  function proposedLayer(geojson) {
    return L.geoJSON(geojson, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, Object.assign({ className: "proposed-station" }, PROPOSED_STYLE)),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        layer.bindTooltip(tooltip(["proposed: " + String(p.name || f.id)]));
        layer.bindPopup(el("div", { class: "proposed-popup" }, [
          el("strong", { text: "Proposed: " + String(p.name || f.id) }),
          el("div", { class: "reason", text: String(p.reason || "") }),
          el("div", { class: "hint", text: "population newly covered: " + (p.added_population ?? "n/a") }),
        ]));
      },
    });
  }

  function pageLinks(sid) {
    const q = "?standard=" + encodeURIComponent($("standard").value);
    const base = API + "/scenarios/" + encodeURIComponent(sid);
    return el("div", { class: "plan-links" }, [
      el("a", { id: "open-map", href: base + "/map" + q, target: "_blank", rel: "noopener", text: "open the map" }),
      " · ",
      el("a", { id: "open-report", href: base + "/report" + q, target: "_blank", rel: "noopener", text: "open the report" }),
    ]);
  }

  async function showPlacement(jobId, sid, panel) {
    const gj = await api("/jobs/" + jobId + "/result/layers/proposed");
    if (sid !== state.scenario) return;
    setLayer("proposed", proposedLayer(gj));
    const items = gj.features.map((f) =>
      el("li", {}, [el("strong", { text: String(f.properties.name || f.id) + ": " }), String(f.properties.reason || "")]));
    panel.appendChild(el("div", { class: "proposed-list" }, [
      el("div", { text: gj.features.length + " proposed station(s) (yellow on the map; click one for its reason)" }),
      el("ul", {}, items),
    ]));
    panel.appendChild(pageLinks(sid));
    document.body.dataset.proposed = String(gj.features.length);
  }

  async function pollJob(jobId) {
    const sid = state.scenario;
    const panel = $("job");
    const bar = el("progress", { max: "1", value: "0" });
    const text = el("div", { text: "queued" });
    replace(panel, bar, text);
    for (;;) {
      let job;
      try {
        job = await api("/jobs/" + jobId);
      } catch (err) {
        replace(panel, el("div", { class: "error", text: err.message }));
        return;
      }
      bar.value = job.progress;
      text.textContent = job.kind + ": " + job.status + (job.message ? " (" + job.message + ")" : "");
      if (["succeeded", "failed", "cancelled"].includes(job.status)) break;
      await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    }
    if (!text.textContent.includes("succeeded")) return;
    const result = await api("/jobs/" + jobId + "/result");
    const buttons = result.layers.map((layer) => {
      const b = el("button", { type: "button", text: "show " + layer });
      b.addEventListener("click", () => showResultLayer(jobId, layer));
      return b;
    });
    panel.appendChild(el("div", {}, buttons.length ? buttons : ["no layers"]));
    if (result.kind === "placement" && result.layers.includes("proposed")) {
      try {
        await showPlacement(jobId, sid, panel);
      } catch (err) {
        status(err.message, true);
      }
    }
  }

  async function startJob() {
    if (!state.scenario) return status("choose a scenario first", true);
    if (!token()) return status("enter the API token to start jobs", true);
    try {
      const job = await api("/scenarios/" + state.scenario + "/jobs", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ kind: $("job-kind").value, params: {} }),
      });
      await pollJob(job.id);
    } catch (err) {
      status(err.message, true);
    }
  }

  // -- scenarios ----------------------------------------------------------------------------

  async function loadScenarios(selectId) {
    const list = await api("/scenarios");
    const select = $("scenario");
    replace(select, el("option", { value: "", text: "choose a scenario" }),
      ...list.map((s) => el("option", { value: s.id, text: s.label + " (" + s.created_at.slice(0, 16) + ")" })));
    if (selectId) {
      select.value = selectId;
      await selectScenario(selectId);
    }
  }

  async function createDemo() {
    if (!token()) return status("enter the API token to create the demo city", true);
    status("generating the demo city…");
    try {
      const created = await api("/scenarios/demo", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({}),
      });
      await loadScenarios(created.id);
    } catch (err) {
      status(err.message, true);
    }
  }

  async function loadJobKinds() {
    const kinds = await api("/job-kinds");
    replace($("job-kind"), ...kinds.map((k) => el("option", { value: k.name, text: k.name, title: k.description })));
  }

  // -- wiring -------------------------------------------------------------------------------

  $("token").value = sessionStorage.getItem(TOKEN_KEY) || "";
  $("token").addEventListener("change", () => sessionStorage.setItem(TOKEN_KEY, token()));
  $("scenario").addEventListener("change", (e) => selectScenario(e.target.value));
  $("standard").addEventListener("change", () => selectScenario(state.scenario));
  $("risk-units").addEventListener("change", () => state.scenario && loadRisk(state.scenario, state.seq).catch((err) => status(err.message, true)));
  $("create-demo").addEventListener("click", createDemo);
  $("start-job").addEventListener("click", startJob);
  $("show-tiles").addEventListener("change", (e) => (e.target.checked ? tiles.addTo(map) : map.removeLayer(tiles)));
  ["risk", "communities", "hazards", "stations", "isochrones", "districts", "proposed"].forEach((name) =>
    $("show-" + name).addEventListener("change", (e) => {
      const layer = state.layers[name];
      if (layer) (e.target.checked ? layer.addTo(map) : map.removeLayer(layer));
    }));
  map.on("click", (e) => (window.riskplan.whatIf && window.riskplan.whatIf.active) || pointQuery(e.latlng));
  drawLegend();
  Promise.all([loadScenarios(), loadJobKinds()]).then(
    () => status("ready"),
    (err) => status(err.message, true));
})();
