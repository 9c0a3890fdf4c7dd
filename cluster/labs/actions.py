"""A lab's actions: what its setup, a step's setup, a solve, a reveal and its cleanup do.

Each action does what a learner, the page or a teacher could do, through the same doors:
manifests are created or replaced through the store as a POST or PUT is (validation,
defaulting and admission apply; a pod's steps 1–3 are recorded), kubectl commands run the
real kubectl with the cluster's own kubeconfig (the page terminal's runner), and the clock,
the component switches and the nodes' power go through the functions the podflow API
calls. Nothing here runs code a lab author wrote.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, Callable

import yaml

from cluster import sandbox
from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError
from cluster.apiserver import audit, store
from cluster.apiserver.handlers import clock as clock_api
from cluster.apiserver.handlers import podflow as podflow_api
from cluster.apiserver.handlers import terminal
from cluster.componentbase import clock as cluster_clock
from cluster.componentbase import narration
from cluster.informers import wake
from cluster.kubelet import node as kubelet_node
from cluster.labs import checks
from cluster.labs.schema import Action, Text
from cluster.models import Cluster, HeldAction

# Who the diagram (step 1) and the request log say asked, for what a lab's actions apply.
CLIENT = "podflow lab"
# How long a clock step waits for the component's next action to be held.
STEP_WAIT_SECONDS = 15.0
POLL_SECONDS = 0.2
# What deleteAll removes from a namespace, owners before what they own.
DELETE_ALL_KINDS = (
    kinds.DEPLOYMENT, kinds.REPLICASET, kinds.POD, kinds.INGRESS, kinds.SERVICE, kinds.ENDPOINTS,
    kinds.ENDPOINTSLICE, kinds.CONFIGMAP, kinds.SECRET, kinds.EVENT,
)


class ActionFailed(Exception):
    """An action could not be done: `message` says which and why; `code` is the HTTP status
    the API answers with (409 for the cluster's state, 503 for a missing kubectl)."""

    def __init__(self, message: str, code: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class Done:
    """What an action did, for the page and the command line."""

    text: Text
    output: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**self.text.as_dict(), "output": self.output}


# --- words ---------------------------------------------------------------------------------------


def _component_words(name: str) -> tuple[str, str]:
    if name.startswith("kubelet@"):
        node = name.split("@", 1)[1]
        return f"node {node} (its kubelet)", f"{node} 노드(kubelet)"
    return f"the {name}", checks.COMPONENT_KO.get(name, name)


def describe(action: Action) -> dict[str, Any]:
    """The action as a learner reads it in a solution: {en, ko} and, where there is one, the
    kubectl command or the manifest that does the same."""
    a, t = action.arg, action.type
    out: dict[str, Any] = {}
    if t == "kubectl":
        out = {"en": "run", "ko": "실행", "command": a["command"]}
    elif t == "apply":
        names = ", ".join(f"{m['kind']} {m['metadata']['name']}" for m in a)
        out = {
            "en": f"create (or replace) {names} from this manifest",
            "ko": f"다음 매니페스트로 {names}을(를) 만듭니다 (있으면 바꿉니다)",
            "command": "kubectl apply -f manifest.yaml",
            "manifest": yaml.safe_dump_all(a, sort_keys=False, allow_unicode=True),
        }
    elif t == "clock":
        if a["do"] == "pause":
            out = {"en": "pause the cluster's clock (the Pause button)", "ko": "클러스터의 시계를 일시정지합니다 (일시정지 버튼)"}
        elif a["do"] == "resume":
            out = {"en": "resume the cluster's clock (the Resume button)", "ko": "클러스터의 시계를 다시 흐르게 합니다 (재개 버튼)"}
        elif a["component"] in (None, "any"):
            out = {"en": "step the clock: let the next held action through", "ko": "시계를 한 단계 진행합니다: 보류된 다음 동작 하나를 내보냅니다"}
        else:
            en, ko = _component_words(a["component"])
            out = {"en": f"step the clock: let {en}'s next action through", "ko": f"시계를 한 단계 진행합니다: {ko}의 다음 동작 하나를 내보냅니다"}
    elif t == "speed":
        out = {"en": f"set the cluster's speed to {a}", "ko": f"클러스터 속도를 {a}(으)로 설정합니다"}
    elif t == "traffic":
        if a["kind"] == "Service":
            via = f" via {a['via']}" if a["via"] else ""
            out = {"en": f"send {a['count']} requests to Service {a['name']}{via} (the Services tab's “Send a request”)", "ko": f"{a['name']} 서비스에 요청 {a['count']}개를 보냅니다 (서비스 탭의 “요청 보내기”)"}
        else:
            out = {"en": f"send {a['count']} requests through Ingress {a['name']} (the Services tab's “Send a request through an Ingress”)", "ko": f"{a['name']} 인그레스로 요청 {a['count']}개를 보냅니다 (서비스 탭의 “인그레스로 요청 보내기”)"}
    elif t == "explain":
        if a:
            out = {"en": "switch podflow's explain on again", "ko": "podflow의 explain을 다시 켭니다"}
        else:
            out = {"en": "switch podflow's explain off: causes are found with kubectl alone", "ko": "podflow의 explain을 끕니다: 원인은 kubectl만으로 찾습니다"}
    elif t in ("stop", "start"):
        words = [_component_words(c) for c in a]
        en_names, ko_names = ", ".join(w[0] for w in words), ", ".join(w[1] for w in words)
        if t == "stop":
            out = {"en": f"stop {en_names}", "ko": f"{ko_names}을(를) 멈춥니다"}
        else:
            out = {"en": f"start {en_names} again", "ko": f"{ko_names}을(를) 다시 시작합니다"}
    elif t == "annotate":
        pairs = " ".join(f"{k}-" if v is None else f"{k}={v}" for k, v in a["annotations"].items())
        ns = f" -n {a['namespace']}" if a["namespace"] not in ("", "default") else ""
        out = {"en": f"annotate {a['kind']} {a['name']}", "ko": f"{a['name']} {checks.KIND_KO.get(a['kind'], a['kind'])}에 어노테이션을 붙입니다", "command": f"kubectl annotate {a['kind'].lower()} {a['name']}{ns} {pairs} --overwrite"}
    elif t == "delete":
        ns = f" -n {a['namespace']}" if a["namespace"] not in ("", "default") else ""
        force = " --grace-period=0 --force" if a["force"] else ""
        out = {"en": f"delete {a['kind']} {a['name']}", "ko": f"{a['name']} {checks.KIND_KO.get(a['kind'], a['kind'])}을(를) 삭제합니다", "command": f"kubectl delete {a['kind'].lower()} {a['name']}{ns}{force}"}
    elif t == "deleteAll":
        out = {"en": f"delete everything in namespace {a['namespace']}", "ko": f"{a['namespace']} 네임스페이스의 모든 것을 삭제합니다"}
    elif t == "reset":
        out = {"en": "reset the sandbox: every object deleted, the nodes back, the clock running, every component started", "ko": "샌드박스를 초기화합니다: 모든 오브젝트 삭제, 노드 복구, 시계 재개, 모든 컴포넌트 시작"}
    elif t == "wait":
        out = {"en": f"wait {a:g} s", "ko": f"{a:g}초 기다립니다"}
    elif t == "waitFor":
        text, _ = checks.describe(a["check"])
        out = {"en": f"wait until {text.en}", "ko": f"다음이 될 때까지 기다립니다: {text.ko}"}
    return out


# --- doing ------------------------------------------------------------------------------------------


def run_all(ctx: checks.Context, actions: list[Action]) -> list[Done]:
    """Run the actions in order; the first that fails raises ActionFailed (the rest do not run)."""
    return [run(ctx, action) for action in actions]


def run(ctx: checks.Context, action: Action) -> Done:
    words = describe(action)
    text = Text(words.get("en", action.type), words.get("ko", action.type))
    try:
        output = _RUNNERS[action.type](ctx, action.arg)
    except ActionFailed:
        raise
    except APIError as exc:
        raise ActionFailed(f"{action.where}: {exc.message}", 503 if exc.code == 503 else 409) from None
    return Done(text, output or "")


def _apply(ctx: checks.Context, manifests: list[dict]) -> str:
    lines = []
    for manifest in manifests:
        kind = kinds.BY_KIND[manifest["kind"]]
        doc = copy.deepcopy(manifest)
        meta = doc.setdefault("metadata", {})
        namespace = (meta.get("namespace") or "default") if kind.namespaced else ""
        name = meta["name"]
        existing = store.find(ctx.cluster, kind, namespace, name)
        if existing is None:
            steps = (lambda d, rev: narration.bare_pod_created(d, rev, CLIENT)) if kind is kinds.POD else None
            store.create(ctx.cluster, doc, by=store.API, client=CLIENT, namespace=namespace, steps=steps)
            verb, code = "create", 201
        else:
            if kind.namespaced:
                meta["namespace"] = namespace
            store.update(ctx.cluster, doc, by=store.API)
            verb, code = "update", 200
        audit.announce_on_commit(ctx.cluster.name, audit.REQUEST, {"client": CLIENT, "verb": verb, "resource": kind.plural, "namespace": namespace, "name": name, "code": code, "reason": ""})
        lines.append(f"{kind.plural}/{name} {'created' if verb == 'create' else 'configured'}")
    return "\n".join(lines)


def _kubectl(ctx: checks.Context, arg: dict) -> str:
    code, output = terminal.run_command(ctx.cluster, arg["words"], stdin=terminal.heredoc(arg["command"])[1])
    if code != 0 and not arg["mayFail"]:
        stopped = "did not finish in time" if code is None else f"failed (exit {code})"
        raise ActionFailed(f"`{arg['command']}` {stopped}: {output.strip()[-500:]}")
    return output


def _clock(ctx: checks.Context, arg: dict) -> str:
    cluster = ctx.cluster
    if arg["do"] == "pause":
        cluster_clock.pause(cluster)
        return "paused"
    if arg["do"] == "resume":
        clock_api.resume(cluster)
        return "resumed"
    component = None if arg["component"] in (None, "any") else arg["component"]
    if not cluster_clock.is_paused(cluster):
        raise ActionFailed("the clock is not paused: pause it before stepping it")
    held = HeldAction.objects.filter(cluster=cluster, released=False)
    if component:
        held = held.filter(component=component)
    # The component may not have been woken yet: wait for its action to be held.
    if not _until(lambda: held.exists(), STEP_WAIT_SECONDS):
        raise ActionFailed(f"nothing of the {component or 'components'}'s is held after {STEP_WAIT_SECONDS:g} s: there is no action to step")
    row = cluster_clock.step(cluster, component)
    if row is None:
        raise ActionFailed("nothing was held to step")
    wake.dispatch([(row.task, tuple(row.args))])
    return f"released: {row.action or row.task}"


def _speed(ctx: checks.Context, speed: str) -> str:
    store.set_speed(ctx.cluster, speed)
    return f"speed {speed}"


def _switch(ctx: checks.Context, components: list[str], *, stop: bool) -> str:
    done = []
    for name in components:
        if name.startswith("kubelet@"):
            node = name.split("@", 1)[1]
            (kubelet_node.stop if stop else kubelet_node.start)(ctx.cluster, node)
        elif stop:
            cluster_clock.stop(ctx.cluster, name)
        else:
            cluster_clock.start(ctx.cluster, name)
            clock_api.catch_up(ctx.cluster, name)
        done.append(f"{name} {'stopped' if stop else 'started'}")
    return "\n".join(done)


def _annotate(ctx: checks.Context, arg: dict) -> str:
    kind = kinds.BY_KIND[arg["kind"]]

    def change(doc: dict) -> None:
        notes = doc["metadata"].setdefault("annotations", {})
        for key, value in arg["annotations"].items():
            if value is None:
                notes.pop(key, None)
            else:
                notes[key] = value
        if not notes:
            doc["metadata"].pop("annotations")

    store.mutate(ctx.cluster, kind, arg["namespace"], arg["name"], change, by=store.API, validate=True)
    return f"{kind.plural}/{arg['name']} annotated"


def _delete(ctx: checks.Context, arg: dict) -> str:
    kind = kinds.BY_KIND[arg["kind"]]
    options = store.DeleteOptions(grace_seconds=0 if arg["force"] else None)
    try:
        store.delete(ctx.cluster, kind, arg["namespace"], arg["name"], by=store.API, options=options)
    except APIError as exc:
        if exc.code == 404:
            return f"{kind.plural}/{arg['name']} was not there"
        raise
    return f"{kind.plural}/{arg['name']} deleted"


def _delete_all(ctx: checks.Context, arg: dict) -> str:
    removed = 0
    options = store.DeleteOptions(grace_seconds=0, propagation="Background")
    for kind in DELETE_ALL_KINDS:
        for doc in store.list_docs(ctx.cluster, kind, arg["namespace"]):
            meta = doc["metadata"]
            try:
                store.delete(ctx.cluster, kind, arg["namespace"], meta["name"], by=store.API, options=options, expected_uid=meta["uid"])
                removed += 1
            except APIError as exc:
                if exc.code != 404:  # gone already: its owner's deletion took it
                    raise
    return f"{removed} object(s) deleted in namespace {arg['namespace']}"


def _traffic(ctx: checks.Context, a: dict) -> str:
    try:
        if a["kind"] == "Service":
            answers = podflow_api.send_to_service(ctx.cluster, a["namespace"], a["name"], a["count"], via=a["via"], node=a["node"], port=a["port"])
        else:
            answers = podflow_api.send_through_ingress(ctx.cluster, a["namespace"], a["name"], a["count"], host=a["host"], path=a["path"])
    except APIError as exc:
        raise ActionFailed(exc.message, exc.code) from exc
    by: dict[str, int] = {}
    for answer in answers:
        key = answer.body.get("pod") or str(answer.status)
        by[key] = by.get(key, 0) + 1
    return ", ".join(f"{k} ×{n}" for k, n in sorted(by.items()))


def _explain(ctx: checks.Context, on: bool) -> str:
    Cluster.objects.filter(pk=ctx.cluster.pk).update(explain=on)
    ctx.cluster.explain = on
    return "explain on" if on else "explain off"


def _reset(ctx: checks.Context, _arg: bool) -> str:
    """A fresh start: the clock running and every component started (so nothing is held
    for objects about to go), then the sandbox's Reset."""
    clock_api.resume(ctx.cluster)
    for component in cluster_clock.STOPPABLE:
        cluster_clock.start(ctx.cluster, component)
    revision = sandbox.reset(ctx.cluster)
    return f"reset (revision {revision})"


def _wait(ctx: checks.Context, seconds: float) -> str:
    time.sleep(seconds)  # an author's explicit pause, allowed in a solve only (schema.py)
    return f"waited {seconds:g} s"


def _wait_for(ctx: checks.Context, arg: dict) -> str:
    last: list[checks.Result] = []

    def passes() -> bool:
        last[:] = [checks.evaluate(ctx, arg["check"])]
        return last[0].ok

    if not _until(passes, arg["timeout"]):
        why = last[0].why.en if last and last[0].why else "it did not pass"
        raise ActionFailed(f"waited {arg['timeout']:g} s for: {last[0].text.en if last else ''}: {why}")
    return "ready"


def _until(condition: Callable[[], bool], timeout: float) -> bool:
    """Whether `condition` became true within `timeout` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


_RUNNERS: dict[str, Callable[[checks.Context, Any], str]] = {
    "apply": _apply,
    "kubectl": _kubectl,
    "clock": _clock,
    "speed": _speed,
    "explain": _explain,
    "traffic": _traffic,
    "stop": lambda ctx, arg: _switch(ctx, arg, stop=True),
    "start": lambda ctx, arg: _switch(ctx, arg, stop=False),
    "annotate": _annotate,
    "delete": _delete,
    "deleteAll": _delete_all,
    "reset": _reset,
    "wait": _wait,
    "waitFor": _wait_for,
}
