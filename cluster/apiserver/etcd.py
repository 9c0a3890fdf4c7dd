"""etcd's view of the store: the keys kube-apiserver keeps objects under, read as a range.

kube-apiserver stores each object at `/registry/<resource prefix>/<namespace>/<name>`
(cluster-scoped: `/registry/<resource prefix>/<name>`). The resource prefix is the
resource's plural, except for the special prefixes compiled into Kubernetes
(`specialDefaultResourcePrefixes` in pkg/kubeapiserver/default_storage_factory_builder.go):
nodes are `minions`, services `services/specs`, endpoints `services/endpoints` and
ingresses `ingress`. `etcd_key` is that rule, in one place.

For each key etcd keeps three numbers, which `range_read` rebuilds from the change log
(`Change`, one row per revision, invariant 3):

* createRevision: the revision of the write that created the key (its ADDED row);
* modRevision: the revision of its last write (the object's resourceVersion);
* version: how many writes the key has had since it was created (1 after the create).

etcd keeps a key's createRevision and version through a compaction; the change log does
not, so once the ADDED row of a key is compacted away both are `None` ("no longer known"),
never guessed. modRevision is always known: it is the object's resourceVersion.

The value is the object as stored. Two differences from a real etcd, both told to the
reader: kube-apiserver writes built-in kinds as protobuf (`k8s\\0` + the message) and here
the value is the JSON document; and, as in Kubernetes, `metadata.resourceVersion` is not in
the value (the API server clears it before writing and sets it from modRevision when it
reads: etcd3 store's `PrepareObjectForStorage` / `UpdateObject`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from django.db.models import Count, Min, Q

from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError, Cause
from cluster.apiserver import history, store
from cluster.models import Change, Cluster, Object

ROOT = "/registry/"

# kube-apiserver's specialDefaultResourcePrefixes, for the kinds podflow serves. Every other
# kind is stored under its plural (pods, deployments, replicasets, endpointslices, leases,
# events, configmaps, secrets, namespaces, ingressclasses).
SPECIAL_PREFIXES = {
    kinds.NODE.kind: "minions",
    kinds.SERVICE.kind: "services/specs",
    kinds.ENDPOINTS.kind: "services/endpoints",
    kinds.INGRESS.kind: "ingress",
}

# A range answers at most this many keys (etcd has no such cap; a page does).
MAX_LIMIT = 5000
DEFAULT_LIMIT = 500


def resource_prefix(kind: kinds.Kind | str) -> str:
    """`/registry/minions/` for Node, `/registry/pods/` for Pod: where the kind's keys start."""
    found = kinds.BY_KIND[kind] if isinstance(kind, str) else kind
    return f"{ROOT}{SPECIAL_PREFIXES.get(found.kind, found.plural)}/"


def etcd_key(kind: kinds.Kind | str, namespace: str, name: str) -> str:
    """The key kube-apiserver stores an object under: `/registry/pods/default/web`,
    `/registry/minions/node-1` (NamespaceKeyFunc and NoNamespaceKeyFunc)."""
    found = kinds.BY_KIND[kind] if isinstance(kind, str) else kind
    if found.namespaced:
        return f"{resource_prefix(found)}{namespace}/{name}"
    return f"{resource_prefix(found)}{name}"


def kinds_under(prefix: str) -> list[kinds.Kind]:
    """The kinds that may have a key starting with `prefix`: those whose prefix starts with
    it (`/registry/services/` holds Services and Endpoints), or that it starts within
    (`/registry/pods/default/`)."""
    return [k for k in kinds.ALL if resource_prefix(k).startswith(prefix) or prefix.startswith(resource_prefix(k))]


def stored_value(doc: dict) -> dict:
    """The object as etcd holds it: without `metadata.resourceVersion` (see above)."""
    value = copy.deepcopy(doc)
    (value.get("metadata") or {}).pop("resourceVersion", None)
    return value


@dataclass
class Range:
    revision: int  # the cluster's revision when read
    at: int  # the revision the keys are read at
    count: int  # how many keys start with the prefix
    keys: list[dict]
    truncated: bool


