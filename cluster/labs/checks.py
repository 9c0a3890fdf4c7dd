"""A lab's checks, evaluated by the server against the learner's cluster.

A check is data (cluster/labs/schema.py reads it); nothing a learner or an author writes
runs here. Each type is one function over the cluster's state as the store, its change
log, its step log, the request log, the clock and the explain module hold it, returning
whether it holds and, when it does not, why — in words a learner can act on ("Pod web is
Pending, expected Running"). Every text is in English and Korean; Kubernetes identifiers
stay as they are, with a Korean noun after each name so that no particle depends on how a
name is pronounced (as cluster/explain.py words it).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from cluster import explain as explanation
from cluster.apimachinery import kinds, metav1, pods, selectors
from cluster.apiserver import requestlog, store
from cluster.componentbase import clock as cluster_clock
from cluster.kubelet import node as kubelet_node
from cluster.labs.schema import MISSING, Check, Text, resolve_path
from cluster.models import Change, Cluster, HeldAction, Step

# Korean nouns for the kinds (the curriculum's terms).
KIND_KO = {
    "Pod": "파드", "Deployment": "디플로이먼트", "ReplicaSet": "레플리카셋", "Service": "서비스", "Node": "노드",
    "Namespace": "네임스페이스", "Event": "이벤트", "ConfigMap": "컨피그맵", "Secret": "시크릿", "Ingress": "인그레스",
    "IngressClass": "인그레스클래스", "Endpoints": "엔드포인트", "EndpointSlice": "엔드포인트슬라이스", "Lease": "리스",
}
COMPONENT_KO = {"scheduler": "스케줄러", "controller-manager": "컨트롤러 매니저", "kubelet": "kubelet"}
CLIENT_WORDS = {"kubectl": ("kubectl", "kubectl"), "page": ("the page", "페이지"), "python": ("a Python client", "Python 클라이언트"), "curl": ("curl", "curl"), "any": ("a client", "클라이언트")}


@dataclass
class Context:
    """When the lab and its current step began (time and the cluster's revision then)."""

    cluster: Cluster
    lab_started: datetime | None = None
    lab_revision: int = 0
    step_started: datetime | None = None
    step_revision: int = 0


@dataclass
class Result:
    type: str
    ok: bool
    text: Text
    why: Text | None = None
    label: str = ""  # a short name for command-line output: "objectExists Pod web"

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "ok": self.ok, "text": self.text.as_dict(), "why": self.why.as_dict() if self.why else None}


Verdict = tuple[bool, Text | None]


def josa(word: str, batchim: str, plain_form: str) -> str:
    """The Korean particle after `word`: 이/가, 은/는, 을/를 by its last syllable's final consonant."""
    last = word.strip()[-1:] if word.strip() else ""
    if "가" <= last <= "힣":
        return batchim if (ord(last) - 0xAC00) % 28 else plain_form
    # A Latin name, as Koreans read it: kubelet (큐블릿) takes 이, etcd (엣시디) 가.
    return batchim if last.lower() in "lmnkptbg" and last else plain_form


def _obj(kind: str, name: str, namespace: str) -> tuple[str, str]:
    """"Pod web" and "web 파드", with the namespace when it is not default."""
    where_en = f" in namespace {namespace}" if namespace and namespace != "default" else ""
    where_ko = f"{namespace} 네임스페이스의 " if namespace and namespace != "default" else ""
    return f"{kind} {name}{where_en}", f"{where_ko}{name} {KIND_KO.get(kind, kind)}"


def _find(cluster: Cluster, a: dict) -> dict | None:
    return store.find(cluster, kinds.BY_KIND[a["kind"]], a["namespace"], a["name"])


def _value(value: Any) -> str:
    if value is MISSING:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return text if len(text) <= 80 else text[:77] + "..."
    return str(value)


