"""Each type of lab check against a cluster built through the store: it holds or not, and
when not, it says why in both languages."""
from __future__ import annotations

from django.test import Client
from django.utils import timezone

from cluster import kubelet, scheduler, tasks
from cluster.apimachinery import kinds
from cluster.apiserver import requestlog, store
from cluster.componentbase import clock as cluster_clock
from cluster.componentbase import events, narration
from cluster.kubelet import node as kubelet_node
from cluster.labs import checks
from cluster.models import RequestRecord, TrafficRecord

from .labfiles import one_step
from .manifests import deployment, pod


def check(text: str) -> checks.Check:
    """One check, read from YAML as a lab file holds it."""
    return one_step(checks=f"- {text}").steps[0].checks[0]


def run(cluster, text: str, ctx: checks.Context | None = None) -> checks.Result:
    return checks.evaluate(ctx or checks.Context(cluster), check(text))


def kubectl_pod(cluster, name: str = "web", **kwargs) -> dict:
    """A bare pod as kubectl creates it: steps 1 to 3 recorded."""
    return store.create(cluster, pod(name, **kwargs), client="kubectl", steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))


def running(cluster, name: str = "web") -> dict:
    created = kubectl_pod(cluster, name)
    uid = created["metadata"]["uid"]
    node = scheduler.schedule(cluster, uid)
    for _ in range(20):
        if kubelet.sync_pod(cluster, node, uid) is None:
            break
    return store.get(cluster, kinds.POD, "default", name)


def test_object_exists_and_absent(cluster):
    result = run(cluster, "objectExists: {kind: Pod, name: web}")
    assert not result.ok
    assert result.text.en == "Pod web exists" and result.text.ko == "web 파드가 있습니다"
    assert result.why.en == "there is no Pod web yet" and result.why.ko == "아직 web 파드가 없습니다"
    assert run(cluster, "objectAbsent: {kind: Pod, name: web}").ok
    kubectl_pod(cluster)
    assert run(cluster, "objectExists: {kind: Pod, name: web}").ok
    absent = run(cluster, "objectAbsent: {kind: Pod, name: web}")
    assert not absent.ok and absent.why.en == "Pod web is still there"
    assert run(cluster, "objectExists: {kind: Node, name: node-2}").ok
    assert run(cluster, "objectExists: {kind: Pod, name: web, namespace: kube-system}").why.ko == "아직 kube-system 네임스페이스의 web 파드가 없습니다"


def test_a_field_equals_is_in_exists_and_matches(cluster):
    kubectl_pod(cluster, image="nginx:1.27")
    result = run(cluster, "field: {kind: Pod, name: web, path: status.phase, equals: Running}")
    assert not result.ok
    assert result.why.en == "status.phase of Pod web is Pending, expected Running"
    assert result.why.ko == "web 파드의 status.phase 값은 Pending입니다 (기대: Running)"
    assert run(cluster, "field: {kind: Pod, name: web, path: status.phase, in: [Pending, Running]}").ok
    assert run(cluster, "field: {kind: Pod, name: web, path: spec.nodeName, exists: false}").ok
    unset = run(cluster, "field: {kind: Pod, name: web, path: spec.nodeName, exists: true}")
    assert unset.why.en == "spec.nodeName of Pod web is not set, expected it to be set"
    assert run(cluster, "field: {kind: Pod, name: web, path: 'spec.containers[0].image', matches: ':1\\.27$'}").ok
    assert run(cluster, "field: {kind: Pod, name: web, path: status.phase, notEquals: Running}").ok
    missing = run(cluster, "field: {kind: Pod, name: other, path: status.phase, exists: false}")
    assert not missing.ok and missing.why.en == "there is no Pod other yet"


def test_a_field_compares_yaml_values_as_kubernetes_writes_them(cluster):
    running(cluster)
    # YAML's true and a condition's "True"; an int and its text.
    assert run(cluster, "field: {kind: Pod, name: web, path: 'status.conditions[type=Ready].status', equals: true}").ok
    assert run(cluster, "field: {kind: Pod, name: web, path: 'status.conditions[type=Ready].status', equals: 'True'}").ok
    store.create(cluster, deployment("shop", replicas=3))
    assert run(cluster, "field: {kind: Deployment, name: shop, path: spec.replicas, equals: '3'}").ok
    assert run(cluster, "field: {kind: Deployment, name: shop, path: metadata.generation, equals: 1}").ok


