"""Per-sandbox quotas: object and pod counts refused with 403, client writes beyond the
rate refused with 429, as Kubernetes refuses them."""
from __future__ import annotations

import json
import logging

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from cluster.apimachinery import kinds, metav1, pods
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.apiserver.admission import quota
from cluster.apiserver.handlers.auth import authenticated
from cluster.apiserver.handlers.k8s import api_view, json_response
from cluster.componentbase import events
from cluster.controllers import deployment, replicaset
from cluster.demo import ensure_cluster
from cluster.informers import wake
from cluster.models import Change, Object, Speed

from .manifests import changes_after, counts
from .manifests import deployment as deployment_manifest
from .manifests import pod
from .manifests import replicaset as replicaset_manifest
from .manifests import revision

PODS = "/k8s/test/api/v1/namespaces/default/pods"


@pytest.fixture
def cluster(cluster):
    """The usual test cluster, owned by an anonymous learner: a sandbox, so quotas apply."""
    cluster.learner = "learner-under-test"
    cluster.save(update_fields=["learner"])
    return cluster


@pytest.fixture
def api(cluster) -> Client:
    return Client(HTTP_USER_AGENT="kubectl/v1.32.4 (linux/amd64) kubernetes/abc", HTTP_AUTHORIZATION=f"Bearer {cluster.token}")


def configmap(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def fill_with_pods(cluster, total: int) -> None:
    have = Object.objects.filter(cluster=cluster, kind="Pod").count()
    for i in range(have, total):
        store.create(cluster, pod(f"web-{i + 1}"))


def objects_in(cluster) -> int:
    """What the object quota counts: everything but Events."""
    return Object.objects.filter(cluster=cluster).exclude(kind="Event").count()


def fill_with_objects(cluster, total: int) -> None:
    have = objects_in(cluster)
    for i in range(have, total):
        store.create(cluster, configmap(f"cm-{i + 1}"))


def refusal(call) -> dict:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status()


# --- object and pod counts --------------------------------------------------------------

def test_it_refuses_the_301st_pod_with_kubernetes_quota_wording_and_writes_nothing(api, cluster):
    fill_with_pods(cluster, 300)  # the real default
    before = counts(cluster)

    response = api.post(PODS, data=json.dumps(pod("web-301")), content_type="application/json")

    body = response.json()
    assert (response.status_code, body["kind"], body["reason"], body["code"]) == (403, "Status", "Forbidden", 403)
    assert body["message"] == 'pods "web-301" is forbidden: exceeded quota: sandbox, requested: pods=1, used: pods=300, limited: pods=300'
    assert body["details"] == {"name": "web-301", "kind": "pods"}
    assert counts(cluster) == before
    assert store.find(cluster, kinds.POD, "default", "web-301") is None


def test_it_refuses_the_object_past_the_object_quota(cluster, settings):
    settings.PODFLOW_QUOTA_OBJECTS = 30
    fill_with_objects(cluster, 30)
    before = counts(cluster)

    status = refusal(lambda: store.create(cluster, configmap("one-more")))

    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == 'configmaps "one-more" is forbidden: exceeded quota: sandbox, requested: count/objects=1, used: count/objects=30, limited: count/objects=30'
    assert status["details"] == {"name": "one-more", "kind": "configmaps"}
    assert counts(cluster) == before


def test_it_names_the_group_of_a_refused_object_of_a_named_group(cluster, settings):
    settings.PODFLOW_QUOTA_OBJECTS = objects_in(cluster)

    status = refusal(lambda: store.create(cluster, deployment_manifest("web")))

    assert status["message"].startswith('deployments.apps "web" is forbidden: exceeded quota: sandbox')
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


def test_it_names_both_quotas_when_a_pod_exceeds_both(cluster, settings):
    settings.PODFLOW_QUOTA_PODS = 2
    fill_with_pods(cluster, 2)
    settings.PODFLOW_QUOTA_OBJECTS = objects_in(cluster)
    used = settings.PODFLOW_QUOTA_OBJECTS

    status = refusal(lambda: store.create(cluster, pod("third")))

    assert status["message"] == (
        f'pods "third" is forbidden: exceeded quota: sandbox, requested: count/objects=1,pods=1, '
        f"used: count/objects={used},pods=2, limited: count/objects={used},pods=2"
    )


def test_it_counts_namespaces_nodes_and_leases_but_not_events(cluster, settings):
    # The fixture's namespaces, nodes and their Leases (and the default IngressClass) fill the quota exactly.
    settings.PODFLOW_QUOTA_OBJECTS = objects_in(cluster)
    assert Object.objects.filter(cluster=cluster, kind__in=["Namespace", "Node", "Lease", "IngressClass"]).count() == objects_in(cluster)
    node = store.get(cluster, kinds.NODE, "", "node-1")

    for i in range(20):
        events.record(cluster, node, "Rebooted", f"Node node-1 has been rebooted {i}", by=store.KUBELET, component="kubelet")
    status = refusal(lambda: store.create(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "more"}}))

    assert status["reason"] == "Forbidden"
    assert "count/objects" in status["message"]


