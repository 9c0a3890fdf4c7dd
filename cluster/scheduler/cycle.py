"""The scheduler's loop body: one attempt for one pod, written through the API server.

It runs inside the cluster's lock, so two scheduling passes never both spend the same
room on a node (the real scheduler gets the same from its single loop and assume cache).
A pass over several pods (its queue) reads the nodes once per transaction and, like
kube-scheduler's assume, counts each pod it binds on its node before the next attempt.
The reasoning of each attempt is kept on the pod as annotations, under the names
kube-scheduler-simulator uses, in the same write as the binding or the Unschedulable
condition.
"""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from cluster.apimachinery import kinds, pods
from cluster.apiserver import store
from cluster.componentbase import events, narration
from cluster.models import Cluster
from cluster.scheduler import framework, nodeaffinity, noderesources, nodeunschedulable, tainttoleration
from cluster.scheduler.nodeinfo import NodeInfo, assume, node_rooms, pod_info, priority_of

SCHEDULER_NAME = "default-scheduler"
# Pods one transaction of a pass binds: the cluster's lock is held for one batch at most,
# so the API server's writes (and the other components) get in between.
BATCH = 50

ANNOTATION_PREFIX = "kube-scheduler-simulator.sigs.k8s.io/"
FILTER_RESULT = ANNOTATION_PREFIX + "filter-result"
SCORE_RESULT = ANNOTATION_PREFIX + "score-result"
FINAL_SCORE_RESULT = ANNOTATION_PREFIX + "finalscore-result"
SELECTED_NODE = ANNOTATION_PREFIX + "selected-node"
RESULT_ANNOTATIONS = (FILTER_RESULT, SCORE_RESULT, FINAL_SCORE_RESULT, SELECTED_NODE)
TOTAL = "total"  # our addition to finalscore-result: the sum the node was ranked by


