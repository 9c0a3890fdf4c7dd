"""The pod explanation: each state a learner meets, built with the real components where
they can build it, told in English and Korean with the component responsible.

The cluster fixture has node-1, node-2 and node-3, each 4 CPU, 8Gi and 110 pods, Ready.
"""
from __future__ import annotations

import json

import pytest
from django.test import Client

from cluster import explain, kubelet, scheduler
from cluster.apimachinery import kinds, pods
from cluster.apiserver import store
from cluster.componentbase import timing
from cluster.controllers import node as node_controller
from cluster.controllers import replicaset
from cluster.demo import ensure_cluster
from cluster.kubelet import node as kubelet_node
from cluster.models import Cluster, HeldAction, Speed
from cluster.scheduler.cycle import FILTER_RESULT
from cluster.scheduler.nodeinfo import NodeInfo

from .manifests import pod
from .manifests import replicaset as rs_manifest

# --- helpers -------------------------------------------------------------------------------------


def explained(cluster: Cluster, name: str = "web") -> dict:
    return explain.explain_pod(cluster, store.get(cluster, kinds.POD, "default", name))


def check(found: dict, reason: str, component: str, en: str, ko: str) -> None:
    """The state's reason and component, and a telling fragment of each language."""
    assert (found["reason"], found["component"]) == (reason, component), found["summary"]
    assert en in found["summary"]["en"], found["summary"]["en"]
    assert ko in found["summary"]["ko"], found["summary"]["ko"]


def evidence(found: dict, kind: str) -> list[dict]:
    return [e for e in found["evidence"] if e["kind"] == kind]


def waiting_pod(cluster: Cluster, name: str = "web", *, spec: dict | None = None, **requests: str) -> str:
    """A pod as kubectl creates it (no node yet); its uid."""
    doc = pod(name, **requests)
    doc["spec"].update(spec or {})
    return store.create(cluster, doc)["metadata"]["uid"]


def on_node(cluster: Cluster, name: str = "web", *, node: str = "node-1", image: str = "nginx", restart: str | None = None, command=None, args=None, **container) -> str:
    """A pod bound to `node`, its container shaped by the keyword arguments; its uid."""
    doc = pod(name, image=image)
    doc["spec"]["nodeName"] = node
    if restart:
        doc["spec"]["restartPolicy"] = restart
    if command is not None:
        doc["spec"]["containers"][0]["command"] = command
    if args is not None:
        doc["spec"]["containers"][0]["args"] = args
    doc["spec"]["containers"][0].update(container)
    return store.create(cluster, doc)["metadata"]["uid"]


def settled(cluster: Cluster, name: str = "web", node: str = "node-1", **kwargs) -> str:
    """A pod on `node` with every kubelet stage due at instant speed done; its uid."""
    uid = on_node(cluster, name, node=node, **kwargs)
    kubelet.run_due_stages(cluster, node, uid)
    return uid


def edit_node(cluster: Cluster, name: str, change) -> None:
    store.mutate(cluster, kinds.NODE, "", name, change, by=store.API)


def annotate(cluster: Cluster, name: str, **values: str) -> None:
    store.mutate(cluster, kinds.POD, "default", name, lambda d: d["metadata"].setdefault("annotations", {}).update(values), by=store.API)


def hold(cluster: Cluster, component: str, task: str, args: list, action: str, action_ko: str) -> None:
    HeldAction.objects.create(cluster=cluster, component=component, task=task, args=args, key=f"{task}:{args}", action=action, action_ko=action_ko, step=4)


def silence(cluster: Cluster, clock, node: str, seconds: float) -> None:
    """Stop `node` and let `seconds` pass while the other kubelets heartbeat."""
    kubelet_node.stop(cluster, node)
    for _ in range(int(seconds)):
        clock.advance(1)
        kubelet.heartbeat(cluster)
    clock.advance(seconds - int(seconds))


# --- not yet on a node ----------------------------------------------------------------------------


