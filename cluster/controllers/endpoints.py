"""The endpoint and EndpointSlice controllers: which pods a Service sends traffic to.

Both run in the controller manager and are keyed by the Service (namespace/name), as in
Kubernetes. A pass reads the Service and the pods its selector matches and writes what
they should list: an Endpoints object (ready pods under `addresses`, the others under
`notReadyAddresses`) and EndpointSlices (every pod with its `ready`, `serving` and
`terminating` conditions). kube-proxy, and so podflow's simulated requests, read the
slices. A pass that finds them as they should be writes nothing.
"""
from __future__ import annotations

import json

from cluster.apimachinery import kinds, metav1, pods, selectors, wellknown
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.componentbase import isolation
from cluster.models import Cluster, Object

MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER_NAME = "endpointslice-controller.k8s.io"
SERVICE_NAME = wellknown.LABEL_SERVICE_NAME
HEADLESS = "service.kubernetes.io/headless"
MAX_ENDPOINTS_PER_SLICE = 100


# --- what the pods say ----------------------------------------------------------------------

def selects(service: dict, pod: dict) -> bool:
    """A Service's selector is a plain map: every key must match (an empty map selects nothing here,
    as the controllers skip Services without a selector)."""
    selector = (service.get("spec") or {}).get("selector") or {}
    labels = pod["metadata"].get("labels") or {}
    return bool(selector) and selectors.matches_map(selector, labels)


def should_be_listed(pod: dict, *, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: a pod with an IP that has not finished for good."""
    status = pod.get("status") or {}
    if not status.get("podIP"):
        return False
    if not include_terminating and pod["metadata"].get("deletionTimestamp"):
        return False
    policy = pod["spec"].get("restartPolicy", "Always")
    phase = status.get("phase")
    if policy == "Never":
        return phase not in ("Failed", "Succeeded")
    if policy == "OnFailure":
        return phase != "Succeeded"
    return True


def find_port(pod: dict, service_port: dict) -> int | None:
    """The pod's port a Service port's targetPort names: a number as is, a name looked up
    among the containers' ports of the same protocol (None when no container has it)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    protocol = service_port.get("protocol", "TCP")
    for container in pod["spec"].get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return port.get("containerPort")
    return None


def _target_ref(pod: dict) -> dict:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}


def _pod_ports(service: dict, pod: dict) -> list[dict] | None:
    """The endpoint ports of one pod, or None if the Service has ports and the pod none of them."""
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        number = find_port(pod, service_port)
        if number is None:
            continue  # as the real controller: this pod is left out for this port
        port = {"port": number, "protocol": service_port.get("protocol", "TCP")}
        if service_port.get("name"):
            port = {"name": service_port["name"], **port}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    if (service.get("spec") or {}).get("ports") and not ports:
        return None
    return ports


def _ip_key(ip: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in ip.replace(":", ".").split("."))


# --- Endpoints ------------------------------------------------------------------------------

def desired_subsets(service: dict, selected: list[dict]) -> list[dict]:
    """Endpoints subsets: addresses grouped by the ports they serve (RepackSubsets)."""
    publish_not_ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    groups: dict[str, dict] = {}
    for pod in selected:
        if not should_be_listed(pod, include_terminating=publish_not_ready):
            continue
        ports = _pod_ports(service, pod)
        if ports is None:
            continue
        address = {"ip": pod["status"]["podIP"]}
        if pod["spec"].get("nodeName"):
            address["nodeName"] = pod["spec"]["nodeName"]
        address["targetRef"] = _target_ref(pod)
        key = json.dumps(ports, sort_keys=True)
        group = groups.setdefault(key, {"addresses": [], "notReadyAddresses": [], "ports": ports})
        ready = publish_not_ready or pods.is_ready(pod)
        group["addresses" if ready else "notReadyAddresses"].append(address)
    subsets = []
    for key in sorted(groups):
        group = groups[key]
        subset: dict = {}
        for section in ("addresses", "notReadyAddresses"):
            if group[section]:
                subset[section] = sorted(group[section], key=lambda a: (_ip_key(a["ip"]), a["targetRef"]["uid"]))
        if group["ports"]:
            subset["ports"] = group["ports"]
        subsets.append(subset)
    return subsets


def _endpoints_labels(service: dict) -> dict:
    labels = dict(service["metadata"].get("labels") or {})
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS] = ""
    return labels