def test_for_at_least_reads_since_when_from_the_change_log(cluster, clock):
    kubectl_pod(cluster)
    text = "field: {kind: Pod, name: web, path: status.phase, equals: Pending, forAtLeast: 5s}"
    clock.advance(3)
    early = run(cluster, text)
    assert not early.ok and early.why.en == "status.phase of Pod web has been as expected for 3.0 s of the 5 s required"
    assert early.text.en == "status.phase of Pod web is Pending for at least 5 s"
    # Writes that keep the value do not restart the count ...
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["metadata"].setdefault("labels", {}).update(a="b"), by=store.API)
    clock.advance(2.5)
    assert run(cluster, text).ok
    # ... a write that changes it does.
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["status"].update(phase="Running"), by=store.KUBELET)
    clock.advance(1)
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["status"].update(phase="Pending"), by=store.KUBELET)
    clock.advance(1)
    assert run(cluster, text).why.en == "status.phase of Pod web has been as expected for 1.0 s of the 5 s required"


def test_count_by_selector_phase_and_readiness(cluster):
    running(cluster, "web-1")
    kubectl_pod(cluster, "web-2", labels={"app": "web"})
    store.mutate(cluster, kinds.POD, "default", "web-1", lambda d: d["metadata"].setdefault("labels", {}).update(app="web"), by=store.API)
    assert run(cluster, "count: {selector: app=web, equals: 2}").ok
    result = run(cluster, "count: {selector: app=web, phase: Running, atLeast: 2}")
    assert not result.ok and result.why.en == "there is 1 now, expected at least 2"
    assert result.text.en == "at least 2 Pods (matching app=web, Running)"
    assert result.text.ko == "app=web 셀렉터에 맞는 Running 상태인 파드 수가 2개 이상입니다"
    assert run(cluster, "count: {selector: app=web, ready: true, equals: 1}").ok
    assert run(cluster, "count: {kind: Node, atLeast: 3, atMost: 3}").ok
    # A pod being deleted is not counted (it is on its way out).
    store.delete(cluster, kinds.POD, "default", "web-1", by=store.API)
    assert run(cluster, "count: {selector: app=web, equals: 1}").ok
    # ... unless asked for: a Terminating pod is still there until its kubelet lets it go.
    with_them = run(cluster, "count: {selector: app=web, terminating: true, equals: 2}")
    assert with_them.ok and with_them.text.en == "exactly 2 Pods (matching app=web, being deleted or not)"


def test_an_event_since_the_step_began_is_told_by_its_revision(cluster):
    created = kubectl_pod(cluster)
    events.record(cluster, created, "Scheduled", "Successfully assigned default/web to node-1", by=store.SCHEDULER, component="default-scheduler")
    text = "event: {reason: Scheduled, kind: Pod, name: web}"
    assert run(cluster, text, checks.Context(cluster, step_revision=0)).ok
    later = checks.Context(cluster, step_revision=store.current_revision(cluster))
    result = run(cluster, text, later)
    assert not result.ok and result.why.en == "no Scheduled event since this step began yet"
    assert run(cluster, "event: {reason: Scheduled, name: web, since: any}", later).ok
    assert not run(cluster, "event: {reason: Scheduled, name: web, type: Warning, since: any}", later).ok


def test_steps_read_the_step_log_of_the_pod(cluster):
    created = kubectl_pod(cluster)
    text = "steps: {pod: web, done: [1, 2], notNeeded: [3], missing: [4]}"
    assert run(cluster, text).ok
    result = run(cluster, "steps: {pod: web, done: [1, 2, 4, 5], notNeeded: [3]}")
    assert result.why.en == "steps 4, 5 have not happened yet for Pod web"
    assert result.why.ko == "web 파드의 4, 5단계가 아직 일어나지 않았습니다"
    assert result.text.en == "Pod web: steps 1, 2, 4, 5 done; step 3 not needed"
    scheduler.schedule(cluster, created["metadata"]["uid"])
    assert not run(cluster, text).ok
    assert run(cluster, text).why.en == "step 4 happened for Pod web, expected it not to"
    assert run(cluster, "steps: {pod: we*, done: [4]}").ok
    assert run(cluster, "steps: {pod: nope, done: [1]}").why.en == "there is no Pod nope yet (no step has happened for it)"


def test_steps_since_the_step_began_look_only_at_pods_made_since(cluster):
    kubectl_pod(cluster, "web-old")
    began = checks.Context(cluster, step_revision=store.current_revision(cluster))
    text = "steps: {pod: web-*, done: [1, 2], since: step}"
    result = run(cluster, text, began)
    assert not result.ok and result.why.en == "no pod web-* has been made since this step began yet"
    assert result.text.en == "Pod web-* (a pod made since this step began): steps 1, 2 done"
    assert run(cluster, "steps: {pod: web-*, done: [1, 2]}", began).ok  # any pod, as before
    kubectl_pod(cluster, "web-new")
    assert run(cluster, text, began).ok


