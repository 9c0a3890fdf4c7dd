"""A container's environment from ConfigMaps and Secrets, as the kubelet resolves it.

`env[].valueFrom.configMapKeyRef` / `secretKeyRef` and `envFrom[].configMapRef` /
`secretRef` are read when the container is created. One that is missing (and not
`optional: true`) stops the container in CreateContainerConfigError until it appears.
"""
from __future__ import annotations

import base64

from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.models import Cluster

SOURCES = {"configMapKeyRef": "ConfigMap", "secretKeyRef": "Secret"}
FROM = {"configMapRef": "ConfigMap", "secretRef": "Secret"}


def references(container: dict) -> list[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret the container reads."""
    found = []
    for env in container.get("env") or []:
        value_from = env.get("valueFrom") if isinstance(env, dict) else None
        for field, kind in SOURCES.items():
            ref = (value_from or {}).get(field) if isinstance(value_from, dict) else None
            if isinstance(ref, dict) and ref.get("name"):
                found.append((kind, str(ref["name"])))
    for source in container.get("envFrom") or []:
        for field, kind in FROM.items():
            ref = source.get(field) if isinstance(source, dict) else None
            if isinstance(ref, dict) and ref.get("name"):
                found.append((kind, str(ref["name"])))
    return found


def _read(cluster: Cluster, kind: str, namespace: str, name: str) -> dict | None:
    registered = kinds.BY_KIND.get(kind)
    return store.find(cluster, registered, namespace, name) if registered else None


def _keys(doc: dict) -> dict[str, str]:
    values = {k: str(v) for k, v in (doc.get("data") or {}).items()}
    if doc.get("kind") == "Secret":
        decoded = {}
        for k, v in values.items():
            try:
                decoded[k] = base64.b64decode(v).decode(errors="replace")
            except ValueError:
                decoded[k] = v
        values = decoded
        values.update({k: str(v) for k, v in (doc.get("stringData") or {}).items()})
    else:
        values.update({k: "" for k in (doc.get("binaryData") or {})})
    return values


def resolve(cluster: Cluster, pod: dict, container: dict) -> tuple[dict[str, str], str]:
    """(the environment, "") or ({}, the kubelet's error: `configmap "x" not found`)."""
    namespace = pod["metadata"].get("namespace", "default")
    env: dict[str, str] = {}
    cache: dict[tuple[str, str], dict | None] = {}

    def get(kind: str, name: str) -> dict | None:
        if (kind, name) not in cache:
            cache[(kind, name)] = _read(cluster, kind, namespace, name)
        return cache[(kind, name)]

    for source in container.get("envFrom") or []:
        if not isinstance(source, dict):
            continue
        for field, kind in FROM.items():
            ref = source.get(field)
            if not isinstance(ref, dict):
                continue
            doc = get(kind, str(ref.get("name", "")))
            if doc is None:
                if ref.get("optional"):
                    continue
                return {}, f'{kind.lower()} "{ref.get("name", "")}" not found'
            prefix = str(source.get("prefix") or "")
            env.update({prefix + k: v for k, v in _keys(doc).items()})
    for item in container.get("env") or []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        value_from = item.get("valueFrom")
        if not isinstance(value_from, dict):
            env[str(item["name"])] = str(item.get("value", ""))
            continue
        for field, kind in SOURCES.items():
            ref = value_from.get(field)
            if not isinstance(ref, dict):
                continue
            name, key = str(ref.get("name", "")), str(ref.get("key", ""))
            doc = get(kind, name)
            if doc is None:
                if ref.get("optional"):
                    break
                return {}, f'{kind.lower()} "{name}" not found'
            values = _keys(doc)
            if key not in values:
                if ref.get("optional"):
                    break
                return {}, f"couldn't find key {key} in {kind} {namespace}/{name}"
            env[str(item["name"])] = values[key]
            break
        else:
            env[str(item["name"])] = ""  # fieldRef / resourceFieldRef: known to the kubelet
    return env, ""