def sync_endpoints(cluster: Cluster, service: dict, selected: list[dict]) -> None:
    ns, name = service["metadata"]["namespace"], service["metadata"]["name"]
    subsets = desired_subsets(service, selected)
    labels = _endpoints_labels(service)
    current = store.find(cluster, kinds.ENDPOINTS, ns, name)
    if current is None:
        doc = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns}}
        if labels:
            doc["metadata"]["labels"] = labels
        if subsets:
            doc["subsets"] = subsets
        store.create(cluster, doc, by=store.ENDPOINT_CONTROLLER, namespace=ns)
        return

    def apply(doc: dict) -> None:
        if subsets:
            doc["subsets"] = subsets
        else:
            doc.pop("subsets", None)
        if labels:
            doc["metadata"]["labels"] = labels
        else:
            doc["metadata"].pop("labels", None)

    store.mutate(cluster, kinds.ENDPOINTS, ns, name, apply, by=store.ENDPOINT_CONTROLLER)


# --- EndpointSlices -------------------------------------------------------------------------

def desired_slices(service: dict, selected: list[dict]) -> list[tuple[list[dict], list[dict]]]:
    """(ports, endpoints) of each slice: pods grouped by the ports they serve, 100 a slice.

    Unlike Endpoints, slices keep terminating pods (ready false, terminating true), so a
    proxy can drain them.
    """
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[str, tuple[list[dict], list[dict]]] = {}
    for pod in selected:
        if not should_be_listed(pod, include_terminating=True):
            continue
        ports = _pod_ports(service, pod)
        if ports is None:
            continue
        slice_ports = [{"name": p.get("name", ""), **{k: v for k, v in p.items() if k != "name"}} for p in ports]
        serving = pods.is_ready(pod)
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        endpoint: dict = {
            "addresses": [pod["status"]["podIP"]],
            "conditions": {"ready": publish_not_ready or (serving and not terminating), "serving": serving, "terminating": terminating},
        }
        if pod["spec"].get("nodeName"):
            endpoint["nodeName"] = pod["spec"]["nodeName"]
        endpoint["targetRef"] = _target_ref(pod)
        key = json.dumps(slice_ports, sort_keys=True)
        groups.setdefault(key, (slice_ports, []))[1].append(endpoint)
    wanted: list[tuple[list[dict], list[dict]]] = []
    for key in sorted(groups):
        ports, endpoints = groups[key]
        endpoints.sort(key=lambda e: (_ip_key(e["addresses"][0]), e["targetRef"]["uid"]))
        for start in range(0, len(endpoints), MAX_ENDPOINTS_PER_SLICE):
            wanted.append((ports, endpoints[start:start + MAX_ENDPOINTS_PER_SLICE]))
    return wanted or [([], [])]  # a Service with no endpoints keeps one empty slice


def managed_slices(cluster: Cluster, namespace: str, service_name: str) -> list[dict]:
    return [
        s for s in store.list_docs(cluster, kinds.ENDPOINTSLICE, namespace)
        if (s["metadata"].get("labels") or {}).get(SERVICE_NAME) == service_name
        and (s["metadata"].get("labels") or {}).get(MANAGED_BY) == SLICE_CONTROLLER_NAME
    ]


def _slice_labels(service: dict) -> dict:
    return {**_endpoints_labels(service), MANAGED_BY: SLICE_CONTROLLER_NAME, SERVICE_NAME: service["metadata"]["name"]}


def sync_slices(cluster: Cluster, service: dict, selected: list[dict]) -> None:
    ns, name = service["metadata"]["namespace"], service["metadata"]["name"]
    wanted = desired_slices(service, selected)
    labels = _slice_labels(service)
    owner = metav1.owner_reference(service)
    existing = managed_slices(cluster, ns, name)
    # Keep each slice serving the same ports where one exists: fewer writes, stable names.
    unused = list(existing)
    plan: list[tuple[dict | None, list[dict], list[dict]]] = []
    for ports, endpoints in wanted:
        match = next((s for s in unused if (s.get("ports") or []) == ports), None)
        if match is not None:
            unused.remove(match)
        plan.append((match, ports, endpoints))
    for i, (match, ports, endpoints) in enumerate(plan):
        if match is None and unused:
            match = unused.pop(0)
            plan[i] = (match, ports, endpoints)
    for match, ports, endpoints in plan:
        if match is None:
            store.create(
                cluster,
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {"generateName": f"{name}-", "namespace": ns, "labels": labels, "ownerReferences": [owner]},
                    "addressType": "IPv4",
                    "endpoints": endpoints,
                    "ports": ports,
                },
                by=store.ENDPOINTSLICE_CONTROLLER,
                namespace=ns,
            )
            continue

        def apply(doc: dict, ports: list[dict] = ports, endpoints: list[dict] = endpoints) -> None:
            doc["metadata"]["labels"] = labels
            doc["metadata"]["ownerReferences"] = [owner]
            doc["addressType"] = "IPv4"
            doc["endpoints"] = endpoints
            doc["ports"] = ports

        store.mutate(cluster, kinds.ENDPOINTSLICE, ns, match["metadata"]["name"], apply, by=store.ENDPOINTSLICE_CONTROLLER, expected_uid=match["metadata"]["uid"])
    for leftover in unused:
        _remove(cluster, kinds.ENDPOINTSLICE, ns, leftover["metadata"]["name"], store.ENDPOINTSLICE_CONTROLLER, leftover["metadata"]["uid"])


