"""Floods (issue 9): replicas are int32; a ReplicaSet works in slow-start batches, re-reads
its desired count between them and holds the cluster's lock for one batch at most; a pod's
containers, its annotations and any object's size are bounded. Every refusal is a Status
and writes nothing."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from cluster.apimachinery import kinds, pods
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.controllers import deployment as deployment_controller
from cluster.controllers import replicaset

from .manifests import counts, deployment, pod
from .manifests import replicaset as replicaset_manifest

DEPLOYMENTS = "/k8s/test/apis/apps/v1/namespaces/default/deployments"
REPLICASETS = "/k8s/test/apis/apps/v1/namespaces/default/replicasets"
PODS = "/k8s/test/api/v1/namespaces/default/pods"


def with_replicas_text(manifest: dict, text: str) -> str:
    """The manifest as JSON with `replicas` spelled exactly as given (1e3, 2147483648)."""
    return json.dumps(manifest).replace('"replicas": 3', f'"replicas": {text}')


# --- replicas are int32 -------------------------------------------------------------------

@pytest.mark.parametrize("text", ["2147483648", "9223372036854775807", "1e3", "9.223372036854776e18", "2.0"])
@pytest.mark.parametrize("path, manifest", [(DEPLOYMENTS, deployment("web")), (REPLICASETS, replicaset_manifest("web"))])
def test_it_refuses_replicas_that_are_not_an_int32(api, cluster, path, manifest, text):
    before = counts(cluster)

    response = api.post(path, data=with_replicas_text(manifest, text), content_type="application/json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["kind"], body["reason"]) == ("Status", "BadRequest")
    assert f"into Go struct field {manifest['kind']}Spec.spec.replicas of type int32" in body["message"]
    assert counts(cluster) == before


def test_it_accepts_the_largest_int32(api, cluster):
    response = api.post(DEPLOYMENTS, data=with_replicas_text(deployment("web"), "2147483647"), content_type="application/json")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("method, content_type, body", [
    ("PATCH", "application/merge-patch+json", '{"spec":{"replicas":2147483648}}'),
    ("PATCH", "application/merge-patch+json", '{"spec":{"replicas":1e3}}'),
    ("PUT", "application/json", '{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web"},"spec":{"replicas":2147483648}}'),
])
def test_the_scale_subresource_refuses_replicas_that_are_not_an_int32(api, cluster, method, content_type, body):
    store.create(cluster, deployment("web"))
    before = counts(cluster)

    response = api.generic(method, DEPLOYMENTS + "/web/scale", data=body, content_type=content_type)

    assert response.status_code == 400, response.content
    assert "ScaleSpec.spec.replicas of type int32" in response.json()["message"]
    assert counts(cluster) == before


def test_a_patch_cannot_set_replicas_past_int32_either(api, cluster):
    store.create(cluster, deployment("web"))
    before = counts(cluster)

    response = api.patch(DEPLOYMENTS + "/web", data='{"spec":{"replicas":4294967296}}', content_type="application/merge-patch+json")

    assert response.status_code == 400
    assert counts(cluster) == before


# --- slow start, batches, re-reads --------------------------------------------------------

@pytest.fixture
def batches(monkeypatch) -> list[int]:
    """The sizes of the creation batches a pass makes."""
    sizes: list[int] = []
    original = replicaset._create_pods

    def record(cluster, rs, *, active_count, count, **more):
        sizes.append(count)
        return original(cluster, rs, active_count=active_count, count=count, **more)

    monkeypatch.setattr(replicaset, "_create_pods", record)
    return sizes


def test_it_creates_pods_in_slow_start_batches(cluster, batches):
    rs = store.create(cluster, replicaset_manifest("web", replicas=10))

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert batches == [1, 2, 4, 3]
    assert len(store.list_docs(cluster, kinds.POD, owner_uid=rs["metadata"]["uid"])) == 10


def test_it_stops_at_the_first_refused_pod(cluster, monkeypatch):
    rs = store.create(cluster, replicaset_manifest("web", replicas=1000))
    tried: list[str] = []
    original = store.create

    def refuse_pods(cluster_, doc, **kwargs):
        if doc.get("kind") == "Pod":
            tried.append(doc["metadata"]["generateName"])
            raise APIError(403, "Forbidden", "no")
        return original(cluster_, doc, **kwargs)

    monkeypatch.setattr(store, "create", refuse_pods)

    more = replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert (len(tried), more) == (1, False)


def test_it_rereads_its_desired_count_between_batches(cluster, monkeypatch, batches):
    rs = store.create(cluster, replicaset_manifest("web", replicas=1_000_000))
    original = replicaset._create_pods

    def then_scaled_to_zero(cluster_, rs_, *, active_count, count, **more):
        failure = original(cluster_, rs_, active_count=active_count, count=count, **more)
        store.mutate(cluster_, kinds.REPLICASET, "default", "web", lambda d: d["spec"].update(replicas=0), by=store.API)
        return failure

    monkeypatch.setattr(replicaset, "_create_pods", then_scaled_to_zero)

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert batches == [1]
    assert [p for p in store.list_docs(cluster, kinds.POD) if pods.is_active(p)] == []  # the one made is deleted again


@pytest.mark.parametrize("stop", ["scaled to 0", "deleted"])
def test_it_stops_creating_when_its_deployment_is_scaled_down_or_deleted_mid_scale(cluster, monkeypatch, batches, stop):
    made = store.create(cluster, deployment("web", replicas=1_000_000))
    deployment_controller.reconcile(cluster, made["metadata"]["uid"])
    [rs] = store.list_docs(cluster, kinds.REPLICASET, owner_uid=made["metadata"]["uid"])
    original = replicaset._create_pods

    def then_stopped(cluster_, rs_, *, active_count, count, **more):
        failure = original(cluster_, rs_, active_count=active_count, count=count, **more)
        if stop == "deleted":
            store.delete(cluster_, kinds.DEPLOYMENT, "default", "web", by=store.API)
        else:
            store.mutate(cluster_, kinds.DEPLOYMENT, "default", "web", lambda d: d["spec"].update(replicas=0), by=store.API)
        return failure

    monkeypatch.setattr(replicaset, "_create_pods", then_stopped)

    more = replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert (batches, more) == ([1], False)


def test_a_pass_stops_at_its_burst_and_says_there_is_more(cluster, monkeypatch, batches):
    monkeypatch.setattr(replicaset, "BURST_REPLICAS", 10)
    rs = store.create(cluster, replicaset_manifest("web", replicas=1_000_000))

    more = replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert more is True
    assert sum(batches) == 10
    assert store.get(cluster, kinds.REPLICASET, "default", "web")["status"]["replicas"] == 10


def test_the_replicaset_task_queues_the_next_pass_when_one_stops_at_its_burst(cluster, monkeypatch):
    from cluster import tasks
    from cluster.informers import wake

    monkeypatch.setattr(replicaset, "BURST_REPLICAS", 3)
    sent: list = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks_, countdown=None, unless_delayed=False: sent.extend(tasks_))
    rs = store.create(cluster, replicaset_manifest("web", replicas=100))

    tasks.reconcile_replicaset(cluster.pk, rs["metadata"]["uid"])

    assert sent == [(wake.RECONCILE_REPLICASET, (cluster.pk, rs["metadata"]["uid"]))]


def test_it_deletes_in_batches_each_in_its_own_transaction(cluster, monkeypatch):
    monkeypatch.setattr(replicaset, "BATCH", 2)
    rs = store.create(cluster, replicaset_manifest("web", replicas=5))
    uid = rs["metadata"]["uid"]
    replicaset.reconcile(cluster, uid)
    store.mutate(cluster, kinds.REPLICASET, "default", "web", lambda d: d["spec"].update(replicas=0), by=store.API)
    seen: list[tuple[int, int]] = []
    original = replicaset._delete_pods

    def record(cluster_, rs_, active, count):
        seen.append((count, id(store._local.outbox)))
        original(cluster_, rs_, active, count)

    monkeypatch.setattr(replicaset, "_delete_pods", record)

    replicaset.reconcile(cluster, uid)

    assert [count for count, _ in seen] == [2, 2, 1]
    assert len({outbox for _, outbox in seen}) == 3
    assert [p for p in store.list_docs(cluster, kinds.POD, owner_uid=uid) if pods.is_active(p)] == []


# --- bounded pods, annotations, objects ---------------------------------------------------

def test_it_refuses_a_pod_with_more_containers_than_the_limit(api, cluster):
    doc = pod("many")
    doc["spec"]["containers"] = [{"name": f"c{i}", "image": "nginx"} for i in range(5000)]
    before = counts(cluster)

    response = api.post(PODS, data=json.dumps(doc), content_type="application/json")

    assert response.status_code == 422
    [cause] = response.json()["details"]["causes"]
    assert (cause["field"], cause["reason"]) == ("spec.containers", "FieldValueTooMany")
    assert counts(cluster) == before


def test_it_counts_init_containers_toward_the_limit(cluster):
    doc = pod("many")
    doc["spec"]["containers"] = [{"name": f"c{i}", "image": "nginx"} for i in range(60)]
    doc["spec"]["initContainers"] = [{"name": f"i{i}", "image": "busybox"} for i in range(41)]

    with pytest.raises(APIError) as refused:
        store.create(cluster, doc)

    assert refused.value.code == 422


def test_it_refuses_annotations_over_256_kib_in_all(api, cluster):
    doc = pod("noted")
    doc["metadata"]["annotations"] = {"a": "x" * (128 * 1024), "b": "y" * (128 * 1024)}
    before = counts(cluster)

    response = api.post(PODS, data=json.dumps(doc), content_type="application/json")

    assert response.status_code == 422
    [cause] = response.json()["details"]["causes"]
    assert (cause["field"], cause["message"]) == ("metadata.annotations", "Too long: must have at most 262144 bytes")
    assert counts(cluster) == before


def test_it_refuses_an_object_larger_than_etcd_stores(api, cluster):
    doc = pod("big")
    doc["spec"]["containers"][0]["env"] = [{"name": "BIG", "value": "x" * (1600 * 1024)}]
    before = counts(cluster)

    response = api.post(PODS, data=json.dumps(doc), content_type="application/json")

    assert response.status_code == 413
    body = response.json()
    assert (body["reason"], body["message"]) == ("RequestEntityTooLarge", "etcdserver: request is too large")
    assert counts(cluster) == before


def test_an_update_cannot_grow_an_object_past_the_limit_either(api, cluster):
    doc = pod("big")
    doc["spec"]["containers"][0]["env"] = [{"name": "BIG", "value": "x" * (1300 * 1024)}]
    store.create(cluster, doc)
    before = counts(cluster)

    response = api.patch(PODS + "/big", data=json.dumps({"metadata": {"annotations": {"b": "y" * (250 * 1024)}}}), content_type="application/merge-patch+json")

    assert response.status_code == 413
    assert counts(cluster) == before