def test_it_refuses_a_dry_run_create_over_the_quota_too(api, cluster, settings):
    settings.PODFLOW_QUOTA_PODS = 1
    fill_with_pods(cluster, 1)
    before = counts(cluster)

    response = api.post(PODS + "?dryRun=All", data=json.dumps(pod("tried")), content_type="application/json")

    assert response.status_code == 403
    assert "exceeded quota: sandbox, requested: pods=1, used: pods=1, limited: pods=1" in response.json()["message"]
    assert counts(cluster) == before


def test_it_lets_objects_at_the_quota_be_updated_and_deleted(cluster, settings):
    settings.PODFLOW_QUOTA_PODS = 1
    fill_with_pods(cluster, 1)

    updated = store.mutate(cluster, kinds.POD, "default", "web-1", lambda d: d["metadata"].update(labels={"v": "2"}), by=store.API)
    store.remove(cluster, kinds.POD, "default", "web-1", by=store.API)
    again = store.create(cluster, pod("web-2"))

    assert updated["metadata"]["labels"] == {"v": "2"}
    assert again["metadata"]["name"] == "web-2"


# --- the ReplicaSet controller at the quota ---------------------------------------------

def failed_creates(cluster, rs: dict) -> list[dict]:
    return [
        doc
        for (doc,) in Object.objects.filter(cluster=cluster, kind="Event", owner_uid=rs["metadata"]["uid"]).values_list("doc")
        if doc["reason"] == "FailedCreate"
    ]


def replica_failure(cluster, name: str = "web") -> dict | None:
    conditions = (store.get(cluster, kinds.REPLICASET, "default", name).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "ReplicaFailure"), None)


def owned_pods(cluster, rs: dict) -> list[dict]:
    return store.list_docs(cluster, kinds.POD, owner_uid=rs["metadata"]["uid"])


@pytest.fixture
def rs_at_quota(cluster, settings, clock):
    """A ReplicaSet of 400 in a sandbox whose pod quota is 10, after one pass."""
    settings.PODFLOW_QUOTA_PODS = 10
    rs = store.create(cluster, replicaset_manifest("web", replicas=400), client="kubectl")
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    return rs


def test_a_replicaset_stops_at_the_quota_with_one_failed_create_warning(cluster, rs_at_quota):
    rs = rs_at_quota

    assert len(owned_pods(cluster, rs)) == 10
    [event] = failed_creates(cluster, rs)
    assert (event["type"], event["count"], event["source"]) == ("Warning", 1, {"component": "replicaset-controller"})
    assert event["message"].startswith('Error creating: pods "web-')
    assert event["message"].endswith('" is forbidden: exceeded quota: sandbox, requested: pods=1, used: pods=10, limited: pods=10')
    status = store.get(cluster, kinds.REPLICASET, "default", "web")["status"]
    assert status["replicas"] == 10


def test_a_replicaset_at_the_quota_has_the_replica_failure_condition(cluster, rs_at_quota):
    condition = replica_failure(cluster)

    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("True", "FailedCreate")
    assert condition["message"].startswith('pods "web-') and "exceeded quota: sandbox" in condition["message"]
    assert condition["lastTransitionTime"] == metav1.rfc3339()


