"""The ReplicaSet controller, one reconcile at a time: fixture → reconcile → the writes made."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cluster import kinds, pods, store
from cluster.controllers import replicaset
from cluster.models import Change

from .manifests import changes_after, pod, replicaset as replicaset_manifest, revision, steps_of


def owned_pods(cluster, rs: dict) -> list[dict]:
    return store.list_docs(cluster, kinds.POD, owner_uid=rs["metadata"]["uid"])


def active_names(cluster, rs: dict) -> set[str]:
    return {p["metadata"]["name"] for p in owned_pods(cluster, rs) if pods.is_active(p)}


def make_rs(cluster, replicas: int = 3) -> dict:
    return store.create(cluster, replicaset_manifest("web", replicas=replicas), client="kubectl")


def scale(cluster, rs: dict, replicas: int) -> dict:
    return store.mutate(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"], lambda d: d["spec"].update(replicas=replicas), by=store.API)


def test_it_creates_the_missing_pods_with_owner_references_and_labels(cluster):
    rs = make_rs(cluster)
    before = revision(cluster)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    made = owned_pods(cluster, rs)
    assert len(made) == 3
    for p in made:
        assert p["metadata"]["name"].startswith("web-")
        assert p["metadata"]["labels"] == {"app": "web"}
        assert p["metadata"]["ownerReferences"] == [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
        ]
        assert p["spec"]["containers"][0]["image"] == "nginx"
        assert "nodeName" not in p["spec"]
    log = changes_after(cluster, before)
    assert [(c.type, c.kind) for c in log] == [(Change.ADDED, "Pod"), (Change.ADDED, "Event")] * 3 + [(Change.MODIFIED, "ReplicaSet")]
    assert [c.doc["message"] for c in log if c.kind == "Event"] == [f"Created pod: {p['metadata']['name']}" for p in sorted(made, key=lambda p: int(p["metadata"]["resourceVersion"]))]


def test_it_records_steps_one_to_three_for_each_pod_it_creates(cluster):
    rs = make_rs(cluster, replicas=2)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    for p in owned_pods(cluster, rs):
        assert steps_of(p["metadata"]["uid"]) == [(1, "done"), (2, "done"), (3, "done")]


def test_it_writes_its_status(cluster):
    rs = make_rs(cluster)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    status = store.get(cluster, kinds.REPLICASET, "default", "web")["status"]
    assert status == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 0, "availableReplicas": 0, "observedGeneration": 1}


def test_it_does_nothing_when_converged(cluster):
    rs = make_rs(cluster)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    before = revision(cluster)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert revision(cluster) == before


def test_it_creates_nothing_more_on_a_duplicate_call(cluster):
    rs = make_rs(cluster)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    first = owned_pods(cluster, rs)
    # A pod became ready meanwhile: only the status has something to say.
    ready_one = first[0]["metadata"]["name"]
    store.mutate(cluster, kinds.POD, "default", ready_one, lambda d: pods.set_condition(d, "Ready", "True"), by=store.KUBELET)
    before = revision(cluster)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert active_names(cluster, rs) == {p["metadata"]["name"] for p in first}
    assert [(c.type, c.kind) for c in changes_after(cluster, before)] == [(Change.MODIFIED, "ReplicaSet")]
    assert store.get(cluster, kinds.REPLICASET, "default", "web")["status"]["readyReplicas"] == 1


def test_it_leaves_pods_it_does_not_own_alone(cluster):
    stranger = store.create(cluster, pod("stranger", labels={"app": "web"}))
    rs = make_rs(cluster, replicas=1)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    scale(cluster, rs, 0)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert store.get(cluster, kinds.POD, "default", "stranger") == stranger
    assert owned_pods(cluster, rs) == []


def test_it_replaces_a_pod_that_was_deleted(cluster):
    rs = make_rs(cluster)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    gone = owned_pods(cluster, rs)[0]["metadata"]["name"]
    store.remove(cluster, kinds.POD, "default", gone, by=store.API)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    names = active_names(cluster, rs)
    assert len(names) == 3 and gone not in names


def test_it_creates_a_large_count_in_batches_and_writes_the_status_once(cluster, monkeypatch):
    monkeypatch.setattr(replicaset, "BATCH", 2)
    rs = make_rs(cluster, replicas=5)
    before = revision(cluster)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert len(active_names(cluster, rs)) == 5
    assert [c.kind for c in changes_after(cluster, before)] == ["Pod", "Event"] * 5 + ["ReplicaSet"]


def test_it_does_nothing_for_a_replicaset_that_is_gone(cluster):
    before = revision(cluster)

    replicaset.reconcile(cluster, "no-such-uid")

    assert revision(cluster) == before


# --- scaling down, in Kubernetes' order ---------------------------------------------------

@pytest.fixture
def four_pods(cluster):
    """A ReplicaSet of four pods: unscheduled, pending on a node, running not ready, ready."""
    rs = make_rs(cluster, replicas=4)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    names = sorted(p["metadata"]["name"] for p in owned_pods(cluster, rs))
    states = dict(zip(("unscheduled", "pending", "not-ready", "ready"), names))

    def bound(doc: dict) -> None:
        doc["spec"]["nodeName"] = "node-1"

    def running(doc: dict, ready: bool) -> None:
        bound(doc)
        doc["status"].update(phase="Running", hostIP="192.168.49.2")
        pods.set_condition(doc, "Ready", "True" if ready else "False")

    store.mutate(cluster, kinds.POD, "default", states["pending"], bound, by=store.SCHEDULER)
    store.mutate(cluster, kinds.POD, "default", states["not-ready"], lambda d: running(d, False), by=store.KUBELET)
    store.mutate(cluster, kinds.POD, "default", states["ready"], lambda d: running(d, True), by=store.KUBELET)
    return rs, states


@pytest.mark.parametrize(
    "replicas,survivors",
    [
        (3, {"pending", "not-ready", "ready"}),
        (2, {"not-ready", "ready"}),
        (1, {"ready"}),
        (0, set()),
    ],
)
def test_it_scales_down_unscheduled_then_pending_then_not_ready_pods_first(cluster, four_pods, replicas, survivors):
    rs, states = four_pods
    scale(cluster, rs, replicas)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert active_names(cluster, rs) == {states[s] for s in survivors}
    assert store.get(cluster, kinds.REPLICASET, "default", "web")["status"]["replicas"] == replicas


def test_it_lets_a_started_pod_terminate_gracefully_and_removes_an_unstarted_one(cluster, four_pods):
    rs, states = four_pods
    scale(cluster, rs, 0)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    left = {p["metadata"]["name"]: p for p in owned_pods(cluster, rs)}
    assert set(left) == {states["not-ready"], states["ready"]}
    assert all(p["metadata"]["deletionTimestamp"] for p in left.values())


def test_it_scales_down_the_newest_of_equally_ranked_pods(cluster, monkeypatch):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rs = make_rs(cluster, replicas=0)
    for i in range(3):
        monkeypatch.setattr(store, "now", lambda i=i: start + timedelta(minutes=i))
        scale(cluster, rs, i + 1)
        replicaset.reconcile(cluster, rs["metadata"]["uid"])
    by_age = sorted(owned_pods(cluster, rs), key=lambda p: p["metadata"]["creationTimestamp"])
    scale(cluster, rs, 1)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert active_names(cluster, rs) == {by_age[0]["metadata"]["name"]}
