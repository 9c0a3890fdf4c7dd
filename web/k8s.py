"""The Kubernetes-shaped HTTP API under /k8s/<cluster>/: Kubernetes JSON in and out.

Every answer is `application/json`; every error a `Status`. The views only translate HTTP
to the API-server layer (cluster/store.py) and back.
"""
from __future__ import annotations

import json
import logging
from functools import wraps
from typing import Any, Callable

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from cluster import kinds, narration, pods, selectors, store
from cluster.errors import APIError, bad_request, not_found
from cluster.models import Cluster

log = logging.getLogger("podflow.api")

CREATABLE = {"Pod", "Deployment", "ReplicaSet", "Namespace"}
DELETABLE = {"Pod", "Deployment", "ReplicaSet", "Event"}


def json_response(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(body, separators=(",", ":")), status=status, content_type="application/json")


def status_response(err: APIError) -> HttpResponse:
    return json_response(err.status(), err.code)


def api_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Errors become Status objects; nothing a client sends may cause a 500."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except APIError as err:
            return status_response(err)
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.path)
            return status_response(APIError(500, "InternalError", "an internal error occurred; see the server log"))

    return wrapper


def client_of(request: HttpRequest) -> str:
    explicit = request.headers.get("X-Podflow-Client", "")
    return narration.client_name(explicit or request.headers.get("User-Agent", ""))


def _cluster(name: str) -> Cluster:
    cluster = Cluster.objects.filter(name=name).first()
    if cluster is None:
        raise APIError(404, "NotFound", f'cluster "{name}" not found')
    return cluster


def _kind(group: str, version: str, plural: str) -> kinds.Kind:
    kind = kinds.BY_PLURAL.get((group, plural))
    if kind is None or kind.version != version:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        raise APIError(404, "NotFound", f"the server could not find the requested resource ({path}/{plural})")
    return kind


def _body(request: HttpRequest) -> dict:
    if not request.body:
        return {}
    content_type = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
    if content_type not in ("application/json", "", "*/*"):
        raise APIError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json')
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def _list_kind(kind: kinds.Kind) -> str:
    return f"{kind.kind}List"


@api_view
def version(request: HttpRequest, cluster: str) -> HttpResponse:
    _cluster(cluster)
    return json_response(
        {
            "major": "1",
            "minor": "32",
            "gitVersion": "v1.32.0-podflow",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.23.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
    )


@api_view
def collection(request: HttpRequest, cluster: str, plural: str, namespace: str | None = None, group: str = "", version: str = "v1") -> HttpResponse:
    c = _cluster(cluster)
    kind = _kind(group, version, plural)
    if namespace is not None and not kind.namespaced:
        raise APIError(404, "NotFound", f"the server could not find the requested resource ({plural} is not namespaced)")
    if request.method == "GET":
        return _list(request, c, kind, namespace)
    if request.method == "POST":
        if kind.kind not in CREATABLE:
            raise APIError(405, "MethodNotAllowed", f"create is not supported on {kind.plural} in podflow")
        if kind.namespaced and namespace is None:
            raise APIError(405, "MethodNotAllowed", f"create {kind.plural} in a namespace: POST .../namespaces/<ns>/{kind.plural}")
        body = _body(request)
        body.setdefault("kind", kind.kind)
        body.setdefault("apiVersion", kind.api_version)
        if body.get("kind") != kind.kind:
            raise bad_request(f"the kind in the body ({body.get('kind')}) does not match the URL ({kind.kind})")
        client = client_of(request)
        steps = (lambda doc, rev: narration.bare_pod_created(doc, rev, client)) if kind.kind == "Pod" else None
        created = store.create(c, body, by=store.API, client=client, namespace=namespace or "", steps=steps)
        return json_response(created, 201)
    raise APIError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({request.method})")


def _list(request: HttpRequest, cluster: Cluster, kind: kinds.Kind, namespace: str | None) -> HttpResponse:
    labels = selectors.label_selector(request.GET.get("labelSelector"))
    fields = selectors.field_selector(request.GET.get("fieldSelector"))
    revision = store.current_revision(cluster)
    items = [
        doc for doc in store.list_docs(cluster, kind, namespace)
        if labels(doc["metadata"].get("labels") or {}) and fields(doc)
    ]
    return json_response({"kind": _list_kind(kind), "apiVersion": kind.api_version, "metadata": {"resourceVersion": str(revision)}, "items": items})


@api_view
def item(request: HttpRequest, cluster: str, plural: str, name: str, namespace: str | None = None, group: str = "", version: str = "v1") -> HttpResponse:
    c = _cluster(cluster)
    kind = _kind(group, version, plural)
    if kind.namespaced and namespace is None:
        raise APIError(404, "NotFound", f"the server could not find the requested resource ({plural} is namespaced)")
    ns = namespace or ""
    if request.method == "GET":
        return json_response(store.get(c, kind, ns, name))
    if request.method == "PUT":
        body = _body(request)
        body.setdefault("kind", kind.kind)
        body.setdefault("metadata", {})
        if not isinstance(body["metadata"], dict) or body["metadata"].get("name", name) != name:
            raise bad_request("the name of the object does not match the name on the URL")
        body["metadata"]["name"], body["metadata"]["namespace"] = name, ns
        return json_response(store.update(c, body, by=store.API))
    if request.method == "DELETE":
        if kind.kind not in DELETABLE:
            raise APIError(405, "MethodNotAllowed", f"delete is not supported on {kind.plural} in podflow")
        options = _body(request)
        grace = request.GET.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        try:
            grace_seconds = int(grace) if grace is not None else None
        except (TypeError, ValueError) as exc:
            raise bad_request(f"gracePeriodSeconds must be an integer, not {grace!r}") from exc
        if kind.kind == "Pod":
            return json_response(pods.delete(c, ns, name, by=store.API, grace_seconds=grace_seconds))
        return json_response(store.remove(c, kind, ns, name, by=store.API))
    raise APIError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({request.method})")


@api_view
def unknown(request: HttpRequest, cluster: str, rest: str) -> HttpResponse:
    _cluster(cluster)
    raise APIError(404, "NotFound", f"the server could not find the requested resource (/{rest})")


def ensure_cluster_exists(name: str) -> Cluster:
    cluster = Cluster.objects.filter(name=name).first()
    if cluster is None:
        raise not_found("clusters", "", name)
    return cluster
