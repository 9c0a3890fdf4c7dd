"""What a component's task would do, in words: the "what happens next" of a paused cluster.

When the clock holds a task (cluster/componentbase/clock.py), the page lists it as the
action it stands for — "bind default/web to node-2 (step 4)" — in English and Korean. The
words are worked out from the cluster as it is when the action is held: the scheduler's
choice is made by running its filters and scores without binding, the kubelet's next stage
is the one it would run.
"""
from __future__ import annotations

from typing import Callable

from cluster import kubelet
from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.componentbase.clock import Action
from cluster.informers import wake
from cluster.models import Cluster
from cluster.scheduler import framework
from cluster.scheduler.nodeinfo import node_rooms, pod_info


def describe(cluster: Cluster, task: str, args: tuple | list) -> Action:
    """The Action a task with these args (cluster id first) stands for."""
    words = _DESCRIBERS.get(task)
    if words is None:
        name = task.rsplit(".", 1)[-1].replace("_", " ")
        return Action(name, name)
    try:
        return words(cluster, *args[1:])
    except Exception:  # words are for the page: an action is held even when they fail
        name = task.rsplit(".", 1)[-1].replace("_", " ")
        return Action(name, name)


def _ref(doc: dict | None) -> str:
    meta = (doc or {}).get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name", "?"))


def _by_uid(cluster: Cluster, uid: str) -> dict | None:
    return store.by_uid(cluster, uid)


def _deployment(cluster: Cluster, uid: str) -> Action:
    ref = _ref(_by_uid(cluster, uid))
    return Action(
        f"Deployment controller: bring Deployment {ref} to its template and replicas (its ReplicaSets)",
        f"디플로이먼트 컨트롤러: 디플로이먼트 {ref}을(를) 템플릿과 복제본 수에 맞춤 (레플리카셋 생성·조정)",
        object_ref=f"Deployment {ref}",
    )


def _replicaset(cluster: Cluster, uid: str) -> Action:
    rs = _by_uid(cluster, uid)
    ref = _ref(rs)
    want = int(((rs or {}).get("spec") or {}).get("replicas") or 0)
    have = sum(1 for p in store.list_docs(cluster, kinds.POD, owner_uid=uid) if not p["metadata"].get("deletionTimestamp"))
    if want > have:
        en, ko = f"create {want - have} pod(s)", f"파드 {want - have}개 생성"
    elif want < have:
        en, ko = f"delete {have - want} pod(s)", f"파드 {have - want}개 삭제"
    else:
        en, ko = "check its pods", "파드 상태 확인"
    return Action(f"ReplicaSet controller: {en} for ReplicaSet {ref} ({have} of {want})", f"레플리카셋 컨트롤러: 레플리카셋 {ref}의 {ko} (현재 {have}/{want})", step=3 if want > have else None, object_ref=f"ReplicaSet {ref}")


def _schedule(cluster: Cluster, uid: str) -> Action:
    pod = _by_uid(cluster, uid)
    ref = _ref(pod)
    if pod is None:
        return Action("a pod that is gone", "이미 없는 파드", step=4)
    result = framework.attempt(pod_info(pod), list(node_rooms(cluster).values()))
    if result.selected is not None:
        node = result.selected.name
        return Action(f"bind {ref} to {node} (sets spec.nodeName)", f"{ref}을(를) {node}에 바인딩 (spec.nodeName 설정)", step=4, object_ref=f"Pod {ref}")
    return Action(f"try to place {ref} (no node fits it now)", f"{ref} 배치 시도 (지금은 맞는 노드 없음)", step=4, object_ref=f"Pod {ref}")


