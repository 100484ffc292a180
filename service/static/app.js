/* riskplan web page: scenarios, coverage layers, point queries and jobs on a Leaflet map.
 *
 * Plain JavaScript, no build step, no network beyond this server (map tiles are optional and
 * off by default). Every piece of data reaches the DOM through textContent or DOM nodes,
 * never innerHTML. window.riskplan exposes the map for tests and debugging.
 *
 * Every word shown comes from the glossary through GET /api/v1/i18n (t(key, values)), in the
 * language of the switch (remembered in localStorage), else the browser's; numbers and dates are
 * formatted for that language.
 */
(function () {
  "use strict";

  const API = "/api/v1";
  const TOKEN_KEY = "riskplan.token";
  const LANG_KEY = "riskplan.lang";
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
  // whatif.js uses state, api and the page's words (t, num)
  window.riskplan = { map: map, layers: state.layers, state: state, api: api, t: t, num: num };

  // -- words, numbers and dates in the page's language (GET /api/v1/i18n) --------------------

  const i18n = { lang: "en", texts: {}, terms: {} };

  // The text `key` of the glossary with its {placeholders} filled; the key itself when missing.
  function t(key, values) {
    const text = i18n.texts[key] ?? i18n.terms[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (m, name) => (values && name in values ? String(values[name]) : m));
  }

  function locale() {
    return i18n.lang === "zh" ? "zh-CN" : "en-GB";
  }

  function num(value, digits) {
    const opts = digits === undefined ? {} : { minimumFractionDigits: digits, maximumFractionDigits: digits };
    return Number(value).toLocaleString(locale(), opts);
  }

  function when(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    if (i18n.lang !== "zh") return String(iso).slice(0, 16);
    const pad = (n) => String(n).padStart(2, "0");
    return t("web_datetime", { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: pad(d.getHours()), minute: pad(d.getMinutes()) });
  }

  function applyTexts() {
    document.documentElement.lang = i18n.lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => (node.textContent = t(node.dataset.i18n)));
    document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => (node.placeholder = t(node.dataset.i18nPlaceholder)));
    document.querySelectorAll("[data-i18n-aria-label]").forEach((node) => node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel)));
    $("lang").value = i18n.lang;
    document.body.dataset.lang = i18n.lang;
  }

  // The texts in the switch's language, else the browser's (the server reads Accept-Language).
  async function loadTexts() {
    const chosen = localStorage.getItem(LANG_KEY);
    const response = await fetch(API + "/i18n" + (chosen ? "?lang=" + encodeURIComponent(chosen) : ""));
    if (!response.ok) return;
    const body = await response.json();
    Object.assign(i18n, { lang: body.lang, texts: body.texts, terms: body.terms });
    applyTexts();
  }

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
    if (value === null || value === undefined) return t("web_unreachable");
    const s = Math.round(value);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function pct(value) {
    if (value === null || value === undefined) return t("web_na");
    return num(100 * value, 1) + (i18n.lang === "zh" ? "%" : " %");
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
      status(t("web_retrying", { path: path.split("?")[0], wait: wait }));
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
        const lines = [String(p.name || f.id), t("web_population", { population: p.population == null ? t("web_na") : num(p.population) })];
        if (coloured) lines.push(t("web_response_from", { time: seconds(p.response_time_s), station: p.nearest_station ?? t("web_none") }));
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
      t("web_risk_line", { level: i18n.lang === "zh" ? t("level_" + p.level) : String(p.level), score: num(p.score, 1), rank: String(p.rank) }),
      t("web_vs_median", {
        hazard: num(p.hazard_vs_median, 1),
        exposure: num(p.exposure_factor_vs_median, 1),
        vulnerability: num(p.vulnerability_factor_vs_median, 1),
        response: num(p.response_factor_vs_median, 1),
      }),
    ];
    // a thinned tile square stands for several cells and names the worst of them
    if (p.cells > 1) lines.push(t("web_worst_of_cells", { cells: String(p.cells) }));
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
  // The tiles are not interactive (VectorGrid's per-feature hit testing slowed the first view):
  // hovering asks the server which feature the tile draws there (.../tiles/risk/feature).
  function riskTileLayer(info, query) {
    const headers = token() ? { Authorization: "Bearer " + token() } : {};
    const layer = L.vectorGrid.protobuf(info.tiles[0], {
      rendererFactory: L.canvas.tile,
      vectorTileLayerStyles: { risk: (p) => riskStyle(p) },
      interactive: false,
      maxNativeZoom: info.maxzoom,
      fetchOptions: { headers: headers },
    });
    const popup = L.tooltip({ sticky: true });
    const base = info.tiles[0].split("/{z}/")[0] + "/feature" + query;
    let pending = null, asked = 0;
    const hover = (e) => {
      if (!map.hasLayer(layer)) return;
      clearTimeout(pending);
      pending = setTimeout(async () => {
        const seq = ++asked;
        const url = base + "&z=" + Math.round(map.getZoom()) + "&lon=" + e.latlng.lng.toFixed(6) + "&lat=" + e.latlng.lat.toFixed(6);
        const r = await fetch(url, { headers: headers });
        if (seq !== asked || !r.ok) return;
        const body = await r.json();
        if (!body.feature) return map.closeTooltip(popup);
        popup.setContent(tooltip(riskLines(body.feature, body.feature.unit_id)));
        popup.setLatLng(e.latlng);
        map.openTooltip(popup);
      }, 40);
    };
    const leave = () => { clearTimeout(pending); asked++; map.closeTooltip(popup); };
    layer.on("add", () => { map.on("mousemove", hover); map.on("mouseout", leave); });
    layer.on("remove", () => { map.off("mousemove", hover); map.off("mouseout", leave); leave(); });
    layer.on("load", () => (document.body.dataset.riskTiles = "loaded"));
    return layer;
  }

  // The scenario's roads: GeoJSON for a city, vector tiles (/tiles/roads, minor classes only
  // at street zooms) above the server's geojson_max_features, as a province's network.
  const ROAD_WEIGHTS = { motorway: 3, trunk: 3, primary: 2.5, secondary: 2, tertiary: 1.5 };
  function roadStyle(p) {
    return { color: "#616161", weight: ROAD_WEIGHTS[p.highway] || 1, opacity: 0.8 };
  }

  async function loadRoads(sid, seq) {
    const info = await api("/scenarios/" + sid + "/tiles/roads.json");
    if (seq !== state.seq) return;
    if (info.features > info.geojson_max_features) {
      const headers = token() ? { Authorization: "Bearer " + token() } : {};
      const layer = L.vectorGrid.protobuf(info.tiles[0], {
        rendererFactory: L.canvas.tile,
        vectorTileLayerStyles: { roads: (p) => roadStyle(p) },
        interactive: false,
        maxNativeZoom: info.maxzoom,
        fetchOptions: { headers: headers },
      });
      layer.on("load", () => (document.body.dataset.roadTiles = "loaded"));
      setLayer("roads", layer);
      document.body.dataset.roadsSource = "tiles";
    } else {
      const gj = await api("/scenarios/" + sid + "/layers/roads");
      if (seq !== state.seq) return;
      setLayer("roads", L.geoJSON(gj, { style: (f) => roadStyle(f.properties), interactive: false }));
      document.body.dataset.roadsSource = "geojson";
    }
    state.layers.roads.bringToBack();
  }

  async function loadRisk(sid, seq) {
    const q = "?units=" + encodeURIComponent($("risk-units").value) + "&standard=" + encodeURIComponent($("standard").value);
    const info = await api("/scenarios/" + sid + "/tiles/risk.json" + q);
    if (seq !== state.seq) return;
    const tiled = info.features > info.geojson_max_features;
    document.body.dataset.riskSource = tiled ? "tiles" : "geojson";
    if (tiled) {
      setLayer("risk", riskTileLayer(info, q));
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
    const labels = [t("web_legend_up_to", { limit: limits[0] }), t("web_legend_standard", { low: limits[0], high: limits[1] }),
      t("web_legend_range", { low: limits[1], high: limits[2] }), t("web_legend_range", { low: limits[2], high: limits[3] }),
      t("web_legend_over", { limit: limits[3] })];
    const rows = labels.map((text, i) =>
      el("div", {}, [el("span", { class: "swatch", style: "background:" + COLOURS[i] }), text]));
    rows.push(el("div", {}, [el("span", { class: "swatch", style: "background:" + NO_DATA }), t("web_legend_no_data")]));
    rows.push(el("div", {}, [el("span", { class: "swatch", style: "background:#42a5f5;border-radius:50%" }), t("web_legend_station")]));
    rows.push(el("div", {}, [el("span", { class: "swatch", style: "background:#ce93d8;border-radius:50%" }), t("web_legend_hazard")]));
    replace($("legend"), el("strong", { text: t("web_legend_title") }), ...rows);
  }

  function drawSummary(summary) {
    const rows = Object.entries(summary.layers).map(([name, s]) =>
      el("tr", {}, [
        el("td", { text: name }),
        el("td", { class: "num", text: num(s.covered) + "/" + num(s.features) }),
        el("td", { class: "num", text: pct(s.share_covered) }),
        el("td", { class: "num", text: seconds(s.p50_response_s) }),
        el("td", { class: "num", text: seconds(s.p95_response_s) }),
      ]));
    const head = el("tr", {}, ["web_col_layer", "web_col_covered", "web_col_share", "web_col_p50", "web_col_p95"].map((k) => el("th", { text: t(k) })));
    const std = summary.standard;
    replace($("coverage"),
      el("div", { text: t("web_summary_under", { scenario: summary.scenario, standard: std.name, time: seconds(std.response_s) }) }),
      el("table", {}, [head, ...rows]),
      el("div", { text: t("web_violations", { count: num(summary.violations) }) }));
  }

  async function loadCoverage(sid, seq) {
    const standard = $("standard").value;
    status(t("web_computing_coverage"));
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
    status(t("web_coverage_ready"));
    await loadRisk(sid, seq);
    if ($("show-roads").checked) await loadRoads(sid, seq);
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
      setLayer("stations", pointsLayer(stations, STATION_STYLE, (f) => [String(f.properties.name), t("web_grade", { grade: f.properties.grade })]));
      document.body.dataset.layers = "ready";
      await loadCoverage(sid, seq);
    } catch (err) {
      if (seq === state.seq) status(err.message, true);
    }
  }

  // -- point query --------------------------------------------------------------------------

  async function pointQuery(latlng) {
    if (!state.scenario) {
      status(t("web_choose_first"), true);
      return;
    }
    const lon = latlng.lng.toFixed(6), lat = latlng.lat.toFixed(6);
    const panel = $("response-times");
    replace(panel, el("div", { text: t("web_asking", { lon: lon, lat: lat }) }));
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
      const head = el("tr", {}, ["web_col_rank", "web_col_station", "web_col_response", "web_col_travel", ""].map((k) => el("th", { text: k ? t(k) : "" })));
      const rows = ans.stations.map((s) => el("tr", { class: "station-time" }, [
        el("td", { text: String(s.rank) }),
        el("td", { text: s.name }),
        el("td", { class: "num response-time", text: seconds(s.response_time_s) }),
        el("td", { class: "num", text: seconds(s.travel_time_s) }),
        el("td", { class: s.covered ? "ok" : "bad", text: s.covered ? t("web_within") : t("web_over") }),
      ]));
      replace(panel,
        el("div", { class: ans.covered ? "ok" : "bad",
          text: t(ans.covered ? "web_covered_under" : "web_not_covered_under", { standard: ans.standard, time: seconds(ans.response_standard_s) }) }),
        el("table", {}, [head, ...rows]),
        el("div", { class: "hint", text: t("web_point_snap", { lon: lon, lat: lat, distance: num(Math.round(ans.snap_distance_m)) }) }));
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
      status(t("web_showing_layer", { layer: layer }));
    } catch (err) {
      status(err.message, true);
    }
  }

  function proposedLayer(geojson) {
    return L.geoJSON(geojson, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, Object.assign({ className: "proposed-station" }, PROPOSED_STYLE)),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        layer.bindTooltip(tooltip([t("web_proposed_tooltip", { name: String(p.name || f.id) })]));
        layer.bindPopup(el("div", { class: "proposed-popup" }, [
          el("strong", { text: t("web_proposed_title", { name: String(p.name || f.id) }) }),
          el("div", { class: "reason", text: String(p.reason || "") }),
          el("div", { class: "hint", text: t("web_newly_covered", { population: p.added_population == null ? t("web_na") : num(p.added_population) }) }),
        ]));
      },
    });
  }

  function pageLinks(sid) {
    const q = "?standard=" + encodeURIComponent($("standard").value);
    const base = API + "/scenarios/" + encodeURIComponent(sid);
    return el("div", { class: "plan-links" }, [
      el("a", { id: "open-map", href: base + "/map" + q, target: "_blank", rel: "noopener", text: t("web_open_map") }),
      " · ",
      el("a", { id: "open-report", href: base + "/report" + q, target: "_blank", rel: "noopener", text: t("web_open_report") }),
    ]);
  }

  async function showPlacement(jobId, sid, panel) {
    const gj = await api("/jobs/" + jobId + "/result/layers/proposed");
    if (sid !== state.scenario) return;
    setLayer("proposed", proposedLayer(gj));
    const items = gj.features.map((f) =>
      el("li", {}, [el("strong", { text: String(f.properties.name || f.id) + ": " }), String(f.properties.reason || "")]));
    panel.appendChild(el("div", { class: "proposed-list" }, [
      el("div", { text: t("web_proposed_count", { count: gj.features.length }) }),
      el("ul", {}, items),
    ]));
    panel.appendChild(pageLinks(sid));
    document.body.dataset.proposed = String(gj.features.length);
  }

  async function pollJob(jobId) {
    const sid = state.scenario;
    const panel = $("job");
    const bar = el("progress", { max: "1", value: "0" });
    const text = el("div", { text: t("web_job_queued") });
    replace(panel, bar, text);
    let job;
    for (;;) {
      try {
        job = await api("/jobs/" + jobId);
      } catch (err) {
        replace(panel, el("div", { class: "error", text: err.message }));
        return;
      }
      bar.value = job.progress;
      text.textContent = t("web_job_line", { kind: job.kind, status: t("web_job_status_" + job.status) }) + (job.message ? " (" + job.message + ")" : "");
      if (["succeeded", "failed", "cancelled"].includes(job.status)) break;
      await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    }
    if (job.status !== "succeeded") return;
    const result = await api("/jobs/" + jobId + "/result");
    const buttons = result.layers.map((layer) => {
      const b = el("button", { type: "button", text: t("web_show_layer", { layer: layer }) });
      b.addEventListener("click", () => showResultLayer(jobId, layer));
      return b;
    });
    panel.appendChild(el("div", {}, buttons.length ? buttons : [t("web_no_layers")]));
    if (result.kind === "placement" && result.layers.includes("proposed")) {
      try {
        await showPlacement(jobId, sid, panel);
      } catch (err) {
        status(err.message, true);
      }
    }
  }

  async function startJob() {
    if (!state.scenario) return status(t("web_choose_first"), true);
    if (!token()) return status(t("web_token_for_jobs"), true);
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
    replace(select, el("option", { value: "", text: t("web_choose_scenario"), "data-i18n": "web_choose_scenario" }),
      ...list.map((s) => el("option", { value: s.id, text: s.label + " (" + when(s.created_at) + ")" })));
    if (selectId) {
      select.value = selectId;
      await selectScenario(selectId);
    }
  }

  async function createDemo() {
    if (!token()) return status(t("web_token_for_demo"), true);
    status(t("web_generating_demo"));
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
  ["risk", "roads", "communities", "hazards", "stations", "isochrones", "districts", "proposed"].forEach((name) =>
    $("show-" + name).addEventListener("change", (e) => {
      const layer = state.layers[name];
      if (name === "roads" && !layer && e.target.checked && state.scenario) {
        loadRoads(state.scenario, state.seq).catch((err) => status(err.message, true));
      }
      if (layer) (e.target.checked ? layer.addTo(map) : map.removeLayer(layer));
    }));
  map.on("click", (e) => (window.riskplan.whatIf && window.riskplan.whatIf.active) || pointQuery(e.latlng));
  // the switch: remembered, and everything drawn again in the new language
  $("lang").addEventListener("change", async (e) => {
    localStorage.setItem(LANG_KEY, e.target.value);
    try {
      await loadTexts();
      drawLegend();
      const sid = state.scenario;
      await loadScenarios();
      if (sid) {
        $("scenario").value = sid;
        await selectScenario(sid);
      }
    } catch (err) {
      status(err.message, true);
    }
  });
  loadTexts().catch(() => undefined).then(() => {
    drawLegend();
    return Promise.all([loadScenarios(), loadJobKinds()]);
  }).then(
    () => status(t("web_ready")),
    (err) => status(err.message, true));
})();
