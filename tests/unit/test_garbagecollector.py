"""The garbage collector: dependents of a deleted owner are deleted too."""
from __future__ import annotations

from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.controllers import deployment, garbagecollector, replicaset

from .manifests import deployment as deployment_manifest
from .manifests import pod, revision
from .test_replicaset import worker_database  # noqa: F401 - the fixture of the threaded test


def running_deployment(cluster) -> tuple[dict, dict, list[dict]]:
    dep = store.create(cluster, deployment_manifest("web", replicas=2))
    deployment.reconcile(cluster, dep["metadata"]["uid"])
    [rs] = store.list_docs(cluster, kinds.REPLICASET, owner_uid=dep["metadata"]["uid"])
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    return dep, rs, store.list_docs(cluster, kinds.POD, owner_uid=rs["metadata"]["uid"])


def test_it_deletes_the_replicasets_of_a_deleted_deployment(cluster):
    dep, rs, _ = running_deployment(cluster)
    store.remove(cluster, kinds.DEPLOYMENT, "default", "web", by=store.API)

    deleted = garbagecollector.collect(cluster, dep["metadata"]["uid"])

    assert deleted == 1
    assert store.find(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"]) is None


def test_it_deletes_the_pods_of_a_deleted_replicaset(cluster):
    _, rs, owned = running_deployment(cluster)
    store.remove(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"], by=store.API)

    deleted = garbagecollector.collect(cluster, rs["metadata"]["uid"])

    assert deleted == 2
    assert all(store.find(cluster, kinds.POD, "default", p["metadata"]["name"]) is None for p in owned)


def test_it_lets_a_started_pod_terminate_gracefully(cluster):
    _, rs, owned = running_deployment(cluster)
    started = owned[0]["metadata"]["name"]
    store.mutate(cluster, kinds.POD, "default", started, lambda d: d["spec"].update(nodeName="node-1") or d["status"].update(hostIP="192.168.49.2"), by=store.KUBELET)
    store.remove(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"], by=store.API)

    garbagecollector.collect(cluster, rs["metadata"]["uid"])

    terminating = store.get(cluster, kinds.POD, "default", started)
    assert terminating["metadata"]["deletionTimestamp"]
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30


def test_it_leaves_the_dependents_of_a_living_owner_alone(cluster):
    dep, rs, _ = running_deployment(cluster)
    before = revision(cluster)

    assert garbagecollector.collect(cluster, dep["metadata"]["uid"]) == 0
    assert garbagecollector.collect(cluster, rs["metadata"]["uid"]) == 0
    assert revision(cluster) == before


def test_it_leaves_objects_without_that_owner_alone(cluster):
    bare = store.create(cluster, pod("bare"))
    dep, _, _ = running_deployment(cluster)
    store.remove(cluster, kinds.DEPLOYMENT, "default", "web", by=store.API)

    garbagecollector.collect(cluster, dep["metadata"]["uid"])

    assert store.get(cluster, kinds.POD, "default", "bare") == bare
    assert len(store.list_docs(cluster, kinds.POD)) == 3  # the ReplicaSet's pods go when it is collected


def test_it_is_harmless_to_run_twice(cluster):
    dep, _, _ = running_deployment(cluster)
    store.remove(cluster, kinds.DEPLOYMENT, "default", "web", by=store.API)
    garbagecollector.collect(cluster, dep["metadata"]["uid"])
    before = revision(cluster)

    assert garbagecollector.collect(cluster, dep["metadata"]["uid"]) == 0
    assert revision(cluster) == before


# --- orphan and foreground: the owner waits with a finalizer ---------------------------------

def delete_deployment(cluster, policy: str) -> dict:
    return store.delete(cluster, kinds.DEPLOYMENT, "default", "web", by=store.API, options=store.DeleteOptions(propagation=policy))


def test_an_orphaning_deletion_releases_the_dependents_then_lets_the_owner_go(cluster):
    dep, rs, owned = running_deployment(cluster)
    delete_deployment(cluster, "Orphan")

    released = garbagecollector.collect(cluster, dep["metadata"]["uid"])

    assert released == 1
    kept = store.get(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"])
    assert "ownerReferences" not in kept["metadata"]
    assert store.find(cluster, kinds.DEPLOYMENT, "default", "web") is None
    assert len(store.list_docs(cluster, kinds.POD, owner_uid=rs["metadata"]["uid"])) == len(owned)


def test_an_orphaning_deletion_keeps_the_owner_until_the_collector_runs(cluster):
    dep, rs, _ = running_deployment(cluster)

    delete_deployment(cluster, "Orphan")
    deployment.reconcile(cluster, dep["metadata"]["uid"])  # a controller never acts for an owner being deleted

    held = store.get(cluster, kinds.DEPLOYMENT, "default", "web")
    assert held["metadata"]["finalizers"] == ["orphan"] and held["metadata"]["deletionTimestamp"]
    assert store.get(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"])["metadata"]["ownerReferences"][0]["uid"] == dep["metadata"]["uid"]


def test_a_foreground_deletion_deletes_the_dependents_in_the_foreground_first(cluster):
    dep, rs, _ = running_deployment(cluster)
    delete_deployment(cluster, "Foreground")

    garbagecollector.collect(cluster, dep["metadata"]["uid"])

    waiting = store.get(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"])
    assert waiting["metadata"]["finalizers"] == ["foregroundDeletion"]  # it has pods of its own
    assert store.get(cluster, kinds.DEPLOYMENT, "default", "web")["metadata"]["finalizers"] == ["foregroundDeletion"]


def test_a_foreground_owner_goes_once_its_blocking_dependents_are_gone(cluster):
    dep, rs, _ = running_deployment(cluster)
    delete_deployment(cluster, "Foreground")
    garbagecollector.collect(cluster, dep["metadata"]["uid"])

    garbagecollector.collect(cluster, rs["metadata"]["uid"])  # its unstarted pods go at once, then it does
    assert store.find(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"]) is None
    garbagecollector.collect(cluster, dep["metadata"]["uid"])

    assert store.find(cluster, kinds.DEPLOYMENT, "default", "web") is None


def test_a_terminating_pod_blocks_its_foreground_owner(cluster):
    _, rs, owned = running_deployment(cluster)
    running = owned[0]["metadata"]["name"]
    store.mutate(cluster, kinds.POD, "default", running, lambda d: d["spec"].update(nodeName="node-1") or d["status"].update(hostIP="192.168.49.2"), by=store.KUBELET)
    store.delete(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"], by=store.API, options=store.DeleteOptions(propagation="Foreground"))

    garbagecollector.collect(cluster, rs["metadata"]["uid"])

    assert store.get(cluster, kinds.POD, "default", running)["metadata"]["deletionTimestamp"]
    assert store.get(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"])["metadata"]["finalizers"] == ["foregroundDeletion"]
    store.delete(cluster, kinds.POD, "default", running, by=store.KUBELET, options=store.DeleteOptions(grace_seconds=0))
    garbagecollector.collect(cluster, rs["metadata"]["uid"])
    assert store.find(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"]) is None


def test_a_dependent_with_another_living_owner_only_loses_the_dangling_reference(cluster):
    other = store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}})
    dep, rs, _ = running_deployment(cluster)
    second = {"apiVersion": "v1", "kind": "ConfigMap", "name": "other", "uid": other["metadata"]["uid"]}
    store.mutate(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"], lambda d: d["metadata"]["ownerReferences"].append(second), by=store.API)
    store.remove(cluster, kinds.DEPLOYMENT, "default", "web", by=store.API)

    garbagecollector.collect(cluster, dep["metadata"]["uid"])

    kept = store.get(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"])
    assert [r["uid"] for r in kept["metadata"]["ownerReferences"]] == [other["metadata"]["uid"]]


def test_it_lists_the_owners_waiting_for_it_for_the_resync(cluster):
    dep, _, _ = running_deployment(cluster)
    delete_deployment(cluster, "Orphan")

    assert garbagecollector.waiting_owners(cluster) == [dep["metadata"]["uid"]]


# --- the race of --cascade=orphan, fifty times ----------------------------------------------

def _orphan_round(cluster, name: str, order: list[str]) -> tuple[dict, list[str]]:
    dep = store.create(cluster, deployment_manifest(name, replicas=2))
    uid = dep["metadata"]["uid"]
    deployment.reconcile(cluster, uid)
    [rs] = store.list_docs(cluster, kinds.REPLICASET, owner_uid=uid)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    pods_before = sorted(p["metadata"]["uid"] for p in store.list_docs(cluster, kinds.POD, owner_uid=rs["metadata"]["uid"]))
    steps = {
        "delete": lambda: store.delete(cluster, kinds.DEPLOYMENT, "default", name, by=store.API, options=store.DeleteOptions(propagation="Orphan")),
        "deployment": lambda: deployment.reconcile(cluster, uid),
        "replicaset": lambda: replicaset.reconcile(cluster, rs["metadata"]["uid"]),
        "gc": lambda: garbagecollector.collect(cluster, uid),
    }
    for step in order:
        steps[step]()
    return rs, pods_before


def _assert_orphaned(cluster, name: str, rs: dict, pods_before: list[str]) -> None:
    assert store.find(cluster, kinds.DEPLOYMENT, "default", name) is None
    kept = store.get(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"])
    assert kept["metadata"]["uid"] == rs["metadata"]["uid"] and "ownerReferences" not in kept["metadata"]
    assert sorted(p["metadata"]["uid"] for p in store.list_docs(cluster, kinds.POD, owner_uid=rs["metadata"]["uid"])) == pods_before


def test_an_orphaning_deletion_never_loses_a_dependent_whatever_the_interleaving(cluster):
    import random

    shuffle = random.Random(8)
    for i in range(50):
        # Controllers run before, between and after the deletion and the collector, in any order.
        middle = ["deployment", "replicaset", "gc", "deployment", "replicaset"]
        shuffle.shuffle(middle)
        name = f"orph-{i}"
        rs, pods_before = _orphan_round(cluster, name, ["deployment", "delete", *middle, "gc", "deployment", "replicaset"])
        garbagecollector.collect(cluster, rs["metadata"]["uid"])  # the ReplicaSet still stands: nothing to collect

        _assert_orphaned(cluster, name, rs, pods_before)


def test_an_orphaning_deletion_never_loses_a_dependent_against_concurrent_workers(worker_database):
    import threading

    from cluster.demo import ensure_cluster
    from cluster.models import Speed

    cluster, _ = ensure_cluster("workers", nodes=1, speed=Speed.INSTANT)
    for i in range(50):
        name = f"orph-{i}"
        rs, pods_before = _orphan_round(cluster, name, [])
        uid = store.get(cluster, kinds.DEPLOYMENT, "default", name)["metadata"]["uid"]
        barrier = threading.Barrier(3)
        errors: list[BaseException] = []

        def work(job) -> None:
            worker_database()
            try:
                barrier.wait(timeout=30)
                for _ in range(3):
                    job()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        def delete_then_collect() -> None:
            try:
                store.delete(cluster, kinds.DEPLOYMENT, "default", name, by=store.API, options=store.DeleteOptions(propagation="Orphan"))
            except APIError:
                pass  # already deleted by an earlier turn of this loop
            garbagecollector.collect(cluster, uid)

        jobs = [
            delete_then_collect,
            lambda: deployment.reconcile(cluster, uid),
            lambda: (replicaset.reconcile(cluster, rs["metadata"]["uid"]), garbagecollector.collect(cluster, rs["metadata"]["uid"])),
        ]
        threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a worker hung"
        assert errors == []
        worker_database()
        _assert_orphaned(cluster, name, rs, pods_before)