def _same(actual: Any, expected: Any) -> bool:
    if actual is MISSING:
        return False
    if actual == expected and type(actual) is type(expected):
        return True
    if isinstance(actual, (str, int, float, bool)) and isinstance(expected, (str, int, float, bool)):
        # YAML's true and Kubernetes' "True" (a condition's status), 3 and "3".
        return _value(actual).lower() == _value(expected).lower()
    return actual == expected


def _seconds(value: float) -> str:
    return f"{value:g} s"


# --- objects -------------------------------------------------------------------------------


def object_exists(ctx: Context, a: dict) -> Verdict:
    en, ko = _obj(a["kind"], a["name"], a["namespace"])
    doc = _find(ctx.cluster, a)
    if doc is None:
        return False, Text(f"there is no {en} yet", f"아직 {ko}{josa(KIND_KO.get(a['kind'], a['kind']), '이', '가')} 없습니다")
    return True, None


def object_absent(ctx: Context, a: dict) -> Verdict:
    en, ko = _obj(a["kind"], a["name"], a["namespace"])
    doc = _find(ctx.cluster, a)
    if doc is not None:
        noun = KIND_KO.get(a["kind"], a["kind"])
        if doc["metadata"].get("deletionTimestamp"):
            return False, Text(f"{en} is being deleted (Terminating) but is still there", f"{ko}{josa(noun, '은', '는')} 삭제 중(Terminating)이지만 아직 남아 있습니다")
        return False, Text(f"{en} is still there", f"{ko}{josa(noun, '이', '가')} 아직 있습니다")
    return True, None


def _condition_holds(a: dict, value: Any) -> bool:
    condition, expected = a["condition"], a["value"]
    if condition == "equals":
        return _same(value, expected)
    if condition == "notEquals":
        return value is not MISSING and not _same(value, expected)
    if condition == "in":
        return any(_same(value, e) for e in expected)
    if condition == "exists":
        return (value is not MISSING and value not in (None, "")) == bool(expected)
    if condition == "matches":
        return value is not MISSING and re.search(expected, _value(value)) is not None
    return False


def _expected(a: dict) -> tuple[str, str, str, str]:
    """What the field must be: as an English predicate, a Korean one, and what is expected
    in English and in short Korean (for a failure's words)."""
    condition, expected = a["condition"], a["value"]
    if condition == "equals":
        shown = _value(expected)
        return f"is {shown}", f"값이 {shown}입니다", shown, shown
    if condition == "notEquals":
        shown = _value(expected)
        return f"is not {shown}", f"값이 {shown} 값이 아닙니다", f"anything but {shown}", f"{shown} 아님"
    if condition == "in":
        shown = ", ".join(_value(e) for e in expected)
        return f"is one of {shown}", f"값이 {shown} 중 하나입니다", f"one of {shown}", f"{shown} 중 하나"
    if condition == "exists":
        if expected:
            return "is set", "필드가 설정되어 있습니다", "it to be set", "설정됨"
        return "is not set", "필드가 설정되어 있지 않습니다", "it not to be set", "설정되지 않음"
    return f"matches /{expected}/", f"값이 /{expected}/ 패턴에 맞습니다", f"a match for /{expected}/", f"/{expected}/ 패턴"


def field(ctx: Context, a: dict) -> Verdict:
    en, ko = _obj(a["kind"], a["name"], a["namespace"])
    doc = _find(ctx.cluster, a)
    noun = KIND_KO.get(a["kind"], a["kind"])
    if doc is None:
        return False, Text(f"there is no {en} yet", f"아직 {ko}{josa(noun, '이', '가')} 없습니다")
    value = resolve_path(doc, a["tokens"])
    _, _, want_en, want_ko = _expected(a)
    if not _condition_holds(a, value):
        if value is MISSING:
            return False, Text(f"{a['path']} of {en} is not set, expected {want_en}", f"{ko}의 {a['path']} 필드가 설정되어 있지 않습니다 (기대: {want_ko})")
        shown = _value(value)
        return False, Text(f"{a['path']} of {en} is {shown}, expected {want_en}", f"{ko}의 {a['path']} 값은 {shown}입니다 (기대: {want_ko})")
    needed = a.get("forAtLeast")
    if needed:
        since = _holding_since(ctx.cluster, doc, a)
        held = (metav1.now() - since).total_seconds() if since else 0.0
        if held < needed:
            return False, Text(
                f"{a['path']} of {en} has been as expected for {held:.1f} s of the {_seconds(needed)} required",
                f"{ko}의 {a['path']} 값이 기대한 상태로 {held:.1f}초 유지되었습니다 ({needed:g}초 필요)",
            )
    return True, None