def test_a_request_larger_than_any_node_says_what_was_asked_and_what_nodes_have(cluster):
    uid = waiting_pod(cluster, cpu="64")
    assert scheduler.schedule(cluster, uid) is None

    found = explained(cluster)

    check(found, "Unschedulable", "scheduler",
          "You asked for 64 CPUs, but each node has only 4 CPUs allocatable. Ask for at most 4 CPUs in resources.requests.cpu.",
          "CPU를 64개 요청했지만 노드마다 할당 가능한 CPU는 4개뿐입니다")
    assert "0 of 3 nodes" in found["summary"]["en"] and "resources.requests.cpu 값을 4개 이하로" in found["summary"]["ko"]
    verdicts = {e["node"]: (e["filter"], e["result"]) for e in evidence(found, "scheduler")}
    assert verdicts == {n: ("NodeResourcesFit", "Insufficient cpu") for n in ("node-1", "node-2", "node-3")}
    assert {e["name"]: e["allocatable"]["cpu"] for e in evidence(found, "node")} == {"node-1": "4", "node-2": "4", "node-3": "4"}
    assert evidence(found, "condition")[0]["reason"] == "Unschedulable"
    assert evidence(found, "event")[-1]["reason"] == "FailedScheduling"
    assert found["pod"]["status"] == "Pending" and found["pod"]["phase"] == "Pending"


def test_a_request_that_fits_a_node_but_not_what_is_left_says_what_is_left(cluster):
    for node, cpu in (("node-1", "3"), ("node-2", "3500m"), ("node-3", "3")):
        doc = pod(f"big-{node}", cpu=cpu, memory="7Gi")
        doc["spec"]["nodeName"] = node
        store.create(cluster, doc)
    scheduler.schedule(cluster, waiting_pod(cluster, cpu="2", memory="2Gi"))

    found = explained(cluster)

    check(found, "Unschedulable", "scheduler",
          "You asked for 2 CPUs, but what is left unrequested is only 1 CPU on node-1, 500m CPU on node-2 and 1 CPU on node-3 (the pods already there asked for the rest).",
          "CPU를 2개 요청했지만 남은 CPU는 node-1 노드에 1개, node-2 노드에 500m, node-3 노드에 1개뿐입니다(나머지는 이미 있는 파드들이 요청했습니다).")
    en, ko = found["summary"]["en"], found["summary"]["ko"]
    assert "You asked for 2Gi of memory, but only 1Gi of memory is left unrequested on each node" in en
    assert "메모리를 2Gi 요청했지만 노드마다 남은 메모리는 1Gi뿐입니다" in ko
    assert en.endswith("Ask for less, or make room by deleting or scaling down pods that request CPU and memory.")
    assert ko.endswith("요청량을 줄이거나, CPU와 메모리를 요청한 다른 파드를 지우거나 레플리카 수를 줄여 자리를 만드세요.")


def test_a_cordon_a_taint_and_a_missing_label_each_get_their_fix(cluster):
    edit_node(cluster, "node-1", lambda d: d["spec"].update(unschedulable=True))
    edit_node(cluster, "node-2", lambda d: d["spec"].setdefault("taints", []).append({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}))
    scheduler.schedule(cluster, waiting_pod(cluster, spec={"nodeSelector": {"disk": "ssd"}}))

    found = explained(cluster)

    check(found, "Unschedulable", "scheduler", "node-1 is cordoned (spec.unschedulable)", "node-1 노드는 cordon되어(spec.unschedulable) 새 파드를 받지 않습니다")
    en, ko = found["summary"]["en"], found["summary"]["ko"]
    assert "kubectl uncordon node-1" in en and "kubectl uncordon node-1" in ko
    assert "node-2 has the taint dedicated=gpu:NoSchedule, which the pod does not tolerate" in en
    assert "kubectl taint nodes node-2 dedicated=gpu:NoSchedule-" in en and "dedicated=gpu:NoSchedule 테인트가 있습니다" in ko
    assert "No node has the labels the pod's nodeSelector asks for (disk=ssd)" in en
    assert "kubectl label nodes node-3 disk=ssd" in en and "레이블(disk=ssd)을 가진 노드가 없습니다" in ko
    assert [(e["node"], e["filter"]) for e in evidence(found, "scheduler")] == [("node-1", "NodeUnschedulable"), ("node-2", "TaintToleration"), ("node-3", "NodeAffinity")]


