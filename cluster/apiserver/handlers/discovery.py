"""API discovery (`/api`, `/apis`, legacy and aggregated) and the OpenAPI v3 index.

kubectl reads these before every command: they are how `po` resolves to pods, how
`get all` knows its kinds, and how `apply` validates a manifest.
"""
from __future__ import annotations

import hashlib
import json

from django.http import HttpRequest, HttpResponse

from cluster.apimachinery import kinds
from cluster.apiserver import registry
from cluster.apiserver.handlers.auth import authenticated
from cluster.apiserver.handlers.k8s import api_view, json_response

# What each kind serves is its registry entry's (cluster/apiserver/registry): verbs,
# categories and subresources are advertised exactly as the handlers serve them.
RESOURCES = registry.all_strategies()

GROUPS = {"": "v1", "apps": "v1", "discovery.k8s.io": "v1", "coordination.k8s.io": "v1", "networking.k8s.io": "v1"}
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _in_group(group: str) -> list[registry.Strategy]:
    return [r for r in RESOURCES if r.kind.group == group]


def _singular(kind: kinds.Kind) -> str:
    return kind.kind.lower()


def _aggregated_resource(r: registry.Strategy) -> dict:
    body = {
        "resource": r.kind.plural,
        "responseKind": {"group": r.kind.group, "version": r.kind.version, "kind": r.kind.kind},
        "scope": "Namespaced" if r.kind.namespaced else "Cluster",
        "singularResource": _singular(r.kind),
        "verbs": list(r.verbs),
    }
    if r.kind.short_names:
        body["shortNames"] = list(r.kind.short_names)
    if r.categories:
        body["categories"] = list(r.categories)
    if r.subresources:
        body["subresources"] = [
            {"subresource": sub.name, "responseKind": {"group": sub.group, "version": sub.version, "kind": sub.kind}, "verbs": list(sub.verbs)}
            for sub in r.subresources
        ]
    return body


def _aggregated(groups: list[str]) -> dict:
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": group},
                "versions": [{"version": GROUPS[group], "freshness": "Current", "resources": [_aggregated_resource(r) for r in _in_group(group)]}],
            }
            for group in groups
        ],
    }


def _wants_aggregated(request: HttpRequest) -> bool:
    return "as=APIGroupDiscoveryList" in request.headers.get("Accept", "")


def _aggregated_response(groups: list[str]) -> HttpResponse:
    response = HttpResponse(json.dumps(_aggregated(groups)), content_type=AGGREGATED)
    response["Vary"] = "Accept"
    return response


def _server_address(request: HttpRequest) -> str:
    return request.get_host()


@api_view
@authenticated
def api_root(request: HttpRequest, cluster) -> HttpResponse:
    if _wants_aggregated(request):
        return _aggregated_response([""])
    return json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": _server_address(request)}]})


@api_view
@authenticated
def apis_root(request: HttpRequest, cluster) -> HttpResponse:
    named = [group for group in GROUPS if group]
    if _wants_aggregated(request):
        return _aggregated_response(named)
    return json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(group) for group in named]})


def _group(group: str) -> dict:
    gv = {"groupVersion": f"{group}/{GROUPS[group]}", "version": GROUPS[group]}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


@api_view
@authenticated
def api_group(request: HttpRequest, cluster, group: str) -> HttpResponse:
    if group not in GROUPS or not group:
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "the server could not find the requested resource", "reason": "NotFound", "code": 404}, 404)
    return json_response({"kind": "APIGroup", "apiVersion": "v1", **_group(group)})


def _resource_list(group: str) -> dict:
    resources = []
    for r in _in_group(group):
        entry = {"name": r.kind.plural, "singularName": _singular(r.kind), "namespaced": r.kind.namespaced, "kind": r.kind.kind, "verbs": list(r.verbs)}
        if r.kind.short_names:
            entry["shortNames"] = list(r.kind.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        for s in r.subresources:
            sub = {"name": f"{r.kind.plural}/{s.name}", "singularName": "", "namespaced": r.kind.namespaced, "kind": s.kind, "verbs": list(s.verbs)}
            if s.group != group:
                sub["group"], sub["version"] = s.group, s.version
            resources.append(sub)
    gv = f"{group}/{GROUPS[group]}" if group else "v1"
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


@api_view
@authenticated
def core_resources(request: HttpRequest, cluster) -> HttpResponse:
    return json_response(_resource_list(""))


@api_view
@authenticated
def group_resources(request: HttpRequest, cluster, group: str, version: str) -> HttpResponse:
    if group not in GROUPS or not group or GROUPS[group] != version:
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "the server could not find the requested resource", "reason": "NotFound", "code": 404}, 404)
    return json_response(_resource_list(group))


# --- OpenAPI v3 ---------------------------------------------------------------------------

def _gv_path(group: str) -> str:
    return f"apis/{group}/{GROUPS[group]}" if group else "api/v1"


def _gv_document(group: str) -> dict:
    paths: dict[str, dict] = {}
    for r in _in_group(group):
        k = r.kind
        gvk = {"group": k.group, "version": k.version, "kind": k.kind}
        prefix = f"/{_gv_path(group)}" + ("/namespaces/{namespace}" if k.namespaced else "")
        params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}, {"name": "fieldManager", "in": "query", "schema": {"type": "string"}}]
        ok = {"200": {"description": "OK"}}
        paths[f"{prefix}/{k.plural}"] = {
            "get": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "list", "responses": ok},
            "post": {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "post", "parameters": params, "responses": {"201": {"description": "Created"}}},
        }
        paths[f"{prefix}/{k.plural}/{{name}}"] = {
            verb: {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": action, "parameters": params, "responses": ok}
            for verb, action in (("get", "get"), ("put", "put"), ("patch", "patch"), ("delete", "delete"))
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths, "components": {"schemas": {}}}


def _hash(doc: dict) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:128].upper()


@api_view
@authenticated
def openapi_v3(request: HttpRequest, cluster) -> HttpResponse:
    paths = {}
    for group in GROUPS:
        gv = _gv_path(group)
        paths[gv] = {"serverRelativeURL": f"/k8s/{cluster.name}/openapi/v3/{gv}?hash={_hash(_gv_document(group))}"}
    return json_response({"paths": paths})


@api_view
@authenticated
def openapi_v3_gv(request: HttpRequest, cluster, gv: str) -> HttpResponse:
    for group in GROUPS:
        if _gv_path(group) == gv:
            response = json_response(_gv_document(group))
            response["Cache-Control"] = "public, immutable"
            return response
    return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": f"the server could not find the requested resource (openapi/v3/{gv})", "reason": "NotFound", "code": 404}, 404)
