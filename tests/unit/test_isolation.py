"""One object never blocks a component: each loop records the failure on that object and
goes on with the others (issue 9, poison objects).

The poison is made by making one function raise for one object: these are tests of the
loops, not of what the function does.
"""
from __future__ import annotations

import json

import pytest
from django.test import Client

from cluster import kubelet, scheduler, tasks
from cluster.apimachinery import kinds, metav1, pods
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.apiserver.registry import validation
from cluster.componentbase import events, isolation
from cluster.controllers import endpoints, garbagecollector, ingress
from cluster.controllers import namespace as namespace_controller
from cluster.controllers import node as node_controller
from cluster.controllers import replicaset
from cluster.demo import ensure_cluster
from cluster.informers import wake
from cluster.models import Object, Speed
from cluster.scheduler import cycle

from .manifests import counts, deployment, pod
from .manifests import replicaset as replicaset_manifest


class Poison(RuntimeError):
    pass


@pytest.fixture
def dispatched(monkeypatch) -> list[list]:
    sent: list[list] = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks_, countdown=None, unless_delayed=False: sent.append(list(tasks_)))
    return sent


def failures(cluster, uid: str) -> list[str]:
    """The messages of the FailedSync warnings recorded about one object."""
    rows = Object.objects.filter(cluster=cluster, kind="Event", owner_uid=uid, doc__reason=isolation.FAILED_SYNC)
    return [doc["message"] for doc in rows.values_list("doc", flat=True)]


def poisoned(original, is_poison):
    def call(*args, **kwargs):
        if is_poison(*args, **kwargs):
            raise Poison("boom")
        return original(*args, **kwargs)

    return call


# --- the scheduler ----------------------------------------------------------------------

def test_it_schedules_the_pods_behind_one_that_raises(cluster, monkeypatch, dispatched):
    made = [store.create(cluster, pod(name)) for name in ("a", "b", "c")]
    monkeypatch.setattr(scheduler, "schedule", poisoned(scheduler.schedule, lambda c, uid: uid == made[0]["metadata"]["uid"]))

    tasks.schedule_pending(cluster.pk)

    bound = {p["metadata"]["name"]: bool(p["spec"].get("nodeName")) for p in store.list_docs(cluster, kinds.POD)}
    assert bound == {"a": False, "b": True, "c": True}
    [message] = failures(cluster, made[0]["metadata"]["uid"])
    assert "Poison: boom" in message


def test_it_counts_a_repeated_failure_on_one_event(cluster, monkeypatch, dispatched):
    made = store.create(cluster, pod("a"))
    monkeypatch.setattr(scheduler, "schedule", poisoned(scheduler.schedule, lambda c, uid: True))

    tasks.schedule_pending(cluster.pk)
    tasks.schedule_pending(cluster.pk)

    [event] = [d for d in store.list_docs(cluster, kinds.EVENT) if d["involvedObject"]["uid"] == made["metadata"]["uid"]]
    assert (event["type"], event["reason"], event["count"]) == ("Warning", "FailedSync", 2)


def test_it_undoes_the_writes_of_the_object_that_failed_inside_a_transaction(cluster):
    made = store.create(cluster, pod("a"))
    before = store.current_revision(cluster)

    with store.locked(cluster) as outbox:
        with isolation.isolated(cluster, store.SCHEDULER, uid=made["metadata"]["uid"]):
            store.mutate(cluster, kinds.POD, "default", "a", lambda d: d["metadata"].setdefault("labels", {}).update(x="y"), by=store.SCHEDULER)
            raise Poison("after a write")
        published = [(c.kind, c.type) for c in outbox.changes]

    assert "labels" not in store.get(cluster, kinds.POD, "default", "a")["metadata"]
    assert published == [("Event", "ADDED")]  # the warning only: the rolled-back write is not published
    assert store.current_revision(cluster) == before + 1


def test_it_schedules_a_pod_whose_name_is_253_characters(cluster):
    name = "p" * 253
    made = store.create(cluster, pod(name))

    node = scheduler.schedule(cluster, made["metadata"]["uid"])

    assert node is not None
    [event] = [d for d in store.list_docs(cluster, kinds.EVENT) if d["involvedObject"]["uid"] == made["metadata"]["uid"]]
    assert event["reason"] == "Scheduled"
    assert validation.validate_name(event["metadata"]["name"]) == []


def test_it_names_events_after_their_object_while_that_gives_a_valid_name():
    assert events.event_name("web").startswith("web.")
    assert validation.validate_name(events.event_name("w" * 253)) == []
    assert not events.event_name("w" * 253).startswith("w")


# --- generateName -----------------------------------------------------------------------

def test_it_refuses_a_generate_name_that_makes_an_invalid_name(cluster):
    before = counts(cluster)
    doc = pod("x")
    doc["metadata"] = {"generateName": "é-"}

    with pytest.raises(APIError) as refused:
        store.create(cluster, doc)

    assert refused.value.code == 422
    assert {c.field for c in refused.value.causes} == {"metadata.name", "metadata.generateName"}
    assert counts(cluster) == before


