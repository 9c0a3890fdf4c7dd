// The live diagram: the master node's components, the worker nodes with their pods, and
// the eight numbered arrows of the selected pod. Drawn as one inline SVG, laid out for
// the width it is given, so its text is always at its real size.
import { gettext, ngettext, fmt } from "./i18n.js";

const PAD = 10;
const COMP_H = 60;
const CHIP_H = 50;
const CHIP_GAP = 10;
const NODE_COMP_H = 58;
export const STEP_NUMBERS = [1, 2, 3, 4, 5, 6, 7, 8];

// --- text ------------------------------------------------------------------------

const escapeMap = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => escapeMap[c]);
}

let measureCtx = null;
let fontFamily = "sans-serif";
function textWidth(text, size, weight = 400, mono = false) {
  if (!measureCtx) {
    measureCtx = document.createElement("canvas").getContext("2d");
    fontFamily = getComputedStyle(document.body).fontFamily || fontFamily;
  }
  const family = mono ? "ui-monospace, 'DejaVu Sans Mono', monospace" : fontFamily;
  measureCtx.font = `${weight} ${size}px ${family}`;
  return measureCtx.measureText(text).width;
}

// "shop-wbhzbwqt6h-ljsbf" -> "shop-wb…-ljsbf": the end of a generated name is what tells
// pods apart, so shorten in the middle.
function ellipsizeMiddle(text, max, size, weight = 400, mono = false) {
  if (textWidth(text, size, weight, mono) <= max) return text;
  let head = Math.ceil(text.length / 2);
  let tail = Math.floor(text.length / 2);
  while (head + tail > 2) {
    if (head >= tail) head -= 1;
    else tail -= 1;
    const candidate = `${text.slice(0, head)}…${text.slice(text.length - tail)}`;
    if (textWidth(candidate, size, weight, mono) <= max) return candidate;
  }
  return ellipsize(text, max, size, weight, mono);
}

function ellipsize(text, max, size, weight = 400, mono = false) {
  if (textWidth(text, size, weight, mono) <= max) return text;
  let cut = text;
  while (cut.length > 1 && textWidth(cut + "…", size, weight, mono) > max) cut = cut.slice(0, -1);
  return cut + "…";
}

// Split into at most `lines` lines that fit `max` pixels, breaking at spaces; the last
// line takes the rest, shortened with an ellipsis.
function wrap(text, max, size, weight = 400, lines = 2) {
  const words = text.split(" ");
  const out = [];
  let line = "";
  for (let i = 0; i < words.length; i++) {
    const next = line ? `${line} ${words[i]}` : words[i];
    if (!line || textWidth(next, size, weight) <= max) {
      line = next;
    } else if (out.length + 1 >= lines) {
      line = [line, ...words.slice(i)].join(" ");
      break;
    } else {
      out.push(line);
      line = words[i];
    }
  }
  out.push(line);
  return out.map((l) => ellipsize(l, max, size, weight));
}

// --- geometry --------------------------------------------------------------------

function center(r) {
  return { x: r.x + r.w / 2, y: r.y + r.h / 2 };
}

// Where the line from r's centre toward point p leaves the rectangle r.
function edgeToward(r, p) {
  const c = center(r);
  const dx = p.x - c.x;
  const dy = p.y - c.y;
  if (dx === 0 && dy === 0) return c;
  const sx = dx !== 0 ? r.w / 2 / Math.abs(dx) : Infinity;
  const sy = dy !== 0 ? r.h / 2 / Math.abs(dy) : Infinity;
  const s = Math.min(sx, sy);
  return { x: c.x + dx * s, y: c.y + dy * s };
}

function lineBetween(a, b, gap = 4) {
  const p = edgeToward(a, center(b));
  const q = edgeToward(b, center(a));
  const len = Math.hypot(q.x - p.x, q.y - p.y) || 1;
  const ux = (q.x - p.x) / len;
  const uy = (q.y - p.y) / len;
  return [
    { x: p.x + ux * gap, y: p.y + uy * gap },
    { x: q.x - ux * gap, y: q.y - uy * gap },
  ];
}

function midpoint(points) {
  // The middle of a polyline, by length.
  let total = 0;
  const segs = [];
  for (let i = 1; i < points.length; i++) {
    const l = Math.hypot(points[i].x - points[i - 1].x, points[i].y - points[i - 1].y);
    segs.push(l);
    total += l;
  }
  let half = total / 2;
  for (let i = 0; i < segs.length; i++) {
    if (half <= segs[i]) {
      const t = segs[i] ? half / segs[i] : 0;
      return {
        x: points[i].x + (points[i + 1].x - points[i].x) * t,
        y: points[i].y + (points[i + 1].y - points[i].y) * t,
      };
    }
    half -= segs[i];
  }
  return points[points.length - 1];
}

