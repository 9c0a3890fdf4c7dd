"""Why a pod is as it is, and which component answers for it, told to a learner.

`gather` reads what an answer can rest on: the pod's Events, the node it is bound to,
every node as the scheduler sees it (for a pod still waiting for one), the cluster's clock
and component switches. `explain` is pure over those facts: it picks the one state that
best says why the pod is as it is, and returns the PodExplanation document served at
`/k8s/<cluster>/podflow/v1/namespaces/<ns>/pods/<name>/explain`.

Each state is a small function returning a Finding: the component responsible, a stable
CamelCase reason, a sentence or two in English and Korean with the fix that fits, and the
evidence it read. The Korean sentences put a Korean noun after every name they mention
("web 파드", "node-1 노드는") so that no particle depends on how a name is pronounced.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from cluster.apimachinery import kinds, metav1, pods, quantity
from cluster.apimachinery.taints import tolerated, tolerates
from cluster.apimachinery.wellknown import TAINT_NOT_READY, TAINT_UNREACHABLE
from cluster.apiserver import store
from cluster.apiserver.serializers import tables
from cluster.componentbase import clock, timing
from cluster.controllers import node as node_controller
from cluster.kubelet import images, memory
from cluster.kubelet import node as kubelet_node
from cluster.kubelet import probes
from cluster.kubelet import status as kubelet_status
from cluster.models import Cluster, HeldAction
from cluster.scheduler import cycle, framework, nodeaffinity, noderesources, nodeunschedulable, tainttoleration
from cluster.scheduler.nodeinfo import NodeInfo, node_rooms, pod_info

# Who answers for the pod's state (the diagram's names).
SCHEDULER = "scheduler"
CONTROLLER_MANAGER = "controller-manager"
KUBELET = "kubelet"
RUNTIME = "container-runtime"
API_SERVER = "api-server"
NODE_CONTROLLER = "node-controller"
CLOCK = "clock"
NOBODY = ""

IMAGE_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
PULL_EVENTS = ("Pulling", "Pulled", "Failed", "BackOff")
RECENT_EVENTS = 10
# Tags worth offering when the one asked for does not exist, most common first.
COMMON_TAGS = ("latest", "stable", "lts", "alpine")

Text = tuple[str, str]  # (English, Korean)


@dataclass
class Facts:
    """Everything `explain` reads, so that it reads nothing else."""

    cluster: Cluster
    pod: dict
    events: list[dict] = field(default_factory=list)  # about the pod, oldest first
    node: dict | None = None  # the node the pod is bound to, if it exists
    rooms: dict[str, NodeInfo] = field(default_factory=dict)  # every node, for a pod not yet bound
    paused: bool = False
    stopped: list[str] = field(default_factory=list)
    held: list[dict] = field(default_factory=list)  # held actions about this pod, in order
    now: datetime = field(default_factory=metav1.now)


@dataclass
class Finding:
    component: str
    reason: str
    en: str
    ko: str
    evidence: list[dict] = field(default_factory=list)  # what this state rests on, beyond the usual


# --- reading ---------------------------------------------------------------------------------


def gather(cluster: Cluster, pod: dict) -> Facts:
    """Read what the explanation of `pod` needs from the store and the clock."""
    meta = pod["metadata"]
    events = sorted(store.list_docs(cluster, kinds.EVENT, meta.get("namespace") or "default", owner_uid=meta["uid"]), key=_revision)
    node_name = _node_name(pod)
    node = store.find(cluster, kinds.NODE, "", node_name) if node_name else None
    rooms = {} if node_name else node_rooms(cluster)
    paused, stopped = clock.settings_of(cluster.pk)
    held = _held_for(cluster, meta["uid"]) if paused else []
    return Facts(cluster, pod, events, node, rooms, paused, stopped, held)


def _held_for(cluster: Cluster, uid: str) -> list[dict]:
    """The held actions whose task works on this pod (its uid is among their arguments)."""
    rows = HeldAction.objects.filter(cluster=cluster).order_by("id").values("component", "task", "args", "action", "action_ko", "step")
    return [row for row in rows if isinstance(row["args"], list) and uid in row["args"]]


def _revision(doc: dict) -> int:
    try:
        return int(doc["metadata"].get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


def explain_pod(cluster: Cluster, pod: dict) -> dict:
    return explain(gather(cluster, pod))


# --- the answer --------------------------------------------------------------------------------


def explain(facts: Facts) -> dict:
    """The PodExplanation of the pod in `facts`."""
    pod = facts.pod
    meta = pod["metadata"]
    finding = diagnose(facts)
    return {
        "kind": "PodExplanation",
        "apiVersion": "podflow/v1",
        "pod": {
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            "phase": _phase(pod),
            "status": tables.pod_status_reason(pod),
        },
        "component": finding.component,
        "reason": finding.reason,
        "summary": {"en": finding.en, "ko": finding.ko},
        "evidence": finding.evidence + _usual_evidence(facts),
    }


def diagnose(facts: Facts) -> Finding:
    """The one state that best says why the pod is as it is."""
    pod = facts.pod
    if pod["metadata"].get("deletionTimestamp"):
        return _terminating(facts)
    if pods.is_terminal(pod):
        return _finished(facts)
    if not _node_name(pod):
        return _unbound(facts)
    return _bound(facts)


# --- small readings ----------------------------------------------------------------------------


def _node_name(pod: dict) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _phase(pod: dict) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _name(facts: Facts) -> str:
    return facts.pod["metadata"]["name"]


def _ns_flag(facts: Facts) -> str:
    """` -n <ns>` for kubectl commands, unless the pod is in the default namespace."""
    ns = facts.pod["metadata"].get("namespace") or "default"
    return "" if ns == "default" else f" -n {ns}"


def _api(facts: Facts, path: str) -> str:
    return f"POST /k8s/{facts.cluster.name}/podflow/v1/{path}"


def _containers(pod: dict) -> list[dict]:
    return [c for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(text: str) -> str:
    """Another component's message, to be put inside a sentence of ours: without its final period."""
    return text.strip().rstrip(".")


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _node_down(node: dict | None) -> bool:
    return node is None or kubelet_node.is_stopped(node) or node_controller.ready_status(node) != "True"


def _owner(pod: dict) -> dict | None:
    return metav1.controller_ref(pod)


def _container_of(event: dict) -> str:
    match = memory.FIELD_PATH_RE.match((event.get("involvedObject") or {}).get("fieldPath") or "")
    return match.group(1) if match else ""


def _held_of(facts: Facts, component: str) -> list[dict]:
    return [h for h in facts.held if h.get("component") == component]


# --- evidence ----------------------------------------------------------------------------------


def _usual_evidence(facts: Facts) -> list[dict]:
    """What every answer shows: the clock when it matters, the node, containers, conditions, Events."""
    found: list[dict] = []
    if facts.paused or facts.stopped:
        found.append(_clock_evidence(facts))
    if facts.node is not None:
        found.append(_node_evidence(facts.node))
    found += [_container_evidence(entry) for entry in kubelet_status.statuses(facts.pod)]
    found += [_condition_evidence(c) for c in (facts.pod.get("status") or {}).get("conditions") or [] if isinstance(c, dict)]
    found += [_event_evidence(e) for e in facts.events[-RECENT_EVENTS:]]
    return found


def _clock_evidence(facts: Facts) -> dict:
    held = [{k: h.get(k) for k in ("component", "task", "action", "action_ko", "step")} for h in facts.held]
    return {"kind": "clock", "paused": facts.paused, "stopped": list(facts.stopped), "held": held}


def _node_evidence(node: dict) -> dict:
    spec = node.get("spec") or {}
    return {
        "kind": "node",
        "name": node["metadata"]["name"],
        "ready": node_controller.ready_status(node),
        "stopped": kubelet_node.is_stopped(node),
        "unschedulable": bool(spec.get("unschedulable")),
        "taints": [t for t in spec.get("taints") or [] if isinstance(t, dict)],
        "allocatable": (node.get("status") or {}).get("allocatable") or {},
    }


def _room_evidence(info: NodeInfo) -> dict:
    """A node as the scheduler sees it: what it can give, and what its pods already asked for."""
    return {
        "kind": "node",
        "name": info.name,
        "unschedulable": info.unschedulable,
        "taints": info.taints,
        "allocatable": {"cpu": quantity.format_millicores(info.cpu), "memory": quantity.format_bytes(info.memory), "pods": str(info.max_pods)},
        "requested": {"cpu": quantity.format_millicores(info.requested_cpu), "memory": quantity.format_bytes(info.requested_memory), "pods": str(info.count)},
    }


