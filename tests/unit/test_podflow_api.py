"""podflow's own endpoints under /k8s/<cluster>/podflow/v1/: a Service's DNS name, kube-proxy's rules, simulated requests."""
from __future__ import annotations

import pytest
from django.test import Client

from cluster.controllers import endpoints

from .test_kubeproxy import four_pods, node_port_service

BASE = "/k8s/test/podflow/v1/namespaces/default/services"


@pytest.fixture
def api(cluster) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {cluster.token}")


def test_a_request_is_answered_by_a_ready_pod_as_json(cluster, api):
    node_port_service(cluster)
    four_pods(cluster)

    response = api.get(BASE + "/web/request?node=node-3")

    assert (response.status_code, response["Content-Type"]) == (200, "application/json")
    body = response.json()
    assert body["via"] == "nodePort 30080 on node-3"
    assert body["pod"] in {"web-0", "web-1", "web-2"} and body["body"] == "Welcome to nginx!"
    assert (body["service"], body["dns"], body["status"]) == ("web", "web.default.svc.cluster.local", 200)


def test_a_post_takes_its_options_from_the_body_and_count_sends_many(cluster, api):
    node_port_service(cluster)
    four_pods(cluster)

    response = api.post(BASE + "/web/request", data={"via": "clusterIP", "count": 60}, content_type="application/json")

    body = response.json()
    assert response.status_code == 200 and body["count"] == 60
    assert set(body["byPod"]) <= {"web-0", "web-1", "web-2"} and sum(body["byPod"].values()) == 60
    assert all(a["via"].startswith("clusterIP ") for a in body["answers"])


def test_no_ready_endpoint_is_a_503_with_a_message(cluster, api):
    node_port_service(cluster)
    endpoints.reconcile(cluster, "default", "web")

    response = api.get(BASE + "/web/request")

    assert response.status_code == 503
    assert "has no ready endpoints" in response.json()["error"]


def test_a_missing_service_is_a_kubernetes_not_found_and_no_token_is_401(cluster, api):
    missing = api.get(BASE + "/nope/request")
    assert missing.status_code == 404 and missing.json()["message"] == 'services "nope" not found'
    assert Client().get(BASE + "/web/request").status_code == 401


def test_bad_options_are_400_not_500(cluster, api):
    node_port_service(cluster)

    assert api.get(BASE + "/web/request?count=abc").status_code == 400
    assert api.get(BASE + "/web/request?count=1000").status_code == 400
    assert api.get(BASE + "/web/request?via=teleport").status_code == 400
    assert api.get(BASE + "/web/request?node=node-9").status_code == 400
    assert api.post(BASE + "/web/request", data="[1]", content_type="application/json").status_code == 400
    assert api.delete(BASE + "/web/request").status_code == 405


def test_the_proxy_rules_come_as_json_lines_or_as_text(cluster, api):
    node_port_service(cluster)
    four_pods(cluster)

    as_json = api.get(BASE + "/web/proxy-rules?node=node-2").json()
    as_text = api.get(BASE + "/web/proxy-rules?node=node-2&format=text")

    assert (as_json["node"], as_json["mode"]) == ("node-2", "iptables")
    assert any("--dport 30080" in line and line.startswith("-A KUBE-NODEPORTS") for line in as_json["lines"])
    assert as_text["Content-Type"].startswith("text/plain")
    assert as_text.content.decode().splitlines() == as_json["lines"]
    assert api.get(BASE + "/web/proxy-rules?node=node-9").status_code == 404


def test_the_service_detail_shows_its_dns_name_and_endpoints(cluster, api):
    svc = node_port_service(cluster)
    four_pods(cluster)

    info = api.get(BASE + "/web").json()

    assert info["dns"] == "web.default.svc.cluster.local"
    assert info["dnsAnswer"] == {"type": "A", "values": [svc["spec"]["clusterIP"]]}
    assert [e["pod"] for e in info["endpoints"]["ready"]] == ["web-0", "web-1", "web-2"]
    assert [e["pod"] for e in info["endpoints"]["notReady"]] == ["web-3"]
    assert any("30080" in line for line in info["howToReach"])
    assert [s["service"] for s in api.get(BASE).json()["items"]] == ["web"]