def test_it_refuses_a_generate_name_longer_than_a_name(cluster):
    before = counts(cluster)
    doc = pod("x")
    doc["metadata"] = {"generateName": "a" * 300}

    with pytest.raises(APIError) as refused:
        store.create(cluster, doc)

    assert refused.value.code == 422
    [cause] = refused.value.causes
    assert cause.field == "metadata.generateName" and cause.message.endswith("must be no more than 253 characters")
    assert counts(cluster) == before


def test_it_cuts_a_long_generate_name_to_leave_room_for_the_random_suffix(cluster):
    doc = pod("x")
    doc["metadata"] = {"generateName": "a" * 100 + "-"}

    made = store.create(cluster, doc)

    name = made["metadata"]["name"]
    assert len(name) == 63 and name.startswith("a" * 58) and validation.validate_name(name) == []


def test_a_replicaset_with_a_253_character_name_makes_valid_pods(cluster):
    rs = store.create(cluster, replicaset_manifest("r" * 253, replicas=2, labels={"app": "long"}))

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    made = store.list_docs(cluster, kinds.POD, owner_uid=rs["metadata"]["uid"])
    assert len(made) == 2
    assert all(p["metadata"]["generateName"] == "r" * 253 and len(p["metadata"]["name"]) == 63 for p in made)


def test_it_refuses_an_unknown_field_nested_490_deep_before_anything_is_written(cluster):
    api = Client(HTTP_AUTHORIZATION=f"Bearer {cluster.token}")
    doc = pod("deep")
    doc["spec"]["containers"][0]["extra"] = json.loads("[" * 490 + "]" * 490)
    before = counts(cluster)

    response = api.post("/k8s/test/api/v1/namespaces/default/pods", data=json.dumps(doc), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["kind"] == "Status"
    assert counts(cluster) == before


# --- the controllers --------------------------------------------------------------------

def test_the_replicaset_controller_deletes_the_other_pods_when_one_deletion_raises(cluster, monkeypatch):
    rs = store.create(cluster, replicaset_manifest("web", replicas=3))
    uid = rs["metadata"]["uid"]
    replicaset.reconcile(cluster, uid)
    store.mutate(cluster, kinds.REPLICASET, "default", "web", lambda d: d["spec"].update(replicas=0), by=store.API)
    names = sorted(p["metadata"]["name"] for p in store.list_docs(cluster, kinds.POD, owner_uid=uid))
    monkeypatch.setattr(store, "delete_pod", poisoned(store.delete_pod, lambda c, ns, name, **kw: name == names[0]))

    replicaset.reconcile(cluster, uid)

    assert sorted(p["metadata"]["name"] for p in store.list_docs(cluster, kinds.POD, owner_uid=uid)) == [names[0]]
    stuck = store.get(cluster, kinds.POD, "default", names[0])
    assert failures(cluster, stuck["metadata"]["uid"])


def test_the_deployment_task_records_a_failure_on_its_deployment_and_does_not_raise(cluster, monkeypatch):
    from cluster.controllers import deployment as deployment_controller

    bad = store.create(cluster, deployment("bad"))
    good = store.create(cluster, deployment("good"))
    monkeypatch.setattr(deployment_controller.Sync, "run", poisoned(deployment_controller.Sync.run, lambda self: self.d["metadata"]["name"] == "bad"))

    tasks.reconcile_deployment(cluster.pk, bad["metadata"]["uid"])
    tasks.reconcile_deployment(cluster.pk, good["metadata"]["uid"])

    assert failures(cluster, bad["metadata"]["uid"])
    assert store.list_docs(cluster, kinds.REPLICASET, owner_uid=good["metadata"]["uid"])


def test_the_kubelet_task_records_a_failure_on_its_pod_and_the_other_pods_run(cluster, monkeypatch, dispatched):
    made = [store.create(cluster, pod(name)) for name in ("a", "b")]
    nodes = [scheduler.schedule(cluster, p["metadata"]["uid"]) for p in made]
    monkeypatch.setattr(kubelet, "run_due_stages", poisoned(kubelet.run_due_stages, lambda c, node, uid: uid == made[0]["metadata"]["uid"]))

    for node, p in zip(nodes, made):
        tasks.sync_pod(cluster.pk, node, p["metadata"]["uid"])

    assert failures(cluster, made[0]["metadata"]["uid"])
    assert pods.is_ready(store.get(cluster, kinds.POD, "default", "b"))


def test_the_endpoints_controller_serves_the_other_services_when_one_raises(cluster, monkeypatch):
    for name in ("a", "b", "c"):
        store.create(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}})
    seen: list[str] = []

    def reconcile(cluster_, ns, name, **kwargs):
        seen.append(name)
        if name == "a":
            raise Poison("boom")

    monkeypatch.setattr(endpoints, "reconcile", reconcile)

    endpoints.reconcile_namespace(cluster, "default")

    assert seen == ["a", "b", "c"]


