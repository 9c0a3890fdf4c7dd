"""The watch inspector: which components each committed change reached, and which it woke.

Every component list-watches the API server: its informers receive each ADDED, MODIFIED
and DELETED event of the kinds they watch (`WATCHERS`), and its handlers decide which of
them queue work. Here that decision is `wake.for_change`, the pure function the store's
commit listener runs (wake.route); `inspect` runs it again over the change log, so what a
learner reads is what the listener did, not a second opinion.

`for_change` needs four things: the change's type, the object before (`old`) and after
(`new`), and who wrote it (`by`), since a component is not woken by its own writes. The
change log holds each version's document, so `old` is the previous row of the same object
(unknown once compaction dropped it: `woke` is then None rather than a guess). It does not
hold the writer (`Change` has no such column): `writer` derives it where it honestly can —

* from the step log, recorded with the write (exact): step 3 is the ReplicaSet
  controller's create, step 4 the scheduler's bind (or a client's own binding), steps 5–8
  the kubelet's status writes, steps 1–2 a client's create;
* from the object itself (inferred, as Kubernetes divides the work): an Event names the
  component that reported it; a node Lease is renewed by its kubelet; an EndpointSlice
  labelled managed-by the EndpointSlice controller is that controller's; a change to a
  Deployment's, ReplicaSet's, Service's or Ingress's status only is its controller's; a
  pod's status only is its kubelet's once bound (the scheduler's before: PodScheduled);
  a pod created with a ReplicaSet as controller is the ReplicaSet controller's, a
  ReplicaSet created with a Deployment as controller the Deployment controller's; a bound
  pod removed after its deletion began is removed by its kubelet; a Deployment, Service,
  ConfigMap, Secret or Ingress created, or its spec or data changed, is a client's (no
  component writes those); ...
* otherwise unknown (None): the wake-ups are then computed as for a client's write.

Known limits of the inference: a pod's Ready=False written by the node controller (its node
lost) reads as the kubelet's; who began a deletion (a client, the ReplicaSet controller,
the garbage collector, the namespace controller) is not known. Storing the writer in the
change log would make all of it exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Max

from cluster.apimachinery import kinds, metav1, wellknown
from cluster.apiserver import etcd, history, store
from cluster.informers import wake
from cluster.models import Change, Cluster, Step

SCHEDULER, CONTROLLER_MANAGER, KUBELET = "scheduler", "controller-manager", "kubelet"

# What each task is, in the words of the component that runs it.
CONTROLLERS = {
    wake.RECONCILE_DEPLOYMENT: "Deployment controller",
    wake.RECONCILE_REPLICASET: "ReplicaSet controller",
    wake.COLLECT_GARBAGE: "garbage collector",
    wake.SCHEDULE_POD: "scheduler",
    wake.SCHEDULE_PENDING: "scheduler",
    wake.SCHEDULE_QUEUE: "scheduler",
    wake.SYNC_POD: "kubelet",
    wake.SYNC_KUBELETS: "kubelet",
    wake.RECONCILE_ENDPOINTS: "Endpoints and EndpointSlice controllers",
    wake.SYNC_NAMESPACE_ENDPOINTS: "Endpoints and EndpointSlice controllers",
    wake.RECONCILE_LOADBALANCER: "service controller",
    wake.RECONCILE_NAMESPACE: "namespace controller",
    wake.RECONCILE_INGRESS: "ingress controller",
    wake.SYNC_INGRESSES: "ingress controller",
    wake.SYNC_CONFIG_WAITERS: "kubelet",
}

_ALL_KINDS = sorted(k.kind for k in kinds.ALL)
_NAMESPACED = sorted(k.kind for k in kinds.ALL if k.namespaced)

# The kinds each controller of the controller manager watches: those of which a change may
# wake it in `wake.for_change`. The garbage collector watches every kind (the owners of
# anything may go), the namespace controller every namespaced kind (a terminating namespace
# waits for its last object).
CONTROLLER_WATCHES = {
    "Deployment controller": ["Deployment", "ReplicaSet"],
    "ReplicaSet controller": ["Pod", "ReplicaSet"],
    "garbage collector": _ALL_KINDS,
    "namespace controller": sorted({"Namespace", *_NAMESPACED}),
    "Endpoints and EndpointSlice controllers": ["EndpointSlice", "Endpoints", "Pod", "Service"],
    "service controller": ["Service"],
    "ingress controller": ["Endpoints", "Ingress", "IngressClass", "Node", "Service"],
}

# The kinds each component's informers list-watch (a kubelet watches the pods bound to its
# own node only, and the ConfigMaps and Secrets its pods wait for).
WATCHERS = {
    SCHEDULER: ["Node", "Pod"],
    CONTROLLER_MANAGER: sorted({kind for watched in CONTROLLER_WATCHES.values() for kind in watched}),
    KUBELET: ["ConfigMap", "Pod", "Secret"],
}


def task_name(task: str) -> str:
    """cluster.tasks.schedule_pod -> schedule_pod"""
    return task.rsplit(".", 1)[-1]


def woken(cluster_id: int, type_: str, old: dict | None, new: dict, by: str) -> list[dict[str, str]]:
    """The components a committed change wakes, one entry per task, in the listener's order:
    {"component": "kubelet@node-2", "task": "sync_pod", "controller": "kubelet"}."""
    found: list[dict[str, str]] = []
    for name, args in dict.fromkeys(wake.for_change(cluster_id, type_, old, new, by)):
        component = wake.QUEUES[name]
        if name == wake.SYNC_POD:
            component = f"{KUBELET}@{args[1]}"  # (cluster, node, pod uid): that node's kubelet
        found.append({"component": component, "task": task_name(name), "controller": CONTROLLERS.get(name, component)})
    return found


def received_by(new: dict) -> list[str]:
    """The components whose informers receive this change (watch its kind): a pod's changes
    reach the kubelet of its node only."""
    kind = new.get("kind", "")
    out = [c for c in (SCHEDULER, CONTROLLER_MANAGER) if kind in WATCHERS[c]]
    if kind == "Pod":
        node = (new.get("spec") or {}).get("nodeName")
        if node:
            out.append(f"{KUBELET}@{node}")
    elif kind in WATCHERS[KUBELET]:
        out.append(KUBELET)
    return out


# --- who wrote it ---------------------------------------------------------------------------

STEP_LOG, OBJECT = "step-log", "inferred"
CLIENT = "client"


@dataclass(frozen=True)
class Writer:
    name: str | None  # a component as the store names writers, a client's name, or None
    source: str | None  # STEP_LOG (exact), OBJECT (inferred from the object), None
    store_by: str  # what to hand wake.for_change


def _component(name: str, source: str) -> Writer:
    return Writer(name, source, name)


def _client(name: str, source: str) -> Writer:
    return Writer(name or CLIENT, source, store.API)


UNKNOWN = Writer(None, None, store.API)

_IGNORED_META = {"resourceVersion", "generation", "managedFields"}


def changed_parts(old: dict | None, new: dict) -> set[str]:
    """What a write changed: top-level fields ("spec", "status", …) and metadata fields
    ("metadata.labels", …); the server's stamps (resourceVersion, generation) left out."""
    if old is None:
        return set()
    parts = {key for key in set(old) | set(new) if key != "metadata" and old.get(key) != new.get(key)}
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    parts |= {f"metadata.{key}" for key in set(old_meta) | set(new_meta) if key not in _IGNORED_META and old_meta.get(key) != new_meta.get(key)}
    return parts


