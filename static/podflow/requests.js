// Requests that reach the API server: each one is step 1 (a client asking the API
// server). The server announces them on the websocket but does not store them, so the
// page keeps the last few itself, newest first, and paces the flashes of arrow 1.
import { gettext, ngettext, fmt } from "./i18n.js";

export const MAX_REQUESTS = 20;
// A request repeated within this time joins the row above it ("×3") instead of a new row.
const MERGE_MS = 1500;
// Arrow 1 lights up for FLASH_MS; a new flash starts at most every FLASH_GAP ms, and a
// burst of requests in between gives one more flash at its end, not one per request.
export const FLASH_MS = 600;
const FLASH_GAP = 600;

// Kubernetes' reasons for the error codes the API server answers with.
const REASONS = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  406: "NotAcceptable",
  409: "Conflict",
  410: "Expired",
  413: "RequestEntityTooLarge",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

// The server names the client in English; the names that are words get translated.
export function clientLabel(name) {
  const words = {
    "podflow page": gettext("podflow page"),
    "Python client (kubernetes)": gettext("Python client (kubernetes)"),
    "Python HTTP client": gettext("Python HTTP client"),
    "podflow command": gettext("podflow command"),
    "podflow bench": gettext("podflow bench"),
    "an HTTP client": gettext("an HTTP client"),
  };
  return words[name] || name || gettext("an HTTP client");
}

// "list pods", "get pods/web", "get pods/web/log", "delete deployments/app -n shop":
// the verb as Kubernetes names it, and what it was asked of, as kubectl would write it.
export function requestWhat(req) {
  const [plural, sub] = String(req.resource || "").split("/", 2);
  let target = plural;
  if (req.name) target += `/${req.name}`;
  if (sub) target += req.name ? `/${sub}` : ` (${sub})`;
  let text = `${req.verb} ${target}`;
  if (req.namespace && req.namespace !== "default") text += ` -n ${req.namespace}`;
  return text;
}

export function isError(code) {
  return Number(code) >= 400;
}

// "200", or for an error "404 NotFound" (the caller marks it as an error in words).
export function codeText(code, verb = "", reason = "") {
  const n = Number(code);
  if (reason) return `${n} ${reason}`; // the Status reason the API server answered with
  // Without one: a create of a name that is taken is AlreadyExists; other 409s are Conflicts.
  if (n === 409 && verb === "create") return "409 AlreadyExists";
  return REASONS[n] ? `${n} ${REASONS[n]}` : String(code);
}

export class RequestLog {
  constructor(onChange) {
    this.entries = []; // newest first
    this.latest = null;
    this.seq = 0;
    this.onChange = onChange;
    this.flashStart = -Infinity;
    this.trailing = null;
    this.endTimer = null;
  }

  add(msg, now = Date.now()) {
    const req = {
      client: msg.client || "",
      verb: msg.verb || "",
      resource: msg.resource || "",
      namespace: msg.namespace || "",
      name: msg.name || "",
      code: msg.code,
      reason: msg.reason || "",
    };
    const key = [req.client, req.verb, req.resource, req.namespace, req.name, req.code].join("\u0000");
    const top = this.entries[0];
    if (top && top.key === key && now - top.last <= MERGE_MS) {
      top.count += 1;
      top.last = now;
    } else {
      this.seq += 1;
      this.entries.unshift({ ...req, key, id: this.seq, time: now, last: now, count: 1 });
      if (this.entries.length > MAX_REQUESTS) this.entries.length = MAX_REQUESTS;
    }
    this.latest = req;
    this.flash();
  }

  // --- pacing arrow 1 ---

  flash() {
    const now = performance.now();
    if (now - this.flashStart >= FLASH_GAP) {
      this.startFlash(now);
    } else if (!this.trailing) {
      this.trailing = setTimeout(() => {
        this.trailing = null;
        this.startFlash(performance.now());
      }, this.flashStart + FLASH_GAP - now);
    }
  }

  startFlash(now) {
    this.flashStart = now;
    this.onChange();
    clearTimeout(this.endTimer);
    this.endTimer = setTimeout(() => this.onChange(), FLASH_MS + 20);
  }

  // Milliseconds into the current flash, or null when arrow 1 is not lit. The diagram is
  // redrawn from scratch, so it starts the animation this far in, not from the start.
  flashElapsed() {
    const elapsed = performance.now() - this.flashStart;
    return elapsed >= 0 && elapsed < FLASH_MS ? elapsed : null;
  }
}

const escapeMap = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (text) => String(text).replace(/[&<>"']/g, (c) => escapeMap[c]);

// One row of the feed: "kubectl · list pods · 200", an error marked in words.
export function requestRow(entry, timeText) {
  const err = isError(entry.code);
  const code = err
    ? `<span class="req-code req-error"><span aria-hidden="true">✕ </span>${esc(gettext("error"))} ${esc(codeText(entry.code, entry.verb, entry.reason))}</span>`
    : `<span class="req-code">${esc(codeText(entry.code, entry.verb, entry.reason))}</span>`;
  const count = entry.count > 1
    ? ` <span class="req-count"><span aria-hidden="true">×${entry.count}</span><span class="visually-hidden">${esc(fmt(ngettext("(%(n)s time)", "(%(n)s times)", entry.count), { n: entry.count }))}</span></span>`
    : "";
  return `<li class="req${err ? " is-error" : ""}" data-id="${entry.id}" data-verb="${esc(entry.verb)}" data-code="${esc(entry.code)}" data-client="${esc(entry.client)}">`
    + `<span class="req-time">${esc(timeText)}</span> `
    + `<span class="req-text"><span class="req-client">${esc(clientLabel(entry.client))}</span> · `
    + `<span class="req-what">${esc(requestWhat(entry))}</span> · ${code}${count}</span></li>`;
}
