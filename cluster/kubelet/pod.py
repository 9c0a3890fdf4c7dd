"""The kubelet's pod worker and the container runtime it drives.

The worker side runs as a workflow: admit → sandbox and IP → pull → create → start →
ready, each stage its own status write or event through the API server, each waiting the
cluster's stage time after the one before (invariant 6). After that the containers live:
they exit as their command says, are restarted as the pod's restartPolicy says (with
Kubernetes' back-off: CrashLoopBackOff), fail their probes when a learner says so, and stop
when the pod is deleted.

`plan` is level-triggered: it reads the pod, its node and its Events and works out the
next stage and when it is due; the caller does just that one.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from cluster.apimachinery import kinds, metav1, pods, quantity
from cluster.apiserver import store
from cluster.componentbase import narration, timing
from cluster.kubelet import envconfig, images, memory
from cluster.kubelet import node as node_side
from cluster.kubelet import probes, status, workload
from cluster.kubelet.memory import Seen
from cluster.models import Cluster

PULL_REASONS = ("Pulling", "Pulled", "Failed", "BackOff", "ErrImageNeverPull", "InspectFailed")


@dataclass
class Ctx:
    """What one decision reads: the pod, its node, its Events, and the clock."""

    cluster: Cluster
    pod: dict
    node: dict
    seen: list[Seen]
    now: datetime
    last: datetime  # the pod's (or one of its Events') last write
    removed: bool = False  # the pod is gone from the store
    _others: list | None = None  # the other pods on the node, once read

    @property
    def host(self) -> str:
        return self.node["metadata"]["name"]

    def others(self) -> list[tuple[str, "_OnNode"]]:
        """The other pods bound to the node, read once for this pod's stages: under the
        cluster's lock only this pod's own writes happen meanwhile, which leave the others
        as they are."""
        if self._others is None:
            me = self.pod["metadata"]["uid"]
            self._others = [(uid, held) for uid, held in _node_pods(self.cluster, self.host) if uid != me]
        return self._others

    def next(self) -> datetime:
        """When a stage after the last one is due: one stage time later."""
        return self.last + timedelta(seconds=self.cluster.stage_seconds)

    def after(self, moment: datetime, k8s_seconds: float) -> datetime:
        return moment + timedelta(seconds=timing.scaled(self.cluster, k8s_seconds))

    def emit(self, reason: str, message: str, container: str = "", type_: str = "Normal") -> None:
        memory.emit(self.cluster, self.pod, self.seen, self.host, reason, message, container=container, type_=type_)

    def write(self, change: Callable[[dict], None], step: store.StepRecord | None = None, *, settle: bool = True) -> None:
        def apply(doc: dict) -> None:
            change(doc)
            if settle:
                status.settle(doc)

        self.pod = store.mutate(
            self.cluster, kinds.POD, self.pod["metadata"]["namespace"], self.pod["metadata"]["name"], apply,
            by=store.KUBELET, expected_uid=self.pod["metadata"]["uid"], steps=(lambda doc, rev: [step]) if step else None,
        )

    def container(self, name: str) -> dict:
        return status.spec_of(self.pod, name) or {"name": name, "image": ""}


@dataclass
class Stage:
    name: str
    apply: Callable[[Ctx], None]
    due: datetime


def _containers(pod: dict) -> list[dict]:
    return [c for c in pod["spec"].get("containers") or [] if isinstance(c, dict)]


def _set(doc: dict, name: str, **fields) -> dict:
    for entry in doc["status"].get("containerStatuses") or []:
        if entry.get("name") == name:
            entry.update(fields)
            return entry
    raise KeyError(name)


def _waiting(doc: dict, name: str, reason: str, message: str = "") -> None:
    _set(doc, name, state={"waiting": {"reason": reason, **({"message": message} if message else {})}}, ready=False, started=False)


# --- admit and sandbox ------------------------------------------------------------------------

@dataclass(frozen=True)
class _OnNode:
    """What admission and IP allocation read of one pod bound to the node."""

    admitted: bool  # it has a hostIP and has not finished: it holds its requests
    cpu: int
    memory: int
    ip: int | None  # its pod IP as a number (IP allocation compares numbers), if it has one


def _on_node(doc: dict) -> _OnNode:
    status = doc.get("status") or {}
    cpu, memory_ = pods.requests({"spec": {"containers": (doc.get("spec") or {}).get("containers") or []}})
    try:
        ip = int(ipaddress.ip_address(status.get("podIP")))
    except ValueError:  # no IP yet (None), or not one of ours
        ip = None
    return _OnNode(bool(status.get("hostIP")) and status.get("phase") not in ("Succeeded", "Failed"), cpu, memory_, ip)


# The pods bound to each node as the kubelet last read them, by uid, with the revision and
# time of the write they were read at. The worker is long-lived: each admission or IP
# allocation reads only (uid, resourceVersion, updated) of the node's pods and decodes the
# documents that changed since, instead of every pod on the node each time.
_seen_on_node: dict[str, tuple[tuple, _OnNode]] = {}
SEEN_ON_NODE_MAX = 20000


def _node_pods(cluster: Cluster, host: str) -> list[tuple[str, _OnNode]]:
    """(uid, what it holds) of every pod bound to the node, as stored now.

    Read once per transaction: the kubelet admits a batch of pods under the cluster's lock,
    where only its own writes change them, and those are looked at again (`store.writes_of`).
    """
    memo = store.memo()
    if memo is None:
        return _read_node_pods(cluster, host)
    key = ("kubelet.node_pods", host)
    held: dict[str, list] | None = memo.get(key)
    if held is None:
        found = _read_node_pods(cluster, host)
        memo[key] = {uid: [on_node, store.writes_of(uid)] for uid, on_node in found}
        return found
    out = []
    for uid, slot in list(held.items()):
        written = store.writes_of(uid)
        if written != slot[1]:
            doc = store.by_uid(cluster, uid)
            if doc is None or (doc.get("spec") or {}).get("nodeName") != host:
                del held[uid]
                continue
            slot[0], slot[1] = _on_node(doc), written
        out.append((uid, slot[0]))
    return out


def _read_node_pods(cluster: Cluster, host: str) -> list[tuple[str, _OnNode]]:
    bound = store.versions_on_node(cluster, kinds.POD, host)
    stale = [uid for uid, rv, updated in bound if _seen_on_node.get(uid, ((None,),))[0] != (rv, updated)]
    for uid, rv, updated, doc in store.versioned_docs(cluster, stale) if stale else ():
        _seen_on_node[uid] = ((rv, updated), _on_node(doc))
    found = []
    for uid, rv, updated in bound:
        entry = _seen_on_node.get(uid)
        if entry is not None and entry[0] == (rv, updated):
            found.append((uid, entry[1]))
    if len(_seen_on_node) > SEEN_ON_NODE_MAX:  # pods that went are forgotten with the rest
        _seen_on_node.clear()
    return found


def _requests_on_node(ctx: Ctx) -> tuple[int, int, int]:
    """(millicores, bytes, pods) the admitted pods on the node take, this one aside."""
    cpu = memory_ = count = 0
    for _, held in ctx.others():
        if held.admitted:
            cpu, memory_, count = cpu + held.cpu, memory_ + held.memory, count + 1
    return cpu, memory_, count


def _rejection(ctx: Ctx) -> tuple[str, str]:
    """The kubelet's admission: (reason, message) if the pod does not fit the node."""
    alloc = (ctx.node.get("status") or {}).get("allocatable") or {}
    cpu, memory_ = pods.requests(ctx.pod)
    used_cpu, used_memory, used_pods = _requests_on_node(ctx)
    for resource, requested, used, capacity in (
        ("cpu", cpu, used_cpu, quantity.millicores(alloc.get("cpu", "0"))),
        ("memory", memory_, used_memory, quantity.bytes_(alloc.get("memory", "0"))),
        ("pods", 1, used_pods, int(quantity.parse(alloc.get("pods", "110")))),
    ):
        if requested and used + requested > capacity:
            return f"OutOf{resource}", f"Node didn't have enough resource: {resource}, requested: {requested}, used: {used}, capacity: {capacity}"
    return "", ""