def _container_evidence(entry: dict) -> dict:
    state_name = kubelet_status.state_name(entry)
    state = (entry.get("state") or {}).get(state_name) or {}
    found = {
        "kind": "container",
        "name": entry.get("name", ""),
        "image": entry.get("image", ""),
        "state": state_name,
        "reason": state.get("reason", ""),
        "message": state.get("message", ""),
        "ready": bool(entry.get("ready")),
        "restartCount": int(entry.get("restartCount") or 0),
    }
    if "exitCode" in state:
        found["exitCode"] = state["exitCode"]
    last = (entry.get("lastState") or {}).get("terminated")
    if last:
        found["lastState"] = {"exitCode": last.get("exitCode"), "reason": last.get("reason", ""), "finishedAt": last.get("finishedAt", "")}
    return found


def _condition_evidence(cond: dict) -> dict:
    found = {"kind": "condition", "type": cond.get("type", ""), "status": cond.get("status", "")}
    for key in ("reason", "message", "lastTransitionTime"):
        if cond.get(key):
            found[key] = cond[key]
    return found


def _event_evidence(event: dict) -> dict:
    found = {
        "kind": "event",
        "type": event.get("type", "Normal"),
        "reason": event.get("reason", ""),
        "message": event.get("message", ""),
        "count": int(event.get("count") or 1),
        "source": (event.get("source") or {}).get("component", ""),
        "lastTimestamp": event.get("lastTimestamp", ""),
    }
    container = _container_of(event)
    if container:
        found["container"] = container
    return found


def _scheduler_evidence(results: dict[str, dict[str, str]]) -> list[dict]:
    """The scheduler's last verdict on each node: the filter that refused it, or passed."""
    found = []
    for node, plugins in results.items():
        refused = _refusal(plugins)
        passed = [p for p, verdict in plugins.items() if verdict == framework.PASSED]
        found.append({"kind": "scheduler", "node": node, "filter": refused[0] if refused else "", "result": refused[1] if refused else framework.PASSED, "passed": passed})
    return found


# --- not yet on a node ------------------------------------------------------------------------


def _unbound(facts: Facts) -> Finding:
    wanted = (facts.pod.get("spec") or {}).get("schedulerName") or cycle.SCHEDULER_NAME
    if wanted != cycle.SCHEDULER_NAME:
        return _other_scheduler(facts, str(wanted))
    if clock.SCHEDULER in facts.stopped:
        return _scheduler_stopped(facts)
    scheduled = pods.condition(facts.pod, "PodScheduled") or {}
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable" and not _held_of(facts, clock.SCHEDULER):
        return _unschedulable(facts, str(scheduled.get("message") or ""))
    if facts.paused:
        return _held_by_clock(facts, clock.SCHEDULER)
    return Finding(
        SCHEDULER, "NotYetScheduled",
        "The scheduler has not tried this pod yet: it waits in the scheduling queue and is normally bound to a node within a moment.",
        "스케줄러가 아직 이 파드를 처리하지 않았습니다. 파드는 스케줄링 대기열에 있으며 보통 곧 노드에 배치됩니다.",
    )


def _other_scheduler(facts: Facts, wanted: str) -> Finding:
    return Finding(
        SCHEDULER, "NoSuchScheduler",
        f'The pod asks for a scheduler named "{wanted}" (spec.schedulerName), which does not run in this cluster: '
        "the default-scheduler leaves it alone, so it stays Pending. Create the pod again without schedulerName (it cannot be changed on an existing pod).",
        f'이 파드는 spec.schedulerName에 "{wanted}" 스케줄러를 지정했지만 이 클러스터에는 그런 스케줄러가 없어서, '
        "default-scheduler가 이 파드를 건드리지 않고 파드는 Pending 상태로 남습니다. schedulerName 없이 파드를 다시 만드세요(기존 파드에서는 바꿀 수 없습니다).",
    )


def _scheduler_stopped(facts: Facts) -> Finding:
    start = _api(facts, "components/scheduler/start")
    return Finding(
        SCHEDULER, "SchedulerStopped",
        f"The scheduler is stopped, so no component picks a node for this pod and it stays Pending. Start the scheduler again ({start}) and it catches up with every waiting pod.",
        f"스케줄러가 멈춰 있어서 이 파드를 실행할 노드를 고르는 컴포넌트가 없고, 파드는 Pending 상태로 남아 있습니다. 스케줄러를 다시 시작하면({start}) 기다리던 파드를 모두 따라잡아 배치합니다.",
        _scheduler_evidence(_filter_results(facts.pod)),
    )


# A component's name in English, in Korean, and in Korean as a sentence's subject.
WHO = {clock.SCHEDULER: ("scheduler", "스케줄러", "스케줄러가"), clock.KUBELET: ("kubelet", "kubelet", "kubelet이")}


def _held_by_clock(facts: Facts, component: str) -> Finding:
    held = _held_of(facts, component) or facts.held
    step, resume = _api(facts, "clock/step"), _api(facts, 'clock {"paused": false}')
    who_en, who_ko, who_subject = WHO.get(component, (component, component, component))
    if held:
        first = held[0]
        en = (
            f"The cluster's clock is paused: the API server stores what clients send, but no component acts. "
            f'The {who_en}\'s next action for this pod is held ("{first.get("action") or first.get("task")}"); step the clock ({step}) to let one action through, or resume it ({resume}).'
        )
        ko = (
            f"클러스터의 시계가 일시정지되어 있습니다. API 서버는 클라이언트가 보낸 것을 저장하지만 어떤 컴포넌트도 움직이지 않습니다. "
            f'이 파드에 대한 {who_ko}의 다음 동작("{first.get("action_ko") or first.get("action") or first.get("task")}")이 보류되어 있으니, 시계를 한 단계 진행해({step}) 동작 하나를 내보내거나 재개하세요({resume}).'
        )
    else:
        en = (
            f"The cluster's clock is paused: no component acts, so the {who_en} has not done its part for this pod yet. "
            f"Step the clock ({step}) or resume it ({resume})."
        )
        ko = f"클러스터의 시계가 일시정지되어 있어 어떤 컴포넌트도 움직이지 않으므로, {who_subject} 아직 이 파드에 대한 일을 하지 않았습니다. 시계를 한 단계 진행하거나({step}) 재개하세요({resume})."
    return Finding(CLOCK, "HeldByPausedClock", en, ko)


# --- unschedulable ---------------------------------------------------------------------------


def _filter_results(pod: dict) -> dict[str, dict[str, str]]:
    """The scheduler's filter-result annotation, {node: {plugin: "passed" | reason}}; {} if
    absent or not what the scheduler writes (annotations are the learner's to edit)."""
    text = (pod["metadata"].get("annotations") or {}).get(cycle.FILTER_RESULT)
    try:
        found = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(n): {str(p): str(v) for p, v in plugins.items()} for n, plugins in found.items() if isinstance(plugins, dict)}


def _refusal(plugins: dict[str, str]) -> tuple[str, str] | None:
    """(plugin, reason) of the filter that refused the node, None if every one passed."""
    return next(((p, v) for p, v in plugins.items() if v != framework.PASSED), None)


def _unschedulable(facts: Facts, message: str) -> Finding:
    results = _filter_results(facts.pod)
    refused: dict[str, list[tuple[str, str]]] = {}
    for node, plugins in results.items():
        found = _refusal(plugins)
        if found:
            refused.setdefault(found[0], []).append((node, found[1]))
    total = len(results) or len(facts.rooms)
    head: Text = (
        f"The scheduler found no node for this pod ({'the only node cannot' if total == 1 else f'0 of {total} nodes can'} take it).",
        f"스케줄러가 이 파드를 실행할 노드를 찾지 못했습니다(노드 {total}개 중 가능한 노드 0개).",
    )
    parts: list[tuple[Text, Text | None]] = []
    order = [name for name, _ in framework.FILTERS] + sorted(set(refused) - {name for name, _ in framework.FILTERS})
    for plugin in order:
        if plugin in refused:
            parts.append(_refused_by(facts, plugin, refused[plugin]))
    if not parts:
        parts.append(_no_diagnosis(facts, message))
    en = " ".join([head[0]] + [c[0] for c, _ in parts] + [f[0] for _, f in parts if f])
    ko = " ".join([head[1]] + [c[1] for c, _ in parts] + [f[1] for _, f in parts if f])
    evidence = _scheduler_evidence(results) + [_room_evidence(info) for info in facts.rooms.values()]
    return Finding(SCHEDULER, "Unschedulable", en, ko, evidence)