# How far back the change log is read for forAtLeast (one object's recent writes).
HISTORY_ROWS = 500


def _holding_since(cluster: Cluster, doc: dict, a: dict) -> datetime | None:
    """Since when the field has met the condition without a break, from the change log:
    the time of the oldest write in the run of writes (newest first) that all meet it."""
    meta = doc["metadata"]
    rows = (
        Change.objects.filter(cluster=cluster, kind=a["kind"], namespace=a["namespace"], name=a["name"], uid=meta["uid"])
        .order_by("-revision")
        .values_list("doc", "time")[:HISTORY_ROWS]
    )
    since = None
    for old, moment in rows:
        if not _condition_holds(a, resolve_path(old, a["tokens"])):
            break
        since = moment
    return since


def count(ctx: Context, a: dict) -> Verdict:
    kind = kinds.BY_KIND[a["kind"]]
    matches = selectors.label_selector(a["selector"] or None)
    # Objects being deleted are left out unless `terminating: true` asks for them too.
    docs = [d for d in store.list_docs(ctx.cluster, kind, a["namespace"] or None) if (a.get("terminating") or not d["metadata"].get("deletionTimestamp")) and matches(d["metadata"].get("labels") or {})]
    if a["phase"]:
        docs = [d for d in docs if (d.get("status") or {}).get("phase", "Pending") == a["phase"]]
    if a["ready"] is not None:
        docs = [d for d in docs if pods.is_ready(d) == a["ready"]]
    n = len(docs)
    ok = (a.get("equals") is None or n == a["equals"]) and (a.get("atLeast") is None or n >= a["atLeast"]) and (a.get("atMost") is None or n <= a["atMost"])
    if ok:
        return True, None
    want_en, want_ko = _bounds(a)
    noun = KIND_KO.get(a["kind"], a["kind"])
    return False, Text(f"there are {n} now, expected {want_en}", f"지금 {n}개입니다 (기대: {want_ko})") if n != 1 else Text(
        f"there is 1 now, expected {want_en}", f"지금 {noun} 1개입니다 (기대: {want_ko})"
    )


def _bounds(a: dict) -> tuple[str, str]:
    if a.get("equals") is not None:
        return f"exactly {a['equals']}", f"정확히 {a['equals']}개"
    if a.get("atLeast") is not None and a.get("atMost") is not None:
        return f"between {a['atLeast']} and {a['atMost']}", f"{a['atLeast']}~{a['atMost']}개"
    if a.get("atLeast") is not None:
        return f"at least {a['atLeast']}", f"{a['atLeast']}개 이상"
    return f"at most {a['atMost']}", f"{a['atMost']}개 이하"


# --- what happened ---------------------------------------------------------------------------


def _since_revision(ctx: Context, since: str) -> int:
    return ctx.step_revision if since == "step" else ctx.lab_revision if since == "lab" else 0


def _since_time(ctx: Context, since: str) -> datetime | None:
    return ctx.step_started if since == "step" else ctx.lab_started if since == "lab" else None


SINCE_WORDS = {"step": (" since this step began", "이 단계를 시작한 뒤 "), "lab": (" since the lab began", "실습을 시작한 뒤 "), "any": ("", "")}


