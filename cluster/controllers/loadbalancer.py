"""The service controller: external IPs for LoadBalancer Services.

In a cloud the cloud-controller-manager's service controller asks the provider for a load
balancer and writes its address into `status.loadBalancer.ingress`; on bare metal MetalLB
does the same from a pool. podflow has no cloud: this controller hands out addresses
from a small pool beside the nodes' network, and the simulated load balancer sends what
reaches that address to a node port, as a cloud one does.
"""
from __future__ import annotations

import ipaddress

from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.componentbase import events
from cluster.models import Cluster, Object

POOL = ipaddress.ip_network("192.168.49.200/29")
COMPONENT = "service-controller"


def pool_addresses() -> list[str]:
    return [str(ip) for ip in POOL]


def _ingress_ips(doc: dict) -> list[str]:
    return [i.get("ip") for i in ((doc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [] if i.get("ip")]


def _is_load_balancer(doc: dict | None) -> bool:
    return bool(doc) and (doc.get("spec") or {}).get("type") == "LoadBalancer"


def _in_use(cluster: Cluster, except_uid: str) -> set[str]:
    used: set[str] = set()
    for doc in Object.objects.filter(cluster=cluster, kind="Service").exclude(uid=except_uid).values_list("doc", flat=True):
        if _is_load_balancer(doc):
            used.update(_ingress_ips(doc))
    return used


def _last_reason(cluster: Cluster, uid: str) -> str:
    reasons = events.reasons_for(cluster, uid)
    return reasons[-1] if reasons else ""


def reconcile(cluster: Cluster, namespace: str, name: str) -> None:
    """One pass for one Service; when it lets an address go, pending Services get their turn."""
    with store.locked(cluster):
        service = store.find(cluster, kinds.SERVICE, namespace, name)
        released = _sync(cluster, service)
        if service is None or released:
            for pending in pending_services(cluster):
                _sync(cluster, store.find(cluster, kinds.SERVICE, *pending))


def pending_services(cluster: Cluster) -> list[tuple[str, str]]:
    """LoadBalancer Services still waiting for an address, oldest first."""
    waiting = []
    for doc in Object.objects.filter(cluster=cluster, kind="Service").order_by("resource_version").values_list("doc", flat=True):
        if _is_load_balancer(doc) and not _ingress_ips(doc):
            waiting.append((doc["metadata"]["namespace"], doc["metadata"]["name"]))
    return waiting


def _sync(cluster: Cluster, service: dict | None) -> bool:
    """Converge one Service; returns whether it gave an address back."""
    if service is None:
        return False
    ns, name, uid = service["metadata"]["namespace"], service["metadata"]["name"], service["metadata"]["uid"]
    had = _ingress_ips(service)
    if not _is_load_balancer(service) or service["metadata"].get("deletionTimestamp"):
        if not had:
            return False
        store.mutate(cluster, kinds.SERVICE, ns, name, lambda d: d.setdefault("status", {}).__setitem__("loadBalancer", {}), by=store.SERVICE_CONTROLLER, expected_uid=uid)
        events.record(cluster, service, "DeletedLoadBalancer", "Deleted load balancer", by=store.SERVICE_CONTROLLER, component=COMPONENT)
        return True
    used = _in_use(cluster, uid)
    wanted = (service.get("spec") or {}).get("loadBalancerIP") or ""
    if had and all(ip not in used for ip in had) and (not wanted or had == [wanted]):
        return False  # converged
    if wanted:
        address = wanted if wanted in pool_addresses() and wanted not in used else None
        problem = f"requested IP {wanted} is not free in the pool {POOL}"
    else:
        address = next((ip for ip in pool_addresses() if ip not in used), None)
        problem = f"no free address in the pool {POOL}"
    if address is None:
        if _last_reason(cluster, uid) != "SyncLoadBalancerFailed":
            events.record(
                cluster, service, "SyncLoadBalancerFailed",
                f"Error syncing load balancer: failed to ensure load balancer: {problem}",
                by=store.SERVICE_CONTROLLER, component=COMPONENT, type_="Warning",
            )
        return False
    events.record(cluster, service, "EnsuringLoadBalancer", "Ensuring load balancer", by=store.SERVICE_CONTROLLER, component=COMPONENT)

    def apply(doc: dict) -> None:
        doc.setdefault("status", {})["loadBalancer"] = {"ingress": [{"ip": address, "ipMode": "VIP"}]}

    updated = store.mutate(cluster, kinds.SERVICE, ns, name, apply, by=store.SERVICE_CONTROLLER, expected_uid=uid)
    events.record(cluster, updated, "EnsuredLoadBalancer", "Ensured load balancer", by=store.SERVICE_CONTROLLER, component=COMPONENT)
    return False


def services_to_resync(cluster: Cluster) -> list[tuple[str, str]]:
    """Services whose address does not match their type yet: waiting ones, and ones that
    stopped being LoadBalancers but still hold an address."""
    found = []
    for doc in Object.objects.filter(cluster=cluster, kind="Service").values_list("doc", flat=True):
        if _is_load_balancer(doc) != bool(_ingress_ips(doc)):
            found.append((doc["metadata"]["namespace"], doc["metadata"]["name"]))
    return sorted(found)