def _admit(ctx: Ctx) -> None:
    host_ip = next((a["address"] for a in (ctx.node.get("status") or {}).get("addresses", []) if a.get("type") == "InternalIP"), "")
    reason, message = _rejection(ctx)
    if reason:
        ctx.emit(reason, message, type_="Warning")

        def reject(doc: dict) -> None:
            doc["status"].update(phase="Failed", reason=reason, message=f"Pod was rejected: {message}", hostIP=host_ip, hostIPs=[{"ip": host_ip}], startTime=metav1.rfc3339())

        ctx.write(reject, settle=False)
        return

    def apply(doc: dict) -> None:
        st = doc.setdefault("status", {})
        st["phase"] = "Pending"
        st["hostIP"] = host_ip
        st["hostIPs"] = [{"ip": host_ip}]
        st["startTime"] = metav1.rfc3339()
        pods.set_condition(doc, "PodReadyToStartContainers", "False")
        pods.set_condition(doc, "Initialized", "True")
        pods.set_condition(doc, "PodScheduled", "True")
        st["containerStatuses"] = [
            {
                "name": c["name"], "image": c["image"], "imageID": "", "ready": False, "restartCount": 0, "started": False,
                "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {},
            }
            for c in _containers(doc)
        ]

    ctx.write(apply, narration.admitted(ctx.pod, ctx.host))


