"""The kubelet of each node, and the container runtime it drives.

- `pod`: the pod worker — admit, sandbox, pull, create, start, ready; exits, restarts and
  back-offs; probes; graceful termination. One stage at a time, level-triggered.
- `images`: the registry (real images and tags), pull policy and pull time.
- `workload`: what a container's command does (runs, finishes, fails).
- `probes`: readiness and liveness, their outcome set by a pod annotation.
- `envconfig`: env from ConfigMaps and Secrets.
- `node`: heartbeats (node Lease and status), stopping and starting the machine.

The Celery task (cluster/tasks.py) calls `run_due_stages`; the resync asks
`pods_needing_work`.
"""
from __future__ import annotations

from cluster.apimachinery import kinds, metav1
from cluster.apiserver import store
from cluster.kubelet import envconfig, memory
from cluster.kubelet import node as node_side
from cluster.kubelet import status
from cluster.kubelet.images import image_ref, image_size
from cluster.kubelet.pod import Ctx, plan, wants_attention
from cluster.models import Cluster, Object

RUNTIME = "containerd://1.7.24"
# At instant speed a crash loop could otherwise run many stages in one transaction.
MAX_STAGES_AT_ONCE = 60
# Pods one transaction of a kubelet's pass at instant speed takes through their stages:
# the cluster's lock is held for one batch at most (about 3 ms a pod). On PostgreSQL, where
# two kubelet workers take turns at a large Deployment's lock, 20 a transaction took
# (b)'s 300 pods Ready at 203 / 189 / 171 / 141 pods/s against 184 / 159 / 137 / 154 with
# 10 (alternated on this 2-core machine): half the transactions, each with its reads, its
# commit and its wait in the lock's queue.
PODS_AT_ONCE = 20


def _read(cluster: Cluster, node_name: str, uid: str, node: dict | None = None) -> Ctx | None:
    """The pod, its node and its history, if this node's kubelet has work for it at all."""
    row = store.by_uid_written(cluster, uid)
    if row is None:
        return None
    pod, updated = row
    if pod.get("kind") != "Pod" or (pod.get("spec") or {}).get("nodeName") != node_name:
        return None
    node = node or store.find(cluster, kinds.NODE, "", node_name)
    if node is None or node_side.is_stopped(node):
        return None  # no kubelet runs there
    seen = memory.history(cluster, uid)
    last = max([updated] + [s.at for s in seen])
    return Ctx(cluster, pod, node, seen, metav1.now(), last)


def sync_pod(cluster: Cluster, node_name: str, uid: str) -> float | None:
    """Do the next stage for one pod if it is due.

    Returns None when the pod needs nothing more, 0 when a stage was done (another may be
    due), or the seconds to wait before the next one.
    """
    ctx = _read(cluster, node_name, uid)
    if ctx is None:
        return None
    stage = plan(ctx)
    if stage is None:
        return None
    remaining = (stage.due - ctx.now).total_seconds()
    if remaining > 0.001:
        return remaining
    with store.locked(cluster):
        # Re-read under the lock: another run may have done this stage meanwhile.
        ctx = _read(cluster, node_name, uid)
        if ctx is not None:
            again = plan(ctx)
            if again is not None and again.name == stage.name and (again.due - ctx.now).total_seconds() <= 0.001:
                again.apply(ctx)
    return 0.0


def run_due_stages(cluster: Cluster, node_name: str, uid: str, limit: int = MAX_STAGES_AT_ONCE) -> float | None:
    """What the kubelet task runs: every stage that is due now.

    Paced, that is one stage (then `sync_pod`'s wait). At instant speed every stage is due
    at once, so they run back to back in one transaction — still one write, one revision
    and one recorded step each, published together when it commits. Returns None when the
    pod needs nothing more, else the seconds until its next stage (a back-off, a command
    that runs a while, a grace period).
    """
    if cluster.stage_seconds > 0:
        return sync_pod(cluster, node_name, uid)
    with store.locked(cluster):
        ctx = _read(cluster, node_name, uid)
        for _ in range(limit):
            if ctx is None:
                return None
            stage = plan(ctx)
            if stage is None:
                return None
            remaining = (stage.due - metav1.now()).total_seconds()
            if remaining > 0.001:
                return remaining
            stage.apply(ctx)
            if ctx.removed:
                return None
            # Nobody else writes while we hold the lock: what the stage wrote is what is stored
            # (ctx keeps the pod, node and events it wrote), so the next decision needs no read.
            ctx.now = ctx.last = metav1.now()
    return 0.001


# Whether the kubelet may have work for a pod, by (uid, resourceVersion): it follows from
# the document alone, so the resync (every few seconds, every cluster) decodes only the
# pods written since it last looked, not every pod of a large Deployment each time.
_attention: dict[tuple[str, int], bool] = {}
ATTENTION_MAX = 20000


def pods_needing_work(cluster: Cluster) -> list[tuple[str, str]]:
    """(node, uid) of every bound pod whose kubelet may have something to do, now or later:
    not yet Ready, being deleted, restarting, running a command that ends, probed to fail."""
    stopped = {n["metadata"]["name"] for n in store.list_docs(cluster, kinds.NODE) if node_side.is_stopped(n)}
    bound = store.bound_versions(cluster, kinds.POD)
    stale = [uid for uid, rv, _ in bound if (uid, rv) not in _attention]
    if len(_attention) + len(stale) > ATTENTION_MAX:
        _attention.clear()  # the pods that went are forgotten with the rest
    # Each decision is kept under the version decoded: a pod written between the two reads
    # is decided from its newer version.
    fresh: dict[str, bool] = {}
    for uid, rv, _, doc in store.versioned_docs(cluster, stale) if stale else ():
        fresh[uid] = _attention[(uid, rv)] = wants_attention(doc)
    return [(node, uid) for uid, rv, node in bound if node not in stopped and fresh.get(uid, _attention.get((uid, rv), False))]



def next_stage(cluster: Cluster, node_name: str, uid: str) -> str:
    """The name of the stage the kubelet would run next for this pod ("" if none)."""
    ctx = _read(cluster, node_name, uid)
    stage = plan(ctx) if ctx is not None else None
    return stage.name if stage is not None else ""


def pods_waiting_on(cluster_id: int, kind: str, namespace: str, name: str) -> list[tuple[str, str]]:
    """(node, uid) of the pods in CreateContainerConfigError that read this ConfigMap or
    Secret: their kubelet tries again when it appears or changes."""

    found = []
    rows = Object.objects.filter(cluster_id=cluster_id, kind="Pod", namespace=namespace).exclude(node_name="").values_list("node_name", "uid", "doc")
    for node, uid, doc in rows:
        for entry in status.statuses(doc):
            if status.waiting_reason(entry) != "CreateContainerConfigError":
                continue
            container = status.spec_of(doc, entry.get("name", "")) or {}
            if (kind, name) in envconfig.references(container):
                found.append((node, uid))
                break
    return found


def heartbeat(cluster: Cluster, *, due: bool | None = None) -> list[tuple[str, str]]:
    """Every running kubelet of the cluster renews its Lease (see kubelet/node.py)."""
    return node_side.heartbeat(cluster, due=due)


def heartbeats_due(clusters: list[Cluster]) -> set[int]:
    """Which of these clusters' kubelets have a beat due (see kubelet/node.py)."""
    return node_side.due_clusters(clusters)
