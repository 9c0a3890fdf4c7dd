"""Validation and defaulting per kind, as the real API server's strategies do them.

Each validator returns the list of field causes; an empty list means valid.
"""
from __future__ import annotations

import json
import re
from typing import Any

from cluster.apimachinery import quantity
from cluster.apimachinery.errors import APIError, Cause

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


def validate_name(value: Any, field: str = "metadata.name", *, label: bool = False, shown: str | None = None) -> list[Cause]:
    """`shown` is the value the causes name, when it is not the one checked (a prefix)."""
    if value in (None, ""):
        return [required(field)]
    if not isinstance(value, str):
        return [invalid(field, value, "must be a string")]
    limit, pattern, msg = (63, DNS1123_LABEL_RE, LABEL_MSG) if label else (253, DNS1123_SUBDOMAIN_RE, SUBDOMAIN_MSG)
    shown = value if shown is None else shown
    causes = []
    if len(value) > limit:
        causes.append(invalid(field, shown, f"must be no more than {limit} characters"))
    if not pattern.match(value):
        causes.append(invalid(field, shown, msg))
    return causes


# apimachinery's TotalAnnotationSizeLimitB: the keys and values of all annotations together.
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
# Kubernetes sets no limit on a pod's containers (etcd's object size bounds them). Ours
# keeps one pod's work bounded — each container has stages, events and status of its own
# (a pod of 5,000 made 20,001 events) — far above what a real pod has (a handful).
MAX_CONTAINERS = 100


def validate_generate_name(prefix: Any, *, label: bool = False) -> list[Cause]:
    """ValidateObjectMeta's check of generateName: a name prefix, so a trailing '-' is
    allowed (apimachinery's maskTrailingDash), and the whole prefix must otherwise be a
    valid name — its length too, though only its first 58 characters are used."""
    field = "metadata.generateName"
    if not isinstance(prefix, str):
        return [invalid(field, prefix, "must be a string")]
    masked = prefix[:-1] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix
    return validate_name(masked, field, label=label, shown=prefix)


def validate_metadata(doc: dict, *, name_is_label: bool = False) -> list[Cause]:
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        return [required("metadata")]
    causes = []
    if not meta.get("name") and not meta.get("generateName"):
        causes.append(Cause("metadata.name", "Required value: name or generateName is required", "FieldValueRequired"))
    elif meta.get("name"):
        causes += validate_name(meta["name"], label=name_is_label)
    if meta.get("generateName") not in (None, ""):
        causes += validate_generate_name(meta["generateName"], label=name_is_label)
    causes += validate_labels(meta.get("labels"), "metadata.labels")
    annotations = meta.get("annotations")
    if annotations is not None and (not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values())):
        causes.append(invalid("metadata.annotations", annotations, "annotations must be a map of string keys to string values"))
    elif annotations and sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items()) > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(Cause("metadata.annotations", f"Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes", "FieldValueTooLong"))
    return causes


def validate_labels(labels: Any, field: str) -> list[Cause]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [invalid(field, labels, "labels must be a map of string keys to string values")]
    causes = []
    for key, value in labels.items():
        if not isinstance(key, str):
            causes.append(invalid(field, key, "label keys must be strings"))
            continue
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
    init = spec.get("initContainers")
    total = len(containers) + (len(init) if isinstance(init, list) else 0)
    if total > MAX_CONTAINERS:
        # One cause, not one per container: the answer stays small whatever was sent.
        return [Cause(f"{field}.containers", f"Too many: {total}: must have at most {MAX_CONTAINERS} items (containers and initContainers together)", "FieldValueTooMany")]
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
        if key and not isinstance(key, str):
            causes.append(invalid(f"{path}.key", key, "must be a string"))
        elif key:
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
    if doc.get("kind") == "Deployment":
        causes += _validate_deployment_spec(spec)
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


PERCENT_RE = re.compile(r"^[0-9]+%$")
PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
DEPLOYMENT_STRATEGIES = ["Recreate", "RollingUpdate"]


def _nonnegative(spec: dict, name: str, field: str) -> list[Cause]:
    value = spec.get(name)
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int):
        return [invalid(field, value, "must be an integer")]
    return [invalid(field, value, "must be greater than or equal to 0")] if value < 0 else []


def _int_or_percent(value: Any, field: str) -> tuple[int | None, list[Cause]]:
    """ValidatePositiveIntOrPercent: the value as a number (a percent's number), and causes."""
    if isinstance(value, str):
        if not PERCENT_RE.match(value):
            return None, [invalid(field, value, PERCENT_MSG)]
        return int(value[:-1]), []
    if isinstance(value, bool) or not isinstance(value, int):
        return None, [invalid(field, value, "must be an integer or percentage (e.g '5%')")]
    if value < 0:
        return value, [invalid(field, value, "must be greater than or equal to 0")]
    return value, []


