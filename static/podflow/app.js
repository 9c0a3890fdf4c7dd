// podflow's page: keeps a live copy of the cluster from the websocket and shows it as a
// diagram, a step log, a pod table and forms that talk to the Kubernetes-shaped API.
import { gettext, ngettext, fmt, stepText, LANG } from "./i18n.js";
import { ClusterState, MissingBase } from "./store.js";
import { podView, containerViews, owner, podRequests, holdsResources, formatCpu, formatMemory, nodeView } from "./k8s.js";
import { renderDiagram, stateWord, esc, STEP_NUMBERS } from "./diagram.js";
import { makeApi, ApiError } from "./api.js";
import { clearFieldErrors, showResult, showError, busy } from "./forms.js";
import { RequestLog, requestRow, requestWhat, clientLabel, codeText } from "./requests.js";
import { ServicesPanel } from "./services.js";
import { IngressPanel } from "./ingress.js";
import { WaysIn } from "./waysin.js";
import { tablist } from "./tabs.js";
import { DeploymentsPanel } from "./workloads.js";
import { NodesPanel } from "./nodes.js";
import { PodInfo } from "./podinfo.js";
import { SandboxPanel } from "./sandboxes.js";
import { SnapshotAssembler } from "./snapshot.js";
import { ClockPanel } from "./clock.js";
import { ExplainPanel } from "./explain.js";
import { Terminal } from "./terminal.js";
import { Timeline } from "./timeline.js";
import { Dock } from "./dock.js";
import { FaultsPanel } from "./faults.js";
import { waterfallHtml } from "./waterfall.js";
import { EtcdPanel } from "./etcd.js";
import { LabPanel } from "./labs.js";

const config = JSON.parse(document.getElementById("podflow-config").textContent);
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const state = new ClusterState(config.cluster);
const api = makeApi(config.apiBase, config.speedUrl, csrfToken);

let follow = true; // select the newest pod automatically
let pinnedUid = null; // the pod the user chose, when not following
let lastShownUid = null;
let freshSteps = new Set(); // step numbers of the shown pod that arrived since the last draw
let pendingAnnouncements = [];
// Requests that reached the API server (step 1), newest first; each lights arrow 1.
const requestLog = new RequestLog(() => scheduleRender());
// The panels of issue 4's scenes: Services and their traffic, rollouts, node failures, and
// the selected pod's scheduling and containers.
const services = new ServicesPanel({ state, api, announce, onMarks: () => scheduleRender(), onAnswers: (answers, source) => waysIn.show(answers, source) });
// Ingress (L7 routing by host and path) and note 001's picture of the three ways in.
const ingresses = new IngressPanel({ state, api, announce, onMarks: () => scheduleRender(), onAnswers: (answers, source) => waysIn.show(answers, source) });
const waysIn = new WaysIn({ state, ingressToShow: () => ingresses.ingress() });
const deployments = new DeploymentsPanel({ state, api, announce });
// The cluster's clock: pause, step, resume, and the components' switches.
const clockPanel = new ClockPanel({ api, announce, onChange: () => scheduleRender() });
// Why the selected pod is as it is, and which component is responsible.
const explainPanel = new ExplainPanel({ api });
// kubectl in the page, run by the server against this cluster.
const terminal = new Terminal({ api, announce });
// The timeline: the cluster at an earlier revision, read-only; Live follows the present.
let lookingBack = false;
const timeline = new Timeline({
  url: config.snapshotUrl,
  onPast(snap) {
    lookingBack = true;
    // Stop following: the socket goes without reconnecting (its close handler sees it is
    // no longer ours), and the forms are out of reach while the past is shown.
    const ws = socket;
    socket = null;
    if (ws) ws.close();
    clearTimeout(reconnectTimer);
    for (const part of $$(".live-only")) part.inert = true;
    state.applySnapshot({ ...snap, type: "snapshot" });
    etcd.setAt(snap.revision);
    scheduleRender();
  },
  onLive() {
    lookingBack = false;
    for (const part of $$(".live-only")) part.inert = false;
    etcd.setAt(null);
    connect(); // ?since= the revision shown: the replay brings the page to the present
  },
});
const nodesPanel = new NodesPanel({ state, api, announce, rerender: () => scheduleRender() });
const podInfo = new PodInfo({ api, announce });
// This learner's sandboxes: new, reset and delete (a reset shows as deletions on the stream).
new SandboxPanel({ csrfToken });
// The forms and the other panels, as tabs under the diagram.
const dock = new Dock();
dock.onShow("pods", () => scheduleRender());
dock.onShow("nodes", () => scheduleRender());
dock.onShow("services", () => scheduleRender());
dock.onShow("deployments", () => scheduleRender());
// etcd as the API server stores it, and the watch events that woke each component.
const etcd = new EtcdPanel({ api, root: $("#etcd-root"), announce });
dock.onShow("etcd", () => etcd.show());
// The guided labs (labs/*.yaml): the current step, its checks re-run as the stream changes.
const labPanel = new LabPanel({
  api, announce, root: $("#lab-root"), cluster: config.cluster,
  onSuggest(command) {
    dock.open("kubectl");
    terminal.suggest(command);
  },
});
dock.onShow("lab", () => labPanel.show());
labPanel.show(); // a lab this browser had open resumes where its progress is
// The control bar's "Break something" menu.
const faults = new FaultsPanel({
  state, api, announce,
  selectedPod: () => { const uid = selectedUid(); return uid ? state.pods.get(uid) : null; },
  onCreated: () => followNewest(),
});

