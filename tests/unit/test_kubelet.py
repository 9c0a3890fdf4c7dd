"""The kubelet: each call of sync_pod does one stage of the pod's start (or its end)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from cluster import kubelet, scheduler
from cluster.apimachinery import kinds, metav1, pods
from cluster.apiserver import store
from cluster.componentbase import events, narration
from cluster.models import Object, Speed

from .manifests import changes_after, pod, revision, steps_of


def bound_pod(cluster, name: str = "web", image: str = "nginx") -> tuple[dict, str]:
    """A bare pod created as kubectl would, and bound by the scheduler."""
    created = store.create(cluster, pod(name, image=image), client="kubectl", steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))
    node = scheduler.schedule(cluster, created["metadata"]["uid"])
    assert node
    return created, node


def on_node(cluster, name: str, node: str, image: str = "nginx") -> dict:
    """A pod created already bound to `node`."""
    doc = pod(name, image=image)
    doc["spec"]["nodeName"] = node
    return store.create(cluster, doc)


def current(cluster, name: str = "web") -> dict | None:
    return store.find(cluster, kinds.POD, "default", name)


def reasons(cluster, uid: str) -> list[str]:
    return events.reasons_for(cluster, uid)


def run_until_done(cluster, node: str, uid: str) -> int:
    calls = 0
    while kubelet.sync_pod(cluster, node, uid) is not None:
        calls += 1
        assert calls < 20, "the kubelet never finished"
    return calls


# What each call adds, in order: (step recorded, event reasons recorded, check on the pod).
STAGES = [
    ("admit", [5], [], lambda p: p["status"]["hostIP"] and p["status"]["phase"] == "Pending"),
    ("sandbox", [6], [], lambda p: p["status"]["podIP"].startswith("10.244.")),
    ("pull", [], ["Pulling"], lambda p: "running" not in p["status"]["containerStatuses"][0]["state"]),
    ("pulled", [], ["Pulled"], lambda p: p["status"]["phase"] == "Pending"),
    ("create", [], ["Created"], lambda p: p["status"]["phase"] == "Pending"),
    ("start", [7], ["Started"], lambda p: p["status"]["phase"] == "Running" and not pods.is_ready(p)),
    ("ready", [8], [], lambda p: pods.is_ready(p)),
]


def test_it_advances_exactly_one_stage_per_call(cluster):
    created, node = bound_pod(cluster)
    uid = created["metadata"]["uid"]

    for name, new_steps, new_reasons, check in STAGES:
        steps_before, reasons_before = steps_of(uid), reasons(cluster, uid)

        assert kubelet.sync_pod(cluster, node, uid) == 0.0, name

        assert [n for n, _ in steps_of(uid)] == [n for n, _ in steps_before] + new_steps, name
        assert reasons(cluster, uid) == reasons_before + new_reasons, name
        assert check(current(cluster)), name


def test_it_returns_none_and_writes_nothing_once_the_pod_is_ready(cluster):
    created, node = bound_pod(cluster)
    run_until_done(cluster, node, created["metadata"]["uid"])
    before = revision(cluster)

    assert kubelet.sync_pod(cluster, node, created["metadata"]["uid"]) is None
    assert revision(cluster) == before


def test_it_takes_a_bare_pod_through_all_eight_steps(cluster):
    created, node = bound_pod(cluster)

    calls = run_until_done(cluster, node, created["metadata"]["uid"])

    assert calls == len(STAGES)
    assert steps_of(created["metadata"]["uid"]) == [(1, "done"), (2, "done"), (3, "not-needed")] + [(n, "done") for n in range(4, 9)]
    ready = current(cluster)
    assert ready["status"]["phase"] == "Running"
    assert ready["status"]["containerStatuses"][0]["ready"] is True
    assert ready["status"]["containerStatuses"][0]["containerID"].startswith("containerd://")


def test_it_reports_the_pull_with_kubernetes_words(cluster):
    created, node = bound_pod(cluster, image="nginx")
    run_until_done(cluster, node, created["metadata"]["uid"])

    messages = {e["reason"]: e["message"] for e in store.list_docs(cluster, kinds.EVENT, owner_uid=created["metadata"]["uid"])}

    assert messages["Pulling"] == 'Pulling image "nginx"'
    assert messages["Pulled"].startswith('Successfully pulled image "nginx" in 0.000s (0.000s including waiting). Image size: 72000000 bytes.')
    assert messages["Created"] == "Created container: app"
    assert messages["Started"] == "Started container app"


def test_it_remembers_a_pulled_image_on_the_node(cluster):
    created, node = bound_pod(cluster, image="nginx:1.27")

    run_until_done(cluster, node, created["metadata"]["uid"])

    images = store.get(cluster, kinds.NODE, "", node)["status"]["images"]
    assert images == [{"names": ["docker.io/library/nginx:1.27"], "sizeBytes": 72_000_000}]


def test_it_does_not_pull_an_image_already_on_the_machine(cluster):
    first, node = bound_pod(cluster, "first", image="nginx:1.27")
    run_until_done(cluster, node, first["metadata"]["uid"])
    second = on_node(cluster, "second", node, image="nginx:1.27")
    uid = second["metadata"]["uid"]
    kubelet.sync_pod(cluster, node, uid)  # admit
    kubelet.sync_pod(cluster, node, uid)  # sandbox

    kubelet.sync_pod(cluster, node, uid)

    pulled = [e["message"] for e in store.list_docs(cluster, kinds.EVENT, owner_uid=uid) if e["reason"] == "Pulled"]
    assert pulled == ['Container image "nginx:1.27" already present on machine']
    assert "Pulling" not in reasons(cluster, uid)
    kubelet.sync_pod(cluster, node, uid)
    assert reasons(cluster, uid)[-1] == "Created"


def test_it_pulls_an_image_with_policy_always_even_when_present(cluster):
    first, node = bound_pod(cluster, "first", image="nginx")
    run_until_done(cluster, node, first["metadata"]["uid"])
    second = on_node(cluster, "second", node, image="nginx")

    run_until_done(cluster, node, second["metadata"]["uid"])

    assert reasons(cluster, second["metadata"]["uid"]) == ["Pulling", "Pulled", "Created", "Started"]


def test_it_finishes_pulling_every_image_of_a_pod_whose_other_images_are_present(cluster):
    store.mutate(cluster, kinds.NODE, "", "node-1", lambda d: d["status"].update(images=[{"names": ["docker.io/library/nginx:1.27"], "sizeBytes": 1}]), by=store.API)
    doc = pod("web", image="nginx:1.27")
    doc["spec"]["containers"].append({"name": "cache", "image": "redis:7"})
    doc["spec"]["nodeName"] = "node-1"
    uid = store.create(cluster, doc)["metadata"]["uid"]

    run_until_done(cluster, "node-1", uid)

    found = sorted(store.list_docs(cluster, kinds.EVENT, owner_uid=uid), key=lambda e: int(e["metadata"]["resourceVersion"]))
    pulls = [(e["involvedObject"]["fieldPath"], e["reason"], e["message"].split(" in ")[0]) for e in found if e["reason"].startswith("Pull")]
    assert pulls == [
        ("spec.containers{cache}", "Pulling", 'Pulling image "redis:7"'),
        ("spec.containers{app}", "Pulled", 'Container image "nginx:1.27" already present on machine'),
        ("spec.containers{cache}", "Pulled", 'Successfully pulled image "redis:7"'),
    ]
    names = [i["names"][0] for i in store.get(cluster, kinds.NODE, "", "node-1")["status"]["images"]]
    assert names == ["docker.io/library/nginx:1.27", "docker.io/library/redis:7"]


def test_it_stops_a_terminating_pod_then_removes_it(cluster):
    created, node = bound_pod(cluster)
    uid = created["metadata"]["uid"]
    run_until_done(cluster, node, uid)
    store.delete_pod(cluster, "default", "web", by=store.API)
    assert current(cluster)["metadata"]["deletionTimestamp"]

    assert kubelet.sync_pod(cluster, node, uid) == 0.0
    stopping = current(cluster)
    assert reasons(cluster, uid)[-1] == "Killing"
    assert "terminated" in stopping["status"]["containerStatuses"][0]["state"]
    assert not pods.is_ready(stopping)

    at = revision(cluster)
    assert kubelet.sync_pod(cluster, node, uid) == 0.0
    assert current(cluster) is None
    assert [c.type for c in changes_after(cluster, at)] == ["DELETED"]

    assert kubelet.sync_pod(cluster, node, uid) is None


def test_it_stops_a_terminating_pod_with_a_finalizer_and_leaves_it_to_its_finalizer(cluster):
    created, node = bound_pod(cluster)
    uid = created["metadata"]["uid"]
    run_until_done(cluster, node, uid)
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["metadata"].update(finalizers=["podflow.dev/hold"]), by=store.API)
    store.delete_pod(cluster, "default", "web", by=store.API)

    run_until_done(cluster, node, uid)

    held = current(cluster)
    assert held["metadata"]["deletionGracePeriodSeconds"] == 0  # the kubelet's own delete, with grace 0
    at = revision(cluster)
    assert kubelet.sync_pod(cluster, node, uid) is None
    assert revision(cluster) == at


def test_it_ignores_a_pod_bound_to_another_node(cluster):
    created, node = bound_pod(cluster)
    other = next(n for n in ("node-1", "node-2", "node-3") if n != node)
    before = revision(cluster)

    assert kubelet.sync_pod(cluster, other, created["metadata"]["uid"]) is None
    assert kubelet.sync_pod(cluster, node, "no-such-uid") is None
    assert revision(cluster) == before


def test_it_hands_out_distinct_pod_ips_on_a_node(cluster):
    ips = set()
    for name in ("a", "b", "c"):
        created = on_node(cluster, name, "node-1")
        kubelet.sync_pod(cluster, "node-1", created["metadata"]["uid"])
        kubelet.sync_pod(cluster, "node-1", created["metadata"]["uid"])
        ips.add(current(cluster, name)["status"]["podIP"])

    assert ips == {"10.244.1.2", "10.244.1.3", "10.244.1.4"}


# --- time -------------------------------------------------------------------------------

@pytest.fixture
def normal_speed(cluster):
    store.set_speed(cluster, Speed.NORMAL)
    return cluster


def test_it_asks_to_wait_when_the_last_stage_was_just_now(normal_speed):
    cluster = normal_speed
    created, node = bound_pod(cluster)
    before = revision(cluster)

    wait = kubelet.sync_pod(cluster, node, created["metadata"]["uid"])

    assert 0 < wait <= 1.0
    assert revision(cluster) == before


def test_it_does_the_stage_once_its_time_has_come(normal_speed, monkeypatch):
    cluster = normal_speed
    created, node = bound_pod(cluster)
    later = metav1.now() + timedelta(seconds=2)
    monkeypatch.setattr(metav1, "now", lambda: later)

    assert kubelet.sync_pod(cluster, node, created["metadata"]["uid"]) == 0.0
    assert current(cluster)["status"]["hostIP"]


def test_it_runs_every_due_stage_in_one_transaction_at_instant_speed(cluster):
    created, node = bound_pod(cluster)
    before = revision(cluster)

    assert kubelet.run_due_stages(cluster, node, created["metadata"]["uid"]) is None

    assert pods.is_ready(current(cluster))
    assert steps_of(created["metadata"]["uid"])[-4:] == [(5, "done"), (6, "done"), (7, "done"), (8, "done")]
    log = changes_after(cluster, before)
    assert [c.revision for c in log] == list(range(before + 1, before + 1 + len(log)))  # one revision per write
    assert kubelet.run_due_stages(cluster, node, created["metadata"]["uid"]) is None
    assert revision(cluster) == log[-1].revision  # converged: nothing more written


def test_it_runs_one_stage_at_a_time_when_paced(cluster):
    cluster.speed = Speed.NORMAL
    cluster.save(update_fields=["speed"])
    created, node = bound_pod(cluster)

    uid = created["metadata"]["uid"]
    wait = kubelet.run_due_stages(cluster, node, uid)
    assert 0 < wait <= 1.0 and steps_of(uid)[-1] == (4, "done")  # bound just now: not due yet
    Object.objects.filter(cluster=cluster).update(updated=metav1.now() - timedelta(seconds=2))

    assert kubelet.run_due_stages(cluster, node, uid) == 0.0
    assert steps_of(uid)[-1] == (5, "done")  # one stage, not all of them
    assert 0 < kubelet.run_due_stages(cluster, node, uid) <= 1.0


# --- the runtime in depth ------------------------------------------------------------------------



def running_pod(cluster, name: str = "web", *, image: str = "nginx", node: str = "node-1", restart: str | None = None, command=None, args=None, annotations=None, **container) -> str:
    """A pod bound to `node` whose container is shaped by the keyword arguments; its uid."""
    doc = pod(name, image=image)
    doc["spec"]["nodeName"] = node
    if restart:
        doc["spec"]["restartPolicy"] = restart
    if command is not None:
        doc["spec"]["containers"][0]["command"] = command
    if args is not None:
        doc["spec"]["containers"][0]["args"] = args
    if annotations:
        doc["metadata"]["annotations"] = annotations
    doc["spec"]["containers"][0].update(container)
    return store.create(cluster, doc)["metadata"]["uid"]


def settle(cluster, node: str, uid: str) -> float | None:
    """Run every stage due now (instant speed); the wait until the next one, or None."""
    return kubelet.run_due_stages(cluster, node, uid)


def container_status(cluster, name: str = "web") -> dict:
    return current(cluster, name)["status"]["containerStatuses"][0]


def waiting(cluster, name: str = "web") -> str:
    return container_status(cluster, name)["state"].get("waiting", {}).get("reason", "")


def event_messages(cluster, uid: str, reason: str | None = None) -> list[str]:
    found = sorted(store.list_docs(cluster, kinds.EVENT, owner_uid=uid), key=lambda e: int(e["metadata"]["resourceVersion"]))
    return [e["message"] for e in found if reason is None or e["reason"] == reason]


def event_count(cluster, uid: str, reason: str, start: str) -> int:
    return sum(e.get("count", 1) for e in store.list_docs(cluster, kinds.EVENT, owner_uid=uid) if e["reason"] == reason and e["message"].startswith(start))


def status_column(cluster, name: str = "web") -> str:
    from cluster.apiserver.serializers import tables

    return tables.pod_status_reason(current(cluster, name))


def test_an_unknown_tag_fails_to_pull_then_backs_off(cluster, clock):
    uid = running_pod(cluster, image="nginx:nope")

    wait = settle(cluster, "node-1", uid)

    assert waiting(cluster) == "ImagePullBackOff"
    assert status_column(cluster) == "ImagePullBackOff"
    [failed] = [m for m in event_messages(cluster, uid, "Failed") if m.startswith("Failed to pull")]
    assert failed.startswith('Failed to pull image "nginx:nope": ') and failed.endswith("docker.io/library/nginx:nope: not found")
    assert "Error: ErrImagePull" in event_messages(cluster, uid, "Failed")
    assert "Error: ImagePullBackOff" in event_messages(cluster, uid, "Failed")
    assert event_messages(cluster, uid, "BackOff") == ['Back-off pulling image "nginx:nope"']
    message = container_status(cluster)["state"]["waiting"]["message"]
    assert message.startswith('Back-off pulling image "nginx:nope": ErrImagePull: rpc error: code = NotFound')
    assert wait == pytest.approx(0.5)  # 10 s of Kubernetes time at instant speed, floored
    assert current(cluster)["status"]["phase"] == "Pending"


def test_the_image_back_off_grows_and_each_retry_pulls_again(cluster, clock):
    uid = running_pod(cluster, image="nginx:nope")
    settle(cluster, "node-1", uid)
    before = revision(cluster)

    assert settle(cluster, "node-1", uid) == pytest.approx(0.5)  # not due: nothing written
    assert revision(cluster) == before

    waits = []
    for _ in range(6):
        clock.advance(settle(cluster, "node-1", uid) or 0)
        waits.append(settle(cluster, "node-1", uid))
    assert event_count(cluster, uid, "Failed", "Failed to pull image") == 7
    assert event_count(cluster, uid, "Pulling", "Pulling image") == 7
    # 10 s, 20 s, 40 s, 80 s, 160 s, then capped at 300 s; at instant speed 1/100 of that, at least 0.5 s.
    assert waits == [pytest.approx(w) for w in (0.5, 0.5, 0.8, 1.6, 3.0, 3.0)]
    assert waiting(cluster) == "ImagePullBackOff"


def test_the_image_back_off_is_kubernetes_time_at_normal_speed(cluster, clock):
    store.set_speed(cluster, Speed.NORMAL)
    uid = running_pod(cluster, image="nginx:nope")
    for _ in range(4):  # admit, sandbox, pull, pulled → ErrImagePull
        clock.advance(kubelet.sync_pod(cluster, "node-1", uid) or 0)
        assert kubelet.sync_pod(cluster, "node-1", uid) == 0.0
    assert waiting(cluster) == "ErrImagePull"
    assert status_column(cluster) == "ErrImagePull"
    clock.advance(1)
    assert kubelet.sync_pod(cluster, "node-1", uid) == 0.0
    assert waiting(cluster) == "ImagePullBackOff"

    assert kubelet.sync_pod(cluster, "node-1", uid) == pytest.approx(1.0)  # 10 s × 0.1 after the failure


def test_an_unknown_repository_is_refused_as_docker_hub_does(cluster, clock):
    uid = running_pod(cluster, image="no-such-image-here")
    settle(cluster, "node-1", uid)

    [failed] = [m for m in event_messages(cluster, uid, "Failed") if m.startswith("Failed to pull")]
    assert "pull access denied, repository does not exist or may require authorization" in failed


def test_an_invalid_image_name_is_not_pulled_at_all(cluster, clock):
    uid = running_pod(cluster, image="Nginx")

    assert settle(cluster, "node-1", uid) is None

    assert waiting(cluster) == "InvalidImageName"
    assert "Pulling" not in reasons(cluster, uid)
    assert 'couldn\'t parse image name "Nginx": invalid reference format: repository name must be lowercase' in event_messages(cluster, uid, "InspectFailed")[0]


def test_fixing_the_image_of_a_pod_in_back_off_starts_it(cluster, clock):
    uid = running_pod(cluster, image="nginx:nope")
    settle(cluster, "node-1", uid)

    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["spec"]["containers"][0].update(image="nginx:1.27"), by=store.API)
    assert settle(cluster, "node-1", uid) is None

    assert pods.is_ready(current(cluster))
    assert container_status(cluster)["image"] == "nginx:1.27"
    assert container_status(cluster)["restartCount"] == 0


def test_pull_policy_never_needs_the_image_on_the_node(cluster, clock):
    uid = running_pod(cluster, image="nginx:1.27", imagePullPolicy="Never")

    assert settle(cluster, "node-1", uid) is None

    assert waiting(cluster) == "ErrImageNeverPull"
    assert event_messages(cluster, uid, "ErrImageNeverPull") == ['Container image "nginx:1.27" is not present with pull policy of Never']
    assert "Pulling" not in reasons(cluster, uid)

    other = running_pod(cluster, "other", image="nginx:1.27")  # pulls it onto node-1
    settle(cluster, "node-1", other)
    assert settle(cluster, "node-1", uid) is None
    assert pods.is_ready(current(cluster))
    assert 'Container image "nginx:1.27" already present on machine' in event_messages(cluster, uid, "Pulled")


def test_pull_time_follows_the_size_of_the_image(cluster, clock):
    store.set_speed(cluster, Speed.NORMAL)
    waits = {}
    for name, image in (("small", "busybox:1.36"), ("big", "python:3.12")):
        uid = running_pod(cluster, name, image=image, command=["sleep", "3600"])
        for _ in range(3):  # admit, sandbox, Pulling
            clock.advance(kubelet.sync_pod(cluster, "node-1", uid) or 0)
            kubelet.sync_pod(cluster, "node-1", uid)
        waits[name] = kubelet.sync_pod(cluster, "node-1", uid)

    assert waits["small"] == pytest.approx(1.0)  # one stage at least
    assert waits["big"] == pytest.approx(370 / 40)  # 370 MB at 40 MB a stage


def test_a_failing_command_restarts_at_once_then_backs_off(cluster, clock):
    uid = running_pod(cluster, image="busybox", command=["sh", "-c", "exit 1"])

    wait = settle(cluster, "node-1", uid)

    status = container_status(cluster)
    assert status["restartCount"] == 1
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["state"]["waiting"]["message"].startswith("back-off 10s restarting failed container=app pod=web_default(")
    assert status["lastState"]["terminated"]["exitCode"] == 1 and status["lastState"]["terminated"]["reason"] == "Error"
    assert status_column(cluster) == "CrashLoopBackOff"
    assert current(cluster)["status"]["phase"] == "Running"
    assert event_messages(cluster, uid, "BackOff")[0].startswith("Back-off restarting failed container app in pod web_default(")
    assert wait == pytest.approx(0.5)

    clock.advance(0.4)
    assert settle(cluster, "node-1", uid) == pytest.approx(0.1)
    assert container_status(cluster)["restartCount"] == 1
    clock.advance(0.1)
    settle(cluster, "node-1", uid)
    status = container_status(cluster)
    assert status["restartCount"] == 2
    assert status["state"]["waiting"]["message"].startswith("back-off 20s restarting failed container=app")


def test_restart_policy_never_leaves_a_finished_pod_completed(cluster, clock):
    uid = running_pod(cluster, image="busybox", restart="Never", command=["echo", "hi"])

    assert settle(cluster, "node-1", uid) is None

    done = current(cluster)
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert status_column(cluster) == "Completed"
    assert pods.condition(done, "Ready")["reason"] == "PodCompleted"
    assert kubelet.pods_needing_work(cluster) == []


def test_restart_policy_never_leaves_a_failed_pod_failed(cluster, clock):
    uid = running_pod(cluster, image="busybox", restart="Never", args=["false"])

    settle(cluster, "node-1", uid)

    assert current(cluster)["status"]["phase"] == "Failed"
    assert status_column(cluster) == "Error"
    assert container_status(cluster)["restartCount"] == 0


def test_restart_policy_on_failure_restarts_only_a_failure(cluster, clock):
    ok = running_pod(cluster, "ok", image="busybox", restart="OnFailure", command=["true"])
    bad = running_pod(cluster, "bad", image="busybox", restart="OnFailure", command=["false"])

    settle(cluster, "node-1", ok)
    settle(cluster, "node-1", bad)

    assert current(cluster, "ok")["status"]["phase"] == "Succeeded"
    assert current(cluster, "bad")["status"]["phase"] == "Running"
    assert container_status(cluster, "bad")["restartCount"] == 1


def test_busybox_with_no_command_finishes_at_once_and_crash_loops_under_always(cluster, clock):
    uid = running_pod(cluster, image="busybox:1.36")

    settle(cluster, "node-1", uid)

    status = container_status(cluster)
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["reason"] == "Completed"


def test_sleep_runs_its_seconds_at_the_clusters_speed(cluster, clock):
    uid = running_pod(cluster, image="busybox", restart="Never", command=["sleep", "100"])

    wait = settle(cluster, "node-1", uid)

    assert pods.is_ready(current(cluster))
    assert wait == pytest.approx(1.0)  # 100 s × 0.01 at instant speed
    clock.advance(1.0)
    assert settle(cluster, "node-1", uid) is None
    assert current(cluster)["status"]["phase"] == "Succeeded"


def test_an_exec_of_a_shell_builtin_is_a_start_error(cluster, clock):
    uid = running_pod(cluster, image="busybox", restart="Never", args=["exit", "1"])

    settle(cluster, "node-1", uid)

    ended = container_status(cluster)["state"]["terminated"]
    assert ended["reason"] == "StartError" and ended["exitCode"] == 128
    assert 'exec: "exit": executable file not found in $PATH' in ended["message"]
    assert "Started" not in reasons(cluster, uid)


def test_readiness_follows_the_annotation_for_a_declared_probe(cluster, clock):
    probe = {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 10, "failureThreshold": 3}
    uid = running_pod(cluster, readinessProbe=probe)
    settle(cluster, "node-1", uid)
    assert pods.is_ready(current(cluster))

    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["metadata"].setdefault("annotations", {}).update({"podflow.dev/readiness": "fail"}), by=store.API)
    wait = settle(cluster, "node-1", uid)
    assert wait == pytest.approx(0.3)  # failureThreshold × periodSeconds = 30 s, at instant speed
    assert pods.is_ready(current(cluster))
    clock.advance(0.3)
    settle(cluster, "node-1", uid)

    unready = current(cluster)
    assert not pods.is_ready(unready)
    assert pods.condition(unready, "Ready")["reason"] == "ContainersNotReady"
    assert pods.condition(unready, "Ready")["message"] == "containers with unready status: [app]"
    assert unready["status"]["phase"] == "Running"
    assert event_messages(cluster, uid, "Unhealthy") == ["Readiness probe failed: HTTP probe failed with statuscode: 503"]
    assert settle(cluster, "node-1", uid) is None

    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["metadata"]["annotations"].update({"podflow.dev/readiness": "pass"}), by=store.API)
    settle(cluster, "node-1", uid)
    assert pods.is_ready(current(cluster))


def test_a_probe_annotation_means_nothing_without_a_declared_probe(cluster, clock):
    uid = running_pod(cluster, annotations={"podflow.dev/readiness": "fail", "podflow.dev/liveness": "fail"})

    assert settle(cluster, "node-1", uid) is None

    assert pods.is_ready(current(cluster))
    assert "Unhealthy" not in reasons(cluster, uid)


def test_a_failing_liveness_probe_restarts_the_container(cluster, clock):
    probe = {"tcpSocket": {"port": 80}, "periodSeconds": 5, "failureThreshold": 2}
    uid = running_pod(cluster, livenessProbe=probe)
    settle(cluster, "node-1", uid)

    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["metadata"].setdefault("annotations", {}).update({"podflow.dev/liveness": "fail"}), by=store.API)
    assert settle(cluster, "node-1", uid) == pytest.approx(0.1)  # 2 × 5 s
    clock.advance(0.1)
    settle(cluster, "node-1", uid)

    status = container_status(cluster)
    assert status["restartCount"] == 1
    assert "running" in status["state"]
    assert status["lastState"]["terminated"]["reason"] == "Completed"  # nginx stops on SIGTERM
    ip = current(cluster)["status"]["podIP"]
    assert event_messages(cluster, uid, "Unhealthy") == [f"Liveness probe failed: dial tcp {ip}:80: connect: connection refused"]
    assert event_messages(cluster, uid, "Killing") == ["Container app failed liveness probe, will be restarted"]


def test_a_missing_configmap_holds_the_container_until_it_exists(cluster, clock):
    env = [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}]
    uid = running_pod(cluster, env=env)

    assert settle(cluster, "node-1", uid) is None

    assert waiting(cluster) == "CreateContainerConfigError"
    assert container_status(cluster)["state"]["waiting"]["message"] == 'configmap "settings" not found'
    assert 'Error: configmap "settings" not found' in event_messages(cluster, uid, "Failed")
    assert status_column(cluster) == "CreateContainerConfigError"
    assert kubelet.pods_waiting_on(cluster.pk, "ConfigMap", "default", "settings") == [("node-1", uid)]

    store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"other": "x"}})
    assert settle(cluster, "node-1", uid) is None
    assert container_status(cluster)["state"]["waiting"]["message"] == "couldn't find key mode in ConfigMap default/settings"

    store.mutate(cluster, kinds.BY_KIND["ConfigMap"], "default", "settings", lambda d: d["data"].update(mode="fast"), by=store.API)
    settle(cluster, "node-1", uid)
    assert pods.is_ready(current(cluster))
    assert container_status(cluster)["restartCount"] == 0


def test_a_missing_secret_in_env_from_holds_the_container(cluster, clock):
    uid = running_pod(cluster, envFrom=[{"secretRef": {"name": "creds"}}, {"configMapRef": {"name": "maybe", "optional": True}}])

    settle(cluster, "node-1", uid)
    assert container_status(cluster)["state"]["waiting"]["message"] == 'secret "creds" not found'

    store.create(cluster, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"password": "s3cret"}})
    settle(cluster, "node-1", uid)
    assert pods.is_ready(current(cluster))


def test_a_configmap_wakes_the_pods_waiting_for_it(cluster, clock):
    from cluster.informers import wake

    uid = running_pod(cluster, envFrom=[{"configMapRef": {"name": "settings"}}])
    settle(cluster, "node-1", uid)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default", "uid": "u"}}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "default", "uid": "v"}}

    # The informer wakes the kubelets' waiter task with the ConfigMap's key; the task asks
    # which pods wait on it and syncs those (only those).
    assert list(wake.for_change(cluster.pk, "ADDED", None, cm, store.API)) == [(wake.SYNC_CONFIG_WAITERS, (cluster.pk, "ConfigMap", "default", "settings"))]
    assert kubelet.pods_waiting_on(cluster.pk, "ConfigMap", "default", "settings") == [("node-1", uid)]
    assert kubelet.pods_waiting_on(cluster.pk, "ConfigMap", other["metadata"]["namespace"], other["metadata"]["name"]) == []


def test_deleting_a_sleeping_pod_waits_the_grace_period(cluster, clock):
    store.set_speed(cluster, Speed.NORMAL)
    uid = running_pod(cluster, image="busybox", command=["sleep", "3600"])
    while not pods.is_ready(current(cluster)):
        clock.advance(kubelet.sync_pod(cluster, "node-1", uid) or 0)
    store.delete_pod(cluster, "default", "web", by=store.API)

    clock.advance(1)
    assert kubelet.sync_pod(cluster, "node-1", uid) == 0.0
    assert event_messages(cluster, uid, "Killing") == ["Stopping container app"]
    assert "running" in container_status(cluster)["state"]  # sleep ignores SIGTERM as process 1

    wait = kubelet.sync_pod(cluster, "node-1", uid)
    assert 1.0 <= wait <= 2.0  # 30 s × 0.1 from the deletion (stamped to the second), 1 s of it gone
    clock.advance(wait)
    at = revision(cluster)
    assert kubelet.sync_pod(cluster, "node-1", uid) == 0.0
    assert current(cluster) is None
    gone = changes_after(cluster, at)[-1]
    assert gone.type == "DELETED" and gone.doc["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137


def test_a_pod_that_does_not_fit_the_node_is_rejected_at_admission(cluster, clock):
    uid = running_pod(cluster, resources={"requests": {"cpu": "5"}})

    settle(cluster, "node-1", uid)

    rejected = current(cluster)
    assert rejected["status"]["phase"] == "Failed"
    assert rejected["status"]["reason"] == "OutOfcpu"
    assert rejected["status"]["message"] == "Pod was rejected: Node didn't have enough resource: cpu, requested: 5000, used: 0, capacity: 4000"
    assert status_column(cluster) == "OutOfcpu"
    assert not steps_of(uid) or (5, "done") not in steps_of(uid)


def test_a_crash_looping_pod_keeps_one_event_per_message_with_a_count(cluster, clock):
    uid = running_pod(cluster, image="busybox", command=["false"])
    for _ in range(5):
        clock.advance(settle(cluster, "node-1", uid) or 0)

    started = [e for e in store.list_docs(cluster, kinds.EVENT, owner_uid=uid) if e["reason"] == "Started"]
    assert len(started) == 1 and started[0]["count"] == container_status(cluster)["restartCount"] + 1


def test_the_resync_leaves_settled_pods_alone_and_picks_up_timed_ones(cluster, clock):
    ready = running_pod(cluster, "ready")
    sleeper = running_pod(cluster, "sleeper", image="busybox", command=["sleep", "60"])
    finished = running_pod(cluster, "finished", image="busybox", restart="Never")
    for uid in (ready, sleeper, finished):
        settle(cluster, "node-1", uid)

    assert kubelet.pods_needing_work(cluster) == [("node-1", sleeper)]


def test_kubectls_status_names_the_crash_looping_container_of_a_pod_that_also_runs_one(cluster, clock):
    from cluster.apiserver.serializers import tables

    doc = pod("web")
    doc["spec"]["nodeName"] = "node-1"
    doc["spec"]["containers"].append({"name": "sidecar", "image": "busybox", "command": ["false"]})
    uid = store.create(cluster, doc)["metadata"]["uid"]

    settle(cluster, "node-1", uid)

    row = tables.pod_row(current(cluster))
    assert row[1:3] == ["1/2", "CrashLoopBackOff"]
    assert row[3].startswith("1 (") and row[3].endswith(" ago)")
    assert current(cluster)["status"]["phase"] == "Running"


def test_admission_counts_what_the_pods_already_admitted_request(cluster, clock):
    done = running_pod(cluster, "done", image="busybox", restart="Never", resources={"requests": {"cpu": "1"}})
    settle(cluster, "node-1", done)
    assert current(cluster, "done")["status"]["phase"] == "Succeeded"  # holds nothing any more
    for name, cpu in (("first", "3"), ("second", "1"), ("third", "1")):
        settle(cluster, "node-1", running_pod(cluster, name, resources={"requests": {"cpu": cpu}}))

    assert [current(cluster, n)["status"]["phase"] for n in ("first", "second", "third")] == ["Running", "Running", "Failed"]
    assert current(cluster, "third")["status"]["message"].endswith("cpu, requested: 1000, used: 4000, capacity: 4000")


def test_step_8_says_whether_a_readiness_probe_passed_or_there_was_none():
    plain = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    probed = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"containers": [{"name": "app", "image": "nginx", "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}]}}
    assert "none has a readiness probe" in narration.ready(plain, "node-1").text_en
    assert "준비성 프로브가 없으므로" in narration.ready(plain, "node-1").text_ko
    assert narration.ready(probed, "node-1").text_en.startswith("The readiness probe passed")


def test_the_resync_decodes_only_the_pods_written_since_it_last_looked(cluster, clock, monkeypatch):
    """pods_needing_work runs for every cluster every few seconds: what it decided of a pod
    stands until the pod is written again."""
    uid = running_pod(cluster)
    settle(cluster, "node-1", uid)
    assert kubelet.pods_needing_work(cluster) == []

    decoded: list[str] = []
    real = store.versioned_docs
    monkeypatch.setattr(store, "versioned_docs", lambda c, uids: decoded.extend(uids) or real(c, uids))
    assert kubelet.pods_needing_work(cluster) == []
    assert decoded == []

    store.delete_pod(cluster, "default", current(cluster)["metadata"]["name"], by=store.API)
    assert kubelet.pods_needing_work(cluster) == [("node-1", uid)]
    assert decoded == [uid]
