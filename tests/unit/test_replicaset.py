"""The ReplicaSet controller, one reconcile at a time: fixture → reconcile → the writes made."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cluster.apimachinery import kinds, metav1, pods, selectors
from cluster.apiserver import store
from cluster.controllers import replicaset
from cluster.models import Change

from .manifests import changes_after, pod
from .manifests import replicaset as replicaset_manifest
from .manifests import revision, steps_of


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
    theirs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "other", "uid": "someone-else", "controller": True}
    stranger = store.create(cluster, {**pod("stranger", labels={"app": "web"}), "metadata": {"name": "stranger", "labels": {"app": "web"}, "ownerReferences": [theirs]}})
    rs = make_rs(cluster, replicas=1)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    scale(cluster, rs, 0)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert store.get(cluster, kinds.POD, "default", "stranger") == stranger
    assert owned_pods(cluster, rs) == []


def test_it_adopts_an_orphan_pod_its_selector_matches(cluster):
    orphan = store.create(cluster, pod("orphan", labels={"app": "web", "extra": "yes"}))
    rs = make_rs(cluster, replicas=3)
    before = revision(cluster)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    adopted = store.get(cluster, kinds.POD, "default", "orphan")
    assert adopted["metadata"]["ownerReferences"] == [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    ]
    assert adopted["spec"] == orphan["spec"]
    assert len(active_names(cluster, rs)) == 3
    log = changes_after(cluster, before)
    assert [(c.type, c.kind) for c in log] == [(Change.MODIFIED, "Pod")] + [(Change.ADDED, "Pod"), (Change.ADDED, "Event")] * 2 + [(Change.MODIFIED, "ReplicaSet")]


def test_it_adopts_no_pod_that_is_finished_being_deleted_or_not_matching(cluster):
    store.create(cluster, pod("other-app", labels={"app": "other"}))
    store.create(cluster, pod("unlabelled"))
    done = store.create(cluster, pod("done", labels={"app": "web"}))
    store.mutate(cluster, kinds.POD, "default", "done", lambda d: d["status"].update(phase="Succeeded"), by=store.KUBELET)
    store.create(cluster, pod("going", labels={"app": "web"}))
    store.mutate(cluster, kinds.POD, "default", "going", lambda d: d["status"].update(hostIP="192.168.49.2"), by=store.KUBELET)
    store.delete_pod(cluster, "default", "going", by=store.API)
    rs = make_rs(cluster, replicas=1)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    for name in ("other-app", "unlabelled", "done", "going"):
        assert not store.get(cluster, kinds.POD, "default", name)["metadata"].get("ownerReferences"), name
    assert done["metadata"]["name"] not in active_names(cluster, rs)
    assert len(active_names(cluster, rs)) == 1


def test_it_releases_a_pod_whose_labels_stop_matching_and_replaces_it(cluster):
    rs = make_rs(cluster, replicas=2)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    relabelled = owned_pods(cluster, rs)[0]["metadata"]["name"]
    store.mutate(cluster, kinds.POD, "default", relabelled, lambda d: d["metadata"]["labels"].update(app="debug"), by=store.API)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    released = store.get(cluster, kinds.POD, "default", relabelled)
    assert "ownerReferences" not in released["metadata"]
    assert pods.is_active(released)
    names = active_names(cluster, rs)
    assert len(names) == 2 and relabelled not in names


def test_a_released_pod_keeps_its_other_owner_references(cluster):
    rs = make_rs(cluster, replicas=1)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    [mine] = owned_pods(cluster, rs)
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cfg", "uid": "cfg-uid"}

    def relabel(doc: dict) -> None:
        doc["metadata"]["labels"] = {"app": "debug"}
        doc["metadata"]["ownerReferences"].append(other)

    store.mutate(cluster, kinds.POD, "default", mine["metadata"]["name"], relabel, by=store.API)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert store.get(cluster, kinds.POD, "default", mine["metadata"]["name"])["metadata"]["ownerReferences"] == [other]


@pytest.mark.parametrize(
    "selector,labels,matches",
    [
        ({"matchLabels": {"app": "web"}}, {"app": "web", "x": "y"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "api"}, False),
        ({"matchLabels": {"app": "web"}}, {}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}, {"tier": "b"}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}, {"tier": "b"}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {"tier": "b"}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"tier": ""}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"tier": "a"}, False),
        ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"app": "web"}, False),
        ({}, {"anything": "at-all"}, True),
        (None, {"app": "web"}, False),
    ],
)
def test_it_reads_label_selectors_as_kubernetes_does(selector, labels, matches):
    assert selectors.matches(selector, labels) is matches


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


def test_a_slow_start_in_one_transaction_reads_the_sets_pods_once(cluster, monkeypatch):
    """Five replicas are three slow-start batches (1, 2, 2) in one transaction: the pods are
    read once, and those it created are counted as created, for the next batch and for
    the status — which says what a read of the pods afterwards says."""
    from cluster.apiserver import rows

    reads = []
    original = rows.json_fields
    monkeypatch.setattr(rows, "json_fields", lambda *a, **kw: reads.append(kw.get("owner_uids")) or original(*a, **kw))
    rs = make_rs(cluster, replicas=5)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert len(reads) == 1
    assert len(active_names(cluster, rs)) == 5
    status = store.get(cluster, kinds.REPLICASET, "default", "web")["status"]
    assert status == {"replicas": 5, "fullyLabeledReplicas": 5, "readyReplicas": 0, "availableReplicas": 0, "observedGeneration": 1}
    counted = replicaset._owned(cluster, rs["metadata"]["uid"])
    assert [replicaset._counted_doc(p) for p in sorted(owned_pods(cluster, rs), key=replicaset._in_order)] == counted


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
        monkeypatch.setattr(metav1, "now", lambda i=i: start + timedelta(minutes=i))
        scale(cluster, rs, i + 1)
        replicaset.reconcile(cluster, rs["metadata"]["uid"])
    by_age = sorted(owned_pods(cluster, rs), key=lambda p: p["metadata"]["creationTimestamp"])
    scale(cluster, rs, 1)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert active_names(cluster, rs) == {by_age[0]["metadata"]["name"]}


# --- two workers at once ------------------------------------------------------------------

@pytest.fixture
def worker_database(tmp_path, django_db_blocker):
    """A SQLite file in IMMEDIATE mode, as the workers run on, for threads that write at once.

    The unit tests' in-memory database cannot serve this: its shared cache answers a second
    writer "table is locked" at once instead of making it wait. Each thread calls the
    returned `connect()` first to get its own connection to the file.
    """
    import copy

    from django.core.management import call_command
    from django.db import connections
    from django.db.backends.sqlite3.base import DatabaseWrapper

    settings = {
        **copy.deepcopy(connections["default"].settings_dict),
        "NAME": str(tmp_path / "workers.sqlite3"),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
        "TEST": {},
    }
    saved = connections["default"]
    opened = []

    def connect() -> DatabaseWrapper:
        wrapper = DatabaseWrapper(copy.deepcopy(settings), "default")
        connections["default"] = wrapper
        opened.append(wrapper)
        return wrapper

    with django_db_blocker.unblock():
        connect()
        call_command("migrate", verbosity=0)
        try:
            yield connect
        finally:
            for wrapper in opened:
                wrapper.inc_thread_sharing()  # the threads' connections are closed from here
                wrapper.close()
            connections["default"] = saved


def run_at_once(connect, count: int, work) -> list[BaseException]:
    """`count` threads, each with its own connection, released together on a barrier."""
    import threading

    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def worker() -> None:
        connect()
        try:
            barrier.wait(timeout=30)
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return errors


def test_two_workers_and_duplicate_wake_ups_at_once_make_exactly_n_pods(worker_database):
    from cluster.demo import ensure_cluster
    from cluster.models import Speed

    cluster, _ = ensure_cluster("workers", nodes=1, speed=Speed.INSTANT)
    rs = store.create(cluster, replicaset_manifest("web", replicas=5))

    errors = run_at_once(worker_database, 4, lambda: replicaset.reconcile(cluster, rs["metadata"]["uid"]))

    assert errors == []
    assert len(active_names(cluster, rs)) == 5
    created = Change.objects.filter(cluster=cluster, kind="Pod", type=Change.ADDED).count()
    assert created == 5
    assert store.get(cluster, kinds.REPLICASET, "default", "web")["status"]["replicas"] == 5


def test_a_second_worker_waits_while_the_first_is_between_reading_and_writing(worker_database, monkeypatch):
    """Worker A has counted the pods and not yet created them; worker B starts then. B must
    wait for A's transaction, then see A's pods: exactly N, never 2N."""
    import threading

    from cluster.demo import ensure_cluster
    from cluster.models import Speed

    cluster, _ = ensure_cluster("workers", nodes=1, speed=Speed.INSTANT)
    rs = store.create(cluster, replicaset_manifest("web", replicas=3))
    uid = rs["metadata"]["uid"]
    a_inside, a_may_go = threading.Event(), threading.Event()
    real_create = replicaset._create_pods

    def create_pods_pausing_in_a(*args, **kwargs):
        if threading.current_thread().name == "A":
            a_inside.set()
            assert a_may_go.wait(timeout=60)
        return real_create(*args, **kwargs)

    monkeypatch.setattr(replicaset, "_create_pods", create_pods_pausing_in_a)
    errors: list[BaseException] = []

    def worker() -> None:
        worker_database()
        try:
            replicaset.reconcile(cluster, uid)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    a = threading.Thread(target=worker, name="A")
    b = threading.Thread(target=worker, name="B")
    a.start()
    assert a_inside.wait(timeout=60)
    b.start()
    b.join(timeout=1.0)
    b_waited = b.is_alive()  # B cannot have finished: A holds the lock
    a_may_go.set()
    a.join(timeout=60)
    b.join(timeout=60)

    assert errors == []
    assert b_waited
    assert len(active_names(cluster, rs)) == 3
    assert Change.objects.filter(cluster=cluster, kind="Pod", type=Change.ADDED).count() == 3


def test_it_narrates_a_replacement_pod_as_self_healing_not_as_a_new_request(cluster):
    from cluster.models import Step

    rs = make_rs(cluster, replicas=2)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    first = owned_pods(cluster, rs)
    store.remove(cluster, kinds.POD, "default", first[0]["metadata"]["name"], by=store.API)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    [replacement] = [p for p in owned_pods(cluster, rs) if p["metadata"]["uid"] not in {q["metadata"]["uid"] for q in first}]
    step1 = Step.objects.get(pod_uid=replacement["metadata"]["uid"], number=1)
    assert step1.text_en.startswith("No client asked for this pod") and "self-healing" in step1.text_en
    assert "자가 치유" in step1.text_ko
    original = Step.objects.get(pod_uid=first[1]["metadata"]["uid"], number=1)
    assert original.text_en.startswith("kubectl asked the API server for ReplicaSet")
