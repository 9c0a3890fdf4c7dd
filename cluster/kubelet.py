"""The kubelet of each node, and the container runtime it drives.

The worker side runs as a workflow: admit → sandbox and IP → pull → create → start →
ready, each stage its own status write or event through the API server, each waiting the
cluster's stage time after the one before (invariant 6). `sync_pod` is level-triggered: it
reads the pod and its events, works out the next stage from them, and does just that one.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from django.db.models import Max, Q

from . import events, kinds, narration, pods, store
from .models import Cluster, Object

# A small catalogue of real images and their sizes; others count as 50 MB.
IMAGE_BYTES = {
    "nginx": 72_000_000,
    "busybox": 4_300_000,
    "redis": 45_000_000,
    "httpd": 58_000_000,
    "alpine": 3_500_000,
    "python": 370_000_000,
    "postgres": 150_000_000,
    "node": 390_000_000,
}
RUNTIME = "containerd://1.7.24"


def image_size(image: str) -> int:
    repo = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return IMAGE_BYTES.get(repo, 50_000_000)


def image_ref(image: str) -> str:
    """Where the runtime says an image came from: docker.io/library/nginx:latest."""
    name = image.split("@", 1)[0]
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    if "/" not in name:
        name = "library/" + name
    if "." not in name.split("/", 1)[0]:
        name = "docker.io/" + name
    return name


@dataclass
class Stage:
    name: str
    apply: Callable[[Cluster, dict, dict], None]


def _node(cluster: Cluster, name: str) -> dict | None:
    return store.find(cluster, kinds.NODE, "", name)


def _containers(pod: dict) -> list[dict]:
    return pod["spec"].get("containers", [])


# --- stages -------------------------------------------------------------------------

def _admit(cluster: Cluster, pod: dict, node: dict) -> None:
    node_name = node["metadata"]["name"]
    host_ip = next((a["address"] for a in node.get("status", {}).get("addresses", []) if a.get("type") == "InternalIP"), "")

    def apply(doc: dict) -> None:
        status = doc.setdefault("status", {})
        status["phase"] = "Pending"
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
        status["startTime"] = store.rfc3339()
        pods.set_condition(doc, "PodReadyToStartContainers", "False")
        pods.set_condition(doc, "Initialized", "True")
        pods.set_condition(doc, "Ready", "False", "ContainersNotReady", _not_ready_message(doc))
        pods.set_condition(doc, "ContainersReady", "False", "ContainersNotReady", _not_ready_message(doc))
        pods.set_condition(doc, "PodScheduled", "True")
        status["containerStatuses"] = [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {"waiting": {"reason": "ContainerCreating"}},
                "lastState": {},
            }
            for c in _containers(doc)
        ]

    _write(cluster, pod, apply, narration.admitted(pod, node_name))


def _not_ready_message(pod: dict) -> str:
    names = " ".join(c["name"] for c in _containers(pod))
    return f"containers with unready status: [{names}]"


def _sandbox(cluster: Cluster, pod: dict, node: dict) -> None:
    ip = _free_ip(cluster, node)

    def apply(doc: dict) -> None:
        doc["status"]["podIP"] = ip
        doc["status"]["podIPs"] = [{"ip": ip}]
        pods.set_condition(doc, "PodReadyToStartContainers", "True")

    _write(cluster, pod, apply, narration.sandbox(pod, node["metadata"]["name"], ip))


def _free_ip(cluster: Cluster, node: dict) -> str:
    network = ipaddress.ip_network(node["spec"].get("podCIDR", "10.244.0.0/24"))
    on_node = Object.objects.filter(cluster=cluster, kind="Pod", node_name=node["metadata"]["name"])
    taken = set(on_node.values_list("doc__status__podIP", flat=True))
    for host in list(network.hosts())[1:]:  # .1 is the node's bridge
        if str(host) not in taken:
            return str(host)
    raise RuntimeError(f"no free pod IP on {node['metadata']['name']}")


def _on_node(node: dict, image: str) -> bool:
    ref = image_ref(image)
    return any(ref in i.get("names", []) for i in (node.get("status") or {}).get("images", []))


def _needs_pull(node: dict, container: dict) -> bool:
    return container.get("imagePullPolicy") == "Always" or not _on_node(node, container["image"])


def _already_present(cluster: Cluster, pod: dict, host: str, c: dict) -> None:
    events.record(cluster, pod, "Pulled", f'Container image "{c["image"]}" already present on machine', by=store.KUBELET, component="kubelet", host=host, field_path=f"spec.containers{{{c['name']}}}")


def _pull_start(cluster: Cluster, pod: dict, node: dict) -> None:
    host = node["metadata"]["name"]
    pulling = [c for c in _containers(pod) if _needs_pull(node, c)]
    for c in _containers(pod):
        if c in pulling:
            events.record(cluster, pod, "Pulling", f'Pulling image "{c["image"]}"', by=store.KUBELET, component="kubelet", host=host, field_path=f"spec.containers{{{c['name']}}}")
        elif not pulling:
            # A "Pulled" now ends the pull stage: while any image is still pulling, the
            # present ones are reported with the pulled ones, in the next stage.
            _already_present(cluster, pod, host, c)


def _pull_done(cluster: Cluster, pod: dict, node: dict) -> None:
    host = node["metadata"]["name"]
    seconds = cluster.stage_seconds
    for c in _containers(pod):
        if not _needs_pull(node, c):
            _already_present(cluster, pod, host, c)
            continue
        size = image_size(c["image"])
        events.record(
            cluster, pod, "Pulled",
            f'Successfully pulled image "{c["image"]}" in {seconds:.3f}s ({seconds:.3f}s including waiting). Image size: {size} bytes.',
            by=store.KUBELET, component="kubelet", host=host, field_path=f"spec.containers{{{c['name']}}}",
        )
    missing = [c["image"] for c in _containers(pod) if not _on_node(node, c["image"])]
    if missing:

        def remember(doc: dict) -> None:
            images = doc.setdefault("status", {}).setdefault("images", [])
            for image in missing:
                if not any(image_ref(image) in i.get("names", []) for i in images):
                    images.append({"names": [image_ref(image)], "sizeBytes": image_size(image)})

        store.mutate(cluster, kinds.NODE, "", host, remember, by=store.KUBELET)


def _create(cluster: Cluster, pod: dict, node: dict) -> None:
    for c in _containers(pod):
        events.record(cluster, pod, "Created", f"Created container: {c['name']}", by=store.KUBELET, component="kubelet", host=node["metadata"]["name"], field_path=f"spec.containers{{{c['name']}}}")


def _start(cluster: Cluster, pod: dict, node: dict) -> None:
    host = node["metadata"]["name"]
    for c in _containers(pod):
        events.record(cluster, pod, "Started", f"Started container {c['name']}", by=store.KUBELET, component="kubelet", host=host, field_path=f"spec.containers{{{c['name']}}}")
    started_at = store.rfc3339()

    def apply(doc: dict) -> None:
        doc["status"]["phase"] = "Running"
        for status in doc["status"].get("containerStatuses", []):
            status["state"] = {"running": {"startedAt": started_at}}
            status["started"] = True
            status["imageID"] = image_ref(status["image"]) + "@sha256:" + _fake_digest(status["image"])
            status["containerID"] = "containerd://" + _fake_digest(doc["metadata"]["uid"] + status["name"])

    _write(cluster, pod, apply, narration.running(pod, host))


def _fake_digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _ready(cluster: Cluster, pod: dict, node: dict) -> None:
    def apply(doc: dict) -> None:
        pods.set_condition(doc, "ContainersReady", "True")
        pods.set_condition(doc, "Ready", "True")
        for status in doc["status"].get("containerStatuses", []):
            status["ready"] = True

    _write(cluster, pod, apply, narration.ready(pod, node["metadata"]["name"]))


def _stop(cluster: Cluster, pod: dict, node: dict) -> None:
    host = node["metadata"]["name"] if node else ""
    running = [s for s in (pod.get("status") or {}).get("containerStatuses", []) if "running" in s.get("state", {})]
    for s in running:
        events.record(cluster, pod, "Killing", f"Stopping container {s['name']}", by=store.KUBELET, component="kubelet", host=host, field_path=f"spec.containers{{{s['name']}}}")
    finished = store.rfc3339()

    def apply(doc: dict) -> None:
        pods.set_condition(doc, "Ready", "False", "PodCompleted")
        pods.set_condition(doc, "ContainersReady", "False", "PodCompleted")
        for status in doc["status"].get("containerStatuses", []):
            started = status.get("state", {}).get("running", {}).get("startedAt", finished)
            status["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": finished, "containerID": status.get("containerID", "")}}
            status["ready"] = False
            status["started"] = False

    store.mutate(cluster, kinds.POD, pod["metadata"]["namespace"], pod["metadata"]["name"], apply, by=store.KUBELET, expected_uid=pod["metadata"]["uid"])


def _forget(cluster: Cluster, pod: dict, node: dict) -> None:
    store.remove(cluster, kinds.POD, pod["metadata"]["namespace"], pod["metadata"]["name"], by=store.KUBELET, expected_uid=pod["metadata"]["uid"])


def _write(cluster: Cluster, pod: dict, apply: Callable[[dict], None], step: store.StepRecord) -> None:
    store.mutate(
        cluster, kinds.POD, pod["metadata"]["namespace"], pod["metadata"]["name"], apply,
        by=store.KUBELET, expected_uid=pod["metadata"]["uid"], steps=lambda doc, rev: [step],
    )


# --- the loop -----------------------------------------------------------------------

def next_stage(pod: dict, reasons: set[str]) -> Stage | None:
    """What the kubelet does next for this pod, read from the pod and its events alone."""
    status = pod.get("status") or {}
    if pod["metadata"].get("deletionTimestamp"):
        running = any("running" in s.get("state", {}) for s in status.get("containerStatuses", []))
        return Stage("stop", _stop) if running else Stage("remove", _forget)
    if pods.is_terminal(pod):
        return None
    if not status.get("hostIP"):
        return Stage("admit", _admit)
    if not status.get("podIP"):
        return Stage("sandbox", _sandbox)
    if "Pulling" not in reasons and "Pulled" not in reasons:
        return Stage("pull", _pull_start)
    if "Pulled" not in reasons:
        return Stage("pulled", _pull_done)
    if "Created" not in reasons:
        return Stage("create", _create)
    if "Started" not in reasons or status.get("phase") != "Running":
        return Stage("start", _start)
    if not pods.is_ready(pod):
        return Stage("ready", _ready)
    return None


def _last_progress(cluster: Cluster, uid: str) -> datetime | None:
    return Object.objects.filter(Q(uid=uid) | Q(kind="Event", owner_uid=uid), cluster=cluster).aggregate(last=Max("updated"))["last"]


def _step(cluster: Cluster, node_name: str, uid: str, expected: str | None = None) -> bool:
    """Under the lock: read the pod and apply its next stage (only if it is `expected`,
    when given). True if a stage was applied."""
    pod = store.by_uid(cluster, uid)
    if pod is None or pod["kind"] != "Pod" or pod["spec"].get("nodeName") != node_name:
        return False
    stage = next_stage(pod, set(events.reasons_for(cluster, uid)))
    if stage is None or (expected is not None and stage.name != expected):
        return False
    node = _node(cluster, node_name)
    if node is None:
        return False
    stage.apply(cluster, pod, node)
    return True


def sync_pod(cluster: Cluster, node_name: str, uid: str) -> float | None:
    """Do the next stage for one pod if it is due.

    Returns None when the pod needs nothing more, 0 when another stage is due at once, or
    the seconds to wait before the next one.
    """
    pod = store.by_uid(cluster, uid)
    if pod is None or pod["kind"] != "Pod" or pod["spec"].get("nodeName") != node_name:
        return None
    stage = next_stage(pod, set(events.reasons_for(cluster, uid)))
    if stage is None:
        return None
    wait = cluster.stage_seconds
    if stage.name == "remove":
        wait = min(wait, float(pod["metadata"].get("deletionGracePeriodSeconds") or 0))
    if wait > 0:
        last = _last_progress(cluster, uid)
        remaining = wait - (store.now() - last).total_seconds() if last else 0
        if remaining > 0.001:
            return remaining
    with store.locked(cluster):
        # Re-read under the lock: another run may have done this stage meanwhile.
        _step(cluster, node_name, uid, expected=stage.name)
    return 0.0


def run_due_stages(cluster: Cluster, node_name: str, uid: str) -> float | None:
    """What the kubelet task runs: every stage that is due now.

    Paced, that is one stage (then `sync_pod`'s wait). At instant speed every stage is due
    at once, so they run back to back in one transaction — still one write, one revision
    and one recorded step each, published together when it commits.
    """
    if cluster.stage_seconds > 0:
        return sync_pod(cluster, node_name, uid)
    with store.locked(cluster):
        node = _node(cluster, node_name)
        while node is not None:
            pod = store.by_uid(cluster, uid)
            if pod is None or pod["kind"] != "Pod" or pod["spec"].get("nodeName") != node_name:
                break
            stage = next_stage(pod, set(events.reasons_for(cluster, uid)))
            if stage is None:
                break
            stage.apply(cluster, pod, node)
            if stage.name == "pulled":
                node = _node(cluster, node_name)  # it now lists the pulled image
    return None


def pods_needing_work(cluster: Cluster) -> list[tuple[str, str]]:
    """(node, uid) of every bound pod that is not yet Ready or is being deleted."""
    out = []
    for pod in store.list_docs(cluster, kinds.POD):
        node = pod["spec"].get("nodeName")
        if not node:
            continue
        if pod["metadata"].get("deletionTimestamp") or (not pods.is_terminal(pod) and not pods.is_ready(pod)):
            out.append((node, pod["metadata"]["uid"]))
    return out
