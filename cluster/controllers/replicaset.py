"""The ReplicaSet controller: keep exactly `spec.replicas` pods running the template."""
from __future__ import annotations

import copy

from .. import events, kinds, narration, pods, store
from ..errors import APIError
from ..models import Cluster, Object
from .garbagecollector import release_from

# Pods created per transaction: lets schedulers and kubelets write in between.
BATCH = 50
# The status condition Kubernetes sets while pods cannot be created (or deleted).
REPLICA_FAILURE = "ReplicaFailure"
FAILED_CREATE = "FailedCreate"


def owner_reference(owner: dict) -> dict:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_from_template(rs: dict) -> dict:
    template = copy.deepcopy(rs["spec"]["template"])
    meta = template.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": rs["metadata"]["name"] + "-",
            "namespace": rs["metadata"]["namespace"],
            "labels": meta.get("labels") or {},
            **({"annotations": meta["annotations"]} if meta.get("annotations") else {}),
            "ownerReferences": [owner_reference(rs)],
        },
        "spec": template.get("spec") or {},
    }


def deletion_rank(pod: dict) -> tuple:
    """Kubernetes' order for scaling down: unscheduled, then pending, then not ready, then newest."""
    status = pod.get("status") or {}
    return (
        1 if pod["spec"].get("nodeName") else 0,
        {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", "Pending"), 0),
        1 if pods.is_ready(pod) else 0,
        # newest first: negate the creation time by sorting on it reversed below
    )


def _owned(cluster: Cluster, rs_uid: str) -> list[dict]:
    return [p for p in store.list_docs(cluster, kinds.POD, owner_uid=rs_uid) if p["kind"] == "Pod"]


def selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """A LabelSelector (matchLabels, matchExpressions) against labels, as Kubernetes reads it.

    No selector matches nothing; an empty one matches everything.
    """
    if selector is None:
        return False
    labels = labels or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def _controller_of(doc: dict) -> dict | None:
    return next((r for r in doc["metadata"].get("ownerReferences") or [] if r.get("controller")), None)


def claim_pods(cluster: Cluster, rs: dict) -> None:
    """Adopt orphans the selector matches and release owned pods it no longer matches.

    As the real controller's ClaimPods: only active pods are claimed or released, and a
    pod another controller owns is never touched.
    """
    uid, ns = rs["metadata"]["uid"], rs["metadata"]["namespace"]
    selector = rs["spec"].get("selector")
    for pod in _owned(cluster, uid):
        if pods.is_active(pod) and not selector_matches(selector, pod["metadata"].get("labels")):
            store.mutate(cluster, kinds.POD, ns, pod["metadata"]["name"], release_from(uid), by=store.REPLICASET_CONTROLLER, expected_uid=pod["metadata"]["uid"])
    for pod in store.list_docs(cluster, kinds.POD, ns, owner_uid=""):
        if pods.is_active(pod) and _controller_of(pod) is None and selector_matches(selector, pod["metadata"].get("labels")):

            def adopt(doc: dict) -> None:
                doc["metadata"]["ownerReferences"] = [*(doc["metadata"].get("ownerReferences") or []), owner_reference(rs)]

            store.mutate(cluster, kinds.POD, ns, pod["metadata"]["name"], adopt, by=store.REPLICASET_CONTROLLER, expected_uid=pod["metadata"]["uid"])


def reconcile(cluster: Cluster, uid: str) -> None:
    """One pass: create or delete pods toward `spec.replicas`, then write the status."""
    while True:
        with store.locked(cluster):
            rs = store.by_uid(cluster, uid)
            if rs is None or rs["kind"] != "ReplicaSet" or rs["metadata"].get("deletionTimestamp"):
                return
            claim_pods(cluster, rs)
            owned = _owned(cluster, uid)
            active = [p for p in owned if pods.is_active(p)]
            want = int(rs["spec"].get("replicas", 1))
            diff = want - len(active)
            failure: APIError | None = None
            if diff > 0:
                failure = _create_pods(cluster, rs, active_count=len(active), count=min(diff, BATCH))
                # Refused: no next batch now. The status says why, and the resync (or the
                # next change to its pods) tries again; no wake-up of its own, no hot loop.
                if diff > BATCH and failure is None:
                    continue
            elif diff < 0:
                surplus = sorted(active, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
                surplus.sort(key=deletion_rank)
                for pod in surplus[: -diff]:
                    try:
                        pods.delete(cluster, pod["metadata"]["namespace"], pod["metadata"]["name"], by=store.REPLICASET_CONTROLLER)
                        events.record(cluster, rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", by=store.REPLICASET_CONTROLLER, component="replicaset-controller")
                    except APIError:
                        pass  # already gone: that is what we wanted
            _write_status(cluster, rs, failure)
            return


def _create_pods(cluster: Cluster, rs: dict, *, active_count: int, count: int) -> APIError | None:
    """Create up to `count` pods; stop at the first the API server refuses (a quota) and
    return that refusal, as the real controller's slowStartBatch stops."""
    deployment_uid = next((r["uid"] for r in rs["metadata"].get("ownerReferences") or [] if r.get("kind") == "Deployment"), "")
    deployment = store.by_uid(cluster, deployment_uid) if deployment_uid else None
    client = (
        Object.objects.filter(uid=deployment_uid).values_list("client", flat=True).first()
        if deployment_uid
        else Object.objects.filter(uid=rs["metadata"]["uid"]).values_list("client", flat=True).first()
    ) or "a client"
    # The last status counted the pods before some went away: that many are replacements
    # (self-healing), the rest are new because the desired count went up.
    want = int(rs["spec"].get("replicas", 1))
    replacements = max(0, min(want, int((rs.get("status") or {}).get("replicas", 0))) - active_count)
    for i in range(count):
        have = active_count + i

        def steps(doc: dict, revision: int, have: int = have, replacing: bool = i < replacements) -> list[store.StepRecord]:
            return narration.owned_pod_created(doc, revision, client=client, rs=rs, deployment=deployment, active=have, replacing=replacing)

        try:
            created = store.create(cluster, pod_from_template(rs), by=store.REPLICASET_CONTROLLER, namespace=rs["metadata"]["namespace"], steps=steps)
        except APIError as refused:
            # podControl.CreatePods' words; aggregated, so a sandbox left at its quota
            # gets one Event whose count grows at each retry.
            events.record_aggregated(
                cluster, rs, FAILED_CREATE, f"Error creating: {refused.message}",
                by=store.REPLICASET_CONTROLLER, component="replicaset-controller", type_="Warning",
            )
            return refused
        events.record(cluster, rs, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", by=store.REPLICASET_CONTROLLER, component="replicaset-controller")
    return None


def _write_status(cluster: Cluster, rs: dict, failure: APIError | None = None) -> None:
    owned = _owned(cluster, rs["metadata"]["uid"])
    active = [p for p in owned if pods.is_active(p)]
    ready = sum(1 for p in active if pods.is_ready(p))
    selector = (rs["spec"].get("selector") or {}).get("matchLabels") or {}
    labelled = sum(1 for p in active if all(p["metadata"].get("labels", {}).get(k) == v for k, v in selector.items()))
    status = {
        "replicas": len(active),
        "fullyLabeledReplicas": labelled,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"].get("generation", 1),
    }

    def apply(doc: dict) -> None:
        conditions = _with_replica_failure((doc.get("status") or {}).get("conditions") or [], failure)
        doc["status"] = {**status, "conditions": conditions} if conditions else status

    store.mutate(cluster, kinds.REPLICASET, rs["metadata"]["namespace"], rs["metadata"]["name"], apply, by=store.REPLICASET_CONTROLLER)


def _with_replica_failure(conditions: list[dict], failure: APIError | None) -> list[dict]:
    """calculateStatus' rule: a failed pass adds ReplicaFailure (keeping the first one's
    time and message while failures go on); a pass without failure removes it."""
    present = any(c.get("type") == REPLICA_FAILURE for c in conditions)
    if failure is not None and not present:
        return [
            *conditions,
            {"type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": store.rfc3339(), "reason": FAILED_CREATE, "message": failure.message},
        ]
    if failure is None and present:
        return [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    return conditions


def unconverged(cluster: Cluster) -> list[str]:
    """Uids of the ReplicaSets whose pods or status do not match their spec: what the
    resync must wake. Read from a few JSON fields, without decoding whole documents."""
    from collections import Counter

    active: Counter = Counter()
    ready: Counter = Counter()
    rows = Object.objects.filter(cluster=cluster, kind="Pod").exclude(owner_uid="")
    for owner, deleting, phase, conditions in rows.values_list("owner_uid", "doc__metadata__deletionTimestamp", "doc__status__phase", "doc__status__conditions"):
        if deleting or phase in ("Succeeded", "Failed"):
            continue
        active[owner] += 1
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions or [] if isinstance(c, dict)):
            ready[owner] += 1
    out = []
    sets = Object.objects.filter(cluster=cluster, kind="ReplicaSet").values_list(
        "uid", "doc__spec__replicas", "doc__status__replicas", "doc__status__readyReplicas", "doc__metadata__generation", "doc__status__observedGeneration"
    )
    for uid, want, replicas, ready_replicas, generation, observed in sets:
        want = 1 if want is None else want
        if active[uid] != want or (replicas or 0) != active[uid] or (ready_replicas or 0) != ready[uid] or generation != observed:
            out.append(uid)
    return out