def _sandbox(ctx: Ctx) -> None:
    ip = _free_ip(ctx.cluster, ctx.node, ctx.others())

    def apply(doc: dict) -> None:
        doc["status"]["podIP"] = ip
        doc["status"]["podIPs"] = [{"ip": ip}]
        pods.set_condition(doc, "PodReadyToStartContainers", "True")

    ctx.write(apply, narration.sandbox(ctx.pod, ctx.host, ip))


def _free_ip(cluster: Cluster, node: dict, others: list[tuple[str, _OnNode]] | None = None) -> str:
    """The first address of the node's pod CIDR no pod on it has (`others`: those pods, if
    already read)."""
    network = ipaddress.ip_network(node["spec"].get("podCIDR", "10.244.0.0/24"))
    taken = {held.ip for _, held in (_node_pods(cluster, node["metadata"]["name"]) if others is None else others)}
    first, last = int(network.network_address) + 2, int(network.broadcast_address) - 1  # .1 is the node's bridge
    free = next((n for n in range(first, last + 1) if n not in taken), None)
    if free is None:
        raise RuntimeError(f"no free pod IP on {node['metadata']['name']}")
    return str(ipaddress.ip_address(free))


def _lost(ctx: Ctx) -> list[str]:
    """Containers the pod status says run, which did not survive the node's last boot."""
    boot = node_side.boot_id(ctx.node)
    return [
        s["name"] for s in status.statuses(ctx.pod)
        if status.state_name(s) == "running"
        and s.get("containerID") != status.container_id(ctx.pod["metadata"]["uid"], s["name"], int(s.get("restartCount") or 0), boot)
    ]