def _no_diagnosis(facts: Facts, message: str) -> tuple[Text, Text | None]:
    if message == framework.NO_NODES or not facts.rooms:
        return ("There are no nodes in the cluster.", "클러스터에 노드가 하나도 없습니다."), None
    return (f"Its message: {_sentence(message)}.", f"스케줄러의 메시지: {_sentence(message)}."), None


def _refused_by(facts: Facts, plugin: str, entries: list[tuple[str, str]]) -> tuple[Text, Text | None]:
    """What `plugin` refused these nodes for, and the fix, in words."""
    if plugin == nodeunschedulable.NAME:
        return _cordoned([n for n, _ in entries])
    if plugin == tainttoleration.NAME:
        return _tainted(facts, entries)
    if plugin == nodeaffinity.NAME:
        return _unmatched(facts, entries)
    if plugin == noderesources.FIT:
        return _no_room(facts, entries)
    names = [n for n, _ in entries]
    reason = entries[0][1]
    return (f"{_and(names)}: {reason}.", f"{', '.join(names)} 노드: {reason}."), None


def _cordoned(names: list[str]) -> tuple[Text, Text]:
    one = len(names) == 1
    return (
        (
            f"{_and(names)} {'is' if one else 'are'} cordoned (spec.unschedulable), so {'it takes' if one else 'they take'} no new pods.",
            f"{', '.join(names)} 노드는 cordon되어(spec.unschedulable) 새 파드를 받지 않습니다.",
        ),
        (f"Uncordon {'it' if one else 'them'} (kubectl uncordon {' '.join(names)}).", f"cordon을 풀어 주세요(kubectl uncordon {' '.join(names)})."),
    )


def _taint_text(taint: dict) -> str:
    """`key=value:Effect`, as kubectl taint writes it."""
    value = f"={taint['value']}" if taint.get("value") else ""
    return f"{taint.get('key') or ''}{value}:{taint.get('effect') or ''}"


def _untolerated(facts: Facts, node: str) -> dict | None:
    info = facts.rooms.get(node)
    if info is None:
        return None
    tolerations = pod_info(facts.pod).tolerations
    return next((t for t in info.taints if t.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(tolerations, t)), None)


def _tainted(facts: Facts, entries: list[tuple[str, str]]) -> tuple[Text, Text | None]:
    down, tainted, gone = [], [], []
    for node, reason in entries:
        taint = _untolerated(facts, node)
        if taint is None:
            gone.append((node, reason))
        elif taint.get("key") in (TAINT_NOT_READY, TAINT_UNREACHABLE):
            down.append((node, taint))
        else:
            tainted.append((node, taint))
    clauses_en, clauses_ko, fixes_en, fixes_ko = [], [], [], []
    if down:
        names = [n for n, _ in down]
        keys = sorted({t["key"] for _, t in down})
        clauses_en.append(f"{_and(names)} {'is' if len(names) == 1 else 'are'} not Ready (taint {_and(keys)}), so the scheduler keeps new pods away.")
        clauses_ko.append(f"{', '.join(names)} 노드는 Ready 상태가 아니어서({', '.join(keys)} 테인트) 스케줄러가 새 파드를 보내지 않습니다.")
        fixes_en.append("Start the stopped node again, or wait until its kubelet reports Ready.")
        fixes_ko.append("멈춘 노드를 다시 시작하거나 kubelet이 Ready를 보고할 때까지 기다리세요.")
    for node, taint in tainted:
        text = _taint_text(taint)
        clauses_en.append(f"{node} has the taint {text}, which the pod does not tolerate.")
        clauses_ko.append(f"{node} 노드에는 파드가 용인(toleration)하지 않는 {text} 테인트가 있습니다.")
        fixes_en.append(f"Add a matching toleration to the pod (key {taint.get('key')}, effect {taint.get('effect')}), or remove the taint (kubectl taint nodes {node} {text}-).")
        fixes_ko.append(f"파드에 맞는 toleration(key {taint.get('key')}, effect {taint.get('effect')})을 추가하거나 테인트를 지우세요(kubectl taint nodes {node} {text}-).")
    for node, reason in gone:
        clauses_en.append(f"{node} was refused for {reason}; that taint has gone since, and the scheduler will try again.")
        clauses_ko.append(f"{node} 노드는 '{reason}' 때문에 거절되었지만 그 테인트는 이제 없으므로 스케줄러가 다시 시도합니다.")
    fix: Text | None = (" ".join(fixes_en), " ".join(fixes_ko)) if fixes_en else None
    return (" ".join(clauses_en), " ".join(clauses_ko)), fix


def _unmatched(facts: Facts, entries: list[tuple[str, str]]) -> tuple[Text, Text]:
    info = pod_info(facts.pod)
    selector = nodeaffinity.selector_text(info)
    conflict = any(reason == nodeaffinity.ERR_REASON_CONFLICT for _, reason in entries)
    node = entries[0][0]
    if conflict:
        return (
            ("The pod's required node affinity names no node at all (its terms contradict each other).", "파드의 필수 노드 어피니티 조건이 서로 모순되어 어떤 노드도 가리키지 않습니다."),
            ("Fix spec.affinity.nodeAffinity and create the pod again.", "spec.affinity.nodeAffinity를 고친 뒤 파드를 다시 만드세요."),
        )
    if selector:
        first = selector.split(",")[0]
        return (
            (f"No node has the labels the pod's nodeSelector asks for ({selector}).", f"파드의 nodeSelector가 요구하는 레이블({selector})을 가진 노드가 없습니다."),
            (
                f"Label a node to match (kubectl label nodes {node} {first}), or change the pod's nodeSelector.",
                f"노드에 레이블을 붙이거나(kubectl label nodes {node} {first}) 파드의 nodeSelector를 고치세요.",
            ),
        )
    return (
        ("No node matches the pod's required node affinity.", "파드의 필수 노드 어피니티(requiredDuringScheduling...)에 맞는 노드가 없습니다."),
        ("Label a node so that it matches, or loosen the pod's node affinity.", "조건에 맞도록 노드에 레이블을 붙이거나 파드의 노드 어피니티 조건을 완화하세요."),
    )


# What NodeResourcesFit weighs: (refusal reason, field, label in Korean, node capacity, node's requested).
RESOURCES = (
    ("Insufficient cpu", "cpu", "CPU", lambda i: i.cpu, lambda i: i.requested_cpu),
    ("Insufficient memory", "memory", "메모리", lambda i: i.memory, lambda i: i.requested_memory),
)


def _amount_en(resource: str, value: int) -> str:
    if resource == "cpu":
        if value % 1000 == 0:
            cores = value // 1000
            return f"{cores} CPU" + ("" if cores == 1 else "s")
        return f"{value}m CPU"
    return f"{_bytes(value)} of memory"


def _amount_ko(resource: str, value: int) -> str:
    if resource == "cpu":
        return f"{value // 1000}개" if value % 1000 == 0 else f"{value}m"
    return _bytes(value)


def _bytes(value: int) -> str:
    text = quantity.format_bytes(value)
    return text if not text.isdigit() else f"{value / 2**20:.1f}Mi"


def _no_room(facts: Facts, entries: list[tuple[str, str]]) -> tuple[Text, Text]:
    asked = dict(zip(("cpu", "memory"), pods.requests(facts.pod)))
    clauses_en, clauses_ko, fixes_en, fixes_ko = [], [], [], []
    short: list[tuple[str, str]] = []  # (English, Korean) names of what is short on some node, not on all
    for refusal, resource, label_ko, capacity, requested in RESOURCES:
        infos = [facts.rooms[n] for n, reason in entries if refusal in reason and n in facts.rooms]
        if not infos:
            continue
        want = asked[resource]
        largest = max(capacity(i) for i in infos)
        if want > largest:
            clause, fix = _too_big(resource, label_ko, want, [capacity(i) for i in infos])
            fixes_en.append(fix[0])
            fixes_ko.append(fix[1])
        else:
            clause = _too_full(resource, label_ko, want, {i.name: max(capacity(i) - requested(i), 0) for i in infos})
            short.append(("CPU" if resource == "cpu" else "memory", label_ko))
        clauses_en.append(clause[0])
        clauses_ko.append(clause[1])
    if short:
        fixes_en.append(f"Ask for less, or make room by deleting or scaling down pods that request {_and([e for e, _ in short])}.")
        fixes_ko.append(f"요청량을 줄이거나, {'와 '.join(k for _, k in short)}를 요청한 다른 파드를 지우거나 레플리카 수를 줄여 자리를 만드세요.")
    full = [n for n, reason in entries if "Too many pods" in reason]
    if full:
        clauses_en.append(f"{_and(full)} already {'runs' if len(full) == 1 else 'run'} as many pods as {'it' if len(full) == 1 else 'they'} may.")
        clauses_ko.append(f"{', '.join(full)} 노드는 이미 허용된 최대 개수만큼 파드를 실행하고 있습니다.")
        fixes_en.append("Delete pods you no longer need.")
        fixes_ko.append("필요 없는 파드를 지우세요.")
    if not clauses_en:
        names = [n for n, _ in entries]
        clauses_en.append(f"{_and(names)} {'has' if len(names) == 1 else 'have'} no room for it ({entries[0][1]}).")
        clauses_ko.append(f"{', '.join(names)} 노드에는 이 파드를 놓을 자리가 없습니다({entries[0][1]}).")
    return (" ".join(clauses_en), " ".join(clauses_ko)), (" ".join(fixes_en), " ".join(fixes_ko))


