"""The garbage collector: dependents of a deleted owner are deleted too."""
from __future__ import annotations

from cluster import kinds, store
from cluster.controllers import deployment, garbagecollector, replicaset

from .manifests import deployment as deployment_manifest, pod, revision


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