function csrfToken() {
  const cookie = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  const input = $("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

// --- selection -------------------------------------------------------------------

function selectedUid() {
  if (!follow && pinnedUid && state.pods.has(pinnedUid)) return pinnedUid;
  if (!follow && pinnedUid && !state.pods.has(pinnedUid)) {
    // The chosen pod is gone: go back to following the newest.
    follow = true;
    pinnedUid = null;
  }
  const newest = state.newestPod();
  return newest ? newest.metadata.uid : null;
}

// The user chose a pod: show it until they choose another or it is gone.
function pin(uid) {
  follow = false;
  pinnedUid = uid;
  scheduleRender();
}

function followNewest() {
  follow = true;
  pinnedUid = null;
  scheduleRender();
}

// --- rendering -------------------------------------------------------------------

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

// Re-rendering replaces elements; put the keyboard focus back where it was.
function keepingFocus(fn) {
  const active = document.activeElement;
  const key = active && active.getAttribute ? active.getAttribute("data-focus-key") : null;
  fn();
  if (key && (!document.activeElement || document.activeElement === document.body || !document.activeElement.isConnected)) {
    const again = document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}

function stepStates(uid) {
  const steps = state.stepsOf(uid);
  const states = {};
  let current = 0;
  let latestRev = -1;
  for (const n of STEP_NUMBERS) {
    const step = steps.get(n);
    states[n] = step ? step.status : "pending";
    if (step && step.status === "done" && (step.revision > latestRev || (step.revision === latestRev && n > current))) {
      latestRev = step.revision;
      current = n;
    }
  }
  return { steps, states, current };
}

function render() {
  if (!state.ready) return;
  const uid = selectedUid();
  if (uid !== lastShownUid) {
    freshSteps = new Set();
    lastShownUid = uid;
  }
  const pod = uid ? state.pods.get(uid) : null;
  const { steps, states, current } = uid ? stepStates(uid) : { steps: new Map(), states: {}, current: 0 };
  keepingFocus(() => {
    renderDiagramPart(pod, steps, states, current);
    renderPodNames();
    // The dock's panels are drawn only while their tab shows; opening one draws it.
    if (dock.isOpen("pods")) renderPodTable(uid);
    if (dock.isOpen("nodes")) nodesPanel.render();
    if (dock.isOpen("services")) {
      services.render();
      ingresses.render();
      waysIn.render();
    }
    if (dock.isOpen("deployments")) deployments.render();
    if (dock.isOpen("etcd")) etcd.refresh(state.revision);
    labPanel.refresh(state.revision); // an open lab's checks run whichever tab shows
    podInfo.render(pod);
    faults.render();
  });
  explainPanel.show(pod);
  renderStepLog(pod, steps, states, current);
  renderWaterfall(pod, steps);
  renderEvents(pod);
  renderSpeed();
  $("#revision").textContent = String(state.revision);
  if (!lookingBack) timeline.follow(state.revision);
  $("#follow").checked = follow;
  freshSteps = new Set();
  if (pendingAnnouncements.length) {
    announce(pendingAnnouncements.join(" "));
    pendingAnnouncements = [];
  }
}

function podModel(pod, selectedId) {
  return {
    uid: pod.metadata.uid,
    name: pod.metadata.name,
    view: podView(pod),
    selected: pod.metadata.uid === selectedId,
    hits: newestHits(services.hitsFor(pod), ingresses.hitsFor(pod)),
  };
}

// A pod marked by both a Service's and an Ingress's requests shows the newer batch.
function newestHits(a, b) {
  if (!a || !b) return a || b;
  return (b.time || 0) > (a.time || 0) ? b : a;
}

function renderDiagramPart(pod, steps, states, current) {
  const container = $("#diagram");
  const selectedId = pod ? pod.metadata.uid : null;
  const pods = state.sortedPods();
  const nodes = state.sortedNodes().map((node) => {
    const on = pods.filter((p) => p.spec && p.spec.nodeName === node.metadata.name);
    let cpu = 0;
    let memory = 0;
    for (const p of on) {
      if (!holdsResources(p)) continue;
      const r = podRequests(p);
      cpu += r.cpu;
      memory += r.memory;
    }
    const view = nodeView(node);
    return {
      name: node.metadata.name,
      ready: view.ready,
      view,
      pods: on.map((p) => podModel(p, selectedId)),
      cpu: { used: formatCpu(cpu), cap: view.allocatable.cpu },
      memory: { used: formatMemory(memory), cap: view.allocatable.memory },
    };
  });
  const nodeNames = new Set(nodes.map((n) => n.name));
  const unscheduled = pods.filter((p) => !(p.spec && p.spec.nodeName && nodeNames.has(p.spec.nodeName))).map((p) => podModel(p, selectedId));
  const step1 = steps.get(1);
  const latest = requestLog.latest;
  const model = {
    width: container.clientWidth,
    revision: state.revision,
    nodes,
    unscheduled,
    // Who asked the API server last, and whether arrow 1 is lit for it.
    client: latest
      ? { name: clientLabel(latest.client), what: `${requestWhat(latest)} · ${codeText(latest.code, latest.verb, latest.reason)}` }
      : null,
    asking: requestLog.flashElapsed(),
    stopped: clockPanel.state.stopped,
    selected: pod
      ? {
        uid: pod.metadata.uid,
        name: pod.metadata.name,
        node: (pod.spec && pod.spec.nodeName) || "",
        states,
        current,
        fresh: freshSteps,
        actor: step1 && step1.actor ? step1.actor : "",
      }
      : null,
  };
  model.width = drawingWidth(container, model);
  renderDiagram($("#diagram-svg"), model);
}

// The diagram is drawn for a width and scaled to its box. When the box has a height of its
// own (the one-screen layout), a wider drawing may fit better: worker nodes side by side
// instead of stacked. Of the box's width and the width that puts every node in one row,
// take the one the box shows larger.
function drawingWidth(container, model) {
  const boxW = container.clientWidth;
  const boxH = container.clientHeight;
  if (!boxH || boxH < 200 || getComputedStyle(container).flexGrow === "0") return boxW;
  const oneRow = Math.min(1400, 2 * 16 + model.nodes.length * 250);
  if (oneRow <= boxW) return boxW;
  const scale = (width) => {
    const size = renderDiagram($("#diagram-svg"), { ...model, width, measureOnly: true });
    return Math.min(boxW / size.width, boxH / size.height, 1);
  };
  return scale(oneRow) > scale(boxW) * 1.05 ? oneRow : boxW;
}

function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString(LANG === "ko" ? "ko-KR" : "en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function renderStepLog(pod, steps, states, current) {
  const heading = $("#selected-pod");
  const hint = $("#selected-hint");
  if (!pod) {
    heading.textContent = gettext("No pod yet");
    hint.textContent = gettext("Create a pod or a deployment with the forms, then watch its eight steps here.");
  } else {
    const v = podView(pod);
    const own = owner(pod);
    heading.innerHTML = `${esc(gettext("Pod"))} <code>${esc(pod.metadata.namespace)}/${esc(pod.metadata.name)}</code>`
      + ` <span class="pill pill-${v.key}" data-phase="${esc(v.word)}">${esc(v.word)} · ${esc(v.readyText)}</span>`;
    const bits = [];
    bits.push(v.node ? fmt(gettext("on %(node)s"), { node: v.node }) : gettext("no node chosen yet"));
    if (v.ip) bits.push(fmt(gettext("IP %(ip)s"), { ip: v.ip }));
    bits.push(own ? fmt(gettext("owned by %(kind)s %(name)s"), { kind: own.kind, name: own.name }) : gettext("bare pod (no controller owns it)"));
    bits.push(follow ? gettext("following the newest pod") : gettext("chosen by you"));
    hint.textContent = bits.join(" · ");
  }
  const v = pod ? podView(pod) : null;
  const now = pod ? liveSteps(pod, steps, v) : {};
  for (const n of STEP_NUMBERS) {
    const li = $(`#steps li[data-step="${n}"]`);
    const step = steps.get(n);
    // What the step log recorded, or — for steps 7 and 8 — what is happening now: a pull in
    // progress, a pull or start that fails, a container that keeps exiting, a failing probe.
    const live = now[n];
    const st = live ? live.state : (states[n] || "pending");
    li.dataset.state = st;
    if (n === current) li.dataset.current = "true";
    else delete li.dataset.current;
    li.querySelector(".step-state").textContent = stepStateWord(st);
    let text = step ? stepText(step) : "";
    let meta = "";
    if (step) {
      const who = step.actor ? step.actor : "";
      meta = [who, formatTime(step.time), fmt(gettext("etcd revision %(rev)s"), { rev: step.revision })].filter(Boolean).join(" · ");
    } else if (n === 4 && v && v.key === "pending" && v.reason) {
      text = fmt(gettext("Waiting: the scheduler found no node yet (%(reason)s)"), { reason: v.reason });
    }
    const now_ = li.querySelector(".step-now");
    now_.textContent = live ? live.text : "";
    now_.hidden = !live;
    li.querySelector(".step-text").textContent = text;
    li.querySelector(".step-meta").textContent = meta;
    li.querySelector(".step-text").hidden = !text;
    li.querySelector(".step-meta").hidden = !meta;
  }
  announceLive(pod, now);
}

const IMAGE_FAILURES = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"]);
const START_FAILURES = new Set(["CreateContainerConfigError", "CreateContainerError", "RunContainerError"]);

// Steps 7 and 8 as they are now, when that differs from "recorded" or "waiting".
function liveSteps(pod, steps, v) {
  const out = {};
  if (pod.metadata.deletionTimestamp) return out;
  const containers = containerViews(pod);
  const failing = containers.find((c) => IMAGE_FAILURES.has(c.reason) || START_FAILURES.has(c.reason));
  const looping = containers.find((c) => c.reason === "CrashLoopBackOff");
  if (failing) {
    const what = IMAGE_FAILURES.has(failing.reason)
      ? fmt(gettext("The image %(image)s cannot be pulled (%(reason)s); the kubelet tries again, waiting longer each time."), { image: failing.image, reason: failing.reason })
      : fmt(gettext("The container %(name)s cannot start (%(reason)s)."), { name: failing.name, reason: failing.reason });
    // ErrImagePull and ImagePullBackOff take turns while the kubelet retries: one failure.
    const kind = IMAGE_FAILURES.has(failing.reason) ? "image" : failing.reason;
    out[7] = { state: "failed", text: failing.message ? `${what} ${failing.message}` : what, key: `7:${kind}` };
  } else if (looping) {
    const last = looping.last;
    out[7] = {
      state: "failed",
      text: fmt(gettext("The container %(name)s keeps exiting (CrashLoopBackOff): restarted %(n)s times, last exit code %(code)s. The kubelet waits longer before each new start."),
        { name: looping.name, n: looping.restarts, code: last && last.exitCode !== undefined ? last.exitCode : "?" }),
      key: "7:CrashLoopBackOff",
    };
  } else if (!steps.has(7) && v.key === "creating" && pod.spec && pod.spec.nodeName) {
    const pulling = pullInProgress(pod);
    out[7] = {
      state: "active",
      text: pulling
        ? fmt(gettext("In progress: the kubelet is pulling %(image)s (since %(time)s)."), { image: pulling.image, time: formatTime(pulling.time) })
        : gettext("In progress: the container runtime is creating the containers."),
      key: pulling ? "7:pulling" : "7:creating",
    };
  }
  const readinessFails = containers.some((c) => c.readinessProbe && c.state === "Running" && !c.ready);
  if (!out[7] && v.key === "running" && readinessFails) {
    out[8] = {
      state: steps.has(8) ? "failed" : "active",
      text: steps.has(8)
        ? gettext("Not Ready any more: the readiness probe fails, so the pod left its Services' endpoints.")
        : gettext("Waiting for the readiness probe to pass: the kubelet marks the pod Ready when it does."),
      key: steps.has(8) ? "8:unready" : "8:probing",
    };
  }
  return out;
}

// The kubelet's newest Pulling event for the pod with no Pulled or Failed after it.
function pullInProgress(pod) {
  const events = state.eventsFor(pod.metadata.uid, 30);
  let pulling = null;
  for (const ev of events) {
    if (ev.reason === "Pulling") pulling = ev;
    else if (ev.reason === "Pulled" || ev.reason === "Failed" || ev.reason === "BackOff") pulling = null;
  }
  if (!pulling) return null;
  const m = /"([^"]+)"/.exec(pulling.message || "");
  return { image: m ? m[1] : "", time: pulling.lastTimestamp || pulling.eventTime || pulling.firstTimestamp || "" };
}

function stepStateWord(st) {
  if (st === "active") return gettext("in progress");
  if (st === "failed") return gettext("failing");
  return stateWord(st);
}

// A failure (or its end) is said once, when it starts, not on every restart.
let liveSaid = { uid: null, keys: "" };
function announceLive(pod, now) {
  const uid = pod ? pod.metadata.uid : null;
  const failures = Object.entries(now).filter(([, live]) => live.state === "failed");
  const keys = failures.map(([, live]) => live.key).join(",");
  if (uid !== liveSaid.uid) {
    liveSaid = { uid, keys };
    return; // a newly shown pod: the step log shows it; nothing happened just now
  }
  if (keys === liveSaid.keys) return;
  liveSaid.keys = keys;
  for (const [n, live] of failures) {
    pendingAnnouncements.push(`${fmt(gettext("Step %(n)s"), { n })} (${stepStateWord(live.state)}): ${live.text}`);
  }
}

let waterfallShown = "";
function renderWaterfall(pod, steps) {
  const html = waterfallHtml(pod, steps);
  if (html === waterfallShown) return;
  waterfallShown = html;
  $("#waterfall-body").innerHTML = html;
}

function renderEvents(pod) {
  const list = $("#events-list");
  const events = pod ? state.eventsFor(pod.metadata.uid) : [];
  if (!events.length) {
    list.innerHTML = `<li class="muted">${esc(pod ? gettext("No events for this pod yet.") : gettext("No pod selected."))}</li>`;
    return;
  }
  list.innerHTML = events.map((ev) => {
    const source = (ev.source && ev.source.component) || ev.reportingComponent || "";
    const warn = ev.type === "Warning";
    return `<li class="event${warn ? " event-warning" : ""}"><span class="event-type">${warn ? "⚠ " : ""}${esc(ev.type || "Normal")}</span>`
      + ` <strong class="event-reason">${esc(ev.reason || "")}</strong> <span class="event-source">${esc(source)}</span>`
      + `<span class="event-message">${esc(ev.message || "")}</span></li>`;
  }).join("");
}

let podTableShown = "";
function renderPodTable(selectedId) {
  const body = $("#pods-body");
  const pods = state.sortedPods();
  $("#pod-count").textContent = String(pods.length);
  let html;
  if (!pods.length) {
    html = `<tr><td colspan="6" class="muted">${esc(gettext("No pods in the cluster yet."))}</td></tr>`;
  } else {
    html = pods.map((pod) => {
      const v = podView(pod);
      const uid = pod.metadata.uid;
      const own = owner(pod);
      const sel = uid === selectedId;
      return `<tr data-uid="${esc(uid)}" class="${sel ? "is-selected" : ""}">`
        + `<td><button type="button" class="linkish select-pod" data-uid="${esc(uid)}" data-focus-key="select:${esc(uid)}" aria-pressed="${sel}">`
        + `<span class="mono">${esc(pod.metadata.name)}</span></button>`
        + `<span class="owner">${esc(own ? `${own.kind} ${own.name}` : gettext("bare pod"))}</span></td>`
        + `<td>${esc(v.node || "—")}</td>`
        + `<td><span class="pill pill-${v.key}">${esc(v.word)}</span></td>`
        + `<td>${esc(v.readyText)}</td>`
        + `<td data-restarts="${v.restarts}">${esc(v.restartsText)}</td>`
        + `<td><button type="button" class="btn btn-small btn-danger delete-pod" data-name="${esc(pod.metadata.name)}" data-focus-key="delete:${esc(uid)}"`
        + ` aria-label="${esc(fmt(gettext("Delete pod %(name)s"), { name: pod.metadata.name }))}"${pod.metadata.deletionTimestamp ? " disabled" : ""}>${esc(gettext("Delete"))}</button></td>`
        + `</tr>`;
    }).join("");
  }
  if (podTableShown !== html) {
    body.innerHTML = html;
    podTableShown = html;
  }
}

// The delete form's suggestions: every pod's name.
function renderPodNames() {
  const names = $("#pod-names");
  const options = state.sortedPods().map((p) => `<option value="${esc(p.metadata.name)}"></option>`).join("");
  if (names.dataset.options !== options) {
    names.innerHTML = options;
    names.dataset.options = options;
  }
}

let speedPending = false; // the user's choice is on its way: do not undo it meanwhile

function renderSpeed() {
  if (!speedPending) {
    for (const input of $$("#speed-form input[name=speed]")) {
      input.checked = input.value === state.speed;
    }
  }
  // The speed the cluster reports, not what was clicked.
  $("#speed-form").dataset.speed = state.speed;
}

function announce(text) {
  const el = $("#announcer");
  el.textContent = "";
  // A fresh node, so screen readers read it even when the text repeats.
  requestAnimationFrame(() => {
    el.textContent = text;
  });
}

// --- the stream ------------------------------------------------------------------

let socket = null;
let retries = 0;
let reconnectTimer = null;
let pingTimer = null;
// The page asks the server for a sign of life every PING_MS; a socket that stays open
// while nothing at all arrives for SILENCE_MS (the network went away without closing it)
// is closed and opened again, and the header stops saying "Live".
const PING_MS = 4000;
const SILENCE_MS = 10000;
let lastHeard = 0;

function setConnection(kind, text) {
  const el = $("#connection");
  el.dataset.state = kind;
  $(".conn-text", el).textContent = text;
}

// Frames of changes come deflated (raw DEFLATE, a tenth of the bytes) where the browser
// can inflate them; the server sends the rest as text.
const INFLATE = typeof DecompressionStream === "function";
function inflate(buffer) {
  const stream = new Blob([buffer]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Response(stream).text();
}

// The page asks for a whole snapshot on its next connect (not the changes since its revision).
let wantSnapshot = false;
let lastResync = 0;
function resync() {
  wantSnapshot = true;
  const ws = socket;
  socket = null; // its close handler sees another socket (or none) and does nothing
  if (ws) ws.close();
  clearTimeout(reconnectTimer);
  // Once at once; again within a few seconds, after a pause (never a reconnecting storm).
  const now = Date.now();
  const delay = now - lastResync < 5000 ? 2000 : 0;
  lastResync = now;
  reconnectTimer = setTimeout(connect, delay);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams();
  if (state.ready && !wantSnapshot) query.set("since", state.revision);
  if (INFLATE) query.set("compress", "deflate");
  wantSnapshot = false;
  const qs = query.toString();
  const url = `${scheme}//${location.host}/ws/clusters/${encodeURIComponent(config.cluster)}/${qs ? `?${qs}` : ""}`;
  setConnection("connecting", retries ? gettext("Reconnecting…") : gettext("Connecting…"));
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  socket = ws;
  let inbox = Promise.resolve(); // messages are handled in the order they came, deflated or not
  ws.addEventListener("open", () => {
    retries = 0;
    lastHeard = Date.now();
    setConnection("live", gettext("Live"));
    clearInterval(pingTimer);
    pingTimer = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (Date.now() - lastHeard > SILENCE_MS) {
        // Let go of this socket at once: a close on a dead network can wait long for its
        // handshake. The close handler then sees another socket (or none) and does nothing.
        clearInterval(pingTimer);
        if (socket === ws) socket = null;
        ws.close();
        retries += 1;
        setConnection("down", gettext("No word from the server for 10 s; reconnecting…"));
        clearTimeout(reconnectTimer);
        reconnectTimer = setTimeout(connect, 500);
        return;
      }
      ws.send(JSON.stringify({ type: "ping" }));
    }, PING_MS);
  });
  ws.addEventListener("message", (event) => {
    lastHeard = Date.now();
    const data = event.data;
    inbox = inbox.then(async () => {
      let msg;
      try {
        msg = JSON.parse(typeof data === "string" ? data : await inflate(data));
      } catch (err) {
        return;
      }
      try {
        handle(msg);
      } catch (err) {
        console.error(err); // as an event listener's error would be: the next message is still handled
      }
    });
  });
  ws.addEventListener("close", (event) => {
    clearInterval(pingTimer);
    if (socket !== ws) return;
    socket = null;
    // The server will not open this cluster for us: trying again would not help.
    if (event.code === 4403 || event.code === 4404) {
      closedForGood(event.code);
      return;
    }
    retries += 1;
    const delay = Math.min(10000, 400 * 2 ** Math.min(retries, 5)) + Math.random() * 300;
    setConnection("down", fmt(gettext("Disconnected; trying again in %(s)s s…"), { s: Math.ceil(delay / 1000) }));
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
  });
}