def event(ctx: Context, a: dict) -> Verdict:
    after = _since_revision(ctx, a["since"])
    for doc in store.list_docs(ctx.cluster, kinds.EVENT, a["namespace"]):
        involved = doc.get("involvedObject") or {}
        if doc.get("reason") != a["reason"]:
            continue
        if a["kind"] and involved.get("kind") != a["kind"]:
            continue
        if a["name"] and involved.get("name") != a["name"]:
            continue
        if a["type"] and doc.get("type") != a["type"]:
            continue
        if int(doc["metadata"].get("resourceVersion") or 0) <= after:
            continue
        return True, None
    since_en, since_ko = SINCE_WORDS[a["since"]]
    return False, Text(f"no {a['reason']} event{since_en} yet", f"{since_ko}아직 {a['reason']} 이벤트가 없습니다")


def _pod_uids(cluster: Cluster, a: dict) -> list[tuple[str, str]]:
    """(name, uid) of the pods the check means: the pod of that name (or, for `web-*`, every
    pod whose name starts with `web-`), from the store and, for pods already gone, the step log."""
    pattern = a["pod"]
    prefix = pattern[:-1] if pattern.endswith("*") else None
    found: dict[str, str] = {}
    for doc in store.list_docs(cluster, kinds.POD, a["namespace"]):
        name = doc["metadata"]["name"]
        if (prefix is not None and name.startswith(prefix)) or name == pattern:
            found[doc["metadata"]["uid"]] = name
    if not found:
        rows = Step.objects.filter(cluster=cluster, namespace=a["namespace"])
        rows = rows.filter(pod_name__startswith=prefix) if prefix is not None else rows.filter(pod_name=pattern)
        latest = rows.order_by("-revision").values_list("pod_uid", "pod_name").first()
        if latest:
            found[latest[0]] = latest[1]
    return [(name, uid) for uid, name in found.items()]


def _step_list(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in sorted(numbers))


def _made_since(cluster: Cluster, candidates: list[tuple[str, str]], revision: int) -> list[tuple[str, str]]:
    """The candidate pods whose first recorded step is newer than `revision`."""
    first: dict[str, int] = {}
    for uid, rev in Step.objects.filter(cluster=cluster, pod_uid__in=[uid for _, uid in candidates]).values_list("pod_uid", "revision"):
        first[uid] = min(rev, first.get(uid, rev))
    return [(name, uid) for name, uid in candidates if first.get(uid, 0) > revision]


def steps(ctx: Context, a: dict) -> Verdict:
    candidates = _pod_uids(ctx.cluster, a)
    who_en = f"pods {a['pod']}" if a["pod"].endswith("*") else f"Pod {a['pod']}"
    who_ko = f"{a['pod']} 파드"
    since = a.get("since", "any")
    if since != "any":
        candidates = _made_since(ctx.cluster, candidates, _since_revision(ctx, since))
        if not candidates:
            since_en, since_ko = SINCE_WORDS[since]
            return False, Text(f"no pod {a['pod']} has been made{since_en} yet", f"{since_ko}새로 만들어진 {who_ko}가 아직 없습니다")
    if not candidates:
        return False, Text(f"there is no {who_en} yet (no step has happened for it)", f"아직 {who_ko}가 없습니다 (어떤 단계도 일어나지 않았습니다)")
    best: Text | None = None
    for name, uid in candidates:
        recorded = dict(Step.objects.filter(cluster=ctx.cluster, pod_uid=uid).values_list("number", "status"))
        not_done = [n for n in a["done"] if recorded.get(n) != Step.DONE]
        not_skipped = [n for n in a["notNeeded"] if recorded.get(n) != Step.NOT_NEEDED]
        happened = [n for n in a["missing"] if n in recorded]
        if not (not_done or not_skipped or happened):
            return True, None
        en, ko = [], []
        if not_done:
            en.append(f"step {_step_list(not_done)} has not happened yet for Pod {name}" if len(not_done) == 1 else f"steps {_step_list(not_done)} have not happened yet for Pod {name}")
            ko.append(f"{name} 파드의 {_step_list(not_done)}단계가 아직 일어나지 않았습니다")
        if not_skipped:
            en.append(f"step {_step_list(not_skipped)} is not recorded as not needed")
            ko.append(f"{_step_list(not_skipped)}단계가 '불필요'로 기록되지 않았습니다")
        if happened:
            en.append(f"step {_step_list(happened)} happened for Pod {name}, expected it not to")
            ko.append(f"{name} 파드의 {_step_list(happened)}단계가 일어났습니다 (일어나지 않아야 합니다)")
        best = best or Text("; ".join(en), "; ".join(ko))
    return False, best