def test_steps_of_a_pod_that_is_gone_come_from_the_step_log(cluster):
    running(cluster)
    store.delete(cluster, kinds.POD, "default", "web", by=store.API, options=store.DeleteOptions(grace_seconds=0))
    assert run(cluster, "steps: {pod: web, done: [1, 2, 4, 5, 6, 7, 8], notNeeded: [3]}").ok


def test_explain_names_the_reason_and_the_component(cluster):
    kubectl_pod(cluster)
    cluster_clock.stop(cluster, "scheduler")
    assert run(cluster, "explain: {pod: web, reason: SchedulerStopped, component: scheduler}").ok
    cluster_clock.start(cluster, "scheduler")
    result = run(cluster, "explain: {pod: web, reason: [SchedulerStopped, Unschedulable]}")
    assert not result.ok and result.why.en.startswith("explain says NotYetScheduled (component scheduler), expected SchedulerStopped or Unschedulable")


def test_a_request_is_read_from_the_request_log(cluster):
    started = timezone.now()
    ctx = checks.Context(cluster, lab_started=started, step_started=started)
    text = "request: {client: kubectl, verb: create, resource: pods}"
    assert not run(cluster, text, ctx).ok
    api = Client(HTTP_AUTHORIZATION=f"Bearer {cluster.token}", HTTP_USER_AGENT="kubectl/v1.32.4 (linux/amd64) kubernetes/abc")
    assert api.post("/k8s/test/api/v1/namespaces/default/pods", pod("web"), content_type="application/json").status_code == 201
    assert run(cluster, text, ctx).ok
    assert run(cluster, "request: {client: kubectl, verb: create, resource: pods, name: web}", ctx).ok is False  # a create names no object in its URL
    assert not run(cluster, "request: {client: page, verb: create, resource: pods}", ctx).ok
    # The same create again is refused (409): a failed request does not count unless asked for.
    api.post("/k8s/test/api/v1/namespaces/default/pods", pod("web"), content_type="application/json")
    assert run(cluster, "request: {client: kubectl, verb: create, resource: pods, code: 409}", ctx).ok
    later = checks.Context(cluster, lab_started=started, step_started=timezone.now())
    result = run(cluster, text, later)
    assert not result.ok and result.why.en == "kubectl has not made a request to create pods since this step began yet"
    assert run(cluster, "request: {client: kubectl, verb: create, resource: pods, since: lab}", later).ok
    assert api.get("/k8s/test/api/v1/nodes").status_code == 200
    assert run(cluster, "request: {client: kubectl, verb: list, resource: nodes}", later).ok


def test_the_request_log_keeps_the_newest_of_each_cluster(cluster):
    for i in range(12):
        requestlog.record(cluster.name, "request", {"client": "kubectl", "verb": "get", "resource": "pods", "name": f"p{i}", "code": 200})
    requestlog.record(cluster.name, "traffic", [{"service": "web", "namespace": "default", "pod": "x", "status": 200}])  # the traffic log's
    requestlog.record("no-such-cluster", "request", {"client": "kubectl", "verb": "get", "resource": "pods", "code": 200})
    assert RequestRecord.objects.filter(cluster=cluster).count() == 12
    assert requestlog.trim(cluster.pk, keep=5) == 7
    assert [r.name for r in requestlog.since(cluster)] == ["p7", "p8", "p9", "p10", "p11"]


def test_a_request_is_logged_as_the_orm_would_write_it_under_the_id_it_is_given(cluster):
    before = timezone.now()
    payload = {"client": "k" * 200, "verb": "create", "resource": "pods", "namespace": "default", "name": "web", "code": 201}
    logged = requestlog._insert_request(cluster.pk, payload)
    row = RequestRecord.objects.get(pk=logged)
    assert before <= row.time <= timezone.now() and row.time.tzinfo is not None
    same = RequestRecord.objects.create(cluster=cluster, time=row.time, client="k" * 120, verb="create", resource="pods", namespace="default", name="web", code=201)
    fields = [f.attname for f in RequestRecord._meta.concrete_fields if not f.primary_key]
    assert RequestRecord.objects.filter(pk=logged).values(*fields).get() == RequestRecord.objects.filter(pk=same.pk).values(*fields).get()
    assert same.pk == logged + 1  # the id it answered is the row's