function closedForGood(code) {
  const text = code === 4403
    ? gettext("You may not open this sandbox: it belongs to another browser or account. Sign in with the account that owns it.")
    : gettext("This sandbox was deleted. Its diagram no longer changes.");
  setConnection("down", code === 4403 ? gettext("Not allowed") : gettext("Sandbox deleted"));
  const status = $("#sandbox-status");
  if (status) {
    const home = $("#sandboxes").dataset.home || "/";
    status.dataset.kind = "error";
    status.innerHTML = `<p><span class="err-lead"><span aria-hidden="true">✕ </span>${esc(text)}</span> <a href="${esc(home)}">${esc(gettext("Go to your sandbox"))}</a></p>`;
    status.hidden = false; // a live region: read out
  } else {
    announce(text);
  }
}

function noteFresh(steps) {
  const uid = selectedUid();
  for (const step of steps) {
    if (step.pod_uid !== uid) continue;
    freshSteps.add(step.number);
    pendingAnnouncements.push(`${fmt(gettext("Step %(n)s"), { n: step.number })} (${stateWord(step.status)}): ${stepText(step)}`);
  }
}

const assembler = new SnapshotAssembler();

// ?at=<revision>: the page opens looking back at that revision (once, after the first snapshot).
let startAtDone = false;
function startAt() {
  if (startAtDone) return;
  startAtDone = true;
  const at = Number(new URLSearchParams(location.search).get("at"));
  if (Number.isInteger(at) && at > 0) timeline.goTo(at);
}