def explain(ctx: Context, a: dict) -> Verdict:
    doc = store.find(ctx.cluster, kinds.POD, a["namespace"], a["pod"])
    en, ko = _obj("Pod", a["pod"], a["namespace"])
    if doc is None:
        return False, Text(f"there is no {en} to explain yet", f"아직 설명할 {ko}가 없습니다")
    answer = explanation.explain_pod(ctx.cluster, doc)
    reason_ok = not a["reason"] or answer["reason"] in a["reason"]
    component_ok = a["component"] is None or answer["component"] == a["component"]
    if reason_ok and component_ok:
        return True, None
    said = f"{answer['reason']} (component {answer['component'] or 'none'})"
    want = " or ".join(a["reason"]) if a["reason"] else ""
    if a["component"] is not None:
        want = f"{want} (component {a['component'] or 'none'})".strip()
    return False, Text(f"explain says {said}, expected {want}", f"explain 결과는 {said}입니다 (기대: {want})")


def _client_matches(wanted: str, client: str) -> bool:
    low = client.lower()
    if wanted == "any":
        return True
    if wanted == "kubectl":
        return low.startswith("kubectl")
    if wanted == "page":
        return low == "podflow page"
    if wanted == "python":
        return low.startswith("python")
    return low.startswith(wanted)


def request(ctx: Context, a: dict) -> Verdict:
    for row in requestlog.since(ctx.cluster, _since_time(ctx, a["since"])):
        if not _client_matches(a["client"], row.client):
            continue
        if row.verb != a["verb"] or row.resource != a["resource"]:
            continue
        if a["name"] is not None and row.name != a["name"]:
            continue
        if a["namespace"] is not None and row.namespace != a["namespace"]:
            continue
        if (a["code"] is not None and row.code != a["code"]) or (a["code"] is None and not 200 <= row.code < 300):
            continue
        return True, None
    who_en, who_ko = CLIENT_WORDS[a["client"]]
    since_en, since_ko = SINCE_WORDS[a["since"]]
    what = f"{a['verb']} {a['resource']}" + (f"/{a['name']}" if a["name"] else "")
    return False, Text(f"{who_en} has not made a request to {what}{since_en} yet", f"{since_ko}{who_ko}에서 {what} 요청을 아직 보내지 않았습니다")


def _traffic_words(a: dict) -> tuple[str, str]:
    return (f"Service {a['name']}", f"{a['name']} 서비스") if a["kind"] == "Service" else (f"Ingress {a['name']}", f"{a['name']} 인그레스")


def traffic(ctx: Context, a: dict) -> Verdict:
    rows = [t for t in requestlog.traffic_since(ctx.cluster, _since_time(ctx, a["since"])) if t.kind == a["kind"] and t.name == a["name"] and t.namespace == a["namespace"]]
    answered = [t for t in rows if t.status == a["status"]]
    pods = {t.pod for t in answered if t.pod}
    if len(answered) >= a["atLeast"] and (a["pods"] is None or len(pods) >= a["pods"]):
        return True, None
    en, ko = _traffic_words(a)
    since_en, since_ko = SINCE_WORDS[a["since"]]
    if not rows:
        return False, Text(f"no request has been sent to {en}{since_en} yet", f"{since_ko}{ko}에 보낸 요청이 아직 없습니다")
    others = sorted({t.status for t in rows if t.status != a["status"]})
    other_en = f" ({len(rows) - len(answered)} answered {', '.join(map(str, others))})" if others else ""
    other_ko = f" ({len(rows) - len(answered)}개는 {', '.join(map(str, others))} 응답)" if others else ""
    return False, Text(
        f"{len(answered)} of {len(rows)} requests to {en} were answered {a['status']}{other_en}, by {len(pods)} pod(s){since_en}; expected at least {a['atLeast']}" + (f" by at least {a['pods']} pods" if a["pods"] else ""),
        f"{since_ko}{ko}에 보낸 요청 {len(rows)}개 중 {len(answered)}개가 {a['status']}으로 응답받았고{other_ko}, 응답한 파드는 {len(pods)}개입니다 (기대: {a['atLeast']}개 이상" + (f", 파드 {a['pods']}개 이상)" if a["pods"] else ")"),
    )


