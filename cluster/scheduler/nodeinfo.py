"""What one scheduling attempt knows: each node and the pod, read once (kube-scheduler's snapshot).

kube-scheduler works from a snapshot of its cache (NodeInfo per node, PodInfo for the pod)
taken at the start of a cycle. Ours is read inside the cluster's lock, so it is also the
truth until the binding is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from cluster.apimachinery import kinds, pods, quantity, wellknown
from cluster.apiserver import store
from cluster.models import Cluster

# The taints the node lifecycle controller puts on a node (TaintNodesByCondition).
NOT_READY = wellknown.TAINT_NOT_READY
UNREACHABLE = wellknown.TAINT_UNREACHABLE
UNSCHEDULABLE = wellknown.TAINT_UNSCHEDULABLE


@dataclass(frozen=True)
class PodOnNode:
    """A pod already bound to a node: what it takes there, and what preemption would weigh."""

    name: str
    priority: int
    cpu: int
    memory: int
    nonzero_cpu: int
    nonzero_memory: int


@dataclass
class NodeInfo:
    name: str
    labels: dict[str, str]
    taints: list[dict]  # spec.taints, plus the one the node's Ready condition implies
    unschedulable: bool
    cpu: int  # allocatable millicores
    memory: int  # allocatable bytes
    max_pods: int
    pods: list[PodOnNode] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.pods)

    @property
    def requested_cpu(self) -> int:
        return sum(p.cpu for p in self.pods)

    @property
    def requested_memory(self) -> int:
        return sum(p.memory for p in self.pods)

    @property
    def nonzero_cpu(self) -> int:
        """Requested CPU with kube-scheduler's default for pods that request none (scoring only)."""
        return sum(p.nonzero_cpu for p in self.pods)

    @property
    def nonzero_memory(self) -> int:
        return sum(p.nonzero_memory for p in self.pods)

    def without(self, victims: list[PodOnNode]) -> "NodeInfo":
        """The node as it would be with these pods gone (preemption's dry run)."""
        return replace(self, pods=[p for p in self.pods if p not in victims])


@dataclass
class PodInfo:
    """The pod being scheduled, with its requests worked out once."""

    doc: dict
    cpu: int  # what its containers request
    memory: int
    nonzero_cpu: int  # the same with the non-zero defaults, for scoring
    nonzero_memory: int
    priority: int

    @property
    def spec(self) -> dict:
        return self.doc.get("spec") or {}

    @property
    def tolerations(self) -> list[dict]:
        found = self.spec.get("tolerations")
        return [t for t in found if isinstance(t, dict)] if isinstance(found, list) else []

    @property
    def node_affinity(self) -> dict:
        affinity = self.spec.get("affinity")
        found = affinity.get("nodeAffinity") if isinstance(affinity, dict) else None
        return found if isinstance(found, dict) else {}


def priority_of(pod: dict) -> int:
    value = (pod.get("spec") or {}).get("priority")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def pod_info(pod: dict) -> PodInfo:
    cpu, memory = pods.requests(pod)
    nonzero_cpu, nonzero_memory = pods.requests(pod, non_zero=True)
    return PodInfo(pod, cpu, memory, nonzero_cpu, nonzero_memory, priority_of(pod))


def implied_taint(node: dict) -> dict | None:
    """The taint a node's Ready condition stands for until the node controller writes it.

    Ready=False is `node.kubernetes.io/not-ready`, Ready=Unknown (or no Ready condition:
    the kubelet never reported) is `node.kubernetes.io/unreachable`, both NoSchedule.
    """
    ready = pods.condition(node, "Ready")
    status = ready.get("status") if ready else "Unknown"
    if status == "True":
        return None
    return {"key": NOT_READY if status == "False" else UNREACHABLE, "effect": "NoSchedule"}


def node_info(node: dict) -> NodeInfo:
    spec = node.get("spec") or {}
    alloc = (node.get("status") or {}).get("allocatable") or {}
    taints = [t for t in spec.get("taints") or [] if isinstance(t, dict)]
    implied = implied_taint(node)
    if implied and not any(t.get("key") == implied["key"] for t in taints):
        taints.append(implied)
    labels = node["metadata"].get("labels")
    return NodeInfo(
        name=node["metadata"]["name"],
        labels=labels if isinstance(labels, dict) else {},
        taints=taints,
        unschedulable=bool(spec.get("unschedulable")),
        cpu=quantity.millicores(alloc.get("cpu", "0")),
        memory=quantity.bytes_(alloc.get("memory", "0")),
        max_pods=int(quantity.parse(alloc.get("pods", "110"))),
    )


# What each bound pod holds on its node, by uid, as of a resourceVersion. The scheduler
# worker is long-lived: each pass reads only (uid, resourceVersion, node) of the bound pods
# and decodes just the documents that changed since the pass before, instead of every pod.
_held: dict[str, tuple[int, PodOnNode | None]] = {}


def _holding(pod: dict) -> PodOnNode | None:
    if pods.is_terminal(pod):
        return None
    info = pod_info(pod)
    return PodOnNode(
        f"{pod['metadata']['namespace']}/{pod['metadata']['name']}",
        info.priority, info.cpu, info.memory, info.nonzero_cpu, info.nonzero_memory,
    )


def assume(room: NodeInfo, pod: dict) -> None:
    """Count a pod just bound to this node in a snapshot still in use (kube-scheduler's
    assume): the next attempt of the same pass sees the room it takes."""
    holding = _holding(pod)
    if holding is not None:
        room.pods.append(holding)


def node_rooms(cluster: Cluster) -> dict[str, NodeInfo]:
    """Every node, by name in name order, with the pods bound to it that still hold room."""
    rooms = {doc["metadata"]["name"]: node_info(doc) for doc in store.list_docs(cluster, kinds.NODE)}
    bound = store.bound_versions(cluster, kinds.POD)
    stale = [uid for uid, rv, _ in bound if _held.get(uid, (None,))[0] != rv]
    for uid, rv, _, doc in store.versioned_docs(cluster, stale) if stale else ():
        _held[uid] = (rv, _holding(doc))
    for uid, rv, node in bound:
        room = rooms.get(node)
        entry = _held.get(uid)
        if room is not None and entry is not None and entry[0] == rv and entry[1] is not None:
            room.pods.append(entry[1])
    if len(_held) > 2 * len(bound) + 1000:  # forget pods that are gone
        keep = {uid for uid, _, _ in bound}
        for uid in [u for u in _held if u not in keep]:
            del _held[uid]
    return rooms