def test_retrying_at_the_quota_counts_the_same_event_instead_of_adding_rows(cluster, rs_at_quota, clock):
    rs = rs_at_quota
    condition = replica_failure(cluster)

    for _ in range(3):
        clock.advance(5)
        before = revision(cluster)
        replicaset.reconcile(cluster, rs["metadata"]["uid"])
        # One write per retry: the event's count. The status (condition included) stays.
        assert [(c.type, c.kind) for c in changes_after(cluster, before)] == [(Change.MODIFIED, "Event")]

    [event] = failed_creates(cluster, rs)
    assert event["count"] == 4
    assert event["lastTimestamp"] == metav1.rfc3339()
    assert event["message"].startswith(events.COMBINED + 'Error creating: pods "web-')
    assert replica_failure(cluster) == condition
    assert len(owned_pods(cluster, rs)) == 10


def test_a_refused_pass_wakes_no_replicaset_reconcile(cluster, settings, django_capture_on_commit_callbacks):
    settings.PODFLOW_QUOTA_PODS = 3
    rs = store.create(cluster, replicaset_manifest("web", replicas=5))

    with django_capture_on_commit_callbacks() as flushes:
        replicaset.reconcile(cluster, rs["metadata"]["uid"])
        replicaset.reconcile(cluster, rs["metadata"]["uid"])

    changes = [c for flush in flushes for c in flush.__self__.changes]
    woken = [task for c in changes for task in wake.for_change(cluster.pk, c.type, c.old, c.new, c.by)]
    assert woken and all(name != wake.RECONCILE_REPLICASET for name, _ in woken)


def test_a_replicaset_recovers_when_pods_are_deleted(cluster, settings):
    settings.PODFLOW_QUOTA_PODS = 10
    fill_with_pods(cluster, 5)
    rs = store.create(cluster, replicaset_manifest("web", replicas=8))
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    assert len(owned_pods(cluster, rs)) == 5 and replica_failure(cluster) is not None

    for i in range(3):
        store.remove(cluster, kinds.POD, "default", f"web-{i + 1}", by=store.API)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert len(owned_pods(cluster, rs)) == 8
    assert replica_failure(cluster) is None
    assert "conditions" not in store.get(cluster, kinds.REPLICASET, "default", "web")["status"]


def test_a_replicaset_recovers_when_the_quota_is_raised(cluster, rs_at_quota, settings):
    rs = rs_at_quota
    settings.PODFLOW_QUOTA_PODS = 400

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert len(owned_pods(cluster, rs)) == 400
    assert replica_failure(cluster) is None
    assert len(failed_creates(cluster, rs)) == 1  # the history stays, as Events do


def test_a_deployment_of_400_stops_at_the_sandboxs_300_pods(cluster):
    dep = store.create(cluster, deployment_manifest("web", replicas=400), client="kubectl")
    deployment.reconcile(cluster, dep["metadata"]["uid"])
    [rs] = store.list_docs(cluster, kinds.REPLICASET, owner_uid=dep["metadata"]["uid"])

    replicaset.reconcile(cluster, rs["metadata"]["uid"])

    assert Object.objects.filter(cluster=cluster, kind="Pod").count() == 300
    assert all(pods.is_active(p) for p in owned_pods(cluster, rs))
    [event] = failed_creates(cluster, rs)
    assert "used: pods=300, limited: pods=300" in event["message"]
    assert replica_failure(cluster, rs["metadata"]["name"])["reason"] == "FailedCreate"


# --- the write rate ---------------------------------------------------------------------

def test_a_full_bucket_lets_a_burst_through_then_refuses():
    tokens, now = 50.0, 100.0
    allowed = []
    for _ in range(51):
        ok, tokens, retry_after = quota.take(tokens, now, now, rate=50, burst=50)
        allowed.append(ok)

    assert allowed == [True] * 50 + [False]
    assert retry_after == pytest.approx(1 / 50)


def test_a_bucket_refills_at_the_rate_and_never_beyond_the_burst():
    ok, tokens, _ = quota.take(0.0, 100.0, 100.1, rate=50, burst=50)
    assert ok and tokens == pytest.approx(4.0)  # 0.1 s × 50/s = 5, one taken

    ok, tokens, _ = quota.take(0.0, 100.0, 200.0, rate=50, burst=50)
    assert ok and tokens == pytest.approx(49.0)