# Kinds whose objects only clients create, and whose spec or data only clients write (their
# controllers write status, or a Deployment's revision annotations).
CLIENT_KINDS = {"Deployment", "Service", "ConfigMap", "Secret", "Ingress"}
CLIENT_PARTS = {"spec", "data", "stringData", "binaryData", "immutable", "type", "metadata.labels", "metadata.annotations"}


def _annotations_changed(old: dict, new: dict) -> set[str]:
    a, b = (old.get("metadata") or {}).get("annotations") or {}, (new.get("metadata") or {}).get("annotations") or {}
    return {key for key in set(a) | set(b) if a.get(key) != b.get(key)}


def writer(type_: str, old: dict | None, new: dict, steps: list[dict[str, Any]] | None = None) -> Writer:
    """Who wrote this change, as far as the step log and the object tell (see above).
    `steps`: the step-log rows recorded at the change's revision ({"number", "status", "actor"})."""
    by_step = _from_steps(steps or [])
    if by_step is not None:
        return by_step
    kind = new.get("kind", "")
    meta = new.get("metadata") or {}
    parts = changed_parts(old, new) if type_ == "MODIFIED" else set()
    if kind == "Event":
        reporter = new.get("reportingComponent") or (new.get("source") or {}).get("component")
        return Writer(reporter, OBJECT, reporter) if reporter else UNKNOWN
    if kind == "Lease" and meta.get("namespace") == wellknown.NODE_LEASE_NAMESPACE:
        return _component(store.KUBELET, OBJECT)
    if kind == "EndpointSlice" and (meta.get("labels") or {}).get("endpointslice.kubernetes.io/managed-by") == "endpointslice-controller.k8s.io":
        return _component(store.ENDPOINTSLICE_CONTROLLER, OBJECT)
    if kind == "Pod":
        return _pod_writer(type_, old, new, parts)
    if kind in CLIENT_KINDS and not metav1.controller_ref(new):
        # No component creates these or writes their spec or data: a client did.
        controller_annotations = type_ == "MODIFIED" and any(key.startswith("deployment.kubernetes.io/") for key in _annotations_changed(old, new))
        if type_ == "ADDED" or (parts and parts <= CLIENT_PARTS and not controller_annotations):
            return _client("", OBJECT)
    if kind == "Deployment" and type_ == "MODIFIED" and parts and parts <= {"status", "metadata.annotations"}:
        if all(key.startswith("deployment.kubernetes.io/") for key in _annotations_changed(old, new)):
            return _component(store.DEPLOYMENT_CONTROLLER, OBJECT)
    if kind == "ReplicaSet":
        owned = bool(metav1.controller_uid(new, "Deployment"))
        if type_ == "ADDED":
            return _component(store.DEPLOYMENT_CONTROLLER, OBJECT) if owned else _client("", OBJECT)
        if type_ == "MODIFIED" and parts == {"status"}:
            return _component(store.REPLICASET_CONTROLLER, OBJECT)
        if type_ == "MODIFIED" and owned and parts and parts <= {"spec", "metadata.annotations"}:
            spec_same = {k: v for k, v in (old.get("spec") or {}).items() if k != "replicas"} == {k: v for k, v in (new.get("spec") or {}).items() if k != "replicas"}
            if spec_same and all(key.startswith("deployment.kubernetes.io/") for key in _annotations_changed(old, new)):
                return _component(store.DEPLOYMENT_CONTROLLER, OBJECT)  # a scale of a rollout
    if kind == "Service" and parts == {"status"}:
        return _component(store.SERVICE_CONTROLLER, OBJECT)
    if kind == "Ingress" and parts == {"status"}:
        return _component(store.INGRESS_CONTROLLER, OBJECT)
    if kind == "Node" and parts == {"status"}:
        ready = (metav1.condition(new, "Ready") or {}).get("status")
        if ready == "Unknown" and (metav1.condition(old, "Ready") or {}).get("status") != "Unknown":
            return _component("node-controller", OBJECT)
        return _component(store.KUBELET, OBJECT)
    if kind == "Namespace" and old is not None and (old.get("metadata") or {}).get("deletionTimestamp"):
        if type_ == "DELETED" or (parts and parts <= {"spec", "status"}):
            return _component(store.NAMESPACE_CONTROLLER, OBJECT)  # it empties and finalizes a terminating namespace
    return UNKNOWN