def test_a_stopped_scheduler_leaves_the_pod_pending(cluster):
    Cluster.objects.filter(pk=cluster.pk).update(stopped_components=["scheduler"])
    waiting_pod(cluster)

    found = explained(cluster)

    check(found, "SchedulerStopped", "scheduler", "The scheduler is stopped", "스케줄러가 멈춰 있어서")
    assert f"/k8s/{cluster.name}/podflow/v1/components/scheduler/start" in found["summary"]["en"]
    assert evidence(found, "clock") == [{"kind": "clock", "paused": False, "stopped": ["scheduler"], "held": []}]


def test_a_paused_clock_holds_the_schedulers_action(cluster):
    Cluster.objects.filter(pk=cluster.pk).update(paused=True)
    uid = waiting_pod(cluster)
    hold(cluster, "scheduler", "cluster.tasks.schedule_pod", [cluster.pk, uid], "Choose a node for Pod default/web", "default/web 파드의 노드 고르기")
    hold(cluster, "scheduler", "cluster.tasks.schedule_pod", [cluster.pk, "another-pod"], "Choose a node for Pod default/other", "default/other 파드의 노드 고르기")

    found = explained(cluster)

    check(found, "HeldByPausedClock", "clock", '"Choose a node for Pod default/web"', '"default/web 파드의 노드 고르기"')
    assert "clock/step" in found["summary"]["en"] and "시계를 한 단계 진행해" in found["summary"]["ko"]
    [held] = evidence(found, "clock")
    assert held["paused"] is True and [h["action"] for h in held["held"]] == ["Choose a node for Pod default/web"]


def test_a_paused_clock_is_named_even_before_an_action_is_held(cluster):
    Cluster.objects.filter(pk=cluster.pk).update(paused=True)
    waiting_pod(cluster)

    check(explained(cluster), "HeldByPausedClock", "clock", "the scheduler has not done its part", "스케줄러가 아직 이 파드에 대한 일을 하지 않았습니다")


def test_a_pod_the_scheduler_has_not_tried_yet(cluster):
    waiting_pod(cluster)

    check(explained(cluster), "NotYetScheduled", "scheduler", "has not tried this pod yet", "아직 이 파드를 처리하지 않았습니다")


def test_a_pod_for_another_scheduler(cluster):
    waiting_pod(cluster, spec={"schedulerName": "my-scheduler"})

    check(explained(cluster), "NoSuchScheduler", "scheduler", 'a scheduler named "my-scheduler"', '"my-scheduler" 스케줄러를 지정했지만')


# --- on its way to running ------------------------------------------------------------------------


def test_a_pod_whose_image_is_being_pulled(cluster):
    uid = waiting_pod(cluster, name="web")
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["spec"]["containers"][0].update(image="nginx:1.27"), by=store.API)
    node = scheduler.schedule(cluster, uid)
    for _ in range(3):  # admit, sandbox, Pulling
        kubelet.sync_pod(cluster, node, uid)

    found = explained(cluster)

    check(found, "PullingImage", "kubelet", f'The pod is on {node}, where the kubelet is pulling the image "nginx:1.27" for container app (about 72 MB',
          f'파드는 {node} 노드에 있고, 그 노드의 kubelet이 app 컨테이너에 쓸 "nginx:1.27" 이미지를 받아 오고 있습니다(약 72MB')
    assert found["pod"]["status"] == "ContainerCreating"
    assert evidence(found, "event")[-1]["reason"] == "Pulling"
    assert evidence(found, "container")[0]["reason"] == "ContainerCreating"


