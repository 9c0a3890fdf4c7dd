// The etcd view and the watch inspector (podflow/v1/etcd and podflow/v1/watches):
// (a) the keys the API server stores objects under (/registry/pods/default/web), each with
//     the revision that created it, the revision of its last write, how many writes it had
//     (etcd's version) and, on demand, its value;
// (b) the ADDED / MODIFIED / DELETED watch events the components' informers received, newest
//     first, each with the components it woke — the list-watch that wakes the scheduler and
//     the kubelets.
// Mounted by the page in a tab: show() when the tab opens, refresh(revision) on each stream
// message while it is open (at most one fetch a second, none when nothing changed).
import { gettext, fmt } from "./i18n.js";
import { esc } from "./diagram.js";
import { ApiError } from "./api.js";

const KEY_LIMIT = 500;
const EVENT_LIMIT = 300;
const MIN_INTERVAL_MS = 1000;

// The prefixes the filter offers: kube-apiserver's own layout (nodes are "minions", Services
// and Endpoints share /registry/services/).
const PREFIXES = [
  ["/registry/", () => gettext("All keys")],
  ["/registry/pods/", () => gettext("Pods")],
  ["/registry/deployments/", () => gettext("Deployments")],
  ["/registry/replicasets/", () => gettext("ReplicaSets")],
  ["/registry/services/specs/", () => gettext("Services")],
  ["/registry/services/endpoints/", () => gettext("Endpoints")],
  ["/registry/minions/", () => gettext("Nodes")],
  ["/registry/leases/", () => gettext("Leases")],
  ["/registry/events/", () => gettext("Events")],
  ["/registry/configmaps/", () => gettext("ConfigMaps")],
  ["/registry/secrets/", () => gettext("Secrets")],
];

const COMPONENTS = {
  scheduler: () => gettext("scheduler"),
  "controller-manager": () => gettext("controller manager"),
  kubelet: () => gettext("kubelet"),
};

// The controllers of the controller manager, as the server names them.
const CONTROLLERS = {
  "Deployment controller": () => gettext("Deployment controller"),
  "ReplicaSet controller": () => gettext("ReplicaSet controller"),
  "garbage collector": () => gettext("garbage collector"),
  "namespace controller": () => gettext("namespace controller"),
  "Endpoints and EndpointSlice controllers": () => gettext("Endpoints and EndpointSlice controllers"),
  "service controller": () => gettext("service controller"),
  "ingress controller": () => gettext("ingress controller"),
};

let panels = 0;

function componentWord(component) {
  const [name, node] = String(component).split("@");
  if (name === "kubelet" && node) return fmt(gettext("kubelet on %(node)s"), { node });
  return (COMPONENTS[name] || (() => name))();
}

function controllerWord(controller) {
  return (CONTROLLERS[controller] || (() => controller))();
}

// "scheduler (schedule_pod)", "controller manager: ReplicaSet controller (reconcile_replicaset)".
function wokeText(w) {
  const who = w.component === "controller-manager"
    ? fmt(gettext("controller manager: %(controller)s"), { controller: controllerWord(w.controller) })
    : componentWord(w.component);
  return `${who} (${w.task})`;
}

function writerText(event) {
  if (!event.by) return gettext("writer not known");
  const who = event.by === "client" ? gettext("a client") : event.by;
  return event.bySource === "step-log"
    ? fmt(gettext("written by %(who)s (from the step log)"), { who })
    : fmt(gettext("written by %(who)s (inferred)"), { who });
}

function revisionCell(value) {
  if (value === null || value === undefined) {
    return `<span aria-hidden="true">—</span><span class="visually-hidden">${esc(gettext("no longer known (compacted)"))}</span>`;
  }
  return esc(String(value));
}