def _sandbox_changed(ctx: Ctx, names: list[str]) -> None:
    ctx.emit("SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
    finished = metav1.rfc3339()

    def apply(doc: dict) -> None:
        for name in names:
            entry = status.of(doc, name)
            started = ((entry or {}).get("state") or {}).get("running", {}).get("startedAt", finished)
            _set(doc, name, state={"terminated": {"exitCode": 255, "reason": "Unknown", "startedAt": started, "finishedAt": finished, "containerID": entry.get("containerID", "")}}, ready=False, started=False)

    ctx.write(apply)


# --- images -------------------------------------------------------------------------------------

def _pull_state(ctx: Ctx, container: dict) -> tuple[str, Seen | None]:
    """Where the pull of the container's image stands, from the kubelet's events about it."""
    quoted = f'"{container.get("image", "")}"'
    last = next(
        (
            s for s in reversed(ctx.seen)
            if s.container == container["name"] and s.reason in PULL_REASONS and quoted in s.message
            and (s.reason != "Failed" or s.message.startswith("Failed to pull image"))
        ),
        None,
    )
    if last is None:
        return "fresh", None
    if last.reason == "Pulling":
        return "pulling", last
    if last.reason == "Pulled":
        return "pulled", last
    if last.reason == "BackOff":
        return "backoff", last
    if last.reason == "ErrImageNeverPull":
        return "never", last
    if last.reason == "InspectFailed":
        return "invalid", last
    return "failed", last


def _needs_pull(node: dict, container: dict) -> bool:
    return images.policy(container) == "Always" or not images.on_node(node, container.get("image", ""))


def _image_error(ctx: Ctx, container: dict) -> tuple[str, str] | None:
    """An image the runtime will not even try to pull: (waiting reason, message)."""
    image = container.get("image", "")
    name = container["name"]
    if images.parse(image) is None:
        message = f'Failed to apply default image tag "{image}": couldn\'t parse image name "{image}": {images.invalid_reason(image)}'
        ctx.emit("InspectFailed", message, name, "Warning")
        ctx.emit("Failed", "Error: InvalidImageName", name, "Warning")
        return "InvalidImageName", message
    if images.policy(container) == "Never" and not images.on_node(ctx.node, image):
        message = f'Container image "{image}" is not present with pull policy of Never'
        ctx.emit("ErrImageNeverPull", message, name, "Warning")
        ctx.emit("Failed", "Error: ErrImageNeverPull", name, "Warning")
        return "ErrImageNeverPull", message
    return None


def _present(ctx: Ctx, container: dict) -> None:
    ctx.emit("Pulled", f'Container image "{container["image"]}" already present on machine', container["name"])


def _finish_pull(ctx: Ctx, container: dict) -> str:
    """The pull ends: Pulled (and the node lists the image) or Failed. Returns the error."""
    image, name = container["image"], container["name"]
    size, error = images.lookup(image)
    if error:
        ctx.emit("Failed", f'Failed to pull image "{image}": {error}', name, "Warning")
        ctx.emit("Failed", "Error: ErrImagePull", name, "Warning")
        return error
    seconds = images.pull_seconds(ctx.cluster, image)
    ctx.emit("Pulled", f'Successfully pulled image "{image}" in {seconds:.3f}s ({seconds:.3f}s including waiting). Image size: {size} bytes.', name)
    if not images.on_node(ctx.node, image):
        ref = images.image_ref(image)

        def remember(doc: dict) -> None:
            listed = doc.setdefault("status", {}).setdefault("images", [])
            if not any(ref in i.get("names", []) for i in listed):
                listed.append({"names": [ref], "sizeBytes": size})

        ctx.node = store.mutate(ctx.cluster, kinds.NODE, "", ctx.host, remember, by=store.KUBELET)
    return ""


def _pull_start(ctx: Ctx, names: list[str], present_too: bool) -> None:
    errors: dict[str, tuple[str, str]] = {}
    pulling = False
    for name in names:
        c = ctx.container(name)
        problem = _image_error(ctx, c)
        if problem:
            errors[name] = problem
        elif _needs_pull(ctx.node, c):
            ctx.emit("Pulling", f'Pulling image "{c["image"]}"', name)
            pulling = True
    if present_too and not pulling:
        # A "Pulled" now ends the pull stage: while any image is still pulling, the present
        # ones are reported with the pulled ones, in the next stage.
        for name in names:
            c = ctx.container(name)
            if name not in errors and not _needs_pull(ctx.node, c):
                _present(ctx, c)
    if errors:
        ctx.write(lambda doc: [_waiting(doc, n, *errors[n]) for n in errors])


def _pull_done(ctx: Ctx, pulling: list[str], present: list[str]) -> None:
    errors = {}
    for c in _containers(ctx.pod):
        if c["name"] in present:
            _present(ctx, c)
        elif c["name"] in pulling:
            error = _finish_pull(ctx, c)
            if error:
                errors[c["name"]] = error
    if errors:
        ctx.write(lambda doc: [_waiting(doc, n, "ErrImagePull", e) for n, e in errors.items()])


def _pull_backoff(ctx: Ctx, name: str) -> None:
    image = ctx.container(name)["image"]
    error = _last_pull_error(ctx, ctx.container(name))
    ctx.emit("BackOff", f'Back-off pulling image "{image}"', name)
    ctx.emit("Failed", "Error: ImagePullBackOff", name, "Warning")
    ctx.write(lambda doc: _waiting(doc, name, "ImagePullBackOff", f'Back-off pulling image "{image}": ErrImagePull: {error}'))


def _last_pull_error(ctx: Ctx, container: dict) -> str:
    failed = memory.latest(ctx.seen, container["name"], ("Failed",), about=f'Failed to pull image "{container["image"]}": ')
    return failed.message.split(": ", 1)[1] if failed else ""


def _pull_retry(ctx: Ctx, name: str) -> None:
    c = ctx.container(name)
    ctx.emit("Pulling", f'Pulling image "{c["image"]}"', name)


def _pull_result(ctx: Ctx, name: str) -> None:
    c = ctx.container(name)
    error = _finish_pull(ctx, c)
    if error:
        ctx.write(lambda doc: _waiting(doc, name, "ErrImagePull", error))
    else:
        ctx.write(lambda doc: _waiting(doc, name, "ContainerCreating"))


def _resume(ctx: Ctx, name: str) -> None:
    """The image changed, or turned up on the node: start over from ContainerCreating."""
    ctx.write(lambda doc: _waiting(doc, name, "ContainerCreating"))


# --- create and start ---------------------------------------------------------------------------

def _create(ctx: Ctx, names: list[str]) -> None:
    errors = {}
    for name in names:
        _, error = envconfig.resolve(ctx.cluster, ctx.pod, ctx.container(name))
        if error:
            ctx.emit("Failed", f"Error: {error}", name, "Warning")
            errors[name] = error
        else:
            ctx.emit("Created", f"Created container: {name}", name)
    if errors:
        ctx.write(lambda doc: [_waiting(doc, n, "CreateContainerConfigError", e) for n, e in errors.items()])


def _config_error(ctx: Ctx, name: str, error: str) -> None:
    ctx.emit("Failed", f"Error: {error}", name, "Warning")
    ctx.write(lambda doc: _waiting(doc, name, "CreateContainerConfigError", error))


def _behaviour(ctx: Ctx, container: dict, env: dict[str, str] | None = None) -> workload.Behaviour:
    if env is None and workload.repo_of(container.get("image", "")) in workload.NEEDS_PASSWORD:
        env, _ = envconfig.resolve(ctx.cluster, ctx.pod, container)
    return workload.behaviour(container, env)


def _launch(ctx: Ctx, names: list[str], envs: dict[str, dict] | None = None) -> None:
    """Start the created containers: Started and running, or the runtime's StartError."""
    boot = node_side.boot_id(ctx.node)
    moment = metav1.rfc3339()
    outcome: dict[str, workload.Behaviour] = {}
    for name in names:
        behaviour = _behaviour(ctx, ctx.container(name), (envs or {}).get(name))
        outcome[name] = behaviour
        if behaviour.start_error:
            ctx.emit("Failed", f"Error: {_start_error(behaviour)}", name, "Warning")
        else:
            ctx.emit("Started", f"Started container {name}", name)

    def apply(doc: dict) -> None:
        for name in names:
            entry = status.of(doc, name)
            c = status.spec_of(doc, name) or {}
            previous = entry.get("state") or {}
            ran = status.has_run(entry)
            restarts = int(entry.get("restartCount") or 0) + (1 if ran else 0)
            last = {"terminated": previous["terminated"]} if "terminated" in previous else (entry.get("lastState") or {})
            cid = status.container_id(doc["metadata"]["uid"], name, restarts, boot)
            image = c.get("image", entry.get("image", ""))
            fields = dict(image=image, imageID=images.image_ref(image) + "@sha256:" + status.digest(images.image_ref(image)), containerID=cid, restartCount=restarts, lastState=last, ready=False)
            if outcome[name].start_error:
                fields.update(started=False, state={"terminated": {"exitCode": 128, "reason": "StartError", "message": _start_error(outcome[name]), "startedAt": "1970-01-01T00:00:00Z", "finishedAt": moment, "containerID": cid}})
            else:
                fields.update(started=True, state={"running": {"startedAt": moment}})
            _set(doc, name, **fields)

    started = any(not b.start_error for b in outcome.values())
    ctx.write(apply, narration.running(ctx.pod, ctx.host) if started else None)


def _start_error(behaviour: workload.Behaviour) -> str:
    return (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: "
        f"unable to start container process: error during container init: {behaviour.start_error}: unknown"
    )


def _restart(ctx: Ctx, name: str, *, image_done: bool = False) -> None:
    """Create and start the container again (or for the first time after an error)."""
    c = ctx.container(name)
    if not image_done:
        problem = _image_error(ctx, c)
        if problem:
            ctx.write(lambda doc: _waiting(doc, name, *problem))
            return
        if _needs_pull(ctx.node, c):
            ctx.emit("Pulling", f'Pulling image "{c["image"]}"', name)
            error = _finish_pull(ctx, c)
            if error:
                ctx.write(lambda doc: _waiting(doc, name, "ErrImagePull", error))
                return
        else:
            _present(ctx, c)
    env, error = envconfig.resolve(ctx.cluster, ctx.pod, c)
    if error:
        _config_error(ctx, name, error)
        return
    ctx.emit("Created", f"Created container: {name}", name)
    _launch(ctx, [name], {name: env})


# --- running containers -------------------------------------------------------------------------

def _started_at(ctx: Ctx, name: str) -> datetime:
    started = memory.latest(ctx.seen, name, ("Started",))
    if started is not None:
        return started.at
    entry = status.of(ctx.pod, name) or {}
    return metav1.parse_time(((entry.get("state") or {}).get("running") or {}).get("startedAt")) or ctx.last


def _terminate(ctx: Ctx, name: str, exit_code: int) -> None:
    finished = metav1.rfc3339()

    def apply(doc: dict) -> None:
        entry = status.of(doc, name)
        started = ((entry.get("state") or {}).get("running") or {}).get("startedAt", finished)
        _set(doc, name, ready=False, started=False, state={"terminated": {
            "exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
            "startedAt": started, "finishedAt": finished, "containerID": entry.get("containerID", ""),
        }})

    ctx.write(apply)


def _exit(ctx: Ctx, name: str) -> None:
    _terminate(ctx, name, _behaviour(ctx, ctx.container(name)).exit_code)


def _sigterm_code(ctx: Ctx, name: str) -> int:
    return 0 if _behaviour(ctx, ctx.container(name)).stops_on_sigterm else 137


def _liveness(ctx: Ctx, name: str) -> None:
    ctx.emit("Unhealthy", probes.failure(ctx.pod, ctx.container(name), probes.LIVENESS), name, "Warning")
    ctx.emit("Killing", f"Container {name} failed liveness probe, will be restarted", name)
    _terminate(ctx, name, _sigterm_code(ctx, name))


def _definition_changed(ctx: Ctx, name: str) -> None:
    ctx.emit("Killing", f"Container {name} definition changed, will be restarted", name)
    _terminate(ctx, name, _sigterm_code(ctx, name))
    _restart(ctx, name)


def _unready(ctx: Ctx, name: str) -> None:
    ctx.emit("Unhealthy", probes.failure(ctx.pod, ctx.container(name), probes.READINESS), name, "Warning")
    ctx.write(lambda doc: _set(doc, name, ready=False))


def _ready(ctx: Ctx, names: list[str]) -> None:
    def apply(doc: dict) -> None:
        for name in names:
            _set(doc, name, ready=True)

    will_be_ready = all(s.get("ready") or s["name"] in names for s in status.statuses(ctx.pod))
    ctx.write(apply, narration.ready(ctx.pod, ctx.host) if will_be_ready else None)


# --- restarts -----------------------------------------------------------------------------------

def go_duration(seconds: int) -> str:
    """Go's time.Duration text, as the kubelet's messages print back-offs: 10s, 1m20s, 5m0s."""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def _crash_backoff(ctx: Ctx, name: str) -> None:
    pod = ctx.pod
    entry = status.of(pod, name)
    restarts = int(entry.get("restartCount") or 0)
    who = f"{pod['metadata']['name']}_{pod['metadata']['namespace']}({pod['metadata']['uid']})"
    ctx.emit("BackOff", f"Back-off restarting failed container {name} in pod {who}", name, "Warning")
    message = f"back-off {go_duration(timing.backoff_nominal(restarts))} restarting failed container={name} pod={who}"

    def apply(doc: dict) -> None:
        current = status.of(doc, name)
        _set(doc, name, lastState={"terminated": current["state"]["terminated"]}, state={"waiting": {"reason": "CrashLoopBackOff", "message": message}}, ready=False, started=False)

    ctx.write(apply)


# --- deletion -----------------------------------------------------------------------------------

def _stop(ctx: Ctx, names: list[str]) -> None:
    for name in names:
        ctx.emit("Killing", f"Stopping container {name}", name)
    finished = metav1.rfc3339()
    prompt = {name for name in names if _behaviour(ctx, ctx.container(name)).stops_on_sigterm}

    def apply(doc: dict) -> None:
        pods.set_condition(doc, "Ready", "False", "PodCompleted")
        pods.set_condition(doc, "ContainersReady", "False", "PodCompleted")
        for entry in status.statuses(doc):
            entry["ready"] = False
            if entry["name"] in prompt:
                started = (entry.get("state") or {}).get("running", {}).get("startedAt", finished)
                entry["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": finished, "containerID": entry.get("containerID", "")}}
                entry["started"] = False

    ctx.write(apply, settle=False)


