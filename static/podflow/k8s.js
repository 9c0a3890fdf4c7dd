// Reading Kubernetes objects the way kubectl does: a pod's status word, its readiness,
// the resources it requests.

function condition(obj, type) {
  return ((obj.status && obj.status.conditions) || []).find((c) => c.type === type);
}

export function isReady(pod) {
  const ready = condition(pod, "Ready");
  return Boolean(ready && ready.status === "True");
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
  let word = phase;
  let reason = "";
  let key;
  const waiting = statuses.map((c) => c.state && c.state.waiting).find((w) => w && w.reason);
  const terminated = statuses.map((c) => c.state && c.state.terminated).find((t) => t && t.reason);
  if (pod.metadata.deletionTimestamp) {
    word = "Terminating";
    key = "terminating";
  } else if (waiting) {
    word = waiting.reason;
    key = waiting.reason === "ContainerCreating" || waiting.reason === "PodInitializing" ? "creating" : "failed";
    reason = waiting.message || "";
  } else if (phase === "Running") {
    key = ready ? "ready" : "running";
  } else if (phase === "Succeeded") {
    word = terminated ? terminated.reason : phase;
    key = "succeeded";
  } else if (phase === "Failed") {
    word = terminated ? terminated.reason : status.reason || phase;
    key = "failed";
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
    node,
    ip: status.podIP || "",
    phase,
  };
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
