// The Ingress panel: the sandbox's Ingresses (class, host/path rules → Service:port, address),
// a simulated `curl -H "Host: …" http://<address><path>` through one of them, and its answers
// in words: which rule matched, which Service and pod answered, or the default backend's 404.
import { gettext, ngettext, fmt } from "./i18n.js";
import { esc } from "./diagram.js";
import { ApiError } from "./api.js";
import { showResult, showError, busy } from "./forms.js";
import { AnswerBatch } from "./marks.js";

const $ = (sel, root = document) => root.querySelector(sel);

const keyOf = (obj) => `${obj.metadata.namespace}/${obj.metadata.name}`;

// Every host/path of an Ingress, in the order written: {rule, host, path, pathType, service, port}.
export function ingressRoutes(ing) {
  const spec = ing.spec || {};
  const out = [];
  (spec.rules || []).forEach((rule, i) => {
    (((rule || {}).http || {}).paths || []).forEach((p, j) => {
      const svc = ((p || {}).backend || {}).service || {};
      const port = svc.port || {};
      out.push({ rule: i, pathIndex: j, host: rule.host || "", path: p.path || "/", pathType: p.pathType || "", service: svc.name || "", port: port.number || port.name || "" });
    });
  });
  const def = (spec.defaultBackend || {}).service;
  if (def) out.push({ rule: null, host: "", path: "", pathType: "", service: def.name || "", port: (def.port || {}).number || (def.port || {}).name || "", isDefault: true });
  return out;
}

export function ingressAddresses(ing) {
  return (((ing.status || {}).loadBalancer || {}).ingress || []).map((i) => i.ip || i.hostname).filter(Boolean);
}

export function ingressClass(ing) {
  return (ing.spec || {}).ingressClassName || ((ing.metadata || {}).annotations || {})["kubernetes.io/ingress.class"] || "";
}

// "shop.example.com /api (Prefix)", or "any host /status (Exact)".
export function routeWhere(host, path, pathType) {
  const h = host || gettext("any host");
  return pathType ? `${h} ${path} (${pathType})` : `${h} ${path}`;
}

// One answer in words: the rule, the Service, the pod — or why nothing answered.
export function answerWords(a) {
  const bits = [];
  if (a.rule) {
    bits.push(fmt(gettext("rule %(n)s matched (host %(host)s, path %(path)s, %(pathType)s)"), {
      n: a.rule.index + 1, host: a.rule.host || gettext("any host"), path: a.rule.path, pathType: a.rule.pathType,
    }));
  } else if (a.defaultBackend) {
    bits.push(gettext("no rule matched: the Ingress's defaultBackend"));
  } else if (a.status === 404) {
    return fmt(gettext("No rule matches host %(host)s and path %(path)s, and the Ingress has no defaultBackend: the ingress controller's own default backend answered 404."), { host: a.host || "", path: a.path || "" });
  }
  if (a.service) bits.push(fmt(gettext("Service %(service)s:%(port)s"), { service: a.service, port: a.servicePort || "" }));
  if (a.pod) bits.push(fmt(gettext("pod %(pod)s on %(node)s"), { pod: a.pod, node: a.node || "?" }));
  let text = bits.join(" → ");
  if (a.status === 503 && a.service) text += " — " + fmt(gettext("✕ 503: Service %(service)s has no ready pod to send it to."), { service: a.service });
  else if (a.status === 503 && !a.address) text = gettext("✕ 503: the Ingress has no address yet (no ingress controller serves it, or no node is Ready).");
  else if (a.status !== 200 && a.status !== 404 && a.status !== 503) text += " — " + fmt(gettext("✕ the pod answered %(code)s"), { code: a.status });
  return text;
}

export class IngressPanel {
  constructor({ state, api, announce, onMarks, onAnswers }) {
    this.state = state;
    this.api = api;
    this.announce = announce;
    this.onMarks = onMarks;
    this.onAnswers = onAnswers || (() => {});
    this.selected = null; // "namespace/name"
    this.marks = new AnswerBatch({ redraw: () => this.onMarks(), expired: () => this.renderAnswers() }); // the newest answers
    this.formShape = null; // the Ingresses the form's choices were made from
    this.filledFor = null; // the Ingress whose first host/path the form was filled with
    this.wire();
  }

  ingresses() {
    return this.state.sorted("ingresses");
  }

  ingress() {
    return this.selected ? this.state.find("ingresses", ...this.selected.split("/")) : null;
  }

