"""The ingress controller: gives each Ingress of its class an address, and routes requests.

Kubernetes itself ships no ingress controller: an Ingress is only rules until a controller
such as ingress-nginx reads them. podflow's runs in the controller manager and plays
ingress-nginx's part for the IngressClass `podflow` (controller `podflow.dev/ingress-controller`),
which every new cluster has, marked as the default.

The address. ingress-nginx on bare metal commonly runs as a DaemonSet on every node
(host network, or behind a NodePort) and reports the InternalIPs of the nodes it runs on in
each Ingress's `status.loadBalancer.ingress` — which is what `minikube` or `kind` show in
ADDRESS. podflow does the same with the Ready nodes, so a stopped node leaves the address
list as its controller pod would stop answering. (The LoadBalancer pool of
controllers/loadbalancer.py is left to Services: it has eight addresses, and taking one for
the controller would be taking it from a learner's Service.)

A pass records the controller's `Sync` event ("Scheduled for sync") once per generation of
the Ingress, as ingress-nginx does when it sees an Ingress created or changed, and writes the
status when it differs. A pass that finds both as they should be writes nothing.

Requests (`request`) are routed as ingress-nginx routes them: the host picks the rules
(an exact host first, then a one-label wildcard, then the rules without a host), the longest
matching path wins (Exact before Prefix at equal length; ImplementationSpecific is read as
Prefix), then the Service's ready endpoints from its EndpointSlices — the controller
balances over the pods itself rather than through the cluster IP, but it reads the same
slices kube-proxy reads, and picks among them the same way here.
"""
from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from typing import Any

from cluster.apimachinery import kinds, pods
from cluster.apiserver import store
from cluster.apiserver.admission import ingressclasses
from cluster.componentbase import events, isolation
from cluster.models import Cluster, Object
from cluster.proxy import kubeproxy

CONTROLLER = "podflow.dev/ingress-controller"
CLASS_NAME = "podflow"
COMPONENT = "podflow-ingress-controller"
# Which generation of the Ingress a Sync event was for: the controller's memory, kept in
# the API as everything else is (a restarted worker must not announce a sync twice).
GENERATION = "podflow.dev/ingress-generation"
DEFAULT_BACKEND_BODY = "default backend - 404"
UNAVAILABLE_BODY = "503 Service Temporarily Unavailable"