# The kubelet's stages, as the steps they make.
_STAGES: dict[str, tuple[int | None, str, str]] = {
    "admit": (5, "admit {ref}", "{ref} 승인(admit)"),
    "sandbox": (6, "create the sandbox of {ref} and give it an IP (container runtime)", "{ref}의 샌드박스 생성과 IP 할당 (컨테이너 런타임)"),
    "pull": (7, "pull the images of {ref}", "{ref}의 이미지 내려받기"),
    "pulled": (7, "finish pulling the images of {ref}", "{ref}의 이미지 내려받기 완료"),
    "create": (7, "create the containers of {ref}", "{ref}의 컨테이너 생성"),
    "start": (7, "start the containers of {ref}", "{ref}의 컨테이너 시작"),
    "ready": (8, "mark {ref} Ready", "{ref}을(를) Ready로 표시"),
    "stop": (None, "stop the containers of {ref}", "{ref}의 컨테이너 중지"),
    "kill": (None, "kill the containers of {ref} (grace period over)", "{ref}의 컨테이너 강제 종료 (유예 시간 끝)"),
    "remove": (None, "remove {ref} from the API server", "API 서버에서 {ref} 제거"),
}


def _kubelet(cluster: Cluster, node: str, uid: str) -> Action:
    pod = _by_uid(cluster, uid)
    ref = _ref(pod)
    stage = kubelet.next_stage(cluster, node, uid)
    step, en, ko = _STAGES.get(stage.split(":", 1)[0], (None, f"{stage or 'look at'} {{ref}}", f"{{ref}}: {stage or '확인'}"))
    return Action(f"on {node}: " + en.format(ref=ref, node=node), f"{node}에서: " + ko.format(ref=ref, node=node), step=step, object_ref=f"Pod {ref}")


def _named(component_en: str, component_ko: str, what_en: str, what_ko: str) -> Callable[..., Action]:
    def words(cluster: Cluster, *args) -> Action:
        target = "/".join(str(a) for a in args if a) or "all"
        return Action(f"{component_en}: {what_en} {target}", f"{component_ko}: {target} {what_ko}")

    return words


def _ingresses(cluster: Cluster, namespace: str, service: str) -> Action:
    if service:
        return Action(f"ingress controller: the Ingresses that send to Service {namespace}/{service}", f"인그레스 컨트롤러: 서비스 {namespace}/{service}(으)로 보내는 인그레스 갱신")
    return Action("ingress controller: every Ingress (their addresses and classes)", "인그레스 컨트롤러: 모든 인그레스 갱신 (주소와 클래스)")


def _garbage(cluster: Cluster, uid: str) -> Action:
    owner = _by_uid(cluster, uid)
    ref = _ref(owner) if owner else "an owner that is gone"
    return Action(f"garbage collector: the dependents of {ref}", f"가비지 컬렉터: {ref}의 종속 오브젝트 정리")


_DESCRIBERS: dict[str, Callable[..., Action]] = {
    wake.RECONCILE_DEPLOYMENT: _deployment,
    wake.RECONCILE_REPLICASET: _replicaset,
    wake.SCHEDULE_POD: _schedule,
    wake.SYNC_POD: _kubelet,
    wake.COLLECT_GARBAGE: _garbage,
    wake.RECONCILE_NAMESPACE: _named("namespace controller", "네임스페이스 컨트롤러", "namespace", "네임스페이스 정리"),
    wake.RECONCILE_ENDPOINTS: _named("endpoint controller", "엔드포인트 컨트롤러", "the endpoints of Service", "서비스의 엔드포인트 갱신"),
    wake.SYNC_NAMESPACE_ENDPOINTS: _named("endpoint controller", "엔드포인트 컨트롤러", "the Services of namespace", "네임스페이스의 서비스 엔드포인트 갱신"),
    wake.RECONCILE_LOADBALANCER: _named("service controller", "서비스 컨트롤러", "the load balancer of", "로드밸런서 갱신"),
    wake.RECONCILE_INGRESS: _named("ingress controller", "인그레스 컨트롤러", "Ingress", "인그레스 갱신"),
    wake.SYNC_INGRESSES: _ingresses,
}
