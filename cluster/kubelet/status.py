"""The pod status the kubelet reports: container states, phase and conditions.

Phase follows the kubelet's getPhase: Pending while a container has not yet started,
Running while one runs or is being restarted, Succeeded or Failed once every container has
ended and none will be restarted (restartPolicy).
"""
from __future__ import annotations

import hashlib

from cluster.apimachinery import pods


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def container_id(pod_uid: str, name: str, restarts: int, boot_id: str) -> str:
    """The runtime's id of a container: new for every restart and every boot of its node."""
    if not boot_id and not restarts:
        return "containerd://" + digest(pod_uid + name)
    return "containerd://" + digest(f"{pod_uid}/{name}/{restarts}/{boot_id}")


def statuses(pod: dict) -> list[dict]:
    return (pod.get("status") or {}).get("containerStatuses") or []


def of(pod: dict, name: str) -> dict | None:
    return next((s for s in statuses(pod) if s.get("name") == name), None)


def spec_of(pod: dict, name: str) -> dict | None:
    return next((c for c in pod["spec"].get("containers") or [] if c.get("name") == name), None)


def state_name(status: dict) -> str:
    state = status.get("state") or {}
    for name in ("running", "terminated", "waiting"):
        if name in state:
            return name
    return "waiting"


def waiting_reason(status: dict) -> str:
    return ((status.get("state") or {}).get("waiting") or {}).get("reason", "")


def has_run(status: dict) -> bool:
    """The container ran before (it is being restarted, or ended)."""
    return bool((status.get("lastState") or {}).get("terminated")) or state_name(status) == "terminated" or int(status.get("restartCount") or 0) > 0


def wants_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def phase(pod: dict) -> str:
    """The kubelet's getPhase for a pod whose containers have these states."""
    running = waiting = stopped = succeeded = 0
    for status in statuses(pod):
        state = state_name(status)
        if state == "running":
            running += 1
        elif state == "terminated":
            stopped += 1
            if (status["state"]["terminated"] or {}).get("exitCode", 0) == 0:
                succeeded += 1
        elif (status.get("lastState") or {}).get("terminated"):
            stopped += 1
        else:
            waiting += 1
    policy = pod["spec"].get("restartPolicy", "Always")
    if waiting > 0 or not statuses(pod):
        return "Pending"
    if running > 0 or policy == "Always":
        return "Running"  # with Always, every container that ended is being restarted
    if stopped == succeeded:
        return "Succeeded"
    if policy == "Never":
        return "Failed"
    return "Running"  # OnFailure: the failed ones are being restarted


def not_ready_message(pod: dict, unready: list[str]) -> str:
    return f"containers with unready status: [{' '.join(unready)}]"


def settle(doc: dict) -> None:
    """Recompute phase and the Ready conditions from the container statuses."""
    status = doc.setdefault("status", {})
    status["phase"] = phase(doc)
    if status["phase"] in ("Succeeded", "Failed"):
        pods.set_condition(doc, "ContainersReady", "False", "PodCompleted")
        pods.set_condition(doc, "Ready", "False", "PodCompleted")
        return
    unready = [s["name"] for s in statuses(doc) if not s.get("ready")]
    if unready:
        message = not_ready_message(doc, unready)
        pods.set_condition(doc, "ContainersReady", "False", "ContainersNotReady", message)
        pods.set_condition(doc, "Ready", "False", "ContainersNotReady", message)
    else:
        pods.set_condition(doc, "ContainersReady", "True")
        pods.set_condition(doc, "Ready", "True")