def test_an_api_request_is_logged_by_the_cluster_it_opened_and_the_page_is_not_told_its_id(cluster, api, settings, monkeypatch, django_assert_num_queries):
    from cluster.apiserver import audit
    from web import broadcast

    settings.PODFLOW_BROADCAST = True
    shown: list[dict] = []
    monkeypatch.setattr(broadcast, "publish_request", lambda name, request: shown.append(request))
    assert api.get("/k8s/test/api/v1/namespaces/default/pods").status_code == 200
    [record] = RequestRecord.objects.filter(cluster=cluster)
    assert (record.verb, record.resource, record.code) == ("list", "pods", 200)
    assert shown and all(audit.CLUSTER_ID not in r for r in shown) and shown[-1]["resource"] == "pods"
    # With the id in the announcement, logging it is one INSERT: no lookup of the name.
    with django_assert_num_queries(1):
        requestlog.record(cluster.name, "request", {"client": "kubectl", "verb": "get", "resource": "pods", "code": 200, audit.CLUSTER_ID: cluster.pk})


def test_traffic_is_read_from_the_traffic_log(cluster):
    started = timezone.now()
    ctx = checks.Context(cluster, lab_started=started, step_started=started)
    text = "traffic: {service: web, atLeast: 4, pods: 2}"
    assert run(cluster, text, ctx).why.en == "no request has been sent to Service web since this step began yet"
    answers = [{"service": "web", "namespace": "default", "via": "nodePort 30080 on node-1", "pod": f"web-{i % 2}", "status": 200} for i in range(3)]
    requestlog.record(cluster.name, "traffic", answers + [{"service": "web", "namespace": "default", "status": 503, "error": "no ready endpoints"}])
    assert TrafficRecord.objects.filter(cluster=cluster).count() == 4
    result = run(cluster, text, ctx)
    assert not result.ok and result.why.en == "3 of 4 requests to Service web were answered 200 (1 answered 503), by 2 pod(s) since this step began; expected at least 4 by at least 2 pods"
    assert result.text.en == "at least 4 request(s) to Service web answered 200, by at least 2 different pods since this step began"
    assert run(cluster, "traffic: {service: web, atLeast: 3, pods: 2}", ctx).ok
    assert not run(cluster, "traffic: {service: web, atLeast: 3, pods: 3}", ctx).ok
    assert run(cluster, "traffic: {service: web, status: 503}", ctx).ok
    # An Ingress's answers name the Ingress (and the Service behind it).
    requestlog.record(cluster.name, "traffic", [{"ingress": "shop", "service": "web", "namespace": "default", "pod": "web-0", "status": 200}])
    assert run(cluster, "traffic: {ingress: shop}", ctx).ok and not run(cluster, "traffic: {ingress: other}", ctx).ok
    later = checks.Context(cluster, lab_started=started, step_started=timezone.now())
    assert not run(cluster, "traffic: {service: web}", later).ok and run(cluster, "traffic: {service: web, since: lab}", later).ok


def test_held_clock_and_component(cluster):
    created = kubectl_pod(cluster)
    assert run(cluster, "held: {component: scheduler}").why.en == "the cluster's clock is not paused, so nothing is held"
    assert run(cluster, "clock: {paused: false}").ok
    cluster_clock.pause(cluster)
    assert run(cluster, "clock: {paused: true}").ok
    assert run(cluster, "held: {component: scheduler, step: 4}").why.en == "no action of the scheduler's is held yet"
    tasks.schedule_pod(cluster.pk, created["metadata"]["uid"])
    result = run(cluster, "held: {component: scheduler, step: 4}")
    assert result.ok and result.text.ko == "시계가 스케줄러의 동작(4단계)을 보류하고 있습니다"
    assert not run(cluster, "component: {name: scheduler, stopped: true}").ok
    cluster_clock.stop(cluster, "scheduler")
    assert run(cluster, "component: {name: scheduler, stopped: true}").ok
    assert run(cluster, "component: {name: kubelet@node-1, stopped: false}").ok
    kubelet_node.stop(cluster, "node-1")
    result = run(cluster, "component: {name: kubelet@node-1, stopped: false}")
    assert result.why.en == "the kubelet of node-1 is stopped" and result.why.ko == "node-1 노드의 kubelet이 멈춰 있습니다"


def test_the_korean_particle_follows_the_last_syllable():
    assert checks.josa("레플리카셋", "이", "가") == "이"
    assert checks.josa("파드", "이", "가") == "가"
    assert checks.josa("kubelet", "이", "가") == "이"
    assert checks.josa("etcd", "이", "가") == "가"