def test_a_clock_that_goes_back_refills_nothing():
    ok, tokens, retry_after = quota.take(0.5, 100.0, 99.0, rate=2, burst=5)

    assert (ok, tokens) == (False, 0.5)
    assert retry_after == pytest.approx(0.25)


def limited_create(request: HttpRequest, cluster) -> HttpResponse:
    """A write behind `authenticated`, as the API's writes are."""
    return json_response(store.create(cluster, json.loads(request.body)), 201)


def limited_list(request: HttpRequest, cluster) -> HttpResponse:
    return json_response({"items": store.list_docs(cluster, kinds.POD)})


def limited(request: HttpRequest, cluster) -> HttpResponse:
    return limited_create(request, cluster) if request.method == "POST" else limited_list(request, cluster)


urlpatterns = [path("k8s/<str:cluster>/limited/pods", api_view(authenticated(limited)))]
LIMITED = "/k8s/test/limited/pods"


@pytest.fixture
def bucket_clock(clock, monkeypatch):
    """The limiter's clock is the test's clock; every test starts with full buckets."""
    start = clock()
    monkeypatch.setattr(quota, "clock", lambda: (clock() - start).total_seconds())
    quota.memory_buckets().clear()
    yield clock
    quota.memory_buckets().clear()


def write(api: Client, name: str):
    return api.post(LIMITED, data=json.dumps(pod(name)), content_type="application/json")


@pytest.mark.urls(__name__)
def test_the_51st_write_in_a_second_is_refused_with_429_and_retry_after(api, cluster, bucket_clock):
    assert [write(api, f"p{i}").status_code for i in range(50)] == [201] * 50
    before = counts(cluster)

    response = write(api, "p50")

    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    body = response.json()
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "TooManyRequests", 429)
    assert body["message"] == "Too many requests, please try again later."
    assert body["details"] == {"retryAfterSeconds": 1}
    assert counts(cluster) == before


@pytest.mark.urls(__name__)
def test_writes_are_allowed_again_once_the_clock_moves(api, cluster, bucket_clock):
    for i in range(51):
        write(api, f"p{i}")

    bucket_clock.advance(0.1)  # five tokens back at 50/s
    codes = [write(api, f"q{i}").status_code for i in range(6)]

    assert codes == [201] * 5 + [429]


@pytest.mark.urls(__name__)
def test_reads_are_never_limited(api, cluster, bucket_clock):
    for i in range(51):
        write(api, f"p{i}")

    assert {api.get(LIMITED).status_code for _ in range(100)} == {200}


@pytest.mark.urls(__name__)
def test_each_sandbox_has_its_own_bucket(api, cluster, bucket_clock):
    other, _ = ensure_cluster("other", nodes=1, speed=Speed.INSTANT)
    for i in range(51):
        write(api, f"p{i}")

    response = Client(HTTP_AUTHORIZATION=f"Bearer {other.token}").post(
        "/k8s/other/limited/pods", data=json.dumps(pod("theirs")), content_type="application/json"
    )

    assert response.status_code == 201


def test_kubectls_51st_write_in_a_second_is_refused_with_429(api, cluster, bucket_clock):
    codes = [api.post(PODS, data=json.dumps(pod(f"p{i}")), content_type="application/json").status_code for i in range(51)]

    assert codes == [201] * 50 + [429]


def test_with_redis_unreachable_the_limiter_lets_writes_through_and_warns_once(caplog):
    buckets = quota.RedisBuckets("redis://127.0.0.1:1/0")

    with caplog.at_level(logging.WARNING, logger="podflow.quota"):
        results = [buckets.take("podflow:ratelimit:test", rate=1, burst=1) for _ in range(3)]

    assert results == [(True, 0.0)] * 3
    assert len([r for r in caplog.records if "Redis unreachable" in r.getMessage()]) == 1


def test_a_cluster_nobody_owns_has_no_quota(db, settings):
    demo, _ = ensure_cluster("demo", speed=Speed.INSTANT)
    settings.PODFLOW_QUOTA_OBJECTS = objects_in(demo)

    store.create(demo, configmap("beyond"))

    assert Object.objects.filter(cluster=demo, kind="ConfigMap", name="beyond").exists()
