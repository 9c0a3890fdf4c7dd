"""The Kubernetes-shaped HTTP API: JSON in and out, every error a Status."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.demo import ensure_cluster
from cluster.models import Speed, Step

from .manifests import counts, deployment, pod

PODS = "/k8s/test/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/k8s/test/apis/apps/v1/namespaces/default/deployments"


@pytest.fixture
def api(cluster) -> Client:
    return Client(HTTP_USER_AGENT="kubectl/v1.32.4 (linux/amd64) kubernetes/abc", HTTP_AUTHORIZATION=f"Bearer {cluster.token}")


def post(api: Client, path: str, body) -> tuple[int, dict, str]:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    response = api.post(path, data=data, content_type="application/json")
    return response.status_code, response.json(), response["Content-Type"]


def test_it_creates_a_pod_and_answers_201_with_the_stored_object(api, cluster):
    code, body, content_type = post(api, PODS, pod("web"))

    assert (code, content_type) == (201, "application/json")
    assert body["kind"] == "Pod"
    assert body == store.get(cluster, kinds.POD, "default", "web")


def test_it_records_steps_one_to_three_for_a_bare_pod(api):
    _, body, _ = post(api, PODS, pod("web"))

    steps = Step.objects.filter(pod_uid=body["metadata"]["uid"]).order_by("number")
    assert [(s.number, s.status) for s in steps] == [(1, "done"), (2, "done"), (3, "not-needed")]
    assert steps[0].actor == "kubectl"
    assert steps[1].revision == int(body["metadata"]["resourceVersion"])


def test_it_answers_invalid_input_with_a_422_status_naming_the_fields(api, cluster):
    before = counts(cluster)

    code, body, content_type = post(api, PODS, pod("Bad_Name", cpu="abc"))

    assert (code, content_type) == (422, "application/json")
    assert (body["kind"], body["status"], body["reason"], body["code"]) == ("Status", "Failure", "Invalid", 422)
    assert [c["field"] for c in body["details"]["causes"]] == ["metadata.name", "spec.containers[0].resources.requests[cpu]"]
    assert counts(cluster) == before


def _without_containers(doc: dict) -> dict:
    doc["spec"]["containers"] = []
    return doc


def _without_image(doc: dict) -> dict:
    del doc["spec"]["containers"][0]["image"]
    return doc


def _selecting_other_labels(doc: dict) -> dict:
    doc["spec"]["selector"]["matchLabels"] = {"app": "other"}
    return doc


@pytest.mark.parametrize(
    "path,doc,field",
    [
        (PODS, _without_containers(pod("web")), "spec.containers"),
        (PODS, _without_image(pod("web")), "spec.containers[0].image"),
        (PODS, pod("web", memory="lots"), "spec.containers[0].resources.requests[memory]"),
        (DEPLOYMENTS, _selecting_other_labels(deployment("web")), "spec.template.metadata.labels"),
    ],
)
def test_it_names_the_invalid_field_of_a_posted_object(api, cluster, path, doc, field):
    before = counts(cluster)

    code, body, _ = post(api, path, doc)

    assert (code, body["reason"]) == (422, "Invalid")
    assert [c["field"] for c in body["details"]["causes"]] == [field]
    assert counts(cluster) == before


def test_it_answers_an_invalid_deployment_with_422(api, cluster):
    before = counts(cluster)

    code, body, _ = post(api, DEPLOYMENTS, deployment("web", replicas=-1))

    assert code == 422
    assert body["details"]["kind"] == "Deployment"
    assert body["details"]["group"] == "apps"
    assert [c["field"] for c in body["details"]["causes"]] == ["spec.replicas"]
    assert counts(cluster) == before


def test_it_answers_a_duplicate_with_409_already_exists(api):
    post(api, PODS, pod("web"))

    code, body, _ = post(api, PODS, pod("web"))

    assert (code, body["reason"], body["message"]) == (409, "AlreadyExists", 'pods "web" already exists')


@pytest.mark.parametrize("payload", ['{"kind": "Pod",', b"\xff\xfe", "[1, 2]", '"pod"'])
def test_it_answers_a_body_that_is_not_a_json_object_with_400(api, cluster, payload):
    before = counts(cluster)

    code, body, content_type = post(api, PODS, payload)

    assert (code, content_type) == (400, "application/json")
    assert (body["kind"], body["reason"]) == ("Status", "BadRequest")
    assert counts(cluster) == before


def test_it_answers_a_missing_pod_with_404_not_found(api):
    response = api.get(PODS + "/nope")

    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"},
        "code": 404,
    }


def test_it_names_a_missing_deployment_with_its_group(api):
    response = api.get(DEPLOYMENTS + "/x")

    assert response.status_code == 404
    assert response.json()["message"] == 'deployments.apps "x" not found'


def test_it_answers_an_unknown_resource_with_a_404_status(api):
    unknown = api.get("/k8s/test/api/v1/namespaces/default/gadgets")

    assert (unknown.status_code, unknown["Content-Type"], unknown.json()["kind"]) == (404, "application/json", "Status")


def test_it_answers_without_a_token_with_401(cluster):
    anonymous = Client().get(PODS)

    assert (anonymous.status_code, anonymous.json()["reason"]) == (401, "Unauthorized")


def test_it_answers_with_another_clusters_token_with_403(api):
    ensure_cluster("other", nodes=1, speed=Speed.INSTANT)

    elsewhere = api.get("/k8s/other/api/v1/namespaces/default/pods")

    assert (elsewhere.status_code, elsewhere.json()["reason"]) == (403, "Forbidden")


def test_it_answers_an_unknown_cluster_with_404(api):
    response = api.get("/k8s/nope/api/v1/namespaces/default/pods")

    assert (response.status_code, response.json()["message"]) == (404, 'cluster "nope" not found')


def test_it_answers_a_create_in_a_missing_namespace_with_404(api):
    code, body, _ = post(api, "/k8s/test/api/v1/namespaces/nowhere/pods", pod("web"))

    assert (code, body["message"]) == (404, 'namespaces "nowhere" not found')


def test_it_lists_with_the_current_resource_version(api, cluster):
    post(api, PODS, pod("a"))
    post(api, PODS, pod("b"))

    response = api.get(PODS)

    body = response.json()
    assert (response.status_code, response["Content-Type"]) == (200, "application/json")
    assert (body["kind"], body["apiVersion"]) == ("PodList", "v1")
    assert body["metadata"]["resourceVersion"] == str(store.current_revision(cluster))
    assert [p["metadata"]["name"] for p in body["items"]] == ["a", "b"]


def test_it_filters_a_list_by_label_selector(api):
    post(api, PODS, pod("a", labels={"app": "web", "tier": "front"}))
    post(api, PODS, pod("b", labels={"app": "web", "tier": "back"}))
    post(api, PODS, pod("c", labels={"app": "db"}))

    def names(selector: str) -> list[str]:
        return [p["metadata"]["name"] for p in api.get(PODS, {"labelSelector": selector}).json()["items"]]

    assert names("app=web") == ["a", "b"]
    assert names("app=web,tier!=front") == ["b"]
    assert names("app in (db, cache)") == ["c"]
    assert names("tier") == ["a", "b"]
    assert names("!tier") == ["c"]


def test_it_filters_a_list_by_field_selector(api):
    post(api, PODS, pod("a"))
    post(api, PODS, pod("b"))

    response = api.get(PODS, {"fieldSelector": "metadata.name=b"})

    assert [p["metadata"]["name"] for p in response.json()["items"]] == ["b"]


def test_it_answers_a_bad_selector_with_400(api):
    bad_label = api.get(PODS, {"labelSelector": "=web"})
    bad_field = api.get(PODS, {"fieldSelector": "spec.colour=blue"})

    assert (bad_label.status_code, bad_label.json()["reason"]) == (400, "BadRequest")
    assert (bad_field.status_code, bad_field.json()["reason"]) == (400, "BadRequest")


def test_it_lists_nodes_at_cluster_scope(api):
    body = api.get("/k8s/test/api/v1/nodes").json()

    assert body["kind"] == "NodeList"
    assert [n["metadata"]["name"] for n in body["items"]] == ["node-1", "node-2", "node-3"]


def test_it_replaces_an_object_with_put_and_refuses_a_stale_one_with_409(api):
    _, created, _ = post(api, DEPLOYMENTS, deployment("web", replicas=1))
    created["spec"]["replicas"] = 2

    ok = api.put(DEPLOYMENTS + "/web", json.dumps(created), content_type="application/json")
    stale = api.put(DEPLOYMENTS + "/web", json.dumps(created), content_type="application/json")

    assert ok.status_code == 200
    assert (ok.json()["spec"]["replicas"], ok.json()["metadata"]["generation"]) == (2, 2)
    assert (stale.status_code, stale.json()["reason"]) == (409, "Conflict")


def test_it_refuses_a_put_whose_name_differs_from_the_url(api):
    _, created, _ = post(api, PODS, pod("web"))
    created["metadata"]["name"] = "other"

    response = api.put(PODS + "/web", json.dumps(created), content_type="application/json")

    assert response.status_code == 400


def test_it_removes_an_unstarted_pod_at_once_on_delete(api, cluster):
    post(api, PODS, pod("web"))

    response = api.delete(PODS + "/web")

    assert response.status_code == 200
    assert api.get(PODS + "/web").status_code == 404


def test_it_answers_a_bad_grace_period_with_400(api):
    post(api, PODS, pod("web"))

    response = api.delete(PODS + "/web?gracePeriodSeconds=soon")

    assert (response.status_code, response.json()["reason"]) == (400, "BadRequest")


def test_it_refuses_methods_it_does_not_serve_with_405(api):
    response = api.patch(PODS, "{}", content_type="application/json")

    assert (response.status_code, response["Content-Type"]) == (405, "application/json")
    assert response.json()["reason"] == "MethodNotAllowed"


def test_it_answers_version_as_kubernetes_1_32(api):
    body = api.get("/k8s/test/version").json()

    assert (body["major"], body["minor"]) == ("1", "32")


@pytest.mark.parametrize("watch", ["", "&watch=true"])
def test_a_list_or_watch_from_a_resource_version_not_reached_yet_answers_at_once(cluster, watch):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {cluster.token}")
    future = cluster.revision + 1000

    response = client.get(f"/k8s/test/api/v1/namespaces/default/pods?resourceVersion={future}{watch}")

    assert response.status_code == 504
    body = response.json()
    assert body["reason"] == "Timeout" and body["message"] == f"Too large resource version: {future}, current: {cluster.revision}"
    assert body["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert response["Retry-After"] == "1"
