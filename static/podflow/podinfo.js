// The selected pod in depth: why the scheduler chose its node (per node, per plugin,
// passed or the reason, then the scores), and its containers: state, restarts, waiting and
// terminated reasons, and the probes a learner can make fail.
import { gettext, ngettext, fmt } from "./i18n.js";
import { esc } from "./diagram.js";
import { schedulerReasoning, containerViews, probeText, probeSetting, PROBE_ANNOTATION } from "./k8s.js";
import { showResult, showError, ok } from "./forms.js";

const $ = (sel, root = document) => root.querySelector(sel);

// "NodeResourcesFit" may break as Node·Resources·Fit in a narrow column, never mid-word.
const camel = (name) => esc(name).replace(/([a-z])([A-Z])/g, "$1<wbr>$2");

function pluginHelp(name) {
  return {
    NodeUnschedulable: gettext("the node is not cordoned"),
    NodeName: gettext("spec.nodeName, if the pod names a node"),
    TaintToleration: gettext("the pod tolerates the node's taints"),
    NodeAffinity: gettext("nodeSelector and node affinity"),
    NodeResourcesFit: gettext("room for the pod's CPU, memory, one more pod"),
    NodeResourcesBalancedAllocation: gettext("CPU and memory used evenly"),
  }[name] || "";
}

function scoreHelp(name) {
  return {
    TaintToleration: gettext("fewer taints it must tolerate · weight 3"),
    NodeAffinity: gettext("preferred affinity · weight 2"),
    NodeResourcesFit: gettext("most free CPU and memory · weight 1"),
    NodeResourcesBalancedAllocation: gettext("CPU and memory used evenly · weight 1"),
  }[name] || "";
}

// What a container state's reason means, in words.
function reasonHelp(reason) {
  return {
    ContainerCreating: gettext("The kubelet is preparing the sandbox and pulling the image."),
    ErrImagePull: gettext("The image could not be pulled: is the name or tag right?"),
    ImagePullBackOff: gettext("The pull failed; the kubelet waits longer before each new try (10 s, 20 s, 40 s … 5 min)."),
    ErrImageNeverPull: gettext("imagePullPolicy is Never and the image is not on the node."),
    CrashLoopBackOff: gettext("The container keeps exiting; the kubelet restarts it after a growing back-off."),
    CreateContainerConfigError: gettext("A ConfigMap or Secret that the container reads is missing: it starts once it exists."),
    Completed: gettext("The command finished successfully (exit code 0)."),
    Error: gettext("The command failed (exit code not 0)."),
    OOMKilled: gettext("The container used more memory than its limit and was killed."),
  }[reason] || "";
}

function stateWord(word) {
  return { Running: gettext("Running"), Waiting: gettext("Waiting"), Terminated: gettext("Terminated") }[word] || word;
}

export class PodInfo {
  constructor({ api, announce }) {
    this.api = api;
    this.announce = announce;
    this.pod = null;
    this.pending = new Map(); // "uid|kind" -> the value asked for, until the pod shows it
    this.keys = { scheduling: "", containers: "" };
    this.wire();
  }

  render(pod) {
    this.pod = pod;
    for (const [key, value] of this.pending) {
      const [uid, kind] = key.split("|");
      if (pod && pod.metadata.uid === uid && probeSetting(pod, kind) === value) this.pending.delete(key);
    }
    const version = pod ? `${pod.metadata.uid}@${pod.metadata.resourceVersion}` : "";
    const schedKey = version;
    if (schedKey !== this.keys.scheduling) {
      this.keys.scheduling = schedKey;
      $("#scheduling-body").innerHTML = this.scheduling(pod);
    }
    const contKey = `${version}|${[...this.pending].join(",")}`;
    if (contKey !== this.keys.containers) {
      this.keys.containers = contKey;
      $("#containers-body").innerHTML = this.containers(pod);
    }
  }