def test_an_unknown_tag_backs_off_and_the_answer_offers_a_tag_that_exists(cluster, clock):
    settled(cluster, image="nginx:nope")

    found = explained(cluster)

    check(found, "ImagePullBackOff", "container-runtime", 'the repository nginx exists but has no tag "nope". Use a tag it has, for example nginx:latest (kubectl set image pod/web app=nginx:latest).',
          'nginx 저장소는 있지만 "nope" 태그가 없습니다')
    assert "back-off (10 s now" in found["summary"]["en"] and "백오프 시간(10초" in found["summary"]["ko"]
    assert found["pod"]["status"] == "ImagePullBackOff"


def test_an_unknown_repository_fails_to_pull_and_the_answer_suggests_the_near_one(cluster, clock):
    store.set_speed(cluster, Speed.NORMAL)
    cluster.refresh_from_db()
    uid = on_node(cluster, image="ngnix")
    for _ in range(4):  # admit, sandbox, pull, pulled → ErrImagePull
        clock.advance(kubelet.sync_pod(cluster, "node-1", uid) or 0)
        kubelet.sync_pod(cluster, "node-1", uid)

    found = explained(cluster)

    check(found, "ErrImagePull", "container-runtime", "the registry has no repository docker.io/library/ngnix (or it is private). Did you mean nginx",
          "레지스트리에 docker.io/library/ngnix 저장소가 없습니다(또는 비공개입니다). nginx 이미지를 뜻하셨나요")


def test_an_invalid_image_name(cluster, clock):
    settled(cluster, image="Nginx")

    check(explained(cluster), "InvalidImageName", "container-runtime", "repository name must be lowercase", "(kubectl set image pod/web app=nginx)")


def test_a_crash_loop_says_the_exit_code_the_restarts_and_the_back_off(cluster, clock):
    settled(cluster, image="busybox", command=["sh", "-c", "exit 1"])

    found = explained(cluster)

    check(found, "CrashLoopBackOff", "kubelet", "its last run ended with exit code 1. It has been restarted once, and the kubelet now waits 10s before the next restart",
          "마지막 실행의 종료 코드는 1입니다. 지금까지 1번 재시작되었고, kubelet은 다음 재시작 전에 10초 동안 기다립니다")
    assert "kubectl logs web -c app --previous" in found["summary"]["en"]
    [container] = evidence(found, "container")
    assert container["restartCount"] == 1 and container["lastState"]["exitCode"] == 1


def test_a_crash_loop_of_a_command_that_finishes_explains_restart_policy(cluster, clock):
    settled(cluster, image="busybox:1.36")

    check(explained(cluster), "CrashLoopBackOff", "kubelet", "restartPolicy Always restarts every container that ends",
          "정상 종료라는 뜻입니다. 지금까지 1번 재시작되었고")


def test_a_missing_configmap_then_a_missing_key(cluster, clock):
    settled(cluster, env=[{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}])

    check(explained(cluster), "CreateContainerConfigError", "kubelet",
          "takes its environment from the ConfigMap settings, which does not exist in namespace default, so the kubelet cannot create the container. Create it (kubectl create configmap settings --from-literal=mode=...)",
          "환경 변수를 읽는 settings ConfigMap이 default 네임스페이스에 없어서 kubelet이 컨테이너를 만들 수 없습니다")

    store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"other": "x"}})
    kubelet.run_due_stages(cluster, "node-1", store.get(cluster, kinds.POD, "default", "web")["metadata"]["uid"])

    check(explained(cluster), "CreateContainerConfigError", "kubelet", "reads the key mode of the ConfigMap settings, which has no such key",
          "settings ConfigMap의 mode 키를 읽으려 하지만 그런 키가 없어서")


