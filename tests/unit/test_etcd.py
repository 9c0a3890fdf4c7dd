"""etcd's keys (kube-apiserver's storage layout) and the watch inspector, in process: the key
function, the range read with its revisions, `?at=`, compaction, bad input, Secrets for the
page, and which components each change of a pod's life woke."""
from __future__ import annotations

import base64

import pytest
from django.test import Client

from cluster import kubelet, scheduler
from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.apiserver.etcd import etcd_key, kinds_under, resource_prefix, stored_value
from cluster.controllers import endpoints, replicaset
from cluster.controllers.deployment import reconcile as reconcile_deployment
from cluster.informers import wake, watchers

from .manifests import deployment, pod, revision

ETCD = "/k8s/test/podflow/v1/etcd"
WATCHES = "/k8s/test/podflow/v1/watches"


# --- the key function --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kind", "namespace", "name", "key"),
    [
        ("Pod", "default", "web", "/registry/pods/default/web"),
        ("Node", "", "node-1", "/registry/minions/node-1"),
        ("Service", "default", "web", "/registry/services/specs/default/web"),
        ("Endpoints", "default", "web", "/registry/services/endpoints/default/web"),
        ("EndpointSlice", "default", "web-abcde", "/registry/endpointslices/default/web-abcde"),
        ("Ingress", "default", "web", "/registry/ingress/default/web"),
        ("IngressClass", "", "podflow", "/registry/ingressclasses/podflow"),
        ("Deployment", "default", "web", "/registry/deployments/default/web"),
        ("ReplicaSet", "default", "web-5d8", "/registry/replicasets/default/web-5d8"),
        ("Lease", "kube-node-lease", "node-1", "/registry/leases/kube-node-lease/node-1"),
        ("Event", "default", "web.17f", "/registry/events/default/web.17f"),
        ("ConfigMap", "default", "conf", "/registry/configmaps/default/conf"),
        ("Secret", "default", "pw", "/registry/secrets/default/pw"),
        ("Namespace", "", "default", "/registry/namespaces/default"),
    ],
)
def test_each_kind_has_kube_apiservers_key(kind, namespace, name, key):
    assert etcd_key(kind, namespace, name) == key
    assert etcd_key(kinds.BY_KIND[kind], namespace, name) == key


def test_every_kind_has_a_key_prefix_of_its_own():
    prefixes = [resource_prefix(k) for k in kinds.ALL]
    assert len(set(prefixes)) == len(prefixes)
    # No kind's keys fall under another kind's prefix (a range over one kind is that kind).
    assert not [(a, b) for a in prefixes for b in prefixes if a != b and a.startswith(b)]


def test_a_prefix_selects_the_kinds_that_may_live_under_it():
    assert {k.kind for k in kinds_under("/registry/services/")} == {"Service", "Endpoints"}
    assert {k.kind for k in kinds_under("/registry/pods/default/")} == {"Pod"}
    assert {k.kind for k in kinds_under("/registry/")} == {k.kind for k in kinds.ALL}
    assert kinds_under("/registry/nothing/") == []


def test_the_stored_value_has_no_resource_version():
    doc = {"kind": "Pod", "metadata": {"name": "web", "resourceVersion": "7"}}
    assert stored_value(doc) == {"kind": "Pod", "metadata": {"name": "web"}}
    assert doc["metadata"]["resourceVersion"] == "7"


# --- the range ---------------------------------------------------------------------------------

@pytest.fixture
def api(cluster) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {cluster.token}")


def keyed(body: dict) -> dict[str, dict]:
    return {item["key"]: item for item in body["keys"]}