// --- labels ----------------------------------------------------------------------

function componentLabels() {
  return {
    client: { title: "kubectl", sub: gettext("client (can run anywhere)") },
    "api-server": { title: gettext("API server"), sub: gettext("the hub; only it talks to etcd") },
    etcd: { title: "etcd", sub: gettext("cluster state store") },
    "controller-manager": { title: gettext("controller manager"), sub: gettext("ReplicaSet, Deployment controllers") },
    scheduler: { title: gettext("scheduler"), sub: gettext("picks a node, writes the binding") },
    kubelet: { title: "kubelet", sub: gettext("node agent") },
    "container-runtime": { title: gettext("container runtime"), sub: "containerd (CRI)" },
  };
}

function stepRoutes() {
  return {
    1: gettext("kubectl → API server"),
    2: gettext("API server → etcd"),
    3: gettext("controller manager ↔ API server"),
    4: gettext("scheduler → API server (binding)"),
    5: gettext("API server → kubelet"),
    6: gettext("kubelet → container runtime"),
    7: gettext("container runtime → pod"),
    8: gettext("pod ready"),
  };
}

export function stateWord(state) {
  if (state === "done") return gettext("done");
  if (state === "not-needed") return gettext("not needed");
  return gettext("waiting");
}

function podKeyWord(key) {
  return {
    pending: gettext("waiting for a node or to start"),
    creating: gettext("containers being created"),
    running: gettext("running, not ready yet"),
    ready: gettext("running and ready"),
    terminating: gettext("shutting down"),
    succeeded: gettext("finished"),
    failed: gettext("failed"),
    unknown: gettext("state unknown"),
  }[key] || "";
}

// One line on what is wrong with a node, or "" when nothing is.
function nodeNote(view) {
  const bits = [];
  if (view.stopped) bits.push(view.ready ? gettext("machine stopped; not noticed yet") : gettext("machine stopped · no heartbeats"));
  else if (!view.ready) bits.push(view.message || gettext("not ready"));
  if (view.unschedulable && !bits.length) bits.push(gettext("cordoned: no new pods"));
  return bits.join(" · ");
}

// --- drawing pieces --------------------------------------------------------------

function component(r, id, label, { active = false, sub = null, dashed = false, title: ownTitle = null, extra = "" } = {}) {
  const title = ownTitle || label.title;
  const subText = sub !== null ? sub : label.sub;
  const inner = r.w - 14;
  const room = Math.max(1, Math.floor((r.h - 12) / 15)); // lines that fit
  const titleLines = wrap(title, inner, 13, 650, Math.min(2, room));
  const subLines = subText && room > titleLines.length ? wrap(subText, inner, 11, 400, room - titleLines.length) : [];
  const heights = [...titleLines.map(() => 16), ...subLines.map(() => 14)];
  const total = heights.reduce((a, b) => a + b, 0);
  let y = r.y + (r.h - total) / 2 + 12;
  const lines = [];
  for (const l of titleLines) {
    lines.push(`<text class="comp-title" x="${r.x + r.w / 2}" y="${y}">${esc(l)}</text>`);
    y += 16;
  }
  for (const l of subLines) {
    lines.push(`<text class="comp-sub" x="${r.x + r.w / 2}" y="${y - 1}">${esc(l)}</text>`);
    y += 14;
  }
  const cls = `comp${active ? " comp-active" : ""}${dashed ? " comp-dashed" : ""}`;
  return `<g class="${cls}" data-component="${esc(id)}"${extra} role="img" aria-label="${esc(title + (subText ? ": " + subText : ""))}">`
    + `<rect x="${r.x}" y="${r.y}" width="${r.w}" height="${r.h}" rx="9"/>${lines.join("")}</g>`;
}