  render() {
    const list = this.ingresses();
    if (!this.ingress()) this.selected = list.length ? keyOf(list[0]) : null;
    $("#ingress-count").textContent = String(list.length);
    const body = $("#ingresses-body");
    if (!list.length) {
      body.innerHTML = `<tr><td colspan="4" class="muted">${gettext("No Ingresses yet. Make two Services, then <code>kubectl create ingress store --rule=\"shop.example.com/*=shop:80\" --rule=\"shop.example.com/api*=api:80\"</code>.")}</td></tr>`;
    } else {
      body.innerHTML = list.map((ing) => {
        const key = keyOf(ing);
        const sel = key === this.selected;
        const routes = ingressRoutes(ing);
        const addresses = ingressAddresses(ing);
        const ns = ing.metadata.namespace !== "default" ? `<span class="owner">${esc(fmt(gettext("namespace %(ns)s"), { ns: ing.metadata.namespace }))}</span>` : "";
        const rules = routes.length
          ? `<ul class="route-list">${routes.map((r) => `<li data-rule="${r.rule === null ? "default" : r.rule}">`
            + (r.isDefault ? esc(gettext("anything else (defaultBackend)")) : `<span class="mono">${esc(routeWhere(r.host, r.path, r.pathType))}</span>`)
            + ` → <span class="mono">${esc(r.service)}:${esc(r.port)}</span></li>`).join("")}</ul>`
          : esc(gettext("no rules"));
        return `<tr data-ingress="${esc(key)}" class="${sel ? "is-selected" : ""}">`
          + `<td><button type="button" class="linkish select-ingress" data-ingress="${esc(key)}" data-focus-key="ing:${esc(key)}" aria-pressed="${sel}"><span class="mono">${esc(ing.metadata.name)}</span></button>${ns}</td>`
          + `<td class="mono">${esc(ingressClass(ing) || "—")}</td>`
          + `<td>${rules}</td>`
          + `<td class="mono ingress-address">${addresses.length ? esc(addresses.join(", ")) : `<span class="muted">${esc(gettext("none yet"))}</span>`}</td></tr>`;
      }).join("");
    }
    this.renderForm(list);
  }

  renderForm(list) {
    const form = $("#ingress-form");
    const select = form.elements.ingress;
    const shape = list.map(keyOf).join(",");
    if (shape !== this.formShape) {
      select.innerHTML = list.length
        ? list.map((ing) => `<option value="${esc(keyOf(ing))}">${esc(ing.metadata.namespace === "default" ? ing.metadata.name : keyOf(ing))}</option>`).join("")
        : `<option value="">${esc(gettext("(no Ingresses yet)"))}</option>`;
      this.formShape = shape;
    }
    if (this.selected && select.value !== this.selected) select.value = this.selected;
    const ing = this.ingress();
    for (const el of form.elements) if (el.tagName !== "FIELDSET") el.disabled = !ing;
    const hosts = ing ? [...new Set(ingressRoutes(ing).map((r) => r.host).filter(Boolean))] : [];
    const options = hosts.map((h) => `<option value="${esc(h)}"></option>`).join("");
    const datalist = $("#ingress-hosts");
    if (datalist.dataset.options !== options) {
      datalist.innerHTML = options;
      datalist.dataset.options = options;
    }
    // A newly chosen Ingress: start from its first rule, which the learner then changes.
    if (ing && this.filledFor !== this.selected) {
      const first = ingressRoutes(ing).find((r) => !r.isDefault);
      form.elements.host.value = first ? first.host : "";
      form.elements.path.value = first ? first.path : "/";
      this.filledFor = this.selected;
    }
    this.renderCommand();
  }

  renderCommand() {
    const form = $("#ingress-form");
    const ing = this.ingress();
    const out = $("#ingress-command");
    if (!ing) {
      out.textContent = "curl -H \"Host: shop.example.com\" http://<address>/";
      return;
    }
    const address = ingressAddresses(ing)[0] || "<pending>";
    const host = form.elements.host.value.trim();
    let path = form.elements.path.value.trim() || "/";
    if (!path.startsWith("/")) path = "/" + path;
    const one = `curl${host ? ` -H "Host: ${host}"` : ""} http://${address}${path}`;
    const count = form.elements.count.value;
    const cmd = count === "1" ? one : `for i in $(seq ${count}); do ${one.replace("curl", "curl -s")}; done`;
    out.innerHTML = `${esc(cmd)} <span class="cmd-comment"># ${esc(gettext("from outside the cluster, to the ingress controller"))}</span>`;
  }

