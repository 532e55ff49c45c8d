// The dock page: renders the state LiveL2L pushes over the WebSocket; every control is one API call.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const SEND_EVERY_MS = 80;  // a dragged slider sends at most this often; the edit ramps in between
let rows = new Map();  // attribute name -> {row, toggle, slider, output}
let socket = null;

function showError(text) { $("error").textContent = text || ""; }

async function api(method, path, body) {
  try {
    const response = await fetch(path, {
      method,
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) { showError(data.error || response.statusText); return; }
    showError("");
    render(data);
  } catch (e) {
    showError("LiveL2L is not answering (" + e.message + ")");
  }
}

function signed(x) { return (x > 0 ? "+" : x < 0 ? "\u2212" : "\u2007") + Math.abs(x).toFixed(2); }

// "+2.00 (≈ +24.7 years)": the strength and what it asks of the face, when the model says its unit (up to its cap).
function shown(a, value) {
  if (!a.unit) return signed(value);
  const asked = a.most == null ? value * a.per_step : Math.max(-a.most, Math.min(a.most, value * a.per_step));
  return signed(value) + " (\u2248 " + signed(asked) + " " + a.unit + ")";
}

function buildRows(state) {
  const box = $("attributes");
  box.replaceChildren();
  rows = new Map();
  for (const a of state.attributes) {
    const row = document.createElement("div");
    row.className = "attr";
    row.dataset.name = a.name;
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "toggle";
    toggle.textContent = a.name;
    toggle.title = "switch " + a.name + " on/off";
    toggle.addEventListener("click", () => api("POST", "/api/toggle/" + encodeURIComponent(a.name)));
    const slider = document.createElement("input");
    slider.type = "range";
    slider.min = -state.max_strength;
    slider.max = state.max_strength;
    slider.step = 0.05;
    slider.setAttribute("aria-label", a.name + " strength");
    if (a.unit) slider.title = "1 step = " + a.per_step.toPrecision(3) + " " + a.unit;
    const output = document.createElement("output");
    let lastSent = 0, timer = null, releaseTimer = null;
    const send = () => {
      timer = null;
      lastSent = Date.now();
      api("POST", "/api/edits", { [a.name]: Number(slider.value) });
    };
    slider.addEventListener("input", () => {
      slider.dataset.busy = "1";
      output.textContent = shown(a, Number(slider.value));
      if (timer === null) timer = setTimeout(send, Math.max(0, SEND_EVERY_MS - (Date.now() - lastSent)));
    });
    slider.addEventListener("change", () => {
      if (timer !== null) { clearTimeout(timer); }
      send();
      clearTimeout(releaseTimer);
      releaseTimer = setTimeout(() => { delete slider.dataset.busy; }, 400);
    });
    row.append(toggle, slider, output);
    box.append(row);
    rows.set(a.name, { row, toggle, slider, output });
  }
}

function render(state) {
  const names = state.attributes.map((a) => a.name).join(",");
  if (names !== [...rows.keys()].join(",")) buildRows(state);
  for (const a of state.attributes) {
    const r = rows.get(a.name);
    r.row.className = "attr " + (a.on ? "on" : "off");
    r.toggle.setAttribute("aria-pressed", String(a.on));
    r.toggle.classList.toggle("selected", a.name === state.selected);
    if (!r.slider.dataset.busy) {  // never pull a slider from under the user's finger
      r.slider.value = a.value;
      r.output.textContent = shown(a, a.value);
    }
  }
  $("bypass").setAttribute("aria-pressed", String(state.bypass));
  $("active-preset").textContent = state.preset ? "\u2022 " + state.preset : "";
  const list = $("preset-list");
  const current = list.value;
  if ([...list.options].map((o) => o.value).join(",") !== state.presets.join(",")) {
    list.replaceChildren(...state.presets.map((p) => new Option(p, p)));
    if (state.presets.includes(current)) list.value = current;
  }
  if (state.preset && document.activeElement !== list) list.value = state.preset;
  $("preset-apply").disabled = state.presets.length === 0;
  const faces = state.faces === 1 ? "1 face" : state.faces + " faces";
  $("figures").textContent = `${state.fps.toFixed(1)} fps \u00b7 ${state.latency_ms.p50.toFixed(0)} ms` +
    ` (p95 ${state.latency_ms.p95.toFixed(0)}) \u00b7 ${faces} \u00b7 ${state.engine}`;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/api/ws?token=${encodeURIComponent(token)}`);
  socket.addEventListener("open", () => { $("link").textContent = "live"; $("link").className = "link on"; });
  socket.addEventListener("message", (event) => render(JSON.parse(event.data)));
  socket.addEventListener("close", () => {
    $("link").textContent = "offline";
    $("link").className = "link off";
    setTimeout(connect, 1000);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  if (!token) showError("no token in the address: open the URL LiveL2L printed (…/?token=…)");
  $("bypass").addEventListener("click", () => api("POST", "/api/bypass"));
  $("reset").addEventListener("click", () => api("POST", "/api/reset"));
  $("preset-apply").addEventListener("click", () => {
    if ($("preset-list").value) api("POST", "/api/preset/" + encodeURIComponent($("preset-list").value));
  });
  $("preset-save").addEventListener("click", () => {
    const name = $("preset-name").value.trim();
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(name)) { showError("preset name: 1-40 letters, digits, - or _"); return; }
    api("PUT", "/api/preset/" + encodeURIComponent(name)).then(() => { $("preset-name").value = ""; });
  });
  api("GET", "/api/state");
  connect();
});