def _too_big(resource: str, label_ko: str, want: int, sizes: list[int]) -> tuple[Text, Text]:
    """A request larger than any node can give: what was asked, what nodes have, the fix."""
    largest = max(sizes)
    where_en = "each node has only" if len(set(sizes)) == 1 else "the largest node has only"
    where_ko = "노드마다 할당 가능한" if len(set(sizes)) == 1 else "가장 큰 노드도 할당 가능한"
    return (
        (
            f"You asked for {_amount_en(resource, want)}, but {where_en} {_amount_en(resource, largest)} allocatable.",
            f"{label_ko}를 {_amount_ko(resource, want)} 요청했지만 {where_ko} {label_ko}는 {_amount_ko(resource, largest)}뿐입니다.",
        ),
        (
            f"Ask for at most {_amount_en(resource, largest)} in resources.requests.{resource}.",
            f"resources.requests.{resource} 값을 {_amount_ko(resource, largest)} 이하로 줄이세요.",
        ),
    )


def _too_full(resource: str, label_ko: str, want: int, free: dict[str, int]) -> Text:
    """A request a node could hold, but not beside what its pods already asked for."""
    rest_en, rest_ko = "(the pods already there asked for the rest)", "(나머지는 이미 있는 파드들이 요청했습니다)"
    if len(free) > 1 and len(set(free.values())) == 1:
        left = next(iter(free.values()))
        return (
            f"You asked for {_amount_en(resource, want)}, but only {_amount_en(resource, left)} is left unrequested on each node {rest_en}.",
            f"{label_ko}를 {_amount_ko(resource, want)} 요청했지만 노드마다 남은 {label_ko}는 {_amount_ko(resource, left)}뿐입니다{rest_ko}.",
        )
    listed_en = _and([f"{_amount_en(resource, n)} on {node}" for node, n in free.items()])
    listed_ko = ", ".join(f"{node} 노드에 {_amount_ko(resource, n)}" for node, n in free.items())
    return (
        f"You asked for {_amount_en(resource, want)}, but what is left unrequested is only {listed_en} {rest_en}.",
        f"{label_ko}를 {_amount_ko(resource, want)} 요청했지만 남은 {label_ko}는 {listed_ko}뿐입니다{rest_ko}.",
    )


# --- on a node ---------------------------------------------------------------------------------


def _bound(facts: Facts) -> Finding:
    if facts.node is None:
        return _unknown(facts, (f"It is bound to node {_node_name(facts.pod)}, which no longer exists.", f"이 파드가 배치된 {_node_name(facts.pod)} 노드가 더 이상 없습니다."))
    if _node_down(facts.node):
        return _node_unreachable(facts)
    if facts.paused and _held_of(facts, clock.KUBELET):
        return _held_by_clock(facts, clock.KUBELET)
    if not (facts.pod.get("status") or {}).get("hostIP"):
        node = _node_name(facts.pod)
        return Finding(
            KUBELET, "WaitingForKubelet",
            f"The scheduler bound the pod to {node}; the kubelet there has not admitted it yet, which it does at its next stage.",
            f"스케줄러가 파드를 {node} 노드에 배치했고, 그 노드의 kubelet이 다음 단계에서 파드를 받아들일 차례입니다.",
        )
    for check in (_image_problem, _config_problem, _crash_loop, _exited, _creating, _liveness, _readiness):
        found = check(facts)
        if found is not None:
            return found
    if pods.is_ready(facts.pod):
        return _healthy(facts)
    return _unknown(facts)


def _each(facts: Facts) -> list[tuple[dict, dict]]:
    """(container spec, its status) for every container the kubelet reports on."""
    found = []
    for c in _containers(facts.pod):
        entry = kubelet_status.of(facts.pod, c.get("name", ""))
        if entry is not None:
            found.append((c, entry))
    return found


def _healthy(facts: Facts) -> Finding:
    node = _node_name(facts.pod)
    count = len(_containers(facts.pod))
    restarts = sum(int(e.get("restartCount") or 0) for e in kubelet_status.statuses(facts.pod))
    which_en = "its container runs and is ready" if count == 1 else f"all {count} of its containers run and are ready"
    which_ko = "컨테이너가 실행 중이고 준비되어" if count == 1 else f"컨테이너 {count}개가 모두 실행 중이고 준비되어"
    en = f"The pod is Running and Ready on {node}: {which_en}, so Services send it traffic. Nothing to fix."
    ko = f"파드가 {node} 노드에서 Running이며 Ready입니다. {which_ko} 있어 서비스가 트래픽을 보냅니다. 고칠 것이 없습니다."
    if restarts:
        en += f" (Its containers were restarted {_times(restarts)} before.)"
        ko += f" (컨테이너가 이전에 {restarts}번 재시작되었습니다.)"
    return Finding(NOBODY, "Healthy", en, ko)


def _unknown(facts: Facts, known: Text = ("", "")) -> Finding:
    status, phase = tables.pod_status_reason(facts.pod), _phase(facts.pod)
    shown = status if status == phase else f"{status} (phase {phase})"
    en = f"podflow cannot say more than kubectl does: the pod is {shown}. The evidence lists its conditions and recent Events."
    ko = f"podflow가 kubectl보다 더 알려 드릴 수 있는 것이 없습니다. 파드 상태는 {shown}입니다. 근거(evidence)에 파드의 조건과 최근 이벤트가 있습니다."
    if known[0]:
        en, ko = f"{known[0]} {en}", f"{known[1]} {ko}"
    return Finding(NOBODY, "Unknown", en, ko)


# --- images ------------------------------------------------------------------------------------


def _image_problem(facts: Facts) -> Finding | None:
    for c, entry in _each(facts):
        reason = kubelet_status.waiting_reason(entry)
        if reason in IMAGE_REASONS:
            return _image_finding(facts, c, reason)
    return None


def _short(repository: str) -> str:
    """How a learner writes a repository: nginx, traefik/whoami, registry.k8s.io/pause."""
    if repository.startswith("docker.io/library/"):
        return repository[len("docker.io/library/"):]
    if repository.startswith("docker.io/"):
        return repository[len("docker.io/"):]
    return repository


def _known_tag(repository: str) -> str:
    """A tag the registry has for `repository`, to offer in place of a missing one."""
    repo = images.CATALOGUE.get(repository)
    if repo is None:
        return ""
    candidates = list(COMMON_TAGS)
    for pattern in repo.tags:
        candidates += [p.replace("\\.", ".") for p in pattern.split("|")]
    return next((t for t in candidates if re.fullmatch(r"[\w][\w.-]*", t) and not images.lookup(f"{repository}:{t}")[1]), "")


def _similar_repository(repository: str) -> str:
    names = {_short(r): r for r in images.CATALOGUE}
    close = difflib.get_close_matches(_short(repository), list(names), n=1, cutoff=0.6)
    return close[0] if close else ""


