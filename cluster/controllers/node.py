"""The node lifecycle controller of the controller manager, with its taint eviction.

Each pass (kube-controller-manager's --node-monitor-period) looks at every node:

1. Health. A node's last heartbeat is the newer of its Lease's renewTime and its Ready
   condition's lastHeartbeatTime. Older than --node-monitor-grace-period (40 s, at the
   cluster's speed: cluster/componentbase/timing.py) and every condition turns Unknown with "Kubelet
   stopped posting node status." — `kubectl get nodes` says NotReady — and the pods on it
   are marked not Ready.
2. Taints. Ready=Unknown is `node.kubernetes.io/unreachable`, Ready=False
   `node.kubernetes.io/not-ready`: NoSchedule at once (the scheduler keeps new pods away),
   NoExecute with the time it was added — unless most of the cluster is down, where
   Kubernetes assumes the control plane lost its network rather than the nodes died, and
   evicts nothing (zone states FullDisruption — every node down — and PartialDisruption —
   more than two and at least 55% down, in a cluster of fewer than 50 nodes). A node that is Ready again loses both.
3. Eviction (the taint eviction controller). A pod on a node with NoExecute taints is
   deleted once it no longer tolerates them: at once without a matching toleration, or
   tolerationSeconds after the taint was added (every pod tolerates both taints for 300 s:
   the API server's DefaultTolerationSeconds). Its ReplicaSet then makes a new one, which
   the scheduler puts on a node that is Ready. The old pod stays Terminating until its
   kubelet is back to finish it.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cluster.apimachinery import kinds, metav1, pods, wellknown
from cluster.apimachinery.taints import tolerates
from cluster.apimachinery.wellknown import TAINT_NOT_READY as NOT_READY
from cluster.apimachinery.wellknown import TAINT_UNREACHABLE as UNREACHABLE
from cluster.apiserver import rows, store
from cluster.componentbase import events, isolation, timing
from cluster.models import Cluster

NODE_CONTROLLER = "node-controller"
TAINT_EVICTION = "taint-eviction-controller"
CONDITIONS = wellknown.NODE_CONDITIONS
MANAGED = (NOT_READY, UNREACHABLE)
# Zone states: below these, evictions go on as normal (unhealthyZoneThreshold 0.55).
UNHEALTHY_ZONE_THRESHOLD = 0.55


# When this controller started watching. A heartbeat it could not have seen (the whole
# stack was down) is not held against a kubelet: like kube-controller-manager after its
# own restart, it gives every node a fresh grace period from here before judging it.
STARTED = datetime.now(timezone.utc)


def last_heartbeat(node: dict, lease: dict | None) -> datetime | None:
    ready = pods.condition(node, "Ready") or {}
    seen = [
        metav1.parse_time(((lease or {}).get("spec") or {}).get("renewTime")),
        metav1.parse_time(ready.get("lastHeartbeatTime")),
    ]
    seen = [s for s in seen if s is not None]
    return max(seen) if seen else None


def ready_status(node: dict) -> str:
    ready = pods.condition(node, "Ready")
    return ready.get("status", "Unknown") if ready else "Unknown"


def zone_state(nodes: list[dict]) -> str:
    """Normal, PartialDisruption or FullDisruption, as the node lifecycle controller says."""
    if not nodes:
        return "Normal"
    unhealthy = sum(1 for n in nodes if ready_status(n) != "True")
    if unhealthy == len(nodes):
        return "FullDisruption"
    if unhealthy > 2 and unhealthy / len(nodes) >= UNHEALTHY_ZONE_THRESHOLD:
        return "PartialDisruption"
    return "Normal"


def reconcile(cluster: Cluster, *, work: bool | None = None) -> None:
    """One pass of the node controller over the cluster's nodes.

    The pass runs every second: when the nodes as they are now give it nothing to write
    (heartbeats fresh, taints as they should be, no NoExecute taint to evict for), it ends
    there, without taking the cluster's write lock. `work`: whether they do, as the caller
    read it for many clusters at once (`clusters_with_work`); None reads it here.
    """
    if work is None:
        work = cluster.pk in clusters_with_work([cluster])
    if not work:
        return
    lease_kind = kinds.BY_KIND.get("Lease")
    with store.locked(cluster):
        now = metav1.now()
        leases = {d["metadata"]["name"]: d for d in store.list_docs(cluster, lease_kind, wellknown.NODE_LEASE_NAMESPACE)} if lease_kind else {}
        # Each node's part fails alone (recorded on that node): one must not stop the
        # controller from watching the others.
        for node in store.list_docs(cluster, kinds.NODE):
            if node["metadata"]["name"] in leases:  # a node no kubelet ever heartbeat for is left alone
                with isolation.isolated(cluster, NODE_CONTROLLER, uid=node["metadata"]["uid"]):
                    _check_health(cluster, node, leases[node["metadata"]["name"]], now)
        nodes = store.list_docs(cluster, kinds.NODE)
        state = zone_state(nodes)
        for node in nodes:
            with isolation.isolated(cluster, NODE_CONTROLLER, uid=node["metadata"]["uid"]):
                _set_taints(cluster, node, state, now)
        for node in store.list_docs(cluster, kinds.NODE):
            with isolation.isolated(cluster, NODE_CONTROLLER, uid=node["metadata"]["uid"]):
                _evict(cluster, node, now)


# What says whether a pass has anything to do (the database extracts these fields; no
# whole document is read): every second for every cluster.
_NODE_FIELDS = (("metadata", "name"), ("status", "conditions"), ("spec", "taints"))
_LEASE_FIELDS = (("metadata", "name"), ("spec", "renewTime"))


def clusters_with_work(clusters: list[Cluster]) -> set[int]:
    """The ids of those clusters in which a pass would write anything, read in two
    statements for all of them (outside any lock: what changes after this is seen by the
    next pass)."""
    now = metav1.now()
    lease_kind = kinds.BY_KIND.get("Lease")
    ids = [c.pk for c in clusters]
    nodes = rows.json_fields_of_clusters(ids, kinds.NODE.kind, _NODE_FIELDS)
    leases = rows.json_fields_of_clusters(ids, lease_kind.kind, _LEASE_FIELDS, namespace=wellknown.NODE_LEASE_NAMESPACE) if lease_kind else {}
    return {c.pk for c in clusters if _work(c, nodes[c.pk], leases.get(c.pk, []), now)}


def _work(cluster: Cluster, node_fields: list[tuple], lease_fields: list[tuple], now: datetime) -> bool:
    """From `_NODE_FIELDS` of the nodes and `_LEASE_FIELDS` of their Leases."""
    leases = {name: {"spec": {"renewTime": renewed}} for _, _, name, renewed in lease_fields}
    nodes = [
        {"metadata": {"name": name}, "status": {"conditions": conditions or []}, "spec": {"taints": taints or []}}
        for _, _, name, conditions, taints in node_fields
    ]
    state = zone_state(nodes)
    for node in nodes:
        name = node["metadata"]["name"]
        if name in leases and _silent(cluster, node, leases[name], now):
            return True
        if _taints_wanted(node, state, now) is not None:
            return True
        if any(isinstance(t, dict) and t.get("effect") == "NoExecute" for t in node["spec"]["taints"]):
            return True
    return False


def _silent(cluster: Cluster, node: dict, lease: dict | None, now: datetime) -> bool:
    """The node's kubelet has stopped heartbeating and the node is not Unknown yet."""
    if ready_status(node) == "Unknown" and pods.condition(node, "Ready"):
        return False
    beat = last_heartbeat(node, lease)
    if beat is not None:
        beat = max(beat, STARTED)
    return not (beat is not None and (now - beat).total_seconds() <= timing.node_monitor_grace(cluster))


