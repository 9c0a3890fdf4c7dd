"""The one-line narration of each of the eight steps, in English and Korean.

The words are the project's own; the facts are Kubernetes'. A step is recorded with the
write that makes it happen (cluster/apiserver/store.py), so each builder takes what that write knows.
"""
from __future__ import annotations

from cluster.apiserver.store import StepRecord

CLIENT = "client"
API_SERVER = "api-server"
CONTROLLER_MANAGER = "controller-manager"
SCHEDULER = "scheduler"
KUBELET = "kubelet"
RUNTIME = "container-runtime"
POD = "pod"


def client_name(user_agent: str) -> str:
    """A readable name for the client of step 1, from its User-Agent."""
    ua = (user_agent or "").strip()
    low = ua.lower()
    if low.startswith("podflow-page"):
        return "podflow page"
    if low.startswith("kubectl"):
        return ua.split(" ", 1)[0].split("/", 1)[0]
    if "openapi-generator" in low and "python" in low:
        return "Python client (kubernetes)"
    if low.startswith("python-requests") or low.startswith("python-urllib") or low.startswith("python-httpx"):
        return "Python HTTP client"
    if low.startswith("curl/"):
        return "curl"
    if low.startswith("podflow-bench"):
        return "podflow bench"
    if low.startswith("manage.py") or low.startswith("podflow-command"):
        return "podflow command"
    return ua.split(" ", 1)[0][:60] or "an HTTP client"


def _ref(ns: str, name: str) -> str:
    return f"{ns}/{name}"


def bare_pod_created(pod: dict, revision: int, client: str) -> list[StepRecord]:
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    ref = _ref(ns, name)
    return [
        StepRecord(
            1,
            CLIENT,
            f"{client} asked the API server to create Pod {ref}.",
            f"{client}에서 API 서버로 파드 {ref} 생성을 요청했습니다.",
            actor=client,
        ),
        StepRecord(
            2,
            API_SERVER,
            f"The API server validated Pod {ref} and stored it in etcd at revision {revision}.",
            f"API 서버가 파드 {ref}를 검증하고 etcd에 저장했습니다 (리비전 {revision}).",
        ),
        StepRecord(
            3,
            CONTROLLER_MANAGER,
            "Not needed for a bare pod: no controller owns it. The API server created it straight from the "
            "request, which is also why nothing replaces it if it is deleted.",
            "단독 파드에는 필요 없음: 이 파드를 소유한 컨트롤러가 없습니다. API 서버가 요청으로 바로 만들었고, "
            "그래서 삭제해도 아무도 다시 만들지 않습니다.",
            status="not-needed",
        ),
    ]


