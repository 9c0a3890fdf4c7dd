"""Lab actions do what a learner or the page could, through the same doors."""
from __future__ import annotations

import pytest

from cluster import tasks
from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.apiserver.handlers import terminal
from cluster.componentbase import clock as cluster_clock
from cluster.kubelet import node as kubelet_node
from cluster.labs import actions, checks
from cluster.labs.schema import Action
from cluster.models import Cluster, HeldAction, Object, RequestRecord, Step, TrafficRecord

from .labfiles import one_step
from .manifests import pod


def read(text: str) -> list[Action]:
    """Actions as a lab's solve holds them."""
    return one_step(solve=text).steps[0].solve


def do(cluster, text: str) -> list[actions.Done]:
    return actions.run_all(checks.Context(cluster), read(text))


def test_apply_creates_through_the_store_with_the_steps_of_a_pod_and_then_replaces(cluster):
    do(cluster, """
        - apply:
            apiVersion: v1
            kind: Pod
            metadata: {name: web, labels: {app: web}}
            spec: {containers: [{name: app, image: "nginx:1.27"}]}
        """)
    created = store.get(cluster, kinds.POD, "default", "web")
    assert created["status"]["phase"] == "Pending"  # defaulted as a POST is
    assert sorted(Step.objects.filter(cluster=cluster).values_list("number", "status")) == [(1, "done"), (2, "done"), (3, "not-needed")]
    assert Object.objects.get(cluster=cluster, kind="Pod", name="web").client == actions.CLIENT
    do(cluster, """
        - apply: [{apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {mode: a}},
                  {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {mode: b}}]
        """)
    assert store.get(cluster, kinds.CONFIGMAP, "default", "settings")["data"] == {"mode": "b"}


def test_apply_of_an_invalid_manifest_fails_with_the_api_servers_words(cluster):
    with pytest.raises(actions.ActionFailed) as failed:
        do(cluster, "- apply: {apiVersion: v1, kind: Pod, metadata: {name: Web}, spec: {containers: []}}")
    assert 'Pod "Web" is invalid' in failed.value.message and failed.value.code == 409


def test_annotate_delete_and_delete_all(cluster):
    store.create(cluster, pod("web"))
    do(cluster, "- annotate: {name: web, annotations: {podflow.dev/readiness: fail}}")
    assert store.get(cluster, kinds.POD, "default", "web")["metadata"]["annotations"] == {"podflow.dev/readiness": "fail"}
    do(cluster, "- annotate: {name: web, annotations: {podflow.dev/readiness: null}}")
    assert "annotations" not in store.get(cluster, kinds.POD, "default", "web")["metadata"]
    do(cluster, "- delete: {kind: Pod, name: web, force: true}")
    assert store.find(cluster, kinds.POD, "default", "web") is None
    [done] = do(cluster, "- delete: {kind: Pod, name: web}")  # gone already: nothing to do
    assert done.output == "pods/web was not there"
    store.create(cluster, pod("a"))
    store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    [done] = do(cluster, "- deleteAll: default")
    assert not Object.objects.filter(cluster=cluster, namespace="default").exists()
    assert Object.objects.filter(cluster=cluster, kind="Node").count() == 3


def test_the_clock_the_speed_and_the_switches(cluster):
    do(cluster, "- clock: pause\n- speed: slow\n- stop: [scheduler, controller-manager, kubelet@node-2]")
    cluster.refresh_from_db()
    assert cluster.paused and cluster.speed == "slow"
    assert cluster_clock.settings_of(cluster.pk)[1] == ["scheduler", "controller-manager"]
    assert kubelet_node.is_stopped(store.get(cluster, kinds.NODE, "", "node-2"))
    do(cluster, "- start: [scheduler, controller-manager, kubelet@node-2]\n- clock: resume")
    assert cluster_clock.settings_of(cluster.pk) == (False, [])
    assert not kubelet_node.is_stopped(store.get(cluster, kinds.NODE, "", "node-2"))


def test_a_clock_step_lets_one_held_action_through(cluster, monkeypatch):
    monkeypatch.setattr(actions, "STEP_WAIT_SECONDS", 0.3)
    with pytest.raises(actions.ActionFailed, match="the clock is not paused"):
        do(cluster, "- clock: {step: scheduler}")
    cluster_clock.pause(cluster)
    with pytest.raises(actions.ActionFailed, match="nothing of the scheduler's is held"):
        do(cluster, "- clock: {step: scheduler}")
    uid = store.create(cluster, pod("web"))["metadata"]["uid"]
    tasks.schedule_pod(cluster.pk, uid)
    [done] = do(cluster, "- clock: {step: scheduler}")
    assert done.output.startswith("released: bind default/web to node-")
    assert HeldAction.objects.get(cluster=cluster).released


def test_reset_empties_the_cluster_runs_the_clock_and_starts_every_component(cluster):
    store.create(cluster, pod("web"))
    cluster_clock.pause(cluster)
    cluster_clock.stop(cluster, "scheduler")
    do(cluster, "- reset: true")
    assert cluster_clock.settings_of(cluster.pk) == (False, [])
    assert not Object.objects.filter(cluster=cluster, kind="Pod").exists()
    assert Object.objects.filter(cluster=cluster, kind="Node").count() == 3