function podIcon(key, x, y) {
  // A 16x16 glyph at (x, y) whose shape, not colour, tells the state.
  const cx = x + 8;
  const cy = y + 8;
  switch (key) {
    case "pending": // hourglass
      return `<path class="icon-line" d="M${x + 3} ${y + 1}h10M${x + 3} ${y + 15}h10M${x + 4} ${y + 1}l8 14M${x + 12} ${y + 1}l-8 14"/>`;
    case "creating": // half-filled circle
      return `<circle class="icon-line" cx="${cx}" cy="${cy}" r="6.5"/><path class="icon-fill" d="M${cx - 6.5} ${cy}a6.5 6.5 0 0 0 13 0z"/>`;
    case "running": // filled circle
      return `<circle class="icon-fill" cx="${cx}" cy="${cy}" r="6.5"/>`;
    case "ready": // circle with a check
      return `<circle class="icon-fill" cx="${cx}" cy="${cy}" r="7.5"/><path class="icon-knock" d="M${cx - 3.6} ${cy + 0.2}l2.6 2.6 4.8-5"/>`;
    case "terminating": // circle with a cross
      return `<circle class="icon-line" cx="${cx}" cy="${cy}" r="6.5"/><path class="icon-line" d="M${cx - 3} ${cy - 3}l6 6M${cx + 3} ${cy - 3}l-6 6"/>`;
    case "succeeded": // square with a check
      return `<rect class="icon-line" x="${x + 1.5}" y="${y + 1.5}" width="13" height="13" rx="2"/><path class="icon-line" d="M${cx - 3.5} ${cy}l2.5 2.5 4.5-5"/>`;
    case "failed": // triangle with !
      return `<path class="icon-fill" d="M${cx} ${y}L${x + 16} ${y + 15}H${x}z"/><path class="icon-knock" d="M${cx} ${y + 5}v5M${cx} ${y + 12}v0.8"/>`;
    default: // question mark in a circle
      return `<circle class="icon-line" cx="${cx}" cy="${cy}" r="6.5"/><text class="icon-text" x="${cx}" y="${cy + 4}">?</text>`;
  }
}

function podChip(pod, r) {
  const v = pod.view;
  const name = ellipsizeMiddle(pod.name, r.w - 36, 12, 650, true);
  const restarts = v.restarts ? ` · ↻${v.restarts}` : "";
  const status = ellipsize(`${v.word} · ${v.evicted ? gettext("evicted") : v.readyText}${restarts}`, r.w - 34, 11.5);
  let label = fmt(gettext("Pod %(name)s: %(status)s, %(ready)s containers ready (%(meaning)s)"), {
    name: pod.name,
    status: v.word,
    ready: v.readyText,
    meaning: podKeyWord(v.key),
  }) + (v.node ? " " + fmt(gettext("on %(node)s"), { node: v.node }) : "") + (v.reason ? `. ${v.reason}` : "");
  if (v.restarts) label += ". " + fmt(ngettext("Restarted %(n)s time", "Restarted %(n)s times", v.restarts), { n: v.restarts });
  let hit = "";
  if (pod.hits) {
    // This pod answered requests to a Service just now: say so in words on the chip.
    label += ". " + (pod.hits.ingress
      ? fmt(gettext("Answered %(n)s of the last %(total)s requests through Ingress %(ingress)s (Service %(service)s)"), { n: pod.hits.count, total: pod.hits.total, ingress: pod.hits.ingress, service: pod.hits.service })
      : fmt(gettext("Answered %(n)s of the last %(total)s requests to Service %(service)s"), { n: pod.hits.count, total: pod.hits.total, service: pod.hits.service }));
    const tag = fmt(gettext("answered ×%(n)s"), { n: pod.hits.count });
    const tw = Math.min(r.w - 20, textWidth(tag, 10.5, 700) + 14);
    const tx = r.x + r.w - tw - 6;
    const flash = pod.hits.elapsed !== null && pod.hits.elapsed !== undefined
      ? `<rect class="pod-hit-flash" x="${r.x - 2}" y="${r.y - 2}" width="${r.w + 4}" height="${r.h + 4}" rx="10" style="animation-delay:${-Math.round(pod.hits.elapsed)}ms"/>`
      : "";
    hit = `${flash}<g class="pod-hit" aria-hidden="true"><rect x="${tx}" y="${r.y - 8}" width="${tw}" height="16" rx="8"/>`
      + `<text x="${tx + tw / 2}" y="${r.y + 3.8}">${esc(ellipsize(tag, tw - 8, 10.5, 700))}</text></g>`;
  }
  const ring = pod.selected
    ? `<rect class="pod-selected-ring" x="${r.x - 3.5}" y="${r.y - 3.5}" width="${r.w + 7}" height="${r.h + 7}" rx="11"/>`
    : "";
  return `<g class="pod pod-${v.key}${pod.selected ? " is-selected" : ""}${pod.fresh ? " is-fresh" : ""}${pod.hits ? " is-hit" : ""}" data-uid="${esc(pod.uid)}" data-pod-name="${esc(pod.name)}"`
    + ` data-phase="${esc(v.word)}" data-ready="${v.ready}" data-restarts="${v.restarts || 0}"${pod.hits ? ` data-answered="${pod.hits.count}"` : ""} data-focus-key="pod:${esc(pod.uid)}"`
    + ` role="button" tabindex="0" aria-pressed="${pod.selected}" aria-label="${esc(label)}">`
    + `<title>${esc(label)}</title>${ring}`
    + `<rect class="pod-focus" x="${r.x - 6}" y="${r.y - 6}" width="${r.w + 12}" height="${r.h + 12}" rx="13"/>`
    + `<rect class="pod-box" x="${r.x}" y="${r.y}" width="${r.w}" height="${r.h}" rx="8"/>`
    + `<g class="pod-icon">${podIcon(v.key, r.x + 9, r.y + 9)}</g>`
    + `<text class="pod-name" x="${r.x + 30}" y="${r.y + 21}">${esc(name)}</text>`
    + `<text class="pod-status" x="${r.x + 30}" y="${r.y + 39}">${esc(status)}</text>`
    + `${hit}</g>`;
}

