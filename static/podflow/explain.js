// The explain panel: the API server's answer to "why is this pod as it is, and who is
// responsible?" (podflow/v1 .../pods/<name>/explain), beside the selected pod, with the
// responsible component marked on the diagram in words and outline.
import { gettext, LANG } from "./i18n.js";

const COMPONENTS = {
  scheduler: () => gettext("scheduler"),
  "controller-manager": () => gettext("controller manager"),
  kubelet: () => gettext("kubelet"),
  "container-runtime": () => gettext("container runtime"),
  "api-server": () => gettext("API server"),
  "node-controller": () => gettext("node controller"),
  clock: () => gettext("the paused clock"),
};

function switchedOff(err) {
  const causes = (err && err.status === 403 && err.body && err.body.details && err.body.details.causes) || [];
  return causes.some((cause) => cause.reason === "ExplainSwitchedOff");
}

export class ExplainPanel {
  constructor({ api }) {
    this.api = api;
    this.root = document.getElementById("explain");
    this.key = ""; // the pod and version last asked about
    this.pending = null;
    this.seq = 0;
  }

  // Ask again whenever the selected pod changes (another pod, or a new version of it);
  // at most once every 300 ms however fast the stream writes.
  show(pod) {
    if (!pod) {
      this.key = "";
      this.root.hidden = true;
      this.root.dataset.component = "";
      return;
    }
    this.node = (pod.spec && pod.spec.nodeName) || "";
    // The diagram was just drawn again: mark the responsible component on it again.
    this.mark(this.root.dataset.component || "");
    const key = `${pod.metadata.uid}@${pod.metadata.resourceVersion}`;
    if (key === this.key) return;
    this.key = key;
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.fetch(pod.metadata.namespace, pod.metadata.name), 300);
  }

  async fetch(namespace, name) {
    const seq = ++this.seq;
    let answer;
    try {
      answer = await this.api.explain(namespace, name);
    } catch (err) {
      if (seq === this.seq && switchedOff(err)) this.off();
      return; // a pod deleted meanwhile: the next selection asks again
    }
    if (seq !== this.seq) return;
    const component = answer.component || "";
    this.root.hidden = false;
    this.root.querySelector(".explain-component").textContent = component ? (COMPONENTS[component] || (() => component))() : gettext("nobody: all is well");
    this.root.querySelector(".explain-reason").textContent = answer.reason || "";
    const summary = (answer.summary && (answer.summary[LANG] || answer.summary.en)) || "";
    const el = this.root.querySelector(".explain-summary");
    if (el.textContent !== summary) el.textContent = summary;
    this.root.dataset.reason = answer.reason || "";
    this.root.dataset.component = component;
    this.mark(component);
  }

  // A lab's troubleshooting step switched explain off: say so, and mark nothing.
  off() {
    this.root.hidden = false;
    this.root.querySelector(".explain-component").textContent = gettext("Explain is switched off");
    this.root.querySelector(".explain-reason").textContent = "";
    const text = gettext("This lab step asks you to find the cause yourself: use kubectl get, kubectl describe and kubectl events, as on a real cluster.");
    const el = this.root.querySelector(".explain-summary");
    if (el.textContent !== text) el.textContent = text;
    this.root.dataset.reason = "ExplainSwitchedOff";
    this.root.dataset.component = "";
    this.mark("");
  }

  mark(component) {
    const svg = document.getElementById("diagram-svg");
    if (!svg) return;
    for (const g of svg.querySelectorAll(".comp-responsible")) g.classList.remove("comp-responsible");
    // The node controller is part of the controller manager; a kubelet and a runtime are
    // the pod's node's own.
    const id = component === "node-controller" ? "controller-manager" : component;
    if (!id || id === "clock") return;
    const onNode = this.node ? svg.querySelector(`.node[data-node="${CSS.escape(this.node)}"] .comp[data-component="${id}"]`) : null;
    const target = onNode || svg.querySelector(`.comp[data-component="${id}"]`);
    if (target) target.classList.add("comp-responsible");
  }
}
