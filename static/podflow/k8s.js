// Reading Kubernetes objects the way kubectl does: a pod's status word, its readiness,
// the resources it requests.

function condition(obj, type) {
  return ((obj.status && obj.status.conditions) || []).find((c) => c.type === type);
}

export function isReady(pod) {
  const ready = condition(pod, "Ready");
  return Boolean(ready && ready.status === "True");
}

// kubectl's STATUS column (printPod): the phase, overridden by a container's waiting or
// terminated reason (the last container's wins), Completed beside a running container read
// as Running or NotReady, Terminating while a deleted pod has not finished.
export function podStatusReason(pod) {
  const status = pod.status || {};
  let reason = status.reason || status.phase || "Pending";
  const statuses = status.containerStatuses || [];
  for (let i = statuses.length - 1; i >= 0; i--) {
    const state = statuses[i].state || {};
    if (state.waiting && state.waiting.reason) { reason = state.waiting.reason; break; }
    if (state.terminated && state.terminated.reason) { reason = state.terminated.reason; break; }
    if (state.terminated) {
      reason = state.terminated.signal ? `Signal:${state.terminated.signal}` : `ExitCode:${state.terminated.exitCode || 0}`;
      break;
    }
  }
  const hasRunning = statuses.some((c) => c.state && c.state.running && c.ready);
  if (reason === "Completed" && hasRunning) reason = isReady(pod) ? "Running" : "NotReady";
  if (pod.metadata.deletionTimestamp && status.reason === "NodeLost") reason = "Unknown";
  else if (pod.metadata.deletionTimestamp && status.phase !== "Succeeded" && status.phase !== "Failed") reason = "Terminating";
  return reason;
}

export const WAITING_STARTING = new Set(["ContainerCreating", "PodInitializing"]);

export function restartCount(pod) {
  return ((pod.status && pod.status.containerStatuses) || []).reduce((n, c) => n + (Number(c.restartCount) || 0), 0);
}

// What the pod is doing, as one word (kubectl's STATUS column) and as a state key the
// diagram draws with its own shape:
//   pending, creating, running, ready, terminating, succeeded, failed, unknown.
export function podView(pod) {
  const status = pod.status || {};
  const phase = status.phase || "Pending";
  const containers = (pod.spec && pod.spec.containers) || [];
  const statuses = status.containerStatuses || [];
  const readyCount = statuses.filter((c) => c.ready).length;
  const ready = isReady(pod);
  const node = (pod.spec && pod.spec.nodeName) || "";
  const scheduled = condition(pod, "PodScheduled");
  const word = podStatusReason(pod);
  let reason = "";
  let key;
  let evicted = false;
  const waiting = statuses.map((c) => c.state && c.state.waiting).find((w) => w && w.reason === word);
  const terminated = statuses.map((c) => c.state && c.state.terminated).find((t) => t && (t.reason === word || !t.reason));
  if (word === "Terminating" || (word === "Unknown" && pod.metadata.deletionTimestamp)) {
    key = "terminating";
    const disruption = condition(pod, "DisruptionTarget");
    if (disruption && disruption.status === "True") {
      reason = disruption.message || disruption.reason || "";
      evicted = true;
    }
  } else if (waiting) {
    key = WAITING_STARTING.has(word) ? "creating" : "failed";
    reason = waiting.message || "";
  } else if (word === "Completed" || (phase === "Succeeded" && !terminated)) {
    key = "succeeded";
  } else if (terminated) {
    key = "failed";
    reason = terminated.message || (terminated.exitCode !== undefined ? `exit code ${terminated.exitCode}` : "");
  } else if (phase === "Running" || word === "Running" || word === "NotReady") {
    key = ready ? "ready" : "running";
  } else if (phase === "Failed") {
    key = "failed";
    reason = status.message || "";
  } else if (phase === "Pending") {
    key = "pending";
    if (scheduled && scheduled.status === "False") reason = scheduled.message || scheduled.reason || "";
  } else {
    key = "unknown";
  }
  return {
    word,
    key,
    reason,
    ready,
    readyText: `${readyCount}/${containers.length}`,
    restarts: restartCount(pod),
    evicted,
    node,
    ip: status.podIP || "",
    phase,
  };
}

// Each container of a pod with its state as kubectl describe shows it.
export function containerViews(pod) {
  const statuses = (pod.status && pod.status.containerStatuses) || [];
  return ((pod.spec && pod.spec.containers) || []).map((c) => {
    const st = statuses.find((s) => s.name === c.name) || {};
    const state = st.state || {};
    let stateWord = "Waiting";
    let reason = "";
    let message = "";
    if (state.running) {
      stateWord = "Running";
    } else if (state.terminated) {
      stateWord = "Terminated";
      reason = state.terminated.reason || "";
      message = state.terminated.message || (state.terminated.exitCode !== undefined ? `exit code ${state.terminated.exitCode}` : "");
    } else if (state.waiting) {
      reason = state.waiting.reason || "";
      message = state.waiting.message || "";
    }
    const last = (st.lastState && st.lastState.terminated) || null;
    return {
      name: c.name,
      image: c.image || "",
      created: Boolean(st.name), // the kubelet reports it: the pod has a node and got that far
      state: stateWord,
      reason,
      message,
      ready: Boolean(st.ready),
      restarts: Number(st.restartCount) || 0,
      last: last ? { reason: last.reason || "", exitCode: last.exitCode, finishedAt: last.finishedAt || "" } : null,
      readinessProbe: c.readinessProbe || null,
      livenessProbe: c.livenessProbe || null,
    };
  });
}