def test_a_missing_secret_read_whole(cluster, clock):
    settled(cluster, envFrom=[{"secretRef": {"name": "creds"}}])

    check(explained(cluster), "CreateContainerConfigError", "kubelet", "(kubectl create secret generic creds --from-literal=KEY=...)", "creds Secret이 default 네임스페이스에 없어서")


def test_running_but_not_ready_names_the_failing_readiness_probe(cluster, clock):
    settled(cluster, readinessProbe={"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 10, "failureThreshold": 3})
    annotate(cluster, "web", **{"podflow.dev/readiness": "fail"})
    uid = store.get(cluster, kinds.POD, "default", "web")["metadata"]["uid"]
    clock.advance(kubelet.run_due_stages(cluster, "node-1", uid) or 0)
    kubelet.run_due_stages(cluster, "node-1", uid)
    assert not pods.is_ready(store.get(cluster, kinds.POD, "default", "web"))

    found = explained(cluster)

    check(found, "ReadinessProbeFailing", "kubelet",
          'Container app is running, but its readiness probe (HTTP GET /healthz on port 80) fails: "Readiness probe failed: HTTP probe failed with statuscode: 503". The pod is not Ready, so Services send it no traffic.',
          "readiness 프로브(HTTP GET /healthz on port 80)가 실패합니다")
    assert "kubectl annotate pod web podflow.dev/readiness=pass --overwrite" in found["summary"]["en"]
    assert "kubectl annotate pod web podflow.dev/readiness=pass --overwrite" in found["summary"]["ko"]
    assert found["pod"]["status"] == "Running"


def test_a_failing_liveness_probe(cluster, clock):
    settled(cluster, livenessProbe={"tcpSocket": {"port": 80}, "periodSeconds": 5, "failureThreshold": 2})
    annotate(cluster, "web", **{"podflow.dev/liveness": "fail"})

    check(explained(cluster), "LivenessProbeFailing", "kubelet", "liveness probe (TCP connect to port 80) fails", "liveness 프로브(TCP connect to port 80)가 실패해서")


# --- nodes that go away ---------------------------------------------------------------------------


def test_a_pod_on_a_node_that_stopped_heartbeating(cluster, clock):
    settled(cluster, node="node-2")
    silence(cluster, clock, "node-2", timing.node_monitor_grace(cluster) + 1)
    node_controller.reconcile(cluster)

    found = explained(cluster)

    check(found, "NodeUnreachable", "node-controller",
          "Node node-2 has been stopped, so the node controller marked this pod not Ready",
          "node-2 노드가 멈춰 있습니다. 그래서 노드 컨트롤러가 이 파드를 Ready 아님으로 표시했고")
    en, ko = found["summary"]["en"], found["summary"]["ko"]
    assert "node.kubernetes.io/unreachable:NoExecute, which this pod tolerates for 300 s (Kubernetes time)" in en
    assert "as a bare pod it is not replaced" in en
    assert "300초(쿠버네티스 시간) 동안 용인합니다" in ko
    [node] = evidence(found, "node")
    assert (node["name"], node["ready"], node["stopped"]) == ("node-2", "Unknown", True)


def test_a_stopped_node_the_controller_has_not_noticed_yet(cluster, clock):
    settled(cluster, node="node-2")
    kubelet_node.stop(cluster, "node-2")

    check(explained(cluster), "NodeUnreachable", "node-controller", "After 40 s without a heartbeat", "하트비트 없이 40초(쿠버네티스 시간)가 지나면")


def test_a_pod_evicted_from_a_lost_node_stays_terminating(cluster, clock):
    store.create(cluster, rs_manifest("web", replicas=1))
    rs = store.get(cluster, kinds.BY_KIND["ReplicaSet"], "default", "web")
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    [doc] = store.list_docs(cluster, kinds.POD)
    node = scheduler.schedule(cluster, doc["metadata"]["uid"])
    kubelet.run_due_stages(cluster, node, doc["metadata"]["uid"])
    silence(cluster, clock, node, timing.node_monitor_grace(cluster) + 1)
    node_controller.reconcile(cluster)
    clock.advance(timing.scaled(cluster, 300) + 1)
    node_controller.reconcile(cluster)

    found = explained(cluster, doc["metadata"]["name"])

    check(found, "TerminatingOnUnreachableNode", "node-controller",
          f"The taint eviction controller deleted this pod because its node stayed unreachable longer than the pod tolerates, but node {node} has been stopped",
          f"테인트 축출 컨트롤러가 이 파드를 삭제했습니다. 하지만 {node} 노드가 멈춰 있습니다")
    assert f"kubectl delete pod {doc['metadata']['name']} --grace-period=0 --force" in found["summary"]["en"]
    assert "Its ReplicaSet does not wait" in found["summary"]["en"] and "ReplicaSet 컨트롤러는 기다리지 않고" in found["summary"]["ko"]
    assert found["pod"]["status"] == "Terminating"
    assert "TaintManagerEviction" in [e["reason"] for e in evidence(found, "event")]


def test_a_deleted_pod_on_a_healthy_node_is_the_kubelets_to_stop(cluster, clock):
    store.set_speed(cluster, Speed.NORMAL)
    cluster.refresh_from_db()
    uid = on_node(cluster, image="busybox", command=["sleep", "3600"])
    while not pods.is_ready(store.get(cluster, kinds.POD, "default", "web")):
        clock.advance(kubelet.sync_pod(cluster, "node-1", uid) or 0)
    store.delete_pod(cluster, "default", "web", by=store.API)

    check(explained(cluster), "Terminating", "kubelet", "the kubelet on node-1 is stopping its containers", "유예 기간 30초가 지나도")


def test_a_deleted_pod_held_by_a_finalizer(cluster, clock):
    uid = settled(cluster)
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["metadata"].update(finalizers=["podflow.dev/hold"]), by=store.API)
    store.delete_pod(cluster, "default", "web", by=store.API)
    while kubelet.run_due_stages(cluster, "node-1", uid) is not None:
        pass

    check(explained(cluster), "WaitingForFinalizers", "api-server", "while metadata.finalizers lists podflow.dev/hold", "metadata.finalizers 목록(podflow.dev/hold)이 비워지지 않아")


# --- finished --------------------------------------------------------------------------------------


def test_an_evicted_pod(cluster, clock):
    settled(cluster)
    message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi."
    # Nothing in podflow evicts for node pressure yet: the kubelet's status write, as Kubernetes makes it.
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["status"].update(phase="Failed", reason="Evicted", message=message), by=store.KUBELET)

    found = explained(cluster)

    check(found, "Evicted", "kubelet", f"The kubelet on node-1 evicted this pod to protect its node: {message} An evicted pod is never restarted",
          f"node-1 노드의 kubelet이 노드를 보호하려고 이 파드를 축출했습니다: {message} 축출된 파드는 다시 시작되지 않으며")
    assert found["pod"]["status"] == "Evicted"