def _validate_deployment_spec(spec: dict) -> list[Cause]:
    """ValidateDeploymentSpec beyond replicas, selector and template: the strategy, the
    history limit and the progress deadline, with Kubernetes' messages."""
    causes = _nonnegative(spec, "minReadySeconds", "spec.minReadySeconds")
    causes += _nonnegative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        if isinstance(deadline, bool) or not isinstance(deadline, int):
            causes.append(invalid("spec.progressDeadlineSeconds", deadline, "must be an integer"))
        elif deadline <= 0:
            causes.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than 0"))
        else:
            ready = spec.get("minReadySeconds") or 0
            if isinstance(ready, int) and deadline <= ready:
                causes.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    strategy = spec.get("strategy")
    if strategy is None:
        return causes
    if not isinstance(strategy, dict):
        return causes + [invalid("spec.strategy", strategy, "must be an object")]
    type_ = strategy.get("type")
    if type_ not in DEPLOYMENT_STRATEGIES:
        return causes + [unsupported("spec.strategy.type", type_, DEPLOYMENT_STRATEGIES)]
    rolling = strategy.get("rollingUpdate")
    if type_ == "Recreate":
        if rolling is not None:
            causes.append(Cause("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'", "FieldValueForbidden"))
        return causes
    if not isinstance(rolling, dict):
        return causes + [required("spec.strategy.rollingUpdate")] if rolling is None else causes + [invalid("spec.strategy.rollingUpdate", rolling, "must be an object")]
    path = "spec.strategy.rollingUpdate"
    # Defaulting fills an absent one with 25%; validation sees what will be stored.
    unavailable = rolling.get("maxUnavailable", "25%")
    surge = rolling.get("maxSurge", "25%")
    down, found = _int_or_percent(unavailable, f"{path}.maxUnavailable")
    causes += found
    up, found = _int_or_percent(surge, f"{path}.maxSurge")
    causes += found
    if down == 0 and up == 0:
        causes.append(invalid(f"{path}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0"))
    if isinstance(unavailable, str) and down is not None and down > 100:
        causes.append(invalid(f"{path}.maxUnavailable", unavailable, "must not be greater than 100%"))
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


# --- Services, Endpoints, EndpointSlices ------------------------------------------------

