"""Readiness and liveness probes, whose outcome a learner decides with an annotation.

As in Kubernetes, a container with no probe of a kind counts as passing it: Ready as soon
as it has started, never restarted for its health. A container that declares a probe
passes it unless its pod carries the annotation saying otherwise:

    kubectl annotate pod web podflow.dev/readiness=fail --overwrite   # Ready=False
    kubectl annotate pod web podflow.dev/liveness=fail --overwrite    # restarted
    kubectl annotate pod web podflow.dev/readiness=pass --overwrite   # Ready again

The probe then fails as its kind of check would (an HTTP 503, a refused connection, a
command's exit code), after failureThreshold × periodSeconds of Kubernetes time.
"""
from __future__ import annotations

READINESS = "readiness"
LIVENESS = "liveness"
ANNOTATION = {READINESS: "podflow.dev/readiness", LIVENESS: "podflow.dev/liveness"}
FAILING = {"fail", "failing", "false", "0", "no"}


def declared(container: dict, kind: str) -> dict | None:
    probe = container.get(f"{kind}Probe")
    return probe if isinstance(probe, dict) else None


def failing(pod: dict, container: dict, kind: str) -> bool:
    """The probe of `kind` is declared and the pod's annotation says it fails."""
    if declared(container, kind) is None:
        return False
    value = (pod["metadata"].get("annotations") or {}).get(ANNOTATION[kind], "")
    return str(value).strip().lower() in FAILING


def _int(probe: dict, field: str, default: int, least: int = 0) -> int:
    value = probe.get(field)
    return max(value, least) if isinstance(value, int) and not isinstance(value, bool) else default


def initial_delay(probe: dict) -> int:
    return _int(probe, "initialDelaySeconds", 0)


def time_to_fail(probe: dict) -> int:
    """Kubernetes seconds from the first failed probe until the kubelet acts on it."""
    return _int(probe, "failureThreshold", 3, 1) * _int(probe, "periodSeconds", 10, 1)


def _port(container: dict, port) -> str:
    if isinstance(port, str) and not port.isdigit():
        for p in container.get("ports") or []:
            if isinstance(p, dict) and p.get("name") == port:
                return str(p.get("containerPort", port))
    return str(port)


def failure(pod: dict, container: dict, kind: str) -> str:
    """What the kubelet says when the probe fails: `Readiness probe failed: ...`."""
    probe = declared(container, kind) or {}
    ip = (pod.get("status") or {}).get("podIP", "")
    if isinstance(probe.get("httpGet"), dict):
        detail = "HTTP probe failed with statuscode: 503"
    elif isinstance(probe.get("tcpSocket"), dict):
        detail = f"dial tcp {ip}:{_port(container, probe['tcpSocket'].get('port'))}: connect: connection refused"
    elif isinstance(probe.get("grpc"), dict):
        detail = 'service unhealthy (responded with "NOT_SERVING")'
    elif isinstance(probe.get("exec"), dict):
        command = [str(c) for c in probe["exec"].get("command") or []]
        if command[:1] == ["cat"] and len(command) > 1:
            detail = f"cat: can't open '{command[1]}': No such file or directory"
        else:
            detail = f"command {' '.join(command)!r} exited with 1"
    else:
        detail = "probe failed"
    return f"{kind.capitalize()} probe failed: {detail}"
