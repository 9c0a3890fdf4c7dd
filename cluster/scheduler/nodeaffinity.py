"""NodeAffinity: `spec.nodeSelector` and node affinity, required (filter) and preferred (score).

Required: every nodeSelector label must be on the node, and at least one of the
`requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms` must match (terms are
ORed, the expressions and fields inside a term ANDed; a term with nothing in it, or one
that cannot be parsed, matches no node). Preferred: the weights of the
`preferredDuringSchedulingIgnoredDuringExecution` terms a node matches are summed, then
scaled 0–100 over the nodes (weight 2).
"""
from __future__ import annotations

from cluster.scheduler.nodeinfo import NodeInfo, PodInfo
from cluster.scheduler.status import Status, default_normalize_score

NAME = "NodeAffinity"
WEIGHT = 2
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
NAME_FIELD = "metadata.name"


class _Unparsable(ValueError):
    pass


def _values(req: dict) -> list[str]:
    values = req.get("values") or []
    if not isinstance(values, list):
        raise _Unparsable("values must be a list")
    return [str(v) for v in values]


def _integer(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError) as exc:
        raise _Unparsable(text) from exc


def match_expression(req: dict, labels: dict[str, str]) -> bool:
    """One NodeSelectorRequirement against a node's labels. Raises _Unparsable."""
    if not isinstance(req, dict):
        raise _Unparsable("requirement must be an object")
    key, op, values = req.get("key"), req.get("operator"), _values(req)
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        if len(values) != 1:
            raise _Unparsable("Gt and Lt take one value")
        bound = _integer(values[0])
        if not present:
            return False
        try:
            have = int(labels[key])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    raise _Unparsable(f"unknown operator {op!r}")


def match_field(req: dict, node: NodeInfo) -> bool:
    """matchFields: only `metadata.name`, with In or NotIn."""
    if not isinstance(req, dict) or req.get("key") != NAME_FIELD or req.get("operator") not in ("In", "NotIn"):
        raise _Unparsable("matchFields takes metadata.name with In or NotIn")
    inside = node.name in _values(req)
    return inside if req["operator"] == "In" else not inside


def match_term(term: dict, node: NodeInfo) -> bool:
    if not isinstance(term, dict):
        return False
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not isinstance(expressions, list) or not isinstance(fields, list) or not (expressions or fields):
        return False
    try:
        return all(match_expression(r, node.labels) for r in expressions) and all(match_field(r, node) for r in fields)
    except _Unparsable:
        return False


def node_selector(pod: PodInfo) -> dict | None:
    found = pod.spec.get("nodeSelector")
    return found if found else None


def required_terms(pod: PodInfo) -> list | None:
    required = pod.node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if not isinstance(required, dict):
        return None
    terms = required.get("nodeSelectorTerms")
    return terms if isinstance(terms, list) else []


def preferred_terms(pod: PodInfo) -> list[dict]:
    found = pod.node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
    return [t for t in found if isinstance(t, dict)] if isinstance(found, list) else []


def matches_required(pod: PodInfo, node: NodeInfo) -> bool:
    selector = node_selector(pod)
    if selector is not None:
        if not isinstance(selector, dict) or any(node.labels.get(k) != v for k, v in selector.items()):
            return False
    terms = required_terms(pod)
    return terms is None or any(match_term(t, node) for t in terms)


def pre_filter(pod: PodInfo) -> tuple[set[str] | None, Status | None]:
    """The node names required terms pin the pod to, if every term names some (matchFields
    metadata.name In); None means all nodes are candidates. An empty intersection in every
    term means no node can match: the PreFilter itself refuses the pod."""
    terms = required_terms(pod)
    if not terms:
        return None, None
    names: set[str] = set()
    for term in terms:
        fields = term.get("matchFields") if isinstance(term, dict) else None
        term_names: set[str] | None = None
        for req in fields if isinstance(fields, list) else []:
            if isinstance(req, dict) and req.get("key") == NAME_FIELD and req.get("operator") == "In":
                values = set(_values_or_empty(req))
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None, None  # this term may match any node: terms are ORed
        names |= term_names
    if not names:
        return None, Status(NAME, [ERR_REASON_CONFLICT])
    return names, None


def _values_or_empty(req: dict) -> list[str]:
    try:
        return _values(req)
    except _Unparsable:
        return []


def filter(pod: PodInfo, node: NodeInfo) -> Status | None:
    return None if matches_required(pod, node) else Status(NAME, [ERR_REASON_POD])


def skip_score(pod: PodInfo) -> bool:
    """PreScore: with no preferred terms the plugin has nothing to say and is skipped."""
    return not preferred_terms(pod)


def score(pod: PodInfo, node: NodeInfo) -> int:
    total = 0
    for term in preferred_terms(pod):
        weight = term.get("weight")
        if isinstance(weight, int) and not isinstance(weight, bool) and match_term(term.get("preference"), node):
            total += weight
    return total


def normalize(scores: dict[str, int]) -> dict[str, int]:
    return default_normalize_score(scores, reverse=False)


def selector_text(pod: PodInfo) -> str:
    """`disk=ssd,zone=a`: the pod's nodeSelector as a learner would type it."""
    selector = node_selector(pod)
    if not isinstance(selector, dict):
        return ""
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