// "httpGet :80 /", "tcpSocket :5432", "exec cat /tmp/healthy": what a probe checks.
export function probeText(probe) {
  if (!probe) return "";
  let what = "";
  if (probe.httpGet) what = `httpGet :${probe.httpGet.port ?? ""}${probe.httpGet.path || "/"}`;
  else if (probe.tcpSocket) what = `tcpSocket :${probe.tcpSocket.port ?? ""}`;
  else if (probe.grpc) what = `grpc :${probe.grpc.port ?? ""}`;
  else if (probe.exec) what = `exec ${((probe.exec.command) || []).join(" ")}`;
  const period = probe.periodSeconds || 10;
  const threshold = probe.failureThreshold || 3;
  return `${what} · every ${period}s · ${threshold}× to fail`;
}

export const PROBE_ANNOTATION = { readiness: "podflow.dev/readiness", liveness: "podflow.dev/liveness" };
const FAILING = new Set(["fail", "failing", "false", "0", "no"]);

// What the pod's annotation says the probe of `kind` does: "fail" or "pass".
export function probeSetting(pod, kind) {
  const value = ((pod.metadata && pod.metadata.annotations) || {})[PROBE_ANNOTATION[kind]];
  return value !== undefined && FAILING.has(String(value).trim().toLowerCase()) ? "fail" : "pass";
}

// The scheduler's reasoning kept on the pod (kube-scheduler-simulator's annotations).
const SIM = "kube-scheduler-simulator.sigs.k8s.io/";
export const FILTER_PLUGINS = ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodeResourcesFit"];

function parseJson(text) {
  if (typeof text !== "string" || !text) return null;
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch (err) {
    return null;
  }
}

export function schedulerReasoning(pod) {
  const ann = (pod.metadata && pod.metadata.annotations) || {};
  const filters = parseJson(ann[`${SIM}filter-result`]);
  if (!filters) return null;
  const final = parseJson(ann[`${SIM}finalscore-result`]) || {};
  const raw = parseJson(ann[`${SIM}score-result`]) || {};
  let selected = ann[`${SIM}selected-node`] || "";
  if (selected.startsWith("\"")) {
    try { selected = JSON.parse(selected); } catch (err) { /* a plain name */ }
  }
  const nodes = Object.keys(filters).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const filterPlugins = [...FILTER_PLUGINS];
  for (const n of nodes) for (const p of Object.keys(filters[n] || {})) if (!filterPlugins.includes(p)) filterPlugins.push(p);
  const scorePlugins = [];
  for (const n of Object.keys(final)) for (const p of Object.keys(final[n] || {})) if (p !== "total" && !scorePlugins.includes(p)) scorePlugins.push(p);
  // A node's list stops at the filter that refused it: it passed when every entry did.
  const passed = nodes.filter((n) => {
    const results = Object.values(filters[n] || {});
    return results.length > 0 && results.every((r) => r === "passed");
  });
  const totals = {};
  for (const n of Object.keys(final)) totals[n] = Number(final[n].total);
  const scheduled = condition(pod, "PodScheduled");
  return {
    nodes,
    filters,
    filterPlugins,
    scorePlugins,
    final,
    raw,
    totals,
    passed,
    selected,
    unschedulable: !selected && scheduled && scheduled.status === "False" ? (scheduled.message || scheduled.reason || "") : "",
  };
}

// Nodes as kubectl get nodes reads them, plus what the page knows of the machine.
export const STOPPED_ANNOTATION = "podflow.dev/stopped";

export function nodeView(node) {
  const ready = condition(node, "Ready");
  const status = ready ? ready.status : "Unknown";
  let word = status === "True" ? "Ready" : ready ? "NotReady" : "Unknown";
  const unschedulable = Boolean(node.spec && node.spec.unschedulable);
  const kubectlWord = word + (unschedulable ? ",SchedulingDisabled" : "");
  const taints = ((node.spec && node.spec.taints) || []).map((t) => `${t.key}${t.value ? "=" + t.value : ""}:${t.effect}`);
  const annotations = (node.metadata && node.metadata.annotations) || {};
  return {
    name: node.metadata.name,
    ready: status === "True",
    word,
    kubectlWord,
    conditionStatus: status,
    message: ready && status !== "True" ? ready.message || ready.reason || "" : "",
    taints,
    unschedulable,
    stopped: STOPPED_ANNOTATION in annotations,
    ip: ((node.status && node.status.addresses) || []).find((a) => a.type === "InternalIP")?.address || "",
  };
}

