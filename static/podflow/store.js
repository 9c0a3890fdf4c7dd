// The page's copy of the cluster, kept from the websocket's snapshot and changes.
// Objects are keyed by metadata.uid; steps by (pod uid, step number).

const KINDS = {
  Pod: "pods",
  Node: "nodes",
  Deployment: "deployments",
  ReplicaSet: "replicasets",
  Event: "events",
  Service: "services",
  Endpoints: "endpoints",
  ConfigMap: "configmaps",
  Secret: "secrets", // values already redacted by the server: "(N bytes)"
  Ingress: "ingresses",
  IngressClass: "ingressclasses",
};
const MAX_EVENTS = 400;

export class MissingBase extends Error {}

// RFC 7386: objects merge, null deletes, anything else (lists too) replaces. Returns a new
// object; the parts the patch does not touch are shared with `target`.
export function mergePatch(target, patch) {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out = target !== null && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

export class ClusterState {
  constructor(name) {
    this.name = name;
    this.revision = 0;
    this.speed = "";
    this.pods = new Map();
    this.nodes = new Map();
    this.deployments = new Map();
    this.replicasets = new Map();
    this.events = new Map();
    this.services = new Map();
    this.endpoints = new Map();
    this.configmaps = new Map();
    this.secrets = new Map();
    this.ingresses = new Map();
    this.ingressclasses = new Map();
    this.steps = new Map(); // pod uid -> Map(number -> step)
    this.createdAt = new Map(); // pod uid -> revision it was first seen at (for "newest")
    this.ready = false; // a snapshot has arrived
  }

  // Returns the steps that are new to us (not seen before), for announcing.
  applySnapshot(msg) {
    this.revision = msg.revision;
    this.speed = (msg.cluster && msg.cluster.speed) || this.speed;
    for (const [field, list] of [
      ["pods", msg.pods], ["nodes", msg.nodes], ["deployments", msg.deployments],
      ["replicasets", msg.replicasets], ["events", msg.events],
      ["services", msg.services], ["endpoints", msg.endpoints],
      ["configmaps", msg.configmaps], ["secrets", msg.secrets],
      ["ingresses", msg.ingresses], ["ingressclasses", msg.ingressclasses],
    ]) {
      const map = new Map();
      for (const obj of list || []) map.set(obj.metadata.uid, obj);
      this[field] = map;
    }
    const fresh = this._addSteps(msg.steps || []);
    for (const uid of [...this.steps.keys()]) if (!this.pods.has(uid)) this.steps.delete(uid);
    for (const uid of [...this.createdAt.keys()]) if (!this.pods.has(uid)) this.createdAt.delete(uid);
    for (const [uid, pod] of this.pods) {
      if (this.createdAt.has(uid)) continue;
      const steps = this.steps.get(uid);
      const first = steps && steps.size ? Math.min(...[...steps.values()].map((s) => s.revision)) : Infinity;
      this.createdAt.set(uid, Number.isFinite(first) ? first : parseInt(pod.metadata.resourceVersion || "0", 10));
    }
    this.ready = true;
    return fresh;
  }

  // A change the page cannot apply — a patch to a version it does not hold — throws
  // MissingBase, and the page asks for a fresh snapshot.
  applyChange(msg) {
    if (msg.revision <= this.revision) return [];
    const field = KINDS[msg.kind];
    const obj = msg.patch ? this._patched(field, msg) : msg.object;
    this.revision = msg.revision;
    if (field && obj && obj.metadata) {
      const uid = obj.metadata.uid;
      if (msg.change === "DELETED") {
        this[field].delete(uid);
        if (field === "pods") this.createdAt.delete(uid);
      } else {
        this[field].set(uid, obj);
        if (field === "pods" && !this.createdAt.has(uid)) this.createdAt.set(uid, msg.revision);
        if (field === "events" && this.events.size > MAX_EVENTS) {
          this.events.delete(this.events.keys().next().value);
        }
      }
    }
    return this._addSteps(msg.steps || []);
  }

  // A modified object sent as a merge patch of the version before (`base`, web/delta.py):
  // applied to that version; one already newer has the change (null: nothing to store).
  _patched(field, msg) {
    const known = field ? this[field].get(msg.uid) : undefined;
    const version = known ? String(known.metadata.resourceVersion) : "";
    if (known && version === String(msg.base)) {
      const obj = mergePatch(known, msg.patch);
      if (msg.display) obj.display = msg.display;
      else delete obj.display;
      return obj;
    }
    if (known && parseInt(version, 10) >= msg.revision) return null;
    throw new MissingBase(`${msg.kind} ${msg.uid}: have ${version || "nothing"}, the patch is to ${msg.base}`);
  }

  applyCluster(msg) {
    if (msg.cluster && msg.cluster.speed) this.speed = msg.cluster.speed;
  }

  _addSteps(steps) {
    const fresh = [];
    for (const step of steps) {
      let byNumber = this.steps.get(step.pod_uid);
      if (!byNumber) {
        byNumber = new Map();
        this.steps.set(step.pod_uid, byNumber);
      }
      const known = byNumber.get(step.number);
      if (!known || known.revision !== step.revision || known.status !== step.status) fresh.push(step);
      byNumber.set(step.number, step);
    }
    return fresh;
  }

  // Steps of the pod, keyed by number, or an empty map.
  stepsOf(uid) {
    return this.steps.get(uid) || new Map();
  }

  newestPod() {
    let best = null;
    let bestRev = -1;
    for (const [uid, pod] of this.pods) {
      const rev = this.createdAt.get(uid) || 0;
      if (rev > bestRev) {
        best = pod;
        bestRev = rev;
      }
    }
    return best;
  }

  podByName(name) {
    for (const pod of this.pods.values()) if (pod.metadata.name === name) return pod;
    return null;
  }

  sortedNodes() {
    return [...this.nodes.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name, "en", { numeric: true }));
  }

  sortedPods() {
    return [...this.pods.values()].sort((a, b) => (this.createdAt.get(a.metadata.uid) || 0) - (this.createdAt.get(b.metadata.uid) || 0));
  }

  // Objects of a kind sorted by namespace and name.
  sorted(field) {
    return [...this[field].values()].sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`, "en", { numeric: true }));
  }

  find(field, namespace, name) {
    for (const obj of this[field].values()) if (obj.metadata.name === name && (obj.metadata.namespace || "") === (namespace || "")) return obj;
    return null;
  }

  eventsFor(uid, limit = 12) {
    const out = [];
    for (const ev of this.events.values()) if (ev.involvedObject && ev.involvedObject.uid === uid) out.push(ev);
    out.sort((a, b) => parseInt(a.metadata.resourceVersion, 10) - parseInt(b.metadata.resourceVersion, 10));
    return out.slice(-limit);
  }
}