function handle(msg) {
  if (msg.type === "snapshot" || msg.type === "snapshot-part") {
    msg = assembler.take(msg);
    if (!msg) return;
  }
  if (msg.type === "snapshot") {
    state.applySnapshot(msg);
    clockPanel.refresh();
    startAt();
    suggestNames();
    scheduleRender();
  } else if (msg.type === "changes") {
    // What one transaction committed (or a stretch of the change log), in revision order:
    // applied together, drawn once.
    const fresh = [];
    try {
      for (const entry of msg.entries) fresh.push(...state.applyChange(entry));
    } catch (err) {
      if (!(err instanceof MissingBase)) throw err;
      resync(); // a patch to a version this page does not hold: start again from a snapshot
    }
    noteFresh(fresh);
    scheduleRender();
  } else if (msg.type === "cluster") {
    state.applyCluster(msg);
    if (state.ready) scheduleRender();
  } else if (msg.type === "clock") {
    clockPanel.fromStream(msg.clock);
    labPanel.refresh(state.revision, { force: true }); // a check may ask whether the clock is paused
    scheduleRender(); // the diagram crosses out a stopped component
  } else if (msg.type === "broadcast") {
    showBroadcast(msg);
  } else if (msg.type === "pace") {
    announce(fmt(gettext("The instructor opened the lab up to step %(n)s."), { n: Number(msg.opened_step) + 1 }));
    labPanel.refresh(state.revision, { force: true });
  } else if (msg.type === "request") {
    requestLog.add(msg);
    scheduleFeed();
  } else if (msg.type === "traffic") {
    // An Ingress's answers name it (a 404 from the default backend names no Service).
    const first = (msg.answers || [])[0];
    if (first && first.ingress) ingresses.take(msg.answers, "stream");
    else services.take(msg.answers, "stream");
  }
}