def _kill(ctx: Ctx) -> None:
    """The grace period is over: SIGKILL what still runs, then the pod goes."""
    finished = metav1.rfc3339()

    def apply(doc: dict) -> None:
        for entry in status.statuses(doc):
            if status.state_name(entry) == "running":
                started = entry["state"]["running"].get("startedAt", finished)
                entry["state"] = {"terminated": {"exitCode": 137, "reason": "Error", "startedAt": started, "finishedAt": finished, "containerID": entry.get("containerID", "")}}
                entry["started"] = False

    ctx.write(apply, settle=False)
    _forget(ctx)


def _forget(ctx: Ctx) -> None:
    ctx.removed = True
    # As the real kubelet's status manager: a delete with grace 0. A pod that still has
    # finalizers stays (Terminating, grace 0) until they are removed; the kubelet is done.
    store.delete(
        ctx.cluster, kinds.POD, ctx.pod["metadata"]["namespace"], ctx.pod["metadata"]["name"],
        by=store.KUBELET, options=store.DeleteOptions(grace_seconds=0), expected_uid=ctx.pod["metadata"]["uid"],
    )


def _deleting(ctx: Ctx) -> Stage | None:
    pod = ctx.pod
    lost = set(_lost(ctx))
    running = [s["name"] for s in status.statuses(pod) if status.state_name(s) == "running" and s["name"] not in lost]
    signalled = {s.container for s in ctx.seen if s.reason == "Killing" and s.message == f"Stopping container {s.container}"}
    grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
    to_stop = [n for n in running if n not in signalled]
    if not running and pod["metadata"].get("deletionGracePeriodSeconds") == 0 and pod["metadata"].get("finalizers"):
        return None  # stopped and deleted with grace 0: only its finalizers keep it
    if to_stop:
        return Stage("stop", lambda c: _stop(c, to_stop), ctx.next())
    if running:
        since = metav1.parse_time(pod["metadata"].get("deletionTimestamp")) or ctx.last
        return Stage("kill", _kill, max(ctx.after(since, grace), ctx.next()))
    wait = min(ctx.cluster.stage_seconds, timing.scaled(ctx.cluster, grace))
    return Stage("remove", _forget, ctx.last + timedelta(seconds=wait))