def _image_cause(facts: Facts, c: dict, reason: str) -> tuple[Text, Text]:
    """What is wrong with the container's image, and the fix."""
    image = str(c.get("image") or "")
    set_image = f"kubectl set image pod/{_name(facts)} {c.get('name')}="
    if reason == "InvalidImageName":
        why = images.invalid_reason(image)
        fixed = image.lower() if images.parse(image.lower()) else ""
        fix: Text = (
            (f"Write it as a valid reference ({set_image}{fixed}{_ns_flag(facts)}).", f"올바른 형식으로 고치세요({set_image}{fixed}{_ns_flag(facts)}).")
            if fixed else ("Correct the image name.", "이미지 이름을 고치세요.")
        )
        return (f'the name "{image}" is not a valid image reference ({why})', f'"{image}" 이미지 이름이 올바른 참조 형식이 아닙니다({why})'), fix
    if reason == "ErrImageNeverPull":
        return (
            ("imagePullPolicy is Never and the image is not on the node", "imagePullPolicy가 Never인데 그 노드에 이미지가 없습니다"),
            ("Create the pod again with imagePullPolicy IfNotPresent (it cannot be changed on a pod).", "imagePullPolicy를 IfNotPresent로 바꿔 파드를 다시 만드세요(파드에서는 바꿀 수 없습니다)."),
        )
    ref = images.parse(image)
    if ref is None:
        return (f'"{image}" cannot be parsed', f'"{image}" 이미지 이름을 해석할 수 없습니다'), ("Correct the image name.", "이미지 이름을 고치세요.")
    if ref.repository not in images.CATALOGUE:
        similar = _similar_repository(ref.repository)
        cause: Text = (f"the registry has no repository {ref.repository} (or it is private)", f"레지스트리에 {ref.repository} 저장소가 없습니다(또는 비공개입니다)")
        if similar:
            return cause, (f"Did you mean {similar} ({set_image}{similar}{_ns_flag(facts)})?", f"{similar} 이미지를 뜻하셨나요({set_image}{similar}{_ns_flag(facts)})?")
        return cause, ("Check the image's name.", "이미지 이름을 확인하세요.")
    if images.lookup(image)[1]:
        short, tag = _short(ref.repository), ref.tag
        implied = ":" not in image.rsplit("/", 1)[-1]
        cause = (
            f'the repository {short} exists but has no tag "{tag}"' + (" (the tag used when none is given)" if implied else ""),
            f'{short} 저장소는 있지만 "{tag}" 태그가 없습니다' + (f"(태그를 생략하면 {tag}가 쓰입니다)" if implied else ""),
        )
        known = _known_tag(ref.repository)
        if known:
            return cause, (f"Use a tag it has, for example {short}:{known} ({set_image}{short}:{known}{_ns_flag(facts)}).", f"있는 태그를 쓰세요. 예: {short}:{known} ({set_image}{short}:{known}{_ns_flag(facts)}).")
        return cause, ("Use a tag the repository has.", "저장소에 있는 태그를 쓰세요.")
    return (
        ("the last pull failed, but the registry has the image now", "마지막 pull은 실패했지만 지금은 레지스트리에 이미지가 있습니다"),
        ("Nothing to fix: the kubelet pulls it again at its next try.", "고칠 것이 없습니다. kubelet이 다음 시도에서 다시 받아 옵니다."),
    )


def _pull_failures(facts: Facts, container: str, image: str) -> int:
    start = f'Failed to pull image "{image}"'
    return sum(int(e.get("count") or 1) for e in facts.events if e.get("reason") == "Failed" and _container_of(e) == container and str(e.get("message", "")).startswith(start))


def _image_finding(facts: Facts, c: dict, reason: str) -> Finding:
    name, image, node = c.get("name", ""), str(c.get("image") or ""), _node_name(facts.pod)
    cause, fix = _image_cause(facts, c, reason)
    en = f'The container runtime on {node} cannot get the image "{image}" for container {name}: {cause[0]}. {fix[0]}'
    ko = f'{node} 노드의 컨테이너 런타임이 {name} 컨테이너의 "{image}" 이미지를 받아 오지 못합니다. {cause[1]}. {fix[1]}'
    if reason == "ImagePullBackOff":
        failures = _pull_failures(facts, name, image)
        wait = timing.backoff_nominal(max(failures, 1))
        en += f" Meanwhile the kubelet retries after a back-off ({wait} s now, doubling up to 5 minutes)."
        ko += f" 그동안 kubelet은 백오프 시간({wait}초, 매번 두 배로 늘어 최대 5분)을 두고 다시 시도합니다."
    component = KUBELET if reason == "ErrImageNeverPull" else RUNTIME
    return Finding(component, reason, en, ko)


# --- ConfigMaps and Secrets --------------------------------------------------------------------

MISSING_OBJECT = re.compile(r'^(configmap|secret) "(.+)" not found$')
MISSING_KEY = re.compile(r"^couldn't find key (\S+) in (ConfigMap|Secret) ([^/]+)/(.+)$")


def _config_problem(facts: Facts) -> Finding | None:
    for c, entry in _each(facts):
        if kubelet_status.waiting_reason(entry) == "CreateContainerConfigError":
            message = str(((entry.get("state") or {}).get("waiting") or {}).get("message") or "")
            return _config_finding(facts, str(c.get("name", "")), message)
    return None


def _create_command(kind: str, name: str, key: str) -> str:
    if kind == "Secret":
        return f"kubectl create secret generic {name} --from-literal={key}=..."
    return f"kubectl create configmap {name} --from-literal={key}=..."


def _config_finding(facts: Facts, container: str, message: str) -> Finding:
    ns = facts.pod["metadata"].get("namespace") or "default"
    missing, no_key = MISSING_OBJECT.match(message), MISSING_KEY.match(message)
    after_en = "The kubelet creates the container as soon as it can read it."
    after_ko = "읽을 수 있게 되면 kubelet이 바로 컨테이너를 만듭니다."
    if missing:
        kind = "ConfigMap" if missing.group(1) == "configmap" else "Secret"
        obj = missing.group(2)
        key = _referenced_key(facts.pod, container, obj) or "KEY"
        create = _create_command(kind, obj, key) + _ns_flag(facts)
        en = (
            f"Container {container} takes its environment from the {kind} {obj}, which does not exist in namespace {ns}, so the kubelet cannot create the container. "
            f"Create it ({create}), or mark the reference optional: true. {after_en}"
        )
        ko = (
            f"{container} 컨테이너가 환경 변수를 읽는 {obj} {kind}이 {ns} 네임스페이스에 없어서 kubelet이 컨테이너를 만들 수 없습니다. "
            f"{kind}을 만들거나({create}) 참조에 optional: true를 지정하세요. {after_ko}"
        )
    elif no_key:
        key, kind, obj = no_key.group(1), no_key.group(2), no_key.group(4)
        en = (
            f"Container {container} reads the key {key} of the {kind} {obj}, which has no such key, so the kubelet cannot create the container. "
            f"Add the key (kubectl edit {kind.lower()} {obj}{_ns_flag(facts)}) or correct the key the pod asks for. {after_en}"
        )
        ko = (
            f"{container} 컨테이너가 {obj} {kind}의 {key} 키를 읽으려 하지만 그런 키가 없어서 kubelet이 컨테이너를 만들 수 없습니다. "
            f"키를 추가하거나(kubectl edit {kind.lower()} {obj}{_ns_flag(facts)}) 파드가 요구하는 키 이름을 고치세요. {after_ko}"
        )
    else:
        en = f"The kubelet cannot create container {container}: {_sentence(message)}. {after_en}"
        ko = f"kubelet이 {container} 컨테이너를 만들 수 없습니다: {_sentence(message)}. {after_ko}"
    return Finding(KUBELET, "CreateContainerConfigError", en, ko)


def _referenced_key(pod: dict, container: str, obj: str) -> str:
    """The key the container's env reads from the ConfigMap or Secret `obj`, if it names one."""
    spec = next((c for c in _containers(pod) if c.get("name") == container), {})
    for item in spec.get("env") or []:
        value_from = item.get("valueFrom") if isinstance(item, dict) else None
        for field_name in ("configMapKeyRef", "secretKeyRef"):
            ref = value_from.get(field_name) if isinstance(value_from, dict) else None
            if isinstance(ref, dict) and ref.get("name") == obj and ref.get("key"):
                return str(ref["key"])
    return ""


# --- exits and restarts ------------------------------------------------------------------------


# What an exit code tells a learner: an English parenthesis, a Korean sentence.
EXIT_MEANINGS: dict[int, Text] = {
    0: (" (it finished successfully)", " 정상 종료라는 뜻입니다."),
    126: (" (its command cannot be executed)", " 명령을 실행할 수 없다는 뜻입니다."),
    127: (" (its command was not found)", " 명령을 찾을 수 없다는 뜻입니다."),
    137: (" (killed with SIGKILL: out of memory, or it did not stop in time)", " SIGKILL로 강제 종료되었다는 뜻입니다(메모리 부족이거나 제때 멈추지 않았습니다)."),
    143: (" (stopped by SIGTERM)", " SIGTERM으로 종료되었다는 뜻입니다."),
}


