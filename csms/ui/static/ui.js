// CSMS dashboard: live updates over server-sent events (/ui/events) and the station page's commands.
// Plain JavaScript, no toolkit and no network access beyond this CSMS (issue 15).
"use strict";

function cssId(value) { return window.CSS && CSS.escape ? CSS.escape(String(value)) : String(value); }

function cell(text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text == null ? "" : String(text);
  return td;
}

function link(href, text) {
  const td = document.createElement("td");
  const a = document.createElement("a");
  a.href = href;
  a.textContent = String(text);
  td.appendChild(a);
  return td;
}

function setConnected(id, connected) {
  const sel = `[data-charge-point-id="${cssId(id)}"]`;
  let rows = document.querySelectorAll(sel);
  const table = document.querySelector("#charge-points tbody");
  if (rows.length === 0 && table) {
    // A station that was not listed yet (it just registered by booting): add its row.
    const tr = document.createElement("tr");
    tr.dataset.chargePointId = id;
    tr.appendChild(link(`/ui/charge-points/${encodeURIComponent(id)}`, id));
    tr.appendChild(cell("", "connection"));
    tr.appendChild(cell(""));
    tr.appendChild(cell(""));
    tr.appendChild(cell(""));
    table.appendChild(tr);
    rows = [tr];
  }
  rows.forEach((el) => {
    el.dataset.connected = connected ? "true" : "false";
    const label = el.querySelector(".connection");
    if (label) label.textContent = connected ? "online" : "offline";
  });
}

function onStation(data) { setConnected(data.charge_point_id, data.connected); }

function onStatus(data) {
  const list = document.querySelector("#charge-points");
  if (list && !document.querySelector(`[data-charge-point-id="${cssId(data.charge_point_id)}"]`)) {
    setConnected(data.charge_point_id, true);  // a station reporting a status is connected
  }
  if (document.body.dataset.pageChargePointId !== data.charge_point_id) return;
  const row = document.querySelector(
    `#connectors tr[data-evse-id="${data.evse_id}"][data-connector-id="${data.connector_id}"]`);
  if (row) {
    row.querySelector(".status").textContent = data.status;
  } else {
    const tr = document.createElement("tr");
    tr.dataset.evseId = data.evse_id;
    tr.dataset.connectorId = data.connector_id;
    [data.evse_id, data.connector_id].forEach((v) => tr.appendChild(cell(v)));
    tr.appendChild(cell(data.status, "status"));
    tr.appendChild(cell(data.error_code || ""));
    document.querySelector("#connectors tbody").appendChild(tr);
  }
}

function sessionTable(data) {
  const page = document.body.dataset.page;
  if (page === "sessions") return document.querySelector("#sessions tbody");
  if (page === "charge-point" && document.body.dataset.pageChargePointId === data.charge_point_id) {
    return document.querySelector("#sessions tbody");
  }
  return null;
}

function onSession(data) {
  let rows = document.querySelectorAll(`[data-session-id="${data.session_id}"]`);
  const table = sessionTable(data);
  if (rows.length === 0 && table && data.status === "active") {
    const tr = document.createElement("tr");
    tr.dataset.sessionId = data.session_id;
    tr.appendChild(link(`/ui/sessions/${data.session_id}`, data.session_id));
    if (document.body.dataset.page === "sessions") {
      tr.appendChild(link(`/ui/charge-points/${encodeURIComponent(data.charge_point_id)}`, data.charge_point_id));
      tr.appendChild(cell(data.evse_id));
      tr.appendChild(cell(data.id_token));
      tr.appendChild(cell(data.status, "status"));
      tr.appendChild(cell(data.started_at));
    } else {
      tr.appendChild(cell(data.evse_id));
      tr.appendChild(cell(data.id_token));
    }
    tr.appendChild(cell("", "energy"));
    tr.appendChild(cell("", "power"));
    if (document.body.dataset.page === "sessions") tr.appendChild(cell("", "cost"));
    table.insertBefore(tr, table.firstChild);
    rows = [tr];
  }
  rows.forEach((el) => {
    el.dataset.energyWh = String(data.energy_wh);
    el.dataset.status = data.status;
    const energy = el.querySelector(".energy") || (el.tagName === "H1" ? document.querySelector(".energy") : null);
    if (energy) energy.textContent = String(data.energy_wh);
    const power = el.querySelector(".power");
    if (power && data.power_w != null) power.textContent = String(data.power_w);
    const status = el.querySelector(".status");
    if (status) status.textContent = data.status;
    if (el.tagName === "TR") refreshCost(el, data.session_id, data.status !== "active");
  });
}

const costFetched = new Map();  // session id -> when its cost was last asked for (ms)
const COST_EVERY_MS = 5000;

async function refreshCost(row, sessionId, force) {
  const cell = row.querySelector(".cost");
  const last = costFetched.get(sessionId) || 0;
  if (!cell || (!force && Date.now() - last < COST_EVERY_MS)) return;
  costFetched.set(sessionId, Date.now());
  const response = await fetch(`/ui/sessions/${sessionId}/cost`, { credentials: "same-origin" });
  if (!response.ok) return;
  const body = await response.json();
  cell.textContent = `${body.total} ${body.currency}`;
  row.dataset.cost = body.total;
}

