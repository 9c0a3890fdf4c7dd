"""The ReplicaSet controller: keep exactly `spec.replicas` pods running the template."""
from __future__ import annotations

import copy

from cluster.apimachinery import kinds, metav1, pods, selectors
from cluster.apimachinery.errors import APIError
from cluster.apiserver import rows, store
from cluster.apiserver.registry import validation
from cluster.componentbase import events, isolation, narration
from cluster.controllers.garbagecollector import release_from
from cluster.models import Cluster

# Pods created or deleted per transaction: the cluster's lock is held for this many at
# most, so the API server's writes (and schedulers, kubelets) get in between.
BATCH = 50
# controller.SlowStartInitialBatchSize: creations go in batches of 1, 2, 4, 8 …, so a
# template every create refuses costs one call, not thousands.
SLOW_START_INITIAL_BATCH = 1
# The ReplicaSet controller's burstReplicas: the most pods one pass creates or deletes.
BURST_REPLICAS = 500
# The status condition Kubernetes sets while pods cannot be created (or deleted).
REPLICA_FAILURE = "ReplicaFailure"
FAILED_CREATE = "FailedCreate"


def pods_prefix(controller_name: str) -> str:
    """controller.getPodsPrefix: `<name>-`, unless the dash makes the prefix invalid (a
    253-character ReplicaSet name): then the name alone."""
    prefix = controller_name + "-"
    return controller_name if validation.validate_generate_name(prefix) else prefix


def pod_from_template(rs: dict) -> dict:
    template = copy.deepcopy(rs["spec"]["template"])
    meta = template.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": pods_prefix(rs["metadata"]["name"]),
            "namespace": rs["metadata"]["namespace"],
            "labels": meta.get("labels") or {},
            **({"annotations": meta["annotations"]} if meta.get("annotations") else {}),
            "ownerReferences": [metav1.owner_reference(rs)],
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


# What the controller reads of its pods: to count them (active, ready), to claim or
# release them (labels), and to choose which go first when scaling down.
OWNED_FIELDS = (
    ("metadata", "name"), ("metadata", "namespace"), ("metadata", "labels"), ("metadata", "creationTimestamp"),
    ("metadata", "deletionTimestamp"), ("spec", "nodeName"), ("status", "phase"), ("status", "conditions"),
)


def _owned(cluster: Cluster, rs_uid: str) -> list[dict]:
    """The set's pods in (namespace, name) order, each as the fields OWNED_FIELDS names
    (extracted by the database: a pass over a 300-pod set ran after every pod's change,
    and decoding every whole document was a third of the controller manager's time)."""
    owned = [
        _counted(uid, name, namespace, labels, created, deleting, node, phase, conditions)
        for uid, _, name, namespace, labels, created, deleting, node, phase, conditions in rows.json_fields(cluster.pk, "Pod", OWNED_FIELDS, owner_uids=[rs_uid])
    ]
    owned.sort(key=_in_order)
    return owned


