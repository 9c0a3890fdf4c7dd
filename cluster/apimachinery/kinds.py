"""The kinds the API server serves: where each lives in the REST tree."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


NAMESPACE = Kind("Namespace", "", "v1", "namespaces", False, ("ns",))
NODE = Kind("Node", "", "v1", "nodes", False, ("no",))
POD = Kind("Pod", "", "v1", "pods", True, ("po",))
EVENT = Kind("Event", "", "v1", "events", True, ("ev",))
DEPLOYMENT = Kind("Deployment", "apps", "v1", "deployments", True, ("deploy",))
REPLICASET = Kind("ReplicaSet", "apps", "v1", "replicasets", True, ("rs",))
SERVICE = Kind("Service", "", "v1", "services", True, ("svc",))
ENDPOINTS = Kind("Endpoints", "", "v1", "endpoints", True, ("ep",))
ENDPOINTSLICE = Kind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", True)
CONFIGMAP = Kind("ConfigMap", "", "v1", "configmaps", True, ("cm",))
SECRET = Kind("Secret", "", "v1", "secrets", True)
LEASE = Kind("Lease", "coordination.k8s.io", "v1", "leases", True)
INGRESS = Kind("Ingress", "networking.k8s.io", "v1", "ingresses", True, ("ing",))
INGRESSCLASS = Kind("IngressClass", "networking.k8s.io", "v1", "ingressclasses", False)

ALL = (NAMESPACE, NODE, POD, EVENT, DEPLOYMENT, REPLICASET, SERVICE, ENDPOINTS, ENDPOINTSLICE, CONFIGMAP, SECRET, LEASE, INGRESS, INGRESSCLASS)
BY_KIND = {k.kind: k for k in ALL}
BY_PLURAL = {(k.group, k.plural): k for k in ALL}
