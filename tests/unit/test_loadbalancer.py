"""The service controller: an address from the pool for each LoadBalancer Service, one pass at a time."""
from __future__ import annotations

from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.componentbase import events
from cluster.controllers import loadbalancer

from .manifests import revision


def lb(name: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}], **spec}}


def ingress(cluster, name: str) -> list[dict]:
    return store.get(cluster, kinds.SERVICE, "default", name)["status"]["loadBalancer"].get("ingress", [])


def test_it_gives_a_load_balancer_the_first_free_address_of_the_pool(cluster):
    svc = store.create(cluster, lb("shop"))

    loadbalancer.reconcile(cluster, "default", "shop")

    assert ingress(cluster, "shop") == [{"ip": "192.168.49.200", "ipMode": "VIP"}]
    assert events.reasons_for(cluster, svc["metadata"]["uid"]) == ["EnsuringLoadBalancer", "EnsuredLoadBalancer"]


def test_it_does_nothing_when_converged(cluster):
    store.create(cluster, lb("shop"))
    loadbalancer.reconcile(cluster, "default", "shop")
    before = revision(cluster)

    loadbalancer.reconcile(cluster, "default", "shop")

    assert revision(cluster) == before


def test_a_requested_address_is_given_when_it_is_free(cluster):
    store.create(cluster, lb("shop", loadBalancerIP="192.168.49.203"))

    loadbalancer.reconcile(cluster, "default", "shop")

    assert ingress(cluster, "shop")[0]["ip"] == "192.168.49.203"


def test_when_the_pool_is_empty_it_waits_and_says_why_once(cluster):
    for i in range(8):
        store.create(cluster, lb(f"lb{i}"))
        loadbalancer.reconcile(cluster, "default", f"lb{i}")
    late = store.create(cluster, lb("late"))

    loadbalancer.reconcile(cluster, "default", "late")
    loadbalancer.reconcile(cluster, "default", "late")

    assert ingress(cluster, "late") == []
    assert events.reasons_for(cluster, late["metadata"]["uid"]) == ["SyncLoadBalancerFailed"]
    assert loadbalancer.services_to_resync(cluster) == [("default", "late")]

    store.remove(cluster, kinds.SERVICE, "default", "lb3", by=store.API)
    loadbalancer.reconcile(cluster, "default", "lb3")

    assert ingress(cluster, "late") == [{"ip": "192.168.49.203", "ipMode": "VIP"}]


def test_a_service_that_stops_being_a_load_balancer_gives_its_address_back(cluster):
    store.create(cluster, lb("shop"))
    loadbalancer.reconcile(cluster, "default", "shop")

    store.mutate(cluster, kinds.SERVICE, "default", "shop", lambda d: d["spec"].update(type="NodePort"), by=store.API, validate=True)
    loadbalancer.reconcile(cluster, "default", "shop")

    assert store.get(cluster, kinds.SERVICE, "default", "shop")["status"] == {"loadBalancer": {}}