def _compact(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"))


def result_annotations(result: framework.Attempt) -> dict[str, str]:
    """The attempt as the simulator's annotations, JSON in strings, scores as strings.

    filter-result: {node: {plugin: "passed" | reason}} — plugins in the order they ran; a
    node's list stops at the plugin that refused it. score-result: {node: {plugin: raw
    score}}; finalscore-result: {node: {plugin: normalized score × weight, "total": sum}}.
    Only nodes that passed every filter are scored, and none are when only one passed.
    """
    found = {FILTER_RESULT: _compact(result.diagnosis.filter_results)}
    if result.selected is None:
        return found
    final = {
        node: {**{p: str(s) for p, s in plugins.items()}, TOTAL: str(result.totals[node])}
        for node, plugins in result.final_scores.items()
    }
    found[SCORE_RESULT] = _compact({node: {p: str(s) for p, s in plugins.items()} for node, plugins in result.scores.items()})
    found[FINAL_SCORE_RESULT] = _compact(final)
    found[SELECTED_NODE] = result.selected.name
    return found


def _set_annotations(doc: dict, annotations: dict[str, str]) -> None:
    meta = doc["metadata"]
    current = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
    kept = {k: v for k, v in current.items() if k not in RESULT_ANNOTATIONS}
    meta["annotations"] = {**kept, **annotations}


def why_chosen(pod: dict, result: framework.Attempt) -> tuple[str, str, str]:
    """Why the selected node won, as (kind, detail, tie-break) for narration.scheduled.

    With one node left, what refused the others; with several, the plugin that most put
    the winner ahead of the best node scored lower, and how a tie at the top was broken
    ("fewest-pods" or "name", "" when there was none).
    """
    chosen = result.selected
    assert chosen is not None
    if len(result.nodes) == 1:
        return "only-node", "", ""
    if len(result.feasible) == 1:
        refusers = {s.plugin for s in result.diagnosis.refused.values()}
        if refusers == {nodeaffinity.NAME}:
            info = pod_info(pod)
            selector = nodeaffinity.selector_text(info)
            affinity = nodeaffinity.required_terms(info) is not None
            if selector and affinity:
                return "only-selector-affinity", selector, ""
            return ("only-selector", selector, "") if selector else ("only-affinity", "", "")
        kind = {
            noderesources.FIT: "only-room",
            nodeunschedulable.NAME: "only-schedulable",
            tainttoleration.NAME: "only-tolerated",
        }.get(refusers.pop() if len(refusers) == 1 else "", "only-fit")
        return kind, "", ""
    order = framework.ranked(result.feasible, result.totals)
    top = result.totals[chosen.name]
    tied = [n for n in order[1:] if result.totals[n.name] == top]
    lower = [n for n in order if result.totals[n.name] < top]
    tiebreak = "" if not tied else ("fewest-pods" if chosen.count < min(n.count for n in tied) else "name")
    if not lower:
        return ("tie-fewest-pods" if tiebreak == "fewest-pods" else "tie-name"), "", ""
    mine, theirs = result.final_scores[chosen.name], result.final_scores[lower[0].name]
    decisive = max(mine, key=lambda plugin: mine[plugin] - theirs.get(plugin, 0))
    kind = {
        noderesources.FIT: "least-allocated",
        noderesources.BALANCED: "balanced",
        tainttoleration.NAME: "fewer-taints",
        nodeaffinity.NAME: "preferred-affinity",
    }[decisive]
    return kind, "", tiebreak


_pass = threading.local()


@contextmanager
def batch(cluster: Cluster) -> Iterator[None]:
    """One transaction of a scheduling pass over several pods: the nodes are read once, and
    each `schedule` inside counts the pod it binds on its node in that snapshot, so the
    next attempt sees it."""
    with store.locked(cluster):
        _pass.snapshot = (cluster.pk, node_rooms(cluster))
        try:
            yield
        finally:
            _pass.snapshot = None


def _rooms(cluster: Cluster) -> dict[str, NodeInfo] | None:
    snapshot = getattr(_pass, "snapshot", None)
    return snapshot[1] if snapshot is not None and snapshot[0] == cluster.pk else None


def schedule(cluster: Cluster, uid: str) -> str | None:
    """One scheduling attempt for one pod. Returns the node chosen, or None."""
    with store.locked(cluster):
        pod = store.by_uid(cluster, uid)
        if not _wants_scheduling(pod):
            return None
        rooms = _rooms(cluster)
        nodes = list((rooms if rooms is not None else node_rooms(cluster)).values())
        result = framework.attempt(pod_info(pod), nodes)
        annotations = result_annotations(result)
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        if result.selected is None:
            _mark_unschedulable(cluster, pod, result.message, annotations)
            return None
        node = result.selected.name
        why = why_chosen(pod, result)

        def bind(doc: dict) -> None:
            doc["spec"]["nodeName"] = node
            _set_annotations(doc, annotations)
            pods.set_condition(doc, "PodScheduled", "True")

        bound = store.mutate(
            cluster, kinds.POD, ns, name, bind, by=store.SCHEDULER, expected_uid=uid,
            steps=lambda doc, rev: [narration.scheduled(doc, node, len(result.feasible), len(nodes), why)],
        )
        events.record(cluster, bound, "Scheduled", f"Successfully assigned {ns}/{name} to {node}", by=store.SCHEDULER, component=SCHEDULER_NAME)
        if rooms is not None:
            assume(rooms[node], bound)
        return node


def _wants_scheduling(pod: dict | None) -> bool:
    """A pod of ours to place: unbound, not going away, not finished, and for this scheduler."""
    if pod is None or pod.get("kind") != "Pod":
        return False
    spec = pod.get("spec") or {}
    return (
        not spec.get("nodeName")
        and not pod["metadata"].get("deletionTimestamp")
        and not pods.is_terminal(pod)
        and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
    )


def _mark_unschedulable(cluster: Cluster, pod: dict, message: str, annotations: dict[str, str]) -> None:
    """Record why the pod waits. A retry that finds the same writes nothing; a new reason
    writes the condition, the annotations and one FailedScheduling event."""
    current = pods.condition(pod, "PodScheduled")
    same_message = bool(current and current.get("status") == "False" and current.get("message") == message)

    def apply(doc: dict) -> None:
        pods.set_condition(doc, "PodScheduled", "False", "Unschedulable", message)
        _set_annotations(doc, annotations)

    updated = store.mutate(cluster, kinds.POD, pod["metadata"]["namespace"], pod["metadata"]["name"], apply, by=store.SCHEDULER)
    if not same_message:
        events.record(cluster, updated, "FailedScheduling", message, by=store.SCHEDULER, component=SCHEDULER_NAME, type_="Warning")


# Pods the scheduler found no node for wait in its unschedulable queue, as in
# kube-scheduler: they are tried again when nodes or pods change (the wake rules), and by
# the resync only once a minute (kube-scheduler flushes them after 5 minutes). Retrying a
# thousand unplaceable pods at every resync kept the scheduler busy with one cluster while
# every other cluster's pods waited behind it.
UNSCHEDULABLE_RETRY_SECONDS = 60.0
_retried_at: dict[tuple[int, str], float] = {}


def resync_wanted(cluster: Cluster, now: float | None = None) -> bool:
    """Whether the periodic resync should wake the scheduler for this cluster: a pending
    pod it never tried (a lost wake-up), or unschedulable ones whose minute is up."""
    waiting = [p for p in store.list_docs(cluster, kinds.POD, node="") if _wants_scheduling(p)]
    if not waiting:
        return False
    if any(not _tried(p) for p in waiting):
        return True
    now = time.monotonic() if now is None else now
    key = (cluster.pk, str(cluster.created))
    if now - _retried_at.get(key, float("-inf")) >= UNSCHEDULABLE_RETRY_SECONDS:
        _retried_at[key] = now
        return True
    return False


def _tried(pod: dict) -> bool:
    condition = pods.condition(pod, "PodScheduled")
    return bool(condition and condition.get("status") == "False")


def pending_pods(cluster: Cluster) -> list[str]:
    """Uids of the pods waiting for this scheduler, in its queue's order: higher priority
    first, then oldest first (the PrioritySort plugin)."""
    return _in_queue_order(p for p in store.list_docs(cluster, kinds.POD, node="") if _wants_scheduling(p))


def queue_order(cluster: Cluster, uids: list[str]) -> list[str]:
    """Of these pods, those still waiting for this scheduler, in its queue's order."""
    return _in_queue_order(p for p in store.list_by_uid(cluster, uids) if _wants_scheduling(p))


def _in_queue_order(waiting) -> list[str]:
    ordered = sorted(waiting, key=lambda p: (-priority_of(p), p["metadata"]["creationTimestamp"]))
    return [p["metadata"]["uid"] for p in ordered]