def test_the_ingress_controller_syncs_the_other_ingresses_when_one_raises(cluster, monkeypatch):
    made = [
        store.create(cluster, {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name}, "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}})
        for name in ("a", "b", "c")
    ]
    seen: list[str] = []

    def sync(cluster_, doc, classes, wanted):
        seen.append(doc["metadata"]["name"])
        if doc["metadata"]["name"] == "a":
            raise Poison("boom")

    monkeypatch.setattr(ingress, "_sync", sync)

    ingress.sync_all(cluster)

    assert seen == ["a", "b", "c"]
    assert failures(cluster, made[0]["metadata"]["uid"])


def test_the_node_controller_checks_the_other_nodes_when_one_raises(cluster, monkeypatch, clock):
    from cluster.kubelet import node as kubelet_node

    kubelet_node.heartbeat(cluster)
    clock.advance(3600)  # every kubelet silent: every node is checked
    poison = store.list_docs(cluster, kinds.NODE)[0]
    checked: list[str] = []
    original = node_controller._check_health

    def check(cluster_, node, lease, now):
        checked.append(node["metadata"]["name"])
        if node["metadata"]["uid"] == poison["metadata"]["uid"]:
            raise Poison("boom")
        return original(cluster_, node, lease, now)

    monkeypatch.setattr(node_controller, "_check_health", check)

    node_controller.reconcile(cluster)

    assert len(checked) == 3
    assert failures(cluster, poison["metadata"]["uid"])
    others = [n for n in store.list_docs(cluster, kinds.NODE) if n["metadata"]["uid"] != poison["metadata"]["uid"]]
    assert all(pods.condition(n, "Ready")["status"] == "Unknown" for n in others)


def test_the_namespace_controller_deletes_the_other_objects_when_one_raises(cluster, monkeypatch):
    store.create(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    for name in ("a", "b", "c"):
        store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}, namespace="shop")
    monkeypatch.setattr(store, "delete", poisoned(store.delete, lambda c, kind, ns, name, **kw: name == "a"))

    namespace_controller.delete_content(cluster, "shop")

    assert [d["metadata"]["name"] for d in store.list_docs(cluster, kinds.BY_KIND["ConfigMap"], "shop")] == ["a"]
    assert failures(cluster, store.get(cluster, kinds.BY_KIND["ConfigMap"], "shop", "a")["metadata"]["uid"])


def test_the_garbage_collector_deletes_the_other_dependents_when_one_raises(cluster, monkeypatch):
    rs = store.create(cluster, replicaset_manifest("web", replicas=3))
    uid = rs["metadata"]["uid"]
    replicaset.reconcile(cluster, uid)
    names = sorted(p["metadata"]["name"] for p in store.list_docs(cluster, kinds.POD, owner_uid=uid))
    store.remove(cluster, kinds.REPLICASET, "default", "web", by=store.API)
    monkeypatch.setattr(store, "delete", poisoned(store.delete, lambda c, kind, ns, name, **kw: name == names[0]))

    garbagecollector.collect(cluster, uid)

    assert sorted(p["metadata"]["name"] for p in store.list_docs(cluster, kinds.POD)) == [names[0]]
    assert failures(cluster, store.get(cluster, kinds.POD, "default", names[0])["metadata"]["uid"])


def test_the_resync_goes_on_with_the_other_components_and_clusters_when_one_raises(cluster, monkeypatch, dispatched):
    other, _ = ensure_cluster("other", nodes=1, speed=Speed.INSTANT)
    for c in (cluster, other):
        store.create(c, pod("waiting"))
    monkeypatch.setattr(replicaset, "unconverged", lambda c: (_ for _ in ()).throw(Poison("boom")))
    monkeypatch.setattr(store, "compact", poisoned(store.compact, lambda c, keep: c.pk == cluster.pk))

    for c in (cluster, other):
        tasks.resync_cluster(c.pk)

    woken = [task for batch in dispatched for task in batch]
    assert (wake.SCHEDULE_PENDING, (cluster.pk,)) in woken
    assert (wake.SCHEDULE_PENDING, (other.pk,)) in woken


def test_the_other_kubelets_heartbeat_when_one_nodes_beat_raises(cluster, monkeypatch, clock):
    from cluster.kubelet import node as kubelet_node

    kubelet_node.heartbeat(cluster)
    clock.advance(3600)  # every Lease and node status is due again
    poison = store.list_docs(cluster, kinds.NODE)[0]
    beaten: list[str] = []
    original = kubelet_node._beat

    def beat(cluster_, node, *args):
        beaten.append(node["metadata"]["name"])
        if node["metadata"]["uid"] == poison["metadata"]["uid"]:
            raise Poison("boom")
        return original(cluster_, node, *args)

    monkeypatch.setattr(kubelet_node, "_beat", beat)
    kubelet_node.heartbeat(cluster)

    assert beaten == ["node-1", "node-2", "node-3"]
    leases = {d["metadata"]["name"]: d["spec"]["renewTime"] for d in store.list_docs(cluster, kinds.BY_KIND["Lease"], "kube-node-lease")}
    renewed = {name for name, at in leases.items() if at == metav1.micro_time(clock.moment)}
    assert renewed == {"node-1", "node-2", "node-3"} - {poison["metadata"]["name"]}
    assert failures(cluster, poison["metadata"]["uid"])
