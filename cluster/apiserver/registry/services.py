"""The Service registry's strategy: what the API server itself does to a Service on write.

As kube-apiserver: a ClusterIP from the service CIDR is allocated on create and never
changes; NodePort and LoadBalancer services get a node port per port from 30000-32767
(chosen, or given and checked); an update that leaves an allocated value out keeps it; a
type change drops the fields the new type does not use. Nothing here is given to a
controller: these run inside the API server's write, under the cluster's lock, so two
Services can never be given the same IP or node port.
"""
from __future__ import annotations

import ipaddress
import json
import random

from cluster.apimachinery.errors import Cause, invalid
from cluster.models import Cluster, Object

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORT_MIN, NODE_PORT_MAX = 30000, 32767
CLUSTER_DOMAIN = "cluster.local"

# Kubernetes splits both ranges (KEP-3070, KEP-3668): the low band is kept for values users
# give; allocation picks at random from the rest first, and falls back to the low band.
_IP_SIZE = SERVICE_CIDR.num_addresses - 2  # no network or broadcast address
_IP_STATIC = min(max(16, _IP_SIZE // 16), 256)
_PORT_SIZE = NODE_PORT_MAX - NODE_PORT_MIN + 1
_PORT_STATIC = min(max(16, _PORT_SIZE // 16), 128)

_rng = random.SystemRandom()


def dns_name(namespace: str, name: str) -> str:
    """The name CoreDNS answers for a Service: <name>.<namespace>.svc.cluster.local."""
    return f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}"


def needs_cluster_ip(doc: dict | None) -> bool:
    return bool(doc) and (doc.get("spec") or {}).get("type", "ClusterIP") != "ExternalName"


def needs_node_ports(doc: dict | None) -> bool:
    spec = (doc or {}).get("spec") or {}
    type_ = spec.get("type", "ClusterIP")
    return type_ == "NodePort" or (type_ == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False)


def needs_health_check_port(doc: dict | None) -> bool:
    spec = (doc or {}).get("spec") or {}
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _ports(doc: dict | None) -> list[dict]:
    ports = ((doc or {}).get("spec") or {}).get("ports")
    return [p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else []


def _name(port: dict) -> str:
    name = port.get("name", "")
    return name if isinstance(name, str) else ""


def _node_port(port: dict) -> int | None:
    value = port.get("nodePort")
    return value if isinstance(value, int) and not isinstance(value, bool) and value else None


# --- update: keep what was allocated, drop what the new type does not use -------------------

def prepare_update(old: dict, new: dict) -> None:
    """patchAllocatedValues and dropTypeDependentFields of Kubernetes' service strategy."""
    if new.get("kind") != "Service" or not isinstance(new.get("spec"), dict):
        return
    old_spec, spec = old.get("spec") or {}, new["spec"]
    if needs_cluster_ip(old) and needs_cluster_ip(new):
        if not spec.get("clusterIP") and not spec.get("clusterIPs"):
            for key in ("clusterIP", "clusterIPs"):
                if key in old_spec:
                    spec[key] = old_spec[key]
        for key in ("ipFamilies", "ipFamilyPolicy"):
            if key not in spec and key in old_spec:
                spec[key] = old_spec[key]
    if needs_node_ports(old) and needs_node_ports(new):
        old_by_name = {_name(p): _node_port(p) for p in _ports(old)}
        used = {_node_port(p) for p in _ports(new) if _node_port(p)}
        for port in _ports(new):
            if not port.get("nodePort"):
                known = old_by_name.get(_name(port))
                if known and known not in used:
                    port["nodePort"] = known
                    used.add(known)
    if needs_health_check_port(old) and needs_health_check_port(new) and not spec.get("healthCheckNodePort"):
        if old_spec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
    # The new type does not use a field the old one did: drop it, if the write left it as it was.
    if needs_cluster_ip(old) and not needs_cluster_ip(new):
        if spec.get("clusterIP") in (None, old_spec.get("clusterIP")) and spec.get("clusterIPs") in (None, old_spec.get("clusterIPs")):
            for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"):
                spec.pop(key, None)
    if needs_node_ports(old) and not needs_node_ports(new):
        old_by_name = {_name(p): _node_port(p) for p in _ports(old)}
        for port in _ports(new):
            if _node_port(port) and _node_port(port) == old_by_name.get(_name(port)):
                del port["nodePort"]
    if not needs_health_check_port(new) and spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort"):
        spec.pop("healthCheckNodePort", None)
    if spec.get("type") not in ("NodePort", "LoadBalancer") and spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy"):
        spec.pop("externalTrafficPolicy", None)
    if spec.get("type") != "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") == old_spec.get("allocateLoadBalancerNodePorts"):
            spec.pop("allocateLoadBalancerNodePorts", None)
        if spec.get("loadBalancerIP") == old_spec.get("loadBalancerIP"):
            spec.pop("loadBalancerIP", None)
    if spec.get("type") != "ExternalName" and spec.get("externalName") == old_spec.get("externalName"):
        spec.pop("externalName", None)


# --- allocation -----------------------------------------------------------------------------

def _others(cluster: Cluster, uid: str | None) -> list[dict]:
    rows = Object.objects.filter(cluster=cluster, kind="Service")
    if uid:
        rows = rows.exclude(uid=uid)
    return list(rows.values_list("doc", flat=True))


def _ips_in_use(others: list[dict]) -> set[str]:
    used: set[str] = set()
    for doc in others:
        spec = doc.get("spec") or {}
        used.update(ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None")
    return used


def _node_ports_in_use(others: list[dict]) -> set[int]:
    used: set[int] = set()
    for doc in others:
        used.update(p["nodePort"] for p in _ports(doc) if p.get("nodePort"))
        if (doc.get("spec") or {}).get("healthCheckNodePort"):
            used.add(doc["spec"]["healthCheckNodePort"])
    return used


def _pick(size: int, static: int, taken) -> int | None:
    """A free offset in [0, size): random in the upper band, then the lower one, as Kubernetes."""
    for low, high in ((static, size), (0, static)):
        if high <= low:
            continue
        start = _rng.randrange(low, high)
        for step in range(high - low):
            offset = low + (start - low + step) % (high - low)
            if not taken(offset):
                return offset
    return None


def allocate_cluster_ip(used: set[str]) -> str | None:
    base = int(SERVICE_CIDR.network_address) + 1
    offset = _pick(_IP_SIZE, _IP_STATIC, lambda o: str(ipaddress.ip_address(base + o)) in used)
    return None if offset is None else str(ipaddress.ip_address(base + offset))


def allocate_node_port(used: set[int]) -> int | None:
    offset = _pick(_PORT_SIZE, _PORT_STATIC, lambda o: NODE_PORT_MIN + o in used)
    return None if offset is None else NODE_PORT_MIN + offset


def allocate(cluster: Cluster, doc: dict, old: dict | None = None) -> None:
    """Give a Service its cluster IP and node ports, or refuse with 422 (nothing is written).

    On create `old` is None; on update it is the stored Service, whose own values are not
    "in use" by someone else.
    """
    if doc.get("kind") != "Service":
        return
    spec = doc["spec"]
    name = doc["metadata"].get("name", "")
    others = _others(cluster, (old or {}).get("metadata", {}).get("uid"))
    if old is None:
        doc["status"] = {"loadBalancer": {}}  # a new Service has no load balancer yet, whatever was sent
    causes: list[Cause] = []
    if needs_cluster_ip(doc):
        causes += _allocate_cluster_ip(spec, old, others)
    if needs_node_ports(doc) or needs_health_check_port(doc):
        causes += _allocate_node_ports(doc, others)
    if causes:
        raise invalid("Service", "", name, causes)


def _allocate_cluster_ip(spec: dict, old: dict | None, others: list[dict]) -> list[Cause]:
    ips = spec.get("clusterIPs") or []
    ip = spec.get("clusterIP") or (ips[0] if ips else "")
    if ips and spec.get("clusterIP") and ips[0] != spec["clusterIP"]:
        return [Cause("spec.clusterIPs[0]", f"Invalid value: {json.dumps(ips[0])}: must match `clusterIP` when both are specified")]
    old_spec = (old or {}).get("spec") or {}
    if needs_cluster_ip(old) and old_spec.get("clusterIP"):
        if ip != old_spec["clusterIP"]:
            return [Cause("spec.clusterIPs[0]", f"Invalid value: {json.dumps(ip)}: may not change once set")]
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        _families(spec, ip)
        return []
    if ip == "None":
        spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
        _families(spec, ip)
        return []
    used = _ips_in_use(others)
    if not ip:
        ip = allocate_cluster_ip(used)
        if ip is None:
            return [Cause("spec.clusterIPs", f"Internal error: failed to allocate a serviceIP: range is full ({SERVICE_CIDR})", "InternalError")]
    else:
        shown = json.dumps([ip])
        if ipaddress.ip_address(ip) not in SERVICE_CIDR or ipaddress.ip_address(ip) in (SERVICE_CIDR.network_address, SERVICE_CIDR.broadcast_address):
            return [Cause("spec.clusterIPs", f"Invalid value: {shown}: failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {SERVICE_CIDR}")]
        if ip in used:
            return [Cause("spec.clusterIPs", f"Invalid value: {shown}: failed to allocate IP {ip}: provided IP is already allocated")]
    spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
    _families(spec, ip)
    return []


def _families(spec: dict, ip: str) -> None:
    spec.setdefault("ipFamilies", ["IPv6"] if ":" in ip else ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")


def _allocate_node_ports(doc: dict, others: list[dict]) -> list[Cause]:
    spec = doc["spec"]
    used = _node_ports_in_use(others)
    causes: list[Cause] = []
    wanted: list[tuple[str, dict | None, str]] = []
    if needs_node_ports(doc):
        wanted += [(f"spec.ports[{i}].nodePort", port, "nodePort") for i, port in enumerate(_ports(doc))]
    if needs_health_check_port(doc):
        wanted.append(("spec.healthCheckNodePort", None, "healthCheckNodePort"))
    mine: set[int] = set()
    for field, holder, key in wanted:
        target = holder if holder is not None else spec
        given = target.get(key)
        if given:
            if not NODE_PORT_MIN <= given <= NODE_PORT_MAX:
                causes.append(Cause(field, f"Invalid value: {given}: provided port is not in the valid range. The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}"))
            elif given in used:
                causes.append(Cause(field, f"Invalid value: {given}: provided port is already allocated"))
            elif key == "healthCheckNodePort" and given in mine:
                causes.append(Cause(field, f"Invalid value: {given}: provided port is already allocated"))
            mine.add(given)
    if causes:
        return causes
    for field, holder, key in wanted:
        target = holder if holder is not None else spec
        if target.get(key):
            continue
        # A port number served over two protocols may share one node port, as Kubernetes allows.
        same = next((p.get("nodePort") for p in _ports(doc) if holder is not None and p is not holder and p.get("nodePort") and p.get("port") == holder.get("port") and p.get("protocol") != holder.get("protocol")), None)
        port = same or allocate_node_port(used | mine)
        if port is None:
            return [Cause(field, f"Internal error: failed to allocate a nodePort: range is full ({NODE_PORT_MIN}-{NODE_PORT_MAX})", "InternalError")]
        target[key] = port
        mine.add(port)
    return []