# --- the plan -----------------------------------------------------------------------------------

def _first_start(ctx: Ctx) -> list[Stage]:
    """Containers on their way to their first start move through the stages together."""
    group = []
    for c in _containers(ctx.pod):
        entry = status.of(ctx.pod, c["name"])
        if entry and status.waiting_reason(entry) == "ContainerCreating" and not status.has_run(entry):
            group.append(c)
    if not group:
        return []
    fresh, fresh_present, pulling, pulled, created = [], [], [], [], []
    pull_due = ctx.next()
    for c in group:
        if memory.latest(ctx.seen, c["name"], ("Created",)) is not None:
            created.append(c["name"])
            continue
        state, event = _pull_state(ctx, c)
        if state == "pulling":
            pulling.append(c["name"])
            pull_due = max(pull_due, event.at + timedelta(seconds=images.pull_seconds(ctx.cluster, c["image"])))
        elif state == "pulled":
            pulled.append(c["name"])
        elif images.parse(c["image"]) is None or _needs_pull(ctx.node, c) or not images.on_node(ctx.node, c["image"]):
            fresh.append(c["name"])  # to pull, or to report why it cannot be
        else:
            fresh_present.append(c["name"])
    if fresh:
        names = fresh + fresh_present
        return [Stage("pull", lambda x: _pull_start(x, names, present_too=not pulling), ctx.next())]
    if pulling:
        return [Stage("pulled", lambda x: _pull_done(x, pulling, fresh_present), pull_due)]
    if fresh_present:
        return [Stage("pull", lambda x: _pull_start(x, fresh_present, present_too=True), ctx.next())]
    if pulled:
        return [Stage("create", lambda x: _create(x, pulled), ctx.next())]
    if created:
        return [Stage("start", lambda x: _launch(x, created), ctx.next())]
    return []


