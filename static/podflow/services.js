// The Services panel: each Service with its type, address, ports, DNS name and endpoints; a
// simulated curl whose answers are listed here and marked on the answering pods in the
// diagram; kube-proxy's iptables rules for a node; ConfigMaps and Secrets by name and keys.
import { gettext, ngettext, fmt } from "./i18n.js";
import { esc } from "./diagram.js";
import { portsText, dnsName, endpointAddresses, nodeView } from "./k8s.js";
import { ApiError } from "./api.js";
import { showResult, showError, busy, errorHtml } from "./forms.js";
import { AnswerBatch } from "./marks.js";

const $ = (sel, root = document) => root.querySelector(sel);


const keyOf = (obj) => `${obj.metadata.namespace}/${obj.metadata.name}`;

// Answers that come only over the stream (someone's curl, not this page's form) are said in
// the panel's polite live region at most this often; a batch that comes sooner waits its turn
// (and gives way to a newer one).
export const HEARD_GAP_MS = 5000;

function typeMeaning(svc, node) {
  const spec = svc.spec || {};
  const type = spec.type || "ClusterIP";
  const ports = spec.ports || [];
  const nodePort = (ports.find((p) => p.nodePort) || {}).nodePort;
  const ingress = (((svc.status || {}).loadBalancer || {}).ingress || []).map((i) => i.ip || i.hostname).filter(Boolean);
  if (type === "ExternalName") return fmt(gettext("A DNS alias (CNAME) of %(name)s: no cluster IP, and kube-proxy does not proxy it."), { name: spec.externalName || "" });
  if (spec.clusterIP === "None") return gettext("Headless: no cluster IP; DNS answers the ready pods' own IPs.");
  if (type === "NodePort") return fmt(gettext("Reachable from outside on port %(port)s of every node (e.g. curl %(node)s:%(port)s), and inside the cluster at its cluster IP."), { port: nodePort, node });
  if (type === "LoadBalancer") {
    return ingress.length
      ? fmt(gettext("A (simulated) external load balancer at %(ip)s spreads requests over the nodes' port %(port)s."), { ip: ingress.join(", "), port: nodePort })
      : gettext("Waiting for the (simulated) cloud to give the load balancer an address.");
  }
  return gettext("Reachable only inside the cluster, at its cluster IP or its DNS name.");
}

export class ServicesPanel {
  constructor({ state, api, announce, onMarks, onAnswers }) {
    this.state = state;
    this.api = api;
    this.announce = announce;
    this.onMarks = onMarks; // the diagram must be drawn again (marks came or went)
    this.onAnswers = onAnswers || (() => {}); // note 001's picture lights the way they took
    this.selected = null; // "namespace/name"
    this.wanted = null; // {key, until}: a Service just created here, shown once the stream has it
    this.marks = new AnswerBatch({ redraw: () => this.onMarks(), expired: () => this.renderAnswers() }); // the newest answers
    this.rulesKey = "";
    this.rulesTimer = null;
    this.formShape = "";
    this.sending = false; // this page's own request is on its way: its answer is said by the form
    this.heard = null; // the newest batch from the stream, not yet said
    this.heardAt = -Infinity;
    this.heardTimer = null;
    this.wire();
  }

  // --- reading the state ---

  services() {
    return this.state.sorted("services");
  }

  service() {
    return this.selected ? this.state.find("services", ...this.selected.split("/")) : null;
  }

  endpointsOf(svc) {
    return endpointAddresses(this.state.find("endpoints", svc.metadata.namespace, svc.metadata.name));
  }

  // --- drawing ---

