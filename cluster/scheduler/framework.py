"""One scheduling cycle as kube-scheduler's framework runs it: PreFilter, Filter, PostFilter
(preemption, here only its verdict), PreScore, Score, NormalizeScore, then pick the host.

Pure functions over the snapshot in nodeinfo.py: nothing here reads or writes the store.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from cluster.scheduler import nodeaffinity, nodename, noderesources, nodeunschedulable, tainttoleration
from cluster.scheduler.nodeinfo import NodeInfo, PodInfo
from cluster.scheduler.status import Status

PASSED = "passed"
NO_NODES = "no nodes available to schedule pods"

Filter = Callable[[PodInfo, NodeInfo], "Status | None"]

# The default profile's filters, in the order kube-scheduler runs them. A node is dropped at
# the first filter that refuses it; the later ones do not run for it.
FILTERS: list[tuple[str, Filter]] = [
    (nodeunschedulable.NAME, nodeunschedulable.filter),
    (nodename.NAME, nodename.filter),
    (tainttoleration.NAME, tainttoleration.filter),
    (nodeaffinity.NAME, nodeaffinity.filter),
    (noderesources.FIT, noderesources.filter),
]


@dataclass(frozen=True)
class ScorePlugin:
    name: str
    weight: int
    score: Callable[[PodInfo, NodeInfo], int]
    normalize: Callable[[dict[str, int]], dict[str, int]] | None = None
    skip: Callable[[PodInfo], bool] = lambda pod: False


# The default profile's scores, with kube-scheduler's default weights.
SCORES: list[ScorePlugin] = [
    ScorePlugin(tainttoleration.NAME, tainttoleration.WEIGHT, tainttoleration.score, tainttoleration.normalize),
    ScorePlugin(nodeaffinity.NAME, nodeaffinity.WEIGHT, nodeaffinity.score, nodeaffinity.normalize, nodeaffinity.skip_score),
    ScorePlugin(noderesources.FIT, noderesources.FIT_WEIGHT, noderesources.least_allocated),
    ScorePlugin(noderesources.BALANCED, noderesources.BALANCED_WEIGHT, noderesources.balanced_allocation, skip=noderesources.skip_balanced),
]


@dataclass
class Diagnosis:
    """Why nodes were refused: per node, per filter plugin, "passed" or the reason."""

    filter_results: dict[str, dict[str, str]] = field(default_factory=dict)
    refused: dict[str, Status] = field(default_factory=dict)
    pre_filter: Status | None = None  # a PreFilter that refused the pod outright


@dataclass
class Attempt:
    """The outcome of one cycle for one pod."""

    nodes: list[NodeInfo]
    feasible: list[NodeInfo]
    diagnosis: Diagnosis
    scores: dict[str, dict[str, int]] = field(default_factory=dict)  # raw, per node, per plugin
    final_scores: dict[str, dict[str, int]] = field(default_factory=dict)  # normalized × weight
    totals: dict[str, int] = field(default_factory=dict)
    selected: NodeInfo | None = None
    message: str = ""  # the FailedScheduling message, when nothing was selected


def run_filters(pod: PodInfo, node: NodeInfo) -> tuple[dict[str, str], Status | None]:
    results: dict[str, str] = {}
    for name, check in FILTERS:
        status = check(pod, node)
        if status is not None:
            results[name] = status.message
            return results, status
        results[name] = PASSED
    return results, None


def find_feasible(pod: PodInfo, nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Diagnosis]:
    diagnosis = Diagnosis()
    candidates, status = nodeaffinity.pre_filter(pod)
    if status is not None:
        diagnosis.pre_filter = status
        for node in nodes:
            diagnosis.filter_results[node.name] = {status.plugin: status.message}
            diagnosis.refused[node.name] = status
        return [], diagnosis
    feasible = []
    for node in nodes:
        if candidates is not None and node.name not in candidates:
            # Left out by the PreFilter's node names (matchFields metadata.name): not filtered.
            left_out = Status(nodeaffinity.NAME, [f"node(s) didn't satisfy plugin(s) [{nodeaffinity.NAME}]"])
            diagnosis.filter_results[node.name] = {nodeaffinity.NAME: left_out.message}
            diagnosis.refused[node.name] = left_out
            continue
        results, status = run_filters(pod, node)
        diagnosis.filter_results[node.name] = results
        if status is None:
            feasible.append(node)
        else:
            diagnosis.refused[node.name] = status
    return feasible, diagnosis


def score_nodes(pod: PodInfo, feasible: list[NodeInfo]) -> tuple[dict, dict, dict]:
    """Raw scores, final scores (normalized to 0–100, times the weight) and totals, per node."""
    raw: dict[str, dict[str, int]] = {n.name: {} for n in feasible}
    final: dict[str, dict[str, int]] = {n.name: {} for n in feasible}
    for plugin in SCORES:
        if plugin.skip(pod):
            continue
        scores = {n.name: plugin.score(pod, n) for n in feasible}
        normalized = plugin.normalize(scores) if plugin.normalize else scores
        for name, value in scores.items():
            raw[name][plugin.name] = value
            final[name][plugin.name] = normalized[name] * plugin.weight
    totals = {name: sum(values.values()) for name, values in final.items()}
    return raw, final, totals


def ranked(feasible: list[NodeInfo], totals: dict[str, int]) -> list[NodeInfo]:
    """Best first. kube-scheduler picks at random among the top scores; we break ties
    fairly but repeatably: the node running fewest pods, then the first by name."""
    return sorted(feasible, key=lambda n: (-totals.get(n.name, 0), n.count, n.name))


def fit_error(total: int, diagnosis: Diagnosis) -> str:
    """`0/3 nodes are available: <count> <reason>, ...` with the strings sorted, as FitError."""
    message = f"0/{total} nodes are available:"
    if diagnosis.pre_filter is not None:
        return message + f" {diagnosis.pre_filter.message}."
    counts = Counter(reason for status in diagnosis.refused.values() for reason in status.reasons)
    return message + " " + ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items())) + "."


def preemption_message(pod: PodInfo, nodes: list[NodeInfo], diagnosis: Diagnosis) -> str | None:
    """What kube-scheduler's DefaultPreemption would add, when it is true of this cluster.

    We do not preempt. Where preemption could not help (an unresolvable refusal) or there is
    nothing to evict (no pod of lower priority on the node, or evicting them all would still
    not make room), Kubernetes says so and so do we. Where evicting would make room, the
    real scheduler would preempt; we say nothing about preemption rather than something false.
    """
    if pod.spec.get("preemptionPolicy") == "Never":
        return None
    reasons: Counter = Counter()
    for node in nodes:
        status = diagnosis.refused.get(node.name)
        if status is None or not status.resolvable:
            reasons["Preemption is not helpful for scheduling"] += 1
            continue
        victims = [p for p in node.pods if p.priority < pod.priority]
        if not victims:
            reasons["No preemption victims found for incoming pod"] += 1
            continue
        _, still = run_filters(pod, node.without(victims))
        if still is None:
            return None
        reasons.update(still.reasons)
    parts = ", ".join(sorted(f"{n} {reason}" for reason, n in reasons.items()))
    return f"preemption: 0/{len(nodes)} nodes are available: {parts}."


def attempt(pod: PodInfo, nodes: list[NodeInfo]) -> Attempt:
    feasible, diagnosis = find_feasible(pod, nodes)
    result = Attempt(nodes=nodes, feasible=feasible, diagnosis=diagnosis)
    if not nodes:
        result.message = NO_NODES
        return result
    if not feasible:
        result.message = fit_error(len(nodes), diagnosis)
        preemption = preemption_message(pod, nodes, diagnosis)
        if preemption:
            result.message += " " + preemption
        return result
    if len(feasible) == 1:
        # kube-scheduler does not score when only one node is left.
        result.selected = feasible[0]
        return result
    result.scores, result.final_scores, result.totals = score_nodes(pod, feasible)
    result.selected = ranked(feasible, result.totals)[0]
    return result