function arrow(n, points, state, { both = false, current = false, fresh = false, note = "", noteLeft = false, title = "", badgeAt = null, asking = null } = {}) {
  const d = points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(" ");
  const m = badgeAt || midpoint(points);
  const marker = `url(#ah-${state === "done" ? (current ? "current" : "done") : state})`;
  const markers = `marker-end="${marker}"${both ? ` marker-start="${marker}"` : ""}`;
  const lit = asking !== null && asking !== undefined;
  const classes = `arrow arrow-${state}${current ? " is-current" : ""}${fresh ? " is-fresh" : ""}${lit ? " is-asking" : ""}`;
  const aria = `${fmt(gettext("Step %(n)s"), { n })}: ${title} (${stateWord(state)})`;
  let noteSvg = "";
  if (note) {
    const nx = noteLeft ? m.x - 16 : m.x + 16;
    const room = noteLeft ? nx - 4 : Infinity;
    if (textWidth(note, 11.5, 600) > room) note = note.split(":")[0];
    noteSvg = `<text class="arrow-note${noteLeft ? " note-left" : ""}" x="${nx.toFixed(1)}" y="${(m.y + 4).toFixed(1)}">${esc(note)}</text>`;
  }
  const badgeMark = state === "not-needed"
    ? `<path class="badge-slash" d="M${(m.x - 7).toFixed(1)} ${(m.y + 7).toFixed(1)}L${(m.x + 7).toFixed(1)} ${(m.y - 7).toFixed(1)}"/>`
    : "";
  // A request on its way: a pulse along the arrow, started as far in as the flash is
  // (the diagram may be redrawn in the middle of it).
  const ping = lit
    ? `<path class="arrow-ping" d="${d}" pathLength="100" style="animation-delay:${-Math.round(asking)}ms"/>`
    : "";
  return `<g class="${classes}" data-step="${n}" data-state="${state}"${lit ? ' data-asking="true"' : ""} role="img" aria-label="${esc(aria)}">`
    + `<title>${esc(aria)}</title>`
    + `<path class="arrow-halo" d="${d}"/>${ping}`
    + `<path class="arrow-line" d="${d}" pathLength="100" ${markers}/>`
    + (current ? `<circle class="badge-ring" cx="${m.x.toFixed(1)}" cy="${m.y.toFixed(1)}" r="15"/>` : "")
    + `<circle class="badge" cx="${m.x.toFixed(1)}" cy="${m.y.toFixed(1)}" r="11"/>`
    + `<text class="badge-text" x="${m.x.toFixed(1)}" y="${(m.y + 4.5).toFixed(1)}">${n}</text>${badgeMark}${noteSvg}</g>`;
}

function defs() {
  const marker = (id) => `<marker id="ah-${id}" class="ah ah-${id}" viewBox="0 0 10 10" refX="8.5" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z"/></marker>`;
  // Diagonal hatching for a node that is not Ready: a shape, not only a colour.
  const hatch = `<pattern id="hatch-notready" patternUnits="userSpaceOnUse" width="9" height="9" patternTransform="rotate(45)">`
    + `<rect class="hatch-bg" width="9" height="9"/><path class="hatch-line" d="M0 0V9"/></pattern>`;
  return `<defs>${["pending", "done", "current", "not-needed"].map(marker).join("")}${hatch}</defs>`;
}

