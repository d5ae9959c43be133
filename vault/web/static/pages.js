// The pages' script (issue 19): served from the package, never inline (the CSP allows only
// 'self'). The playback's watermark clock, ending a playback when the page is left, and the
// dock's bays polled every few seconds.
"use strict";

function pad(n) { return String(n).padStart(2, "0"); }

function nowText() {
  const d = new Date();
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
    pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
}

function startPlayback(player) {
  const clock = document.getElementById("clock");
  const tick = () => { clock.textContent = nowText(); };
  tick();
  setInterval(tick, 1000);
  const video = document.getElementById("video");
  video.addEventListener("playing", () => { player.dataset.state = "playing"; });
  video.addEventListener("contextmenu", (event) => event.preventDefault());
  window.addEventListener("pagehide", () => {
    const form = new FormData();
    form.append("csrf", player.dataset.csrf);
    navigator.sendBeacon(player.dataset.end, form);
  });
}

function cell(row, text, id) {
  const td = document.createElement("td");
  if (id) td.className = "id";
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function size(n) {
  return (n / 1000000).toFixed(1) + " MB/s";
}

function showBays(table, answer) {
  const summary = document.getElementById("dock-summary");
  const body = table.tBodies[0];
  body.replaceChildren();
  if (!answer.ok) {
    summary.textContent = answer.error;
    summary.classList.add("problem");
    return;
  }
  const state = answer.state;
  summary.classList.remove("problem");
  summary.textContent = state.station_id + ": " + state.summary;
  for (const bay of state.bays) {
    const row = document.createElement("tr");
    const total = bay.bytes_total || 1;
    cell(row, bay.bay, true);
    cell(row, bay.state, false);
    cell(row, bay.device_id || bay.profile || "?", true);
    const progress = cell(row, "", false);
    const bar = document.createElement("progress");
    bar.max = total;
    bar.value = Math.min(bay.bytes_done, total);
    progress.appendChild(bar);
    progress.append(" " + Math.round(100 * bay.bytes_done / total) + "%");
    cell(row, bay.files_done + "/" + bay.files_total, true);
    cell(row, bay.rate_bps ? size(bay.rate_bps) : "", true);
    cell(row, bay.eta_s === null || bay.eta_s === undefined ? "" : Math.round(bay.eta_s) + " s", true);
    cell(row, bay.reason || bay.current || "", false);
    body.appendChild(row);
  }
}

function pollBays(table) {
  const every = Number(table.dataset.every) || 2000;
  const poll = () => {
    fetch(table.dataset.poll, { credentials: "same-origin", cache: "no-store" })
      .then((response) => response.json())
      .then((answer) => showBays(table, answer))
      .catch(() => {})
      .finally(() => setTimeout(poll, every));
  };
  setTimeout(poll, every);
}

// A poster the service refused (no grant for that clip) or has not made yet: a word instead
// of a broken image.
function posterMissing(img) {
  const word = document.createElement("span");
  word.className = "no-poster";
  word.textContent = img.dataset.missing;
  img.replaceWith(word);
}

function watchPosters() {
  for (const img of document.querySelectorAll("img[data-missing]")) {
    if (img.complete && img.naturalWidth === 0) posterMissing(img);
    else img.addEventListener("error", () => posterMissing(img), { once: true });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  watchPosters();
  const player = document.getElementById("player");
  if (player) startPlayback(player);
  const bays = document.getElementById("bays");
  if (bays && bays.dataset.poll) pollBays(bays);
});