  render() {
    const list = this.services();
    if (this.wanted && (this.state.find("services", ...this.wanted.key.split("/")) || Date.now() > this.wanted.until)) {
      if (this.state.find("services", ...this.wanted.key.split("/"))) this.selected = this.wanted.key;
      this.wanted = null;
    }
    if (!this.service()) {
      // The newest Service, when the chosen one is gone (or none was chosen).
      const newest = [...list].sort((a, b) => String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)))[0];
      this.selected = newest ? keyOf(newest) : null;
    }
    $("#service-count").textContent = String(list.length);
    const body = $("#services-body");
    if (!list.length) {
      body.innerHTML = `<tr><td colspan="5" class="muted">${gettext("No Services yet. Expose a deployment (the form above, or <code>kubectl expose deployment web --type=NodePort --port=80</code>).")}</td></tr>`;
    } else {
      body.innerHTML = list.map((svc) => {
        const key = keyOf(svc);
        const sel = key === this.selected;
        const eps = this.endpointsOf(svc);
        const spec = svc.spec || {};
        const ready = fmt(ngettext("%(n)s ready", "%(n)s ready", eps.ready.length), { n: eps.ready.length })
          + (eps.notReady.length ? ` · ${fmt(ngettext("%(n)s not ready", "%(n)s not ready", eps.notReady.length), { n: eps.notReady.length })}` : "");
        const ns = svc.metadata.namespace !== "default" ? `<span class="owner">${esc(fmt(gettext("namespace %(ns)s"), { ns: svc.metadata.namespace }))}</span>` : "";
        return `<tr data-service="${esc(key)}" class="${sel ? "is-selected" : ""}">`
          + `<td><button type="button" class="linkish select-service" data-service="${esc(key)}" data-focus-key="svc:${esc(key)}" aria-pressed="${sel}"><span class="mono">${esc(svc.metadata.name)}</span></button>${ns}</td>`
          + `<td>${esc(spec.type || "ClusterIP")}</td>`
          + `<td class="mono">${esc(spec.clusterIP || "—")}</td>`
          + `<td class="mono">${esc(portsText(spec.ports) || "—")}</td>`
          + `<td>${eps.ready.length ? "" : '<span aria-hidden="true">⚠ </span>'}${esc(ready)}</td></tr>`;
      }).join("");
    }
    this.renderDetail();
    this.renderConfig();
  }

  renderDetail() {
    const svc = this.service();
    const detail = $("#service-detail");
    detail.hidden = !svc;
    if (!svc) return;
    const spec = svc.spec || {};
    const nodes = this.state.sortedNodes().map(nodeView);
    const firstNode = nodes.length ? nodes[0].name : "node-1";
    $("#service-detail-heading").innerHTML = `${esc(gettext("Service"))} <code>${esc(keyOf(svc))}</code>`;
    const selector = Object.entries(spec.selector || {}).map(([k, v]) => `${k}=${v}`).join(",");
    const ingress = (((svc.status || {}).loadBalancer || {}).ingress || []).map((i) => i.ip || i.hostname).filter(Boolean);
    const facts = [
      [gettext("DNS name"), `<code>${esc(dnsName(svc))}</code>` + (spec.clusterIP && spec.clusterIP !== "None" ? ` → <code>${esc(spec.clusterIP)}</code>` : "")
        + ` <span class="muted small">${esc(gettext("(CoreDNS answers it inside the cluster)"))}</span>`],
      [gettext("Type"), `${esc(spec.type || "ClusterIP")} — ${esc(typeMeaning(svc, firstNode))}`],
      [gettext("Selector"), selector ? `<code>${esc(selector)}</code> <span class="muted small">${esc(gettext("(the pods with these labels)"))}</span>` : esc(gettext("none: its endpoints are written by hand"))],
    ];
    if (ingress.length) facts.push([gettext("External address"), `<code>${esc(ingress.join(", "))}</code>`]);
    $("#service-facts").innerHTML = facts.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${v}</dd></div>`).join("");

    const eps = this.endpointsOf(svc);
    const items = [
      ...eps.ready.map((e) => ({ ...e, ready: true })),
      ...eps.notReady.map((e) => ({ ...e, ready: false })),
    ];
    $("#service-endpoints").innerHTML = items.length
      ? items.map((e) => `<li class="endpoint${e.ready ? "" : " is-notready"}" data-pod="${esc(e.pod)}"><span class="ep-state">${e.ready ? "✓ " + esc(gettext("ready")) : "✕ " + esc(gettext("not ready: gets no requests"))}</span> `
        + `<code>${esc(e.ip)}:${esc(e.port)}</code> → ${esc(gettext("pod"))} <span class="mono">${esc(e.pod || "?")}</span>${e.node ? ` ${esc(fmt(gettext("on %(node)s"), { node: e.node }))}` : ""}</li>`).join("")
      : `<li class="muted">${esc(spec.type === "ExternalName" ? gettext("An ExternalName Service has no endpoints.") : gettext("No endpoints: no pod that the selector matches is Ready, so requests are refused."))}</li>`;
    this.renderForm(svc, nodes);
    this.renderRulesNodes(nodes);
    this.maybeRefreshRules();
  }

  renderForm(svc, nodes) {
    const form = $("#request-form");
    const spec = svc.spec || {};
    const type = spec.type || "ClusterIP";
    const hasNodePort = (spec.ports || []).some((p) => p.nodePort);
    const ways = [];
    if (type !== "ExternalName") {
      if (hasNodePort) ways.push(["nodePort", gettext("a node's port (NodePort)")]);
      if (type === "LoadBalancer") ways.push(["loadBalancer", gettext("the load balancer")]);
      if (spec.clusterIP && spec.clusterIP !== "None") ways.push(["clusterIP", gettext("the cluster IP (from inside)")]);
      ways.push(["dns", gettext("the DNS name (from a pod)")]);
    }
    // Rebuild the choices only when they change, keeping what the learner picked.
    const shape = `${keyOf(svc)}|${ways.map((w) => w[0]).join(",")}|${nodes.map((n) => n.name).join(",")}`;
    if (shape !== this.formShape) {
      const via = form.elements.via.value;
      const node = form.elements.node.value;
      form.elements.via.innerHTML = ways.map(([v, label]) => `<option value="${v}">${esc(label)}</option>`).join("");
      if (ways.some((w) => w[0] === via)) form.elements.via.value = via;
      form.elements.node.innerHTML = nodes.map((n) => `<option value="${esc(n.name)}">${esc(n.name)}${n.ready ? "" : " (" + esc(gettext("NotReady")) + ")"}</option>`).join("");
      if (nodes.some((n) => n.name === node)) form.elements.node.value = node;
      this.formShape = shape;
    }
    const none = !ways.length;
    for (const el of form.elements) if (el.tagName !== "FIELDSET") el.disabled = none;
    form.elements.node.disabled = none || form.elements.via.value === "loadBalancer";
    this.renderCommand();
  }

  renderCommand() {
    const svc = this.service();
    const form = $("#request-form");
    if (!svc) return;
    const spec = svc.spec || {};
    const port = (spec.ports || [])[0] || {};
    const via = form.elements.via.value;
    const node = form.elements.node.value || "node-1";
    const ingress = (((svc.status || {}).loadBalancer || {}).ingress || []).map((i) => i.ip || i.hostname).filter(Boolean);
    let target = "";
    let where = "";
    if (via === "nodePort") {
      target = `${node}:${port.nodePort}`;
      where = fmt(gettext("from outside the cluster, to node %(node)s"), { node });
    } else if (via === "loadBalancer") {
      target = `${ingress[0] || "<pending>"}:${port.port}`;
      where = gettext("from outside the cluster, to the load balancer");
    } else if (via === "clusterIP") {
      target = `${spec.clusterIP}:${port.port}`;
      where = fmt(gettext("from a pod or from node %(node)s"), { node });
    } else if (via === "dns") {
      target = `${dnsName(svc)}:${port.port}`;
      where = fmt(gettext("from a pod on node %(node)s"), { node });
    }
    const count = form.elements.count.value;
    const cmd = !via ? "" : count === "1" ? `curl ${target}` : `for i in $(seq ${count}); do curl -s ${target}; done`;
    $("#request-command").innerHTML = via ? `${esc(cmd)} <span class="cmd-comment"># ${esc(where)}</span>` : esc(gettext("kube-proxy does not proxy an ExternalName Service."));
  }

  renderRulesNodes(nodes) {
    const select = $("#rules-node");
    const names = nodes.map((n) => n.name).join(",");
    if (select.dataset.names === names) return;
    const value = select.value;
    select.innerHTML = nodes.map((n) => `<option value="${esc(n.name)}">${esc(n.name)}</option>`).join("");
    if (nodes.some((n) => n.name === value)) select.value = value;
    select.dataset.names = names;
  }

  renderConfig() {
    const items = [
      ...this.state.sorted("configmaps").map((o) => ({ kind: "ConfigMap", obj: o })),
      ...this.state.sorted("secrets").map((o) => ({ kind: "Secret", obj: o })),
    ];
    const list = $("#config-list");
    if (!items.length) {
      list.innerHTML = `<li class="muted">${gettext("None yet. <code>kubectl create configmap app --from-literal=MODE=demo</code>, <code>kubectl create secret generic db --from-literal=password=…</code>")}</li>`;
      return;
    }
    list.innerHTML = items.map(({ kind, obj }) => {
      const data = { ...(obj.data || {}), ...(obj.binaryData || {}) };
      // Keys only; for a Secret the stream already replaced each value by its size.
      const keys = Object.keys(data).sort().map((k) => kind === "Secret"
        ? `<code>${esc(k)}</code> <span class="muted small">${esc(String(data[k]).startsWith("(") ? data[k] : gettext("(hidden)"))}</span>`
        : `<code>${esc(k)}</code>`);
      const ns = obj.metadata.namespace !== "default" ? ` <span class="muted small">${esc(fmt(gettext("namespace %(ns)s"), { ns: obj.metadata.namespace }))}</span>` : "";
      const type = kind === "Secret" ? ` <span class="muted small">${esc(obj.type || "Opaque")}</span>` : "";
      return `<li><span class="config-kind">${kind === "Secret" ? "🔒 " : ""}${esc(kind)}</span> <span class="mono">${esc(obj.metadata.name)}</span>${ns}${type}`
        + `<span class="config-keys">${keys.length ? `${esc(gettext("keys:"))} ${keys.join(", ")}` : esc(gettext("no keys"))}</span></li>`;
    }).join("");
  }

  // Show this Service as soon as it is known (it was just created).
  choose(key) {
    this.wanted = { key, until: Date.now() + 15000 };
    this.formShape = "";
  }

  // --- answers ---

  // A batch of answers: from our own request (at once) or from the stream (anyone's).
  take(answers, source) {
    if (!answers || !answers.length) return;
    if (answers[0].ingress) return; // the Ingress panel's (a 404 there names no Service)
    if (!this.marks.take(answers, source)) return;
    this.renderAnswers();
    this.onAnswers(answers, source);
    if (source === "stream" && !this.sending) this.sayHeard(answers);
  }

  sayHeard(answers) {
    this.heard = answers;
    if (this.heardTimer) return;
    this.heardTimer = setTimeout(() => {
      this.heardTimer = null;
      this.heardAt = Date.now();
      const batch = this.heard;
      this.heard = null;
      const status = $("#request-status");
      const kind = batch.every((a) => a.status === 200) ? "ok" : "error";
      // Shown empty first, then filled: a live region that appears with its words is not read.
      showResult(status, kind, " ");
      requestAnimationFrame(() => showResult(status, kind, `<p>${esc(heardSummary(batch))}</p>`));
    }, Math.max(0, this.heardAt + HEARD_GAP_MS - Date.now()));
  }

  renderAnswers() {
    const batch = this.marks.current;
    const section = $("#answers");
    if (!batch) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    const n = batch.answers.length;
    $("#answers-heading").innerHTML = esc(fmt(ngettext("The last request to %(service)s: which pod answered", "The last %(n)s requests to %(service)s: which pod answered", n), { n, service: batch.first.service }));
    $("#answers-summary").textContent = summary(batch.answers);
    $("#answers-list").innerHTML = batch.answers.map((a) => {
      const ok = a.status === 200;
      const who = a.pod
        ? `<span class="mono answer-pod">${esc(a.pod)}</span> <span class="answer-where">${esc(`${a.podIP || ""}:${a.targetPort || ""}`)}${a.node ? " " + esc(fmt(gettext("on %(node)s"), { node: a.node })) : ""}</span>`
        : `<span class="answer-error">✕ ${esc(gettext("no pod answered"))}</span>`;
      const via = a.via ? `<span class="answer-via">← ${esc(a.via)}</span>` : "";
      const result = ok
        ? `<span class="answer-code">${esc(a.status)} · ${esc(a.body || "")}</span>`
        : `<span class="answer-code answer-error">✕ ${esc(a.status)} · ${esc(a.error || a.body || "")}</span>`;
      return `<li class="answer${ok ? "" : " is-error"}" data-pod="${esc(a.pod || "")}" data-status="${esc(a.status)}">${who} ${via} ${result}</li>`;
    }).join("");
    section.dataset.fresh = String(this.marks.isFresh());
  }

  // For the diagram: how many of the newest answers this pod gave, while they are fresh.
  hitsFor(pod) {
    return this.marks.hitsFor(pod);
  }

  // --- kube-proxy's rules ---

  maybeRefreshRules(force = false) {
    const details = $("#proxy-rules");
    const svc = this.service();
    if (!details.open || !svc) return;
    const node = $("#rules-node").value;
    const ep = this.state.find("endpoints", svc.metadata.namespace, svc.metadata.name);
    const key = `${keyOf(svc)}|${svc.metadata.resourceVersion}|${ep ? ep.metadata.resourceVersion : ""}|${node}`;
    if (!force && key === this.rulesKey) return;
    this.rulesKey = key;
    clearTimeout(this.rulesTimer);
    this.rulesTimer = setTimeout(() => this.loadRules(svc, node, key), force ? 0 : 300);
  }

  async loadRules(svc, node, key) {
    const pre = $("#rules-text");
    pre.setAttribute("aria-busy", "true");
    try {
      const text = await this.api.proxyRules(svc.metadata.namespace, svc.metadata.name, node);
      if (key !== this.rulesKey) return;
      pre.textContent = text;
      pre.dataset.node = node;
    } catch (err) {
      if (key !== this.rulesKey) return;
      pre.textContent = errorHtml(err).html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();
    } finally {
      pre.removeAttribute("aria-busy");
    }
  }

  // --- wiring ---

  wire() {
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button.select-service");
      if (!button) return;
      this.selected = button.dataset.service;
      this.formShape = "";
      this.render();
    });
    const form = $("#request-form");
    form.addEventListener("change", () => {
      form.elements.node.disabled = form.elements.via.value === "loadBalancer";
      this.renderCommand();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    $("#proxy-rules").addEventListener("toggle", () => this.maybeRefreshRules(true));
    $("#rules-node").addEventListener("change", () => this.maybeRefreshRules(true));
  }

  async send() {
    const svc = this.service();
    const form = $("#request-form");
    const status = $("#request-status");
    if (!svc) return;
    const count = parseInt(form.elements.count.value, 10) || 1;
    const via = form.elements.via.value;
    const node = via === "loadBalancer" ? "" : form.elements.node.value;
    busy(form, true);
    this.sending = true;
    clearTimeout(this.heardTimer); // what the form says next is newer than what was heard
    this.heardTimer = null;
    try {
      let answers;
      try {
        const reply = await this.api.serviceRequest(svc.metadata.namespace, svc.metadata.name, { via, node, count });
        answers = reply.answers || [reply];
      } catch (err) {
        // One request that no pod answered (503) is still an answer to show.
        if (err instanceof ApiError && err.body && err.body.answer) answers = [err.body.answer];
        else throw err;
      }
      this.take(answers, "page");
      showResult(status, answers.every((a) => a.status === 200) ? "ok" : "error", `<p>${esc(shortSummary(answers))}</p>`);
    } catch (err) {
      showError(status, err);
    } finally {
      this.sending = false;
      busy(form, false);
    }
  }
}