function onReservation(data) {
  const page = document.body.dataset.page;
  const here = page === "reservations" ||
    (page === "charge-point" && document.body.dataset.pageChargePointId === data.charge_point_id);
  const table = document.querySelector("#reservations tbody");
  if (!here || !table) return;
  let row = table.querySelector(`[data-reservation-id="${data.reservation_id}"]`);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.reservationId = data.reservation_id;
    row.appendChild(cell(data.reservation_id));
    if (page === "reservations") row.appendChild(cell(data.charge_point_id));
    row.appendChild(cell(data.evse_id));
    row.appendChild(cell(data.id_token));
    row.appendChild(cell(data.expiry_date));
    row.appendChild(cell(data.status, "status"));
    table.insertBefore(row, table.firstChild);
  }
  row.dataset.status = data.status;
  row.querySelector(".status").textContent = data.status;
}

function onFrame(data) {
  if (document.body.dataset.pageChargePointId !== data.charge_point_id) return;
  const table = document.querySelector("#message-log tbody");
  if (!table) return;
  const tr = document.createElement("tr");
  tr.className = "frame";
  tr.dataset.direction = data.direction;
  tr.dataset.action = data.action || "";
  tr.dataset.messageId = data.message_id;
  tr.appendChild(cell(data.at));
  tr.appendChild(cell(data.direction));
  tr.appendChild(cell(data.action || ""));
  const td = document.createElement("td");
  const code = document.createElement("code");
  code.textContent = data.frame;
  td.appendChild(code);
  tr.appendChild(td);
  table.insertBefore(tr, table.firstChild);
  while (table.rows.length > 500) table.deleteRow(table.rows.length - 1);
}

// The overview's figures: any station, status or session change fetches them again (at most one request
// in flight, and one more if something changed meanwhile), so the counts follow without a reload.
let overviewBusy = false, overviewAgain = false;
function setTile(name, text) {
  const b = document.querySelector(`[data-count="${name}"] b`);
  if (b) b.textContent = text;
}
async function refreshOverview() {
  if (document.body.dataset.page !== "overview") return;
  if (overviewBusy) { overviewAgain = true; return; }
  overviewBusy = true;
  try {
    const response = await fetch("/ui/overview/summary", { credentials: "same-origin" });
    if (!response.ok) return;
    const s = await response.json();
    setTile("online", s.online); setTile("offline", s.offline); setTile("faulted", s.faulted);
    setTile("active-sessions", s.active_sessions); setTile("energy-today", s.energy_today_kwh);
    const tiles = document.querySelectorAll('[data-count="revenue-today"]');
    const entries = Object.entries(s.revenue);
    if (entries.length && tiles.length) {
      const parent = tiles[0].parentNode, before = tiles[tiles.length - 1].nextSibling;
      tiles.forEach((t) => t.remove());
      entries.forEach(([currency, amount]) => {
        const tile = document.createElement("div");
        tile.className = "tile"; tile.dataset.count = "revenue-today"; tile.dataset.currency = currency;
        const b = document.createElement("b"); b.textContent = amount;
        tile.append(b, ` ${currency} revenue today (incl. VAT)`);
        parent.insertBefore(tile, before);
      });
    }
    const alerts = document.getElementById("alerts");
    if (alerts) {
      alerts.replaceChildren();
      if (s.alerts.length) {
        const ul = document.createElement("ul"); ul.className = "alerts";
        s.alerts.forEach((a) => { const li = document.createElement("li"); li.textContent = a; ul.appendChild(li); });
        alerts.appendChild(ul);
      } else {
        const p = document.createElement("p"); p.textContent = "No alerts."; alerts.appendChild(p);
      }
    }
  } finally {
    overviewBusy = false;
    if (overviewAgain) { overviewAgain = false; refreshOverview(); }
  }
}

function connectLive() {
  const indicator = document.getElementById("live");
  if (!indicator || !window.EventSource) return;
  const source = new EventSource("/ui/events");
  source.onopen = () => { indicator.dataset.live = "true"; };
  source.onerror = () => { indicator.dataset.live = "false"; };  // EventSource reconnects by itself
  const handlers = { station: onStation, status: onStatus, session: onSession,
                     reservation: onReservation, frame: onFrame };
  Object.entries(handlers).forEach(([kind, handler]) => {
    source.addEventListener(kind, (event) => {
      handler(JSON.parse(event.data));
      if (kind !== "frame") refreshOverview();
    });
  });
}

function wireCommands() {
  const result = document.querySelector("[data-command-result]");
  document.querySelectorAll("form[data-command-form]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("[data-command]");
      const command = button ? button.dataset.command : "";
      if (button) button.disabled = true;
      result.textContent = `${command}: sending…`;
      result.dataset.state = "pending";
      try {
        const response = await fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)),
                                                    credentials: "same-origin" });
        const body = await response.json();
        result.textContent = body.message || `${command}: HTTP ${response.status}`;
        result.dataset.state = body.ok ? "ok" : "failed";
        result.dataset.command = command;
        if (command === "reserve" && body.ok) {
          const cancel = document.querySelector('form[action$="/cancel-reservation"] [name="reservation_id"]');
          if (cancel) cancel.value = String(body.reservation_id);
        }
      } catch (error) {
        result.textContent = `${command}: ${error}`;
        result.dataset.state = "failed";
      } finally {
        if (button) button.disabled = false;
      }
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  connectLive();
  wireCommands();
  document.querySelectorAll("tr[data-session-id]").forEach((row) => refreshCost(row, row.dataset.sessionId, true));
});
