"""The kubelet: each call of sync_pod does one stage of the pod's start (or its end)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from cluster import events, kinds, kubelet, narration, pods, scheduler, store
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
    pods.delete(cluster, "default", "web", by=store.API)
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
    later = store.now() + timedelta(seconds=2)
    monkeypatch.setattr(store, "now", lambda: later)

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
    Object.objects.filter(cluster=cluster).update(updated=store.now() - timedelta(seconds=2))

    assert kubelet.run_due_stages(cluster, node, uid) == 0.0
    assert steps_of(uid)[-1] == (5, "done")  # one stage, not all of them
    assert 0 < kubelet.run_due_stages(cluster, node, uid) <= 1.0