// A message the instructor of this learner's class sent to everyone (the live region says it).
let lastBroadcast = ""; // the newest message shown ("sent", ISO time): a replay shows nothing again
function showBroadcast(msg) {
  if (msg.sent) {
    if (msg.sent <= lastBroadcast) return;
    lastBroadcast = msg.sent;
  }
  const box = $("#broadcast");
  if (msg.kind === "ended") msg = { ...msg, text: gettext("The class has ended: your sandbox stays for a week, read-only.") };
  $(".broadcast-from", box).textContent = msg.from ? fmt(gettext("From %(name)s:"), { name: msg.from }) : gettext("From your instructor:");
  $(".broadcast-text", box).textContent = msg.text || "";
  box.hidden = false;
}
$("#broadcast-close").addEventListener("click", () => { $("#broadcast").hidden = true; });

// The learner's class: its name, a hand to raise, the instructor's last message.
function wireClass() {
  const cls = config.classroom;
  if (config.readOnly) for (const part of $$(".live-only")) part.inert = true;
  if (!cls || cls.role !== "learner") return;
  const bar = $("#class-bar");
  let raised = Boolean(cls.handRaised);
  const draw = () => {
    bar.innerHTML = `<p><strong>${esc(cls.title)}</strong> <span class="muted small">${esc(cls.name)}</span></p>`
      + (cls.readOnly ? "" : `<button type="button" class="btn btn-small" id="class-hand" aria-pressed="${raised}">${esc(raised ? gettext("Lower your hand") : gettext("Raise your hand"))}</button>`);
  };
  draw();
  bar.hidden = false;
  bar.addEventListener("click", async (event) => {
    if (!event.target.closest("#class-hand")) return;
    try {
      const response = await fetch(cls.handUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ raised: !raised }),
      });
      const answer = await response.json();
      if (response.ok) raised = Boolean(answer.raised);
      draw();
      $("#class-hand").focus();
      if (answer.message) announce(answer.message);
    } catch (err) {
      announce(String(err));
    }
  });
  const last = (cls.messages || [])[cls.messages.length - 1];
  if (last) showBroadcast({ kind: "message", text: last.text, from: last.from, sent: last.sent });
}
wireClass();

