"""podflow's own read endpoints under /k8s/<cluster>/podflow/v1/: what a real cluster shows
only from inside (DNS names, kube-proxy's rules, a request from a pod or node).

They use the cluster's bearer token like the rest of the API, answer JSON, and change
nothing: a simulated request is not a write, and it is not a request to the API server
(so it is not announced as step 1), but the page hears of it as traffic.
"""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError, bad_request
from cluster.apiserver import audit, store
from cluster.apiserver.handlers.auth import resolve
from cluster.apiserver.handlers.k8s import allow_methods, api_view, json_object, json_response
from cluster.apiserver.registry import services
from cluster.controllers import ingress as ingress_controller
from cluster.models import Cluster
from cluster.proxy import kubeproxy

MAX_COUNT = 100


def _params(request: HttpRequest) -> dict[str, Any]:
    """Query parameters, and for POST the JSON body's keys as well."""
    params: dict[str, Any] = {k: v for k, v in request.GET.items()}
    if request.method == "POST" and request.body:
        body = json_object(request.body)
        params.update({k: v for k, v in body.items() if v is not None})
    return params


def _text(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise bad_request(f"{key} must be a string")
    return str(value)


def _count(params: dict[str, Any]) -> int:
    try:
        count = int(params.get("count", 1))
    except (TypeError, ValueError) as exc:
        raise bad_request("count must be an integer") from exc
    if not 1 <= count <= MAX_COUNT:
        raise bad_request(f"count must be between 1 and {MAX_COUNT}")
    return count


def _by_pod(answers: list[kubeproxy.Answer]) -> dict[str, int]:
    by_pod: dict[str, int] = {}
    for answer in answers:
        if answer.body.get("pod"):
            by_pod[answer.body["pod"]] = by_pod.get(answer.body["pod"], 0) + 1
    return by_pod


def service_info(cluster: Cluster, service: dict) -> dict:
    """What a learner wants to know about a Service that `kubectl describe` does not say."""
    spec, meta = service.get("spec") or {}, service["metadata"]
    type_ = spec.get("type", "ClusterIP")
    dns = services.dns_name(meta["namespace"], meta["name"])
    ports = spec.get("ports") or []
    endpoints: dict[str, list[dict]] = {"ready": [], "notReady": [], "terminating": []}
    if ports:
        for ep in kubeproxy.endpoints_for(cluster, service, ports[0]):
            group = "terminating" if ep.terminating else "ready" if ep.ready else "notReady"
            endpoints[group].append({"ip": ep.ip, "port": ep.port, "pod": ep.pod, "node": ep.node})
    if type_ == "ExternalName":
        answer = {"type": "CNAME", "values": [spec.get("externalName", "")]}
    elif spec.get("clusterIP") == "None":
        answer = {"type": "A", "values": [e["ip"] for e in endpoints["ready"]]}
    else:
        answer = {"type": "A", "values": [spec.get("clusterIP", "")]}
    reach: list[str] = []
    for port in ports:
        if type_ not in ("ExternalName",):
            reach.append(f"curl http://{dns}:{port.get('port')}/   (from a pod: DNS gives {', '.join(answer['values']) or 'no address yet'})")
        if spec.get("clusterIP") not in (None, "", "None"):
            reach.append(f"curl http://{spec['clusterIP']}:{port.get('port')}/   (from any node or pod)")
        if port.get("nodePort"):
            reach.append(f"curl http://<any node's IP>:{port['nodePort']}/   (from outside the cluster, e.g. curl host01:{port['nodePort']})")
        for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if ingress.get("ip"):
                reach.append(f"curl http://{ingress['ip']}:{port.get('port')}/   (the load balancer's address)")
    return {
        "service": meta["name"],
        "namespace": meta["namespace"],
        "type": type_,
        "dns": dns,
        "dnsAnswer": answer,
        "clusterIP": spec.get("clusterIP"),
        "ports": ports,
        "selector": spec.get("selector") or {},
        "externalIPs": spec.get("externalIPs") or [],
        "loadBalancer": [i.get("ip") or i.get("hostname") for i in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []],
        "endpoints": endpoints,
        "howToReach": reach,
    }


@api_view
def services_list(request: HttpRequest, cluster: str, namespace: str) -> HttpResponse:
    allow_methods(request, "GET")
    c = resolve(request, cluster)
    return json_response({"items": [service_info(c, s) for s in store.list_docs(c, kinds.SERVICE, namespace)]})


@api_view
def service_detail(request: HttpRequest, cluster: str, namespace: str, service: str) -> HttpResponse:
    allow_methods(request, "GET")
    c = resolve(request, cluster)
    return json_response(service_info(c, store.get(c, kinds.SERVICE, namespace, service)))


def send_to_service(cluster: Cluster, namespace: str, name: str, count: int, **options: Any) -> list[kubeproxy.Answer]:
    """`count` simulated requests to a Service (a 404 APIError if it does not exist), each
    answered as kube-proxy's rules route it; announced as traffic (the page, the traffic log)."""
    doc = store.get(cluster, kinds.SERVICE, namespace, name)
    answers = [kubeproxy.request(cluster, doc, **options) for _ in range(count)]
    audit.announce(cluster.name, audit.TRAFFIC, [a.body for a in answers])
    return answers


def send_through_ingress(cluster: Cluster, namespace: str, name: str, count: int, *, host: str | None = None, path: str | None = None) -> list[kubeproxy.Answer]:
    """`count` simulated requests through an Ingress, routed as its controller routes them."""
    doc = store.get(cluster, kinds.INGRESS, namespace, name)
    answers = [ingress_controller.request(cluster, doc, host=host, path=path) for _ in range(count)]
    audit.announce(cluster.name, audit.TRAFFIC, [a.body for a in answers])
    return answers


@api_view
def service_request(request: HttpRequest, cluster: str, namespace: str, service: str) -> HttpResponse:
    """`curl` a Service: GET or POST; via, node, port, client and count from the query (or the body)."""
    allow_methods(request, "GET", "POST")
    c = resolve(request, cluster)
    params = _params(request)
    count = _count(params)
    options = {
        "via": _text(params, "via"),
        "node": _text(params, "node"),
        "port": _text(params, "port"),
        "client": _text(params, "client") or request.META.get("REMOTE_ADDR", ""),
    }
    answers = send_to_service(c, namespace, service, count, **options)
    if count == 1:
        return json_response(answers[0].body, answers[0].status)
    return json_response({"service": service, "namespace": namespace, "count": count, "byPod": _by_pod(answers), "answers": [a.body for a in answers]})


@api_view
def ingress_request(request: HttpRequest, cluster: str, namespace: str, ingress: str) -> HttpResponse:
    """`curl` through an Ingress: GET or POST; host, path and count from the query (or the body).

    Answered as the ingress controller routes it: which rule and path matched, the Service
    and port, and the ready pod that answered; 404 from the controller's default backend when
    nothing matches, 503 when the Service has no ready endpoints.
    """
    allow_methods(request, "GET", "POST")
    c = resolve(request, cluster)
    params = _params(request)
    count = _count(params)
    answers = send_through_ingress(c, namespace, ingress, count, host=_text(params, "host"), path=_text(params, "path"))
    if count == 1:
        return json_response(answers[0].body, answers[0].status)
    by_status: dict[str, int] = {}
    for answer in answers:
        by_status[str(answer.status)] = by_status.get(str(answer.status), 0) + 1
    return json_response({"ingress": ingress, "namespace": namespace, "count": count, "byPod": _by_pod(answers), "byStatus": by_status, "answers": [a.body for a in answers]})


@api_view
def proxy_rules(request: HttpRequest, cluster: str, namespace: str, service: str) -> HttpResponse:
    """kube-proxy's iptables rules for a Service on one node (?node=, default the first)."""
    allow_methods(request, "GET")
    c = resolve(request, cluster)
    doc = store.get(c, kinds.SERVICE, namespace, service)
    nodes = [n["metadata"]["name"] for n in store.list_docs(c, kinds.NODE)]
    node = request.GET.get("node") or (nodes[0] if nodes else "")
    if node not in nodes:
        raise APIError(404, "NotFound", f'nodes "{node}" not found', name=node, kind="nodes")
    lines = kubeproxy.rules(c, doc, node=node)
    if request.GET.get("format") == "text" or request.headers.get("Accept", "").startswith("text/plain"):
        return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
    return json_response({"service": service, "namespace": namespace, "node": node, "mode": "iptables", "lines": lines})
