"""Services at the API server: validation, defaults, cluster IP and node port allocation, updates, printing."""
from __future__ import annotations

import ipaddress
import json

import pytest
from django.test import Client

from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.apiserver.registry import services
from cluster.apiserver.serializers import tables

from .manifests import counts

SERVICES = "/k8s/test/api/v1/namespaces/default/services"


def service(name: str = "web", type_: str = "ClusterIP", *, ports: list[dict] | None = None, **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": type_, "selector": {"app": name}, "ports": [{"port": 80}] if ports is None else ports, **spec},
    }


def refused(cluster, doc: dict) -> list[tuple[str, str]]:
    before = counts(cluster)
    with pytest.raises(APIError) as caught:
        store.create(cluster, doc)
    assert caught.value.code == 422
    assert counts(cluster) == before
    return [(c.field, c.message) for c in caught.value.causes]


@pytest.fixture
def api(cluster) -> Client:
    return Client(HTTP_USER_AGENT="kubectl/v1.32.4 (linux/amd64) kubernetes/abc", HTTP_AUTHORIZATION=f"Bearer {cluster.token}")


# --- defaults and validation -----------------------------------------------------------------

def test_it_defaults_a_service_as_kubernetes_does(cluster):
    created = store.create(cluster, service())

    spec = created["spec"]
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert (spec["type"], spec["sessionAffinity"], spec["internalTrafficPolicy"]) == ("ClusterIP", "None", "Cluster")
    assert (spec["ipFamilies"], spec["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert created["status"] == {"loadBalancer": {}}


def test_a_node_port_service_defaults_its_external_traffic_policy_and_a_load_balancer_its_node_ports(cluster):
    assert store.create(cluster, service("np", "NodePort"))["spec"]["externalTrafficPolicy"] == "Cluster"
    lb = store.create(cluster, service("lb", "LoadBalancer"))["spec"]
    assert (lb["externalTrafficPolicy"], lb["allocateLoadBalancerNodePorts"]) == ("Cluster", True)
    assert services.NODE_PORT_MIN <= lb["ports"][0]["nodePort"] <= services.NODE_PORT_MAX


def test_a_service_name_must_be_a_dns_1035_label(cluster):
    [(field, message)] = refused(cluster, service("1web"))

    assert field == "metadata.name"
    assert message.startswith('Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters')


def test_it_refuses_bad_ports_protocols_and_types_with_kubernetes_words(cluster):
    causes = refused(cluster, service(ports=[
        {"name": "a", "port": 0},
        {"name": "b", "port": 80, "protocol": "HTTP"},
        {"name": "c", "port": 81, "targetPort": 70000},
        {"name": "d", "port": 82, "targetPort": "Has_Upper"},
        {"port": 83},
    ]))

    assert ("spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive") in causes
    assert ("spec.ports[1].protocol", 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"') in causes
    assert ("spec.ports[2].targetPort", "Invalid value: 70000: must be between 1 and 65535, inclusive") in causes
    assert ("spec.ports[3].targetPort", 'Invalid value: "Has_Upper": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)') in causes
    assert ("spec.ports[4].name", "Required value") in causes
    assert refused(cluster, service(type_="Cluster")) == [("spec.type", 'Unsupported value: "Cluster": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')]


def test_a_named_target_port_is_accepted(cluster):
    created = store.create(cluster, service(ports=[{"name": "http", "port": 80, "targetPort": "web"}]))

    assert created["spec"]["ports"][0]["targetPort"] == "web"


def test_ports_are_required_except_for_external_name_and_headless_services(cluster):
    assert refused(cluster, service(ports=[])) == [("spec.ports", "Required value")]
    store.create(cluster, service("headless", ports=[], clusterIP="None"))
    store.create(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}})


def test_a_cluster_ip_service_may_not_name_a_node_port(cluster):
    assert refused(cluster, service(ports=[{"port": 80, "nodePort": 30080}])) == [("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'")]


def test_an_external_name_service_needs_a_dns_name_and_gets_no_cluster_ip(cluster):
    assert refused(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}, "spec": {"type": "ExternalName"}}) == [("spec.externalName", "Required value")]
    created = store.create(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}})
    assert "clusterIP" not in created["spec"] and "clusterIPs" not in created["spec"]


def test_duplicate_ports_are_refused(cluster):
    causes = refused(cluster, service(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 80}]))

    assert causes == [("spec.ports[1]", 'Duplicate value: {"port": 80, "protocol": "TCP"}')]