export class EtcdPanel {
  constructor({ api, root, announce }) {
    this.api = api;
    this.root = root;
    this.announce = announce || (() => {});
    this.id = `etcd-${++panels}`;
    this.prefix = "/registry/";
    this.hideNoise = true;
    this.open = new Set(); // keys whose value is shown
    this.items = new Map(); // key -> item of the last answer
    this.seen = -1; // the cluster revision the last answer was read at
    this.lastFetch = 0;
    this.timer = null;
    this.loading = false;
    this.again = false;
    this.built = false;
    this.rows = new Map(); // key -> its rows in the table, kept across answers
    this.seq = 0;
    this.emptyRow = null;
    this.eventsHtml = "";
    this.watchersHtml = "";
    this.events = [];
  }

  build() {
    if (this.built) return;
    this.built = true;
    const id = this.id;
    const options = PREFIXES.map(([prefix, label]) => `<option value="${esc(prefix)}">${esc(label())} — ${esc(prefix)}</option>`).join("");
    this.root.innerHTML = `
      <section class="etcd-section" aria-labelledby="${id}-keys-heading">
        <h2 id="${id}-keys-heading">${esc(gettext("etcd: the keys"))}</h2>
        <p class="etcd-help">${esc(gettext("The API server keeps every object in etcd under a key such as /registry/pods/default/web. Each key has the revision that created it, the revision of its last write and its version (how many times it was written since it was created)."))}</p>
        <div class="etcd-controls">
          <label for="${id}-prefix">${esc(gettext("Keys under"))}</label>
          <select id="${id}-prefix" class="etcd-prefix">${options}</select>
          <span class="etcd-summary muted small" id="${id}-summary"></span>
        </div>
        <p class="etcd-error" id="${id}-keys-error" role="alert" hidden></p>
        <div class="etcd-table-wrap">
          <table class="etcd-keys" aria-describedby="${id}-summary">
            <caption class="visually-hidden">${esc(gettext("etcd keys with their create revision, mod revision and version"))}</caption>
            <colgroup><col class="etcd-col-key"><col class="etcd-col-num"><col class="etcd-col-num"><col class="etcd-col-num"></colgroup>
            <thead><tr>
              <th scope="col">${esc(gettext("Key"))}</th>
              <th scope="col">${esc(gettext("Create rev"))}</th>
              <th scope="col">${esc(gettext("Mod rev"))}</th>
              <th scope="col">${esc(gettext("Version"))}</th>
            </tr></thead>
            <tbody></tbody>
          </table>
        </div>
        <p class="etcd-note muted small">${esc(gettext("The value has no resourceVersion: the API server sets it from the mod revision when it reads the key. Kubernetes stores most objects as protobuf; here they are shown as JSON."))}</p>
        <p class="etcd-note etcd-compacted-note muted small" hidden>${esc(gettext("— means no longer known: the change log that held the key's creation was compacted."))}</p>
        <p class="etcd-note etcd-secret-note muted small" hidden>${esc(gettext("Secret values are shown as their size in the page; kubectl get secret -o yaml shows them."))}</p>
      </section>
      <section class="watch-section" aria-labelledby="${id}-watch-heading">
        <h2 id="${id}-watch-heading">${esc(gettext("Watch events"))}</h2>
        <p class="etcd-help">${esc(gettext("Every component list-watches the API server: it receives each ADDED, MODIFIED and DELETED event of the kinds it watches, and this list shows which of those events woke which component, newest first."))}</p>
        <ul class="watch-watchers"></ul>
        <div class="etcd-controls">
          <label class="watch-filter"><input type="checkbox" id="${id}-noise" checked> ${esc(gettext("Hide node Lease renewals and Events"))}</label>
          <span class="watch-summary muted small" id="${id}-watch-summary"></span>
        </div>
        <p class="etcd-error" id="${id}-watch-error" role="alert" hidden></p>
        <div class="watch-scroll" role="region" aria-label="${esc(gettext("Watch events, newest first"))}" tabindex="0">
          <ol class="watch-list" aria-describedby="${id}-watch-summary"></ol>
        </div>
        <p class="etcd-note muted small">${esc(gettext("Who wrote a change comes from the step log when it was recorded there; otherwise it is inferred from the object."))}</p>
      </section>`;
    this.select = this.root.querySelector(".etcd-prefix");
    this.tbody = this.root.querySelector(".etcd-keys tbody");
    this.list = this.root.querySelector(".watch-list");
    this.select.value = this.prefix;
    this.select.addEventListener("change", () => {
      this.prefix = this.select.value;
      this.open.clear();
      this.load({ keysOnly: true, said: true });
    });
    this.root.querySelector(`#${id}-noise`).addEventListener("change", (event) => {
      this.hideNoise = event.target.checked;
      this.renderEvents();
    });
    // One listener for every row's button: show or hide that key's value.
    this.tbody.addEventListener("click", (event) => {
      const button = event.target.closest("button.etcd-toggle");
      if (!button) return;
      const key = button.dataset.key;
      if (this.open.has(key)) this.open.delete(key);
      else this.open.add(key);
      this.renderKeys();
    });
  }

