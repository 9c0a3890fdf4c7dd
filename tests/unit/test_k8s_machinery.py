"""API machinery beyond CRUD: subresources, tables, patches, watches, discovery."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from cluster import scheduler
from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.models import Step

from .manifests import deployment, pod

PODS = "/k8s/test/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/k8s/test/apis/apps/v1/namespaces/default/deployments"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@pytest.fixture
def api(cluster) -> Client:
    return Client(HTTP_USER_AGENT="kubectl/v1.32.4 (linux/amd64) kubernetes/abc", HTTP_AUTHORIZATION=f"Bearer {cluster.token}")


def test_it_binds_a_pod_through_the_binding_subresource_and_records_step_four(api, cluster):
    created = store.create(cluster, pod("bound"))
    body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"}, "target": {"apiVersion": "v1", "kind": "Node", "name": "node-2"}}

    response = api.post(PODS + "/bound/binding", data=json.dumps(body), content_type="application/json")

    assert response.status_code == 201
    assert store.get(cluster, kinds.POD, "default", "bound")["spec"]["nodeName"] == "node-2"
    step = Step.objects.get(pod_uid=created["metadata"]["uid"], number=4)
    assert "kubectl bound Pod default/bound to node-2" in step.text_en
    again = api.post(PODS + "/bound/binding", data=json.dumps(body), content_type="application/json")
    assert again.status_code == 409


def test_it_refuses_a_binding_to_a_missing_node(api, cluster):
    store.create(cluster, pod("lost"))
    body = {"target": {"kind": "Node", "name": "node-9"}}

    response = api.post(PODS + "/lost/binding", data=json.dumps(body), content_type="application/json")

    assert (response.status_code, response.json()["message"]) == (404, 'nodes "node-9" not found')
    assert "nodeName" not in store.get(cluster, kinds.POD, "default", "lost")["spec"]


def test_it_writes_only_the_status_through_the_status_subresource(api, cluster):
    store.create(cluster, pod("st"))
    current = api.get(PODS + "/st/status").json()
    current["status"]["phase"] = "Running"
    current["spec"]["containers"][0]["image"] = "changed"

    response = api.put(PODS + "/st/status", data=json.dumps(current), content_type="application/json")

    stored = store.get(cluster, kinds.POD, "default", "st")
    assert response.status_code == 200
    assert stored["status"]["phase"] == "Running" and stored["spec"]["containers"][0]["image"] == "nginx"


def test_it_ignores_status_written_through_the_main_resource(api, cluster):
    store.create(cluster, pod("main"))
    patch = {"status": {"phase": "Running"}, "metadata": {"labels": {"a": "b"}}}

    response = api.patch(PODS + "/main", data=json.dumps(patch), content_type="application/merge-patch+json")

    assert response.status_code == 200
    stored = store.get(cluster, kinds.POD, "default", "main")
    assert stored["status"]["phase"] == "Pending" and stored["metadata"]["labels"] == {"a": "b"}


def test_it_reads_and_patches_the_scale_subresource(api, cluster):
    store.create(cluster, deployment("sc", replicas=2))

    scale = api.get(DEPLOYMENTS + "/sc/scale").json()
    patched = api.patch(DEPLOYMENTS + "/sc/scale", data=json.dumps({"spec": {"replicas": 5}}), content_type="application/merge-patch+json")
    bad = api.patch(DEPLOYMENTS + "/sc/scale", data=json.dumps({"spec": {"replicas": -1}}), content_type="application/merge-patch+json")

    assert (scale["kind"], scale["apiVersion"], scale["spec"]["replicas"]) == ("Scale", "autoscaling/v1", 2)
    assert scale["status"]["selector"] == "app=sc"
    assert patched.status_code == 200 and patched.json()["spec"]["replicas"] == 5
    assert bad.status_code == 422 and bad.json()["details"]["causes"][0]["field"] == "spec.replicas"
    assert store.get(cluster, kinds.DEPLOYMENT, "default", "sc")["spec"]["replicas"] == 5


def test_it_refuses_an_unknown_patch_type_with_415_and_writes_nothing(api, cluster):
    created = store.create(cluster, pod("p415"))

    response = api.patch(PODS + "/p415", data="{}", content_type="application/xml")

    assert response.status_code == 415 and response.json()["reason"] == "UnsupportedMediaType"
    assert store.get(cluster, kinds.POD, "default", "p415")["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_it_prints_pods_as_a_table_when_asked(api, cluster):
    store.create(cluster, pod("tab"))

    table = api.get(PODS, HTTP_ACCEPT=TABLE).json()

    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert table["rows"][0]["cells"][:4] == ["tab", "0/1", "Pending", 0]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_it_shows_a_cordoned_node_as_scheduling_disabled(api, cluster):
    store.mutate(cluster, kinds.NODE, "", "node-1", lambda d: d["spec"].__setitem__("unschedulable", True), by=store.API)

    table = api.get("/k8s/test/api/v1/nodes", HTTP_ACCEPT=TABLE).json()

    statuses = {row["cells"][0]: row["cells"][1] for row in table["rows"]}
    assert statuses == {"node-1": "Ready,SchedulingDisabled", "node-2": "Ready", "node-3": "Ready"}


def _watch_lines(response) -> list[dict]:
    """Read a watch to its end (timeoutSeconds) as the ASGI server would: asynchronously."""
    from asgiref.sync import async_to_sync

    async def collect(chunks):
        return [chunk async for chunk in chunks]

    body = b"".join(async_to_sync(collect)(response.streaming_content))
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_it_watches_only_what_came_after_the_resource_version(api, cluster):
    store.create(cluster, pod("before"))
    listed = api.get(PODS).json()["metadata"]["resourceVersion"]
    created = store.create(cluster, pod("after"))
    scheduler.schedule(cluster, created["metadata"]["uid"])

    response = api.get(PODS + f"?watch=true&resourceVersion={listed}&timeoutSeconds=1")

    events = _watch_lines(response)
    assert response["Content-Type"] == "application/json"
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "after"), ("MODIFIED", "after")]
    assert events[-1]["object"]["spec"]["nodeName"].startswith("node-")


def test_it_starts_a_watch_without_resource_version_with_the_current_state(api, cluster):
    store.create(cluster, pod("here"))

    events = _watch_lines(api.get(PODS + "?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dhere"))

    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "here")]


def test_it_watches_as_one_row_tables_with_columns_only_first(api, cluster):
    listed = api.get(PODS).json()["metadata"]["resourceVersion"]
    store.create(cluster, pod("t1"))
    store.create(cluster, pod("t2"))

    events = _watch_lines(api.get(PODS + f"?watch=true&resourceVersion={listed}&timeoutSeconds=1", HTTP_ACCEPT=TABLE))

    assert [e["object"]["kind"] for e in events] == ["Table", "Table"]
    assert "columnDefinitions" in events[0]["object"] and "columnDefinitions" not in events[1]["object"]
    assert [e["object"]["rows"][0]["cells"][0] for e in events] == ["t1", "t2"]


def test_it_answers_a_watch_from_before_the_compacted_log_with_an_expired_error(api, cluster):
    for i in range(3):
        store.create(cluster, pod(f"c{i}"))
    store.compact(cluster, keep=1)

    events = _watch_lines(api.get(PODS + "?watch=true&resourceVersion=2&timeoutSeconds=1"))

    assert len(events) == 1 and events[0]["type"] == "ERROR"
    assert (events[0]["object"]["code"], events[0]["object"]["reason"]) == (410, "Expired")


def test_it_sends_bookmarks_when_asked(api, cluster, monkeypatch):
    from cluster.apiserver.handlers import watch

    monkeypatch.setattr(watch, "BOOKMARK_SECONDS", 0.2)
    listed = api.get(PODS).json()["metadata"]["resourceVersion"]

    events = _watch_lines(api.get(PODS + f"?watch=true&allowWatchBookmarks=true&resourceVersion={listed}&timeoutSeconds=1"))

    assert events and all(e["type"] == "BOOKMARK" for e in events)
    assert events[0]["object"]["metadata"]["resourceVersion"] == listed


def test_it_serves_aggregated_discovery_with_short_names_and_the_all_category(api):
    response = api.get("/k8s/test/api", HTTP_ACCEPT="application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")

    assert response["Content-Type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
    resources = {r["resource"]: r for r in response.json()["items"][0]["versions"][0]["resources"]}
    assert resources["pods"]["shortNames"] == ["po"] and resources["pods"]["categories"] == ["all"]
    assert {s["subresource"] for s in resources["pods"]["subresources"]} >= {"log", "status", "binding"}


def test_it_serves_an_openapi_v3_index_whose_documents_name_each_kinds_patch(api):
    index = api.get("/k8s/test/openapi/v3").json()
    apps = api.get(index["paths"]["apis/apps/v1"]["serverRelativeURL"]).json()

    patch = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}


def test_it_decodes_a_protobuf_create_body(api, cluster):
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures" / "protobuf"
    body = next(p for p in sorted(fixtures.glob("*.bin")) if "namespace" in p.name).read_bytes()

    response = api.post("/k8s/test/api/v1/namespaces", data=body, content_type="application/vnd.kubernetes.protobuf")

    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "Namespace"