# --- cluster IPs ----------------------------------------------------------------------------

def test_each_service_gets_its_own_cluster_ip_from_the_service_cidr(cluster):
    ips = [store.create(cluster, service(f"s{i}"))["spec"]["clusterIP"] for i in range(40)]

    assert len(set(ips)) == 40
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12") for ip in ips)


def test_a_given_cluster_ip_is_kept_and_one_in_use_is_refused(cluster):
    assert store.create(cluster, service("dns", clusterIP="10.96.0.10"))["spec"]["clusterIPs"] == ["10.96.0.10"]

    assert refused(cluster, service("other", clusterIP="10.96.0.10")) == [
        ("spec.clusterIPs", 'Invalid value: ["10.96.0.10"]: failed to allocate IP 10.96.0.10: provided IP is already allocated')
    ]
    assert refused(cluster, service("outside", clusterIP="192.168.1.1")) == [
        ("spec.clusterIPs", 'Invalid value: ["192.168.1.1"]: failed to allocate IP 192.168.1.1: the provided IP (192.168.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12')
    ]


def test_a_cluster_ip_is_free_again_once_its_service_is_deleted(cluster):
    store.create(cluster, service("dns", clusterIP="10.96.0.10"))
    store.remove(cluster, kinds.SERVICE, "default", "dns", by=store.API)

    assert store.create(cluster, service("dns2", clusterIP="10.96.0.10"))["spec"]["clusterIP"] == "10.96.0.10"


def test_allocation_never_hands_out_an_address_in_use(cluster, monkeypatch):
    taken = store.create(cluster, service("first"))["spec"]["clusterIP"]
    # Make the random start land on the address in use: the allocator must move past it.
    offset = int(ipaddress.ip_address(taken)) - int(ipaddress.ip_address("10.96.0.1"))
    monkeypatch.setattr(services._rng, "randrange", lambda low, high: offset)

    assert store.create(cluster, service("second"))["spec"]["clusterIP"] != taken


def test_a_headless_service_has_no_cluster_ip(cluster):
    spec = store.create(cluster, service(clusterIP="None"))["spec"]

    assert (spec["clusterIP"], spec["clusterIPs"]) == ("None", ["None"])


# --- node ports ---------------------------------------------------------------------------------

def test_a_node_port_service_gets_a_node_port_in_range_for_each_port(cluster):
    spec = store.create(cluster, service(type_="NodePort", ports=[{"name": "http", "port": 80}, {"name": "https", "port": 443}]))["spec"]

    node_ports = [p["nodePort"] for p in spec["ports"]]
    assert len(set(node_ports)) == 2
    assert all(30000 <= n <= 32767 for n in node_ports)


def test_a_given_node_port_is_kept_and_one_in_use_is_refused_with_kubernetes_message(cluster, api):
    assert store.create(cluster, service("web", "NodePort", ports=[{"port": 80, "nodePort": 30080}]))["spec"]["ports"][0]["nodePort"] == 30080

    response = api.post(SERVICES, data=json.dumps(service("web2", "NodePort", ports=[{"port": 80, "nodePort": 30080}])), content_type="application/json")

    assert response.status_code == 422
    body = response.json()
    assert body["message"] == 'Service "web2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated'
    assert body["details"]["causes"] == [{"reason": "FieldValueInvalid", "message": "Invalid value: 30080: provided port is already allocated", "field": "spec.ports[0].nodePort"}]


def test_a_node_port_outside_the_range_is_refused(cluster):
    assert refused(cluster, service(type_="NodePort", ports=[{"port": 80, "nodePort": 8080}])) == [
        ("spec.ports[0].nodePort", "Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767")
    ]


def test_chosen_node_ports_avoid_those_in_use(cluster, monkeypatch):
    store.create(cluster, service("web", "NodePort", ports=[{"port": 80, "nodePort": 31000}]))
    monkeypatch.setattr(services._rng, "randrange", lambda low, high: 31000 - 30000)

    assert store.create(cluster, service("web2", "NodePort"))["spec"]["ports"][0]["nodePort"] == 31001


