"""etcd's keys and the watch inspector, as podflow's own read API.

    GET /k8s/<c>/podflow/v1/etcd?prefix=/registry/pods/&limit=500[&at=<revision>]
        {"revision", "at", "prefix", "count", "truncated",
         "keys": [{"key": "/registry/pods/default/web", "createRevision", "modRevision",
                   "version", "kind", "namespace", "name", "value"}]}
    GET /k8s/<c>/podflow/v1/watches[?since=<revision>][&limit=200]
        {"revision", "since", "truncated", "watchers": {"scheduler": ["Node", "Pod"], ...},
         "controllers": {"ReplicaSet controller": ["Pod", "ReplicaSet"], ...},
         "events": [{"revision", "type", "kind", "key", "namespace", "name", "by", "bySource",
                     "receivedBy", "woke": [{"component", "task", "controller"}]}]}

Not Kubernetes APIs: what a learner would see with `etcdctl get --prefix /registry/` beside
the cluster, and what each component's informers received. The keys and their revisions
are cluster/apiserver/etcd.py's; the wake-ups cluster/informers/watchers.py's (the store
listener's own function). They take the cluster's bearer token or its owner's session.

Secrets: values are served as stored (base64, as etcd holds them without encryption at
rest, and as `kubectl get secret -o yaml` shows them) to the bearer token. To the owner's
browser session — the page — a Secret's values come as "(N bytes)", as web/redact.py
gives the page every Secret: the page never receives them (README, Services and Secrets).

    TOKEN=$(kubectl config view --raw -o jsonpath='{.users[0].user.token}')
    curl -k -H "Authorization: Bearer $TOKEN" "$SERVER/podflow/v1/etcd?prefix=/registry/pods/"
"""
from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse

from cluster.apimachinery.errors import Cause
from cluster.apiserver import etcd as etcd_keys
from cluster.apiserver.handlers.auth import resolve
from cluster.apiserver.handlers.k8s import allow_methods, api_view, json_response
from cluster.apiserver.serializers import secrets
from cluster.informers import watchers


def _number(request: HttpRequest, name: str, causes: list[Cause], *, default: int | None, low: int, high: int | None = None) -> int | None:
    """A query parameter of digits only, within [low, high]; a cause when it is not."""
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):
        causes.append(Cause(name, f"Invalid value: {json.dumps(raw[:40])}: must be a whole number"))
        return default
    value = int(raw)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        causes.append(Cause(name, f"Invalid value: {value}: must be {bounds}"))
        return default
    return value


@api_view
def keys(request: HttpRequest, cluster: str) -> HttpResponse:
    allow_methods(request, "GET")
    found = resolve(request, cluster)
    causes: list[Cause] = []
    prefix = request.GET.get("prefix") or etcd_keys.ROOT
    if not prefix.startswith(etcd_keys.ROOT):
        causes.append(Cause("prefix", f'Invalid value: {json.dumps(prefix[:200])}: must start with "{etcd_keys.ROOT}", where kube-apiserver keeps every object'))
    limit = _number(request, "limit", causes, default=etcd_keys.DEFAULT_LIMIT, low=1, high=etcd_keys.MAX_LIMIT)
    at = _number(request, "at", causes, default=None, low=1)
    if causes:
        raise etcd_keys.invalid_query(causes)
    read = etcd_keys.range_read(found, prefix, limit=limit or etcd_keys.DEFAULT_LIMIT, at=at)
    page = getattr(request, "podflow_via_session", False)
    listed = [{**item, "value": _for_page(item["value"]) if page else item["value"]} for item in read.keys]
    return json_response(
        {
            "kind": "EtcdRange",
            "apiVersion": "podflow/v1",
            "revision": read.revision,
            "at": read.at,
            "prefix": prefix,
            "count": read.count,
            "truncated": read.truncated,
            "keys": listed,
        }
    )


@api_view
def watches(request: HttpRequest, cluster: str) -> HttpResponse:
    allow_methods(request, "GET")
    found = resolve(request, cluster)
    causes: list[Cause] = []
    since = _number(request, "since", causes, default=None, low=0)
    limit = _number(request, "limit", causes, default=watchers.DEFAULT_LIMIT, low=1, high=watchers.MAX_LIMIT)
    if causes:
        raise etcd_keys.invalid_query(causes)
    seen = watchers.inspect(found, since, limit or watchers.DEFAULT_LIMIT)
    return json_response(
        {
            "kind": "WatchEvents",
            "apiVersion": "podflow/v1",
            "revision": seen.revision,
            "since": since,
            "truncated": seen.truncated,
            "watchers": watchers.WATCHERS,
            "controllers": watchers.CONTROLLER_WATCHES,
            "events": seen.events,
        }
    )


def _for_page(value: dict) -> dict:
    """The page (the owner's session) sees a Secret's values as their size, as on its stream."""
    return secrets.redacted(value) if value.get("kind") == "Secret" else value