def default_class() -> dict:
    """The IngressClass each new cluster has (cluster/demo.py)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": CLASS_NAME, "annotations": {ingressclasses.IS_DEFAULT: "true"}},
        "spec": {"controller": CONTROLLER},
    }


# --- which Ingresses are ours, and what their status should be -------------------------------

def our_classes(cluster: Cluster) -> set[str]:
    return {
        doc["metadata"]["name"]
        for doc in Object.objects.filter(cluster=cluster, kind="IngressClass").values_list("doc", flat=True)
        if (doc.get("spec") or {}).get("controller") == CONTROLLER
    }


def handles(ingress: dict, classes: set[str]) -> bool:
    return ingressclasses.class_of(ingress) in classes


def _ip_key(ip: str) -> tuple:
    try:
        return (0, int(ipaddress.ip_address(ip)))
    except ValueError:
        return (1, ip)


def node_addresses(cluster: Cluster) -> list[tuple[str, str]]:
    """(node, InternalIP) of every Ready node, by address: where the controller answers."""
    found = []
    for node in store.list_docs(cluster, kinds.NODE):
        ip = next((a.get("address") for a in (node.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"), "")
        if ip and pods.is_ready(node):
            found.append((node["metadata"]["name"], ip))
    return sorted(found, key=lambda pair: _ip_key(pair[1]))


def desired_load_balancer(cluster: Cluster) -> dict:
    addresses = node_addresses(cluster)
    return {"ingress": [{"ip": ip} for _, ip in addresses]} if addresses else {}


def _synced_generation(cluster: Cluster, uid: str) -> int:
    """The generation of the last Sync event this controller recorded about the Ingress, or 0."""
    rows = (
        Object.objects.filter(cluster=cluster, kind="Event", owner_uid=uid)
        .filter(doc__reason="Sync", doc__source__component=COMPONENT)
        .values_list("doc", flat=True)
    )
    seen = [((doc.get("metadata") or {}).get("annotations") or {}).get(GENERATION, "0") for doc in rows]
    return max((int(g) for g in seen if str(g).isdigit()), default=0)


# --- the pass -----------------------------------------------------------------------------

def reconcile(cluster: Cluster, namespace: str, name: str) -> None:
    """One pass for the Ingress namespace/name (which may no longer exist)."""
    with store.locked(cluster):
        _sync(cluster, store.find(cluster, kinds.INGRESS, namespace, name), our_classes(cluster), desired_load_balancer(cluster))


def sync_all(cluster: Cluster, namespace: str = "", service: str = "") -> None:
    """A pass for each Ingress (of one namespace when given, naming `service` when given):
    the nodes, the classes, or a Service the Ingresses send to changed."""
    rows = Object.objects.filter(cluster=cluster, kind="Ingress")
    if namespace:
        rows = rows.filter(namespace=namespace)
    keys = list(rows.order_by("namespace", "name").values_list("namespace", "name"))
    if not keys:
        return
    with store.locked(cluster):
        classes, wanted = our_classes(cluster), desired_load_balancer(cluster)
        for ns, name in keys:
            ingress = store.find(cluster, kinds.INGRESS, ns, name)
            if ingress is not None and (not service or service in backend_services(ingress)):
                with isolation.isolated(cluster, store.INGRESS_CONTROLLER, uid=ingress["metadata"]["uid"]):
                    _sync(cluster, ingress, classes, wanted)


def _sync(cluster: Cluster, ingress: dict | None, classes: set[str], wanted: dict) -> None:
    if ingress is None or not handles(ingress, classes) or ingress["metadata"].get("deletionTimestamp"):
        return  # another controller's Ingress (or none at all) is not ours to touch
    meta = ingress["metadata"]
    generation = int(meta.get("generation") or 1)
    if _synced_generation(cluster, meta["uid"]) < generation:
        events.record(
            cluster, ingress, "Sync", "Scheduled for sync",
            by=store.INGRESS_CONTROLLER, component=COMPONENT, annotations={GENERATION: str(generation)},
        )
    if ((ingress.get("status") or {}).get("loadBalancer") or {}) != wanted:

        def apply(doc: dict) -> None:
            status = doc.get("status") if isinstance(doc.get("status"), dict) else {}
            status["loadBalancer"] = wanted
            doc["status"] = status

        store.mutate(cluster, kinds.INGRESS, meta["namespace"], meta["name"], apply, by=store.INGRESS_CONTROLLER, expected_uid=meta["uid"])


def ingresses_to_resync(cluster: Cluster) -> list[tuple[str, str]]:
    """Ingresses of our class whose address is not what it should be, or whose generation has
    not been synced: what a lost wake-up left behind."""
    classes = our_classes(cluster)
    wanted = desired_load_balancer(cluster)
    found = []
    for doc in store.list_docs(cluster, kinds.INGRESS):
        if not handles(doc, classes) or doc["metadata"].get("deletionTimestamp"):
            continue
        behind = _synced_generation(cluster, doc["metadata"]["uid"]) < int(doc["metadata"].get("generation") or 1)
        if behind or ((doc.get("status") or {}).get("loadBalancer") or {}) != wanted:
            found.append((doc["metadata"]["namespace"], doc["metadata"]["name"]))
    return found


# --- routing ------------------------------------------------------------------------------

def _backends(ingress: dict) -> list[dict]:
    spec = ingress.get("spec") or {}
    found = [spec["defaultBackend"]] if isinstance(spec.get("defaultBackend"), dict) else []
    for rule in spec.get("rules") or []:
        for path in ((rule or {}).get("http") or {}).get("paths") or []:
            if isinstance((path or {}).get("backend"), dict):
                found.append(path["backend"])
    return found


def backend_services(ingress: dict) -> set[str]:
    """The names of the Services an Ingress sends to."""
    return {b["service"]["name"] for b in _backends(ingress) if isinstance(b.get("service"), dict) and b["service"].get("name")}


@dataclass(frozen=True)
class Route:
    """What a request matched: a rule's path, or the Ingress's defaultBackend (rule None)."""

    backend: dict
    rule: int | None = None
    host: str = ""
    path: str | None = None
    path_type: str | None = None
    path_index: int | None = None


def host_matches(rule_host: str, host: str) -> bool:
    """An exact host, or `*.example.com`: one label (no dots) before the wildcard's suffix."""
    if rule_host.startswith("*."):
        suffix = rule_host[1:]
        label = host[: -len(suffix)] if host.endswith(suffix) else ""
        return bool(label) and "." not in label
    return rule_host == host