def _check_health(cluster: Cluster, node: dict, lease: dict | None, now: datetime) -> None:
    if not _silent(cluster, node, lease, now):
        return
    name = node["metadata"]["name"]
    moment = metav1.rfc3339(now)

    def unknown(doc: dict) -> None:
        conditions = doc.setdefault("status", {}).setdefault("conditions", [])
        for type_ in CONDITIONS:
            cond = next((c for c in conditions if c.get("type") == type_), None)
            if cond is None:
                cond = {"type": type_, "lastHeartbeatTime": moment}
                conditions.append(cond)
            if cond.get("status") != "Unknown":
                cond["lastTransitionTime"] = moment
            cond.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")

    node = store.mutate(cluster, kinds.NODE, "", name, unknown, by=NODE_CONTROLLER)
    events.record(cluster, node, "NodeNotReady", f"Node {name} status is now: NodeNotReady", by=NODE_CONTROLLER, component="node-controller")
    for pod in store.list_docs(cluster, kinds.POD, node=name):
        if pods.is_terminal(pod) or not pods.is_ready(pod):
            continue
        store.mutate(cluster, kinds.POD, pod["metadata"]["namespace"], pod["metadata"]["name"], lambda d: pods.set_condition(d, "Ready", "False"), by=NODE_CONTROLLER, expected_uid=pod["metadata"]["uid"])
        events.record(cluster, pod, "NodeNotReady", "Node is not ready", by=NODE_CONTROLLER, component="node-controller", type_="Warning")