# --- the passes -----------------------------------------------------------------------------

def _remove(cluster: Cluster, kind: kinds.Kind, ns: str, name: str, by: str, uid: str | None = None) -> None:
    try:
        store.remove(cluster, kind, ns, name, by=by, expected_uid=uid)
    except APIError:
        pass  # gone already: that is what we wanted


def reconcile(cluster: Cluster, namespace: str, name: str, *, namespace_pods: list[dict] | None = None) -> None:
    """One pass for the Service namespace/name (which may no longer exist)."""
    with store.locked(cluster):
        service = store.find(cluster, kinds.SERVICE, namespace, name)
        if service is None:
            # Its Endpoints and slices go with it (the slices' ownerReference says so too).
            if store.find(cluster, kinds.ENDPOINTS, namespace, name) is not None:
                _remove(cluster, kinds.ENDPOINTS, namespace, name, store.ENDPOINT_CONTROLLER)
            for leftover in managed_slices(cluster, namespace, name):
                _remove(cluster, kinds.ENDPOINTSLICE, namespace, leftover["metadata"]["name"], store.ENDPOINTSLICE_CONTROLLER, leftover["metadata"]["uid"])
            return
        spec = service.get("spec") or {}
        if not spec.get("selector") or spec.get("type") == "ExternalName":
            # Without a selector the user writes the Endpoints; slices we made before go.
            for leftover in managed_slices(cluster, namespace, name):
                _remove(cluster, kinds.ENDPOINTSLICE, namespace, leftover["metadata"]["name"], store.ENDPOINTSLICE_CONTROLLER, leftover["metadata"]["uid"])
            return
        candidates = namespace_pods if namespace_pods is not None else store.list_docs(cluster, kinds.POD, namespace)
        selected = [p for p in candidates if selects(service, p)]
        sync_endpoints(cluster, service, selected)
        sync_slices(cluster, service, selected)


def reconcile_namespace(cluster: Cluster, namespace: str) -> None:
    """A pod in the namespace changed in a way a Service may care about: a pass for each
    Service there (the ones that do not select it write nothing)."""
    names = list(Object.objects.filter(cluster=cluster, kind="Service", namespace=namespace).order_by("name").values_list("name", flat=True))
    if not names:
        return
    with store.locked(cluster):
        namespace_pods = store.list_docs(cluster, kinds.POD, namespace)
        for name in names:
            # One Service that fails is recorded in the log; the others still get their pass.
            with isolation.isolated(cluster, store.ENDPOINT_CONTROLLER, what=f"service {namespace}/{name}"):
                reconcile(cluster, namespace, name, namespace_pods=namespace_pods)


def namespaces_with_services(cluster: Cluster) -> list[str]:
    """Where the resync runs a namespace pass (one pod listing for all its Services)."""
    return sorted(store.namespaces_of(cluster, kinds.SERVICE))


def orphaned_services(cluster: Cluster) -> list[tuple[str, str]]:
    """Services that are gone but still have slices this controller made (a lost wake-up):
    a pass for each removes their Endpoints and slices. Endpoints alone are not enough to go
    by: a user may write them ahead of a Service without a selector."""
    existing = set(Object.objects.filter(cluster=cluster, kind="Service").values_list("namespace", "name"))
    found = set()
    for slice_doc in store.list_docs(cluster, kinds.ENDPOINTSLICE):
        labels = slice_doc["metadata"].get("labels") or {}
        key = (slice_doc["metadata"]["namespace"], labels.get(SERVICE_NAME, ""))
        if labels.get(MANAGED_BY) == SLICE_CONTROLLER_NAME and key[1] and key not in existing:
            found.add(key)
    return sorted(found)
