"""IngressClasses as the API server reads them: the DefaultIngressClass admission plugin.

An Ingress created without `spec.ingressClassName` (and without the old
`kubernetes.io/ingress.class` annotation) is given the cluster's default class, the
IngressClass annotated `ingressclass.kubernetes.io/is-default-class: "true"`, as
kube-apiserver's DefaultIngressClass plugin does. It runs on create only: an Ingress made
before a default existed keeps no class, as in Kubernetes. When several classes claim to be
the default, the newest wins (Kubernetes 1.30 and later).
"""
from __future__ import annotations

from cluster.apimachinery.errors import Cause, invalid
from cluster.models import Cluster, Object

IS_DEFAULT = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS = "kubernetes.io/ingress.class"


def is_default(ingress_class: dict) -> bool:
    return ((ingress_class.get("metadata") or {}).get("annotations") or {}).get(IS_DEFAULT) == "true"


def default_class(cluster: Cluster) -> str | None:
    """The name of the default IngressClass, or None."""
    defaults = [doc for doc in Object.objects.filter(cluster=cluster, kind="IngressClass").values_list("doc", flat=True) if is_default(doc)]
    if not defaults:
        return None
    newest = max(defaults, key=lambda d: (d["metadata"].get("creationTimestamp") or "", d["metadata"]["name"]))
    return newest["metadata"]["name"]


def class_of(ingress: dict) -> str:
    """The class an Ingress asks for: the field, else the deprecated annotation controllers still honour."""
    spec = ingress.get("spec") if isinstance(ingress.get("spec"), dict) else {}
    name = spec.get("ingressClassName")
    if isinstance(name, str) and name:
        return name
    annotation = ((ingress.get("metadata") or {}).get("annotations") or {}).get(LEGACY_CLASS)
    return annotation if isinstance(annotation, str) else ""


def admit_create(cluster: Cluster, doc: dict) -> None:
    """Mutating admission of a new Ingress (before validation, as in kube-apiserver)."""
    if doc.get("kind") != "Ingress" or not isinstance(doc.get("spec"), dict) or not isinstance(doc.get("metadata"), dict):
        return
    spec = doc["spec"]
    annotations = doc["metadata"].get("annotations") if isinstance(doc["metadata"].get("annotations"), dict) else {}
    if LEGACY_CLASS in annotations:
        if spec.get("ingressClassName") is not None:
            # ValidateIngressCreate: the old way and the new one may not both be used.
            name = doc["metadata"].get("name") or doc["metadata"].get("generateName") or ""
            raise invalid("Ingress", "networking.k8s.io", str(name), [
                Cause(f"annotations.{LEGACY_CLASS}", f'Invalid value: "{annotations[LEGACY_CLASS]}": can not be set when the class field is also set'),
            ])
        return
    if spec.get("ingressClassName") is None:
        default = default_class(cluster)
        if default is not None:
            spec["ingressClassName"] = default