def _set_taints(cluster: Cluster, node: dict, state: str, now: datetime) -> None:
    taints = _taints_wanted(node, state, now)
    if taints is None:
        return

    def apply(doc: dict) -> None:
        if taints:
            doc.setdefault("spec", {})["taints"] = taints
        else:
            doc.setdefault("spec", {}).pop("taints", None)

    store.mutate(cluster, kinds.NODE, "", node["metadata"]["name"], apply, by=NODE_CONTROLLER)


def _taints_wanted(node: dict, state: str, now: datetime) -> list[dict] | None:
    """The node's taints as the controller wants them, or None when they are so already."""
    status = ready_status(node)
    key = None if status == "True" else (NOT_READY if status == "False" else UNREACHABLE)
    spec = node.get("spec") or {}
    current = [t for t in spec.get("taints") or [] if isinstance(t, dict)]
    managed = [t for t in current if t.get("key") in MANAGED]
    others = [t for t in current if t.get("key") not in MANAGED]
    wanted: list[dict] = []
    if key is not None:
        wanted.append({"key": key, "effect": "NoSchedule"})
        existing = next((t for t in managed if t.get("key") == key and t.get("effect") == "NoExecute"), None)
        if state == "Normal" or (state == "PartialDisruption" and existing):
            wanted.append(existing or {"key": key, "effect": "NoExecute", "timeAdded": metav1.rfc3339(now)})
    if _same(managed, wanted):
        return None
    return others + wanted


def _same(a: list[dict], b: list[dict]) -> bool:
    key = lambda t: (t.get("key"), t.get("effect"))  # noqa: E731
    return sorted(map(key, a)) == sorted(map(key, b)) and len(a) == len(b)


def eviction_time(cluster: Cluster, pod: dict, taints: list[dict]) -> datetime | None:
    """When the taint eviction controller deletes this pod from a node with these NoExecute
    taints: None if it tolerates them for ever."""
    tolerations = [t for t in pod["spec"].get("tolerations") or [] if isinstance(t, dict)]
    added = [metav1.parse_time(t.get("timeAdded")) for t in taints]
    since = min((a for a in added if a is not None), default=None) or metav1.now()
    shortest: float | None = None
    for taint in taints:
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return since  # not tolerated at all: at once
        bounded = [t.get("tolerationSeconds") for t in matching if t.get("tolerationSeconds") is not None]
        if len(bounded) < len(matching):
            continue  # a toleration without tolerationSeconds tolerates it for ever
        seconds = max(0, min(int(s) for s in bounded))
        shortest = seconds if shortest is None else min(shortest, seconds)
    if shortest is None:
        return None
    return since + timedelta(seconds=timing.scaled(cluster, shortest))


def _evict(cluster: Cluster, node: dict, now: datetime) -> None:
    taints = [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict) and t.get("effect") == "NoExecute"]
    if not taints:
        return
    for pod in store.list_docs(cluster, kinds.POD, node=node["metadata"]["name"]):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        due = eviction_time(cluster, pod, taints)
        if due is None or due > now:
            continue
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        events.record(cluster, pod, "TaintManagerEviction", f"Marking for deletion Pod {ns}/{name}", by=TAINT_EVICTION, component="taint-eviction-controller")
        store.mutate(
            cluster, kinds.POD, ns, name,
            lambda d: pods.set_condition(d, "DisruptionTarget", "True", "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint"),
            by=TAINT_EVICTION, expected_uid=pod["metadata"]["uid"],
        )
        store.delete_pod(cluster, ns, name, by=TAINT_EVICTION)

