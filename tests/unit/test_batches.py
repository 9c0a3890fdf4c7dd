"""Group commit: a component's work for many objects in one transaction, each write still
its own revision, each pod's steps still recorded once, the clock still holding one
action per pod, and one object's failure still its own."""
from __future__ import annotations

import pytest

from cluster import kubelet, scheduler, tasks
from cluster.apimachinery import kinds, pods
from cluster.apiserver import store
from cluster.componentbase import clock as cluster_clock
from cluster.controllers import node as node_controller
from cluster.controllers import replicaset as replicaset_controller
from cluster.informers import wake
from cluster.models import Change, HeldAction, Step

from .manifests import pod
from .manifests import replicaset as replicaset_manifest
from .manifests import revision, steps_of


@pytest.fixture
def commits(monkeypatch) -> list[list[store.Committed]]:
    """Each committed transaction's writes, as the store's listeners receive them (once the
    test's capture of commit callbacks runs them)."""
    seen: list[list[store.Committed]] = []
    monkeypatch.setattr(store, "_listeners", [lambda cluster, changes: seen.append(list(changes))])
    return seen


@pytest.fixture
def queued(monkeypatch) -> dict[tuple, list[str]]:
    """The work queues' contents, as the tests put them (Redis is not used by unit tests)."""
    queues: dict[tuple, list[str]] = {}
    monkeypatch.setattr(wake, "take_queued", lambda task: sorted(queues.pop(task, [])))
    monkeypatch.setattr(wake, "dispatch", lambda tasks_, countdown=None, unless_delayed=False: None)
    return queues


def pending(cluster, count: int, **requests: str) -> list[str]:
    return [store.create(cluster, pod(f"p{i}", **requests))["metadata"]["uid"] for i in range(count)]


def bound(cluster, uids: list[str]) -> dict[str, str]:
    return {uid: store.by_uid(cluster, uid)["spec"].get("nodeName", "") for uid in uids}


# --- the scheduler ------------------------------------------------------------------------

def test_one_pass_of_the_scheduler_binds_a_batch_in_one_transaction_each_bind_its_own_revision(cluster, commits, queued, django_capture_on_commit_callbacks):
    uids = pending(cluster, 5)
    queued[(wake.SCHEDULE_QUEUE, (cluster.pk,))] = uids

    with django_capture_on_commit_callbacks(execute=True):
        tasks.schedule_queue(cluster.pk)

    [transaction] = commits  # one transaction
    binds = [c for c in transaction if c.kind == "Pod"]
    assert sorted(c.new["metadata"]["uid"] for c in binds) == sorted(uids)
    assert all(c.new["spec"]["nodeName"] for c in binds)
    revisions = [c.revision for c in transaction]
    assert revisions == list(range(revisions[0], revisions[0] + len(transaction)))  # one each, no gap
    assert len(transaction) == 10  # a bind and its Scheduled event per pod
    for uid in uids:
        assert [n for n, _ in steps_of(uid)] == [4]  # (1 to 3 are the HTTP request's)
    assert [s.number for c in binds for s in c.steps] == [4] * 5
    logged = list(Change.objects.filter(cluster=cluster, revision__gte=revisions[0]).order_by("revision").values_list("revision", flat=True))
    assert logged == revisions


def test_a_batch_counts_each_pod_it_binds_before_placing_the_next(cluster, queued):
    uids = pending(cluster, 4, cpu="3")  # a medium node (4 CPU) holds one of them

    queued[(wake.SCHEDULE_QUEUE, (cluster.pk,))] = uids
    tasks.schedule_queue(cluster.pk)

    placed = bound(cluster, uids)
    assert sorted(n for n in placed.values() if n) == ["node-1", "node-2", "node-3"]
    [waiting] = [store.by_uid(cluster, u) for u, n in placed.items() if not n]
    assert pods.condition(waiting, "PodScheduled")["reason"] == "Unschedulable"