def _from_steps(steps: list[dict[str, Any]]) -> Writer | None:
    done = {s["number"]: s for s in steps}
    if any(n >= 5 for n in done):
        return _component(store.KUBELET, STEP_LOG)
    if 4 in done:
        actor = done[4].get("actor") or ""
        return _component(store.SCHEDULER, STEP_LOG) if actor == "default-scheduler" else _client(actor, STEP_LOG)
    if 3 in done and done[3].get("status") == "done":
        return _component(store.REPLICASET_CONTROLLER, STEP_LOG)
    if 1 in done:
        return _client(done[1].get("actor") or "", STEP_LOG)
    return None


def _pod_writer(type_: str, old: dict | None, new: dict, parts: set[str]) -> Writer:
    node = (new.get("spec") or {}).get("nodeName")
    if type_ == "ADDED":
        if metav1.controller_uid(new, "ReplicaSet"):
            return _component(store.REPLICASET_CONTROLLER, OBJECT)
        return _client("", OBJECT)
    if type_ == "DELETED":
        old_meta = (old or {}).get("metadata") or {}
        if old_meta.get("deletionTimestamp") and ((old or {}).get("spec") or {}).get("nodeName"):
            return _component(store.KUBELET, OBJECT)  # it stopped the containers, then removed the pod
        return UNKNOWN
    if parts == {"status"}:
        return _component(store.KUBELET if node else store.SCHEDULER, OBJECT)
    if node and not ((old or {}).get("spec") or {}).get("nodeName"):
        return _component(store.SCHEDULER, OBJECT)  # spec.nodeName is set by a Binding only
    return UNKNOWN


