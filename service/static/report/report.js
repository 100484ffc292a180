// The one-click report page (served at /report): locate, pick a category, add photos, send.
// No external assets; it talks only to this server's /api/v1/register endpoints.
"use strict";

const API = "/api/v1/register";
const $ = (id) => document.getElementById(id);
let category = null;

function say(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function loadCategories() {
  const r = await fetch(`${API}/vocabulary`);
  const vocab = await r.json();
  const box = $("categories");
  for (const [key, label] of Object.entries(vocab.categories)) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
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
    $("where").textContent = "此设备不支持定位 No GPS here: type the coordinates.";
    return;
  }
  $("where").textContent = "定位中 Locating...";
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      $("lon").value = pos.coords.longitude.toFixed(6);
      $("lat").value = pos.coords.latitude.toFixed(6);
      $("where").textContent = `已定位 Located (±${Math.round(pos.coords.accuracy)} m)`;
    },
    (err) => { $("where").textContent = `定位失败 Could not locate (${err.message}): type the coordinates.`; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

function previews() {
  const box = $("previews");
  box.replaceChildren();
  const files = Array.from($("photos").files).slice(0, 3);
  if ($("photos").files.length > 3) say("最多3张照片 At most 3 photos: the first 3 are kept.", true);
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
  if (!Number.isFinite(lon) || !Number.isFinite(lat)) return say("请先定位 Locate first (GPS or coordinates).", true);
  if (!category) return say("请选择类别 Pick a category.", true);
  if (!$("description").value.trim()) return say("请写一句说明 Say in a line what is wrong.", true);
  const form = new FormData();
  form.append("category", category);
  form.append("lon", String(lon));
  form.append("lat", String(lat));
  form.append("description", $("description").value.trim());
  if ($("reporter").value.trim()) form.append("reporter", $("reporter").value.trim());
  for (const f of Array.from($("photos").files).slice(0, 3)) form.append("photo", f, f.name);
  $("send").disabled = true;
  say("提交中 Sending...");
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
    say(`网络错误 Network error: ${err}`, true);
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
  $("f-category").textContent = body.category_zh;
  $("f-status").textContent = body.status_zh + (body.deadline ? ` · 期限 deadline ${body.deadline}` : "");
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
loadCategories().catch((err) => say(`${err}`, true));
route();