def test_wait_for_ends_when_the_check_passes_or_says_why_it_did_not(cluster):
    store.create(cluster, pod("web"))
    [done] = do(cluster, "- waitFor: {objectExists: {kind: Pod, name: web}, timeout: 1s}")
    assert done.output == "ready" and done.text.en == "wait until Pod web exists"
    with pytest.raises(actions.ActionFailed) as failed:
        do(cluster, "- waitFor: {field: {kind: Pod, name: web, path: status.phase, equals: Running}, timeout: 300ms}")
    assert failed.value.message == "waited 0.3 s for: status.phase of Pod web is Running: status.phase of Pod web is Pending, expected Running"


def test_a_kubectl_action_runs_the_terminals_runner_and_fails_on_a_bad_exit(cluster, monkeypatch):
    ran, fed = [], []

    def fake(found: Cluster, words: list[str], deadline: float = 20, stdin: str | None = None):
        ran.append(words)
        fed.append(stdin)
        return (1, 'Error from server (NotFound): pods "nope" not found\n') if "nope" in words else (0, "pod/web created\n")

    monkeypatch.setattr(terminal, "run_command", fake)
    [done] = do(cluster, '- kubectl run web --image=nginx:1.27')
    assert ran == [["run", "web", "--image=nginx:1.27"]] and done.output == "pod/web created\n"
    with pytest.raises(actions.ActionFailed) as failed:
        do(cluster, "- kubectl delete pod nope")
    assert failed.value.message == '`kubectl delete pod nope` failed (exit 1): Error from server (NotFound): pods "nope" not found'
    do(cluster, "- kubectl: {command: kubectl delete pod nope, mayFail: true}")
    do(cluster, "- |-\n  kubectl apply -f - <<EOF\n  kind: Pod\n  EOF")
    assert ran[-1] == ["apply", "-f", "-"] and fed[-1] == "kind: Pod\n"


def test_traffic_is_sent_to_a_service_and_recorded(cluster):
    with pytest.raises(actions.ActionFailed) as failed:
        do(cluster, "- traffic: {service: web, count: 3}")
    assert failed.value.code == 404 and 'services "web" not found' in failed.value.message
    store.create(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    [done] = do(cluster, "- traffic: {service: web, count: 3, via: clusterIP}")
    assert done.output == "503 ×3"  # no pod is selected: kube-proxy's rules reject the connection
    assert list(TrafficRecord.objects.filter(cluster=cluster).values_list("kind", "name", "status")) == [("Service", "web", 503)] * 3
    assert done.text.en == "send 3 requests to Service web via clusterIP (the Services tab's “Send a request”)"


def test_explain_is_switched_off_and_on_and_a_reset_switches_it_on(cluster, api):
    url = f"/k8s/{cluster.name}/podflow/v1/namespaces/default/pods/web/explain"
    store.create(cluster, pod("web"))
    [done] = do(cluster, "- explain: off")
    assert done.output == "explain off" and not Cluster.objects.get(pk=cluster.pk).explain
    refused = api.get(url)
    assert refused.status_code == 403 and refused.json()["details"]["causes"][0]["reason"] == "ExplainSwitchedOff"
    assert "kubectl describe" in refused.json()["message"]
    do(cluster, "- explain: on")
    assert api.get(url).status_code == 200
    do(cluster, "- explain: off\n- reset: true")
    assert Cluster.objects.get(pk=cluster.pk).explain


def test_without_kubectl_a_kubectl_action_is_a_503(cluster, monkeypatch):
    monkeypatch.setattr(terminal, "kubectl_path", lambda: None)
    with pytest.raises(actions.ActionFailed) as failed:
        do(cluster, "- kubectl get pods")
    assert failed.value.code == 503 and "kubectl is not installed" in failed.value.message


def test_each_action_is_described_for_a_solution(cluster):
    described = [actions.describe(a) for a in read("""
        - kubectl run web --image=nginx:1.27
        - annotate: {name: web, annotations: {podflow.dev/readiness: fail}}
        - delete: {kind: Pod, name: web, force: true}
        - clock: {step: scheduler}
        - stop: kubelet@node-1
        - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
        """)]
    assert described[0]["command"] == "kubectl run web --image=nginx:1.27"
    assert described[1]["command"] == "kubectl annotate pod web podflow.dev/readiness=fail --overwrite"
    assert described[2]["command"] == "kubectl delete pod web --grace-period=0 --force"
    assert described[3] == {"en": "step the clock: let the scheduler's next action through", "ko": "시계를 한 단계 진행합니다: 스케줄러의 다음 동작 하나를 내보냅니다"}
    assert described[4]["en"] == "stop node node-1 (its kubelet)"
    assert "kind: ConfigMap" in described[5]["manifest"]


def test_an_apply_is_announced_as_a_request_of_the_lab(cluster, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        do(cluster, "- apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}")
    record = RequestRecord.objects.get(cluster=cluster)
    assert (record.client, record.verb, record.resource, record.name, record.code) == ("podflow lab", "create", "configmaps", "c", 201)
