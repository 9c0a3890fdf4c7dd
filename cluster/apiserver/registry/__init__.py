"""The API server's registry: one entry per kind it serves, with everything that kind does.

Kubernetes gives each resource a REST storage built from a strategy: how it is defaulted
and validated, which verbs and subresources it has, whether a spec change bumps
`metadata.generation`, what its update may not change, how it prints as a Table. podflow
keeps the same knowledge in one `Strategy` per kind, below, and the store (writes), the
HTTP handlers (verbs, subresources, Tables) and discovery (what is advertised) read it
from here rather than each asking `if kind == ...`.

Adding a kind: a `Kind` in apimachinery/kinds.py, its validator and defaults in
validation.py, its columns in serializers/tables.py, and an entry here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError, Cause
from cluster.apiserver.registry import services, validation
from cluster.apiserver.serializers import tables
from cluster.models import Cluster

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")
STATUS_VERBS = ("get", "patch", "update")

# The finalizer the namespace strategy puts in spec.finalizers (FinalizerKubernetes).
NAMESPACE_FINALIZER = "kubernetes"
# NamespaceLifecycle's immortal namespaces: no one may delete them.
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str  # the kind its body is (Scale, Binding, or the parent's own)
    group: str
    version: str
    verbs: tuple[str, ...]


@dataclass(frozen=True)
class Strategy:
    kind: kinds.Kind
    validate: Callable[[dict], list[Cause]]
    columns: list[dict]
    row: Callable[[dict], list]
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    default: Callable[[dict], None] | None = None
    # metadata.generation starts at 1 and rises with every change of the spec.
    generation: bool = False
    # PrepareForCreate after defaulting and validation (server-set fields).
    prepare_for_create: Callable[[dict], None] | None = None
    # On an update of the main resource: the stored fields kept whatever the body says
    # (status always; a namespace's spec.finalizers, changed only through /finalize).
    keeps_on_update: tuple[tuple[str, ...], ...] = (("status",),)
    # PrepareForUpdate of the main resource, given the stored object and the new one.
    prepare_for_update: Callable[[dict, dict], None] | None = None
    # Values the API server allocates (a Service's cluster IP and node ports), under the
    # cluster's lock; given the cluster, the new object and the stored one (None on create).
    allocate: Callable[[Cluster, dict, dict | None], None] | None = None
    # Set on the object when its deletion starts (a namespace's status.phase Terminating).
    on_delete: Callable[[dict], None] | None = None
    # Names no one may delete.
    undeletable: tuple[str, ...] = ()
    # Finalizers kept in spec.finalizers (a namespace's), which hold the object too.
    spec_finalizers: bool = False

    def allows(self, verb: str) -> bool:
        return verb in self.verbs

    def subresource(self, name: str) -> Subresource | None:
        return next((s for s in self.subresources if s.name == name), None)

    def status(self) -> Subresource | None:
        return self.subresource("status")


def _status(kind: kinds.Kind) -> Subresource:
    return Subresource("status", kind.kind, kind.group, kind.version, STATUS_VERBS)


def _scale() -> Subresource:
    return Subresource("scale", "Scale", "autoscaling", "v1", STATUS_VERBS)


def _namespace_prepare_for_create(doc: dict) -> None:
    """Active, and held by the `kubernetes` finalizer until the namespace controller has
    emptied it."""
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
    finalizers = spec.get("finalizers") if isinstance(spec.get("finalizers"), list) else []
    if NAMESPACE_FINALIZER not in finalizers:
        finalizers = [*finalizers, NAMESPACE_FINALIZER]
    doc["spec"] = {**spec, "finalizers": finalizers}
    doc["status"] = {"phase": "Active"}


def _namespace_terminating(doc: dict) -> None:
    doc.setdefault("status", {})["phase"] = "Terminating"


def _default_namespace(doc: dict) -> None:
    doc.setdefault("spec", {"finalizers": [NAMESPACE_FINALIZER]})
    doc.setdefault("status", {"phase": "Active"})


def _default_workload(doc: dict) -> None:
    validation.default_workload(doc)
    doc.setdefault("status", {})


def _allocate_service(cluster: Cluster, doc: dict, old: dict | None) -> None:
    services.allocate(cluster, doc, old)


_STRATEGIES = (
    Strategy(
        kinds.NAMESPACE, validation.validate_namespace, tables.NAMESPACE_COLUMNS, tables.namespace_row,
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=(Subresource("finalize", "Namespace", "", "v1", ("update",)), _status(kinds.NAMESPACE)),
        default=_default_namespace, prepare_for_create=_namespace_prepare_for_create,
        keeps_on_update=(("status",), ("spec", "finalizers")), on_delete=_namespace_terminating,
        undeletable=IMMORTAL_NAMESPACES, spec_finalizers=True,
    ),
    Strategy(
        kinds.NODE, validation.validate_node, tables.NODE_COLUMNS, tables.node_row,
        verbs=("get", "list", "patch", "update", "watch"), subresources=(_status(kinds.NODE),),
    ),
    Strategy(
        kinds.POD, validation.validate_pod, tables.POD_COLUMNS, tables.pod_row, categories=("all",),
        subresources=(
            Subresource("binding", "Binding", "", "v1", ("create",)),
            Subresource("log", "Pod", "", "v1", ("get",)),
            _status(kinds.POD),
        ),
        default=validation.default_pod, prepare_for_create=validation.pod_prepare_for_create,
    ),
    Strategy(kinds.EVENT, validation.validate_event, tables.EVENT_COLUMNS, tables.event_row),
    Strategy(
        kinds.DEPLOYMENT, validation.validate_workload, tables.DEPLOYMENT_COLUMNS, tables.deployment_row, categories=("all",),
        subresources=(_scale(), _status(kinds.DEPLOYMENT)), default=_default_workload, generation=True,
    ),
    Strategy(
        kinds.REPLICASET, validation.validate_workload, tables.REPLICASET_COLUMNS, tables.replicaset_row, categories=("all",),
        subresources=(_scale(), _status(kinds.REPLICASET)), default=_default_workload, generation=True,
    ),
    Strategy(
        kinds.SERVICE, validation.validate_service, tables.SERVICE_COLUMNS, tables.service_row, categories=("all",),
        subresources=(_status(kinds.SERVICE),), default=validation.default_service,
        prepare_for_update=services.prepare_update, allocate=_allocate_service,
    ),
    Strategy(kinds.ENDPOINTS, validation.validate_endpoints, tables.ENDPOINTS_COLUMNS, tables.endpoints_row),
    Strategy(kinds.ENDPOINTSLICE, validation.validate_endpointslice, tables.ENDPOINTSLICE_COLUMNS, tables.endpointslice_row),
    Strategy(kinds.CONFIGMAP, validation.validate_configmap, tables.CONFIGMAP_COLUMNS, tables.configmap_row, default=validation.convert_configmap),
    Strategy(kinds.SECRET, validation.validate_secret, tables.SECRET_COLUMNS, tables.secret_row, default=validation.convert_secret),
    Strategy(kinds.LEASE, validation.validate_lease, tables.LEASE_COLUMNS, tables.lease_row),
    # Not in the category "all": `kubectl get all` leaves Ingresses out, as on a real cluster.
    Strategy(
        kinds.INGRESS, validation.validate_ingress, tables.INGRESS_COLUMNS, tables.ingress_row,
        subresources=(_status(kinds.INGRESS),), default=validation.default_ingress, generation=True,
    ),
    Strategy(
        kinds.INGRESSCLASS, validation.validate_ingressclass, tables.INGRESSCLASS_COLUMNS, tables.ingressclass_row,
        default=validation.default_ingressclass, generation=True,
    ),
)

BY_KIND: dict[str, Strategy] = {s.kind.kind: s for s in _STRATEGIES}
assert set(BY_KIND) == {k.kind for k in kinds.ALL}, "every kind the API serves has a registry entry"


def all_strategies() -> tuple[Strategy, ...]:
    return _STRATEGIES


def strategy(kind: kinds.Kind | str) -> Strategy:
    name = kind if isinstance(kind, str) else kind.kind
    found = BY_KIND.get(name)
    if found is None:
        raise APIError(400, "BadRequest", f"no kind {name!r} is registered")
    return found


def default(doc: dict) -> None:
    """The kind's defaulting (SetDefaults_*), if it has any."""
    entry = BY_KIND.get(doc.get("kind", ""))
    if entry is not None and entry.default is not None:
        entry.default(doc)