def _elements(path: str) -> list[str]:
    return [e for e in path.split("/") if e]


def path_matches(path_type: str, rule_path: str, request_path: str) -> bool:
    """Exact: the same path. Prefix (and ImplementationSpecific, read as Prefix): element by
    element, so `/foo` matches `/foo`, `/foo/` and `/foo/bar`, never `/foobar`."""
    if path_type == "Exact":
        return request_path == rule_path
    prefix = _elements(rule_path or "/")
    return _elements(request_path)[: len(prefix)] == prefix


def route(ingress: dict, host: str, path: str) -> Route | None:
    """The rule and path a request for host+path is sent by, as ingress-nginx chooses it."""
    spec = ingress.get("spec") or {}
    rules = [(i, r) for i, r in enumerate(spec.get("rules") or []) if isinstance(r, dict)]
    exact = [(i, r) for i, r in rules if r.get("host") and not r["host"].startswith("*.") and r["host"] == host]
    wildcard = [(i, r) for i, r in rules if (r.get("host") or "").startswith("*.") and host_matches(r["host"], host)]
    anyhost = [(i, r) for i, r in rules if not r.get("host")]
    group = exact or wildcard or anyhost
    best: tuple[tuple[int, int], Route] | None = None
    for i, rule in group:
        for j, entry in enumerate(((rule.get("http") or {}).get("paths")) or []):
            path_type, rule_path = entry.get("pathType") or "", entry.get("path") or ""
            if not path_matches(path_type, rule_path, path):
                continue
            # Longest path first; at equal length Exact before Prefix; then the order written.
            rank = (len(rule_path), 1 if path_type == "Exact" else 0)
            if best is None or rank > best[0]:
                best = (rank, Route(entry.get("backend") or {}, i, rule.get("host") or "", rule_path, path_type, j))
    if best is not None:
        return best[1]
    if isinstance(spec.get("defaultBackend"), dict):
        return Route(spec["defaultBackend"])
    return None


def _request_path(path: str | None) -> str:
    path = (path or "/").split("?", 1)[0].split("#", 1)[0]
    return path if path.startswith("/") else "/" + path


def _request_host(host: str | None, fallback: str) -> str:
    host = (host or "").strip().lower().rstrip(".")
    if host.startswith("[") and "]" in host:
        return host[1:host.index("]")]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]  # the port is not part of what rules match
    return host or fallback


def _service_port(service: dict, port: dict) -> dict | None:
    for candidate in (service.get("spec") or {}).get("ports") or []:
        if port.get("name") and candidate.get("name") == port["name"]:
            return candidate
        if port.get("number") and candidate.get("port") == port["number"]:
            return candidate
    return None


