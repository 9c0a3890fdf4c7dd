// The picture of note 001: three ways into the cluster from outside, NodePort, LoadBalancer
// and Ingress, as hops (keyboard tabs choose one). The last request sent through one of
// them lights its hops and names, in words, the node, rule, Service and pod it really took.
import { gettext, fmt } from "./i18n.js";
import { esc } from "./diagram.js";
import { tablist } from "./tabs.js";
import { ingressRoutes, ingressAddresses, routeWhere, answerWords } from "./ingress.js";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export const WAYS = ["nodeport", "loadbalancer", "ingress"];

// Which way in an answer took, from what the simulated curl says of itself.
export function wayOf(answer) {
  if (!answer) return null;
  if (answer.ingress) return { way: "ingress" };
  const via = answer.via || "";
  let m = /^loadBalancer (\S+) → nodePort (\d+) on (\S+)/.exec(via);
  if (m) return { way: "loadbalancer", address: m[1], nodePort: m[2], node: m[3] };
  m = /^nodePort (\d+) on (\S+)/.exec(via);
  if (m) return { way: "nodeport", nodePort: m[1], node: m[2] };
  return null; // from inside the cluster (cluster IP, DNS): not a way in from outside
}

function podText(a) {
  if (!a.pod) return "";
  return fmt(gettext("pod %(pod)s (%(ip)s) on %(node)s"), { pod: a.pod, ip: `${a.podIP || ""}:${a.targetPort || ""}`, node: a.node || "?" });
}

function podsText(answers) {
  const by = new Map();
  for (const a of answers) if (a.pod && a.status === 200) by.set(a.pod, (by.get(a.pod) || 0) + 1);
  if (answers.length === 1) return podText(answers[0]);
  return [...by.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([p, n]) => `${p} ×${n}`).join(", ");
}

export class WaysIn {
  constructor({ state, ingressToShow }) {
    this.state = state;
    this.ingressToShow = ingressToShow; // () => the Ingress whose rules the picture lists
    this.last = null; // {way, info, answers, time}
    this.showTab = tablist($$('#waysin [role="tab"]'));
  }

  show(answers, source) {
    const info = wayOf(answers && answers[0]);
    if (!info) return;
    this.last = { ...info, answers, time: Date.now() };
    // The learner's own request: bring its way into view. Someone else's (kubectl, another
    // tab) lights it without moving the tabs under the learner's hands.
    if (source === "page") this.select(info.way, false);
    this.render();
  }

  render() {
    for (const way of WAYS) {
      const lit = this.last && this.last.way === way ? this.last : null;
      const panel = $(`#waysin-${way}`);
      const hops = way === "nodeport" ? this.nodePortHops(lit) : way === "loadbalancer" ? this.loadBalancerHops(lit) : this.ingressHops(lit);
      const html = hops.map((h, i) => `<li class="hop${h.fan ? " hop-fan" : ""}" data-hop="${h.key}" data-lit="${Boolean(lit && h.lit !== false)}" style="--i:${i}">`
        + `<span class="hop-name">${esc(h.name)}</span> <span class="hop-detail">${h.detailHtml || esc(h.detail || "")}</span>`
        + (lit && h.actual ? ` <span class="hop-actual"><span aria-hidden="true">➜ </span>${h.code ? `<code>${esc(h.actual)}</code>` : esc(h.actual)}</span>` : "")
        + (lit && h.lit === false ? ` <span class="hop-actual hop-skipped">${esc(gettext("not reached"))}</span>` : "")
        + `</li>`).join("");
      const list = $(".hops", panel);
      if (list.dataset.html !== html) {
        list.innerHTML = html;
        list.dataset.html = html;
      }
      panel.dataset.lit = String(Boolean(lit));
      const caption = $(".waysin-last", panel);
      caption.textContent = lit ? this.caption(lit) : "";
      caption.hidden = !lit;
      const tab = $(`#waysin-tab-${way}`);
      $(".tab-lit", tab).textContent = lit ? ` · ${gettext("last request")}` : "";
      tab.dataset.lit = String(Boolean(lit));
    }
  }

  caption(lit) {
    const a = lit.answers[0];
    const n = lit.answers.length;
    const head = n === 1 ? gettext("The last request took this path:") : fmt(gettext("The last %(n)s requests took this path:"), { n });
    const hops = [];
    if (lit.way === "ingress") {
      hops.push(fmt(gettext("ingress controller on %(node)s (%(address)s)"), { node: a.entryNode || "?", address: a.address || "?" }));
      hops.push(answerWords({ ...a, pod: null }));
      if (a.pod) hops.push(podsText(lit.answers));
    } else {
      if (lit.way === "loadbalancer") hops.push(fmt(gettext("load balancer %(address)s"), { address: lit.address }));
      hops.push(fmt(gettext("node port %(port)s on %(node)s"), { port: lit.nodePort, node: lit.node }));
      hops.push(fmt(gettext("kube-proxy on %(node)s"), { node: lit.node }));
      hops.push(fmt(gettext("Service %(service)s"), { service: a.service || "" }));
      hops.push(a.pod ? podsText(lit.answers) : gettext("no ready pod (connection refused)"));
    }
    return `${head} ${gettext("client")} → ${hops.join(" → ")}`;
  }