def test_a_completed_pod(cluster, clock):
    settled(cluster, image="busybox", restart="Never", command=["echo", "hi"])

    found = explained(cluster)

    check(found, "Completed", "kubelet", "Every container finished successfully (exit code 0) and restartPolicy Never does not restart them", "모든 컨테이너가 정상적으로 끝났고(종료 코드 0)")
    assert found["pod"]["status"] == "Completed" and found["pod"]["phase"] == "Succeeded"


def test_a_failed_pod(cluster, clock):
    settled(cluster, image="busybox", restart="Never", args=["false"])

    found = explained(cluster)

    check(found, "Error", "kubelet", "Container app exited with code 1 and restartPolicy Never does not restart it", "app 컨테이너가 끝났고(종료 코드 1)")
    assert found["pod"]["status"] == "Error" and found["pod"]["phase"] == "Failed"


def test_a_pod_the_kubelet_refused_for_lack_of_room(cluster, clock):
    settled(cluster, resources={"requests": {"cpu": "5"}})

    check(explained(cluster), "AdmissionRejected", "kubelet", "Node didn't have enough resource: cpu", "spec.nodeName으로 노드를 직접 지정해서")


def test_a_healthy_pod_is_said_to_be_healthy(cluster):
    settled(cluster)

    found = explained(cluster)

    check(found, "Healthy", "", "The pod is Running and Ready on node-1: its container runs and is ready", "파드가 node-1 노드에서 Running이며 Ready입니다")
    assert [e["reason"] for e in evidence(found, "event")] == ["Pulling", "Pulled", "Created", "Started"]
    assert {e["type"]: e["status"] for e in evidence(found, "condition")}["Ready"] == "True"