def owned_pod_created(pod: dict, revision: int, *, client: str, rs: dict, deployment: dict | None, active: int, replacing: bool = False) -> list[StepRecord]:
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    rs_name = rs["metadata"]["name"]
    want = rs["spec"].get("replicas", 1)
    if deployment is not None:
        dep = deployment["metadata"]["name"]
        asked_en = f"{client} asked the API server for Deployment {ns}/{dep} with {deployment['spec'].get('replicas', 1)} replica(s); this pod is one of them."
        asked_ko = f"{client}에서 API 서버로 디플로이먼트 {ns}/{dep}(레플리카 {deployment['spec'].get('replicas', 1)}개)를 요청했습니다. 이 파드는 그중 하나입니다."
        stored_en = (
            f"The API server keeps the desired state in etcd: Deployment {ns}/{dep} (revision {deployment['metadata']['resourceVersion']}) "
            f"and ReplicaSet {rs_name}; the new Pod is stored at revision {revision}."
        )
        stored_ko = (
            f"API 서버가 원하는 상태를 etcd에 보관합니다: 디플로이먼트 {ns}/{dep}(리비전 {deployment['metadata']['resourceVersion']})와 "
            f"레플리카셋 {rs_name}. 새 파드는 리비전 {revision}에 저장되었습니다."
        )
        obj1 = f"Deployment {ns}/{dep}"
    else:
        asked_en = f"{client} asked the API server for ReplicaSet {ns}/{rs_name} with {want} replica(s); this pod is one of them."
        asked_ko = f"{client}에서 API 서버로 레플리카셋 {ns}/{rs_name}(레플리카 {want}개)를 요청했습니다. 이 파드는 그중 하나입니다."
        stored_en = f"The API server keeps ReplicaSet {ns}/{rs_name} in etcd; the new Pod is stored at revision {revision}."
        stored_ko = f"API 서버가 레플리카셋 {ns}/{rs_name}를 etcd에 보관합니다. 새 파드는 리비전 {revision}에 저장되었습니다."
        obj1 = f"ReplicaSet {ns}/{rs_name}"
    if replacing:
        owner = obj1
        asked_en = (
            f"No client asked for this pod: a pod of ReplicaSet {rs_name} went away, and the desired state that "
            f"{client} once asked for ({owner}, {want} replica(s)) still stands — so the controller manager replaces it (self-healing)."
        )
        asked_ko = (
            f"이 파드는 클라이언트가 요청한 것이 아닙니다: 레플리카셋 {rs_name}의 파드 하나가 사라졌고, {client}에서 예전에 요청한 "
            f"원하는 상태({owner}, 레플리카 {want}개)가 그대로이므로 컨트롤러 매니저가 대신할 파드를 만듭니다(자가 치유)."
        )
    return [
        StepRecord(1, CLIENT, asked_en, asked_ko, actor=client, object_ref=obj1),
        StepRecord(2, API_SERVER, stored_en, stored_ko),
        StepRecord(
            3,
            CONTROLLER_MANAGER,
            f"The ReplicaSet controller in the controller manager saw ReplicaSet {rs_name} had {active} of {want} pods "
            f"and created Pod {_ref(ns, name)} through the API server. No node is chosen yet.",
            f"컨트롤러 매니저의 레플리카셋 컨트롤러가 레플리카셋 {rs_name}의 파드가 {want}개 중 {active}개뿐임을 보고 "
            f"API 서버를 통해 파드 {_ref(ns, name)}를 만들었습니다. 아직 노드는 정해지지 않았습니다.",
            actor="replicaset-controller",
        ),
    ]


def scheduled(pod: dict, node: str, feasible: int, total: int, why: tuple[str, str, str] = ("least-allocated", "", "")) -> StepRecord:
    """Step 4, with why the node won in one clause. `why` is (kind, detail, tie-break) from the
    scheduler (cluster/scheduler/cycle.py why_chosen); detail is a nodeSelector such as
    `disk=ssd`; tie-break is how a tie at the top was broken: "fewest-pods", "name" or ""."""
    ref = _ref(pod["metadata"]["namespace"], pod["metadata"]["name"])
    kind, detail, tiebreak = why
    clauses = {
        "least-allocated": (f"{node} is the least allocated", f"{node}의 자원 사용이 가장 적음"),
        "balanced": (f"{node} keeps CPU and memory use the most balanced", f"{node}의 CPU와 메모리 사용이 가장 균형 잡힘"),
        "fewer-taints": (
            f"{node} has the fewest PreferNoSchedule taints the pod does not tolerate",
            f"{node}에 파드가 용인하지 않는 PreferNoSchedule 테인트가 가장 적음",
        ),
        "preferred-affinity": (f"{node} best matches the pod's preferred node affinity", f"{node}가 파드의 선호 노드 어피니티에 가장 잘 맞음"),
        "tie-fewest-pods": (f"the scores tie and {node} runs the fewest pods", f"점수가 같아 파드가 가장 적은 {node}를 선택"),
        "tie-name": (f"scores and pod counts tie, so {node}, the first by name", f"점수와 파드 수가 같아 이름순으로 첫 노드인 {node}를 선택"),
        "only-node": ("it is the cluster's only node", "클러스터의 유일한 노드"),
        "only-selector": (f"the only node matching nodeSelector {detail}", f"nodeSelector {detail}에 맞는 유일한 노드"),
        "only-affinity": ("the only node matching its required node affinity", "필수 노드 어피니티에 맞는 유일한 노드"),
        "only-selector-affinity": (
            f"the only node matching nodeSelector {detail} and its required node affinity",
            f"nodeSelector {detail}와 필수 노드 어피니티에 모두 맞는 유일한 노드",
        ),
        "only-room": ("the only node with room for its requests", "요청한 자원이 들어갈 수 있는 유일한 노드"),
        "only-schedulable": ("the only node not cordoned", "코든(cordon)되지 않은 유일한 노드"),
        "only-tolerated": ("the only node whose taints the pod tolerates", "파드가 테인트를 모두 용인하는 유일한 노드"),
        "only-fit": ("the only node that passed every filter", "모든 필터를 통과한 유일한 노드"),
    }
    clause_en, clause_ko = clauses.get(kind, clauses["least-allocated"])
    if tiebreak == "fewest-pods":
        clause_en, clause_ko = clause_en + ", tied and running the fewest pods", clause_ko + ", 동점 중 파드가 가장 적음"
    elif tiebreak == "name":
        clause_en, clause_ko = clause_en + ", tied and first by name", clause_ko + ", 동점 중 이름순 첫 노드"
    return StepRecord(
        4,
        SCHEDULER,
        f"The scheduler chose {node} for Pod {ref} ({feasible} of {total} nodes fit; {clause_en}) "
        f"and wrote the Binding through the API server: spec.nodeName={node}.",
        f"스케줄러가 파드 {ref}를 실행할 노드로 {node}를 골랐고(노드 {total}개 중 {feasible}개 가능, {clause_ko}) "
        f"API 서버에 바인딩을 기록했습니다: spec.nodeName={node}.",
        actor="default-scheduler",
    )


