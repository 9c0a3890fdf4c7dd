// The instructor's class page: the live roster and heat map over /ws/classes/<code>/, and the
// controls (pause, step, resume, faults, pace, broadcast, reset, extend, end) posted with
// fetch so the page stays put. Without this script every control is a plain form post.
import { gettext, fmt, LANG } from "../podflow/i18n.js";

const config = JSON.parse(document.getElementById("class-config").textContent);
const $ = (selector, root = document) => root.querySelector(selector);

function csrfToken() {
  const cookie = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  const field = $("input[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

// --- words ------------------------------------------------------------------------------

const STATUS = {
  hand: () => gettext("✋ Hand raised"),
  stuck: () => gettext("⚠ Stuck"),
  working: () => gettext("Working"),
  "not-started": () => gettext("Not started"),
  done: () => gettext("✓ Done"),
  "no-sandbox": () => gettext("No sandbox"),
};

export function secondsText(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return fmt(gettext("%(s)s s"), { s });
  if (s < 3600) return fmt(gettext("%(m)s min %(s)s s"), { m: Math.floor(s / 60), s: s % 60 });
  return fmt(gettext("%(h)s h %(m)s min"), { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

function titleOf(lab) {
  const title = lab && lab.title;
  if (!title) return lab ? lab.lab || lab.id : "";
  return title[LANG] || title.en || lab.lab || lab.id;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "scope" || key === "colspan" || key === "href" || key === "target" || key === "rel" || key === "style") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// --- the roster -------------------------------------------------------------------------

let roster = null;
let receivedAt = 0;

function stepCell(row) {
  if (!row.lab) return "—";
  const text = `${row.lab} · ${fmt(gettext("step %(n)s"), { n: row.step_index + 1 })}`;
  const cell = document.createDocumentFragment();
  cell.append(text);
  if (row.step_id) cell.append(" ", el("code", { text: row.step_id }));
  return cell;
}

function actionsCell(row) {
  const cell = el("td", { class: "learner-actions" });
  if (!row.url) return cell;
  cell.append(el("a", { class: "btn btn-small btn-quiet", href: row.url, target: "_blank", rel: "noopener", text: fmt(gettext("Open %(name)s's sandbox (read-only)"), { name: row.name }) }));
  const form = el("form", { class: "inline-form", method: "post", action: config.urls.reset });
  form.append(el("input", { type: "hidden", name: "member", value: String(row.id) }));
  form.append(el("button", { type: "submit", class: "btn btn-small btn-danger", text: fmt(gettext("Reset %(name)s's sandbox"), { name: row.name }) }));
  cell.append(form);
  return cell;
}

function renderRoster() {
  const body = $("#roster-body");
  const rows = roster.learners.map((row) => {
    const tr = el("tr", { "data-learner": String(row.id), "data-status": row.status });
    tr.append(el("th", { scope: "row", class: "learner-name", text: row.name }));
    tr.append(el("td", { class: "learner-status" }, el("span", { class: "status-word", "data-status": row.status, text: (STATUS[row.status] || (() => row.status))() })));
    tr.append(el("td", { class: "learner-step" }, stepCell(row)));
    tr.append(el("td", { class: "learner-checks", text: row.checks_total === null ? "—" : `${row.checks_passed} / ${row.checks_total}` }));
    tr.append(el("td", { class: "learner-time", "data-seconds": row.seconds_on_step === null ? "" : String(row.seconds_on_step), text: secondsText(row.seconds_on_step) }));
    tr.append(el("td", { class: "learner-activity", "data-seconds": row.seconds_since_activity === null ? "" : String(row.seconds_since_activity), text: row.seconds_since_activity === null ? "—" : fmt(gettext("%(time)s ago"), { time: secondsText(row.seconds_since_activity) }) }));
    tr.append(actionsCell(row));
    return tr;
  });
  if (!rows.length) {
    rows.push(el("tr", { class: "roster-empty" }, el("td", { colspan: "7", text: gettext("Nobody has joined yet. Give the learners the join code or the join link.") })));
  }
  // Keep the keyboard focus where it was (a row's button) across the redraw.
  const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.closest("tr")?.dataset.learner : null;
  body.replaceChildren(...rows);
  if (focused) body.querySelector(`tr[data-learner="${focused}"] a, tr[data-learner="${focused}"] button`)?.focus();
  $("#roster-count").textContent = `(${roster.learners.length})`;
}

function renderHeatmap() {
  const box = $("#heatmap");
  if (!roster.heatmap.length) {
    box.replaceChildren(el("p", { class: "muted", id: "heatmap-empty", text: gettext("No learner has started a lab yet.") }));
    return;
  }
  const most = Math.max(1, ...roster.heatmap.flatMap((lab) => lab.steps.map((s) => s.learners)));
  box.replaceChildren(...roster.heatmap.map((lab) => {
    const head = el("tr", {}, el("th", { scope: "col", text: gettext("Step") }));
    const counts = el("tr", {}, el("th", { scope: "row", text: gettext("Learners") }));
    for (const step of lab.steps) {
      head.append(el("th", { scope: "col" }, String(step.index + 1), el("span", { class: "step-id", text: ` ${step.id}` })));
      const heat = Math.round((step.learners / most) * 10);
      counts.append(el("td", { "data-count": String(step.learners), "data-step": step.id, style: `--heat: ${heat}`, class: heat >= 6 ? "is-hot" : "", text: String(step.learners) }));
    }
    head.append(el("th", { scope: "col", text: gettext("Done") }));
    counts.append(el("td", { "data-count": String(lab.completed), text: String(lab.completed) }));
    const table = el("table", { class: "heatmap", "data-lab": lab.lab }, el("caption", { text: titleOf(lab) }), el("thead", {}, head), el("tbody", {}, counts));
    return el("div", { class: "table-wrap" }, table);
  }));
}

function renderClassState() {
  const info = roster.class;
  $("#clock-state").textContent = info.paused ? gettext("Paused: no component acts until you step or resume.") : gettext("Running.");
  $("#fault-state").textContent = info.stopped.length ? `${gettext("Stopped:")} ${info.stopped.join(", ")}` : gettext("Every component runs.");
  document.querySelector("main").dataset.state = info.state;
}

// What changed that the instructor should hear (a screen reader reads the status region).
function announceChanges(before, after) {
  if (!before) return;
  const old = new Map(before.learners.map((r) => [r.id, r]));
  const said = [];
  for (const row of after.learners) {
    const was = old.get(row.id);
    if (!was) said.push(fmt(gettext("%(name)s joined the class."), { name: row.name }));
    else if (row.hand_raised && !was.hand_raised) said.push(fmt(gettext("%(name)s raised a hand."), { name: row.name }));
    else if (row.status === "stuck" && was.status !== "stuck") said.push(fmt(gettext("%(name)s seems stuck on a step."), { name: row.name }));
  }
  if (said.length) announce(said.join(" "));
}

function announce(text) {
  const status = $("#class-status");
  status.textContent = "";
  // A fresh text node each time, so the same words are read again.
  window.setTimeout(() => { status.textContent = text; }, 30);
}

function applyRoster(data) {
  const before = roster;
  roster = data;
  receivedAt = Date.now();
  renderRoster();
  renderHeatmap();
  renderClassState();
  announceChanges(before, data);
}

// The times run on between two rosters.
function tick() {
  if (!roster) return;
  const extra = Math.floor((Date.now() - receivedAt) / 1000);
  for (const cell of document.querySelectorAll("#roster-body .learner-time[data-seconds]")) {
    if (cell.dataset.seconds !== "") cell.textContent = secondsText(Number(cell.dataset.seconds) + extra);
  }
  for (const cell of document.querySelectorAll("#roster-body .learner-activity[data-seconds]")) {
    if (cell.dataset.seconds !== "") cell.textContent = fmt(gettext("%(time)s ago"), { time: secondsText(Number(cell.dataset.seconds) + extra) });
  }
}

// --- the websocket ----------------------------------------------------------------------

let retries = 0;

function setConnection(kind, text) {
  const node = $("#connection");
  node.dataset.state = kind;
  $(".conn-text", node).textContent = text;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}${config.ws}`);
  setConnection("connecting", retries ? gettext("Reconnecting…") : gettext("Connecting…"));
  ws.addEventListener("message", (event) => {
    let msg;
    try { msg = JSON.parse(event.data); } catch (err) { return; }
    if (msg.type === "roster") {
      retries = 0;
      setConnection("live", gettext("Live"));
      applyRoster(msg);
    }
  });
  ws.addEventListener("close", (event) => {
    if (event.code === 4403) { setConnection("down", gettext("Not allowed")); return; }
    if (event.code === 4404) { setConnection("down", gettext("This class no longer exists.")); return; }
    retries += 1;
    const delay = Math.min(30000, 1000 * 2 ** Math.min(retries - 1, 5));
    setConnection("down", fmt(gettext("Disconnected; trying again in %(s)s s…"), { s: Math.ceil(delay / 1000) }));
    window.setTimeout(connect, delay);
  });
}

// --- the controls -----------------------------------------------------------------------

// A form's target. Not `form.action`: a control named "action" (the clock's and the faults'
// buttons) stands in its place in the DOM.
function actionOf(form) {
  return new URL(form.getAttribute("action") || "", location.href);
}

async function post(form, data) {
  const response = await fetch(actionOf(form).pathname, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: data,
  });
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  return { ok: response.ok, status: response.status, body };
}

function addSent(text, sent) {
  const list = $("#sent-list");
  list.querySelector("li.muted")?.remove();
  const when = sent ? new Date(sent) : new Date();
  const item = el("li", {}, el("time", { dateTime: when.toISOString(), text: when.toTimeString().slice(0, 5) }), ` ${text}`);
  list.prepend(item);
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const target = actionOf(form);
  if (target.origin !== location.origin || !target.pathname.startsWith(`/classes/${config.code}/`)) return;
  event.preventDefault();
  // The fields (and the button pressed) are read before the buttons are disabled: a
  // disabled button is not part of a form's data.
  const data = new URLSearchParams(new FormData(form, event.submitter || null));
  const buttons = [...form.querySelectorAll("button")];
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const answer = await post(form, data);
    const message = (answer.body && (answer.body.message || answer.body.error)) || fmt(gettext("The server answered %(code)s."), { code: answer.status });
    announce(answer.ok ? message : `${gettext("Not done:")} ${message}`);
    showFlash(answer.ok ? "success" : "error", message);
    if (answer.ok && form.id === "broadcast-form") {
      addSent(answer.body.text, answer.body.sent);
      form.reset();
    }
    if (answer.ok && target.pathname.endsWith("/end")) window.location.reload();
    if (answer.ok && form.classList.contains("pace-form")) {
      const now = form.querySelector(".pace-now");
      if (now) now.textContent = fmt(gettext("Open: up to step %(n)s"), { n: answer.body.opened_step + 1 });
      const input = form.querySelector("input[name=step]");
      if (input) input.value = String(answer.body.opened_step);
    }
  } catch (err) {
    announce(gettext("Could not reach the server. Is podflow still running?"));
    showFlash("error", gettext("Could not reach the server. Is podflow still running?"));
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
});

function showFlash(kind, text) {
  let box = $(".class-flash");
  if (!box) {
    box = el("div", { class: "class-flash" });
    document.querySelector("header.topbar").after(box);
  }
  box.removeAttribute("role"); // the status region below says it once
  box.replaceChildren(el("p", { class: "class-flash-item", "data-kind": kind }, kind === "error" ? el("strong", { text: `${gettext("Not done:")} ` }) : null, text));
}

if (config.roster) {
  roster = config.roster;
  receivedAt = Date.now();
}
window.setInterval(tick, 1000);
connect();
