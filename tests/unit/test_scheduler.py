"""The scheduler, one attempt at a time: filter, score, bind."""
from __future__ import annotations

from datetime import datetime, timezone

from cluster import events, kinds, pods, scheduler, store
from cluster.models import Change

from .manifests import changes_after, pod, revision, steps_of


def place(cluster, name: str, node: str, **requests: str) -> dict:
    """A pod already running on `node`, taking room there."""
    doc = pod(name, **requests)
    doc["spec"]["nodeName"] = node
    return store.create(cluster, doc)


def waiting(cluster, name: str = "web", **requests: str) -> dict:
    return store.create(cluster, pod(name, **requests))


def edit_node(cluster, name: str, change) -> None:
    store.mutate(cluster, kinds.NODE, "", name, change, by=store.API)


def not_ready(doc: dict) -> None:
    pods.set_condition(doc, "Ready", "False", "KubeletNotReady")


def event_messages(cluster, uid: str, reason: str) -> list[str]:
    return [e["message"] for e in store.list_docs(cluster, kinds.EVENT, owner_uid=uid) if e["reason"] == reason]


def test_it_binds_a_pod_to_the_least_allocated_node(cluster):
    place(cluster, "busy-2", "node-2", cpu="1", memory="1Gi")
    place(cluster, "busy-3", "node-3", cpu="2", memory="2Gi")
    web = waiting(cluster, cpu="500m", memory="128Mi")
    before = revision(cluster)

    chosen = scheduler.schedule(cluster, web["metadata"]["uid"])

    bound = store.get(cluster, kinds.POD, "default", "web")
    assert chosen == "node-1"
    assert bound["spec"]["nodeName"] == "node-1"
    assert pods.condition(bound, "PodScheduled")["status"] == "True"
    assert [(c.type, c.kind) for c in changes_after(cluster, before)] == [(Change.MODIFIED, "Pod"), (Change.ADDED, "Event")]


def test_it_records_a_scheduled_event_and_step_four(cluster):
    web = waiting(cluster)

    node = scheduler.schedule(cluster, web["metadata"]["uid"])

    assert event_messages(cluster, web["metadata"]["uid"], "Scheduled") == [f"Successfully assigned default/web to {node}"]
    assert steps_of(web["metadata"]["uid"]) == [(4, "done")]


def test_it_counts_pods_without_requests_when_it_scores(cluster):
    for i in range(3):
        place(cluster, f"small-{i}", "node-1")
    place(cluster, "small-3", "node-2")
    web = waiting(cluster)

    assert scheduler.schedule(cluster, web["metadata"]["uid"]) == "node-3"


def test_it_leaves_a_pod_pending_with_a_failed_scheduling_event_when_nothing_fits(cluster):
    web = waiting(cluster, cpu="5")

    chosen = scheduler.schedule(cluster, web["metadata"]["uid"])

    stuck = store.get(cluster, kinds.POD, "default", "web")
    assert chosen is None
    assert "nodeName" not in stuck["spec"]
    assert stuck["status"]["phase"] == "Pending"
    condition = pods.condition(stuck, "PodScheduled")
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")
    assert condition["message"] == "0/3 nodes are available: 3 Insufficient cpu."
    assert event_messages(cluster, web["metadata"]["uid"], "FailedScheduling") == ["0/3 nodes are available: 3 Insufficient cpu."]
    assert steps_of(web["metadata"]["uid"]) == []


def test_it_writes_nothing_new_when_a_second_attempt_fails_the_same_way(cluster):
    web = waiting(cluster, cpu="5")
    scheduler.schedule(cluster, web["metadata"]["uid"])
    before = revision(cluster)

    scheduler.schedule(cluster, web["metadata"]["uid"])

    assert revision(cluster) == before


def test_it_counts_the_room_taken_by_pods_already_on_a_node(cluster):
    for node in ("node-1", "node-2", "node-3"):
        place(cluster, f"big-{node}", node, cpu="3500m")
    web = waiting(cluster, cpu="1")

    assert scheduler.schedule(cluster, web["metadata"]["uid"]) is None
    assert event_messages(cluster, web["metadata"]["uid"], "FailedScheduling") == ["0/3 nodes are available: 3 Insufficient cpu."]


def test_it_skips_cordoned_and_not_ready_nodes(cluster):
    place(cluster, "busy-3", "node-3", cpu="2", memory="4Gi")
    edit_node(cluster, "node-1", lambda d: d["spec"].update(unschedulable=True))
    edit_node(cluster, "node-2", not_ready)
    web = waiting(cluster)

    assert scheduler.schedule(cluster, web["metadata"]["uid"]) == "node-3"


def test_it_says_why_each_node_was_refused_as_kubernetes_words_it(cluster):
    edit_node(cluster, "node-1", lambda d: d["spec"].update(unschedulable=True))
    web = waiting(cluster, cpu="5")

    scheduler.schedule(cluster, web["metadata"]["uid"])

    # kube-scheduler sorts the "<count> <reason>" strings themselves.
    assert event_messages(cluster, web["metadata"]["uid"], "FailedScheduling") == [
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
    ]


def test_it_reports_a_not_ready_node_as_an_untolerated_taint(cluster):
    for node in ("node-1", "node-2", "node-3"):
        edit_node(cluster, node, not_ready)
    web = waiting(cluster)

    scheduler.schedule(cluster, web["metadata"]["uid"])

    assert event_messages(cluster, web["metadata"]["uid"], "FailedScheduling") == [
        "0/3 nodes are available: 3 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."
    ]


def test_it_tries_again_and_binds_once_room_is_made(cluster):
    web = waiting(cluster, cpu="3")
    for node in ("node-1", "node-2", "node-3"):
        place(cluster, f"big-{node}", node, cpu="2")
    scheduler.schedule(cluster, web["metadata"]["uid"])
    store.remove(cluster, kinds.POD, "default", "big-node-2", by=store.API)

    assert scheduler.schedule(cluster, web["metadata"]["uid"]) == "node-2"
    assert events.reasons_for(cluster, web["metadata"]["uid"]) == ["FailedScheduling", "Scheduled"]


def test_it_leaves_a_bound_or_deleted_pod_alone(cluster):
    bound = place(cluster, "bound", "node-1")
    before = revision(cluster)

    assert scheduler.schedule(cluster, bound["metadata"]["uid"]) is None
    assert scheduler.schedule(cluster, "no-such-uid") is None
    assert revision(cluster) == before


def test_it_lists_pending_pods_oldest_first(cluster, monkeypatch):
    place(cluster, "bound", "node-1")
    monkeypatch.setattr(store, "now", lambda: datetime(2026, 1, 1, 10, 0, 0, tzinfo=timezone.utc))
    first = waiting(cluster, "z-first")
    monkeypatch.setattr(store, "now", lambda: datetime(2026, 1, 1, 10, 0, 5, tzinfo=timezone.utc))
    second = waiting(cluster, "a-second")

    assert scheduler.pending_pods(cluster) == [first["metadata"]["uid"], second["metadata"]["uid"]]


def test_it_counts_pods_against_a_nodes_pod_capacity(cluster):
    for node in ("node-1", "node-2", "node-3"):
        edit_node(cluster, node, lambda d: d["status"]["allocatable"].update(pods="1"))
        place(cluster, f"only-{node}", node)
    web = waiting(cluster)

    assert scheduler.schedule(cluster, web["metadata"]["uid"]) is None
    assert event_messages(cluster, web["metadata"]["uid"], "FailedScheduling") == ["0/3 nodes are available: 3 Too many pods."]