// --- the API requests feed ---------------------------------------------------------

let feedQueued = false;
let feedPaused = false;
let feedShownSeq = 0; // the newest request the list shows

function scheduleFeed() {
  if (feedQueued) return;
  feedQueued = true;
  requestAnimationFrame(() => {
    feedQueued = false;
    renderFeed();
  });
}

// Not a live region (it would be too chatty): a list to read at one's own pace, which
// stays still while paused and does not jump while scrolled down.
function renderFeed() {
  const button = $("#requests-pause");
  const fresh = requestLog.entries.filter((e) => e.id > feedShownSeq).length;
  if (feedPaused) {
    $(".pause-count", button).textContent = fresh ? fmt(ngettext("%(n)s new", "%(n)s new", fresh), { n: fresh }) : "";
    return;
  }
  $(".pause-count", button).textContent = "";
  const list = $("#requests-list");
  const scroller = $("#requests-scroll");
  const entries = requestLog.entries;
  if (!entries.length) return; // keep the "no requests yet" hint
  // Scrolled down to read: keep the row at the top of the view where it is.
  let anchor = null;
  if (scroller.scrollTop > 0) {
    const row = $$("li[data-id]", list).find((li) => li.offsetTop + li.offsetHeight > scroller.scrollTop);
    if (row) anchor = { id: row.dataset.id, offset: row.offsetTop - scroller.scrollTop };
  }
  list.innerHTML = entries.map((e) => requestRow(e, formatClock(e.time))).join("");
  if (anchor) {
    const again = $(`li[data-id="${anchor.id}"]`, list);
    if (again) scroller.scrollTop = again.offsetTop - anchor.offset;
  }
  feedShownSeq = entries[0].id;
  list.dataset.count = String(entries.length);
}