def admitted(pod: dict, node: str) -> StepRecord:
    ref = _ref(pod["metadata"]["namespace"], pod["metadata"]["name"])
    return StepRecord(
        5,
        KUBELET,
        f"The kubelet on {node}, watching the API server, saw Pod {ref} bound to its node and admitted it (its requests fit).",
        f"{node}의 kubelet이 API 서버를 지켜보다가 자기 노드에 배정된 파드 {ref}를 발견하고 받아들였습니다(요청 자원 충분).",
        actor=f"kubelet/{node}",
    )


def sandbox(pod: dict, node: str, ip: str) -> StepRecord:
    return StepRecord(
        6,
        RUNTIME,
        f"The kubelet asked the container runtime (containerd, through CRI) to create the pod sandbox; "
        f"the network plugin (CNI) gave it IP {ip}.",
        f"kubelet이 컨테이너 런타임(containerd, CRI)에 파드 샌드박스 생성을 요청했고, 네트워크 플러그인(CNI)이 IP {ip}를 주었습니다.",
        actor=f"containerd/{node}",
    )


def running(pod: dict, node: str) -> StepRecord:
    containers = ", ".join(f"{c['name']} ({c['image']})" for c in pod["spec"]["containers"])
    return StepRecord(
        7,
        POD,
        f"The container runtime started {containers}: the pod is created and Running on {node}.",
        f"컨테이너 런타임이 {containers}를 시작했습니다: 파드가 만들어져 {node}에서 Running 상태입니다.",
        actor=f"containerd/{node}",
    )


def ready(pod: dict, node: str) -> StepRecord:
    """Step 8. A container with a readinessProbe is Ready once the probe passes; one without
    is Ready as soon as it runs — the narration says which."""
    probed = any(isinstance(c, dict) and c.get("readinessProbe") for c in (pod.get("spec") or {}).get("containers") or [])
    if probed:
        en = "The readiness probe passed and the kubelet reported Ready=True: the pod is usable and Services may send it traffic."
        ko = "준비성 프로브(readinessProbe)를 통과해 kubelet이 Ready=True를 보고했습니다: 파드를 사용할 수 있고 서비스가 트래픽을 보낼 수 있습니다."
    else:
        en = "Its containers are running and none has a readiness probe, so the kubelet reported Ready=True at once: the pod is usable and Services may send it traffic."
        ko = "컨테이너가 실행 중이고 준비성 프로브가 없으므로 kubelet이 바로 Ready=True를 보고했습니다: 파드를 사용할 수 있고 서비스가 트래픽을 보낼 수 있습니다."
    return StepRecord(8, KUBELET, en, ko, actor=f"kubelet/{node}")


def bound_by_client(pod: dict, node: str, client: str) -> StepRecord:
    ref = _ref(pod["metadata"]["namespace"], pod["metadata"]["name"])
    return StepRecord(
        4,
        SCHEDULER,
        f"{client} bound Pod {ref} to {node} itself through the pods/binding subresource (the scheduler's usual job): spec.nodeName={node}.",
        f"{client}에서 pods/binding 하위 리소스로 파드 {ref}를 {node}에 직접 바인딩했습니다(보통은 스케줄러의 일): spec.nodeName={node}.",
        actor=client,
    )