// "10 requests sent: answered by 4 different pods." (for the live region: short)
export function shortSummary(answers) {
  return fmt(ngettext("%(n)s request sent", "%(n)s requests sent", answers.length), { n: answers.length }) + answeredBy(answers);
}

// "10 requests to Service web: answered by 3 different pods." (someone else's requests)
export function heardSummary(answers) {
  const n = answers.length;
  return fmt(ngettext("%(n)s request to Service %(service)s", "%(n)s requests to Service %(service)s", n), { n, service: answers[0].service }) + answeredBy(answers);
}

// ": answered by 4 different pods. 1 got no answer from a pod."
function answeredBy(answers) {
  const pods = new Set(answers.filter((a) => a.pod && a.status === 200).map((a) => a.pod));
  const failed = answers.filter((a) => !(a.pod && a.status === 200)).length;
  let text = pods.size ? ": " + fmt(ngettext("answered by %(pods)s pod.", "answered by %(pods)s different pods.", pods.size), { pods: pods.size }) : ".";
  if (failed) text += " " + fmt(ngettext("%(n)s got no answer from a pod.", "%(n)s got no answer from a pod.", failed), { n: failed });
  return text;
}

// "10 requests, answered by 4 different pods: a ×3, b ×3, c ×2, d ×2."
export function summary(answers) {
  const by = new Map();
  let failed = 0;
  for (const a of answers) {
    if (a.pod && a.status === 200) by.set(a.pod, (by.get(a.pod) || 0) + 1);
    else failed += 1;
  }
  const parts = [...by.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([pod, n]) => `${pod} ×${n}`);
  let text = fmt(ngettext("%(n)s request", "%(n)s requests", answers.length), { n: answers.length });
  if (by.size) text += ", " + fmt(ngettext("answered by %(pods)s pod", "answered by %(pods)s different pods", by.size), { pods: by.size }) + ": " + parts.join(", ") + ".";
  if (failed) text += " " + fmt(ngettext("%(n)s got no answer from a pod.", "%(n)s got no answer from a pod.", failed), { n: failed });
  return text;
}