  scheduling(pod) {
    if (!pod) return `<p class="muted">${esc(gettext("No pod selected."))}</p>`;
    const r = schedulerReasoning(pod);
    if (!r) {
      if (pod.spec && pod.spec.nodeName) return `<p class="muted">${esc(gettext("No reasoning kept for this pod: its node was set in spec.nodeName without the scheduler's filters."))}</p>`;
      return `<p class="muted">${esc(gettext("The scheduler has not looked at this pod yet."))}</p>`;
    }
    const parts = [];
    const total = r.nodes.length;
    if (r.selected) {
      const top = r.totals[r.selected];
      const tied = Object.keys(r.totals).filter((n) => n !== r.selected && r.totals[n] === top);
      let text;
      if (r.passed.length === 1) text = fmt(gettext("Only %(node)s passed every filter, so no scoring was needed."), { node: r.selected });
      else {
        text = fmt(gettext("%(passed)s of %(total)s nodes passed every filter; %(node)s had the highest total score (%(score)s)."), { passed: r.passed.length, total, node: r.selected, score: top });
        if (tied.length) text += " " + fmt(gettext("%(others)s scored the same; the scheduler takes one of the best."), { others: tied.join(", ") });
      }
      parts.push(`<p class="sched-verdict is-chosen" data-selected="${esc(r.selected)}"><strong><span aria-hidden="true">★ </span>${esc(fmt(gettext("Chosen: %(node)s."), { node: r.selected }))}</strong> ${esc(text)}</p>`);
    } else {
      parts.push(`<div class="sched-verdict is-unschedulable"><p><strong><span aria-hidden="true">✕ </span>${esc(gettext("No node fits this pod. Kubernetes says:"))}</strong></p>`
        + `<blockquote class="k8s-words" lang="en">${esc(r.unschedulable || gettext("(no message yet)"))}</blockquote>`
        + `<p class="small-hint">${esc(gettext("The scheduler tries again when nodes or pods change, for example after kubectl label node, uncordon, or when a pod finishes."))}</p></div>`);
    }
    const head = r.nodes.map((n) => {
      const chosen = n === r.selected;
      return `<th scope="col" class="${chosen ? "is-chosen" : ""}" data-node="${esc(n)}"><span class="mono">${esc(n)}</span>${chosen ? `<span class="chosen-mark">★ ${esc(gettext("chosen"))}</span>` : ""}</th>`;
    }).join("");
    const cols = r.nodes.length + 1;
    let rows = `<tr class="group"><th scope="rowgroup" colspan="${cols}">${esc(gettext("Filters: may the pod run there?"))}</th></tr>`;
    const cell = (value, span, all) => {
      const every = all ? ` <span class="f-all">${esc(fmt(gettext("(all %(n)s nodes)"), { n: r.nodes.length }))}</span>` : "";
      const colspan = span > 1 ? ` colspan="${span}"` : "";
      if (value === undefined) return `<td class="f-skip" data-result="skipped"${colspan}><span aria-hidden="true">– </span>${esc(gettext("not checked"))}${every}</td>`;
      if (value === "passed") return `<td class="f-pass" data-result="passed"${colspan}><span aria-hidden="true">✓ </span>${esc(gettext("passed"))}${every}</td>`;
      // Kubernetes' words, with places to break after "/" and ",".
      const words = esc(value).replace(/([/,])/g, "$1<wbr>");
      return `<td class="f-fail" data-result="failed"${colspan}><span aria-hidden="true">✕ </span><span class="visually-hidden">${esc(gettext("failed:"))} </span><span lang="en">${words}</span>${every}</td>`;
    };
    for (const plugin of r.filterPlugins) {
      const values = r.nodes.map((n) => (r.filters[n] || {})[plugin]);
      // The same answer on every node is said once, across the row.
      const same = values.length > 1 && values.every((v) => v === values[0]);
      const cells = same ? cell(values[0], values.length, true) : values.map((v) => cell(v, 1, false)).join("");
      rows += `<tr><th scope="row"><span class="mono">${camel(plugin)}</span><span class="plugin-help">${esc(pluginHelp(plugin))}</span></th>${cells}</tr>`;
    }
    if (r.scorePlugins.length) {
      rows += `<tr class="group"><th scope="rowgroup" colspan="${cols}">${esc(gettext("Scores: which node is best? (0–100 × weight)"))}</th></tr>`;
      for (const plugin of r.scorePlugins) {
        const cells = r.nodes.map((n) => {
          const s = (r.final[n] || {})[plugin];
          return s === undefined ? `<td class="f-skip">–</td>` : `<td class="num">${esc(s)}</td>`;
        }).join("");
        rows += `<tr><th scope="row"><span class="mono">${camel(plugin)}</span><span class="plugin-help">${esc(scoreHelp(plugin))}</span></th>${cells}</tr>`;
      }
      const totals = r.nodes.map((n) => {
        const t = r.totals[n];
        if (t === undefined) return `<td class="f-skip">–</td>`;
        return n === r.selected ? `<td class="num is-chosen"><strong>★ ${esc(t)}</strong></td>` : `<td class="num">${esc(t)}</td>`;
      }).join("");
      rows += `<tr class="total"><th scope="row">${esc(gettext("Total"))}</th>${totals}</tr>`;
    }
    const outcome = r.nodes.map((n) => {
      let word;
      if (n === r.selected) word = `<strong>★ ${esc(gettext("chosen"))}</strong>`;
      else if (!r.passed.includes(n)) word = esc(gettext("filtered out"));
      else if (r.selected && r.totals[n] === r.totals[r.selected]) word = esc(gettext("same score, not taken"));
      else if (r.selected) word = esc(gettext("lower score"));
      else word = "–";
      return `<td data-node="${esc(n)}">${word}</td>`;
    }).join("");
    rows += `<tr class="outcome"><th scope="row">${esc(gettext("Result"))}</th>${outcome}</tr>`;
    parts.push(`<div class="table-wrap" role="region" aria-labelledby="sched-table-caption" tabindex="0" data-focus-key="sched-table"><table class="grid-table sched-table"><caption id="sched-table-caption" class="visually-hidden">${esc(fmt(gettext("The scheduler's filters and scores for pod %(name)s, per node"), { name: pod.metadata.name }))}</caption>`
      + `<thead><tr><th scope="col">${esc(gettext("Plugin"))}</th>${head}</tr></thead><tbody>${rows}</tbody></table></div>`);
    parts.push(`<p class="small-hint">${esc(gettext("A node is dropped at the first filter that refuses it; the rest are not checked. Only nodes that pass every filter are scored. Kept on the pod as kube-scheduler-simulator's annotations."))}</p>`);
    return parts.join("");
  }