def test_batches_are_transactions_of_at_most_batch_pods_in_queue_order(cluster, commits, queued, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(scheduler, "BATCH", 2)
    uids = pending(cluster, 5)
    queued[(wake.SCHEDULE_QUEUE, (cluster.pk,))] = list(reversed(uids))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.schedule_queue(cluster.pk)

    per_transaction = [[c.new["metadata"]["name"] for c in t if c.kind == "Pod"] for t in commits]
    assert per_transaction == [["p0", "p1"], ["p2", "p3"], ["p4"]]  # oldest first


def test_paused_the_queue_is_held_as_one_bind_per_pod_and_a_step_binds_one(cluster, queued):
    cluster_clock.pause(cluster)
    uids = pending(cluster, 3)
    queued[(wake.SCHEDULE_QUEUE, (cluster.pk,))] = uids

    tasks.schedule_queue(cluster.pk)

    assert set(bound(cluster, uids).values()) == {""}
    held = list(HeldAction.objects.filter(cluster=cluster).order_by("id"))
    assert [(h.component, h.step) for h in held] == [("scheduler", 4)] * 3
    assert sorted(h.args[1] for h in held) == sorted(uids)

    released = cluster_clock.step(cluster)
    queued[(wake.SCHEDULE_QUEUE, (cluster.pk,))] = [released.args[1]]  # what the step's wake-up queues
    tasks.schedule_queue(cluster.pk)

    assert [u for u, n in bound(cluster, uids).items() if n] == [released.args[1]]
    assert HeldAction.objects.filter(cluster=cluster).count() == 2


def test_a_stopped_scheduler_takes_its_queue_and_does_nothing(cluster, queued):
    cluster_clock.stop(cluster, cluster_clock.SCHEDULER)
    uids = pending(cluster, 2)
    queued[(wake.SCHEDULE_QUEUE, (cluster.pk,))] = uids

    tasks.schedule_queue(cluster.pk)

    assert set(bound(cluster, uids).values()) == {""}
    assert not HeldAction.objects.filter(cluster=cluster).exists()


def test_one_pod_that_raises_in_a_batch_leaves_the_others_bound(cluster, queued, monkeypatch):
    uids = pending(cluster, 3)
    original = scheduler.schedule

    def poisoned(cluster_, uid):
        if uid == uids[1]:
            store.mutate(cluster_, kinds.POD, "default", "p1", lambda d: d["metadata"].setdefault("labels", {}).update(x="y"), by=store.SCHEDULER)
            raise RuntimeError("boom")
        return original(cluster_, uid)

    monkeypatch.setattr(scheduler, "schedule", poisoned)
    queued[(wake.SCHEDULE_QUEUE, (cluster.pk,))] = uids

    tasks.schedule_queue(cluster.pk)

    placed = bound(cluster, uids)
    assert placed[uids[0]] and placed[uids[2]] and not placed[uids[1]]
    assert "labels" not in store.by_uid(cluster, uids[1])["metadata"]  # its write was undone
    [warning] = [e for e in store.list_docs(cluster, kinds.EVENT) if e["involvedObject"]["uid"] == uids[1] and e["reason"] == "FailedSync"]
    assert "boom" in warning["message"]


# --- the ReplicaSet controller ------------------------------------------------------------

def test_a_replicasets_slow_start_batches_share_a_transaction_up_to_batch_pods(cluster, commits, monkeypatch, django_capture_on_commit_callbacks):
    """1, 2, 2 for five replicas: one transaction (the lock held for at most BATCH pods);
    with BATCH 4: the batches of 1 and 2 (and 1 of the next), then the rest."""
    for replicas, batch, sizes in ((5, 50, [5]), (7, 4, [4, 3])):
        monkeypatch.setattr(replicaset_controller, "BATCH", batch)
        rs = store.create(cluster, replicaset_manifest(f"web-{replicas}", replicas=replicas))
        commits.clear()
        with django_capture_on_commit_callbacks(execute=True):
            replicaset_controller.reconcile(cluster, rs["metadata"]["uid"])
        created = [sum(1 for c in t if c.kind == "Pod" and c.type == "ADDED") for t in commits]
        assert created[:len(sizes)] == sizes and sum(created) == replicas
        steps = [s.number for t in commits for c in t for s in c.steps]
        assert steps.count(1) == replicas  # every pod's steps recorded, one revision each


# --- the kubelet --------------------------------------------------------------------------

def on_node(cluster, uids: list[str], node: str = "node-1") -> None:
    for uid in uids:
        doc = store.by_uid(cluster, uid)
        store.mutate(cluster, kinds.POD, "default", doc["metadata"]["name"], lambda d: d["spec"].update(nodeName=node), by=store.SCHEDULER)


def test_one_kubelet_pass_takes_its_nodes_pods_to_ready_a_batch_per_transaction(cluster, commits, queued, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(kubelet, "PODS_AT_ONCE", 2)
    uids = pending(cluster, 5)
    on_node(cluster, uids)
    start = revision(cluster)
    queued[(wake.SYNC_KUBELETS, (cluster.pk,))] = [wake.kubelet_member("node-1", uid) for uid in uids]

    with django_capture_on_commit_callbacks(execute=True):
        tasks.sync_kubelets(cluster.pk)

    assert all(pods.is_ready(store.by_uid(cluster, uid)) for uid in uids)
    assert [len({c.new["metadata"].get("uid") for c in t if c.kind == "Pod"}) for t in commits] == [2, 2, 1]
    revisions = [c.revision for t in commits for c in t]
    assert revisions == list(range(start + 1, revision(cluster) + 1))
    for uid in uids:
        assert [n for n, _ in steps_of(uid)] == [5, 6, 7, 8]  # (bound here without the scheduler)
    published = sorted((s.pod_uid, s.number) for t in commits for c in t for s in c.steps)
    assert published == sorted((uid, n) for uid in uids for n in (5, 6, 7, 8))
    # Admission counted each pod admitted before it in the same transaction: distinct IPs.
    ips = [store.by_uid(cluster, uid)["status"]["podIP"] for uid in uids]
    assert len(set(ips)) == 5


def test_each_admission_of_a_kubelet_batch_counts_the_pods_admitted_before_it(cluster, commits, queued, django_capture_on_commit_callbacks):
    """Within one transaction the node's pods are read once; what the kubelet wrote of the
    pods admitted earlier in it (their requests, their IPs) is what the next admission
    counts. Three pods of 1.5 CPU on a node of 4: the last one admitted does not fit."""
    uids = pending(cluster, 3, cpu="1500m")
    on_node(cluster, uids)
    queued[(wake.SYNC_KUBELETS, (cluster.pk,))] = [wake.kubelet_member("node-1", uid) for uid in uids]

    with django_capture_on_commit_callbacks(execute=True):
        tasks.sync_kubelets(cluster.pk)

    assert len(commits) == 1
    docs = [store.by_uid(cluster, uid) for uid in uids]
    running = [d for d in docs if d["status"]["phase"] == "Running"]
    rejected = [d for d in docs if d["status"]["phase"] == "Failed"]
    assert len(running) == 2 and len({d["status"]["podIP"] for d in running}) == 2
    assert [d["status"]["reason"] for d in rejected] == ["OutOfcpu"]  # whichever came last
    assert "requested: 1500, used: 3000, capacity: 4000" in rejected[0]["status"]["message"]


def test_one_pass_takes_the_woken_pods_of_every_node_each_by_its_nodes_kubelet(cluster, commits, queued, django_capture_on_commit_callbacks):
    uids = pending(cluster, 4)
    on_node(cluster, uids[:2], "node-1")
    on_node(cluster, uids[2:], "node-2")
    queued[(wake.SYNC_KUBELETS, (cluster.pk,))] = [wake.kubelet_member(node, uid) for node, uid in zip(["node-1", "node-1", "node-2", "node-2"], uids)]

    with django_capture_on_commit_callbacks(execute=True):
        tasks.sync_kubelets(cluster.pk)

    assert len(commits) == 1  # one transaction for both nodes' pods
    for uid, node in zip(uids, ["node-1", "node-1", "node-2", "node-2"]):
        doc = store.by_uid(cluster, uid)
        node_ip = next(a["address"] for a in store.get(cluster, kinds.NODE, "", node)["status"]["addresses"] if a["type"] == "InternalIP")
        assert pods.is_ready(doc) and doc["status"]["hostIP"] == node_ip
        assert [n for n, _ in steps_of(uid)] == [5, 6, 7, 8]


def test_paused_the_kubelets_queue_is_held_as_one_stage_per_pod(cluster, queued):
    uids = pending(cluster, 2)
    on_node(cluster, uids)
    cluster_clock.pause(cluster)
    queued[(wake.SYNC_KUBELETS, (cluster.pk,))] = [wake.kubelet_member("node-1", uid) for uid in uids]

    tasks.sync_kubelets(cluster.pk)

    held = list(HeldAction.objects.filter(cluster=cluster).order_by("id"))
    assert [(h.component, h.step) for h in held] == [("kubelet", 5), ("kubelet", 5)]
    assert not Step.objects.filter(pod_uid__in=uids, number=5).exists()


def test_one_pod_that_raises_in_a_kubelet_pass_leaves_the_others_ready(cluster, queued, monkeypatch):
    uids = pending(cluster, 3)
    on_node(cluster, uids)
    original = kubelet.run_due_stages

    def poisoned(cluster_, node, uid, *args, **kwargs):
        if uid == uids[0]:
            raise RuntimeError("boom")
        return original(cluster_, node, uid, *args, **kwargs)

    monkeypatch.setattr(kubelet, "run_due_stages", poisoned)
    queued[(wake.SYNC_KUBELETS, (cluster.pk,))] = [wake.kubelet_member("node-1", uid) for uid in uids]

    tasks.sync_kubelets(cluster.pk)

    assert [pods.is_ready(store.by_uid(cluster, uid)) for uid in uids] == [False, True, True]
    assert any(e["reason"] == "FailedSync" for e in store.list_docs(cluster, kinds.EVENT) if e["involvedObject"]["uid"] == uids[0])


# --- wake-ups gathered into work queues ---------------------------------------------------

class FakeRedis:
    """What dispatch and take_queued ask of Redis: SET NX, SADD, EXPIRE, SMEMBERS, DELETE."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def pipeline(self, transaction: bool = False) -> "FakeRedis.Pipe":
        return FakeRedis.Pipe(self)

    def delete(self, *keys: str) -> int:
        return sum(1 for k in keys if self.values.pop(k, None) is not None)

    class Pipe:
        def __init__(self, redis: "FakeRedis") -> None:
            self.redis, self.calls = redis, []

        def __getattr__(self, name: str):
            return lambda *args, **kwargs: self.calls.append((name, args, kwargs))

        def execute(self) -> list:
            out, values = [], self.redis.values
            for name, args, kwargs in self.calls:
                if name == "set":
                    fresh = args[0] not in values
                    if fresh or not kwargs.get("nx"):
                        values[args[0]] = args[1]
                    out.append(fresh)
                elif name == "sadd":
                    values.setdefault(args[0], set()).update(args[1:])
                    out.append(1)
                elif name == "smembers":
                    out.append(set(values.get(args[0], set())))
                elif name in ("delete", "expire", "exists"):
                    out.append(self.redis.delete(*args) if name == "delete" else (args[0] in values))
            return out


@pytest.fixture
def redis_and_sent(monkeypatch, settings):
    settings.PODFLOW_WAKE = True
    fake = FakeRedis()
    sent: list[tuple[str, list, float | None]] = []
    monkeypatch.setattr(wake, "_redis_client", lambda: fake)
    monkeypatch.setattr(wake.current_app, "send_task", lambda name, args, queue, countdown=None, **kw: sent.append((name, args, countdown)))
    return fake, sent


def test_single_pods_wake_ups_go_into_their_queue_and_its_task_is_sent_once(redis_and_sent):
    fake, sent = redis_and_sent
    wake.dispatch([(wake.SCHEDULE_POD, (7, "a")), (wake.SCHEDULE_POD, (7, "b")), (wake.SYNC_POD, (7, "node-1", "c"))])
    wake.dispatch([(wake.SCHEDULE_POD, (7, "d"))])  # its queue's task is queued already

    assert sent == [(wake.SCHEDULE_QUEUE, [7], None), (wake.SYNC_KUBELETS, [7], None)]
    queue = (wake.SCHEDULE_QUEUE, (7,))
    assert wake.take_queued(queue) == ["a", "b", "d"]  # the task started (its mark cleared) and took its queue
    assert wake.take_queued(queue) == []
    wake.dispatch([(wake.SCHEDULE_POD, (7, "e"))])  # after the task took its queue: queued again
    assert sent[-1] == (wake.SCHEDULE_QUEUE, [7], None)
    wake.dispatch([(wake.SYNC_POD, (7, "node-2", "f"))])  # another node of the cluster: the same queue, its task queued already
    assert sent.count((wake.SYNC_KUBELETS, [7], None)) == 1
    kubelets = (wake.SYNC_KUBELETS, (7,))
    assert [wake.kubelet_woken(m) for m in wake.take_queued(kubelets)] == [("node-1", "c"), ("node-2", "f")]


def test_what_dependents_report_goes_into_the_lane_behind_and_an_objects_own_change_in_front(monkeypatch, settings):
    settings.PODFLOW_WAKE = True
    fake = FakeRedis()
    sent: list[tuple[str, list, dict]] = []
    monkeypatch.setattr(wake, "_redis_client", lambda: fake)
    monkeypatch.setattr(wake.current_app, "send_task", lambda name, args, queue, **kw: sent.append((name, args, kw)))

    wake.dispatch([(wake.RECONCILE_REPLICASET, (7, "rs"))])  # a pod's status, gathered
    wake.dispatch([(wake.RECONCILE_DEPLOYMENT, (7, "d"))], countdown=0.0)  # its own change
    wake.dispatch([(wake.SYNC_POD, (7, "node-1", "p"))], countdown=2.5)  # a time of its own

    [(_, _, echo), (_, _, own), (_, _, later)] = sent
    assert echo["priority"] == wake.BEHIND and echo["countdown"] == wake.COALESCE_SECONDS[wake.RECONCILE_REPLICASET]
    assert "priority" not in own and own["countdown"] is None and "priority" not in later
    assert echo["argsrepr"] == "[7, 'rs']" and echo["declare"] == []


def test_a_delayed_wake_up_is_not_gathered(redis_and_sent):
    _, sent = redis_and_sent
    wake.dispatch([(wake.SYNC_POD, (7, "node-1", "c"))], countdown=2.5)
    assert sent == [(wake.SYNC_POD, [7, "node-1", "c"], 2.5)]


# --- the store ----------------------------------------------------------------------------

def test_a_namespace_deleted_in_a_transaction_refuses_creates_later_in_it(cluster):
    from cluster.apimachinery.errors import APIError

    store.create(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}})
    with pytest.raises(APIError) as refused:
        with store.locked(cluster):
            store.create(cluster, pod("before"), namespace="gone")  # admission reads the namespace once
            store.delete(cluster, kinds.NAMESPACE, "", "gone", by=store.API)
            store.create(cluster, pod("after"), namespace="gone")
    assert refused.value.code == 403


def test_a_node_controller_pass_with_nothing_to_do_takes_no_write_lock(cluster, monkeypatch):
    from cluster.kubelet import node as kubelet_node

    kubelet_node.heartbeat(cluster)
    taken: list[str] = []
    original = store.locked

    def counting(cluster_):
        taken.append("lock")
        return original(cluster_)

    monkeypatch.setattr(store, "locked", counting)
    before = revision(cluster)

    node_controller.reconcile(cluster)
    kubelet_node.heartbeat(cluster)  # nothing due a moment after the last beat

    assert (taken, revision(cluster)) == ([], before)