def test_the_keys_of_a_pod_a_service_its_endpoints_a_node_and_a_deployment(api, cluster):
    store.create(cluster, pod("web"))
    store.create(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    endpoints.reconcile(cluster, "default", "web")
    store.create(cluster, deployment("shop", replicas=1))

    body = api.get(ETCD).json()

    assert body["kind"] == "EtcdRange" and body["revision"] == body["at"] == revision(cluster)
    found = keyed(body)
    for key in (
        "/registry/pods/default/web",
        "/registry/services/specs/default/web",
        "/registry/services/endpoints/default/web",
        "/registry/minions/node-1",
        "/registry/deployments/default/shop",
        "/registry/namespaces/default",
        "/registry/leases/kube-node-lease/node-1",
    ):
        assert key in found, key
    keys = [item["key"] for item in body["keys"]]
    assert keys == sorted(keys, key=str.encode) and body["count"] == len(keys) and body["truncated"] is False
    web = found["/registry/pods/default/web"]
    assert (web["kind"], web["namespace"], web["name"]) == ("Pod", "default", "web")
    assert web["createRevision"] == web["modRevision"] and web["version"] == 1
    assert "resourceVersion" not in web["value"]["metadata"]
    assert web["value"]["spec"]["containers"][0]["image"] == "nginx"


def test_create_and_mod_revision_and_version_follow_the_writes(api, cluster):
    created = store.create(cluster, pod("web"))
    for n in range(3):
        store.mutate(cluster, kinds.POD, "default", "web", lambda d, n=n: d["metadata"].setdefault("labels", {}).__setitem__("n", str(n)), by=store.API)

    item = keyed(api.get(ETCD + "?prefix=/registry/pods/").json())["/registry/pods/default/web"]

    assert item["createRevision"] == int(created["metadata"]["resourceVersion"])
    assert item["modRevision"] == revision(cluster) > item["createRevision"]
    assert item["version"] == 4
    assert item["value"]["metadata"]["labels"] == {"n": "2"}


def test_a_prefix_limits_the_range_and_a_limit_truncates_it(api, cluster):
    for name in ("a", "b", "c"):
        store.create(cluster, pod(name))

    pods = api.get(ETCD + "?prefix=/registry/pods/default/").json()
    two = api.get(ETCD + "?prefix=/registry/pods/&limit=2").json()
    nodes = api.get(ETCD + "?prefix=/registry/minions/").json()

    assert [i["key"] for i in pods["keys"]] == [f"/registry/pods/default/{n}" for n in "abc"]
    assert [i["name"] for i in two["keys"]] == ["a", "b"] and two["truncated"] is True and two["count"] == 3
    assert [i["key"] for i in nodes["keys"]] == ["/registry/minions/node-1", "/registry/minions/node-2", "/registry/minions/node-3"]


def test_at_a_revision_a_later_object_is_absent_and_a_deleted_one_present(api, cluster):
    store.create(cluster, pod("gone"))
    store.mutate(cluster, kinds.POD, "default", "gone", lambda d: d["metadata"].setdefault("labels", {}).__setitem__("v", "1"), by=store.API)
    then = revision(cluster)
    store.create(cluster, pod("later"))
    store.mutate(cluster, kinds.POD, "default", "gone", lambda d: d["metadata"]["labels"].__setitem__("v", "2"), by=store.API)
    store.remove(cluster, kinds.POD, "default", "gone", by=store.API)

    past = api.get(f"{ETCD}?prefix=/registry/pods/&at={then}").json()
    now = api.get(f"{ETCD}?prefix=/registry/pods/").json()

    assert past["at"] == then and past["revision"] == revision(cluster)
    assert list(keyed(past)) == ["/registry/pods/default/gone"]
    gone = keyed(past)["/registry/pods/default/gone"]
    assert gone["modRevision"] == then and gone["version"] == 2 and gone["value"]["metadata"]["labels"] == {"v": "1"}
    assert list(keyed(now)) == ["/registry/pods/default/later"]


def test_a_compacted_revision_is_410_expired_and_a_key_whose_creation_went_has_no_create_revision(api, cluster):
    store.create(cluster, pod("old"))
    old_rev = revision(cluster)
    for name in ("x", "y", "z"):
        store.create(cluster, pod(name))
    store.compact(cluster, 2)

    expired = api.get(f"{ETCD}?at={old_rev}")
    listed = keyed(api.get(ETCD + "?prefix=/registry/pods/").json())

    assert expired.status_code == 410
    assert (expired.json()["kind"], expired.json()["reason"]) == ("Status", "Expired")
    assert listed["/registry/pods/default/old"]["createRevision"] is None and listed["/registry/pods/default/old"]["version"] is None
    assert listed["/registry/pods/default/old"]["modRevision"] == old_rev
    assert listed["/registry/pods/default/z"]["createRevision"] == revision(cluster)


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("prefix=/pods/", ["prefix"]),
        ("limit=abc", ["limit"]),
        ("limit=0", ["limit"]),
        ("limit=99999", ["limit"]),
        ("at=-1", ["at"]),
        ("at=1e3", ["at"]),
        ("prefix=pods&limit=x&at=y", ["prefix", "limit", "at"]),
    ],
)
def test_bad_input_is_a_400_status_naming_each_field(api, query, fields):
    response = api.get(f"{ETCD}?{query}")

    body = response.json()
    assert response.status_code == 400 and body["kind"] == "Status" and body["reason"] == "BadRequest"
    assert [c["field"] for c in body["details"]["causes"]] == fields