def check_prefix(prefix: str) -> None:
    if not prefix.startswith(ROOT):
        raise invalid_query([Cause("prefix", f'Invalid value: {prefix[:200]!r}: must start with "{ROOT}", where kube-apiserver keeps every object')])


def invalid_query(causes: list[Cause]) -> APIError:
    """400 BadRequest with the offending query parameters as causes."""
    return APIError(400, "BadRequest", "; ".join(f"{c.field}: {c.message}" for c in causes), causes=causes)


def range_read(cluster: Cluster, prefix: str = ROOT, *, limit: int = DEFAULT_LIMIT, at: int | None = None) -> Range:
    """The keys starting with `prefix`, in etcd's order (by key, bytewise), at most `limit`,
    as they are now or, with `at`, as they were at that revision (410 Expired once the
    change log no longer holds it, as a list at that revision is refused)."""
    check_prefix(prefix)
    current = store.current_revision(cluster)
    if at is not None and at > current:
        raise invalid_query([Cause("at", f"Invalid value: {at}: required revision is a future revision (the cluster is at {current})")])
    scope = kinds_under(prefix)
    if at is None:
        found = _present(cluster, scope, prefix)
    else:
        found = _past(cluster, scope, prefix, at)
    found.sort(key=lambda item: item[0].encode())
    total = len(found)
    page = found[:limit]
    if at is None:
        docs = dict(Object.objects.filter(cluster=cluster, uid__in=[uid for _, uid, _ in page]).values_list("uid", "doc"))
        page = [(key, uid, docs.get(uid)) for key, uid, _ in page]
        page = [item for item in page if item[2] is not None]  # deleted meanwhile
        # Read after the documents, so that it is never older than a modRevision shown.
        current = store.current_revision(cluster)
    read_at = current if at is None else at
    numbers = _numbers(cluster, [uid for _, uid, _ in page], None if at is None else at)
    keys = []
    for key, uid, doc in page:
        meta = doc.get("metadata") or {}
        created, version = numbers.get(uid, (None, None))
        keys.append(
            {
                "key": key,
                "createRevision": created,
                "modRevision": int(meta.get("resourceVersion") or 0),
                "version": version,
                "kind": doc.get("kind", ""),
                "namespace": meta.get("namespace", ""),
                "name": meta.get("name", ""),
                "value": stored_value(doc),
            }
        )
    return Range(current, read_at, total, keys, total > len(page))


def _present(cluster: Cluster, scope: list[kinds.Kind], prefix: str) -> list[tuple[str, str, dict | None]]:
    """(key, uid, None) of every current object under the prefix: the documents are read
    afterwards, for the page of keys only."""
    if not scope:
        return []
    rows = Object.objects.filter(cluster=cluster, kind__in=[k.kind for k in scope]).values_list("kind", "namespace", "name", "uid")
    found = []
    for kind, namespace, name, uid in rows:
        key = etcd_key(kind, namespace, name)
        if key.startswith(prefix):
            found.append((key, uid, None))
    return found


def _past(cluster: Cluster, scope: list[kinds.Kind], prefix: str, at: int) -> list[tuple[str, str, dict | None]]:
    found = []
    for kind in scope:
        for doc in history.list_at(cluster, kind, None, at):
            meta = doc["metadata"]
            key = etcd_key(kind, meta.get("namespace", ""), meta["name"])
            if key.startswith(prefix):
                found.append((key, meta["uid"], doc))
    return found


def _numbers(cluster: Cluster, uids: list[str], at: int | None) -> dict[str, tuple[int | None, int | None]]:
    """uid -> (createRevision, version) at revision `at` (None: now), from the change log in
    one grouped query; (None, None) for a key whose creation the log no longer holds."""
    if not uids:
        return {}
    changes = Change.objects.filter(cluster=cluster, uid__in=uids)
    if at is not None:
        changes = changes.filter(revision__lte=at)
    rows = (
        changes
        .values("uid")
        .annotate(created=Min("revision", filter=Q(type=Change.ADDED)), writes=Count("pk", filter=~Q(type=Change.DELETED)))
        .values_list("uid", "created", "writes")
    )
    return {uid: (created, writes) if created is not None else (None, None) for uid, created, writes in rows}