def _exit_meaning(ended: dict) -> Text:
    """What the way a container ended tells a learner ("" for a plain failure)."""
    if ended.get("reason") == "StartError":
        detail = str(ended.get("message") or "").split("error during container init: ", 1)[-1].removesuffix(": unknown")
        return f" (the runtime could not start it: {detail})", f" 런타임이 컨테이너를 시작하지 못했습니다: {detail}."
    code = ended.get("exitCode")
    return EXIT_MEANINGS.get(code, ("", "")) if isinstance(code, int) else ("", "")


def _duration_ko(text: str) -> str:
    """A Go duration as the kubelet prints it (10s, 1m20s, 5m0s), in Korean: 10초, 1분 20초, 5분."""
    found = re.fullmatch(r"(?:(\d+)m)?(\d+)s", text)
    if not found:
        return text
    minutes, seconds = int(found.group(1) or 0), int(found.group(2))
    parts = ([f"{minutes}분"] if minutes else []) + ([f"{seconds}초"] if seconds or not minutes else [])
    return " ".join(parts)


def _crash_loop(facts: Facts) -> Finding | None:
    for c, entry in _each(facts):
        if kubelet_status.waiting_reason(entry) == "CrashLoopBackOff":
            return _crash_finding(facts, str(c.get("name", "")), entry)
    return None


def _crash_finding(facts: Facts, name: str, entry: dict) -> Finding:
    ended = (entry.get("lastState") or {}).get("terminated") or {}
    code = ended.get("exitCode", "?")
    restarts = int(entry.get("restartCount") or 0)
    message = str(((entry.get("state") or {}).get("waiting") or {}).get("message") or "")
    found = re.match(r"back-off (\S+) restarting", message)
    backoff = found.group(1) if found else f"{timing.backoff_nominal(restarts)}s"
    meaning = _exit_meaning(ended)
    policy = (facts.pod.get("spec") or {}).get("restartPolicy") or "Always"
    en = (
        f"Container {name} keeps exiting: its last run ended with exit code {code}{meaning[0]}. It has been restarted {_times(restarts)}, "
        f"and the kubelet now waits {backoff} before the next restart (the back-off doubles each time, up to 5 minutes)."
    )
    ko = (
        f"{name} 컨테이너가 계속 종료됩니다. 마지막 실행의 종료 코드는 {code}입니다.{meaning[1]} 지금까지 {restarts}번 재시작되었고, "
        f"kubelet은 다음 재시작 전에 {_duration_ko(backoff)} 동안 기다립니다(백오프는 매번 두 배로 늘어 최대 5분입니다)."
    )
    if code == 0 and ended.get("reason") != "StartError":
        en += f" restartPolicy {policy} restarts every container that ends: give it a command that keeps running, or use restartPolicy OnFailure or Never for a task meant to finish."
        ko += f" restartPolicy {policy}는 끝난 컨테이너를 항상 다시 시작합니다. 계속 실행되는 명령을 주거나, 끝나야 하는 작업이라면 restartPolicy를 OnFailure나 Never로 하세요."
    elif ended.get("reason") == "StartError":
        en += " Fix its command: the runtime cannot start it."
        ko += " 런타임이 시작할 수 없으니 명령(command)을 고치세요."
    else:
        en += f" See why with kubectl logs {_name(facts)} -c {name} --previous{_ns_flag(facts)}, then fix its command or configuration."
        ko += f" kubectl logs {_name(facts)} -c {name} --previous{_ns_flag(facts)} 명령으로 이유를 확인한 뒤 명령이나 설정을 고치세요."
    return Finding(KUBELET, "CrashLoopBackOff", en, ko)


def _exited(facts: Facts) -> Finding | None:
    """A container that has just ended and is about to be restarted (no back-off yet)."""
    policy = (facts.pod.get("spec") or {}).get("restartPolicy") or "Always"
    for c, entry in _each(facts):
        if kubelet_status.state_name(entry) != "terminated":
            continue
        ended = (entry.get("state") or {}).get("terminated") or {}
        code = ended.get("exitCode", 0)
        if not kubelet_status.wants_restart(policy, int(code) if isinstance(code, int) else 1):
            continue
        name, meaning = c.get("name", ""), _exit_meaning(ended)
        return Finding(
            KUBELET, "ContainerExited",
            f"Container {name} has just exited with code {code}{meaning[0]}; the kubelet restarts it, as restartPolicy {policy} says.",
            f"{name} 컨테이너가 방금 끝났습니다(종료 코드 {code}).{meaning[1]} restartPolicy {policy}에 따라 kubelet이 다시 시작합니다.",
        )
    return None


# --- creating ----------------------------------------------------------------------------------


def _pull_event(facts: Facts, container: str, image: str) -> dict | None:
    """The newest pull Event of the container about its current image."""
    quoted = f'"{image}"'
    for event in reversed(facts.events):
        if event.get("reason") in PULL_EVENTS and _container_of(event) == container and quoted in str(event.get("message", "")):
            return event
    return None


def _creating(facts: Facts) -> Finding | None:
    waiting = [(c, e) for c, e in _each(facts) if kubelet_status.waiting_reason(e) == "ContainerCreating"]
    if not waiting:
        return None
    node = _node_name(facts.pod)
    for c, _ in waiting:
        image = str(c.get("image") or "")
        event = _pull_event(facts, str(c.get("name", "")), image)
        if event is not None and event.get("reason") == "Pulling":
            return _pulling(facts, str(c.get("name", "")), image)
    if not (facts.pod.get("status") or {}).get("podIP"):
        stage: Text = ("setting up its sandbox and IP address", "샌드박스와 IP 주소를 준비하고")
    else:
        stage = ("getting its images and creating its containers", "이미지를 준비하고 컨테이너를 만들고")
    return Finding(
        KUBELET, "ContainerCreating",
        f"The pod is on {node}; the kubelet there is {stage[0]}. Nothing to fix: each stage takes a moment.",
        f"파드는 {node} 노드에 있고, 그 노드의 kubelet이 {stage[1]} 있습니다. 고칠 것은 없으며 단계마다 잠시 걸립니다.",
    )


def _pulling(facts: Facts, container: str, image: str) -> Finding:
    node = _node_name(facts.pod)
    megabytes = max(1, round(images.image_size(image) / 1_000_000))
    seconds = images.pull_seconds(facts.cluster, image)
    took_en = f", about {seconds:.0f} s at this cluster's speed" if seconds >= 1 else ""
    took_ko = f", 이 클러스터의 속도로 약 {seconds:.0f}초" if seconds >= 1 else ""
    return Finding(
        KUBELET, "PullingImage",
        f'The pod is on {node}, where the kubelet is pulling the image "{image}" for container {container} (about {megabytes} MB{took_en}). '
        "The container is created and started once the image is on the node.",
        f'파드는 {node} 노드에 있고, 그 노드의 kubelet이 {container} 컨테이너에 쓸 "{image}" 이미지를 받아 오고 있습니다(약 {megabytes}MB{took_ko}). '
        "이미지를 다 받으면 컨테이너를 만들고 시작합니다.",
    )


# --- probes ------------------------------------------------------------------------------------


def _probe_text(probe: dict) -> str:
    if isinstance(probe.get("httpGet"), dict):
        get = probe["httpGet"]
        return f"HTTP GET {get.get('path') or '/'} on port {get.get('port')}"
    if isinstance(probe.get("tcpSocket"), dict):
        return f"TCP connect to port {probe['tcpSocket'].get('port')}"
    if isinstance(probe.get("grpc"), dict):
        return f"gRPC health check on port {probe['grpc'].get('port')}"
    if isinstance(probe.get("exec"), dict):
        return "command " + " ".join(str(c) for c in probe["exec"].get("command") or [])
    return "probe"