def test_a_future_revision_and_other_methods_are_refused(api, cluster):
    future = api.get(f"{ETCD}?at={revision(cluster) + 100}")
    assert future.status_code == 400 and future.json()["details"]["causes"][0]["field"] == "at"
    assert api.post(ETCD, data={}, content_type="application/json").status_code == 405
    assert api.delete(WATCHES).status_code == 405
    assert Client().get(ETCD).status_code == 401
    assert api.get(WATCHES + "?since=abc").status_code == 400
    assert api.get(WATCHES + "?limit=0").status_code == 400


def _secret(cluster) -> None:
    store.create(cluster, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pw"}, "data": {"password": base64.b64encode(b"hunter2").decode()}})


def test_secrets_come_as_stored_to_the_token_and_as_sizes_to_the_page(api, cluster, django_user_model):
    _secret(cluster)
    owner = django_user_model.objects.create_user("owner", password="pw-pw-pw-pw")
    cluster.owner = owner
    cluster.save(update_fields=["owner"])
    page = Client()
    page.force_login(owner)

    by_token = keyed(api.get(ETCD + "?prefix=/registry/secrets/").json())["/registry/secrets/default/pw"]
    by_page = keyed(page.get(ETCD + "?prefix=/registry/secrets/").json())["/registry/secrets/default/pw"]

    assert by_token["value"]["data"] == {"password": base64.b64encode(b"hunter2").decode()}
    assert by_page["value"]["data"] == {"password": "(7 bytes)"}


# --- the watch inspector -----------------------------------------------------------------------

def events_of(api, name: str, since: int = 0) -> list[dict]:
    body = api.get(f"{WATCHES}?since={since}&limit=1000").json()
    return [e for e in body["events"] if e["name"] == name]


def components(event: dict) -> set[str]:
    return {w["component"] for w in event["woke"]}


def test_a_pods_life_woke_the_scheduler_then_the_kubelet_of_its_node(api, cluster):
    start = revision(cluster)
    uid = store.create(cluster, pod("web"))["metadata"]["uid"]
    node = scheduler.schedule(cluster, uid)
    kubelet.run_due_stages(cluster, node, uid)

    events = events_of(api, "web", start)
    added, bind, *kubelet_writes = [e for e in events if e["kind"] == "Pod"]

    assert (added["type"], added["key"]) == ("ADDED", "/registry/pods/default/web")
    assert {"component": "scheduler", "task": "schedule_pod", "controller": "scheduler"} in added["woke"]
    assert (added["by"], added["bySource"]) == ("client", "inferred")  # no step log without the HTTP request
    assert bind["type"] == "MODIFIED" and (bind["by"], bind["bySource"]) == ("scheduler", "step-log")
    assert {"component": f"kubelet@{node}", "task": "sync_pod", "controller": "kubelet"} in bind["woke"]
    assert f"kubelet@{node}" in bind["receivedBy"] and "scheduler" in bind["receivedBy"]
    # The kubelet's own status writes do not wake it again (the listener filters them out).
    assert kubelet_writes and all(e["by"] == "kubelet" for e in kubelet_writes)
    assert all(f"kubelet@{node}" not in components(e) for e in kubelet_writes)


def test_a_deployment_wakes_the_controller_manager_and_its_replicaset_the_replicaset_controller(api, cluster):
    start = revision(cluster)
    dep = store.create(cluster, deployment("shop", replicas=1))
    reconcile_deployment(cluster, dep["metadata"]["uid"])
    rs = store.list_docs(cluster, kinds.REPLICASET, "default")[0]
    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    body = api.get(f"{WATCHES}?since={start}").json()
    added = next(e for e in body["events"] if e["kind"] == "Deployment" and e["type"] == "ADDED")
    rs_added = next(e for e in body["events"] if e["kind"] == "ReplicaSet" and e["type"] == "ADDED")
    pod_added = next(e for e in body["events"] if e["kind"] == "Pod" and e["type"] == "ADDED")

    assert {"component": "controller-manager", "task": "reconcile_deployment", "controller": "Deployment controller"} in added["woke"]
    assert (added["by"], added["receivedBy"]) == ("client", ["controller-manager"])
    assert rs_added["by"] == "deployment-controller"
    assert ("controller-manager", "reconcile_replicaset") in {(w["component"], w["task"]) for w in rs_added["woke"]}
    assert pod_added["by"] == "replicaset-controller" and pod_added["bySource"] == "step-log"
    assert "scheduler" in components(pod_added)
    assert body["watchers"]["scheduler"] == ["Node", "Pod"] and "Deployment" in body["watchers"]["controller-manager"]


def test_without_since_the_last_changes_come_oldest_first_and_a_compacted_since_is_410(api, cluster):
    for name in ("a", "b", "c"):
        store.create(cluster, pod(name))

    last = api.get(f"{WATCHES}?limit=2").json()
    assert [e["name"] for e in last["events"]] == ["b", "c"] and last["truncated"] is True
    assert last["revision"] == revision(cluster)

    store.compact(cluster, 1)
    expired = api.get(f"{WATCHES}?since=1")
    assert expired.status_code == 410 and expired.json()["reason"] == "Expired"


def test_a_change_whose_previous_version_was_compacted_says_its_wakeups_are_unknown(api, cluster):
    store.create(cluster, pod("web"))
    store.compact(cluster, 0)
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["metadata"].__setitem__("labels", {"a": "b"}), by=store.API)

    (modified,) = [e for e in api.get(WATCHES).json()["events"] if e["name"] == "web"]
    assert modified["type"] == "MODIFIED" and modified["woke"] is None