function formatClock(ms) {
  return new Date(ms).toLocaleTimeString(LANG === "ko" ? "ko-KR" : "en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function wireFeed() {
  const button = $("#requests-pause");
  button.addEventListener("click", () => {
    feedPaused = !feedPaused;
    button.setAttribute("aria-pressed", String(feedPaused));
    $(".pause-label", button).textContent = feedPaused ? gettext("Resume") : gettext("Pause");
    renderFeed();
  });
}

// --- copy buttons ------------------------------------------------------------------

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (err) {
      // Not allowed here: try the old way.
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "copy-buffer";
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch (err) {
    ok = false;
  }
  area.remove();
  return ok;
}

function wireCopy() {
  for (const button of $$("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const code = document.getElementById(button.dataset.copy);
      const text = code.textContent.trim();
      const label = $(".copy-label", button);
      const ok = await copyText(text);
      button.focus({ preventScroll: true }); // the old way's text area took it
      if (ok) {
        label.textContent = gettext("Copied");
        button.dataset.copied = "true";
        announce(fmt(gettext("Copied: %(text)s"), { text }));
      } else {
        // No clipboard for us: select the command so that Ctrl+C (⌘C) copies it.
        const range = document.createRange();
        range.selectNodeContents(code);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        label.textContent = gettext("Selected: press Ctrl+C");
        button.dataset.copied = "selected";
        announce(gettext("The command is selected: press Ctrl+C to copy it."));
      }
      clearTimeout(button.copyTimer);
      button.copyTimer = setTimeout(() => {
        label.textContent = gettext("Copy");
        delete button.dataset.copied;
      }, 2500);
    });
  }
}

// --- forms -----------------------------------------------------------------------

function suggestName(prefix) {
  let i = 1;
  while (state.podByName(`${prefix}-${i}`) || [...state.deployments.values()].some((d) => d.metadata.name === `${prefix}-${i}`)) i += 1;
  return `${prefix}-${i}`;
}

// Offer names nobody uses yet, once the cluster is known (only in untouched fields).
let suggested = false;
function suggestNames() {
  if (suggested) return;
  suggested = true;
  const podName = $("#pod-form").elements.name;
  if (podName.value === podName.defaultValue) podName.value = suggestName("web");
  const depName = $("#deploy-form").elements.name;
  if (depName.value === depName.defaultValue) depName.value = suggestName("app");
}

function wireForms() {
  const podForm = $("#pod-form");
  podForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(podForm);
    const f = podForm.elements;
    const name = f.name.value.trim();
    busy(podForm, true);
    try {
      const created = await api.createPod({
        name,
        image: f.image.value.trim(),
        cpu: f.cpu.value.trim(),
        memory: f.memory.value.trim(),
        probes: f.probes.checked,
      });
      followNewest();
      showResult(podForm, "ok", `<p>${esc(fmt(gettext("Pod %(name)s was accepted by the API server. Watch its eight steps."), { name: created.metadata.name }))}`
        + ` <a class="to-steps" href="#steps-panel">${esc(gettext("See its steps"))}</a></p>`);
      if (f.name.value.trim() === name) f.name.value = suggestName("web");
    } catch (err) {
      showError(podForm, err);
    } finally {
      busy(podForm, false);
    }
  });

  const depForm = $("#deploy-form");
  depForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(depForm);
    const f = depForm.elements;
    const replicas = parseInt(f.replicas.value, 10);
    const name = f.name.value.trim();
    busy(depForm, true);
    try {
      const created = await api.createDeployment({ name, image: f.image.value.trim(), replicas: Number.isNaN(replicas) ? 1 : replicas, probes: f.probes.checked });
      followNewest();
      showResult(depForm, "ok", `<p>${esc(fmt(ngettext(
        "Deployment %(name)s stored. The controller manager will create %(n)s pod through a ReplicaSet.",
        "Deployment %(name)s stored. The controller manager will create %(n)s pods through a ReplicaSet.",
        created.spec.replicas,
      ), { name: created.metadata.name, n: created.spec.replicas }))}</p>`);
      if (f.name.value.trim() === name) f.name.value = suggestName("app");
    } catch (err) {
      showError(depForm, err);
    } finally {
      busy(depForm, false);
    }
  });

  const delForm = $("#delete-form");
  delForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(delForm);
    await deletePod(delForm, delForm.elements.name.value.trim());
  });

  document.addEventListener("click", async (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    if (target.classList.contains("delete-pod")) {
      await deletePod(delForm, target.dataset.name);
    } else if (target.classList.contains("select-pod")) {
      pin(target.dataset.uid);
    }
  });
}