def test_anything_else_is_unknown_and_says_so(cluster):
    on_node(cluster, node="node-9")

    found = explained(cluster)

    check(found, "Unknown", "", "It is bound to node node-9, which no longer exists. podflow cannot say more than kubectl does: the pod is Pending.", "node-9 노드가 더 이상 없습니다")


# --- pure over its facts ---------------------------------------------------------------------------


def test_explain_reads_nothing_but_its_facts():
    """Built by hand, no database: a learner's odd annotation does not break it either."""
    doc = pod("web", memory="16Gi")
    doc["metadata"].update(namespace="lab", uid="u-1", annotations={FILTER_RESULT: json.dumps({"a": {"NodeResourcesFit": "Insufficient memory"}})})
    doc["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes are available"}]}
    rooms = {"a": NodeInfo("a", {}, [], False, 2000, 8 * 2**30, 110)}

    found = explain.explain(explain.Facts(Cluster(name="offline"), doc, rooms=rooms))

    check(found, "Unschedulable", "scheduler", "You asked for 16Gi of memory, but each node has only 8Gi of memory allocatable.", "메모리를 16Gi 요청했지만 노드마다 할당 가능한 메모리는 8Gi뿐입니다")
    doc["metadata"]["annotations"][FILTER_RESULT] = "not json {"
    assert explain.explain(explain.Facts(Cluster(name="offline"), doc, rooms=rooms))["reason"] == "Unschedulable"


# --- over HTTP -------------------------------------------------------------------------------------


def url(cluster: Cluster, name: str = "web", namespace: str = "default") -> str:
    return f"/k8s/{cluster.name}/podflow/v1/namespaces/{namespace}/pods/{name}/explain"


def test_the_explanation_over_http(cluster, api):
    uid = waiting_pod(cluster, cpu="64")
    scheduler.schedule(cluster, uid)

    response = api.get(url(cluster))

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"kind", "apiVersion", "pod", "component", "reason", "summary", "evidence"}
    assert (body["kind"], body["apiVersion"]) == ("PodExplanation", "podflow/v1")
    assert body["pod"] == {"namespace": "default", "name": "web", "uid": uid, "phase": "Pending", "status": "Pending"}
    assert (body["component"], body["reason"]) == ("scheduler", "Unschedulable")
    assert set(body["summary"]) == {"en", "ko"}
    assert {e["kind"] for e in body["evidence"]} == {"scheduler", "node", "condition", "event"}


def test_a_missing_pod_is_the_apis_404(cluster, api):
    response = api.get(url(cluster, "nobody"))

    assert response.status_code == 404
    status = response.json()
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "NotFound", 404)
    assert status["message"] == 'pods "nobody" not found'


def test_another_clusters_token_is_refused(cluster):
    waiting_pod(cluster)
    other, _ = ensure_cluster("other", nodes=1, speed=Speed.INSTANT)

    response = Client(HTTP_AUTHORIZATION=f"Bearer {other.token}").get(url(cluster))

    assert response.status_code == 403
    assert b"web" not in response.content
    assert Client().get(url(cluster)).status_code == 401


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_it_only_answers_get(cluster, api, method):
    waiting_pod(cluster)

    assert getattr(api, method)(url(cluster)).status_code == 405