// --- layout ----------------------------------------------------------------------

function chipLayout(count, x, y, w, minChip) {
  const cols = Math.max(1, Math.floor((w + CHIP_GAP) / (minChip + CHIP_GAP)));
  const chipW = Math.min(Math.max(minChip, 200), (w - (cols - 1) * CHIP_GAP) / cols);
  const rects = [];
  for (let i = 0; i < count; i++) {
    const row = Math.floor(i / cols);
    const col = i % cols;
    rects.push({ x: x + col * (chipW + CHIP_GAP), y: y + row * (CHIP_H + CHIP_GAP), w: chipW, h: CHIP_H });
  }
  const rows = Math.ceil(count / cols);
  return { rects, height: rows ? rows * CHIP_H + (rows - 1) * CHIP_GAP : 0, cols };
}

/**
 * model: {
 *   width, revision, measureOnly (lay out and return the size, drawing nothing),
 *   nodes: [{name, ready, view (k8s.nodeView), pods: [pod], cpu: {used, cap}, memory: {used, cap}}],
 *   unscheduled: [pod],
 *   client: null | {name, what}: who asked the API server last, and what,
 *   asking: null | ms into the flash of arrow 1 (a request just reached the API server),
 *   selected: null | {uid, name, node, states: {1..8: "pending"|"done"|"not-needed"}, current, fresh: Set, actor},
 * }
 * pod: {uid, name, view, selected, fresh, hits: null | {count, total, service, ingress?, elapsed, time}}
 */