// kubectl expose deployment NAME --type=TYPE --port=PORT: a Service selecting the
// deployment's pods by the labels its selector names.
function wireExpose() {
  const form = $("#expose-form");
  const nodePortField = () => form.elements.nodePort.closest("label");
  const syncType = () => {
    const clusterIP = form.elements.type.value === "ClusterIP";
    nodePortField().hidden = clusterIP;
    $("#expose-nodeport-hint").hidden = clusterIP;
  };
  form.elements.type.addEventListener("change", syncType);
  syncType();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const f = form.elements;
    const key = f.deployment.value;
    const [namespace, name] = key.split("/");
    const dep = key ? state.find("deployments", namespace, name) : null;
    if (!dep) {
      showError(form, new ApiError(0, { message: gettext("Create a deployment first, then expose it.") }));
      return;
    }
    const selector = (dep.spec && dep.spec.selector && dep.spec.selector.matchLabels) || {};
    if (!Object.keys(selector).length) {
      showError(form, new ApiError(0, { message: gettext("This deployment's selector has no matchLabels, which a Service needs.") }));
      return;
    }
    const port = parseInt(f.port.value, 10);
    const nodePort = f.nodePort.value.trim() ? parseInt(f.nodePort.value, 10) : null;
    if (Number.isNaN(port)) {
      f.port.setAttribute("aria-invalid", "true");
      showError(form, new ApiError(0, { message: gettext("Type a port number, such as 80.") }));
      return;
    }
    busy(form, true);
    try {
      const created = await api.createService({ name, namespace, selector, type: f.type.value, port, targetPort: port, nodePort });
      const svcPort = ((created.spec && created.spec.ports) || [])[0] || {};
      const text = svcPort.nodePort
        ? fmt(gettext("Service %(name)s created: cluster IP %(ip)s, node port %(nodePort)s. The endpoint controller lists its ready pods; send it requests in Services."), { name, ip: created.spec.clusterIP, nodePort: svcPort.nodePort })
        : fmt(gettext("Service %(name)s created: cluster IP %(ip)s. The endpoint controller lists its ready pods; send it requests in Services."), { name, ip: created.spec.clusterIP });
      showResult(form, "ok", `<p>${esc(text)}</p>`);
      services.choose(`${namespace}/${name}`);
      scheduleRender();
    } catch (err) {
      showError(form, err);
    } finally {
      busy(form, false);
    }
  });
}

async function deletePod(form, name) {
  if (!name) {
    showError(form, new ApiError(0, { message: gettext("Type the name of a pod to delete.") }));
    form.elements.name.setAttribute("aria-invalid", "true");
    return;
  }
  busy(form, true);
  try {
    const result = await api.deletePod(name);
    const own = result && result.metadata ? owner(result) : null;
    let text = result && result.metadata && result.metadata.deletionTimestamp
      ? fmt(gettext("Pod %(name)s is Terminating: its kubelet stops the containers, then the pod is removed."), { name })
      : fmt(gettext("Pod %(name)s deleted."), { name });
    if (own) text += " " + fmt(gettext("Its %(kind)s notices a pod is missing and creates a new one (self-healing)."), { kind: own.kind });
    else text += " " + gettext("It is a bare pod, so nothing replaces it.");
    showResult(form, "ok", `<p>${esc(text)}</p>`);
    form.elements.name.value = "";
  } catch (err) {
    showError(form, err);
  } finally {
    busy(form, false);
  }
}

function wireSpeed() {
  const form = $("#speed-form");
  form.addEventListener("change", async (event) => {
    if (event.target.name !== "speed") return;
    const speed = event.target.value;
    const out = $(".form-status", form);
    speedPending = true;
    try {
      const answer = await api.setSpeed(speed);
      if (answer && answer.speed) state.speed = answer.speed;
      out.hidden = true;
      out.textContent = "";
    } catch (err) {
      showError(form, err);
    } finally {
      speedPending = false;
      scheduleRender();
    }
  });
  form.addEventListener("submit", (event) => event.preventDefault());
}

function wireDiagram() {
  const svg = $("#diagram-svg");
  const choose = (event) => {
    const pod = event.target.closest(".pod");
    if (!pod) return false;
    pin(pod.dataset.uid);
    return true;
  };
  svg.addEventListener("click", choose);
  svg.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      if (choose(event)) event.preventDefault();
    }
  });
  $("#follow").addEventListener("change", (event) => {
    if (event.target.checked) followNewest();
    else pin(selectedUid());
  });
  let lastSize = "";
  new ResizeObserver((entries) => {
    const { width, height } = entries[0].contentRect;
    const size = `${Math.floor(width)}x${Math.floor(height)}`;
    if (size !== lastSize) {
      lastSize = size;
      scheduleRender();
    }
  }).observe($("#diagram"));
}

function wireTabs() {
  tablist($$('#dock-create .tabs [role="tab"]'));
}

wireTabs();
wireForms();
wireExpose();
wireSpeed();
wireDiagram();
wireFeed();
wireCopy();
document.body.dataset.app = "ready";
connect();
