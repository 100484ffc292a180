/* riskplan web page: the what-if tool. Close roads (click one, or draw a flooded area), take
 * stations out, and see which communities lose coverage (POST /scenarios/{id}/what-if).
 *
 * Loaded after app.js, whose window.riskplan gives the map, the page state and its api();
 * while the tool is on, map clicks close roads instead of asking response times (app.js checks
 * window.riskplan.whatIf.active). Data reaches the DOM through textContent only.
 */
(function () {
  "use strict";

  const rp = window.riskplan;
  if (!rp || !rp.map || !rp.api) return;
  const map = rp.map;
  const $ = (id) => document.getElementById(id);
  // the page's words (app.js's t(): GET /api/v1/i18n); English until the texts have come
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (m, k) => (values && k in values ? String(values[k]) : m));
  const t = (key, english, values) => {
    const text = rp.t ? rp.t(key, values) : key;
    return text === key ? fill(english, values) : text;
  };
  const num = (v) => (rp.num ? rp.num(Math.round(v)) : Math.round(v).toLocaleString());

  const tool = {
    active: false,
    mode: "road", // "road": a click closes the road there; "area": clicks add polygon corners
    points: [], // clicked roads [lon, lat]
    ring: [], // the polygon being drawn, [lon, lat]
    areas: [], // finished polygons, each a ring [[lon, lat], ...]
    seq: 0,
    result: null,
  };
  rp.whatIf = tool;

  const drawn = L.layerGroup().addTo(map);
  const answer = L.layerGroup().addTo(map);

  function node(tag, attrs, children) {
    const n = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") n.textContent = v;
      else n.setAttribute(k, v);
    });
    (children || []).forEach((c) => n.appendChild(typeof c === "string" ? document.createTextNode(c) : c));
    return n;
  }

  function minutes(s) {
    if (s === null || s === undefined) return t("web_whatif_unreachable", "unreachable");
    const r = Math.round(s);
    return Math.floor(r / 60) + ":" + String(r % 60).padStart(2, "0");
  }

  // -- the panel ------------------------------------------------------------------------------

  const panel = node("section", { id: "what-if" }, [
    // data-i18n: app.js puts the words of the page's language in, and again on every switch
    node("h2", { text: "What if", "data-i18n": "web_whatif_title" }),
    node("p", { class: "hint", text: "Close roads or take stations out and see who loses coverage.", "data-i18n": "web_whatif_hint" }),
    node("label", {}, [
      node("input", { type: "checkbox", id: "what-if-on" }),
      node("span", { text: " what-if tool on", "data-i18n": "web_whatif_on" }),
    ]),
    node("label", {}, [
      node("span", { text: "Clicks ", "data-i18n": "web_whatif_clicks" }),
      node("select", { id: "what-if-mode" }, [
        node("option", { value: "road", text: "close the road clicked", "data-i18n": "web_whatif_mode_road" }),
        node("option", { value: "area", text: "draw a flooded area", "data-i18n": "web_whatif_mode_area" }),
      ]),
    ]),
    node("button", { type: "button", id: "what-if-finish", text: "Finish area", "data-i18n": "web_whatif_finish" }),
    node("label", {}, [
      node("span", { text: "Stations out ", "data-i18n": "web_whatif_stations_out" }),
      node("input", { id: "what-if-stations", size: "12", placeholder: "FS1, FS3" }),
    ]),
    node("button", { type: "button", id: "what-if-run", text: "Show the change", "data-i18n": "web_whatif_run" }),
    node("button", { type: "button", id: "what-if-clear", text: "Clear", "data-i18n": "web_whatif_clear" }),
    node("div", { id: "what-if-result" }),
  ]);
  const aside = document.querySelector("aside");
  if (aside) aside.appendChild(panel);

  function say(text, isError) {
    const out = $("what-if-result");
    out.replaceChildren(node("p", { class: isError ? "error" : "", text: text }));
  }

  function redraw() {
    drawn.clearLayers();
    tool.points.forEach(([lon, lat]) =>
      L.circleMarker([lat, lon], { radius: 6, color: "#000", fillColor: "#d73027", fillOpacity: 1, weight: 2 }).addTo(drawn));
    tool.areas.forEach((ring) =>
      L.polygon(ring.map(([lon, lat]) => [lat, lon]), { color: "#2c7fb8", weight: 2, fillOpacity: 0.25 }).addTo(drawn));
    if (tool.ring.length) {
      L.polyline(tool.ring.map(([lon, lat]) => [lat, lon]), { color: "#2c7fb8", dashArray: "4 4" }).addTo(drawn);
    }
  }

  function finishArea() {
    if (tool.ring.length >= 3) {
      tool.areas.push([...tool.ring, tool.ring[0]]);
      tool.ring = [];
      redraw();
      return true;
    }
    return false;
  }

  function body() {
    const out = rp.state.standard ? { standard: rp.state.standard } : {};
    const std = $("standard");
    if (std && std.value) out.standard = std.value;
    if (tool.points.length) out.closed_at = tool.points.map(([lon, lat]) => ({ lon: lon, lat: lat }));
    if (tool.areas.length) out.closed_areas = tool.areas.map((ring) => ({ type: "Polygon", coordinates: [ring] }));
    const ids = $("what-if-stations").value.split(",").map((s) => s.trim()).filter((s) => s);
    if (ids.length) out.stations_out = ids;
    return out;
  }

  function showResult(data) {
    answer.clearLayers();
    L.geoJSON(data.closed_roads, { style: { color: "#000", weight: 6, opacity: 0.8 } }).addTo(answer);
    data.communities.forEach((c) => {
      const colour = c.cut_off ? "#7b3294" : c.loses_coverage ? "#d73027" : c.gains_coverage ? "#1a9850" : "#fc8d59";
      const marker = L.circleMarker([c.lat, c.lon], { radius: 7, color: "#000", weight: 1, fillColor: colour, fillOpacity: 0.9 });
      const lines = [
        t("web_whatif_community", "{name}: {population} residents", { name: c.name || c.community_id, population: num(c.population) }),
        minutes(c.response_before_s) + " -> " + minutes(c.response_after_s) +
          (c.loses_coverage ? t("web_whatif_loses", " (loses coverage)") : c.gains_coverage ? t("web_whatif_gains", " (gains coverage)") : ""),
      ];
      marker.bindTooltip(node("div", {}, lines.map((t) => node("div", { text: t }))));
      marker.addTo(answer);
    });
    const s = data.summary;
    const losing = data.communities.filter((c) => c.loses_coverage || c.cut_off)
      .sort((a, b) => b.population - a.population);
    const out = $("what-if-result");
    out.replaceChildren(
      node("p", { text: data.change }),
      node("p", { text: t("web_whatif_losing", "{residents} residents lose coverage ({communities} communities); {cut} cut off", {
        residents: num(s.residents_losing_coverage), communities: s.communities_losing_coverage, cut: num(s.residents_cut_off),
      }) }),
      node("p", { text: t("web_whatif_lost", "{seconds} resident-seconds lost; {slower} communities slower; answered in {answer} s", {
        seconds: num(s.resident_seconds_lost), slower: s.communities_slower, answer: s.seconds.toFixed(3),
      }) }),
      node("ul", {}, losing.slice(0, 10).map((c) => node("li", {
        text: t("web_whatif_community", "{name}: {population} residents", { name: c.name || c.community_id, population: num(c.population) }) +
          ", " + minutes(c.response_before_s) + " -> " + minutes(c.response_after_s),
      }))),
    );
    document.body.dataset.whatIf = "ready";
  }

  async function run() {
    const sid = rp.state.scenario;
    if (!sid) return say(t("web_whatif_choose", "Choose a scenario first."), true);
    finishArea();
    const seq = ++tool.seq;
    document.body.dataset.whatIf = "running";
    say(t("web_whatif_computing", "computing ..."));
    try {
      const data = await rp.api("/scenarios/" + sid + "/what-if", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body()),
      });
      if (seq !== tool.seq) return;
      tool.result = data;
      showResult(data);
    } catch (err) {
      if (seq !== tool.seq) return;
      document.body.dataset.whatIf = "error";
      say(err.message, true);
    }
  }

  function clear() {
    tool.points = [];
    tool.ring = [];
    tool.areas = [];
    tool.result = null;
    tool.seq++;
    drawn.clearLayers();
    answer.clearLayers();
    $("what-if-result").replaceChildren();
    document.body.dataset.whatIf = "";
  }

  // -- wiring ---------------------------------------------------------------------------------

  $("what-if-on").addEventListener("change", (e) => {
    tool.active = e.target.checked;
    map.getContainer().style.cursor = tool.active ? "crosshair" : "";
  });
  $("what-if-mode").addEventListener("change", (e) => {
    finishArea();
    tool.mode = e.target.value;
  });
  $("what-if-finish").addEventListener("click", () => finishArea() || say(t("web_whatif_corners", "Click at least three corners first."), true));
  $("what-if-run").addEventListener("click", run);
  $("what-if-clear").addEventListener("click", clear);
  $("scenario").addEventListener("change", clear);
  map.on("click", (e) => {
    if (!tool.active) return;
    const lonlat = [Number(e.latlng.lng.toFixed(6)), Number(e.latlng.lat.toFixed(6))];
    if (tool.mode === "area") tool.ring.push(lonlat);
    else {
      tool.points.push(lonlat);
      run();
    }
    redraw();
  });
})();