def _counted(uid, name, namespace, labels, created, deleting, node, phase, conditions) -> dict:
    """A pod as `_owned` gives it: the OWNED_FIELDS of it, in a document's shape."""
    meta = {"name": name, "namespace": namespace, "uid": uid, "labels": labels or {}, "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = deleting
    status = {"phase": phase} if phase else {}
    if conditions:
        status["conditions"] = conditions
    return {"kind": "Pod", "metadata": meta, "spec": {"nodeName": node} if node else {}, "status": status}


def _counted_doc(doc: dict) -> dict:
    """A pod this pass created, as `_owned` would read it back."""
    meta, status = doc["metadata"], doc.get("status") or {}
    return _counted(
        meta["uid"], meta["name"], meta["namespace"], meta.get("labels"), meta.get("creationTimestamp"),
        meta.get("deletionTimestamp"), (doc.get("spec") or {}).get("nodeName"), status.get("phase"), status.get("conditions"),
    )


def _in_order(pod: dict) -> tuple[str, str]:
    return pod["metadata"]["namespace"], pod["metadata"]["name"]


def claim_pods(cluster: Cluster, rs: dict, owned: list[dict] | None = None) -> bool:
    """Adopt orphans the selector matches and release owned pods it no longer matches.

    As the real controller's ClaimPods: only active pods are claimed or released, and a
    pod another controller owns is never touched. `owned` is the set's pods as the caller
    has just read them. Returns whether any pod was adopted or released.
    """
    uid, ns = rs["metadata"]["uid"], rs["metadata"]["namespace"]
    selector = rs["spec"].get("selector")
    changed = False
    for pod in _owned(cluster, uid) if owned is None else owned:
        if pods.is_active(pod) and not selectors.matches(selector, pod["metadata"].get("labels")):
            with isolation.isolated(cluster, store.REPLICASET_CONTROLLER, uid=pod["metadata"]["uid"]):
                store.mutate(cluster, kinds.POD, ns, pod["metadata"]["name"], release_from(uid), by=store.REPLICASET_CONTROLLER, expected_uid=pod["metadata"]["uid"])
                changed = True
    for pod in store.list_docs(cluster, kinds.POD, ns, owner_uid=""):
        if pods.is_active(pod) and metav1.controller_ref(pod) is None and selectors.matches(selector, pod["metadata"].get("labels")):

            def adopt(doc: dict) -> None:
                doc["metadata"]["ownerReferences"] = [*(doc["metadata"].get("ownerReferences") or []), metav1.owner_reference(rs)]

            with isolation.isolated(cluster, store.REPLICASET_CONTROLLER, uid=pod["metadata"]["uid"]):
                store.mutate(cluster, kinds.POD, ns, pod["metadata"]["name"], adopt, by=store.REPLICASET_CONTROLLER, expected_uid=pod["metadata"]["uid"])
                changed = True
    return changed


def reconcile(cluster: Cluster, uid: str) -> bool:
    """One pass: create or delete pods toward `spec.replicas`, then write the status.

    Creations go in slow-start batches (1, 2, 4 …), deletions in batches of at most
    BATCH. A transaction takes batches while the pods it has created or deleted stay
    within BATCH, and re-reads the desired count before each: a scale to 0, or the
    Deployment deleted, during a huge scale takes effect at the next transaction, and API
    writes wait for BATCH pods at most; a small ReplicaSet's slow start (1, 2, 2 for five)
    is one transaction. A pass handles at most BURST_REPLICAS pods; it returns True when
    it stopped there with more to do (the task queues the next pass, so the other
    controllers' work runs in between).
    """
    handled, batch, first = 0, SLOW_START_INITIAL_BATCH, True
    while True:
        with store.locked(cluster):
            in_transaction = 0
            # The set's pods as read in this transaction, with those it has created since
            # (under the lock nobody else writes them): read once, not once a batch.
            owned: list[dict] | None = None
            while True:
                rs = store.by_uid(cluster, uid)
                if rs is None or rs["kind"] != "ReplicaSet" or rs["metadata"].get("deletionTimestamp"):
                    return False
                if owned is None:
                    owned = _owned(cluster, uid)
                if first:
                    if claim_pods(cluster, rs, owned):
                        owned = _owned(cluster, uid)
                    first = False
                active = [p for p in owned if pods.is_active(p)]
                want = int(rs["spec"].get("replicas", 1))
                diff = want - len(active)
                if diff > 0 and _owner_stopped(cluster, rs, len(active)):
                    diff = 0
                failure: APIError | None = None
                more = False
                room = BURST_REPLICAS - handled
                if diff > 0:
                    count = min(diff, batch, BATCH - in_transaction, room)
                    created: list[dict] = []
                    failure = _create_pods(cluster, rs, active_count=len(active), count=count, created=created)
                    owned = sorted([*owned, *map(_counted_doc, created)], key=_in_order)
                    handled += count
                    in_transaction += count
                    batch *= 2
                    # Refused: no next batch now. The status says why, and the resync (or the
                    # next change to its pods) tries again; no wake-up of its own, no hot loop.
                    more = failure is None and diff > count
                elif diff < 0:
                    count = min(-diff, BATCH - in_transaction, room)
                    _delete_pods(cluster, rs, active, count)
                    owned = None  # read again: the deleted are gone or terminating
                    handled += count
                    in_transaction += count
                    more = -diff > count
                if more and handled < BURST_REPLICAS:
                    if in_transaction < BATCH:
                        continue  # the next batch in this transaction
                    break  # the next in a transaction of its own
                # The pods as read above, with those this transaction created (after a
                # deletion, read again).
                _write_status(cluster, rs, failure, owned=owned)
                return more


def _owner_stopped(cluster: Cluster, rs: dict, active: int) -> bool:
    """The controlling Deployment is gone, being deleted, or now wants no more pods than
    this ReplicaSet has: creating more would only be undone. Its own pass (which may wait
    behind this one on the worker) will scale this set; until then nothing is created."""
    ref = metav1.controller_ref(rs)
    if ref is None or ref.get("kind") != "Deployment":
        return False
    owner = store.by_uid(cluster, ref.get("uid", ""))
    if owner is None or owner["metadata"].get("deletionTimestamp"):
        return True
    wanted = (owner.get("spec") or {}).get("replicas", 1)
    want = int(rs["spec"].get("replicas", 1))
    return isinstance(wanted, int) and wanted < want and active >= wanted


def _delete_pods(cluster: Cluster, rs: dict, active: list[dict], count: int) -> None:
    """Delete `count` of the active pods, in Kubernetes' order; one that fails is recorded
    on that pod and the others still go."""
    surplus = sorted(active, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
    surplus.sort(key=deletion_rank)
    for pod in surplus[:count]:
        name = pod["metadata"]["name"]
        with isolation.isolated(cluster, store.REPLICASET_CONTROLLER, uid=pod["metadata"]["uid"], what=f"pod {name}"):
            try:
                store.delete_pod(cluster, pod["metadata"]["namespace"], name, by=store.REPLICASET_CONTROLLER)
            except APIError:
                continue  # already gone: that is what we wanted
            events.record(cluster, rs, "SuccessfulDelete", f"Deleted pod: {name}", by=store.REPLICASET_CONTROLLER, component="replicaset-controller")


def _create_pods(cluster: Cluster, rs: dict, *, active_count: int, count: int, created: list[dict] | None = None) -> APIError | None:
    """Create up to `count` pods (appended to `created`); stop at the first the API server
    refuses (a quota) and return that refusal, as the real controller's slowStartBatch stops."""
    deployment_uid = next((r["uid"] for r in rs["metadata"].get("ownerReferences") or [] if r.get("kind") == "Deployment"), "")
    deployment = store.by_uid(cluster, deployment_uid) if deployment_uid else None
    client = _client_of(cluster, deployment_uid or rs["metadata"]["uid"])
    # The last status counted the pods before some went away: that many are replacements
    # (self-healing), the rest are new because the desired count went up.
    want = int(rs["spec"].get("replicas", 1))
    replacements = max(0, min(want, int((rs.get("status") or {}).get("replicas", 0))) - active_count)
    for i in range(count):
        have = active_count + i

        def steps(doc: dict, revision: int, have: int = have, replacing: bool = i < replacements) -> list[store.StepRecord]:
            return narration.owned_pod_created(doc, revision, client=client, rs=rs, deployment=deployment, active=have, replacing=replacing)

        try:
            pod = store.create(cluster, pod_from_template(rs), by=store.REPLICASET_CONTROLLER, namespace=rs["metadata"]["namespace"], steps=steps)
        except APIError as refused:
            # podControl.CreatePods' words; aggregated, so a sandbox left at its quota
            # gets one Event whose count grows at each retry.
            events.record_aggregated(
                cluster, rs, FAILED_CREATE, f"Error creating: {refused.message}",
                by=store.REPLICASET_CONTROLLER, component="replicaset-controller", type_="Warning",
            )
            return refused
        if created is not None:
            created.append(pod)
        events.record(cluster, rs, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", by=store.REPLICASET_CONTROLLER, component="replicaset-controller")
    return None


def _client_of(cluster: Cluster, uid: str) -> str:
    """Who asked for the object (the client that created it), read once a transaction."""
    memo = store.memo()
    key = ("replicaset.client_of", uid)
    if memo is not None and key in memo:
        return memo[key]
    client = rows.client_of(cluster.pk, uid) or "a client"
    if memo is not None:
        memo[key] = client
    return client


def _write_status(cluster: Cluster, rs: dict, failure: APIError | None = None, *, owned: list[dict] | None = None) -> None:
    if owned is None:
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
            {"type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": metav1.rfc3339(), "reason": FAILED_CREATE, "message": failure.message},
        ]
    if failure is None and present:
        return [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    return conditions


# What counting a pod reads of it, extracted by the database (rows.json_fields).
POD_COUNTED = (("metadata", "deletionTimestamp"), ("status", "phase"), ("status", "conditions"))


def unconverged(cluster: Cluster) -> list[str]:
    """Uids of the ReplicaSets whose pods or status do not match their spec: what the
    resync must wake. Read from a few JSON fields, without decoding whole documents."""
    from collections import Counter

    active: Counter = Counter()
    ready: Counter = Counter()
    for _, owner, deleting, phase, conditions in rows.json_fields(cluster.pk, "Pod", POD_COUNTED, owned=True):
        if deleting or phase in ("Succeeded", "Failed"):
            continue
        active[owner] += 1
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions or [] if isinstance(c, dict)):
            ready[owner] += 1
    out = []
    fields = (("spec", "replicas"), ("status", "replicas"), ("status", "readyReplicas"), ("metadata", "generation"), ("status", "observedGeneration"))
    for uid, _, want, replicas, ready_replicas, generation, observed in rows.json_fields(cluster.pk, "ReplicaSet", fields):
        want = 1 if want is None else want
        if active[uid] != want or (replicas or 0) != active[uid] or (ready_replicas or 0) != ready[uid] or generation != observed:
            out.append(uid)
    return out