def _liveness(facts: Facts) -> Finding | None:
    for c, entry in _each(facts):
        if not probes.failing(facts.pod, c, probes.LIVENESS):
            continue
        name, probe = str(c.get("name", "")), probes.declared(c, probes.LIVENESS) or {}
        failure = probes.failure(facts.pod, c, probes.LIVENESS)
        restarts = int(entry.get("restartCount") or 0)
        command = f"kubectl annotate pod {_name(facts)} {probes.ANNOTATION[probes.LIVENESS]}=pass --overwrite{_ns_flag(facts)}"
        return Finding(
            KUBELET, "LivenessProbeFailing",
            f'Container {name}\'s liveness probe ({_probe_text(probe)}) fails ("{failure}"), so the kubelet kills and restarts the container each time (restarts so far: {restarts}). '
            f"In podflow the annotation {probes.ANNOTATION[probes.LIVENESS]}=fail makes it fail; let it pass ({command}).",
            f'{name} 컨테이너의 liveness 프로브({_probe_text(probe)})가 실패해서("{failure}") kubelet이 그때마다 컨테이너를 죽이고 다시 시작합니다(지금까지 {restarts}번). '
            f"podflow에서는 {probes.ANNOTATION[probes.LIVENESS]}=fail 어노테이션이 프로브를 실패시키니, 통과하게 바꾸세요({command}).",
        )
    return None


def _readiness(facts: Facts) -> Finding | None:
    for c, entry in _each(facts):
        if kubelet_status.state_name(entry) != "running" or entry.get("ready"):
            continue
        name, probe = str(c.get("name", "")), probes.declared(c, probes.READINESS)
        if probe is not None and probes.failing(facts.pod, c, probes.READINESS):
            failure = probes.failure(facts.pod, c, probes.READINESS)
            command = f"kubectl annotate pod {_name(facts)} {probes.ANNOTATION[probes.READINESS]}=pass --overwrite{_ns_flag(facts)}"
            return Finding(
                KUBELET, "ReadinessProbeFailing",
                f'Container {name} is running, but its readiness probe ({_probe_text(probe)}) fails: "{failure}". The pod is not Ready, so Services send it no traffic. '
                f"In podflow the annotation {probes.ANNOTATION[probes.READINESS]}=fail makes it fail; let it pass ({command}).",
                f'{name} 컨테이너는 실행 중이지만 readiness 프로브({_probe_text(probe)})가 실패합니다: "{failure}". 파드가 Ready가 아니므로 서비스가 트래픽을 보내지 않습니다. '
                f"podflow에서는 {probes.ANNOTATION[probes.READINESS]}=fail 어노테이션이 프로브를 실패시키니, 통과하게 바꾸세요({command}).",
            )
        if probe:
            delay = probes.initial_delay(probe)
            en = f"Container {name} has started; the kubelet marks it ready once its readiness probe first passes (after initialDelaySeconds, {delay} s)."
            ko = f"{name} 컨테이너가 시작되었습니다. readiness 프로브가 처음 통과하면(initialDelaySeconds {delay}초 이후) kubelet이 준비 완료로 표시합니다."
        else:
            en = f"Container {name} has started; the kubelet marks it ready at its next stage."
            ko = f"{name} 컨테이너가 시작되었고, kubelet이 다음 단계에서 준비 완료로 표시합니다."
        return Finding(KUBELET, "NotReadyYet", en, ko)
    return None


# --- the node is down --------------------------------------------------------------------------


def _node_state(facts: Facts) -> Text:
    """How the pod's node is unwell, in words."""
    node, name = facts.node, _node_name(facts.pod)
    if node is None:
        return f"node {name} no longer exists", f"{name} 노드가 더 이상 없습니다"
    if kubelet_node.is_stopped(node):
        return f"node {name} has been stopped", f"{name} 노드가 멈춰 있습니다"
    ready = pods.condition(node, "Ready") or {}
    detail = _sentence(str(ready.get("message") or "")) or "its kubelet stopped posting node status"
    return f"node {name} is NotReady ({detail})", f"{name} 노드가 NotReady 상태입니다({detail})"


def _tolerance(pod: dict, taint: dict) -> int | None:
    """Kubernetes seconds the pod tolerates this NoExecute taint: 0 not at all, None for ever."""
    matching = [t for t in (pod.get("spec") or {}).get("tolerations") or [] if isinstance(t, dict) and tolerates(t, taint)]
    if not matching:
        return 0
    bounded = [t.get("tolerationSeconds") for t in matching if t.get("tolerationSeconds") is not None]
    if len(bounded) < len(matching) or not all(isinstance(b, int) for b in bounded):
        return None
    return max(0, min(bounded))


def _eviction(facts: Facts, noexec: list[dict]) -> Text:
    """What the taint eviction controller will do with the pod, in words."""
    taint = noexec[0]
    text, seconds = _taint_text(taint), _tolerance(facts.pod, taint)
    replaced = _replacement(facts.pod)
    if seconds is None:
        return (
            f" The node carries the taint {text}, which this pod tolerates for ever, so it stays.",
            f" 노드에 {text} 테인트가 있지만 이 파드는 이를 무기한 용인하므로 그대로 남습니다.",
        )
    if seconds == 0:
        return (
            f" The node carries the taint {text}, which this pod does not tolerate: the taint eviction controller deletes it at once, and {replaced[0]}.",
            f" 노드에 {text} 테인트가 있고 이 파드는 이를 용인하지 않으므로 테인트 축출 컨트롤러가 바로 지웁니다. {replaced[1]}.",
        )
    due = node_controller.eviction_time(facts.cluster, facts.pod, noexec)
    left = max(0, round((due - facts.now).total_seconds())) if due is not None else 0
    return (
        f" The node carries the taint {text}, which this pod tolerates for {seconds} s (Kubernetes time): in about {left} s at this cluster's speed "
        f"the taint eviction controller deletes it, and {replaced[0]}.",
        f" 노드에 {text} 테인트가 있고 이 파드는 이를 {seconds}초(쿠버네티스 시간) 동안 용인합니다. 이 클러스터의 속도로 약 {left}초 뒤 "
        f"테인트 축출 컨트롤러가 파드를 지우며, {replaced[1]}.",
    )


def _replacement(pod: dict) -> Text:
    owner = _owner(pod)
    if owner:
        return f"its {owner.get('kind')} makes a replacement on a Ready node", f"{owner.get('kind')} 컨트롤러가 Ready 노드에 대체 파드를 만듭니다"
    return "as a bare pod it is not replaced", "컨트롤러가 없는 파드라서 대체되지 않습니다"


def _node_unreachable(facts: Facts) -> Finding:
    node, name = facts.node or {}, _node_name(facts.pod)
    state = _node_state(facts)
    start = _api(facts, f"nodes/{name}/start")
    noexec = [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict) and t.get("effect") == "NoExecute"]
    ready = node_controller.ready_status(node)
    if ready == "True":
        grace = timing.NODE_MONITOR_GRACE
        en = (
            f"{state[0][0].upper() + state[0][1:]}: its kubelet no longer runs or heartbeats, so nothing looks after this pod. "
            f"After {grace} s without a heartbeat (Kubernetes time) the node controller marks the node NotReady and taints it, and then evicts the pods that do not tolerate that. "
            f"Start the node again ({start}) to bring it back."
        )
        ko = (
            f"{state[1]}. kubelet이 실행되지도 하트비트를 보내지도 않아 이 파드를 돌보는 컴포넌트가 없습니다. "
            f"하트비트 없이 {grace}초(쿠버네티스 시간)가 지나면 노드 컨트롤러가 노드를 NotReady로 표시하고 테인트를 붙인 뒤, 이를 용인하지 않는 파드를 축출합니다. "
            f"노드를 다시 시작하면({start}) 돌아옵니다."
        )
        return Finding(NODE_CONTROLLER, "NodeUnreachable", en, ko)
    reason = "NodeNotReady" if ready == "False" and not kubelet_node.is_stopped(node) else "NodeUnreachable"
    en = f"{state[0][0].upper() + state[0][1:]}, so the node controller marked this pod not Ready and Services send it no traffic."
    ko = f"{state[1]}. 그래서 노드 컨트롤러가 이 파드를 Ready 아님으로 표시했고 서비스는 트래픽을 보내지 않습니다."
    if noexec:
        eviction = _eviction(facts, noexec)
        en += eviction[0]
        ko += eviction[1]
    else:
        en += " The node controller has put no NoExecute taint on it (when most nodes are down it evicts nothing), so the pod stays where it is."
        ko += " 노드 컨트롤러가 NoExecute 테인트를 붙이지 않았으므로(노드 대부분이 멈추면 아무것도 축출하지 않습니다) 파드는 그 자리에 남습니다."
    en += f" Start the node again ({start}) and the pod carries on there."
    ko += f" 노드를 다시 시작하면({start}) 파드가 그 노드에서 계속 실행됩니다."
    return Finding(NODE_CONTROLLER, reason, en, ko)


# --- going away --------------------------------------------------------------------------------


