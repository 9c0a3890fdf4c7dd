"""kube-proxy, simulated: the rules it would write and the pod a request reaches."""
from __future__ import annotations

import random
from collections import Counter

from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.controllers import endpoints
from cluster.proxy import kubeproxy

from .test_endpoints import running


def node_port_service(cluster, name: str = "web", *, node_port: int = 30080, target_port=80, **spec) -> dict:
    store.create(cluster, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [{"port": 80, "targetPort": target_port, "nodePort": node_port}], **spec},
    })
    return store.get(cluster, kinds.SERVICE, "default", name)


def four_pods(cluster, ready=(True, True, True, False)) -> list[str]:
    names = []
    for i, is_ready in enumerate(ready):
        running(cluster, f"web-{i}", f"10.244.{i % 3 + 1}.{10 + i}", node=f"node-{i % 3 + 1}", ready=is_ready)
        names.append(f"web-{i}")
    endpoints.reconcile(cluster, "default", "web")
    return names


def test_requests_spread_over_every_ready_pod_and_never_reach_a_not_ready_one(cluster):
    svc = node_port_service(cluster)
    four_pods(cluster)
    rng = random.Random(42)

    answered = Counter(kubeproxy.request(cluster, svc, rng=rng).body["pod"] for _ in range(600))

    assert set(answered) == {"web-0", "web-1", "web-2"}
    # Equal chances (1/3 each): far from 0 or 600 with this many requests.
    assert all(150 <= n <= 250 for n in answered.values()), answered


def test_the_chain_walk_picks_each_endpoint_with_equal_probability():
    eps = [kubeproxy.Endpoint(f"10.0.0.{i}", 80, "n", f"p{i}", str(i), True, True, False) for i in range(4)]
    rng = random.Random(7)

    counts = Counter(kubeproxy.pick(eps, rng).pod for _ in range(8000))

    assert all(1800 <= counts[f"p{i}"] <= 2200 for i in range(4)), counts


def test_a_request_says_how_it_came_in_and_which_pod_answered(cluster):
    svc = node_port_service(cluster)
    four_pods(cluster, ready=(True,))

    answer = kubeproxy.request(cluster, svc, node="node-2", rng=random.Random(1))

    assert answer.status == 200
    assert answer.body == {
        "service": "web",
        "namespace": "default",
        "dns": "web.default.svc.cluster.local",
        "via": "nodePort 30080 on node-2",
        "url": "http://192.168.49.3:30080/",
        "pod": "web-0",
        "podIP": "10.244.1.10",
        "targetPort": 80,
        "node": "node-1",
        "entryNode": "node-2",
        "chain": ["KUBE-NODEPORTS", kubeproxy.svc_chain(svc, svc["spec"]["ports"][0]), kubeproxy.sep_chain(svc, svc["spec"]["ports"][0], "10.244.1.10:80")],
        "choice": "iptables mode: one of 1 ready endpoint(s) at random, each equally likely",
        "status": 200,
        "body": "Welcome to nginx!",
    }
    by_cluster_ip = kubeproxy.request(cluster, svc, via="clusterIP", rng=random.Random(1)).body
    assert by_cluster_ip["via"] == f"clusterIP {svc['spec']['clusterIP']}:80"


def test_an_image_podflow_does_not_know_answers_with_a_line_naming_the_pod(cluster):
    svc = node_port_service(cluster)
    store.create(cluster, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "ghcr.io/acme/api:2"}]}})
    store.mutate(cluster, kinds.POD, "default", "api", lambda d: (d["spec"].update(nodeName="node-1"), d["status"].update(podIP="10.244.1.20"), d["status"].update(conditions=[{"type": "Ready", "status": "True"}])), by=store.KUBELET)
    endpoints.reconcile(cluster, "default", "web")

    assert kubeproxy.request(cluster, svc).body["body"] == "Hello from api (ghcr.io/acme/api:2)"


def test_a_target_port_the_image_does_not_listen_on_is_refused(cluster):
    svc = node_port_service(cluster, target_port=8080)
    four_pods(cluster, ready=(True,))

    answer = kubeproxy.request(cluster, svc)

    assert answer.status == 502
    assert answer.body["body"] == "connection refused: nginx in pod web-0 listens on port 80, not 8080 (check the Service's targetPort)"


def test_no_ready_endpoint_answers_503_with_the_reason(cluster):
    svc = node_port_service(cluster)
    four_pods(cluster, ready=(False, False))

    answer = kubeproxy.request(cluster, svc)

    assert answer.status == 503
    assert answer.body["error"].startswith("Service web has no ready endpoints: no pod it selects is Ready")
    assert "pod" not in answer.body


def test_terminating_pods_still_serving_take_traffic_only_when_no_pod_is_ready(cluster):
    svc = node_port_service(cluster)
    four_pods(cluster, ready=(True, True))
    store.mark_deleted(cluster, kinds.POD, "default", "web-0", by=store.API, grace_seconds=30)
    endpoints.reconcile(cluster, "default", "web")
    assert {kubeproxy.request(cluster, svc).body["pod"] for _ in range(50)} == {"web-1"}

    store.mark_deleted(cluster, kinds.POD, "default", "web-1", by=store.API, grace_seconds=30)
    endpoints.reconcile(cluster, "default", "web")

    assert {kubeproxy.request(cluster, svc).body["pod"] for _ in range(50)} == {"web-0", "web-1"}