def test_tcp_and_udp_on_one_port_share_a_node_port(cluster):
    spec = store.create(cluster, service(type_="NodePort", ports=[{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]))["spec"]

    assert spec["ports"][0]["nodePort"] == spec["ports"][1]["nodePort"]


# --- updates ------------------------------------------------------------------------------------

def put(cluster, doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    doc["metadata"]["namespace"] = "default"
    return store.update(cluster, doc)


def test_an_update_that_leaves_out_the_cluster_ip_and_node_port_keeps_them(cluster):
    created = store.create(cluster, service(type_="NodePort"))

    updated = put(cluster, service(type_="NodePort", ports=[{"port": 80, "targetPort": 8080}]))

    assert updated["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert updated["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "nodePort": created["spec"]["ports"][0]["nodePort"], "protocol": "TCP"}]


def test_the_cluster_ip_cannot_change(cluster):
    store.create(cluster, service(clusterIP="10.96.0.50"))

    with pytest.raises(APIError) as caught:
        put(cluster, service(clusterIP="10.96.0.51"))

    assert [(c.field, c.message) for c in caught.value.causes] == [("spec.clusterIPs[0]", 'Invalid value: "10.96.0.51": may not change once set')]


def test_turning_a_node_port_service_into_cluster_ip_drops_its_node_ports(cluster):
    created = store.create(cluster, service(type_="NodePort"))
    node_port = created["spec"]["ports"][0]["nodePort"]
    current = store.get(cluster, kinds.SERVICE, "default", "web")
    current["spec"]["type"] = "ClusterIP"

    updated = store.update(cluster, current)

    assert "nodePort" not in updated["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in updated["spec"]
    # ...and the port is free for another Service.
    assert store.create(cluster, service("other", "NodePort", ports=[{"port": 80, "nodePort": node_port}]))["spec"]["ports"][0]["nodePort"] == node_port


def test_turning_a_cluster_ip_service_into_node_port_allocates_one(cluster):
    store.create(cluster, service())
    current = store.get(cluster, kinds.SERVICE, "default", "web")
    current["spec"]["type"] = "NodePort"

    assert 30000 <= store.update(cluster, current)["spec"]["ports"][0]["nodePort"] <= 32767


def test_an_update_may_not_take_a_node_port_another_service_holds(cluster):
    store.create(cluster, service("a", "NodePort", ports=[{"port": 80, "nodePort": 30500}]))
    store.create(cluster, service("b", "NodePort"))
    current = store.get(cluster, kinds.SERVICE, "default", "b")
    current["spec"]["ports"][0]["nodePort"] = 30500

    with pytest.raises(APIError) as caught:
        store.update(cluster, current)

    assert caught.value.causes[0].message == "Invalid value: 30500: provided port is already allocated"


def test_re_sending_the_service_as_stored_writes_nothing(cluster):
    store.create(cluster, service(type_="NodePort"))
    before = counts(cluster)

    store.update(cluster, store.get(cluster, kinds.SERVICE, "default", "web"))

    assert counts(cluster) == before


# --- the API and printing -----------------------------------------------------------------------

def test_the_api_creates_a_service_and_prints_it_with_kubectls_columns(cluster, api):
    response = api.post(SERVICES, data=json.dumps(service("web", "NodePort", ports=[{"port": 80, "nodePort": 30080}])), content_type="application/json")
    assert response.status_code == 201
    cluster_ip = response.json()["spec"]["clusterIP"]

    table = api.get(SERVICES, HTTP_ACCEPT="application/json;as=Table;v=v1;g=meta.k8s.io").json()

    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert table["rows"][0]["cells"][:5] == ["web", "NodePort", cluster_ip, "<none>", "80:30080/TCP"]
    assert table["rows"][0]["cells"][6] == "app=web"


def test_the_external_ip_column_follows_the_type(cluster):
    lb = store.create(cluster, service("lb", "LoadBalancer", ports=[{"port": 80, "nodePort": 30001}]))
    assert tables.service_row(lb)[3:5] == ["<pending>", "80:30001/TCP"]
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "192.168.49.200"}]}}
    assert tables.service_row(lb)[3] == "192.168.49.200"
    external = store.create(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}})
    assert tables.service_row(external)[1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]


def test_endpoints_print_the_first_three_ready_addresses_and_a_count():
    ep = {"metadata": {"name": "web"}, "subsets": [{"addresses": [{"ip": f"10.244.1.{i}"} for i in range(2, 6)], "notReadyAddresses": [{"ip": "10.244.2.9"}], "ports": [{"port": 80}]}]}

    assert tables.endpoints_list(ep) == "10.244.1.2:80,10.244.1.3:80,10.244.1.4:80 + 1 more..."
    assert tables.endpoints_list({"metadata": {"name": "web"}}) == "<none>"


def test_the_dns_name_is_the_service_namespace_svc_cluster_local():
    assert services.dns_name("shop", "web") == "web.shop.svc.cluster.local"