  visible() {
    return this.root.isConnected && this.root.getClientRects().length > 0;
  }

  // The tab was opened: read now.
  show() {
    this.build();
    clearTimeout(this.timer);
    this.timer = null;
    this.load({});
  }

  // The timeline looks back at `revision` (null: live): the keys as they were then, and the
  // watch events up to it.
  setAt(revision) {
    this.at = revision || null;
    this.seen = -1;
    if (this.built) this.load({});
  }

  // A stream message: read again if the cluster moved on, at most once a second.
  refresh(revision) {
    if (!this.built) return;
    if (typeof revision === "number" && revision <= this.seen) return;
    if (this.timer) return; // a read is already coming
    const wait = Math.max(0, this.lastFetch + MIN_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.load({});
    }, wait);
  }

  async load({ keysOnly = false, said = false }) {
    if (this.loading) {
      this.again = true;
      return;
    }
    if (!this.visible()) return; // the next show() reads
    this.loading = true;
    this.lastFetch = Date.now();
    const prefix = this.prefix;
    try {
      const [keys, watches] = await Promise.all([
        this.api.etcd({ prefix, limit: KEY_LIMIT, at: this.at || undefined }).then((v) => ({ ok: v }), (err) => ({ err })),
        keysOnly ? Promise.resolve(null) : this.api.watches(this.at
          ? { since: Math.max(0, this.at - EVENT_LIMIT), limit: EVENT_LIMIT }
          : { limit: EVENT_LIMIT }).then((v) => ({ ok: this.at ? { ...v, events: (v.events || []).filter((e) => e.revision <= this.at) } : v }), (err) => ({ err })),
      ]);
      if (prefix === this.prefix) this.takeKeys(keys, said);
      if (watches) this.takeWatches(watches);
      if (!keysOnly && keys.ok && watches && watches.ok) this.seen = Math.min(keys.ok.revision, watches.ok.revision);
    } finally {
      this.loading = false;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    }
  }

  error(which, err) {
    const el = this.root.querySelector(`#${this.id}-${which}-error`);
    const message = err instanceof ApiError ? err.message : String(err);
    const text = fmt(gettext("Could not read: %(message)s"), { message });
    if (el.textContent !== text) {
      el.textContent = text;
      this.announce(text);
    }
    el.hidden = false;
  }

  clearError(which) {
    const el = this.root.querySelector(`#${this.id}-${which}-error`);
    el.hidden = true;
    el.textContent = "";
  }

  // --- (a) the keys ----------------------------------------------------------------------

  takeKeys(answer, said) {
    if (answer.err) {
      this.error("keys", answer.err);
      return;
    }
    this.clearError("keys");
    const body = answer.ok;
    this.items = new Map(body.keys.map((item) => [item.key, item]));
    for (const key of [...this.open]) if (!this.items.has(key)) this.open.delete(key);
    const summary = body.truncated
      ? fmt(gettext("Revision %(revision)s · keys: the first %(shown)s of %(count)s; choose a prefix to see fewer."), { revision: body.revision, shown: body.keys.length, count: body.count })
      : fmt(gettext("Revision %(revision)s · keys: %(count)s"), { revision: body.revision, count: body.count });
    const el = this.root.querySelector(`#${this.id}-summary`);
    if (el.textContent !== summary) el.textContent = summary;
    this.root.querySelector(".etcd-compacted-note").hidden = !body.keys.some((i) => i.createRevision === null);
    this.root.querySelector(".etcd-secret-note").hidden = !body.keys.some((i) => i.kind === "Secret");
    this.renderKeys();
    if (said) this.announce(fmt(gettext("Keys under %(prefix)s: %(count)s"), { count: body.count, prefix: body.prefix }));
  }

  // Rows are kept per key and changed in place, so a value being read (and the keyboard
  // focus on a row's button or a value) stays put while the cluster writes on.
  renderKeys() {
    const wanted = [];
    for (const item of this.items.values()) {
      let entry = this.rows.get(item.key);
      if (!entry) {
        entry = this.makeRow(item.key);
        this.rows.set(item.key, entry);
      }
      this.updateRow(entry, item);
      wanted.push(entry.row);
      if (this.open.has(item.key)) wanted.push(entry.valueRow);
    }
    for (const [key, entry] of this.rows) {
      if (!this.items.has(key)) this.rows.delete(key);
    }
    if (!wanted.length) {
      if (!this.emptyRow) {
        this.emptyRow = document.createElement("tr");
        this.emptyRow.innerHTML = `<td colspan="4" class="muted">${esc(gettext("No keys under this prefix."))}</td>`;
      }
      wanted.push(this.emptyRow);
    }
    const keep = new Set(wanted);
    for (const node of [...this.tbody.children]) if (!keep.has(node)) node.remove();
    let cursor = this.tbody.firstElementChild;
    for (const node of wanted) {
      if (node === cursor) {
        cursor = cursor.nextElementSibling;
        continue;
      }
      this.tbody.insertBefore(node, cursor);
    }
  }

  makeRow(key) {
    const valueId = `${this.id}-value-${++this.seq}`;
    const row = document.createElement("tr");
    row.className = "etcd-row";
    row.innerHTML = `<th scope="row"><button type="button" class="etcd-toggle" aria-expanded="false">`
      + `<span class="etcd-arrow" aria-hidden="true">▸</span> <code>${esc(key)}</code>`
      + `<span class="visually-hidden etcd-toggle-hint"></span></button></th>`
      + `<td data-label="${esc(gettext("Create rev"))}"></td>`
      + `<td data-label="${esc(gettext("Mod rev"))}"></td>`
      + `<td data-label="${esc(gettext("Version"))}"></td>`;
    row.querySelector("button").dataset.key = key;
    const valueRow = document.createElement("tr");
    valueRow.className = "etcd-value-row";
    valueRow.id = valueId;
    valueRow.innerHTML = `<td colspan="4"><pre class="etcd-value" tabindex="0"></pre></td>`;
    valueRow.querySelector("pre").setAttribute("aria-label", fmt(gettext("Value of %(key)s"), { key }));
    return { row, valueRow, valueId, cells: "", value: "", open: null };
  }

  updateRow(entry, item) {
    const cells = `${revisionCell(item.createRevision)}|${revisionCell(item.modRevision)}|${revisionCell(item.version)}`;
    if (cells !== entry.cells) {
      const tds = entry.row.querySelectorAll("td");
      [item.createRevision, item.modRevision, item.version].forEach((v, i) => { tds[i].innerHTML = revisionCell(v); });
      entry.cells = cells;
    }
    const open = this.open.has(item.key);
    if (open !== entry.open) {
      const button = entry.row.querySelector("button");
      button.setAttribute("aria-expanded", String(open));
      if (open) button.setAttribute("aria-controls", entry.valueId);
      else button.removeAttribute("aria-controls");
      button.querySelector(".etcd-arrow").textContent = open ? "▾" : "▸";
      button.querySelector(".etcd-toggle-hint").textContent = " " + (open ? gettext("(hide the value)") : gettext("(show the value)"));
      entry.open = open;
    }
    if (open) {
      const value = JSON.stringify(item.value, null, 2);
      if (value !== entry.value) {
        entry.valueRow.querySelector("pre").textContent = value;
        entry.value = value;
      }
    }
  }

  // --- (b) the watch events --------------------------------------------------------------

  takeWatches(answer) {
    if (answer.err) {
      this.error("watch", answer.err);
      return;
    }
    this.clearError("watch");
    const body = answer.ok;
    this.events = body.events || [];
    this.renderWatchers(body.watchers || {}, body.controllers || {});
    this.renderEvents();
  }

  renderWatchers(watchers, controllers) {
    const items = Object.entries(watchers).map(([component, kinds]) => {
      const line = fmt(gettext("The %(component)s watches: %(kinds)s"), { component: componentWord(component), kinds: kinds.join(", ") });
      if (component !== "controller-manager" || !Object.keys(controllers).length) return `<li>${esc(line)}</li>`;
      const inner = Object.entries(controllers).map(([name, kinds]) => `<li>${esc(fmt(gettext("%(controller)s: %(kinds)s"), { controller: controllerWord(name), kinds: kinds.join(", ") }))}</li>`).join("");
      return `<li>${esc(line)}<details class="watch-controllers"><summary>${esc(gettext("Which controller watches what"))}</summary><ul>${inner}</ul></details></li>`;
    });
    const html = items.join("");
    if (html === this.watchersHtml) return;
    const list = this.root.querySelector(".watch-watchers");
    const opened = list.querySelector("details[open]") !== null;
    list.innerHTML = html;
    if (opened) { const d = list.querySelector("details"); if (d) d.open = true; }
    this.watchersHtml = html;
  }

  renderEvents() {
    const shown = this.events.filter((e) => !(this.hideNoise && (e.kind === "Event" || (e.kind === "Lease" && e.namespace === "kube-node-lease"))));
    const items = shown.slice().reverse().map((e) => {
      let woke;
      if (e.woke === null || e.woke === undefined) woke = gettext("woke: not known (the previous version was compacted)");
      else if (!e.woke.length) woke = gettext("woke: nobody");
      else woke = fmt(gettext("woke: %(components)s"), { components: e.woke.map(wokeText).join(", ") });
      const received = (e.receivedBy || []).length
        ? fmt(gettext("received by: %(components)s"), { components: e.receivedBy.map(componentWord).join(", ") })
        : gettext("received by: no component watches this kind");
      return `<li class="watch-event" data-type="${esc(e.type)}" data-woke="${e.woke && e.woke.length ? "yes" : "no"}">`
        + `<div class="watch-line"><span class="watch-rev">${esc(fmt(gettext("rev %(revision)s"), { revision: e.revision }))}</span> `
        + `<span class="watch-type">${esc(e.type)}</span> <code class="watch-key">${esc(e.key)}</code></div>`
        + `<div class="watch-woke">${esc(woke)}</div>`
        + `<div class="watch-detail muted small">${esc(writerText(e))} · ${esc(received)}</div>`
        + `</li>`;
    });
    const html = items.length ? items.join("") : `<li class="muted">${esc(gettext("No watch events to show yet."))}</li>`;
    const first = this.events.length ? this.events[0].revision : null;
    const last = this.events.length ? this.events[this.events.length - 1].revision : null;
    const summary = this.events.length
      ? fmt(gettext("Shown: %(shown)s of the last %(count)s events (revisions %(first)s–%(last)s)"), { shown: shown.length, count: this.events.length, first, last })
      : "";
    const el = this.root.querySelector(`#${this.id}-watch-summary`);
    if (el.textContent !== summary) el.textContent = summary;
    if (html === this.eventsHtml) return;
    this.list.innerHTML = html;
    this.eventsHtml = html;
  }
}
