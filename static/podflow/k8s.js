// Reading Kubernetes objects for the page: a pod's status word, its readiness, the
// resources it requests. What kubectl prints the server prints (an object's `display`).

function condition(obj, type) {
  return ((obj.status && obj.status.conditions) || []).find((c) => c.type === type);
}

export function isReady(pod) {
  const ready = condition(pod, "Ready");
  return Boolean(ready && ready.status === "True");
}

// What kubectl prints of a pod or a node (its STATUS word, READY, RESTARTS, the quantities)
// is worked out by the server and sent with the object as `display` (see
// cluster/apiserver/serializers/display.py); the page shows it and does not print
// Kubernetes objects itself. An object without it (none comes from the stream) is read
// from its phase alone.
const PHASE_KEYS = { Pending: "pending", Running: "running", Succeeded: "succeeded", Failed: "failed" };

function podDisplay(pod) {
  if (pod.display) return pod.display;
  const status = pod.status || {};
  const phase = status.phase || "Pending";
  const deleting = Boolean(pod.metadata.deletionTimestamp) && phase !== "Succeeded" && phase !== "Failed";
  const statuses = status.containerStatuses || [];
  const count = statuses.reduce((n, c) => n + (Number(c.restartCount) || 0), 0);
  let key = deleting ? "terminating" : PHASE_KEYS[phase] || "unknown";
  if (key === "running" && isReady(pod)) key = "ready";
  return {
    status: deleting ? "Terminating" : phase,
    key,
    reason: "",
    ready: `${statuses.filter((c) => c.ready).length}/${((pod.spec && pod.spec.containers) || []).length}`,
    restarts: String(count),
    restartCount: count,
    evicted: false,
    requests: { cpu: "0", memory: "0", milliCpu: 0, memoryBytes: 0 },
    holdsResources: phase !== "Succeeded" && phase !== "Failed",
  };
}

// kubectl's STATUS column, as the server printed it.
export function podStatusReason(pod) {
  return podDisplay(pod).status;
}

export function restartCount(pod) {
  return podDisplay(pod).restartCount;
}

// What the pod is doing, as one word (kubectl's STATUS column) and as a state key the
// diagram draws with its own shape:
//   pending, creating, running, ready, terminating, succeeded, failed, unknown.
// `restarts` is the count; `restartsText` kubectl's RESTARTS column ("3 (45s ago)", as old
// as the message that brought it: for showing only).
export function podView(pod) {
  const status = pod.status || {};
  const d = podDisplay(pod);
  return {
    word: d.status,
    key: d.key,
    reason: d.reason,
    ready: isReady(pod),
    readyText: d.ready,
    restarts: d.restartCount,
    restartsText: d.restarts,
    evicted: d.evicted,
    node: (pod.spec && pod.spec.nodeName) || "",
    ip: status.podIP || "",
    phase: status.phase || "Pending",
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

const NO_AMOUNTS = { cpu: "0", memory: "0", milliCpu: 0, memoryBytes: 0 };

// `allocatable`: what pods may take of the node, as the server printed it
// ({cpu: "4", memory: "8Gi", milliCpu, memoryBytes}).
export function nodeView(node) {
  const ready = condition(node, "Ready");
  const status = ready ? ready.status : "Unknown";
  const unschedulable = Boolean(node.spec && node.spec.unschedulable);
  const d = node.display;
  const kubectlWord = d ? d.status : (status === "True" ? "Ready" : ready ? "NotReady" : "Unknown") + (unschedulable ? ",SchedulingDisabled" : "");
  const taints = ((node.spec && node.spec.taints) || []).map((t) => `${t.key}${t.value ? "=" + t.value : ""}:${t.effect}`);
  const annotations = (node.metadata && node.metadata.annotations) || {};
  return {
    name: node.metadata.name,
    ready: d ? d.ready : status === "True",
    word: kubectlWord.split(",")[0],
    kubectlWord,
    conditionStatus: status,
    message: ready && status !== "True" ? ready.message || ready.reason || "" : "",
    taints,
    unschedulable,
    stopped: STOPPED_ANNOTATION in annotations,
    ip: ((node.status && node.status.addresses) || []).find((a) => a.type === "InternalIP")?.address || "",
    allocatable: (d && d.allocatable) || NO_AMOUNTS,
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

// What the pod's containers request, in cores and bytes (the server's sums).
export function podRequests(pod) {
  const r = podDisplay(pod).requests;
  return { cpu: r.milliCpu / 1000, memory: r.memoryBytes };
}

// Sums the page makes (a node's pods' requests) written as the server writes a quantity:
// whole cores or millicores ("4", "1500m"); memory with the binary or decimal suffix that
// divides it exactly ("64Mi", "100M"), else to a tenth of the nearest binary unit.
export function formatCpu(cores) {
  const milli = Math.round(cores * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

const BINARY = [["Ei", 1024 ** 6], ["Pi", 1024 ** 5], ["Ti", 1024 ** 4], ["Gi", 1024 ** 3], ["Mi", 1024 ** 2], ["Ki", 1024]];
const DECIMAL = [["E", 1e18], ["P", 1e15], ["T", 1e12], ["G", 1e9], ["M", 1e6], ["k", 1e3]];

export function formatMemory(bytes) {
  const b = Math.round(bytes);
  if (b === 0) return "0";
  const exact = [];
  for (const units of [BINARY, DECIMAL]) {
    const unit = units.find(([, size]) => b % size === 0);
    if (unit) exact.push(`${b / unit[1]}${unit[0]}`);
  }
  if (exact.length) return exact.reduce((best, t) => (t.length < best.length ? t : best));
  const unit = BINARY.find(([, size]) => b >= size);
  return unit ? `${(b / unit[1]).toFixed(1)}${unit[0]}` : String(b);
}

export function nodeReady(node) {
  if (node.display) return node.display.ready;
  const ready = condition(node, "Ready");
  return Boolean(ready && ready.status === "True");
}

// A pod counts against its node's capacity until it has finished.
export function holdsResources(pod) {
  return podDisplay(pod).holdsResources;
}