# --- the inspector ---------------------------------------------------------------------------

def event(cluster_id: int, change_type: str, revision: int, old: dict | None, old_known: bool, new: dict, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """One change as the inspector shows it."""
    meta = new.get("metadata") or {}
    kind = new.get("kind", "")
    who = writer(change_type, old, new, steps)
    return {
        "revision": revision,
        "type": change_type,
        "kind": kind,
        "key": etcd.etcd_key(kind, meta.get("namespace", ""), meta.get("name", "")),
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "by": who.name,
        "bySource": who.source,
        "receivedBy": received_by(new),
        # Without the previous version (compacted) the wake-ups are not known: not guessed.
        "woke": woken(cluster_id, change_type, old, new, who.store_by) if old_known else None,
    }


@dataclass
class Inspection:
    revision: int  # the cluster's revision when read
    events: list[dict[str, Any]]  # oldest first
    truncated: bool  # more changes after `since` than `limit`


DEFAULT_LIMIT = 200
MAX_LIMIT = 1000


def inspect(cluster: Cluster, since: int | None = None, limit: int = DEFAULT_LIMIT) -> Inspection:
    """The change log as watch events, oldest first: after `since` (the first `limit`), or
    the last `limit` when no `since` is given. A `since` the compaction has passed is 410
    Expired, as a watch from there is refused."""
    current = store.current_revision(cluster)
    rows = Change.objects.filter(cluster=cluster)
    if since is not None:
        compacted = history.compacted_through(cluster, history.oldest_retained(cluster))
        if since < compacted:
            raise history.too_old(since, compacted)
        found = list(rows.filter(revision__gt=since).order_by("revision")[: limit + 1])
        truncated = len(found) > limit
        found = found[:limit]
    else:
        found = list(rows.order_by("-revision")[: limit + 1])
        truncated = len(found) > limit
        found = found[:limit][::-1]
    if not found:
        return Inspection(current, [], truncated)
    previous = _previous_versions(cluster, found)
    steps: dict[int, list[dict[str, Any]]] = {}
    for row in Step.objects.filter(cluster=cluster, revision__in=[c.revision for c in found]).values("revision", "number", "status", "actor"):
        steps.setdefault(row["revision"], []).append(row)
    events = []
    for change in found:
        if change.type == Change.ADDED:
            old, known = None, True
        else:
            known = change.uid in previous
            old = previous.get(change.uid)
        events.append(event(cluster.pk, change.type, change.revision, old, known, change.doc, steps.get(change.revision, [])))
        previous[change.uid] = change.doc
    return Inspection(current, events, truncated)


def _previous_versions(cluster: Cluster, window: list[Change]) -> dict[str, dict]:
    """uid -> the document of the last write before the window, for the objects the window
    writes (absent: the log no longer holds one). One grouped query and one read."""
    first = window[0].revision
    uids = {c.uid for c in window}
    last = (
        Change.objects.filter(cluster=cluster, uid__in=uids, revision__lt=first)
        .values("uid")
        .annotate(last=Max("revision"))
        .values("last")
    )
    return {uid: doc for uid, doc in Change.objects.filter(cluster=cluster, revision__in=last).exclude(type=Change.DELETED).values_list("uid", "doc")}