// Deployments and their ReplicaSets, as kubectl get deploy / get rs / rollout status read them.
export const REVISION = "deployment.kubernetes.io/revision";
export const HASH_LABEL = "pod-template-hash";

export function revisionOf(obj) {
  const value = ((obj.metadata && obj.metadata.annotations) || {})[REVISION];
  const n = parseInt(value, 10);
  return Number.isNaN(n) ? null : n;
}

export function ownedBy(obj, ownerObj) {
  return ((obj.metadata && obj.metadata.ownerReferences) || []).some((r) => r.uid === ownerObj.metadata.uid);
}

// The sentence kubectl rollout status would print, as a key and its numbers.
export function rolloutState(dep) {
  const spec = dep.spec || {};
  const st = dep.status || {};
  const want = spec.replicas ?? 1;
  const updated = st.updatedReplicas || 0;
  const total = st.replicas || 0;
  const available = st.availableReplicas || 0;
  const progressing = ((st.conditions) || []).find((c) => c.type === "Progressing");
  if (progressing && progressing.reason === "ProgressDeadlineExceeded") return { key: "deadline", want, updated, total, available, message: progressing.message || "" };
  if (spec.paused) return { key: "paused", want, updated, total, available };
  if ((dep.metadata.generation || 0) > (st.observedGeneration || 0)) return { key: "observing", want, updated, total, available };
  if (updated < want) return { key: "updating", want, updated, total, available };
  if (total > updated) return { key: "terminating-old", want, updated, total, available, old: total - updated };
  if (available < updated) return { key: "availability", want, updated, total, available };
  return { key: "complete", want, updated, total, available };
}

export function portsText(ports) {
  return (ports || []).map((p) => `${p.port}${p.nodePort ? ":" + p.nodePort : ""}/${p.protocol || "TCP"}`).join(",");
}

export function dnsName(svc) {
  return `${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`;
}

// The addresses of an Endpoints object: ready ones and not-ready ones, with their pod.
export function endpointAddresses(ep) {
  const ready = [];
  const notReady = [];
  for (const subset of (ep && ep.subsets) || []) {
    const ports = (subset.ports || []).map((p) => p.port);
    const port = ports.length ? ports[0] : "";
    for (const a of subset.addresses || []) ready.push({ ip: a.ip, port, pod: (a.targetRef && a.targetRef.name) || "", node: a.nodeName || "" });
    for (const a of subset.notReadyAddresses || []) notReady.push({ ip: a.ip, port, pod: (a.targetRef && a.targetRef.name) || "", node: a.nodeName || "" });
  }
  return { ready, notReady };
}

export function owner(obj) {
  const refs = (obj.metadata && obj.metadata.ownerReferences) || [];
  return refs.find((r) => r.controller) || refs[0] || null;
}

// Kubernetes quantities: "250m" CPU, "64Mi" memory, "1.5", "2e3".
const SUFFIX = {
  n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
};

export function parseQuantity(text) {
  if (text === undefined || text === null) return 0;
  const m = /^([+-]?[0-9.]+)(?:([eE][-+]?[0-9]+)|([a-zA-Z]*))$/.exec(String(text).trim());
  if (!m) return 0;
  const value = parseFloat(m[1]);
  if (m[2]) return value * Math.pow(10, parseInt(m[2].slice(1), 10));
  const factor = SUFFIX[m[3] || ""];
  return factor === undefined ? 0 : value * factor;
}

export function podRequests(pod) {
  let cpu = 0;
  let memory = 0;
  for (const c of (pod.spec && pod.spec.containers) || []) {
    const req = (c.resources && c.resources.requests) || {};
    cpu += parseQuantity(req.cpu);
    memory += parseQuantity(req.memory);
  }
  return { cpu, memory };
}

export function formatCpu(cores) {
  if (cores === 0) return "0";
  if (cores < 1) return `${Math.round(cores * 1000)}m`;
  return Number.isInteger(cores) ? String(cores) : cores.toFixed(2).replace(/0+$/, "");
}

export function formatMemory(bytes) {
  if (bytes === 0) return "0";
  const units = [["Gi", 1024 ** 3], ["Mi", 1024 ** 2], ["Ki", 1024]];
  for (const [unit, size] of units) {
    if (bytes >= size) {
      const v = bytes / size;
      return `${Number.isInteger(v) ? v : v.toFixed(1)}${unit}`;
    }
  }
  return String(bytes);
}

export function nodeReady(node) {
  const ready = condition(node, "Ready");
  return Boolean(ready && ready.status === "True");
}

// A pod counts against its node's capacity until it has finished.
export function holdsResources(pod) {
  const phase = (pod.status && pod.status.phase) || "Pending";
  return phase !== "Succeeded" && phase !== "Failed";
}
