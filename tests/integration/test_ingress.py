"""Ingress with the real kubectl and the real workers: the notes' picture of one address in
front of several Services, routed by host and path (001: Ingress is the L7 rules, carried
out by an ingress controller).
"""
from __future__ import annotations

import json

import pytest

from tests.livehelpers import http, wait_until

pytestmark = pytest.mark.integration

PODFLOW = "/k8s/demo/podflow/v1/namespaces/default/ingresses"


def ready_pod_names(kubectl, app: str, count: int, timeout: float = 90) -> set[str]:
    def check():
        items = json.loads(kubectl("get", "pods", "-l", f"app={app}", "-o", "json").stdout)["items"]
        ready = {
            p["metadata"]["name"] for p in items
            if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        }
        return ready if len(ready) == count and len(items) == count else None

    return wait_until(check, timeout, f"{count} ready pods of {app}", interval=0.3)


def ready_endpoints(kubectl, name: str) -> int:
    ep = json.loads(kubectl("get", "endpoints", name, "-o", "json").stdout)
    return sum(len(s.get("addresses") or []) for s in ep.get("subsets") or [])


def curl(live_stack, ingress: str, **params) -> tuple[int, dict]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return http(live_stack.url, "GET", f"{PODFLOW}/{ingress}/request" + (f"?{query}" if query else ""))


def test_an_ingress_routes_hosts_and_paths_to_two_services(kubectl, live_stack):
    for app, replicas in (("shop", 2), ("api", 1)):
        kubectl("create", "deployment", app, "--image=nginx", f"--replicas={replicas}")
        assert kubectl("expose", "deployment", app, "--port=80").stdout.strip() == f"service/{app} exposed"
    shop_pods, api_pods = ready_pod_names(kubectl, "shop", 2), ready_pod_names(kubectl, "api", 1)

    created = kubectl("create", "ingress", "store", "--rule=shop.example.com/*=shop:80", "--rule=shop.example.com/api*=api:80", "--rule=/status=api:80")
    assert created.stdout.strip() == "ingress.networking.k8s.io/store created"

    # The class is the default one, written at create; kubectl puts a host's two paths in one rule.
    ing = json.loads(kubectl("get", "ingress", "store", "-o", "json").stdout)
    assert ing["spec"]["ingressClassName"] == "podflow"
    assert ing["spec"]["rules"][0]["http"]["paths"][0] == {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "shop", "port": {"number": 80}}}}

    def row():
        lines = kubectl("get", "ing", "store").stdout.splitlines()
        return lines if len(lines[1].split()) == 6 else None

    lines = wait_until(row, 30, "an address for the Ingress", interval=0.3)
    assert lines[0].split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert lines[1].split()[:5] == ["store", "podflow", "shop.example.com", "192.168.49.2,192.168.49.3,192.168.49.4", "80"]

    described = kubectl("describe", "ing", "store").stdout
    assert "Ingress Class:    podflow" in described
    assert "shop.example.com" in described and "/api" in described and "/status" in described
    assert "shop:80 (" in described and "api:80 (" in described  # each backend with its pods' endpoints
    wait_until(lambda: "Scheduled for sync" in kubectl("describe", "ing", "store").stdout, 30, "the controller's Sync event", interval=0.3)

    # Requests: a host and a path pick the Service; its ready pods answer.
    wait_until(lambda: ready_endpoints(kubectl, "shop") == 2 and ready_endpoints(kubectl, "api") == 1, 60, "endpoints", interval=0.3)
    status, body = curl(live_stack, "store", host="shop.example.com", path="/cart", count=20)
    assert status == 200 and set(body["byPod"]) <= shop_pods and sum(body["byPod"].values()) == 20
    status, body = curl(live_stack, "store", host="shop.example.com", path="/api/orders")
    assert (status, body["service"], body["pod"], body["rule"]["path"]) == (200, "api", next(iter(api_pods)), "/api")
    status, body = curl(live_stack, "store", path="/status")
    assert (status, body["service"], body["rule"]["host"]) == (200, "api", None)

    # Nothing matches: the controller's default backend.
    status, body = curl(live_stack, "store", host="other.example.com", path="/cart")
    assert (status, body["body"]) == (404, "default backend - 404")

    # No ready pod behind the matched Service: 503.
    kubectl("scale", "deployment", "api", "--replicas=0")
    wait_until(lambda: ready_endpoints(kubectl, "api") == 0, 60, "api to have no endpoints", interval=0.3)
    status, body = curl(live_stack, "store", host="shop.example.com", path="/api")
    assert status == 503 and "no ready endpoints" in body["error"]

    assert kubectl("delete", "ingress", "store").stdout.strip() == 'ingress.networking.k8s.io "store" deleted'
    for app in ("shop", "api"):
        kubectl("delete", "service", app)
        kubectl("delete", "deployment", app)


def test_kubectl_create_ingress_takes_class_default_backend_and_tls(kubectl):
    created = kubectl("create", "ingress", "edge", "--class=podflow", "--default-backend=fallback:http", "--rule=a.example.com/=web:80,tls=a-cert")
    assert created.stdout.strip() == "ingress.networking.k8s.io/edge created"

    ing = json.loads(kubectl("get", "ingress", "edge", "-o", "json").stdout)
    assert ing["spec"]["defaultBackend"] == {"service": {"name": "fallback", "port": {"name": "http"}}}
    assert ing["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "Exact"
    assert ing["spec"]["tls"] == [{"hosts": ["a.example.com"], "secretName": "a-cert"}]
    assert kubectl("get", "ing", "edge").stdout.splitlines()[1].split()[4:6] == ["80,", "443"]

    refused = kubectl("create", "ingress", "bad", "--rule=foo.com/=web:99999", check=False)
    assert refused.returncode != 0 and "is invalid" in refused.stderr and "must be between 1 and 65535" in refused.stderr
    kubectl("delete", "ingress", "edge")


def test_the_default_ingress_class_is_listed(kubectl):
    lines = kubectl("get", "ingressclass").stdout.splitlines()
    assert lines[0].split() == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]
    assert lines[1].split()[:4] == ["podflow", "(default)", "podflow.dev/ingress-controller", "<none>"]
    assert "ingresses" in kubectl("api-resources", "--api-group=networking.k8s.io").stdout