def _waiting_stages(ctx: Ctx, c: dict, entry: dict) -> list[Stage]:
    name = c["name"]
    reason = status.waiting_reason(entry)
    if reason == "ContainerCreating":
        if not status.has_run(entry):
            return []  # the first start's stages
        due = ctx.next()
        if images.parse(c["image"]) and not images.on_node(ctx.node, c["image"]) and images.policy(c) != "Never":
            due += timedelta(seconds=images.pull_seconds(ctx.cluster, c["image"]))
        return [Stage(f"restart:{name}", lambda x: _restart(x, name), due)]
    if reason == "CrashLoopBackOff":
        restarts = int(entry.get("restartCount") or 0)
        finished = metav1.parse_time(((entry.get("lastState") or {}).get("terminated") or {}).get("finishedAt")) or ctx.last
        delay = timedelta(seconds=timing.backoff(ctx.cluster, restarts))
        floor = ctx.next() if ctx.cluster.stage_seconds > 0 else ctx.last + delay
        return [Stage(f"restart:{name}", lambda x: _restart(x, name), max(finished + delay, floor))]
    if reason in ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"):
        state, event = _pull_state(ctx, c)
        if state == "fresh" or state == "pulled":
            return [Stage(f"resume:{name}", lambda x: _resume(x, name), ctx.next())]
        if reason == "ErrImageNeverPull":
            if images.on_node(ctx.node, c["image"]) or images.policy(c) != "Never":
                return [Stage(f"resume:{name}", lambda x: _resume(x, name), ctx.next())]
            return []
        if reason == "InvalidImageName":
            return [Stage(f"resume:{name}", lambda x: _resume(x, name), ctx.next())] if state != "invalid" else []
        if state == "pulling":
            due = max(event.at + timedelta(seconds=images.pull_seconds(ctx.cluster, c["image"])), ctx.next())
            return [Stage(f"pulled:{name}", lambda x: _pull_result(x, name), due)]
        if reason == "ErrImagePull" and state == "failed":
            return [Stage(f"image-backoff:{name}", lambda x: _pull_backoff(x, name), ctx.next())]
        failed = memory.latest(ctx.seen, name, ("Failed",), about=f'Failed to pull image "{c["image"]}": ')
        failures = failed.count if failed else 1
        since = failed.at if failed else ctx.last
        delay = timedelta(seconds=timing.backoff(ctx.cluster, failures))
        return [Stage(f"pull:{name}", lambda x: _pull_retry(x, name), max(since + delay, ctx.next()))]
    if reason == "CreateContainerConfigError":
        env, error = envconfig.resolve(ctx.cluster, ctx.pod, c)
        if not error:
            return [Stage(f"create:{name}", lambda x: _restart(x, name, image_done=True), ctx.next())]
        if error != (entry["state"]["waiting"] or {}).get("message"):
            return [Stage(f"config-error:{name}", lambda x: _config_error(x, name, error), ctx.next())]
        return []  # woken when the ConfigMap or Secret appears or changes (cluster/informers/wake.py)
    return []