# --- the clock and the components ---------------------------------------------------------------


def held(ctx: Context, a: dict) -> Verdict:
    paused, _stopped = cluster_clock.settings_of(ctx.cluster.pk)
    if not paused:
        return False, Text("the cluster's clock is not paused, so nothing is held", "클러스터의 시계가 일시정지되어 있지 않아 보류된 동작이 없습니다")
    rows = HeldAction.objects.filter(cluster=ctx.cluster, released=False)
    if a["component"]:
        rows = rows.filter(component=a["component"])
    if a["step"]:
        rows = rows.filter(step=a["step"])
    if rows.exists():
        return True, None
    who_en = f"the {a['component']}'s" if a["component"] else "any component's"
    who_ko = f"{COMPONENT_KO.get(a['component'], a['component'])}의" if a["component"] else "어떤 컴포넌트의"
    return False, Text(f"no action of {who_en} is held yet", f"{who_ko} 보류된 동작이 아직 없습니다")


def clock(ctx: Context, a: dict) -> Verdict:
    paused, _ = cluster_clock.settings_of(ctx.cluster.pk)
    if paused == a["paused"]:
        return True, None
    if paused:
        return False, Text("the cluster's clock is paused", "클러스터의 시계가 일시정지되어 있습니다")
    return False, Text("the cluster's clock is running", "클러스터의 시계가 흐르고 있습니다")


def component(ctx: Context, a: dict) -> Verdict:
    name = a["name"]
    if name.startswith("kubelet@"):
        node_name = name.split("@", 1)[1]
        node = store.find(ctx.cluster, kinds.NODE, "", node_name)
        if node is None:
            return False, Text(f"there is no node {node_name}", f"{node_name} 노드가 없습니다")
        stopped = kubelet_node.is_stopped(node)
        en, ko = f"the kubelet of {node_name}", f"{node_name} 노드의 kubelet"
    else:
        _paused, switched_off = cluster_clock.settings_of(ctx.cluster.pk)
        stopped = name in switched_off
        en, ko = f"the {name}", COMPONENT_KO.get(name, name)
    if stopped == a["stopped"]:
        return True, None
    if stopped:
        return False, Text(f"{en} is stopped", f"{ko}{josa(ko, '이', '가')} 멈춰 있습니다")
    return False, Text(f"{en} is running", f"{ko}{josa(ko, '이', '가')} 동작 중입니다")


EVALUATORS: dict[str, Callable[[Context, dict], Verdict]] = {
    "objectExists": object_exists,
    "objectAbsent": object_absent,
    "field": field,
    "count": count,
    "event": event,
    "steps": steps,
    "explain": explain,
    "request": request,
    "traffic": traffic,
    "held": held,
    "clock": clock,
    "component": component,
}


# --- what each check says it checks --------------------------------------------------------------


