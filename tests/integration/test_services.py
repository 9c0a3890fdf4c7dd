"""Services, endpoints, ConfigMaps and Secrets with the real kubectl and the real workers.

The notes' scene: a Deployment with 4 replicas behind a NodePort Service; repeated
`curl host01:<nodePort>` lands on different pods. Here the curl is podflow's simulated
request (kube-proxy's rules walked over the Service's EndpointSlices).
"""
from __future__ import annotations

import base64
import json

import pytest

from tests.livehelpers import http, wait_until

pytestmark = pytest.mark.integration

PODFLOW = "/k8s/demo/podflow/v1/namespaces/default/services"


def get(kubectl, kind: str, name: str) -> dict:
    return json.loads(kubectl("get", kind, name, "-o", "json").stdout)


def ready_pods(kubectl, app: str, count: int, timeout: float = 90) -> list[dict]:
    def check():
        items = json.loads(kubectl("get", "pods", "-l", f"app={app}", "-o", "json").stdout)["items"]
        ready = [
            p for p in items
            if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        ]
        return ready if len(ready) == count and len(items) == count else None

    return wait_until(check, timeout, f"{count} ready pods of {app}", interval=0.3)


def endpoint_ips(kubectl, name: str) -> tuple[set[str], set[str]]:
    ep = get(kubectl, "endpoints", name)
    ready, not_ready = set(), set()
    for subset in ep.get("subsets") or []:
        ready |= {a["ip"] for a in subset.get("addresses") or []}
        not_ready |= {a["ip"] for a in subset.get("notReadyAddresses") or []}
    return ready, not_ready


def endpoint_pods(kubectl, name: str) -> set[tuple[str, str]]:
    """(pod name, IP) of the ready addresses: a replacement may be given the IP its
    predecessor had, so the pod's name tells them apart."""
    ep = get(kubectl, "endpoints", name)
    return {(a["targetRef"]["name"], a["ip"]) for s in ep.get("subsets") or [] for a in s.get("addresses") or []}


def wait_for_endpoints(kubectl, name: str, ips: set[str], timeout: float = 60) -> None:
    wait_until(lambda: endpoint_ips(kubectl, name)[0] == ips, timeout, f"the endpoints of {name} to be {sorted(ips)}", interval=0.3)


def curl(live_stack, service: str, **params) -> tuple[int, dict]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return http(live_stack.url, "GET", f"{PODFLOW}/{service}/request" + (f"?{query}" if query else ""))