def request(cluster: Cluster, ingress: dict, *, host: str | None = None, path: str | None = None, rng: random.Random | None = None) -> kubeproxy.Answer:
    """One simulated HTTP request to the Ingress's address, answered as the controller routes it."""
    rng = rng or random.SystemRandom()
    meta = ingress["metadata"]
    ns = meta["namespace"]
    addresses = [(node, ip) for node, ip in node_addresses(cluster)
                 if ip in {p.get("ip") for p in ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []}]
    class_name = ingressclasses.class_of(ingress)
    request_path = _request_path(path)
    base: dict[str, Any] = {"ingress": meta["name"], "namespace": ns, "class": class_name or None, "path": request_path}
    if not handles(ingress, our_classes(cluster)):
        why = f'its class "{class_name}" is not served by {CONTROLLER}' if class_name else "it names no IngressClass and there is no default class"
        return kubeproxy.Answer(503, {**base, "host": host or None, "status": 503, "error": f"no ingress controller serves Ingress {meta['name']}: {why}"})
    if not addresses:
        return kubeproxy.Answer(503, {**base, "host": host or None, "status": 503, "error": f"Ingress {meta['name']} has no address yet: no Ready node runs the ingress controller"})
    entry_node, address = rng.choice(addresses)
    request_host = _request_host(host, address)
    base.update({
        "host": request_host,
        "address": address,
        "entryNode": entry_node,
        "url": f"http://{request_host}{request_path}",
        "via": f"ingress controller on {entry_node} ({address}:80)",
    })
    matched = route(ingress, request_host, request_path)
    if matched is None:
        return kubeproxy.Answer(404, {
            **base, "rule": None, "backend": "default-http-backend", "status": 404, "body": DEFAULT_BACKEND_BODY,
            "error": f"no rule of Ingress {meta['name']} matches host {request_host} and path {request_path}, and it has no defaultBackend: the controller's default backend answered",
        })
    base["rule"] = None if matched.rule is None else {"index": matched.rule, "host": matched.host or None, "path": matched.path, "pathType": matched.path_type, "pathIndex": matched.path_index}
    base["defaultBackend"] = matched.rule is None
    service_ref = matched.backend.get("service") if isinstance(matched.backend.get("service"), dict) else None
    if service_ref is None:
        return kubeproxy.Answer(503, {**base, "status": 503, "body": UNAVAILABLE_BODY, "error": "the backend is a resource, not a Service: this controller serves only Service backends"})
    port_ref = service_ref.get("port") or {}
    base["service"] = service_ref.get("name")
    base["servicePort"] = port_ref.get("number") or port_ref.get("name")
    service = store.find(cluster, kinds.SERVICE, ns, service_ref.get("name") or "")
    if service is None:
        return kubeproxy.Answer(503, {**base, "status": 503, "body": UNAVAILABLE_BODY, "error": f'services "{service_ref.get("name")}" not found: the controller has nowhere to send the request'})
    svc_port = _service_port(service, port_ref)
    if svc_port is None:
        return kubeproxy.Answer(503, {**base, "status": 503, "body": UNAVAILABLE_BODY, "error": f"Service {service_ref.get('name')} has no port {base['servicePort']}"})
    candidates = kubeproxy.usable(kubeproxy.endpoints_for(cluster, service, svc_port))
    if not candidates:
        return kubeproxy.Answer(503, {**base, "status": 503, "body": UNAVAILABLE_BODY, "error": f"Service {service_ref.get('name')} has no ready endpoints: no pod it selects is Ready"})
    chosen = kubeproxy.pick(candidates, rng)
    answer = {
        **base,
        "pod": chosen.pod or None,
        "podIP": chosen.ip,
        "targetPort": chosen.port,
        "node": chosen.node or None,
        "choice": f"one of {len(candidates)} ready endpoint(s) of the Service, each equally likely",
    }
    pod = store.by_uid(cluster, chosen.pod_uid) if chosen.pod_uid else None
    if pod is None:
        return kubeproxy.Answer(200, {**answer, "status": 200, "body": f"answered by {chosen.address}"})
    status, body = kubeproxy.container_answer(pod, chosen.port)
    return kubeproxy.Answer(200 if status == 200 else 502, {**answer, "status": status, "body": body})
