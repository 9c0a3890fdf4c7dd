"""Server-side printing: the `Table` kubectl asks for with `Accept: ...;as=Table`.

The columns are the ones a real API server prints for each kind (its printers), so
`kubectl get` shows what it shows against a real cluster.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Protocol

from cluster.apimachinery import metav1, pods

Column = tuple[str, str, int, str]  # name, type, priority, format


def _col(name: str, type_: str = "string", priority: int = 0, fmt: str = "", description: str = "") -> dict:
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


def human_duration(seconds: float) -> str:
    """kubectl's short ages: 45s, 5m3s, 12m, 3h20m, 20h, 2d4h, 30d, 2y."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = (s % 3600) // 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        rest = days % 365
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def age(value: str | None, now: datetime | None = None) -> str:
    moment = metav1.parse_time(value)
    if moment is None:
        return "<unknown>"
    return human_duration(((now or datetime.now(timezone.utc)) - moment).total_seconds())


def _none(value: Any) -> str:
    return str(value) if value not in (None, "", []) else "<none>"


def _selector(selector: dict | None) -> str:
    match = (selector or {}).get("matchLabels") or {}
    parts = [f"{k}={v}" for k, v in sorted(match.items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op = expr.get("operator", "")
        if op in ("In", "NotIn"):
            parts.append(f"{expr['key']} {op.lower()} ({','.join(expr.get('values', []))})")
        elif op == "Exists":
            parts.append(expr["key"])
        elif op == "DoesNotExist":
            parts.append("!" + expr["key"])
    return ",".join(parts) or "<none>"


# --- pods -------------------------------------------------------------------------------

def pod_status_reason(pod: dict) -> str:
    """The STATUS column: kubectl's reading of phase, container states and deletion."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif state.get("terminated"):
            term = state["terminated"]
            reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode', 0)}"
    # Back to Running (or NotReady) if a container that finished sits beside one still running.
    has_running = any("running" in (cs.get("state") or {}) and cs.get("ready") for cs in status.get("containerStatuses") or [])
    if reason == "Completed" and has_running:
        reason = "Running" if pods.is_ready(pod) else "NotReady"
    if pod["metadata"].get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif pod["metadata"].get("deletionTimestamp") and status.get("phase") not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason


def pod_restart_count(pod: dict) -> int:
    """How many times the pod's containers have restarted, all together."""
    return sum(int(cs.get("restartCount", 0)) for cs in (pod.get("status") or {}).get("containerStatuses") or [])


def pod_restarts(pod: dict, now: datetime | None = None) -> int | str:
    """RESTARTS: the count, and how long ago the last restart was ("3 (12s ago)")."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    restarts = pod_restart_count(pod)
    finished = [((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt") for cs in statuses]
    last = max((f for f in finished if metav1.parse_time(f)), default=None)
    return f"{restarts} ({age(last, now)} ago)" if restarts and last else restarts


def pod_ready(pod: dict) -> str:
    """READY: containers ready of the pod's containers ("1/2")."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len(pod["spec"].get("containers", []))
    ready = sum(1 for cs in statuses if cs.get("ready"))
    return f"{ready}/{total}"


def pod_row(pod: dict) -> list:
    return [
        pod["metadata"]["name"],
        pod_ready(pod),
        pod_status_reason(pod),
        pod_restarts(pod),
        age(pod["metadata"].get("creationTimestamp")),
        _none((pod.get("status") or {}).get("podIP")),
        _none(pod["spec"].get("nodeName")),
        "<none>",
        "<none>",
    ]


POD_COLUMNS = [
    _col("Name", fmt="name", description="Name must be unique within a namespace."),
    _col("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", description="The aggregate status of the containers in this pod."),
    _col("Restarts", "string", description="The number of times the containers in this pod have been restarted."),
    _col("Age", description="CreationTimestamp is a timestamp representing the server time when this object was created."),
    _col("IP", priority=1, description="IP address allocated to the pod."),
    _col("Node", priority=1, description="Name of the node this pod is bound to."),
    _col("Nominated Node", priority=1),
    _col("Readiness Gates", priority=1),
]


# --- workloads ----------------------------------------------------------------------------

def _containers(template: dict) -> tuple[str, str]:
    containers = (template.get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def deployment_row(d: dict) -> list:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers(spec.get("template") or {})
    return [
        d["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(d["metadata"].get("creationTimestamp")),
        names,
        images,
        _selector(spec.get("selector")),
    ]


DEPLOYMENT_COLUMNS = [
    _col("Name", fmt="name"),
    _col("Ready", description="Number of the pod with ready state"),
    _col("Up-to-date", "integer", description="Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
    _col("Available", "integer", description="Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
    _col("Age"),
    _col("Containers", priority=1),
    _col("Images", priority=1),
    _col("Selector", priority=1),
]


def replicaset_row(rs: dict) -> list:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers(spec.get("template") or {})
    return [
        rs["metadata"]["name"],
        spec.get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        age(rs["metadata"].get("creationTimestamp")),
        names,
        images,
        _selector(spec.get("selector")),
    ]


REPLICASET_COLUMNS = [
    _col("Name", fmt="name"),
    _col("Desired", "integer"),
    _col("Current", "integer"),
    _col("Ready", "integer"),
    _col("Age"),
    _col("Containers", priority=1),
    _col("Images", priority=1),
    _col("Selector", priority=1),
]


# --- nodes, namespaces, events -------------------------------------------------------------

def node_status(node: dict) -> str:
    ready = pods.condition(node, "Ready")
    state = "Ready" if ready and ready.get("status") == "True" else ("NotReady" if ready else "Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    return state


def node_roles(node: dict) -> str:
    roles = sorted(k.split("/", 1)[1] for k in node["metadata"].get("labels", {}) if k.startswith("node-role.kubernetes.io/") and "/" in k)
    return ",".join(r for r in roles if r) or "<none>"


def node_row(node: dict) -> list:
    status = node.get("status") or {}
    info = status.get("nodeInfo") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    return [
        node["metadata"]["name"],
        node_status(node),
        node_roles(node),
        age(node["metadata"].get("creationTimestamp")),
        info.get("kubeletVersion", ""),
        _none(addresses.get("InternalIP")),
        _none(addresses.get("ExternalIP")),
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


NODE_COLUMNS = [
    _col("Name", fmt="name"),
    _col("Status"),
    _col("Roles"),
    _col("Age"),
    _col("Version"),
    _col("Internal-IP", priority=1),
    _col("External-IP", priority=1),
    _col("OS-Image", priority=1),
    _col("Kernel-Version", priority=1),
    _col("Container-Runtime", priority=1),
]


def namespace_row(ns: dict) -> list:
    return [ns["metadata"]["name"], (ns.get("status") or {}).get("phase", "Active"), age(ns["metadata"].get("creationTimestamp"))]


NAMESPACE_COLUMNS = [_col("Name", fmt="name"), _col("Status"), _col("Age")]


def event_row(event: dict) -> list:
    obj = event.get("involvedObject") or {}
    source = event.get("source") or {}
    src = ", ".join(v for v in (source.get("component"), source.get("host")) if v)
    return [
        age(event.get("lastTimestamp") or event["metadata"].get("creationTimestamp")),
        event.get("type", ""),
        event.get("reason", ""),
        f"{obj.get('kind', '').lower()}/{obj.get('name', '')}",
        event.get("message", ""),
        obj.get("fieldPath", ""),
        src,
        age(event.get("firstTimestamp") or event["metadata"].get("creationTimestamp")),
        event.get("count", 1),
        event["metadata"]["name"],
    ]


EVENT_COLUMNS = [
    _col("Last Seen"),
    _col("Type"),
    _col("Reason"),
    _col("Object"),
    _col("Message"),
    _col("Subobject", priority=1),
    _col("Source", priority=1),
    _col("First Seen", priority=1),
    _col("Count", "integer", priority=1),
    _col("Name", priority=1, fmt="name"),
]

# --- services, endpoints, config ------------------------------------------------------------

def _labels(selector: dict | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((selector or {}).items())) or "<none>"


def service_external_ip(svc: dict) -> str:
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    type_ = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or [])
    if type_ == "ExternalName":
        return spec.get("externalName", "")
    if type_ == "LoadBalancer":
        ingress = [i.get("ip") or i.get("hostname") or "" for i in (status.get("loadBalancer") or {}).get("ingress") or []]
        found = [a for a in ingress if a] + external
        return ",".join(found) if found else "<pending>"
    return ",".join(external) if external else "<none>"


def service_ports(svc: dict) -> str:
    pieces = []
    for port in (svc.get("spec") or {}).get("ports") or []:
        protocol = port.get("protocol", "TCP")
        if port.get("nodePort"):
            pieces.append(f"{port.get('port')}:{port['nodePort']}/{protocol}")
        else:
            pieces.append(f"{port.get('port')}/{protocol}")
    return ",".join(pieces) or "<none>"


def service_row(svc: dict) -> list:
    spec = svc.get("spec") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [
        svc["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        ips[0] if ips else "<none>",
        service_external_ip(svc),
        service_ports(svc),
        age(svc["metadata"].get("creationTimestamp")),
        _labels(spec.get("selector")),
    ]


SERVICE_COLUMNS = [
    _col("Name", fmt="name", description="Name must be unique within a namespace."),
    _col("Type", description="type determines how the Service is exposed."),
    _col("Cluster-IP", description="clusterIP is the IP address of the service and is usually assigned randomly."),
    _col("External-IP", description="externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
    _col("Port(s)", description="The list of ports that are exposed by this service."),
    _col("Age"),
    _col("Selector", priority=1, description="Route service traffic to pods with label keys and values matching this selector."),
]


def _more(items: list[str], count: int, limit: int = 3, empty: str = "<unset>") -> str:
    text = ",".join(items[:limit])
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or empty


def endpoints_list(ep: dict) -> str:
    """kubectl's formatEndpoints: the first three ready ip:port pairs, then a count."""
    subsets = ep.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        if not ports:
            count += len(addresses)
            shown += addresses
            continue
        for port in ports:
            count += len(addresses)
            shown += [f"[{ip}]:{port.get('port')}" if ":" in ip else f"{ip}:{port.get('port')}" for ip in addresses]
    return _more(shown, count, empty="")


def endpoints_row(ep: dict) -> list:
    return [ep["metadata"]["name"], endpoints_list(ep), age(ep["metadata"].get("creationTimestamp"))]


ENDPOINTS_COLUMNS = [
    _col("Name", fmt="name", description="Name must be unique within a namespace."),
    _col("Endpoints", description="The set of all endpoints is the union of all subsets."),
    _col("Age"),
]


def endpointslice_row(es: dict) -> list:
    ports = [str(p["port"]) if p.get("port") is not None else (p.get("name") or "*") for p in es.get("ports") or []]
    addresses = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    return [
        es["metadata"]["name"],
        es.get("addressType", ""),
        _more(ports, len(ports)),
        _more(addresses, len(addresses)),
        age(es["metadata"].get("creationTimestamp")),
    ]


ENDPOINTSLICE_COLUMNS = [
    _col("Name", fmt="name", description="Name must be unique within a namespace."),
    _col("AddressType", description="addressType specifies the type of address carried by this EndpointSlice."),
    _col("Ports", description="ports specifies the list of network ports exposed by each endpoint in this slice."),
    _col("Endpoints", description="endpoints is a list of unique endpoints in this slice."),
    _col("Age"),
]


def configmap_row(cm: dict) -> list:
    return [cm["metadata"]["name"], len(cm.get("data") or {}) + len(cm.get("binaryData") or {}), age(cm["metadata"].get("creationTimestamp"))]


CONFIGMAP_COLUMNS = [_col("Name", fmt="name", description="Name must be unique within a namespace."), _col("Data", "string"), _col("Age")]


def secret_row(secret: dict) -> list:
    return [secret["metadata"]["name"], secret.get("type", "Opaque"), len(secret.get("data") or {}), age(secret["metadata"].get("creationTimestamp"))]


SECRET_COLUMNS = [_col("Name", fmt="name", description="Name must be unique within a namespace."), _col("Type"), _col("Data", "string"), _col("Age")]

def lease_row(lease: dict) -> list:
    return [lease["metadata"]["name"], (lease.get("spec") or {}).get("holderIdentity") or "", age(lease["metadata"].get("creationTimestamp"))]


LEASE_COLUMNS = [_col("Name", fmt="name"), _col("Holder", description="Name of the Lease holder"), _col("Age")]

# --- ingresses ------------------------------------------------------------------------------

LOAD_BALANCER_WIDTH = 16  # the printer clips ADDRESS to this when not wide


def ingress_hosts(ingress: dict) -> str:
    """formatHosts: the first three hosts, "+ N more...", or * when no rule names one."""
    rules = [r for r in ((ingress.get("spec") or {}).get("rules") or []) if isinstance(r, dict)]
    hosts: list[str] = []
    more = False
    for rule in rules:
        more = more or len(hosts) == 3
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def ingress_address(ingress: dict, *, wide: bool = False) -> str:
    """The load balancer's addresses, sorted and de-duplicated as kubectl's set does."""
    points = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    found = sorted({p.get("ip") or p.get("hostname") for p in points if isinstance(p, dict) and (p.get("ip") or p.get("hostname"))})
    text = ",".join(found)
    if not wide and len(text) > LOAD_BALANCER_WIDTH:
        text = text[: LOAD_BALANCER_WIDTH - 3] + "..."
    return text


def ingress_row(ingress: dict) -> list:
    spec = ingress.get("spec") or {}
    return [
        ingress["metadata"]["name"],
        spec.get("ingressClassName") or "<none>",
        ingress_hosts(ingress),
        # kube-apiserver prints its Tables wide (GenerateOptions{Wide: true}): never clipped.
        ingress_address(ingress, wide=True),
        "80, 443" if spec.get("tls") else "80",
        age(ingress["metadata"].get("creationTimestamp")),
    ]


INGRESS_COLUMNS = [
    _col("Name", fmt="name", description="Name must be unique within a namespace."),
    _col("Class", description="The name of the IngressClass resource that should be used for additional configuration"),
    _col("Hosts", description="Hosts that incoming requests are matched against before the ingress rule"),
    _col("Address", description="Address is a list containing ingress points for the load-balancer"),
    _col("Ports", description="Ports of TLS configurations that open"),
    _col("Age"),
]


def ingressclass_row(ingress_class: dict) -> list:
    spec = ingress_class.get("spec") or {}
    name = ingress_class["metadata"]["name"]
    if (ingress_class["metadata"].get("annotations") or {}).get("ingressclass.kubernetes.io/is-default-class") == "true":
        name += " (default)"
    parameters = "<none>"
    if isinstance(spec.get("parameters"), dict):
        ref = spec["parameters"]
        parameters = str(ref.get("kind", "")) + (f".{ref['apiGroup']}" if ref.get("apiGroup") else "") + f"/{ref.get('name', '')}"
    return [name, spec.get("controller", ""), parameters, age(ingress_class["metadata"].get("creationTimestamp"))]


INGRESSCLASS_COLUMNS = [
    _col("Name", fmt="name"),
    _col("Controller"),
    _col("Parameters"),
    _col("Age"),
]



def partial_metadata(doc: dict) -> dict:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": doc.get("metadata", {})}


class Printer(Protocol):
    """A kind's table columns and how it fills a row (its registry entry)."""

    columns: list[dict]

    def row(self, doc: dict) -> list: ...


def table(printer: Printer, docs: list[dict], resource_version: str, *, include_object: str = "Metadata", columns: bool = True) -> dict:
    """A meta.k8s.io/v1 Table of `docs`. `include_object`: None, Metadata or Object."""
    definitions, row_of = printer.columns, printer.row
    rows = []
    for doc in docs:
        row: dict[str, Any] = {"cells": row_of(doc)}
        if include_object == "Object":
            row["object"] = doc
        elif include_object != "None":
            row["object"] = partial_metadata(doc)
        rows.append(row)
    body: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version}}
    if columns:
        body["columnDefinitions"] = definitions
    body["rows"] = rows
    return body


def wants_table(accept: str) -> bool:
    return "as=Table" in (accept or "")