def describe(check: Check) -> tuple[Text, str]:
    """The check in words (the author's, if given) and a short label for the command line."""
    a, t = check.args, check.type
    text: Text
    if t in ("objectExists", "objectAbsent"):
        en, ko = _obj(a["kind"], a["name"], a["namespace"])
        noun = KIND_KO.get(a["kind"], a["kind"])
        text = Text(f"{en} exists", f"{ko}{josa(noun, '이', '가')} 있습니다") if t == "objectExists" else Text(f"{en} does not exist", f"{ko}{josa(noun, '이', '가')} 없습니다")
        label = f"{t} {a['kind']} {a['name']}"
    elif t == "field":
        en, ko = _obj(a["kind"], a["name"], a["namespace"])
        want_en, want_ko, _, _ = _expected(a)
        longer_en = f" for at least {_seconds(a['forAtLeast'])}" if a.get("forAtLeast") else ""
        longer_ko = f" ({a['forAtLeast']:g}초 이상 유지)" if a.get("forAtLeast") else ""
        text = Text(f"{a['path']} of {en} {want_en}{longer_en}", f"{ko}의 {a['path']} {want_ko}{longer_ko}")
        label = f"field {a['kind']} {a['name']} {a['path']}"
    elif t == "count":
        noun = KIND_KO.get(a["kind"], a["kind"])
        want_en, want_ko = _bounds(a)
        filters_en = [f"matching {a['selector']}"] if a["selector"] else []
        filters_ko = [f"{a['selector']} 셀렉터에 맞는"] if a["selector"] else []
        if a["phase"]:
            filters_en.append(f"{a['phase']}")
            filters_ko.append(f"{a['phase']} 상태인")
        if a["ready"] is not None:
            filters_en.append("Ready" if a["ready"] else "not Ready")
            filters_ko.append("Ready인" if a["ready"] else "Ready가 아닌")
        if a.get("terminating"):
            filters_en.append("being deleted or not")
            filters_ko.append("삭제 중인 것을 포함한")
        ns_en = f" in namespace {a['namespace']}" if a["namespace"] and a["namespace"] != "default" else ""
        text = Text(f"{want_en} {a['kind']}s{ns_en}" + (f" ({', '.join(filters_en)})" if filters_en else ""), " ".join([*filters_ko, noun]) + f" 수가 {want_ko}입니다")
        label = f"count {a['kind']} {a['selector'] or ''} {a['phase'] or ''}".strip()
    elif t == "event":
        about_en = f" about {a['kind'] or 'object'} {a['name']}" if a["name"] else ""
        about_ko = f"{a['name']} {KIND_KO.get(a['kind'], '오브젝트') if a['kind'] else '오브젝트'}에 대한 " if a["name"] else ""
        type_en = f" ({a['type']})" if a["type"] else ""
        type_ko = f"{a['type']} 유형의 " if a["type"] else ""
        since_en, since_ko = SINCE_WORDS[a["since"]]
        text = Text(f"a {a['reason']} event{type_en}{about_en}{since_en}", f"{since_ko}{about_ko}{type_ko}{a['reason']} 이벤트가 있습니다")
        label = f"event {a['reason']}" + (f" {a['name']}" if a["name"] else "")
    elif t == "steps":
        parts_en, parts_ko = [], []
        if a["done"]:
            parts_en.append(f"step{'s' if len(a['done']) > 1 else ''} {_step_list(a['done'])} done")
            parts_ko.append(f"{_step_list(a['done'])}단계 완료")
        if a["notNeeded"]:
            parts_en.append(f"step{'s' if len(a['notNeeded']) > 1 else ''} {_step_list(a['notNeeded'])} not needed")
            parts_ko.append(f"{_step_list(a['notNeeded'])}단계 불필요")
        if a["missing"]:
            parts_en.append(f"step{'s' if len(a['missing']) > 1 else ''} {_step_list(a['missing'])} not happened")
            parts_ko.append(f"{_step_list(a['missing'])}단계 일어나지 않음")
        since = a.get("since", "any")
        made_en = f" (a pod made{SINCE_WORDS[since][0]})" if since != "any" else ""
        made_ko = f"{SINCE_WORDS[since][1]}새로 만들어진 " if since != "any" else ""
        text = Text(f"Pod {a['pod']}{made_en}: " + "; ".join(parts_en), f"{made_ko}{a['pod']} 파드: " + ", ".join(parts_ko))
        label = f"steps {a['pod']}"
    elif t == "explain":
        said = " or ".join(a["reason"])
        comp_en = f"component {a['component'] or 'none'}" if a["component"] is not None else ""
        comp_ko = f"담당 컴포넌트 {a['component'] or '없음'}" if a["component"] is not None else ""
        text = Text(
            f"explain for Pod {a['pod']} says " + ", ".join(x for x in (said, comp_en) if x),
            f"{a['pod']} 파드의 explain 결과: " + ", ".join(x for x in (said, comp_ko) if x),
        )
        label = f"explain {a['pod']} {said or a['component']}"
    elif t == "request":
        who_en, who_ko = CLIENT_WORDS[a["client"]]
        what = f"{a['verb']} {a['resource']}" + (f"/{a['name']}" if a["name"] else "")
        code_en = f" answered {a['code']}" if a["code"] else ""
        code_ko = f" (응답 {a['code']})" if a["code"] else ""
        since_en, since_ko = SINCE_WORDS[a["since"]]
        text = Text(f"{who_en[0].upper() + who_en[1:]} made a request: {what}{code_en}{since_en}", f"{since_ko}{who_ko}에서 {what} 요청을 보냈습니다{code_ko}")
        label = f"request {a['client']} {what}"
    elif t == "traffic":
        en, ko = _traffic_words(a)
        since_en, since_ko = SINCE_WORDS[a["since"]]
        pods_en = f", by at least {a['pods']} different pods" if a["pods"] else ""
        pods_ko = f", 서로 다른 파드 {a['pods']}개 이상이 응답" if a["pods"] else ""
        text = Text(f"at least {a['atLeast']} request(s) to {en} answered {a['status']}{pods_en}{since_en}", f"{since_ko}{ko}에 보낸 요청 {a['atLeast']}개 이상이 {a['status']}으로 응답받았습니다{pods_ko}")
        label = f"traffic {a['kind']} {a['name']}"
    elif t == "held":
        who_en = f"the {a['component']}" if a["component"] else "a component"
        who_ko = COMPONENT_KO.get(a["component"], a["component"]) if a["component"] else "컴포넌트"
        step_en = f" (step {a['step']})" if a["step"] else ""
        step_ko = f"({a['step']}단계)" if a["step"] else ""
        text = Text(f"the clock holds an action of {who_en}{step_en}", f"시계가 {who_ko}의 동작{step_ko}을 보류하고 있습니다")
        label = f"held {a['component'] or 'any'}"
    elif t == "clock":
        text = Text("the cluster's clock is paused", "클러스터의 시계가 일시정지되어 있습니다") if a["paused"] else Text("the cluster's clock is running", "클러스터의 시계가 흐르고 있습니다")
        label = f"clock {'paused' if a['paused'] else 'running'}"
    else:  # component
        name = a["name"]
        if name.startswith("kubelet@"):
            node_name = name.split("@", 1)[1]
            en, ko = f"the kubelet of {node_name}", f"{node_name} 노드의 kubelet"
        else:
            en, ko = f"the {name}", COMPONENT_KO.get(name, name)
        text = Text(f"{en} is {'stopped' if a['stopped'] else 'running'}", f"{ko}{josa(ko, '이', '가')} {'멈춰 있습니다' if a['stopped'] else '동작 중입니다'}")
        label = f"component {name} {'stopped' if a['stopped'] else 'running'}"
    return (check.text or text), label


def evaluate(ctx: Context, check: Check) -> Result:
    text, label = describe(check)
    ok, why = EVALUATORS[check.type](ctx, check.args)
    return Result(check.type, ok, text, None if ok else why, label)


def evaluate_all(ctx: Context, checks: list[Check]) -> list[Result]:
    return [evaluate(ctx, check) for check in checks]