def test_a_node_port_service_spreads_requests_over_the_four_pods_and_follows_them(kubectl, live_stack):
    assert kubectl("create", "deployment", "web4", "--image=nginx", "--replicas=4").stdout.strip() == "deployment.apps/web4 created"
    assert kubectl("expose", "deployment", "web4", "--type=NodePort", "--port=80").stdout.strip() == "service/web4 exposed"
    pods = ready_pods(kubectl, "web4", 4)
    ips = {p["status"]["podIP"] for p in pods}

    svc = get(kubectl, "service", "web4")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767 and svc["spec"]["clusterIP"].startswith("10.")
    table = kubectl("get", "svc", "web4").stdout.splitlines()
    assert table[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert table[1].split()[:5] == ["web4", "NodePort", svc["spec"]["clusterIP"], "<none>", f"80:{node_port}/TCP"]
    assert kubectl("get", "svc", "web4", "-o", "wide").stdout.splitlines()[1].split()[-1] == "app=web4"

    wait_for_endpoints(kubectl, "web4", ips)
    endpoints_table = kubectl("get", "endpoints", "web4").stdout.splitlines()
    assert endpoints_table[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    assert endpoints_table[1].split()[2:5] == ["+", "1", "more..."]
    slices = json.loads(kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=web4", "-o", "json").stdout)["items"]
    assert {e["addresses"][0] for s in slices for e in s["endpoints"] if e["conditions"]["ready"]} == ips

    answered: dict[str, int] = {}
    for i in range(40):
        status, body = curl(live_stack, "web4", node=f"node-{i % 3 + 1}")
        assert status == 200 and body["body"] == "Welcome to nginx!", body
        assert body["via"] == f"nodePort {node_port} on node-{i % 3 + 1}" and body["podIP"] in ips
        answered[body["pod"]] = answered.get(body["pod"], 0) + 1
    assert set(answered) == {p["metadata"]["name"] for p in pods}, answered

    # A pod goes: its address leaves the endpoints, its replacement's arrives once it is Ready.
    assert endpoint_pods(kubectl, "web4") == {(p["metadata"]["name"], p["status"]["podIP"]) for p in pods}
    victim = pods[0]["metadata"]["name"]
    kubectl("delete", "pod", victim)
    replacement = ready_pods(kubectl, "web4", 4)
    [newcomer] = [p for p in replacement if p["metadata"]["name"] not in answered]
    wanted = {(p["metadata"]["name"], p["status"]["podIP"]) for p in replacement}
    wait_until(lambda: endpoint_pods(kubectl, "web4") == wanted, 60, f"the endpoints to drop {victim} and list {newcomer['metadata']['name']}", interval=0.3)
    reached = {curl(live_stack, "web4")[1]["pod"] for _ in range(40)}
    assert victim not in reached and newcomer["metadata"]["name"] in reached

    described = kubectl("describe", "svc", "web4").stdout
    assert f"NodePort:                 <unset>  {node_port}/TCP" in described
    assert "Endpoints:" in described and "Selector:                 app=web4" in described
    assert "service/web4" in kubectl("get", "all").stdout

    status, rules = http(live_stack.url, "GET", f"{PODFLOW}/web4/proxy-rules?node=node-2")
    assert status == 200 and rules["node"] == "node-2"
    assert sum(1 for line in rules["lines"] if "DNAT --to-destination" in line) == 4
    assert any(line.startswith("-A KUBE-NODEPORTS") and f"--dport {node_port}" in line for line in rules["lines"])

    status, info = http(live_stack.url, "GET", f"{PODFLOW}/web4")
    assert info["dns"] == "web4.default.svc.cluster.local" and len(info["endpoints"]["ready"]) == 4

    # The Service goes, and its Endpoints and EndpointSlices with it.
    assert kubectl("delete", "svc", "web4").stdout.strip() == 'service "web4" deleted'
    wait_until(lambda: kubectl("get", "endpoints", "web4", check=False).returncode == 1, 30, "the endpoints of web4 to go", interval=0.3)
    wait_until(lambda: "No resources found" in kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=web4").stderr, 30, "the slices of web4 to go", interval=0.3)


def test_a_given_node_port_in_use_is_refused_and_a_service_with_no_ready_pod_answers_503(kubectl, live_stack):
    manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "fixed"},
        "spec": {"type": "NodePort", "selector": {"app": "nothing-here"}, "ports": [{"port": 80, "nodePort": 30080}]},
    }
    assert kubectl("apply", "-f", "-", input=json.dumps(manifest)).stdout.strip() == "service/fixed created"
    assert get(kubectl, "svc", "fixed")["spec"]["ports"][0]["nodePort"] == 30080

    clash = kubectl("create", "service", "nodeport", "clash", "--tcp=80:80", "--node-port=30080", check=False)
    assert clash.returncode == 1
    assert clash.stderr.strip() == 'error: failed to create NodePort service: Service "clash" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated'
    manifest["metadata"]["name"] = "clash"
    applied = kubectl("apply", "-f", "-", input=json.dumps(manifest), check=False)
    assert applied.returncode == 1
    assert applied.stderr.strip() == 'The Service "clash" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated'

    wait_until(lambda: kubectl("get", "endpoints", "fixed", check=False).returncode == 0, 30, "the endpoints of fixed")
    status, body = curl(live_stack, "fixed")
    assert status == 503 and "has no ready endpoints" in body["error"]


def test_a_load_balancer_gets_an_external_ip_and_an_external_name_service_its_alias(kubectl):
    kubectl("create", "deployment", "shop", "--image=httpd", "--replicas=1")
    assert kubectl("expose", "deployment", "shop", "--type=LoadBalancer", "--port=80").stdout.strip() == "service/shop exposed"

    def external_ip():
        line = kubectl("get", "svc", "shop").stdout.splitlines()[1].split()
        return line[3] if line[3].startswith("192.168.49.") else None

    assert external_ip() or wait_until(external_ip, 30, "the load balancer's address")
    assert "EnsuredLoadBalancer" in kubectl("describe", "svc", "shop").stdout

    kubectl("create", "service", "externalname", "docs", "--external-name=docs.example.com")
    line = kubectl("get", "svc", "docs").stdout.splitlines()[1].split()
    assert line[1:4] == ["ExternalName", "<none>", "docs.example.com"]


def test_configmaps_and_secrets_are_created_listed_and_read_back(kubectl):
    assert kubectl("create", "configmap", "app-config", "--from-literal=mode=fast", "--from-literal=level=3").stdout.strip() == "configmap/app-config created"
    assert kubectl("create", "secret", "generic", "db-pass", "--from-literal=password=s3cret").stdout.strip() == "secret/db-pass created"

    out = kubectl("get", "cm,secret").stdout
    lines = out.splitlines()
    assert any(line.split()[:2] == ["configmap/app-config", "2"] for line in lines), out
    assert any(line.split()[:3] == ["secret/db-pass", "Opaque", "1"] for line in lines), out
    assert kubectl("get", "configmaps").stdout.splitlines()[0].split() == ["NAME", "DATA", "AGE"]
    assert kubectl("get", "secrets").stdout.splitlines()[0].split() == ["NAME", "TYPE", "DATA", "AGE"]

    assert get(kubectl, "configmap", "app-config")["data"] == {"mode": "fast", "level": "3"}
    encoded = kubectl("get", "secret", "db-pass", "-o", "jsonpath={.data.password}").stdout
    assert base64.b64decode(encoded) == b"s3cret"

    bad = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad"}, "data": {"password": "not base64!"}}
    refused = kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert refused.returncode == 1 and "illegal base64 data at input byte 3" in refused.stderr


def test_the_python_client_reads_services_endpoints_slices_and_writes_config(kubectl):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(kubectl.kubeconfig))
    core, discovery = client.CoreV1Api(api), client.DiscoveryV1Api(api)
    core.create_namespaced_service("default", client.V1Service(
        metadata=client.V1ObjectMeta(name="pysvc"),
        spec=client.V1ServiceSpec(selector={"app": "pysvc"}, ports=[client.V1ServicePort(port=8080, target_port=80)]),
    ))
    created = core.read_namespaced_service("pysvc", "default")
    assert created.spec.cluster_ip.startswith("10.") and created.spec.ports[0].target_port == 80
    wait_until(lambda: discovery.list_namespaced_endpoint_slice("default", label_selector="kubernetes.io/service-name=pysvc").items, 30, "pysvc's slice")
    [es] = discovery.list_namespaced_endpoint_slice("default", label_selector="kubernetes.io/service-name=pysvc").items
    assert es.address_type == "IPv4" and es.endpoints == []
    assert core.read_namespaced_endpoints("pysvc", "default").subsets is None

    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="pycm"), data={"a": "1"}))
    core.create_namespaced_secret("default", client.V1Secret(metadata=client.V1ObjectMeta(name="pysecret"), string_data={"token": "abc"}))
    assert core.read_namespaced_config_map("pycm", "default").data == {"a": "1"}
    assert core.read_namespaced_secret("pysecret", "default").data == {"token": base64.b64encode(b"abc").decode()}