def _running_stages(ctx: Ctx, c: dict, entry: dict) -> list[Stage]:
    name = c["name"]
    found = []
    if entry.get("image") and c.get("image") != entry.get("image"):
        due = ctx.next()
        if images.parse(c["image"]) and not images.on_node(ctx.node, c["image"]):
            due += timedelta(seconds=images.pull_seconds(ctx.cluster, c["image"]))
        found.append(Stage(f"changed:{name}", lambda x: _definition_changed(x, name), due))
    started = _started_at(ctx, name)
    liveness = probes.declared(c, probes.LIVENESS)
    if liveness and probes.failing(ctx.pod, c, probes.LIVENESS):
        since = max(ctx.after(started, probes.initial_delay(liveness)), ctx.last)
        found.append(Stage(f"liveness:{name}", lambda x: _liveness(x, name), max(ctx.after(since, probes.time_to_fail(liveness)), ctx.next())))
    behaviour = _behaviour(ctx, c)
    if behaviour.runs_for is not None:
        found.append(Stage(f"exit:{name}", lambda x: _exit(x, name), max(ctx.after(started, behaviour.runs_for), ctx.next())))
    readiness = probes.declared(c, probes.READINESS)
    if readiness and probes.failing(ctx.pod, c, probes.READINESS):
        last_start = memory.latest(ctx.seen, name, ("Started",))
        reported = memory.latest(ctx.seen, name, ("Unhealthy",), about="Readiness probe failed")
        if entry.get("ready") or reported is None or (last_start is not None and reported.rv < last_start.rv):
            due = max(ctx.after(ctx.last, probes.time_to_fail(readiness)), ctx.next())
            found.append(Stage(f"unready:{name}", lambda x: _unready(x, name), due))
    return found


def _terminated_stages(ctx: Ctx, c: dict, entry: dict) -> list[Stage]:
    name = c["name"]
    ended = entry["state"]["terminated"] or {}
    if not status.wants_restart(ctx.pod["spec"].get("restartPolicy", "Always"), int(ended.get("exitCode") or 0)):
        return []
    if ended.get("reason") == "Unknown" or int(entry.get("restartCount") or 0) == 0:
        return [Stage(f"restart:{name}", lambda x: _restart(x, name), ctx.next())]
    return [Stage(f"crash-backoff:{name}", lambda x: _crash_backoff(x, name), ctx.next())]


def _readiness(ctx: Ctx) -> list[Stage]:
    names, due = [], ctx.next()
    for c in _containers(ctx.pod):
        entry = status.of(ctx.pod, c["name"])
        if not entry or status.state_name(entry) != "running" or entry.get("ready"):
            continue
        probe = probes.declared(c, probes.READINESS)
        if probe and probes.failing(ctx.pod, c, probes.READINESS):
            continue
        names.append(c["name"])
        if probe:
            due = max(due, ctx.after(_started_at(ctx, c["name"]), probes.initial_delay(probe)))
    if names:
        return [Stage("ready", lambda x: _ready(x, names), due)]
    entries = status.statuses(ctx.pod)
    if entries and all(e.get("ready") for e in entries) and not pods.is_ready(ctx.pod):
        return [Stage("ready", lambda x: _ready(x, []), ctx.next())]  # someone else marked it not ready
    return []


def plan(ctx: Ctx) -> Stage | None:
    """What the kubelet does next for this pod, and when; None when nothing is left to do."""
    pod = ctx.pod
    if pod["metadata"].get("deletionTimestamp"):
        return _deleting(ctx)
    if pods.is_terminal(pod):
        return None
    st = pod.get("status") or {}
    if not st.get("hostIP"):
        return Stage("admit", _admit, ctx.next())
    if not st.get("podIP"):
        return Stage("sandbox", _sandbox, ctx.next())
    lost = _lost(ctx)
    if lost:
        return Stage("sandbox-changed", lambda x: _sandbox_changed(x, lost), ctx.next())
    candidates = _first_start(ctx)
    for c in _containers(pod):
        entry = status.of(pod, c["name"])
        if entry is None:
            continue
        state = status.state_name(entry)
        if state == "running":
            candidates += _running_stages(ctx, c, entry)
        elif state == "terminated":
            candidates += _terminated_stages(ctx, c, entry)
        else:
            candidates += _waiting_stages(ctx, c, entry)
    candidates += _readiness(ctx)
    if not candidates:
        return None
    return min(candidates, key=lambda s: s.due)


def wants_attention(pod: dict) -> bool:
    """Cheaply, from the pod alone: may the kubelet have something to do for it, now or later?"""
    if pod["metadata"].get("deletionTimestamp"):
        return True
    if pods.is_terminal(pod):
        return False
    if not pods.is_ready(pod):
        return True
    for c in _containers(pod):
        entry = status.of(pod, c["name"]) or {}
        if status.state_name(entry) != "running" or entry.get("image") != c.get("image"):
            return True
        if probes.failing(pod, c, probes.LIVENESS) or probes.failing(pod, c, probes.READINESS):
            return True
        if workload.behaviour(c).runs_for is not None:
            return True
    return False