export function renderDiagram(svg, model) {
  const W = Math.max(300, Math.floor(model.width));
  const wide = W >= 700;
  const labels = componentLabels();
  const routes = stepRoutes();
  const sel = model.selected;
  const states = sel ? sel.states : {};
  const stateOf = (n) => states[n] || "pending";
  const currentStep = sel ? sel.current : 0;
  const activeComps = new Set();
  const stepComps = { 1: ["client", "api-server"], 2: ["api-server", "etcd"], 3: ["controller-manager", "api-server"], 4: ["scheduler", "api-server"], 5: ["api-server", "kubelet"], 6: ["kubelet", "container-runtime"], 7: ["container-runtime"], 8: ["kubelet"] };
  if (currentStep) for (const c of stepComps[currentStep]) activeComps.add(c);

  const parts = [];
  const over = [];

  // Control plane.
  const cp = { x: PAD, y: PAD, w: W - 2 * PAD };
  const innerX = cp.x + 14;
  const innerW = cp.w - 28;
  // Centres as fractions of the inner width: kubectl, API server and etcd on the first
  // row; the controller manager and the scheduler below, either side of the API server,
  // leaving the middle free for arrow 5 on its way down to the nodes.
  const place = (fx, fw, yy) => {
    const w = Math.min(wide ? 230 : 170, innerW * fw);
    return { x: innerX + innerW * fx - w / 2, y: yy, w, h: COMP_H };
  };
  const row1 = cp.y + 40;
  const row2 = row1 + COMP_H + 48;
  const row3 = row2 + COMP_H + 40;
  // Narrow: a diamond, kubectl and etcd above the API server, the controller manager
  // and the scheduler below it, so every arrow has room for its number.
  const pos = wide
    ? {
      client: place(0.11, 0.22, row1),
      "api-server": place(0.5, 0.24, row1),
      etcd: place(0.89, 0.22, row1),
      "controller-manager": place(0.25, 0.27, row2),
      scheduler: place(0.75, 0.27, row2),
    }
    : {
      client: place(0.2, 0.38, row1),
      "api-server": place(0.5, 0.42, row2),
      etcd: place(0.8, 0.38, row1),
      "controller-manager": place(0.2, 0.38, row3),
      scheduler: place(0.8, 0.38, row3),
    };
  const lowest = pos.scheduler.y + COMP_H;
  // Pods with no node sit at the right, under etcd: stored, but not running anywhere.
  const trayX = wide ? pos.etcd.x : pos.scheduler.x;
  const trayW = wide ? pos.etcd.w : pos.scheduler.w;
  const trayTop = lowest + 14;
  let trayBottom = lowest;
  let trayRects = [];
  if (model.unscheduled.length) {
    const lay = chipLayout(model.unscheduled.length, trayX, trayTop + 22, trayW, 90);
    trayRects = lay.rects;
    trayBottom = Math.max(trayBottom, trayTop + 22 + lay.height);
  }
  cp.h = trayBottom + 16 - cp.y;

  parts.push(`<g class="plane" role="group" aria-label="${esc(gettext("Master node (control plane)"))}">`
    + `<rect class="plane-box" x="${cp.x}" y="${cp.y}" width="${cp.w}" height="${cp.h}" rx="14"/>`
    + `<text class="plane-title" x="${cp.x + 14}" y="${cp.y + 24}">${esc(ellipsize(gettext("Master node · control plane"), cp.w - 28, 14, 700))}</text>`);
  // The client box names whoever asked the API server last (kubectl, the Python client,
  // this page); before any request, the selected pod's creator.
  const asking = model.asking !== null && model.asking !== undefined;
  const kubectlSub = model.client ? model.client.what : sel && sel.actor ? sel.actor : null;
  parts.push(component(pos.client, "client", labels.client, {
    active: activeComps.has("client") || asking,
    sub: kubectlSub,
    dashed: true,
    title: model.client ? model.client.name : null,
    extra: asking ? ' data-asking="true"' : "",
  }));
  parts.push(component(pos["api-server"], "api-server", labels["api-server"], { active: activeComps.has("api-server") }));
  parts.push(component(pos.etcd, "etcd", labels.etcd, { active: activeComps.has("etcd"), sub: fmt(gettext("revision %(rev)s"), { rev: model.revision }) }));
  // A component a teacher stopped is drawn crossed out, and says so in words.
  const stopped = new Set(model.stopped || []);
  const stoppedSub = gettext("stopped: nothing it does happens");
  const stoppedMark = (id) => (stopped.has(id) ? { dashed: true, sub: stoppedSub, extra: ' data-stopped="true"' } : {});
  parts.push(component(pos["controller-manager"], "controller-manager", labels["controller-manager"], { active: activeComps.has("controller-manager"), ...stoppedMark("controller-manager") }));
  parts.push(component(pos.scheduler, "scheduler", labels.scheduler, { active: activeComps.has("scheduler"), ...stoppedMark("scheduler") }));
  if (model.unscheduled.length) {
    // Right-aligned with the chips, free to run left over the empty space.
    parts.push(`<text class="tray-title" x="${trayX + trayW}" y="${trayTop + 14}">${esc(ellipsize(gettext("No node yet (only in etcd)"), trayW * 1.8, 11.5, 600))}</text>`);
    model.unscheduled.forEach((pod, i) => parts.push(podChip(pod, trayRects[i])));
  }
  parts.push(`</g>`);

  // Worker nodes.
  const workerTop = cp.y + cp.h + 58;
  const nodeCols = Math.max(1, Math.min(model.nodes.length, Math.floor((W - 2 * PAD + 14) / (236 + 14))));
  const nodeRows = Math.ceil(model.nodes.length / nodeCols);
  // With more than one row of nodes, arrow 5 runs down a gutter on the right and along
  // the gap above its node's row, so it never crosses another node.
  const gutter = nodeRows > 1 ? 18 : 0;
  const nodeGap = 14;
  const rowGap = nodeRows > 1 ? 26 : nodeGap;
  const nodeW = (W - 2 * PAD - gutter - (nodeCols - 1) * nodeGap) / nodeCols;
  const nodeLayouts = model.nodes.map((node) => {
    // Chips wide enough for the longest name when there is room; names are shortened
    // in the middle otherwise.
    const longest = Math.max(0, ...node.pods.map((p) => textWidth(p.name, 12, 650, true)));
    const lay = chipLayout(node.pods.length, 0, 0, nodeW - 24, Math.min(230, Math.max(128, longest + 46)));
    return { node, lay };
  });
  let y = workerTop;
  const nodePos = {};
  // Right-aligned, away from where arrow 5 comes down into a node's kubelet.
  parts.push(`<text class="workers-title" x="${W - PAD - gutter - 2}" y="${workerTop - 10}">${esc(gettext("Worker nodes"))}</text>`);
  const MAX_TAINT_LINES = 3;
  const taintLines = (view) => Math.min(view.taints.length, MAX_TAINT_LINES);
  for (let start = 0; start < nodeLayouts.length; start += nodeCols) {
    const rowItems = nodeLayouts.slice(start, start + nodeCols);
    const podsH = Math.max(CHIP_H, ...rowItems.map((it) => it.lay.height));
    // Room for a line saying what is wrong with a node, and for its taints, when a node
    // of the row needs it (nodes of a row keep one height).
    const headH = 34 + (rowItems.some((it) => nodeNote(it.node.view)) ? 17 : 0);
    const footH = 34 + 15 * Math.max(0, ...rowItems.map((it) => taintLines(it.node.view)));
    const nodeH = headH + NODE_COMP_H + 44 + podsH + footH;
    rowItems.forEach((it, i) => {
      const nx = PAD + i * (nodeW + nodeGap);
      const box = { x: nx, y, w: nodeW, h: nodeH };
      const node = it.node;
      const view = node.view;
      const isSelNode = sel && sel.node === node.name;
      const compW = (nodeW - 24 - 40) / 2;
      const kubelet = { x: nx + 12, y: y + headH, w: compW, h: NODE_COMP_H };
      const runtime = { x: nx + 12 + compW + 40, y: y + headH, w: compW, h: NODE_COMP_H };
      const podsTop = y + headH + NODE_COMP_H + 44;
      nodePos[node.name] = { box, kubelet, runtime, pods: {} };
      const readyWord = view.word === "Ready" ? gettext("Ready") : view.word === "NotReady" ? gettext("NotReady") : gettext("Unknown");
      const stateText = (view.ready ? "✓ " : "✕ ") + readyWord + (view.unschedulable ? ` · ${gettext("SchedulingDisabled")}` : "");
      const usage = fmt(gettext("requests: CPU %(cpu)s/%(cpucap)s · memory %(mem)s/%(memcap)s"), {
        cpu: node.cpu.used, cpucap: node.cpu.cap, mem: node.memory.used, memcap: node.memory.cap,
      });
      const note = nodeNote(view);
      let aria = fmt(gettext("Worker node %(name)s, %(state)s, %(count)s pods"), { name: node.name, state: readyWord, count: node.pods.length });
      if (note) aria += `. ${note}`;
      if (view.taints.length) aria += `. ${fmt(gettext("Taints: %(taints)s"), { taints: view.taints.join(", ") })}`;
      let taintSvg = "";
      const shown = view.taints.length > MAX_TAINT_LINES ? view.taints.slice(0, MAX_TAINT_LINES - 1) : view.taints;
      // The well-known prefix goes (it is in the label and the nodes table): "unreachable:NoExecute".
      const lines = shown.map((t) => `${gettext("taint")} ${t.replace(/^node\.kubernetes\.io\//, "")}`);
      if (view.taints.length > MAX_TAINT_LINES) lines.push(fmt(gettext("+%(n)s more taints"), { n: view.taints.length - shown.length }));
      lines.forEach((line, k) => {
        taintSvg += `<text class="node-taint" x="${nx + 12}" y="${y + nodeH - 30 - (lines.length - 1 - k) * 15}">${esc(ellipsizeMiddle(line, nodeW - 24, 11, 600, true))}</text>`;
      });
      parts.push(`<g class="node${isSelNode ? " is-selected-node" : ""}${view.ready ? "" : " node-notready"}${view.stopped ? " node-stopped" : ""}" data-node="${esc(node.name)}" data-status="${esc(view.kubectlWord)}"${view.stopped ? ' data-stopped="true"' : ""} role="group" aria-label="${esc(aria)}">`
        + `<rect class="node-box" x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" rx="12"/>`
        + `<text class="node-title" x="${nx + 12}" y="${y + 22}">${esc(node.name)}</text>`
        + `<text class="node-state" x="${nx + nodeW - 12}" y="${y + 22}">${esc(ellipsize(stateText, nodeW - 24 - textWidth(node.name, 14, 700, true) - 10, 12, 600))}</text>`
        + (note ? `<text class="node-note" x="${nx + 12}" y="${y + 40}">${esc(ellipsize(note, nodeW - 24, 11.5, 600))}</text>` : "")
        + taintSvg
        + `<text class="node-usage" x="${nx + 12}" y="${y + nodeH - 12}">${esc(ellipsize(usage, nodeW - 24, 11))}</text>`);
      parts.push(component(kubelet, "kubelet", labels.kubelet, {
        active: isSelNode && activeComps.has("kubelet"),
        sub: view.stopped ? gettext("stopped with its machine") : null,
        dashed: view.stopped,
      }));
      parts.push(component(runtime, "container-runtime", labels["container-runtime"], { active: isSelNode && activeComps.has("container-runtime") }));
      if (!node.pods.length) {
        parts.push(`<text class="node-empty" x="${nx + nodeW / 2}" y="${podsTop + CHIP_H / 2 + 4}">${esc(gettext("no pods"))}</text>`);
      }
      node.pods.forEach((pod, k) => {
        const r = it.lay.rects[k];
        const rect = { x: nx + 12 + r.x, y: podsTop + r.y, w: r.w, h: r.h };
        nodePos[node.name].pods[pod.uid] = rect;
        parts.push(podChip(pod, rect));
      });
      parts.push(`</g>`);
    });
    y += nodeH + rowGap;
  }
  const H = Math.ceil(y - rowGap + PAD);

  // The eight arrows of the selected pod, drawn over everything else.
  const opts = (n, extra = {}) => ({
    current: currentStep === n,
    fresh: Boolean(sel && sel.fresh && sel.fresh.has(n)),
    title: routes[n],
    ...extra,
  });
  const api = pos["api-server"];
  over.push(arrow(1, lineBetween(pos.client, api, 3), stateOf(1), opts(1, { asking: model.asking })));
  over.push(arrow(2, lineBetween(api, pos.etcd, 3), stateOf(2), opts(2)));
  over.push(arrow(3, lineBetween(pos["controller-manager"], api, 3), stateOf(3), opts(3, {
    both: true,
    note: stateOf(3) === "not-needed" ? gettext("not needed: bare pod") : "",
    noteLeft: true,
  })));
  over.push(arrow(4, lineBetween(pos.scheduler, api, 3), stateOf(4), opts(4)));
  const target = sel && sel.node ? nodePos[sel.node] : null;
  if (target) {
    const ax = api.x + api.w / 2;
    // Into the kubelet's top, right of the node's name and of the kubelet's own title.
    const kx = target.kubelet.x + target.kubelet.w * 0.86;
    const busY = cp.y + cp.h + 30;
    const pts = [{ x: ax, y: api.y + api.h + 3 }, { x: ax, y: busY }];
    if (target.box.y <= workerTop + 1) {
      if (Math.abs(kx - ax) > 1) pts.push({ x: kx, y: busY });
    } else {
      const gx = W - PAD - gutter / 2;
      const laneY = target.box.y - rowGap / 2;
      pts.push({ x: gx, y: busY }, { x: gx, y: laneY }, { x: kx, y: laneY });
    }
    pts.push({ x: kx, y: target.kubelet.y - 3 });
    // Badge where the line passes between the controller manager and the scheduler.
    const between = pos.scheduler;
    over.push(arrow(5, pts, stateOf(5), opts(5, { badgeAt: { x: ax, y: between.y + between.h / 2 } })));
    over.push(arrow(6, lineBetween(target.kubelet, target.runtime, 3), stateOf(6), opts(6)));
    const podRect = target.pods[sel.uid];
    if (podRect) {
      const rt = target.runtime;
      const kb = target.kubelet;
      const p7 = [{ x: rt.x + rt.w / 2, y: rt.y + rt.h + 3 }, { x: podRect.x + podRect.w * 0.66, y: podRect.y - 4 }];
      const p8 = [{ x: kb.x + kb.w / 2, y: kb.y + kb.h + 3 }, { x: podRect.x + podRect.w * 0.33, y: podRect.y - 4 }];
      // Badges in the gap under the kubelet and the runtime, clear of the pods.
      const at = (pts, yy) => {
        const [a, b] = pts;
        const t = b.y === a.y ? 0.5 : Math.min(1, Math.max(0, (yy - a.y) / (b.y - a.y)));
        return { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t };
      };
      const badgeY = kb.y + kb.h + 22;
      over.push(arrow(7, p7, stateOf(7), opts(7, { badgeAt: at(p7, badgeY) })));
      over.push(arrow(8, p8, stateOf(8), opts(8, { badgeAt: at(p8, badgeY) })));
    }
  }

  const title = gettext("Diagram of the cluster: the master node's components, the worker nodes and their pods, and the eight steps of the selected pod");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("width", String(W));
  svg.setAttribute("height", String(H));
  // A message that changed nothing the diagram shows (a Lease renewal, an Event) leaves
  // the drawing — and the keyboard focus on a pod in it — as it is.
  if (model.measureOnly) return { width: W, height: H, wide };
  const markup = `<title id="diagram-svg-title">${esc(title)}</title>${defs()}${parts.join("")}<g class="arrows">${over.join("")}</g>`;
  if (svg.podflowMarkup !== markup) {
    svg.innerHTML = markup;
    svg.podflowMarkup = markup;
  }
  return { width: W, height: H, wide };
}