  // --- answers ---

  take(answers, source) {
    if (!answers || !answers.length || !this.marks.take(answers, source)) return;
    this.renderAnswers();
    this.onAnswers(answers, source);
  }

  renderAnswers() {
    const batch = this.marks.current;
    const section = $("#ingress-answers");
    if (!batch) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    const n = batch.answers.length;
    $("#ingress-answers-heading").textContent = fmt(ngettext("The last request through Ingress %(ingress)s", "The last %(n)s requests through Ingress %(ingress)s", n), { n, ingress: batch.first.ingress });
    $("#ingress-answers-summary").textContent = ingressSummary(batch.answers);
    $("#ingress-answers-list").innerHTML = batch.answers.map((a) => {
      const ok = a.status === 200;
      const where = a.url ? `<span class="answer-via mono">${esc(a.url)}</span> ` : "";
      const entry = a.entryNode ? `<span class="answer-via">${esc(fmt(gettext("entered at %(node)s (%(address)s)"), { node: a.entryNode, address: a.address || "" }))}</span> ` : "";
      const result = ok
        ? `<span class="answer-code">${esc(a.status)} · ${esc(a.body || "")}</span>`
        : `<span class="answer-code answer-error">✕ ${esc(a.status)}${a.body ? " · " + esc(a.body) : ""}</span>`;
      return `<li class="answer${ok ? "" : " is-error"}" data-pod="${esc(a.pod || "")}" data-service="${esc(a.service || "")}" data-status="${esc(a.status)}" data-rule="${a.rule ? esc(a.rule.index) : "none"}">`
        + `<span class="answer-route">${ok ? "✓ " : ""}${esc(answerWords(a))}</span> ${where}${entry}${result}</li>`;
    }).join("");
    section.dataset.fresh = String(this.marks.isFresh());
  }

  hitsFor(pod) {
    return this.marks.hitsFor(pod);
  }

  // --- wiring ---

  wire() {
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button.select-ingress");
      if (!button) return;
      this.selected = button.dataset.ingress;
      this.render();
    });
    const form = $("#ingress-form");
    form.elements.ingress.addEventListener("change", () => {
      this.selected = form.elements.ingress.value || null;
      this.render();
    });
    form.addEventListener("input", () => this.renderCommand());
    form.addEventListener("change", () => this.renderCommand());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  async send() {
    const ing = this.ingress();
    const form = $("#ingress-form");
    const status = $("#ingress-request-status");
    if (!ing) return;
    const count = parseInt(form.elements.count.value, 10) || 1;
    busy(form, true);
    try {
      let answers;
      try {
        const reply = await this.api.ingressRequest(ing.metadata.namespace, ing.metadata.name, {
          host: form.elements.host.value.trim(), path: form.elements.path.value.trim() || "/", count,
        });
        answers = reply.answers || [reply];
      } catch (err) {
        // A 404 from the default backend, or a 503, is still an answer to show.
        if (err instanceof ApiError && err.body && err.body.answer) answers = [err.body.answer];
        else throw err;
      }
      this.take(answers, "page");
      const ok = answers.every((a) => a.status === 200);
      showResult(status, ok ? "ok" : "error", `<p>${ok ? "" : '<span aria-hidden="true">✕ </span>'}${esc(ingressSummary(answers))}</p>`);
    } catch (err) {
      showError(status, err);
    } finally {
      busy(form, false);
    }
  }
}

// "10 requests: rule 2 matched (…) → Service api:80; answered by 2 different pods: a ×6, b ×4."
export function ingressSummary(answers) {
  const n = answers.length;
  const first = answers[0];
  let text = fmt(ngettext("%(n)s request", "%(n)s requests", n), { n }) + ": ";
  const by = new Map();
  let failed = 0;
  for (const a of answers) {
    if (a.pod && a.status === 200) by.set(a.pod, (by.get(a.pod) || 0) + 1);
    else failed += 1;
  }
  if (!by.size) return text + answerWords(first);
  if (n === 1) return text + answerWords(first) + ".";
  const route = answerWords({ ...first, pod: null });
  const parts = [...by.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([pod, k]) => `${pod} ×${k}`);
  text += `${route}; ` + fmt(ngettext("answered by %(pods)s pod", "answered by %(pods)s different pods", by.size), { pods: by.size }) + ": " + parts.join(", ") + ".";
  if (failed) text += " " + fmt(ngettext("%(n)s got no answer from a pod.", "%(n)s got no answer from a pod.", failed), { n: failed });
  return text;
}