def _terminating(facts: Facts) -> Finding:
    pod, name = facts.pod, _name(facts)
    node = _node_name(pod)
    if node and _node_down(facts.node):
        return _terminating_on_lost_node(facts)
    running = [e for e in kubelet_status.statuses(pod) if kubelet_status.state_name(e) == "running"]
    finalizers = [str(f) for f in pod["metadata"].get("finalizers") or []]
    if finalizers and (not running or not node):
        listed = ", ".join(finalizers)
        patch = f"kubectl patch pod {name}{_ns_flag(facts)} --type=merge -p '{{\"metadata\":{{\"finalizers\":null}}}}'"
        return Finding(
            API_SERVER, "WaitingForFinalizers",
            f"The pod was deleted and nothing of it runs any more, but the API server keeps it while metadata.finalizers lists {listed}: "
            f"whoever added them must remove them (by hand: {patch}).",
            f"파드는 삭제되었고 더 실행되는 것이 없지만, metadata.finalizers 목록({listed})이 비워지지 않아 API 서버가 파드를 지우지 않고 보관합니다. "
            f"파이널라이저를 추가한 쪽이 지워야 합니다(직접 지우려면: {patch}).",
        )
    if not node:
        return Finding(
            API_SERVER, "Terminating",
            "The pod was deleted before it was bound to a node; the API server removes it.",
            "파드가 노드에 배치되기 전에 삭제되어 API 서버가 파드를 지웁니다.",
        )
    grace = pod["metadata"].get("deletionGracePeriodSeconds")
    return Finding(
        KUBELET, "Terminating",
        f"The pod was deleted; the kubelet on {node} is stopping its containers: SIGTERM first, then SIGKILL for any still running after the {grace} s grace period. "
        "The pod disappears once they have stopped.",
        f"파드가 삭제되어 {node} 노드의 kubelet이 컨테이너를 멈추고 있습니다. 먼저 SIGTERM을 보내고, 유예 기간 {grace}초가 지나도 실행 중인 컨테이너는 SIGKILL로 종료합니다. "
        "컨테이너가 모두 멈추면 파드가 사라집니다.",
    )


def _terminating_on_lost_node(facts: Facts) -> Finding:
    pod, name = facts.pod, _name(facts)
    state = _node_state(facts)
    target = pods.condition(pod, "DisruptionTarget") or {}
    if target.get("reason") == "DeletionByTaintManager":
        who: Text = (
            "The taint eviction controller deleted this pod because its node stayed unreachable longer than the pod tolerates",
            "노드가 응답하지 않은 시간이 파드가 용인하는 시간을 넘어서 테인트 축출 컨트롤러가 이 파드를 삭제했습니다",
        )
    else:
        who = ("This pod was deleted", "이 파드는 삭제되었습니다")
    force = f"kubectl delete pod {name}{_ns_flag(facts)} --grace-period=0 --force"
    en = (
        f"{who[0]}, but {state[0]}: no kubelet is there to stop its containers and confirm, so the pod stays Terminating until the node is back. "
        f"Start the node again ({_api(facts, f'nodes/{_node_name(pod)}/start')}), or remove the pod without waiting ({force})."
    )
    ko = (
        f"{who[1]}. 하지만 {state[1]}. 컨테이너를 멈추고 삭제를 확인해 줄 kubelet이 없으므로 노드가 돌아올 때까지 파드는 Terminating 상태로 남습니다. "
        f"노드를 다시 시작하거나({_api(facts, f'nodes/{_node_name(pod)}/start')}) 기다리지 않고 파드를 지우세요({force})."
    )
    owner = _owner(pod)
    if owner:
        en += f" Its {owner.get('kind')} does not wait: it already counts the pod as gone and makes a replacement."
        ko += f" {owner.get('kind')} 컨트롤러는 기다리지 않고 이 파드를 이미 없는 것으로 보고 대체 파드를 만듭니다."
    return Finding(NODE_CONTROLLER, "TerminatingOnUnreachableNode", en, ko)


# --- finished ----------------------------------------------------------------------------------


def _finished(facts: Facts) -> Finding:
    st = facts.pod.get("status") or {}
    reason, message = str(st.get("reason") or ""), str(st.get("message") or "")
    if reason == "Evicted":
        return _evicted(facts, message)
    if reason.startswith("OutOf") or message.startswith("Pod was rejected"):
        return _rejected(facts, message)
    if _phase(facts.pod) == "Succeeded":
        return _completed(facts)
    return _failed(facts)


def _evicted(facts: Facts, message: str) -> Finding:
    node, name = _node_name(facts.pod), _name(facts)
    owner = _owner(facts.pod)
    if owner:
        after: Text = (f"its {owner.get('kind')} has made a new one in its place", f"{owner.get('kind')} 컨트롤러가 대신할 새 파드를 만듭니다")
    else:
        after = ("as a bare pod it is gone for good: create it again", "컨트롤러가 없는 파드이므로 다시 만들어야 합니다")
    return Finding(
        KUBELET, "Evicted",
        f"The kubelet on {node} evicted this pod to protect its node: {_sentence(message) or 'the node ran short of a resource'}. "
        f"An evicted pod is never restarted; {after[0]}. Delete this one once you have read why (kubectl delete pod {name}{_ns_flag(facts)}).",
        f"{node} 노드의 kubelet이 노드를 보호하려고 이 파드를 축출했습니다: {_sentence(message) or '노드의 자원이 부족했습니다'}. "
        f"축출된 파드는 다시 시작되지 않으며, {after[1]}. 이유를 확인했다면 이 파드는 지우세요(kubectl delete pod {name}{_ns_flag(facts)}).",
    )


def _rejected(facts: Facts, message: str) -> Finding:
    node = _node_name(facts.pod)
    annotations = facts.pod["metadata"].get("annotations") or {}
    detail = _sentence(message.removeprefix("Pod was rejected: "))
    if cycle.SELECTED_NODE in annotations:
        fix: Text = ("Create it again with smaller requests.", "요청량을 줄여 파드를 다시 만드세요.")
    else:
        fix = (
            "The pod named its node itself (spec.nodeName), which skips the scheduler's check for room: create it again without nodeName, or with smaller requests.",
            "파드가 spec.nodeName으로 노드를 직접 지정해서 스케줄러의 자원 확인을 건너뛰었습니다. nodeName 없이, 또는 요청량을 줄여 다시 만드세요.",
        )
    return Finding(
        KUBELET, "AdmissionRejected",
        f"The kubelet on {node} refused to run this pod: {detail}. {fix[0]}",
        f"{node} 노드의 kubelet이 이 파드의 실행을 거부했습니다: {detail}. {fix[1]}",
    )


def _completed(facts: Facts) -> Finding:
    policy = (facts.pod.get("spec") or {}).get("restartPolicy") or "Always"
    name = _name(facts)
    return Finding(
        KUBELET, "Completed",
        f"Every container finished successfully (exit code 0) and restartPolicy {policy} does not restart them, so the pod is done: nothing to fix. "
        f"Its logs stay readable (kubectl logs {name}{_ns_flag(facts)}) until you delete it.",
        f"모든 컨테이너가 정상적으로 끝났고(종료 코드 0) restartPolicy {policy}는 다시 시작하지 않으므로 파드의 일은 끝났습니다. 고칠 것이 없습니다. "
        f"파드를 지우기 전까지 로그를 볼 수 있습니다(kubectl logs {name}{_ns_flag(facts)}).",
    )


def _failed(facts: Facts) -> Finding:
    policy = (facts.pod.get("spec") or {}).get("restartPolicy") or "Always"
    pod_name = _name(facts)
    for c, entry in _each(facts):
        ended = (entry.get("state") or {}).get("terminated") or {}
        code = ended.get("exitCode")
        if ended and code != 0:
            name, meaning = c.get("name", ""), _exit_meaning(ended)
            logs = f"kubectl logs {pod_name} -c {name}{_ns_flag(facts)}"
            return Finding(
                KUBELET, "Error",
                f"Container {name} exited with code {code}{meaning[0]} and restartPolicy {policy} does not restart it, so the pod has failed. "
                f"Read why with {logs}, fix the command or image, and create the pod again.",
                f"{name} 컨테이너가 끝났고(종료 코드 {code}) restartPolicy {policy}는 다시 시작하지 않으므로 파드가 실패했습니다.{meaning[1]} "
                f"{logs} 명령으로 이유를 확인하고 명령이나 이미지를 고친 뒤 파드를 다시 만드세요.",
            )
    return _unknown(facts, ("The pod has failed.", "파드가 실패했습니다."))