# --- the table of watchers agrees with the listener ----------------------------------------------

def _doc(kind: str, **extra) -> dict:
    meta = {"name": "x", "uid": "u1"}
    if kinds.BY_KIND[kind].namespaced:
        meta["namespace"] = "team"
    return {"kind": kind, "metadata": meta, "spec": {}, "status": {}, **extra}


@pytest.mark.parametrize("kind", sorted(kinds.BY_KIND))
def test_no_change_wakes_a_component_that_does_not_watch_its_kind(kind):
    new = _doc(kind)
    bound = {**_doc(kind), "spec": {"nodeName": "node-1"}}
    for type_, old, doc in (("ADDED", None, new), ("DELETED", new, new), ("MODIFIED", _doc(kind, status={"x": 1}), new), ("ADDED", None, bound), ("DELETED", bound, bound)):
        for by in (store.API, store.KUBELET, store.SCHEDULER):
            for entry in watchers.woken(1, type_, old, doc, by):
                component = entry["component"].split("@", 1)[0]
                assert kind in watchers.WATCHERS[component], (kind, type_, entry)


def test_every_task_has_the_name_of_its_controller():
    # Every component's task; the labs' re-evaluation (cluster/labs/follow.py) is no component,
    # and the resync's pass over a cluster is woken by the beat, never by a change.
    assert set(watchers.CONTROLLERS) == set(wake.QUEUES) - {wake.EVALUATE_LABS, wake.RESYNC_CLUSTER}
    assert set(watchers.CONTROLLERS.values()) - {"scheduler", "kubelet"} == set(watchers.CONTROLLER_WATCHES)


def test_the_writer_is_inferred_from_the_object_where_the_step_log_says_nothing():
    lease = {"kind": "Lease", "metadata": {"name": "node-1", "namespace": "kube-node-lease"}}
    event = {"kind": "Event", "metadata": {"name": "e", "namespace": "default"}, "reportingComponent": "default-scheduler"}
    rs_old = {"kind": "ReplicaSet", "metadata": {"name": "r"}, "spec": {"replicas": 1}, "status": {"replicas": 0}}
    rs_new = {**rs_old, "status": {"replicas": 1}}
    pod_old = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"nodeName": "node-1"}, "status": {"phase": "Pending"}}
    pod_new = {**pod_old, "status": {"phase": "Running"}}
    labelled = {**pod_old, "metadata": {"name": "p", "labels": {"a": "b"}}}

    assert watchers.writer("MODIFIED", lease, lease).name == "kubelet"
    assert watchers.writer("ADDED", None, event).name == "default-scheduler"
    assert watchers.writer("MODIFIED", rs_old, rs_new).name == "replicaset-controller"
    assert watchers.writer("MODIFIED", pod_old, pod_new) == watchers.Writer("kubelet", "inferred", "kubelet")
    assert watchers.writer("MODIFIED", pod_old, labelled) == watchers.UNKNOWN
