// One-click faults: the "Break something" menu of the control bar. The scheduler and the
// controller manager switches are wired by the clock (clock.js); here are a node's power,
// the selected pod's probes and a pod with an image tag that does not exist — each with a
// sentence of what to expect. Every fault is an ordinary API call a learner could make
// with kubectl (the command is shown).
import { gettext, fmt } from "./i18n.js";
import { esc } from "./diagram.js";
import { nodeView, probeSetting, PROBE_ANNOTATION } from "./k8s.js";
import { showResult, showError } from "./forms.js";

const BAD_IMAGE = "nginx:no-such-tag";

export class FaultsPanel {
  constructor({ state, api, announce, selectedPod, onCreated }) {
    this.state = state;
    this.api = api;
    this.announce = announce;
    this.selectedPod = selectedPod;
    this.onCreated = onCreated;
    this.toggle = document.getElementById("faults-toggle");
    this.menu = document.getElementById("faults-menu");
    this.status = document.getElementById("faults-status");
    this.keys = {};
    this.chosenNode = "";
    this.wire();
  }

  wire() {
    this.toggle.addEventListener("click", () => this.setOpen(this.menu.hidden));
    // Escape closes the menu wherever the focus is (a button it disabled may have lost it).
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.menu.hidden) {
        this.setOpen(false);
        this.toggle.focus();
      }
    });
    document.addEventListener("click", (event) => {
      if (!this.menu.hidden && !this.menu.contains(event.target) && !this.toggle.contains(event.target)) this.setOpen(false);
    });
    this.menu.addEventListener("change", (event) => {
      if (event.target.id === "fault-node-select") {
        this.chosenNode = event.target.value;
        this.keys.node = "";
        this.render();
      }
    });
    this.menu.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-fault]");
      if (button && !button.disabled) this.act(button);
    });
  }

  setOpen(open) {
    this.menu.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) this.render();
  }

  async act(button) {
    const fault = button.dataset.fault;
    this.refocus = button.dataset.focusKey; // back on it once the menu is drawn again
    button.disabled = true;
    try {
      let said = "";
      if (fault === "node") {
        const { node, action } = button.dataset;
        await this.api.nodePower(node, action);
        said = action === "stop"
          ? fmt(gettext("Node %(node)s is switched off: its kubelet no longer renews the node's Lease."), { node })
          : fmt(gettext("Node %(node)s is switched on: its kubelet reports Ready again."), { node });
      } else if (fault === "probe") {
        const pod = this.selectedPod();
        if (!pod) return;
        const { kind, value } = button.dataset;
        await this.api.annotatePod(pod.metadata.namespace, pod.metadata.name, { [PROBE_ANNOTATION[kind]]: value });
        said = kind === "readiness"
          ? (value === "fail" ? gettext("The readiness probe of %(name)s now fails: Ready turns False after a few periods.") : gettext("The readiness probe of %(name)s passes again: Ready turns True."))
          : (value === "fail" ? gettext("The liveness probe of %(name)s now fails: its container will be restarted.") : gettext("The liveness probe of %(name)s passes again: no more restarts."));
        said = fmt(said, { name: pod.metadata.name });
      } else if (fault === "bad-image" || fault === "probed-pod") {
        const prefix = fault === "bad-image" ? "bad-image" : "probed";
        const name = this.freeName(prefix);
        const image = fault === "bad-image" ? BAD_IMAGE : "nginx:1.27";
        await this.api.createPod({ name, image, probes: fault === "probed-pod" });
        if (this.onCreated) this.onCreated(name);
        said = fault === "bad-image"
          ? fmt(gettext("Pod %(name)s asks for %(image)s, a tag that does not exist: watch step 7."), { name, image })
          : fmt(gettext("Pod %(name)s has readiness and liveness probes: select it and make one fail."), { name });
      }
      showResult(this.status, "ok", `<p><span aria-hidden="true">✓ </span>${esc(said)}</p>`);
    } catch (err) {
      showError(this.status, err);
    } finally {
      button.disabled = false;
      this.keys = {};
      this.render();
    }
  }

  freeName(prefix) {
    let i = 1;
    while (this.state.podByName(`${prefix}-${i}`)) i += 1;
    return `${prefix}-${i}`;
  }

  // Cheap when nothing it shows has changed: each part is rebuilt only when its text differs.
  render() {
    if (this.menu.hidden) return;
    this.part("node", this.nodeHtml());
    this.part("probes", this.probesHtml());
    this.part("image", this.imageHtml());
  }

  part(key, html) {
    if (this.keys[key] === html) return;
    this.keys[key] = html;
    const root = document.getElementById(`fault-${key}`);
    let focused = root.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    if (!focused && this.refocus && (!document.activeElement || document.activeElement === document.body)) focused = this.refocus;
    root.innerHTML = html;
    if (focused) {
      const again = root.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`);
      if (again) {
        again.focus();
        if (focused === this.refocus) this.refocus = null;
      }
    }
  }

  nodeHtml() {
    const nodes = this.state.sortedNodes().map(nodeView);
    if (!nodes.length) return `<p class="fault-what">${esc(gettext("This sandbox has no worker nodes."))}</p>`;
    if (!nodes.some((n) => n.name === this.chosenNode)) this.chosenNode = nodes[0].name;
    const chosen = nodes.find((n) => n.name === this.chosenNode);
    const action = chosen.stopped ? "start" : "stop";
    const options = nodes.map((n) => `<option value="${esc(n.name)}"${n.name === this.chosenNode ? " selected" : ""}>${esc(n.name)} (${esc(n.stopped ? gettext("switched off") : n.word)})</option>`).join("");
    return `<label class="fault-node-label">${esc(gettext("Node"))} <select id="fault-node-select" data-focus-key="fault-node-select">${options}</select></label> `
      + `<button type="button" class="btn btn-small ${chosen.stopped ? "btn-primary" : "btn-danger"}" data-fault="node" data-node="${esc(chosen.name)}" data-action="${action}" data-focus-key="fault-node">`
      + `${esc(chosen.stopped ? gettext("Switch the node on") : gettext("Switch the node off"))}</button>`
      + `<p class="fault-what">${esc(chosen.stopped
        ? gettext("Its kubelet renews the Lease again: the node turns Ready and the scheduler may use it.")
        : gettext("Its kubelet stops renewing the node's Lease: after the grace period the node turns NotReady, then its pods are evicted and their ReplicaSets make new ones elsewhere."))}</p>`;
  }

  probesHtml() {
    const pod = this.selectedPod();
    const containers = (pod && pod.spec && pod.spec.containers) || [];
    const has = (kind) => containers.some((c) => c[`${kind}Probe`]);
    if (!pod || (!has("readiness") && !has("liveness"))) {
      const lead = pod
        ? fmt(gettext("Pod %(name)s declares no probes, so there is none to make fail."), { name: pod.metadata.name })
        : gettext("No pod is selected.");
      return `<p class="fault-what">${esc(lead)}</p>`
        + `<button type="button" class="btn btn-small" data-fault="probed-pod" data-focus-key="fault-probed">${esc(gettext("Run a pod with probes"))}</button>`;
    }
    const name = pod.metadata.name;
    const gone = Boolean(pod.metadata.deletionTimestamp);
    const buttons = ["readiness", "liveness"].filter(has).map((kind) => {
      const failing = probeSetting(pod, kind) === "fail";
      const label = kind === "readiness"
        ? (failing ? gettext("Let readiness pass") : gettext("Make readiness fail"))
        : (failing ? gettext("Let liveness pass") : gettext("Make liveness fail"));
      return `<button type="button" class="btn btn-small${failing ? " btn-primary" : " btn-danger"}" data-fault="probe" data-kind="${kind}" data-value="${failing ? "pass" : "fail"}"`
        + ` data-focus-key="fault-${kind}" aria-pressed="${failing}"${gone ? " disabled" : ""}>${esc(label)}</button>`;
    }).join(" ");
    return `<p class="fault-lead">${esc(fmt(gettext("Probes of pod %(name)s:"), { name }))}</p> ${buttons}`
      + `<p class="fault-what">${esc(gettext("Readiness failing: the pod keeps running but turns not Ready and leaves its Services' endpoints. Liveness failing: the kubelet restarts the container again and again, into CrashLoopBackOff."))}</p>`;
  }

  imageHtml() {
    return `<button type="button" class="btn btn-small btn-danger" data-fault="bad-image" data-focus-key="fault-bad-image">${esc(gettext("Run a pod with a bad image"))}</button>`
      + `<p class="fault-what">${esc(fmt(gettext("The image %(image)s does not exist: the pod is scheduled, but step 7 fails with ErrImagePull, then ImagePullBackOff, and the kubelet keeps trying."), { image: BAD_IMAGE }))}</p>`;
  }
}
