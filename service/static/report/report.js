// The one-click report page (served at /report): locate, pick a category, add photos, send.
// No external assets; it talks only to this server's /api/v1 endpoints. Its words come from the
// glossary (GET /api/v1/i18n) in the browser's language, or the one picked with the switch.
"use strict";

const API = "/api/v1/register";
const LANG_KEY = "riskplan.lang";
const $ = (id) => document.getElementById(id);
let category = null;
let vocab = { categories: {}, statuses: {} };
const i18n = { lang: "zh", texts: {}, terms: {} };

// The glossary's text `key` with its {placeholders} filled (the key itself when missing).
function t(key, values) {
  const text = i18n.texts[key] ?? i18n.terms[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (values && name in values ? String(values[name]) : m));
}

// A category or state in the page's language: the register's Chinese label, or the glossary's English.
function label(kind, key) {
  const zh = (kind === "category" ? vocab.categories : vocab.statuses)[key];
  if (i18n.lang === "zh" && zh) return zh;
  const term = i18n.terms[kind + "_" + key];
  return term ?? String(key).replace(/_/g, " ");
}

async function loadTexts() {
  const chosen = localStorage.getItem(LANG_KEY);
  const r = await fetch("/api/v1/i18n" + (chosen ? `?lang=${encodeURIComponent(chosen)}` : ""));
  if (!r.ok) return;
  Object.assign(i18n, await r.json());
  document.documentElement.lang = i18n.lang;
  document.querySelectorAll("[data-i18n]").forEach((node) => (node.textContent = t(node.dataset.i18n)));
  document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => (node.placeholder = t(node.dataset.i18nPlaceholder)));
  $("lang").value = i18n.lang;
  document.body.dataset.lang = i18n.lang;
  for (const b of $("categories").children) b.textContent = label("category", b.dataset.category);
}

function say(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function loadCategories() {
  const r = await fetch(`${API}/vocabulary`);
  vocab = await r.json();
  const box = $("categories");
  for (const key of Object.keys(vocab.categories)) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label("category", key);
    b.dataset.category = key;
    b.setAttribute("role", "radio");
    b.setAttribute("aria-checked", "false");
    b.addEventListener("click", () => {
      category = key;
      for (const other of box.children) other.setAttribute("aria-checked", String(other === b));
    });
    box.appendChild(b);
  }
  document.body.dataset.ready = "true";
}

function locate() {
  if (!navigator.geolocation) {
    $("where").textContent = t("phone_no_gps");
    return;
  }
  $("where").textContent = t("phone_locating");
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      $("lon").value = pos.coords.longitude.toFixed(6);
      $("lat").value = pos.coords.latitude.toFixed(6);
      $("where").textContent = t("phone_located", { accuracy: Math.round(pos.coords.accuracy) });
    },
    (err) => { $("where").textContent = t("phone_locate_failed", { error: err.message }); },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

function previews() {
  const box = $("previews");
  box.replaceChildren();
  const files = Array.from($("photos").files).slice(0, 3);
  if ($("photos").files.length > 3) say(t("phone_max_photos"), true);
  for (const f of files) {
    const img = document.createElement("img");
    img.src = URL.createObjectURL(f);
    img.alt = f.name;
    box.appendChild(img);
  }
}

async function send(event) {
  event.preventDefault();
  const lon = parseFloat($("lon").value), lat = parseFloat($("lat").value);
  if (!Number.isFinite(lon) || !Number.isFinite(lat)) return say(t("phone_locate_first"), true);
  if (!category) return say(t("phone_pick_category"), true);
  if (!$("description").value.trim()) return say(t("phone_say_what"), true);
  const form = new FormData();
  form.append("category", category);
  form.append("lon", String(lon));
  form.append("lat", String(lat));
  form.append("description", $("description").value.trim());
  if ($("reporter").value.trim()) form.append("reporter", $("reporter").value.trim());
  for (const f of Array.from($("photos").files).slice(0, 3)) form.append("photo", f, f.name);
  $("send").disabled = true;
  say(t("phone_sending"));
  try {
    const r = await fetch(`${API}/items`, { method: "POST", body: form });
    const body = await r.json();
    if (!r.ok) {
      const wait = r.headers.get("Retry-After");
      return say(`${body.detail || body.title}${wait ? ` (${wait} s)` : ""}`, true);
    }
    $("report-view").hidden = true;
    $("done").hidden = false;
    $("number").textContent = body.number;
    $("follow").href = body.follow_url;
    document.body.dataset.number = body.number;
  } catch (err) {
    say(t("phone_network_error", { error: err }), true);
  } finally {
    $("send").disabled = false;
  }
}

async function follow(hash) {
  const [number, key] = hash.split(".");
  $("report-view").hidden = true;
  $("done").hidden = true;
  $("follow-view").hidden = false;
  $("f-number").textContent = number;
  const r = await fetch(`${API}/follow/${encodeURIComponent(number)}`, { headers: { "X-Follow-Key": key || "" } });
  const body = await r.json();
  if (!r.ok) { $("f-status").textContent = body.detail || body.title; return; }
  const categoryKey = Object.keys(vocab.categories).find((k) => vocab.categories[k] === body.category_zh);
  $("f-category").textContent = i18n.lang === "zh" || !categoryKey ? body.category_zh : label("category", categoryKey);
  const state = i18n.lang === "zh" ? body.status_zh : label("state", body.status);
  $("f-status").textContent = state + (body.deadline ? ` · ${t("phone_deadline", { deadline: body.deadline })}` : "");
  for (const s of body.steps) {
    const li = document.createElement("li");
    li.textContent = `${s.at.slice(0, 10)} ${s.action}`;
    $("f-steps").appendChild(li);
  }
}

function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  if (hash) follow(hash);
}

$("locate").addEventListener("click", locate);
$("photos").addEventListener("change", previews);
$("report").addEventListener("submit", send);
window.addEventListener("hashchange", route);
$("lang").addEventListener("change", (e) => {
  localStorage.setItem(LANG_KEY, e.target.value);
  loadTexts().catch((err) => say(`${err}`, true));
});
// the words first, then the categories (labelled in the page's language), then a follow link
loadTexts()
  .catch(() => undefined)
  .then(loadCategories)
  .catch((err) => say(`${err}`, true))
  .then(route);
