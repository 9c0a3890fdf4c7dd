"""Validation and defaulting per kind, as the real API server's strategies do them.

Each validator returns the list of field causes; an empty list means valid.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from . import quantity
from .errors import Cause

DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else json.dumps(value, default=str)


def invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause(field, f"Invalid value: {_show(value)}: {detail}", "FieldValueInvalid")


def required(field: str) -> Cause:
    return Cause(field, "Required value", "FieldValueRequired")


def unsupported(field: str, value: Any, allowed: list[str]) -> Cause:
    shown = ", ".join(f'"{a}"' for a in allowed)
    return Cause(field, f"Unsupported value: {_show(value)}: supported values: {shown}", "FieldValueNotSupported")


def validate_name(value: Any, field: str = "metadata.name", *, label: bool = False) -> list[Cause]:
    if value in (None, ""):
        return [required(field)]
    if not isinstance(value, str):
        return [invalid(field, value, "must be a string")]
    limit, pattern, msg = (63, DNS1123_LABEL_RE, LABEL_MSG) if label else (253, DNS1123_SUBDOMAIN_RE, SUBDOMAIN_MSG)
    causes = []
    if len(value) > limit:
        causes.append(invalid(field, value, f"must be no more than {limit} characters"))
    if not pattern.match(value):
        causes.append(invalid(field, value, msg))
    return causes


def validate_metadata(doc: dict, *, name_is_label: bool = False) -> list[Cause]:
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        return [required("metadata")]
    causes = []
    if not meta.get("name") and not meta.get("generateName"):
        causes.append(Cause("metadata.name", "Required value: name or generateName is required", "FieldValueRequired"))
    elif meta.get("name"):
        causes += validate_name(meta["name"], label=name_is_label)
    causes += validate_labels(meta.get("labels"), "metadata.labels")
    annotations = meta.get("annotations")
    if annotations is not None and (not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values())):
        causes.append(invalid("metadata.annotations", annotations, "annotations must be a map of string keys to string values"))
    return causes


def validate_labels(labels: Any, field: str) -> list[Cause]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [invalid(field, labels, "labels must be a map of string keys to string values")]
    causes = []
    for key, value in labels.items():
        name = key.rsplit("/", 1)[-1]
        if not LABEL_NAME_RE.match(name) or len(name) > 63:
            causes.append(invalid(field, key, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE_RE.match(value):
            causes.append(invalid(f"{field}[{key}]", value, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))
    return causes


def validate_pod_spec(spec: Any, field: str) -> list[Cause]:
    if not isinstance(spec, dict):
        return [required(field)]
    containers = spec.get("containers")
    if not containers:
        return [required(f"{field}.containers")]
    if not isinstance(containers, list):
        return [invalid(f"{field}.containers", containers, "must be a list")]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        path = f"{field}.containers[{i}]"
        if not isinstance(container, dict):
            causes.append(invalid(path, container, "must be an object"))
            continue
        name = container.get("name")
        causes += validate_name(name, f"{path}.name", label=True)
        if isinstance(name, str) and name in seen:
            causes.append(Cause(f"{path}.name", f"Duplicate value: {_show(name)}", "FieldValueDuplicate"))
        seen.add(name if isinstance(name, str) else "")
        image = container.get("image")
        if not image or not isinstance(image, str) or not image.strip():
            causes.append(required(f"{path}.image"))
        elif image != image.strip():
            causes.append(invalid(f"{path}.image", image, "must not have leading or trailing whitespace"))
        resources = container.get("resources") or {}
        if not isinstance(resources, dict):
            causes.append(invalid(f"{path}.resources", resources, "must be an object"))
            continue
        for section in ("requests", "limits"):
            values = resources.get(section) or {}
            if not isinstance(values, dict):
                causes.append(invalid(f"{path}.resources.{section}", values, "must be a map of resource names to quantities"))
                continue
            for resource_name, value in values.items():
                rpath = f"{path}.resources.{section}[{resource_name}]"
                if not quantity.is_quantity(value):
                    causes.append(invalid(rpath, value, quantity.QUANTITY_MESSAGE))
                elif quantity.parse(value) < 0:
                    causes.append(invalid(rpath, value, "must be greater than or equal to 0"))
        causes += _validate_request_within_limit(resources, path)
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in ("Always", "OnFailure", "Never"):
        causes.append(unsupported(f"{field}.restartPolicy", policy, ["Always", "OnFailure", "Never"]))
    node_name = spec.get("nodeName")
    if node_name:
        causes += validate_name(node_name, f"{field}.nodeName")
    causes += validate_scheduling(spec, field)
    return causes


def _validate_request_within_limit(resources: dict, path: str) -> list[Cause]:
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    if not isinstance(requests, dict) or not isinstance(limits, dict):
        return []  # already reported as malformed
    causes = []
    for name, limit in limits.items():
        request = requests.get(name)
        if request is None or not (quantity.is_quantity(request) and quantity.is_quantity(limit)):
            continue
        if quantity.parse(request) > quantity.parse(limit):
            causes.append(invalid(f"{path}.resources.requests[{name}]", request, f"must be less than or equal to {name} limit of {limit}"))
    return causes


TOLERATION_OPERATORS = ["Equal", "Exists"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


def validate_scheduling(spec: dict, field: str) -> list[Cause]:
    """nodeSelector, tolerations and node affinity, with the API server's messages (what the
    scheduler reads; cluster/scheduler/ also copes with what gets past this)."""
    causes = validate_labels(spec.get("nodeSelector"), f"{field}.nodeSelector")
    tolerations = spec.get("tolerations")
    if tolerations is not None and not isinstance(tolerations, list):
        causes.append(invalid(f"{field}.tolerations", tolerations, "must be a list"))
    for i, tol in enumerate(tolerations if isinstance(tolerations, list) else []):
        path = f"{field}.tolerations[{i}]"
        if not isinstance(tol, dict):
            causes.append(invalid(path, tol, "must be an object"))
            continue
        key, op, value, effect = (tol.get(k) or "" for k in ("key", "operator", "value", "effect"))
        if key:
            causes += validate_labels({key: ""}, f"{path}.key")
        elif op != "Exists":
            causes.append(invalid(f"{path}.operator", op, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(invalid(f"{path}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("", "Equal"):
            if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE_RE.match(value):
                causes.append(invalid(f"{path}.operator", value, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))
        elif op == "Exists":
            if value:
                causes.append(invalid(f"{path}.operator", tol, "value must be empty when `operator` is 'Exists'"))
        else:
            causes.append(unsupported(f"{path}.operator", op, TOLERATION_OPERATORS))
        if effect and effect not in TAINT_EFFECTS:
            causes.append(unsupported(f"{path}.effect", effect, TAINT_EFFECTS))
    affinity = spec.get("affinity")
    node_affinity = affinity.get("nodeAffinity") if isinstance(affinity, dict) else None
    if not isinstance(node_affinity, dict):
        return causes
    path = f"{field}.affinity.nodeAffinity"
    required_ = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required_ is not None:
        terms = required_.get("nodeSelectorTerms") if isinstance(required_, dict) else None
        terms_path = f"{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
        if not terms or not isinstance(terms, list):
            causes.append(Cause(terms_path, "Required value: must have at least one node selector term", "FieldValueRequired"))
        for i, term in enumerate(terms if isinstance(terms, list) else []):
            causes += _validate_node_selector_term(term, f"{terms_path}[{i}]")
    preferred = node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
    for i, term in enumerate(preferred if isinstance(preferred, list) else []):
        term_path = f"{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        term = term if isinstance(term, dict) else {}
        weight = term.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100:
            causes.append(invalid(f"{term_path}.weight", weight, "must be in the range 1-100"))
        causes += _validate_node_selector_term(term.get("preference") or {}, f"{term_path}.preference")
    return causes


def _validate_node_selector_term(term: Any, path: str) -> list[Cause]:
    if not isinstance(term, dict):
        return [invalid(path, term, "must be an object")]
    causes: list[Cause] = []
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    for j, req in enumerate(expressions if isinstance(expressions, list) else []):
        req_path = f"{path}.matchExpressions[{j}]"
        req = req if isinstance(req, dict) else {}
        op, values = req.get("operator"), req.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                causes.append(Cause(f"{req_path}.values", "Required value: must be specified when `operator` is 'In' or 'NotIn'", "FieldValueRequired"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                causes.append(Cause(f"{req_path}.values", "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'", "FieldValueForbidden"))
        elif op in ("Gt", "Lt"):
            if not isinstance(values, list) or len(values) != 1:
                causes.append(Cause(f"{req_path}.values", "Required value: must be specified single value when `operator` is 'Lt' or 'Gt'", "FieldValueRequired"))
        else:
            causes.append(invalid(f"{req_path}.operator", op, "not a valid selector operator"))
        key = req.get("key")
        causes += validate_labels({key: ""}, f"{req_path}.key") if isinstance(key, str) and key else [invalid(f"{req_path}.key", key or "", "name part must be non-empty")]
    for j, req in enumerate(fields if isinstance(fields, list) else []):
        req_path = f"{path}.matchFields[{j}]"
        req = req if isinstance(req, dict) else {}
        values = req.get("values")
        if req.get("operator") not in ("In", "NotIn"):
            causes.append(invalid(f"{req_path}.operator", req.get("operator"), "not a valid selector operator"))
        elif not isinstance(values, list) or len(values) != 1:
            causes.append(Cause(f"{req_path}.values", "Required value: must be only one value when `operator` is 'In' or 'NotIn' for node field selector", "FieldValueRequired"))
        if req.get("key") != "metadata.name":
            causes.append(invalid(f"{req_path}.key", req.get("key"), "not a valid field selector key"))
    return causes


def validate_pod(doc: dict) -> list[Cause]:
    return validate_metadata(doc) + validate_pod_spec(doc.get("spec"), "spec")


def _validate_selector(spec: dict, template_labels: dict) -> list[Cause]:
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return [required("spec.selector")]
    match = selector.get("matchLabels") or {}
    causes = validate_labels(match, "spec.selector.matchLabels")
    if not causes and any(template_labels.get(k) != v for k, v in match.items()):
        causes.append(invalid("spec.template.metadata.labels", template_labels, "`selector` does not match template `labels`"))
    return causes


def validate_workload(doc: dict) -> list[Cause]:
    """Deployments and ReplicaSets: replicas, selector, template."""
    causes = validate_metadata(doc)
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return causes + [required("spec")]
    replicas = spec.get("replicas", 1)
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        causes.append(invalid("spec.replicas", replicas, "must be an integer"))
    elif replicas < 0:
        causes.append(invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    template = spec.get("template")
    if not isinstance(template, dict):
        return causes + [required("spec.template")]
    tmeta = template.get("metadata") or {}
    if not isinstance(tmeta, dict):
        return causes + [invalid("spec.template.metadata", tmeta, "must be an object")]
    labels = tmeta.get("labels") or {}
    causes += validate_labels(labels, "spec.template.metadata.labels")
    causes += _validate_selector(spec, labels if isinstance(labels, dict) else {})
    causes += validate_pod_spec(template.get("spec"), "spec.template.spec")
    return causes


def validate_node(doc: dict) -> list[Cause]:
    return validate_metadata(doc)


def validate_namespace(doc: dict) -> list[Cause]:
    return validate_metadata(doc, name_is_label=True)


def validate_event(doc: dict) -> list[Cause]:
    causes = validate_metadata(doc)
    if not isinstance(doc.get("involvedObject"), dict):
        causes.append(required("involvedObject"))
    return causes


VALIDATORS: dict[str, Callable[[dict], list[Cause]]] = {
    "Pod": validate_pod,
    "Deployment": validate_workload,
    "ReplicaSet": validate_workload,
    "Node": validate_node,
    "Namespace": validate_namespace,
    "Event": validate_event,
}


# --- defaults -------------------------------------------------------------------------

def default_pod_spec(spec: dict) -> None:
    # Defaults run before validation, so they must leave malformed input for it to report.
    if not isinstance(spec, dict) or not isinstance(spec.get("containers", []), list):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in spec.get("containers", []):
        if not isinstance(container, dict):
            continue
        container.setdefault("resources", {})
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        image = container.get("image") if isinstance(container.get("image"), str) else ""
        tag = image.rsplit("/", 1)[-1]
        default_policy = "Always" if (":" not in tag or tag.endswith(":latest")) and "@" not in tag else "IfNotPresent"
        container.setdefault("imagePullPolicy", default_policy)


def default_workload(doc: dict) -> None:
    spec = doc.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    template = spec.setdefault("template", {})
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        default_pod_spec(template.setdefault("spec", {}))
    if doc.get("kind") == "Deployment":
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        if not isinstance(strategy, dict):
            return
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
    else:
        spec.pop("revisionHistoryLimit", None)


def default(doc: dict) -> None:
    kind = doc.get("kind")
    if kind == "Pod":
        spec = doc.setdefault("spec", {})
        default_pod_spec(spec)
        if isinstance(spec, dict) and isinstance(spec.get("containers", []), list):
            doc.setdefault("status", {"phase": "Pending", "qosClass": qos_class(spec)})
    elif kind in ("Deployment", "ReplicaSet"):
        default_workload(doc)
        doc.setdefault("status", {})
    elif kind == "Namespace":
        doc.setdefault("spec", {"finalizers": ["kubernetes"]})
        doc.setdefault("status", {"phase": "Active"})


def qos_class(spec: dict) -> str:
    containers = spec.get("containers", [])
    any_set = False
    guaranteed = bool(containers)
    for c in containers:
        res = c.get("resources") if isinstance(c, dict) and isinstance(c.get("resources"), dict) else {}
        # Defaults run before validation: malformed sections count as empty here.
        req, lim = (v if isinstance(v, dict) else {} for v in (res.get("requests"), res.get("limits")))
        any_set = any_set or bool(req) or bool(lim)
        for name in ("cpu", "memory"):
            if name not in lim or (name in req and req[name] != lim[name]):
                guaranteed = False
    if guaranteed:
        return "Guaranteed"
    return "Burstable" if any_set else "BestEffort"