  clientHop(lit, example) {
    const a = lit ? lit.answers[0] : null;
    let actual = "";
    if (a && a.ingress && a.address) actual = `curl -H "Host: ${a.host}" http://${a.address}${a.path || "/"}`;
    else if (a && a.url) actual = `curl ${a.url}`;
    // Lit, the command actually sent stands in for the example.
    return { key: "client", name: gettext("Client, outside the cluster"), detailHtml: actual ? "" : `<code>${esc(example)}</code>`, actual, code: true };
  }

  podHop(lit) {
    const a = lit ? lit.answers[0] : null;
    return {
      key: "pod", name: gettext("Pod"), detail: gettext("one of the Service's ready pods"),
      actual: lit ? podsText(lit.answers) : "", lit: a ? Boolean(a.pod) : undefined,
    };
  }

  nodePortHops(lit) {
    return [
      this.clientHop(lit, "curl node-2:30080"),
      { key: "nodeport", name: gettext("Any node's port"), detail: gettext("Every node opens the Service's node port (30000–32767); the client must know a node's address."), actual: lit ? `${lit.node}:${lit.nodePort}` : "" },
      { key: "kube-proxy", name: "kube-proxy", detail: gettext("Its iptables rules on that node pick a ready pod at random. L4: it sees only addresses and ports."), actual: lit ? fmt(gettext("on %(node)s"), { node: lit.node }) : "" },
      this.podHop(lit),
    ];
  }

  loadBalancerHops(lit) {
    return [
      this.clientHop(lit, "curl 192.168.49.200:80"),
      { key: "loadbalancer", name: gettext("External load balancer"), detail: gettext("One address for this one Service: each LoadBalancer Service gets its own (in a cloud, its own bill)."), actual: lit ? lit.address : "" },
      { key: "nodeport", name: gettext("A node's port"), detail: gettext("The load balancer spreads connections over the nodes' node port."), actual: lit ? `${lit.node}:${lit.nodePort}` : "" },
      { key: "kube-proxy", name: "kube-proxy", detail: gettext("Its iptables rules pick a ready pod at random. Still L4: address and port only."), actual: lit ? fmt(gettext("on %(node)s"), { node: lit.node }) : "" },
      this.podHop(lit),
    ];
  }

  ingressHops(lit) {
    const a = lit ? lit.answers[0] : null;
    const ing = (a && this.state.find("ingresses", a.namespace, a.ingress)) || this.ingressToShow();
    const routes = ing ? ingressRoutes(ing) : [
      { rule: 0, pathIndex: 0, host: "shop.example.com", path: "/", pathType: "Prefix", service: "shop", port: 80, example: true },
      { rule: 0, pathIndex: 1, host: "shop.example.com", path: "/api", pathType: "Prefix", service: "api", port: 80, example: true },
    ];
    const matched = (r) => a && a.rule && r.rule === a.rule.index && r.pathIndex === a.rule.pathIndex;
    const fan = `<ul class="fan">${routes.map((r) => `<li${matched(r) ? ' data-matched="true"' : ""}>`
      + (matched(r) ? `<strong>✓ ${esc(gettext("matched"))}:</strong> ` : "")
      + (r.isDefault ? esc(gettext("anything else (defaultBackend)")) : `<span class="mono">${esc(routeWhere(r.host, r.path, r.pathType))}</span>`)
      + ` → <span class="mono">${esc(r.service)}:${esc(r.port)}</span>${r.example ? ` <span class="muted">${esc(gettext("(example)"))}</span>` : ""}</li>`).join("")}</ul>`;
    const address = ing ? ingressAddresses(ing)[0] : null;
    const reached = a ? Boolean(a.service) : undefined;
    let ruleActual = "";
    if (a) {
      ruleActual = a.rule
        ? fmt(gettext("rule %(n)s: %(where)s"), { n: a.rule.index + 1, where: routeWhere(a.rule.host, a.rule.path, a.rule.pathType) })
        : a.status === 404 ? gettext("no rule matched: the controller's default backend answered 404") : answerWords(a);
    }
    return [
      this.clientHop(lit, `curl -H "Host: shop.example.com" http://${address || "192.168.49.2"}/api`),
      {
        key: "controller", name: gettext("Ingress controller"),
        detail: gettext("One address for many Services. It reads the HTTP request's Host header and path (L7) and picks a rule."),
        actual: a ? fmt(gettext("on %(node)s (%(address)s:80)"), { node: a.entryNode || "?", address: a.address || "?" }) : "",
        lit: a ? Boolean(a.address) : undefined,
      },
      { key: "rules", name: gettext("Rules: host and path"), detailHtml: fan, actual: ruleActual, fan: true, lit: a ? Boolean(a.address) : undefined },
      { key: "service", name: gettext("Service"), detail: gettext("The matched rule's Service; the controller sends to its ready endpoints."), actual: a && a.service ? `${a.service}:${a.servicePort || ""}` : "", lit: reached },
      { ...this.podHop(lit), lit: a ? Boolean(a.pod) : undefined },
    ];
  }

  select(way, focus) {
    this.showTab($(`#waysin-tab-${way}`), focus);
  }
}