  containers(pod) {
    if (!pod) return `<p class="muted">${esc(gettext("No pod selected."))}</p>`;
    const views = containerViews(pod);
    const cards = views.map((c) => {
      if (!c.created) {
        const why = pod.spec && pod.spec.nodeName ? gettext("The kubelet of its node has not reported it yet.") : gettext("Not created yet: the pod has no node.");
        return `<div class="container-card" data-container="${esc(c.name)}"><p class="c-title"><span class="mono">${esc(c.name)}</span> <span class="muted small">${esc(fmt(gettext("image %(image)s"), { image: c.image }))}</span></p>`
          + `<p class="small-hint">${esc(why)}</p></div>`;
      }
      let state = stateWord(c.state);
      if (c.reason) state += `: ${c.reason}`;
      const help = reasonHelp(c.reason) || (c.state === "Running" ? "" : "");
      const bad = c.state !== "Running" && !["ContainerCreating", "PodInitializing", "Completed"].includes(c.reason);
      const lines = [
        [gettext("State"), `<span class="c-state${bad ? " is-bad" : ""}" data-reason="${esc(c.reason || c.state)}">${bad ? '<span aria-hidden="true">! </span>' : ""}${esc(state)}</span>`
          + (c.message ? `<span class="c-message" lang="en">${esc(c.message)}</span>` : "")
          + (help ? `<span class="c-help">${esc(help)}</span>` : "")],
        [gettext("Ready"), c.ready ? `✓ ${esc(gettext("yes"))}` : `✕ ${esc(gettext("no"))}`],
        [gettext("Restarts"), `<span data-restarts="${c.restarts}">${c.restarts}</span>` + (c.last ? ` <span class="muted small">${esc(fmt(gettext("(last ended: %(reason)s, exit code %(code)s)"), { reason: c.last.reason || "?", code: c.last.exitCode ?? "?" }))}</span>` : "")],
      ];
      return `<div class="container-card" data-container="${esc(c.name)}"><p class="c-title"><span class="mono">${esc(c.name)}</span> <span class="muted small">${esc(fmt(gettext("image %(image)s"), { image: c.image }))}</span></p>`
        + `<dl class="facts">${lines.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${v}</dd></div>`).join("")}</dl></div>`;
    }).join("");
    return cards + this.probes(pod, views);
  }

  probes(pod, views) {
    const name = pod.metadata.name;
    const kinds = [
      ["readiness", gettext("Readiness probe"), views.find((c) => c.readinessProbe), gettext("Failing: after the failures it allows, the kubelet marks the container not ready. The pod keeps running but leaves its Services' endpoints, so it gets no requests.")],
      ["liveness", gettext("Liveness probe"), views.find((c) => c.livenessProbe), gettext("Failing: the kubelet kills the container and starts it again, and again; the restart count grows.")],
    ];
    if (!kinds.some(([, , c]) => c)) {
      return `<div class="probes probes-none"><p class="minihead">${esc(gettext("Probes"))}</p><p class="small-hint">${esc(gettext("No container of this pod declares a readiness or liveness probe. Kubernetes then counts a container ready as soon as it starts and never restarts it for its health, so the podflow.dev/readiness and podflow.dev/liveness annotations change nothing. Create a pod or deployment “With readiness and liveness probes” to try them."))}</p></div>`;
    }
    const gone = Boolean(pod.metadata.deletionTimestamp);
    return `<div class="probes">` + kinds.map(([kind, title, c, effect]) => {
      if (!c) return `<p class="small-hint">${esc(fmt(gettext("%(probe)s: none declared, so the annotation would change nothing."), { probe: title }))}</p>`;
      const probe = kind === "readiness" ? c.readinessProbe : c.livenessProbe;
      const pending = this.pending.get(`${pod.metadata.uid}|${kind}`);
      const value = pending || probeSetting(pod, kind);
      const id = `probe-${kind}`;
      const radio = (v, label) => `<label class="seg"><input type="radio" name="${id}" value="${v}" data-kind="${kind}" data-focus-key="${id}:${v}"${value === v ? " checked" : ""}${gone ? " disabled" : ""}><span>${esc(label)}</span></label>`;
      return `<fieldset class="probe" data-probe="${kind}" data-setting="${value}"${pending ? ' aria-busy="true"' : ""}>`
        + `<legend>${esc(title)}</legend><p class="probe-what mono">${esc(probeText(probe))}</p>`
        + `<div class="segmented">${radio("pass", gettext("passes"))}${radio("fail", gettext("fails"))}</div>`
        + `<p class="small-hint">${esc(effect)}</p>`
        + `<p class="small-hint mono">kubectl annotate pod ${esc(name)} ${esc(PROBE_ANNOTATION[kind])}=${esc(value)} --overwrite</p>`
        + `</fieldset>`;
    }).join("") + `</div>`;
  }

  wire() {
    $("#containers-body").addEventListener("change", async (event) => {
      const input = event.target;
      if (!input.dataset.kind || !this.pod) return;
      const pod = this.pod;
      const kind = input.dataset.kind;
      const value = input.value;
      const key = `${pod.metadata.uid}|${kind}`;
      this.pending.set(key, value);
      const status = $("#probe-status");
      try {
        await this.api.annotatePod(pod.metadata.namespace, pod.metadata.name, { [PROBE_ANNOTATION[kind]]: value });
        const text = kind === "readiness"
          ? (value === "fail" ? gettext("The readiness probe of %(name)s now fails: Ready turns False after a few periods.") : gettext("The readiness probe of %(name)s passes again: Ready turns True."))
          : (value === "fail" ? gettext("The liveness probe of %(name)s now fails: its container will be restarted.") : gettext("The liveness probe of %(name)s passes again: no more restarts."));
        showResult(status, "ok", ok(fmt(text, { name: pod.metadata.name })));
      } catch (err) {
        this.pending.delete(key);
        this.keys.containers = "";
        showError(status, err);
      }
    });
  }
}