def test_external_traffic_policy_local_keeps_node_port_traffic_on_its_node(cluster):
    svc = node_port_service(cluster, externalTrafficPolicy="Local")
    four_pods(cluster, ready=(True, True))  # web-0 on node-1, web-1 on node-2

    assert {kubeproxy.request(cluster, svc, node="node-2").body["pod"] for _ in range(30)} == {"web-1"}
    assert kubeproxy.request(cluster, svc, node="node-3").status == 503


def test_client_ip_affinity_keeps_a_client_on_one_pod(cluster):
    svc = node_port_service(cluster, sessionAffinity="ClientIP")
    four_pods(cluster, ready=(True, True, True))

    assert len({kubeproxy.request(cluster, svc, client="10.0.0.7").body["pod"] for _ in range(30)}) == 1


def test_an_external_name_service_is_not_proxied(cluster):
    svc = store.create(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}})

    answer = kubeproxy.request(cluster, svc)

    assert answer.status == 400 and "alias (CNAME) of db.example.com" in answer.body["error"]


# --- rules ----------------------------------------------------------------------------------

def test_the_rules_jump_from_kube_services_to_the_service_chain_and_split_it_by_probability(cluster):
    svc = node_port_service(cluster)
    four_pods(cluster, ready=(True, True, True, True))
    port = svc["spec"]["ports"][0]
    svc_chain, ext_chain = kubeproxy.svc_chain(svc, port), kubeproxy.svc_chain(svc, port, "KUBE-EXT-")
    ips = ["10.244.1.10", "10.244.1.13", "10.244.2.11", "10.244.3.12"]
    seps = [kubeproxy.sep_chain(svc, port, f"{ip}:80") for ip in ips]

    lines = kubeproxy.rules(cluster, svc, node="node-1")

    cluster_ip = svc["spec"]["clusterIP"]
    assert lines[0] == "# kube-proxy (iptables mode) on node-1: the rules for Service default/web, from its EndpointSlices"
    assert "*filter" not in lines
    assert f'-A KUBE-SERVICES -d {cluster_ip}/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport 80 -j {svc_chain}' in lines
    assert f'-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web" -m tcp --dport 30080 -j {ext_chain}' in lines
    assert f"-A {ext_chain} -j {svc_chain}" in lines
    balance = [line for line in lines if line.startswith(f"-A {svc_chain} -m comment")]
    assert balance == [
        f'-A {svc_chain} -m comment --comment "default/web -> {ips[0]}:80" -m statistic --mode random --probability 0.2500000000 -j {seps[0]}',
        f'-A {svc_chain} -m comment --comment "default/web -> {ips[1]}:80" -m statistic --mode random --probability 0.3333333333 -j {seps[1]}',
        f'-A {svc_chain} -m comment --comment "default/web -> {ips[2]}:80" -m statistic --mode random --probability 0.5000000000 -j {seps[2]}',
        f'-A {svc_chain} -m comment --comment "default/web -> {ips[3]}:80" -j {seps[3]}',
    ]
    for ip, sep in zip(ips, seps):
        assert f'-A {sep} -p tcp -m comment --comment "default/web" -m tcp -j DNAT --to-destination {ip}:80' in lines
    assert lines[-1] == "COMMIT"


def test_chain_names_are_kube_proxys_hashes(cluster):
    svc = node_port_service(cluster)
    # base32(sha256("default/web" + "tcp"))[:16], as kube-proxy's portProtoHash.
    import base64
    import hashlib

    expected = "KUBE-SVC-" + base64.b32encode(hashlib.sha256(b"default/webtcp").digest()).decode()[:16]
    assert kubeproxy.svc_chain(svc, svc["spec"]["ports"][0]) == expected


def test_a_service_without_ready_endpoints_is_rejected_in_the_filter_table(cluster):
    svc = node_port_service(cluster)
    four_pods(cluster, ready=(False,))

    lines = kubeproxy.rules(cluster, svc, node="node-1")

    assert lines[1] == "*filter"
    assert f'-A KUBE-SERVICES -d {svc["spec"]["clusterIP"]}/32 -p tcp -m comment --comment "default/web has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable' in lines
    assert '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/web has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable' in lines
    assert not any("KUBE-SEP-" in line for line in lines)


def test_a_load_balancer_request_enters_through_a_nodes_node_port(cluster):
    store.create(cluster, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "nodePort": 30090}]},
    })
    store.mutate(cluster, kinds.SERVICE, "default", "web", lambda d: d["status"].update(loadBalancer={"ingress": [{"ip": "192.168.49.200"}]}), by=store.SERVICE_CONTROLLER)
    svc = store.get(cluster, kinds.SERVICE, "default", "web")
    four_pods(cluster, ready=(True,))

    answer = kubeproxy.request(cluster, svc, via="loadBalancer", node="node-3")

    assert answer.body["via"] == "loadBalancer 192.168.49.200:80 → nodePort 30090 on node-3"
    assert (answer.status, answer.body["pod"], answer.body["url"]) == (200, "web-0", "http://192.168.49.200:80/")
