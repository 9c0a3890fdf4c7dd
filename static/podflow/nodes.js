// The worker nodes as kubectl get nodes shows them, with a power switch for each machine
// (POST podflow/v1/nodes/<name>/stop|start): stop one and watch the node controller.
import { gettext, fmt } from "./i18n.js";
import { esc } from "./diagram.js";
import { nodeView } from "./k8s.js";
import { ApiError } from "./api.js";
import { showResult, showError, ok } from "./forms.js";

const $ = (sel, root = document) => root.querySelector(sel);

// Real seconds per Kubernetes second at each speed, and the floor on the grace period
// (cluster/componentbase/timing.py): what the page says about how long each stage of a failure takes.
const SCALE = { instant: 0.01, normal: 0.1, slow: 0.3 };
const GRACE = 40;
const GRACE_FLOOR = 8;
const TOLERATION = 300;

export function failureTiming(speed) {
  const scale = SCALE[speed];
  if (scale === undefined) return null;
  const round = (s) => (s < 10 ? Math.round(s * 10) / 10 : Math.round(s));
  return { grace: round(Math.max(GRACE * scale, GRACE_FLOOR)), toleration: round(TOLERATION * scale) };
}

export class NodesPanel {
  constructor({ state, api, announce, rerender }) {
    this.state = state;
    this.rerender = rerender; // draws the page again, keeping the keyboard focus
    this.api = api;
    this.announce = announce;
    this.unavailable = ""; // why the power switch cannot be used, when it cannot
    this.pending = new Set();
    this.wire();
  }

  render() {
    const body = $("#nodes-body");
    const pods = [...this.state.pods.values()];
    const rows = this.state.sortedNodes().map((node) => {
      const v = nodeView(node);
      const on = pods.filter((p) => p.spec && p.spec.nodeName === v.name);
      const terminating = on.filter((p) => p.metadata.deletionTimestamp).length;
      const word = v.word === "Ready" ? gettext("Ready") : v.word === "NotReady" ? gettext("NotReady") : gettext("Unknown");
      let status = `<span class="node-status ${v.ready ? "is-ready" : "is-notready"}"><span aria-hidden="true">${v.ready ? "✓" : "✕"} </span>${esc(word)}</span>`;
      if (v.unschedulable) status += ` <span class="tag">SchedulingDisabled</span>`;
      if (!v.ready && v.message) status += `<span class="node-why">${esc(fmt(gettext("Ready=%(status)s: %(message)s"), { status: v.conditionStatus, message: v.message }))}</span>`;
      if (v.stopped) status += `<span class="node-why node-off">${esc(v.ready ? gettext("Machine stopped; the node controller has not noticed yet.") : gettext("Machine stopped."))}</span>`;
      // Break a taint after its prefix and before its effect, never inside a word.
      const taints = v.taints.length ? v.taints.map((t) => `<code>${esc(t).replace(/\//g, "/<wbr>").replace(/:/g, ":<wbr>")}</code>`).join("<br>") : `<span class="muted">${esc(gettext("none"))}</span>`;
      const podText = String(on.length) + (terminating ? ` <span class="muted small">${esc(fmt(gettext("(%(n)s terminating)"), { n: terminating }))}</span>` : "");
      const action = v.stopped ? "start" : "stop";
      const label = v.stopped ? fmt(gettext("Start %(node)s"), { node: v.name }) : fmt(gettext("Stop %(node)s"), { node: v.name });
      const disabled = Boolean(this.unavailable);
      const waiting = this.pending.has(v.name); // aria-disabled, not disabled: it keeps the focus
      const button = `<button type="button" class="btn btn-small ${v.stopped ? "btn-primary" : "btn-danger"} node-power" data-node="${esc(v.name)}" data-action="${action}"`
        + ` data-focus-key="power:${esc(v.name)}" aria-label="${esc(label)}"${disabled ? " disabled" : ""}${waiting ? ' aria-disabled="true"' : ""}${this.unavailable ? ' aria-describedby="nodes-status"' : ""}>`
        + `${esc(v.stopped ? gettext("Start") : gettext("Stop"))}</button>`;
      return `<tr data-node="${esc(v.name)}" data-status="${esc(v.kubectlWord)}"${v.stopped ? ' data-stopped="true"' : ""} class="${v.ready ? "" : "is-notready"}">`
        + `<td class="mono nowrap">${esc(v.name)}</td><td>${status}</td><td class="taints">${taints}</td><td>${podText}</td><td>${button}</td></tr>`;
    });
    body.innerHTML = rows.length ? rows.join("") : `<tr><td colspan="5" class="muted">${esc(gettext("No nodes."))}</td></tr>`;
    const timing = failureTiming(this.state.speed);
    $("#nodes-timing").textContent = timing
      ? fmt(gettext("Kubernetes waits 40 s and 300 s; podflow's clocks run faster: at this speed about %(grace)s s, then %(toleration)s s more."), timing)
      : "";
  }

  wire() {
    $("#nodes-body").addEventListener("click", async (event) => {
      const button = event.target.closest("button.node-power");
      if (!button || button.disabled || button.getAttribute("aria-disabled") === "true") return;
      const { node, action } = button.dataset;
      const status = $("#nodes-status");
      this.pending.add(node);
      this.rerender();
      try {
        await this.api.nodePower(node, action);
        const timing = failureTiming(this.state.speed);
        const text = action === "stop"
          ? fmt(gettext("%(node)s is switched off. Its kubelet no longer renews the node's Lease: in about %(grace)s s the node controller marks it NotReady and taints it, then evicts its pods; their ReplicaSets create new ones elsewhere. A bare pod is not replaced."), { node, grace: timing ? timing.grace : 40 })
          : fmt(gettext("%(node)s is switched on: its kubelet starts, reports Ready, renews its Lease, and the node controller removes the taints."), { node });
        showResult(status, "ok", ok(text));
      } catch (err) {
        if (err instanceof ApiError && (err.status === 404 || err.status === 405) && !/nodes? "/.test((err.body && err.body.message) || "")) {
          // The power switch is not there (an older server): say so, and leave it off.
          this.unavailable = gettext("This podflow server has no power switch for nodes (POST …/podflow/v1/nodes/<name>/stop answered 404). Use python manage.py node instead.");
          showResult(status, "error", ok(this.unavailable));
        } else {
          showError(status, err);
        }
      } finally {
        this.pending.delete(node);
        this.rerender();
      }
    });
  }
}