DNS1035_LABEL_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
PORT_RANGE_MSG = "must be between 1 and 65535, inclusive"
IANA_SVC_NAME_RE = re.compile(r"^[-a-z0-9]+$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_ip(value: Any, version: int | None = 4) -> bool:
    import ipaddress

    if not isinstance(value, str):
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return version is None or address.version == version


def validate_port_number(value: Any, field: str) -> list[Cause]:
    if not _is_int(value) or not 1 <= value <= 65535:
        return [invalid(field, value, PORT_RANGE_MSG)]
    return []


def validate_port_name(value: Any, field: str) -> list[Cause]:
    """An IANA service name, as a named targetPort or containerPort name must be."""
    if not isinstance(value, str):
        return [invalid(field, value, "must be a string")]
    causes = []
    if len(value) > 15:
        causes.append(invalid(field, value, "must be no more than 15 characters"))
    if not IANA_SVC_NAME_RE.match(value):
        causes.append(invalid(field, value, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"))
    if "--" in value:
        causes.append(invalid(field, value, "must not contain consecutive hyphens"))
    if not re.search(r"[a-z]", value):
        causes.append(invalid(field, value, "must contain at least one letter (a-z)"))
    if value.startswith("-") or value.endswith("-"):
        causes.append(invalid(field, value, "must not begin or end with a hyphen"))
    return causes


def validate_service(doc: dict) -> list[Cause]:
    """The checks of Kubernetes' ValidateService that need no other object.

    Allocation (cluster IPs, node ports: in range, not in use) is cluster/apiserver/registry/services.py's.
    """
    causes = validate_metadata(doc)
    name = (doc.get("metadata") or {}).get("name")
    if isinstance(name, str) and name and not DNS1035_LABEL_RE.match(name):
        causes = [c for c in causes if c.field != "metadata.name"] + [invalid("metadata.name", name, DNS1035_MSG)]
    if isinstance(name, str) and len(name) > 63:
        causes.append(invalid("metadata.name", name, "must be no more than 63 characters"))
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return causes + [required("spec")]
    type_ = spec.get("type", "ClusterIP")
    if type_ not in SERVICE_TYPES:
        return causes + [unsupported("spec.type", type_, SERVICE_TYPES)]
    cluster_ip = spec.get("clusterIP", "")
    headless = cluster_ip == "None"
    if type_ == "ExternalName":
        external = spec.get("externalName")
        if not external:
            causes.append(required("spec.externalName"))
        elif not isinstance(external, str) or len(external) > 253 or not DNS1123_SUBDOMAIN_RE.match(external.rstrip(".")):
            causes.append(invalid("spec.externalName", external, SUBDOMAIN_MSG))
        if cluster_ip or spec.get("clusterIPs"):
            causes.append(Cause("spec.clusterIPs", "Forbidden: may not be set for ExternalName services", "FieldValueForbidden"))
    else:
        cluster_ips = spec.get("clusterIPs")
        if cluster_ips is not None and (not isinstance(cluster_ips, list) or not all(isinstance(ip, str) for ip in cluster_ips) or len(cluster_ips) > 2):
            causes.append(invalid("spec.clusterIPs", cluster_ips, "must be a list of at most two IP addresses"))
        elif cluster_ips and cluster_ip and cluster_ips[0] != cluster_ip:
            causes.append(invalid("spec.clusterIPs[0]", cluster_ips[0], "must match `clusterIP` when both are specified"))
        elif cluster_ips and not cluster_ip:
            cluster_ip = cluster_ips[0]
            headless = cluster_ip == "None"
        if not isinstance(cluster_ip, str) or (cluster_ip and not headless and not is_ip(cluster_ip, None)):
            causes.append(invalid("spec.clusterIPs[0]", cluster_ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        if headless and type_ in ("NodePort", "LoadBalancer"):
            causes.append(invalid("spec.clusterIPs[0]", cluster_ip, f"may not be set to 'None' for {type_} services"))
    causes += _validate_service_ports(spec, type_, headless)
    selector = spec.get("selector")
    if selector is not None:
        causes += validate_labels(selector, "spec.selector")
    affinity = spec.get("sessionAffinity", "None")
    if affinity not in ("ClientIP", "None"):
        causes.append(unsupported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    external_policy = spec.get("externalTrafficPolicy")
    if external_policy:
        if type_ not in ("NodePort", "LoadBalancer"):
            causes.append(invalid("spec.externalTrafficPolicy", external_policy, "may only be set for externally-accessible services"))
        elif external_policy not in ("Cluster", "Local"):
            causes.append(unsupported("spec.externalTrafficPolicy", external_policy, ["Cluster", "Local"]))
    internal_policy = spec.get("internalTrafficPolicy")
    if internal_policy and internal_policy not in ("Cluster", "Local"):
        causes.append(unsupported("spec.internalTrafficPolicy", internal_policy, ["Cluster", "Local"]))
    external_ips = spec.get("externalIPs") or []
    for i, ip in enumerate(external_ips if isinstance(external_ips, list) else [external_ips]):
        if not is_ip(ip, None):
            causes.append(invalid(f"spec.externalIPs[{i}]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    lb_ip = spec.get("loadBalancerIP")
    if lb_ip:
        if type_ != "LoadBalancer":
            causes.append(Cause("spec.loadBalancerIP", "Forbidden: may only be used when `type` is 'LoadBalancer'", "FieldValueForbidden"))
        elif not is_ip(lb_ip, None):
            causes.append(invalid("spec.loadBalancerIP", lb_ip, "must be a valid IP address"))
    return causes


def _validate_service_ports(spec: dict, type_: str, headless: bool) -> list[Cause]:
    ports = spec.get("ports")
    if ports is None or ports == []:
        if type_ != "ExternalName" and not headless:
            return [required("spec.ports")]
        return []
    if not isinstance(ports, list):
        return [invalid("spec.ports", ports, "must be a list")]
    causes: list[Cause] = []
    names: set[str] = set()
    seen: set[tuple] = set()
    node_ports: set[tuple] = set()
    for i, port in enumerate(ports):
        path = f"spec.ports[{i}]"
        if not isinstance(port, dict):
            causes.append(invalid(path, port, "must be an object"))
            continue
        name = port.get("name", "")
        if len(ports) > 1 and not name:
            causes.append(required(f"{path}.name"))
        elif name:
            causes += validate_name(name, f"{path}.name", label=True)
            if isinstance(name, str) and name in names:
                causes.append(Cause(f"{path}.name", f"Duplicate value: {_show(name)}", "FieldValueDuplicate"))
            names.add(name if isinstance(name, str) else "")
        number = port.get("port")
        if number is None:
            causes.append(required(f"{path}.port"))
        else:
            causes += validate_port_number(number, f"{path}.port")
        protocol = port.get("protocol", "TCP")
        if protocol not in PROTOCOLS:
            causes.append(unsupported(f"{path}.protocol", protocol, PROTOCOLS))
            protocol = _show(protocol)  # hashable, for the duplicate checks below
        target = port.get("targetPort")
        if _is_int(target):
            causes += validate_port_number(target, f"{path}.targetPort")
        elif isinstance(target, str) and target:
            causes += validate_port_name(target, f"{path}.targetPort")
        elif target not in (None, "", 0):
            causes.append(invalid(f"{path}.targetPort", target, "must be an integer or a port name"))
        node_port = port.get("nodePort")
        if node_port not in (None, 0):
            if not _is_int(node_port):
                causes.append(invalid(f"{path}.nodePort", node_port, "must be an integer"))
            elif type_ in ("ClusterIP", "ExternalName"):
                causes.append(Cause(f"{path}.nodePort", f"Forbidden: may not be used when `type` is '{type_}'", "FieldValueForbidden"))
            elif (node_port, protocol) in node_ports:
                causes.append(Cause(f"{path}.nodePort", f"Duplicate value: {node_port}", "FieldValueDuplicate"))
            node_ports.add((node_port, protocol))
        key = (number, protocol)
        if not isinstance(protocol, str) or not _is_int(number):
            continue  # reported above; not a key to compare
        if key in seen:
            causes.append(Cause(path, f"Duplicate value: {_show({'port': number, 'protocol': protocol})}", "FieldValueDuplicate"))
        seen.add(key)
    return causes


def _items(value: Any, field: str, causes: list[Cause]) -> list:
    """A list field's entries; anything else is reported and read as empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        causes.append(invalid(field, value, "must be a list"))
        return []
    return value


def validate_endpoints(doc: dict) -> list[Cause]:
    causes = validate_metadata(doc)
    for i, subset in enumerate(_items(doc.get("subsets"), "subsets", causes)):
        path = f"subsets[{i}]"
        if not isinstance(subset, dict):
            causes.append(invalid(path, subset, "must be an object"))
            continue
        for section in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(_items(subset.get(section), f"{path}.{section}", causes)):
                ip = address.get("ip") if isinstance(address, dict) else address
                if not is_ip(ip, None):
                    causes.append(invalid(f"{path}.{section}[{j}].ip", ip, "must be a valid IP address"))
        for j, port in enumerate(_items(subset.get("ports"), f"{path}.ports", causes)):
            port = port if isinstance(port, dict) else {}
            causes += validate_port_number(port.get("port"), f"{path}.ports[{j}].port")
            if port.get("protocol", "TCP") not in PROTOCOLS:
                causes.append(unsupported(f"{path}.ports[{j}].protocol", port.get("protocol"), PROTOCOLS))
    return causes


ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]


def validate_endpointslice(doc: dict) -> list[Cause]:
    causes = validate_metadata(doc)
    address_type = doc.get("addressType")
    if not address_type:
        causes.append(required("addressType"))
    elif address_type not in ADDRESS_TYPES:
        causes.append(unsupported("addressType", address_type, ADDRESS_TYPES))
    for i, endpoint in enumerate(_items(doc.get("endpoints"), "endpoints", causes)):
        addresses = endpoint.get("addresses") if isinstance(endpoint, dict) else None
        if not addresses or not isinstance(addresses, list):
            causes.append(required(f"endpoints[{i}].addresses"))
            continue
        for j, address in enumerate(addresses):
            if address_type in ("IPv4", "IPv6") and not is_ip(address, 4 if address_type == "IPv4" else 6):
                causes.append(invalid(f"endpoints[{i}].addresses[{j}]", address, f"must be a valid {address_type} address"))
        if not isinstance(endpoint.get("conditions", {}), dict):
            causes.append(invalid(f"endpoints[{i}].conditions", endpoint.get("conditions"), "must be an object"))
    for j, port in enumerate(_items(doc.get("ports"), "ports", causes)):
        port = port if isinstance(port, dict) else {}
        if port.get("port") is not None:
            causes += validate_port_number(port.get("port"), f"ports[{j}].port")
    return causes


# --- Ingresses and IngressClasses (networking.k8s.io/v1) ----------------------------------

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_PATH_SUFFIXES = ("/..", "/.")
WILDCARD_SUBDOMAIN_RE = re.compile(r"^\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
WILDCARD_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist "
    "of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. "
    "'*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
HTTP_PATH_RE = re.compile(r"^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$")


def _subdomain_messages(value: str) -> list[str]:
    """IsDNS1123Subdomain, or IsWildcardDNS1123Subdomain for a value with a '*' (as Ingress hosts are read)."""
    messages = []
    if len(value) > 253:
        messages.append("must be no more than 253 characters")
    if "*" in value:
        if not WILDCARD_SUBDOMAIN_RE.match(value):
            messages.append(WILDCARD_MSG)
    elif not DNS1123_SUBDOMAIN_RE.match(value):
        messages.append(SUBDOMAIN_MSG)
    return messages


def _validate_ingress_backend(backend: Any, field: str) -> list[Cause]:
    """validateIngressBackend: a Service (name and exactly one of port name or number) or a resource."""
    if not isinstance(backend, dict):
        return [invalid(field, backend, "must be an object")]
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [invalid(field, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _validate_typed_reference(resource, f"{field}.resource")
    if service is None:
        return [invalid(field, "", "resource or service backend is required")]
    if not isinstance(service, dict):
        return [invalid(f"{field}.service", service, "must be an object")]
    causes: list[Cause] = []
    name = service.get("name")
    if name in (None, ""):
        causes.append(required(f"{field}.service.name"))
    elif not isinstance(name, str):
        causes.append(invalid(f"{field}.service.name", name, "must be a string"))
    else:
        if not DNS1035_LABEL_RE.match(name):
            causes.append(invalid(f"{field}.service.name", name, DNS1035_MSG))
        if len(name) > 63:
            causes.append(invalid(f"{field}.service.name", name, "must be no more than 63 characters"))
    port = service.get("port")
    if port is not None and not isinstance(port, dict):
        return causes + [invalid(f"{field}.service.port", port, "must be an object")]
    port_name, number = (port or {}).get("name") or "", (port or {}).get("number") or 0
    if port_name and number:
        causes.append(invalid(field, "", "cannot set both port name & port number"))
    elif port_name:
        causes += validate_port_name(port_name, f"{field}.service.port.name")
    elif number:
        causes += validate_port_number(number, f"{field}.service.port.number")
    else:
        causes.append(Cause(field, "Required value: port name or number is required", "FieldValueRequired"))
    return causes


def _validate_typed_reference(ref: Any, field: str) -> list[Cause]:
    """validateIngressTypedLocalObjectReference: kind and name required (a resource backend, a class's parameters)."""
    if not isinstance(ref, dict):
        return [invalid(field, ref, "must be an object")]
    causes: list[Cause] = []
    group = ref.get("apiGroup")
    if group is not None:
        if not isinstance(group, str) or not DNS1123_SUBDOMAIN_RE.match(group) or len(group) > 253:
            causes.append(invalid(f"{field}.apiGroup", group, SUBDOMAIN_MSG))
    for key in ("kind", "name"):
        value = ref.get(key)
        if value in (None, ""):
            causes.append(Cause(f"{field}.{key}", f"Required value: {key} is required", "FieldValueRequired"))
        elif not isinstance(value, str) or value in (".", "..") or "/" in value or "%" in value:
            causes.append(invalid(f"{field}.{key}", value, "may not be '.' or '..' and may not contain '/' or '%'"))
    return causes


def _validate_ingress_path(path: Any, field: str) -> list[Cause]:
    if not isinstance(path, dict):
        return [invalid(field, path, "must be an object")]
    path_type = path.get("pathType")
    if path_type in (None, ""):
        return [Cause(f"{field}.pathType", "Required value: pathType must be specified", "FieldValueRequired")]
    value = path.get("path", "")
    if not isinstance(value, str):
        return [invalid(f"{field}.path", value, "must be a string")]
    causes: list[Cause] = []
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            causes.append(invalid(f"{field}.path", value, "must be an absolute path"))
        for sequence in INVALID_PATH_SEQUENCES if value else ():
            if sequence in value:
                causes.append(invalid(f"{field}.path", value, f"must not contain '{sequence}'"))
        for suffix in INVALID_PATH_SUFFIXES if value else ():
            if value.endswith(suffix):
                causes.append(invalid(f"{field}.path", value, f"cannot end with '{suffix}'"))
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            causes.append(invalid(f"{field}.path", value, "must be an absolute path"))
    else:
        causes.append(unsupported(f"{field}.pathType", path_type, PATH_TYPES))
    return causes + _validate_ingress_backend(path.get("backend"), f"{field}.backend")


def validate_ingress(doc: dict) -> list[Cause]:
    """ValidateIngressCreate / ValidateIngressUpdate of networking/v1, with Kubernetes' messages."""
    causes = validate_metadata(doc)
    spec = {} if doc.get("spec") is None else doc["spec"]  # both kinds' specs are optional structs
    if not isinstance(spec, dict):
        return causes + [invalid("spec", spec, "must be an object")]
    rules = spec.get("rules")
    default_backend = spec.get("defaultBackend")
    if not rules and default_backend is None:
        shown = "[]networking.IngressRule(nil)" if rules is None else "[]networking.IngressRule{}"
        causes.append(Cause("spec", f"Invalid value: {shown}: either `defaultBackend` or `rules` must be specified"))
    if default_backend is not None:
        causes += _validate_ingress_backend(default_backend, "spec.defaultBackend")
    for i, rule in enumerate(_items(rules, "spec.rules", causes)):
        path = f"spec.rules[{i}]"
        if not isinstance(rule, dict):
            causes.append(invalid(path, rule, "must be an object"))
            continue
        host = rule.get("host") or ""
        if not isinstance(host, str):
            causes.append(invalid(f"{path}.host", host, "must be a string"))
        elif host:
            if is_ip(host, None):
                causes.append(invalid(f"{path}.host", host, "must be a DNS name, not an IP address"))
            causes += [invalid(f"{path}.host", host, message) for message in _subdomain_messages(host)]
        http = rule.get("http")
        if http is None:
            continue
        if not isinstance(http, dict):
            causes.append(invalid(f"{path}.http", http, "must be an object"))
            continue
        paths = _items(http.get("paths"), f"{path}.http.paths", causes)
        if not paths:
            causes.append(required(f"{path}.http.paths"))
        for j, entry in enumerate(paths):
            causes += _validate_ingress_path(entry, f"{path}.http.paths[{j}]")
    for i, tls in enumerate(_items(spec.get("tls"), "spec.tls", causes)):
        if not isinstance(tls, dict):
            causes.append(invalid(f"spec.tls[{i}]", tls, "must be an object"))
            continue
        for j, host in enumerate(_items(tls.get("hosts"), f"spec.tls[{i}].hosts", causes)):
            if not isinstance(host, str):
                causes.append(invalid(f"spec.tls[{i}].hosts[{j}]", host, "must be a string"))
                continue
            causes += [invalid(f"spec.tls[{i}].hosts[{j}]", host, message) for message in _subdomain_messages(host)]
        secret = tls.get("secretName")
        if secret not in (None, ""):
            causes += validate_name(secret, f"spec.tls[{i}].secretName")
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        causes += validate_name(class_name, "spec.ingressClassName")
    return causes


def validate_ingressclass(doc: dict) -> list[Cause]:
    causes = validate_metadata(doc)
    spec = {} if doc.get("spec") is None else doc["spec"]  # both kinds' specs are optional structs
    if not isinstance(spec, dict):
        return causes + [invalid("spec", spec, "must be an object")]
    controller = spec.get("controller")
    if controller in (None, ""):
        causes.append(required("spec.controller"))
    elif not isinstance(controller, str):
        causes.append(invalid("spec.controller", controller, "must be a string"))
    else:
        if len(controller) > 250:
            causes.append(Cause("spec.controller", "Too long: may not be more than 250 bytes", "FieldValueTooLong"))
        domain, _, rest = controller.partition("/")
        if not domain or not rest:
            causes.append(invalid("spec.controller", controller, 'must be a domain-prefixed path (such as "acme.io/foo")'))
        else:
            if not DNS1123_SUBDOMAIN_RE.match(domain) or len(domain) > 253:
                causes.append(invalid("spec.controller", domain, SUBDOMAIN_MSG))
            if not HTTP_PATH_RE.match(rest):
                causes.append(invalid("spec.controller", rest, "must be a valid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"))
    parameters = spec.get("parameters")
    if parameters is not None:
        causes += _validate_typed_reference(parameters, "spec.parameters")
        scope = parameters.get("scope") if isinstance(parameters, dict) else None
        namespace = parameters.get("namespace") if isinstance(parameters, dict) else None
        if scope not in (None, "Cluster", "Namespace"):
            causes.append(unsupported("spec.parameters.scope", scope, ["Cluster", "Namespace"]))
        elif scope == "Namespace" and not namespace:
            causes.append(Cause("spec.parameters.namespace", "Required value: `parameters.scope` is set to 'Namespace'", "FieldValueRequired"))
        elif scope == "Cluster" and namespace:
            causes.append(Cause("spec.parameters.namespace", "Forbidden: `parameters.scope` is set to 'Cluster'", "FieldValueForbidden"))
    return causes


def default_ingress(doc: dict) -> None:
    """networking/v1 has no field defaults for an Ingress; its strategy starts a new one with an
    empty status (PrepareForCreate), so `status.loadBalancer` is there to be filled."""
    status = doc.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("loadBalancer", {})


def default_ingressclass(doc: dict) -> None:
    """SetDefaults_IngressClass: parameters without a scope are cluster-scoped."""
    parameters = (doc.get("spec") or {}).get("parameters") if isinstance(doc.get("spec"), dict) else None
    if isinstance(parameters, dict):
        parameters.setdefault("scope", "Cluster")


# --- ConfigMaps and Secrets ----------------------------------------------------------------

CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
    "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)
# The most a ConfigMap or Secret may hold (etcd's request limit is a little over it).
MAX_CONFIG_BYTES = 1024 * 1024
SECRET_TYPE_KEYS = {
    "kubernetes.io/dockercfg": [".dockercfg"],
    "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
    "kubernetes.io/ssh-auth": ["ssh-privatekey"],
    "kubernetes.io/tls": ["tls.crt", "tls.key"],
}


def validate_config_key(key: Any, field: str) -> list[Cause]:
    if not isinstance(key, str) or not key:
        return [invalid(field, key, CONFIG_KEY_MSG)]
    causes = []
    if len(key) > 253:
        causes.append(invalid(field, key, "must be no more than 253 characters"))
    if not CONFIG_KEY_RE.match(key):
        causes.append(invalid(field, key, CONFIG_KEY_MSG))
    if key == ".":
        causes.append(invalid(field, key, "must not be '.'"))
    elif key == "..":
        causes.append(invalid(field, key, "must not be '..'"))
    elif key.startswith(".."):
        causes.append(invalid(field, key, "must not start with '..'"))
    return causes


def _data_size(values: dict, *, encoded: bool) -> int:
    import base64

    total = 0
    for value in values.values():
        total += len(base64.b64decode(value)) if encoded else len(value.encode())
    return total


def validate_configmap(doc: dict) -> list[Cause]:
    causes = validate_metadata(doc)
    data = doc.get("data") or {}
    binary = doc.get("binaryData") or {}
    for key in data:
        causes += validate_config_key(key, f"data[{key}]")
    for key in binary:
        causes += validate_config_key(key, f"binaryData[{key}]")
        if key in data:
            causes.append(invalid(f"binaryData[{key}]", key, "duplicate of key present in data"))
    if _data_size(data, encoded=False) + _data_size(binary, encoded=True) > MAX_CONFIG_BYTES:
        causes.append(Cause("", f"Too long: must have at most {MAX_CONFIG_BYTES} bytes", "FieldValueTooLong"))
    return causes


def validate_secret(doc: dict) -> list[Cause]:
    causes = validate_metadata(doc)
    data = doc.get("data") or {}
    for key in data:
        causes += validate_config_key(key, f"data[{key}]")
    if _data_size(data, encoded=True) > MAX_CONFIG_BYTES:
        causes.append(Cause("data", f"Too long: must have at most {MAX_CONFIG_BYTES} bytes", "FieldValueTooLong"))
    type_ = doc.get("type", "Opaque")
    if not isinstance(type_, str) or not type_:
        causes.append(required("type"))
        type_ = ""
    for key in SECRET_TYPE_KEYS.get(type_, []):
        if key not in data:
            causes.append(required(f"data[{key}]"))
    if type_ == "kubernetes.io/service-account-token" and not ((doc.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/service-account.name"):
        causes.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    return causes


def validate_immutable_data(old: dict, new: dict) -> list[Cause]:
    """A Secret keeps its type; an `immutable` ConfigMap or Secret keeps its data and stays immutable;
    an IngressClass keeps its controller (ValidateIngressClassUpdate)."""
    if old.get("kind") == "IngressClass":
        before = (old.get("spec") or {}).get("controller")
        after = new["spec"].get("controller") if isinstance(new.get("spec"), dict) else None
        return [] if before == after else [invalid("spec.controller", after, "field is immutable")]
    if old.get("kind") not in ("ConfigMap", "Secret"):
        return []
    causes = []
    if old.get("kind") == "Secret" and new.get("type") != old.get("type"):
        causes.append(invalid("type", new.get("type"), "field is immutable"))
    if not old.get("immutable"):
        return causes
    for field in ("data", "binaryData"):
        if (old.get(field) or {}) != (new.get(field) or {}):
            causes.append(Cause(field, "Forbidden: field is immutable when `immutable` is set", "FieldValueForbidden"))
    if not new.get("immutable"):
        causes.append(Cause("immutable", "Forbidden: field is immutable when `immutable` is set", "FieldValueForbidden"))
    return causes


def base64_error(value: str) -> int | None:
    """Where Go's strict base64 decoder (what the API server uses for []byte) fails, or None.

    Line breaks are skipped as Go skips them; the index is into the text as sent.
    """
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    chars = [(i, c) for i, c in enumerate(value) if c not in "\r\n"]
    quantum_start = 0
    for n, (i, c) in enumerate(chars):
        at = n % 4
        if at == 0:
            quantum_start = i
        if c in alphabet:
            continue
        if c != "=" or at < 2:
            return i
        # Padding: "x=" needs "xx==", "xxx=" ends the quantum; nothing may follow.
        rest = [ch for _, ch in chars[n + 1:]]
        if at == 2 and rest[:1] != ["="]:
            return chars[n + 1][0] - 1 if len(chars) > n + 1 else len(value)
        tail = rest[1:] if at == 2 else rest
        if tail:
            return chars[n + (2 if at == 2 else 1)][0]
        return None
    if len(chars) % 4:
        return quantum_start
    return None


def _decode_error(kind: str, detail: str):
    return APIError(400, "BadRequest", f'{kind} in version "v1" cannot be handled as a {kind}: {detail}')


def _check_string_map(doc: dict, kind: str, field: str, go_type: str, *, base64: bool) -> None:
    values = doc.get(field)
    if values is None:
        return
    if not isinstance(values, dict):
        raise _decode_error(kind, f"json: cannot unmarshal {_json_type(values)} into Go struct field {kind}.{field} of type map[string]{go_type}")
    for value in values.values():
        if not isinstance(value, str):
            raise _decode_error(kind, f"json: cannot unmarshal {_json_type(value)} into Go struct field {kind}.{field} of type {go_type}")
        if base64:
            where = base64_error(value)
            if where is not None:
                raise _decode_error(kind, f"illegal base64 data at input byte {where}")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string" if isinstance(value, str) else "null"


def convert_secret(doc: dict) -> None:
    """What decoding a v1 Secret does: `data` must be base64; `stringData` is written into it.

    `stringData` is write-only, as in Kubernetes: it is merged (winning over `data`) and
    never stored. Raises 400 BadRequest as the API server's decoder does.
    """
    import base64

    _check_string_map(doc, "Secret", "data", "[]uint8", base64=True)
    _check_string_map(doc, "Secret", "stringData", "string", base64=False)
    string_data = doc.pop("stringData", None) or {}
    if string_data:
        data = doc.get("data") or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(value.encode()).decode()
        doc["data"] = data
    if not doc.get("type"):
        doc["type"] = "Opaque"


def convert_configmap(doc: dict) -> None:
    _check_string_map(doc, "ConfigMap", "data", "string", base64=False)
    _check_string_map(doc, "ConfigMap", "binaryData", "[]uint8", base64=True)


def validate_lease(doc: dict) -> list[Cause]:
    causes = validate_metadata(doc)
    spec = doc.get("spec")
    if spec is not None and not isinstance(spec, dict):
        causes.append(invalid("spec", spec, "must be an object"))
    elif isinstance(spec, dict):
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0):
            causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    return causes




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
        ports = container.get("ports")
        for port in ports if isinstance(ports, list) else []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")  # SetDefaults_ContainerPort


INT32_MAX = 2**31 - 1


def check_int32(value: Any, *, kind: str, go_field: str) -> None:
    """What decoding a number into a Go int32 field does: a fraction or exponent (1e3,
    2.0) or a number past int32 is refused with 400, as the API server's decoder refuses
    it, before any validation. Replicas are int32 in Kubernetes."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return  # not a number: validation says what is wrong with it
    if isinstance(value, float) or not -(2**31) <= value <= INT32_MAX:
        raise _decode_error(kind, f"json: cannot unmarshal number {_go_number(value)} into Go struct field {go_field} of type int32")


def _go_number(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


def default_workload(doc: dict) -> None:
    spec = doc.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    kind = doc.get("kind") or "Deployment"
    check_int32(spec.get("replicas"), kind=kind, go_field=f"{kind}Spec.spec.replicas")
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


# The DefaultTolerationSeconds admission plugin: every pod tolerates a not-ready or
# unreachable node for 300 s, then the taint eviction controller moves it.
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


def default_pod_tolerations(spec: dict) -> None:
    tolerations = spec.get("tolerations")
    if tolerations is not None and not isinstance(tolerations, list):
        return  # validation reports it
    present = [t for t in tolerations or [] if isinstance(t, dict)]
    missing = [
        d for d in DEFAULT_TOLERATIONS
        if not any(t.get("key") in (d["key"], "", None) and t.get("effect") in ("NoExecute", "", None) for t in present)
    ]
    if missing:
        spec["tolerations"] = list(tolerations or []) + [dict(d) for d in missing]


def default_requests_from_limits(spec: dict) -> None:
    """A container with a limit and no request requests its limit (SetDefaults_Pod)."""
    for container in spec.get("containers") or []:
        resources = container.get("resources") if isinstance(container, dict) else None
        if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
            continue
        requests = resources.setdefault("requests", {})
        if isinstance(requests, dict):
            for name, value in resources["limits"].items():
                requests.setdefault(name, value)


def default_pod(doc: dict) -> None:
    """SetDefaults_Pod and its containers', and the status a new pod starts with."""
    spec = doc.setdefault("spec", {})
    default_pod_spec(spec)
    if isinstance(spec, dict) and isinstance(spec.get("containers", []), list):
        default_requests_from_limits(spec)
        default_pod_tolerations(spec)
        doc.setdefault("status", {"phase": "Pending", "qosClass": qos_class(spec)})

def pod_prepare_for_create(doc: dict) -> None:
    """A new pod's status is the API server's, whatever the client sent (kubectl run sends
    `status: {}`): Pending, with its QoS class. Only the pod's kubelet writes it after."""
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
    doc["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}


def default_service(doc: dict) -> None:
    """SetDefaults_Service, and the status a new Service starts with."""
    spec = doc.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    type_ = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if type_ != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if type_ in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if type_ == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    ports = spec.get("ports")
    for port in ports if isinstance(ports, list) else []:
        if not isinstance(port, dict):
            continue
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, "", 0):
            port["targetPort"] = port.get("port")
    status = doc.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("loadBalancer", {})


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
