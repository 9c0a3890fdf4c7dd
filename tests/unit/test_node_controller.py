"""The node controller and the kubelet's heartbeats, one reconcile at a time, on a controlled clock."""
from __future__ import annotations

import pytest

from cluster import kubelet, scheduler
from cluster.apimachinery import kinds, metav1, pods
from cluster.apiserver import store
from cluster.componentbase import events, timing
from cluster.controllers import node as node_controller
from cluster.controllers import replicaset
from cluster.kubelet import node as kubelet_node
from cluster.models import Speed

from .manifests import pod
from .manifests import replicaset as rs_manifest
from .manifests import revision

UNREACHABLE = "node.kubernetes.io/unreachable"




def node(cluster, name: str = "node-2") -> dict:
    return store.get(cluster, kinds.NODE, "", name)


def ready(cluster, name: str = "node-2") -> dict:
    return pods.condition(node(cluster, name), "Ready")


def taints(cluster, name: str = "node-2") -> list[tuple[str, str]]:
    return sorted((t["key"], t["effect"]) for t in node(cluster, name).get("spec", {}).get("taints") or [])


def running_on(cluster, name: str, node_name: str = "node-2", **extra) -> dict:
    doc = pod(name)
    doc["spec"]["nodeName"] = node_name
    doc["spec"].update(extra)
    created = store.create(cluster, doc)
    kubelet.run_due_stages(cluster, node_name, created["metadata"]["uid"])
    return store.get(cluster, kinds.POD, "default", name)


def beat_all_but(cluster, clock: Clock, seconds: float, silent: str = "node-2") -> None:
    """Let `seconds` pass while every kubelet but `silent`'s heartbeats, once a second."""
    kubelet_node.stop(cluster, silent)
    steps = int(seconds)
    for _ in range(steps):
        clock.advance(1)
        kubelet.heartbeat(cluster)
    clock.advance(seconds - steps)


def node_events(cluster, name: str = "node-2") -> list[tuple[str, str]]:
    doc = node(cluster, name)
    found = sorted(store.list_docs(cluster, kinds.EVENT, owner_uid=doc["metadata"]["uid"]), key=lambda e: int(e["metadata"]["resourceVersion"]))
    return [(e["reason"], e["message"]) for e in found]


def test_a_new_cluster_has_a_lease_for_every_node(cluster):
    leases = store.list_docs(cluster, kinds.BY_KIND["Lease"], "kube-node-lease")

    assert [(l["metadata"]["name"], l["spec"]["holderIdentity"], l["spec"]["leaseDurationSeconds"]) for l in leases] == [
        ("node-1", "node-1", 40), ("node-2", "node-2", 40), ("node-3", "node-3", 40),
    ]
    assert leases[0]["metadata"]["ownerReferences"][0]["kind"] == "Node"
    assert node(cluster, "node-1")["status"]["nodeInfo"]["bootID"]


def test_healthy_nodes_are_left_alone(cluster, clock):
    before = revision(cluster)

    node_controller.reconcile(cluster)

    assert revision(cluster) == before


def test_the_kubelet_renews_its_lease_a_quarter_grace_apart_and_its_status_rarely(cluster, clock):
    kubelet.heartbeat(cluster)
    start = revision(cluster)
    lease_kind = kinds.BY_KIND["Lease"]
    renewed = store.get(cluster, lease_kind, "kube-node-lease", "node-1")["spec"]["renewTime"]

    clock.advance(0.5)
    kubelet.heartbeat(cluster)
    assert revision(cluster) == start  # not due: nothing written

    clock.advance(timing.lease_renew_interval(cluster))
    kubelet.heartbeat(cluster)
    assert revision(cluster) == start + 3  # three Leases, no node status
    assert store.get(cluster, lease_kind, "kube-node-lease", "node-1")["spec"]["renewTime"] > renewed

    clock.advance(timing.node_status_interval(cluster))
    kubelet.heartbeat(cluster)
    assert ready(cluster, "node-1")["lastHeartbeatTime"] == metav1.rfc3339(clock.moment)


def test_a_node_silent_past_the_grace_period_becomes_not_ready_and_tainted_in_one_reconcile(cluster, clock):
    web = running_on(cluster, "web")
    assert pods.is_ready(web)
    grace = timing.node_monitor_grace(cluster)
    beat_all_but(cluster, clock, grace - 0.5)
    node_controller.reconcile(cluster)
    assert ready(cluster)["status"] == "True" and taints(cluster) == []

    clock.advance(1)
    node_controller.reconcile(cluster)

    cond = ready(cluster)
    assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert all(c["status"] == "Unknown" for c in node(cluster)["status"]["conditions"])
    assert taints(cluster) == [(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")]
    assert next(t for t in node(cluster)["spec"]["taints"] if t["effect"] == "NoExecute")["timeAdded"]
    assert ("NodeNotReady", "Node node-2 status is now: NodeNotReady") in node_events(cluster)
    web = store.get(cluster, kinds.POD, "default", "web")
    assert not pods.is_ready(web) and not web["metadata"].get("deletionTimestamp")
    assert "NodeNotReady" in events.reasons_for(cluster, web["metadata"]["uid"])
    from cluster.apiserver.serializers import tables

    assert tables.node_status(node(cluster)) == "NotReady"
    assert ready(cluster, "node-1")["status"] == "True" and taints(cluster, "node-1") == []


def test_pods_past_their_toleration_are_evicted_in_a_later_reconcile(cluster, clock):
    web = running_on(cluster, "web")
    stays = running_on(cluster, "stays", tolerations=[{"operator": "Exists"}])
    beat_all_but(cluster, clock, timing.node_monitor_grace(cluster) + 1)
    node_controller.reconcile(cluster)
    assert web["spec"]["tolerations"][-1] == {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}

    clock.advance(timing.scaled(cluster, 300) - 1.1)  # timeAdded is stamped to the second
    node_controller.reconcile(cluster)
    assert not store.get(cluster, kinds.POD, "default", "web")["metadata"].get("deletionTimestamp")

    clock.advance(1.2)
    node_controller.reconcile(cluster)

    evicted = store.get(cluster, kinds.POD, "default", "web")
    assert evicted["metadata"]["deletionTimestamp"]
    target = pods.condition(evicted, "DisruptionTarget")
    assert (target["status"], target["reason"]) == ("True", "DeletionByTaintManager")
    marked = [e for e in store.list_docs(cluster, kinds.EVENT, owner_uid=web["metadata"]["uid"]) if e["reason"] == "TaintManagerEviction"]
    assert [e["message"] for e in marked] == ["Marking for deletion Pod default/web"]
    assert marked[0]["source"]["component"] == "taint-eviction-controller"
    assert not store.get(cluster, kinds.POD, "default", "stays")["metadata"].get("deletionTimestamp")  # tolerates it for ever


def test_a_pod_without_a_toleration_goes_at_once(cluster, clock):
    running_on(cluster, "web", tolerations=[{"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"}, {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}])
    web = store.get(cluster, kinds.POD, "default", "web")
    assert [t.get("key") for t in web["spec"]["tolerations"]] == [UNREACHABLE, "node.kubernetes.io/not-ready", UNREACHABLE]
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["spec"].update(tolerations=d["spec"]["tolerations"][:2]), by=store.KUBELET)
    beat_all_but(cluster, clock, timing.node_monitor_grace(cluster) + 1)

    node_controller.reconcile(cluster)

    assert store.get(cluster, kinds.POD, "default", "web")["metadata"]["deletionTimestamp"]


def test_evicted_pods_of_a_replicaset_come_back_on_a_ready_node(cluster, clock):
    rs = store.create(cluster, rs_manifest("web", replicas=3))
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    for p in store.list_docs(cluster, kinds.POD):
        bound = scheduler.schedule(cluster, p["metadata"]["uid"])
        kubelet.run_due_stages(cluster, bound, p["metadata"]["uid"])
    on_node_2 = [p["metadata"]["name"] for p in store.list_docs(cluster, kinds.POD, node="node-2")]
    assert on_node_2
    beat_all_but(cluster, clock, timing.node_monitor_grace(cluster) + 1)
    node_controller.reconcile(cluster)
    clock.advance(timing.scaled(cluster, 300) + 1)
    kubelet.heartbeat(cluster)

    node_controller.reconcile(cluster)
    replicaset.reconcile(cluster, rs["metadata"]["uid"])
    for uid in scheduler.pending_pods(cluster):
        bound = scheduler.schedule(cluster, uid)
        assert bound in ("node-1", "node-3")
        kubelet.run_due_stages(cluster, bound, uid)

    live = [p for p in store.list_docs(cluster, kinds.POD) if pods.is_active(p)]
    assert len(live) == 3 and all(pods.is_ready(p) and p["spec"]["nodeName"] != "node-2" for p in live)
    terminating = [p["metadata"]["name"] for p in store.list_docs(cluster, kinds.POD, node="node-2")]
    assert terminating == on_node_2  # Terminating until node-2's kubelet is back to finish them
    assert kubelet.run_due_stages(cluster, "node-2", store.get(cluster, kinds.POD, "default", on_node_2[0])["metadata"]["uid"]) is None


def test_a_heartbeat_brings_a_node_back(cluster, clock):
    running_on(cluster, "web")
    for _ in range(int(timing.node_monitor_grace(cluster)) + 1):
        clock.advance(1)  # no heartbeat at all: the kubelets' worker was busy, say
    node_controller.reconcile(cluster)
    assert ready(cluster)["status"] == "Unknown"
    assert not pods.is_ready(store.get(cluster, kinds.POD, "default", "web"))

    woken = kubelet.heartbeat(cluster)
    node_controller.reconcile(cluster)

    cond = ready(cluster)
    assert (cond["status"], cond["reason"]) == ("True", "KubeletReady")
    assert taints(cluster) == []
    assert ("NodeReady", "Node node-2 status is now: NodeReady") in node_events(cluster)
    web = store.get(cluster, kinds.POD, "default", "web")
    assert ("node-2", web["metadata"]["uid"]) in woken
    kubelet.run_due_stages(cluster, "node-2", web["metadata"]["uid"])
    web = store.get(cluster, kinds.POD, "default", "web")
    assert pods.is_ready(web) and web["status"]["containerStatuses"][0]["restartCount"] == 0  # it never stopped


def test_when_every_node_is_down_nothing_is_evicted(cluster, clock):
    running_on(cluster, "web")
    for _ in range(int(timing.node_monitor_grace(cluster)) + 1):
        clock.advance(1)
    node_controller.reconcile(cluster)
    clock.advance(timing.scaled(cluster, 300) + 1)

    node_controller.reconcile(cluster)

    assert node_controller.zone_state(store.list_docs(cluster, kinds.NODE)) == "FullDisruption"
    assert taints(cluster) == [(UNREACHABLE, "NoSchedule")]
    assert not store.get(cluster, kinds.POD, "default", "web")["metadata"].get("deletionTimestamp")


def test_two_of_three_nodes_down_still_evicts(cluster, clock):
    running_on(cluster, "web")
    kubelet_node.stop(cluster, "node-3")
    beat_all_but(cluster, clock, timing.node_monitor_grace(cluster) + 1)
    node_controller.reconcile(cluster)

    assert node_controller.zone_state(store.list_docs(cluster, kinds.NODE)) == "Normal"  # more than 2 must be down
    assert taints(cluster, "node-3") == taints(cluster) == [(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")]


def test_a_stopped_node_runs_nothing_and_a_started_one_restarts_its_containers(cluster, clock):
    web = running_on(cluster, "web")
    uid = web["metadata"]["uid"]
    kubelet_node.stop(cluster, "node-2")
    assert kubelet_node.is_stopped(node(cluster))
    at = revision(cluster)
    kubelet_node.stop(cluster, "node-2")
    assert revision(cluster) == at  # stopping a stopped node changes nothing
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["metadata"].setdefault("labels", {}).update(x="y"), by=store.API)
    assert kubelet.run_due_stages(cluster, "node-2", uid) is None
    assert ("node-2", uid) not in kubelet.pods_needing_work(cluster)
    before = store.get(cluster, kinds.BY_KIND["Lease"], "kube-node-lease", "node-2")["spec"]["renewTime"]
    clock.advance(5)
    kubelet.heartbeat(cluster)
    assert store.get(cluster, kinds.BY_KIND["Lease"], "kube-node-lease", "node-2")["spec"]["renewTime"] == before
    boot = node(cluster)["status"]["nodeInfo"]["bootID"]

    kubelet_node.start(cluster, "node-2")

    assert not kubelet_node.is_stopped(node(cluster))
    assert node(cluster)["status"]["nodeInfo"]["bootID"] != boot
    assert ("Starting", "Starting kubelet.") in node_events(cluster)
    assert store.get(cluster, kinds.BY_KIND["Lease"], "kube-node-lease", "node-2")["spec"]["renewTime"] > before
    kubelet.run_due_stages(cluster, "node-2", uid)
    web = store.get(cluster, kinds.POD, "default", "web")
    status = web["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1 and "running" in status["state"]
    assert (status["lastState"]["terminated"]["reason"], status["lastState"]["terminated"]["exitCode"]) == ("Unknown", 255)
    assert "SandboxChanged" in events.reasons_for(cluster, uid)
    assert pods.is_ready(web)


def test_a_node_back_finishes_the_pods_deleted_while_it_was_away(cluster, clock):
    web = running_on(cluster, "web")
    kubelet_node.stop(cluster, "node-2")
    store.delete_pod(cluster, "default", "web", by=store.API)
    assert kubelet.run_due_stages(cluster, "node-2", web["metadata"]["uid"]) is None
    assert store.get(cluster, kinds.POD, "default", "web")["metadata"]["deletionTimestamp"]

    kubelet_node.start(cluster, "node-2")
    kubelet.run_due_stages(cluster, "node-2", web["metadata"]["uid"])

    assert store.find(cluster, kinds.POD, "default", "web") is None
    assert "Killing" not in events.reasons_for(cluster, web["metadata"]["uid"])  # nothing was left running


def test_stopping_a_node_that_does_not_exist_is_a_404(cluster):
    from cluster.apimachinery.errors import APIError

    with pytest.raises(APIError) as err:
        kubelet_node.stop(cluster, "node-9")
    assert err.value.code == 404


def test_the_power_switch_over_http(cluster, client):
    token = {"HTTP_AUTHORIZATION": f"Bearer {cluster.token}"}

    stopped = client.post("/k8s/test/podflow/v1/nodes/node-2/stop", **token)
    assert stopped.status_code == 200 and kubelet_node.STOPPED in stopped.json()["metadata"]["annotations"]
    assert client.post("/k8s/test/podflow/v1/nodes/node-9/stop", **token).status_code == 404
    assert client.post("/k8s/test/podflow/v1/nodes/node-2/reboot", **token).status_code == 404
    assert client.get("/k8s/test/podflow/v1/nodes/node-2/stop", **token).status_code == 405
    assert client.post("/k8s/test/podflow/v1/nodes/node-2/start").status_code == 401
    started = client.post("/k8s/test/podflow/v1/nodes/node-2/start", **token)
    assert started.status_code == 200 and kubelet_node.STOPPED not in started.json()["metadata"].get("annotations", {})


def test_the_management_command(cluster):
    from django.core.management import CommandError, call_command

    call_command("node", "test", "node-3", "stop")
    assert kubelet_node.is_stopped(node(cluster, "node-3"))
    call_command("node", "test", "node-3", "start")
    assert not kubelet_node.is_stopped(node(cluster, "node-3"))
    with pytest.raises(CommandError):
        call_command("node", "nope", "node-3", "stop")


def test_pods_get_the_default_tolerations_and_requests_from_limits(cluster):
    doc = pod("web")
    doc["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "500m", "memory": "128Mi"}}
    doc["spec"]["tolerations"] = [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}]

    created = store.create(cluster, doc)

    assert created["spec"]["tolerations"] == [
        {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    ]
    assert created["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "500m", "memory": "128Mi"}
    template = store.create(cluster, rs_manifest("rs"))["spec"]["template"]["spec"]
    assert "tolerations" not in template  # an admission of pods, not of templates


def test_the_grace_period_follows_the_speed(cluster):
    assert timing.node_monitor_grace(cluster) == 8.0  # instant: the floor
    store.set_speed(cluster, Speed.NORMAL)
    assert timing.node_monitor_grace(cluster) == 8.0  # 40 s × 0.1 = 4 s, below the floor
    store.set_speed(cluster, Speed.SLOW)
    assert timing.node_monitor_grace(cluster) == pytest.approx(12.0)
    assert timing.lease_renew_interval(cluster) == pytest.approx(3.0)


def test_the_beat_tasks_heartbeat_and_monitor_every_cluster(cluster, clock, monkeypatch):
    from cluster import tasks
    from cluster.informers import wake

    sent: list = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks_, countdown=None: sent.extend(tasks_))
    web = running_on(cluster, "web")
    for _ in range(int(timing.node_monitor_grace(cluster)) + 1):
        clock.advance(1)
    tasks.monitor_nodes()
    assert ready(cluster)["status"] == "Unknown"

    tasks.heartbeat()
    tasks.monitor_nodes()

    assert ready(cluster)["status"] == "True" and taints(cluster) == []
    assert (wake.SYNC_POD, (cluster.pk, "node-2", web["metadata"]["uid"])) in sent


def test_a_controller_that_just_started_gives_every_node_a_fresh_grace_period(cluster, clock, monkeypatch):
    grace = timing.node_monitor_grace(cluster)
    clock.advance(grace * 10)  # the whole stack was down: no Lease renewed meanwhile
    monkeypatch.setattr(node_controller, "STARTED", clock())

    node_controller.reconcile(cluster)
    assert ready(cluster)["status"] == "True" and taints(cluster) == []

    clock.advance(grace + 1)  # and still no kubelet: now it is judged
    node_controller.reconcile(cluster)
    assert ready(cluster)["status"] == "Unknown"


def test_a_beat_with_nothing_due_reads_no_whole_document_and_writes_nothing(cluster, clock, monkeypatch):
    """The heartbeat runs every second for every cluster: when no Lease or status is due it
    reads only the fields that say so, and takes no write lock."""
    kubelet.heartbeat(cluster)  # everything renewed now
    clock.advance(1)
    before = revision(cluster)
    decoded: list[str] = []
    real = store.list_docs
    monkeypatch.setattr(store, "list_docs", lambda c, kind, *a, **k: decoded.append(kind.kind) or real(c, kind, *a, **k))

    assert kubelet.heartbeat(cluster) == []
    assert (decoded, revision(cluster)) == ([], before)

    clock.advance(timing.lease_renew_interval(cluster))
    kubelet.heartbeat(cluster)
    assert revision(cluster) > before and "Node" in decoded  # due: the beat reads and writes


def test_the_beat_tasks_read_which_clusters_have_work_in_a_few_statements_for_all(cluster, clock, monkeypatch):
    """A class's sandboxes at rest: the heartbeat and the node monitor run every second over
    every cluster, and find what is due in a few statements however many clusters there are;
    the clusters with work are those a pass of their own would find work in."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cluster import tasks
    from cluster.demo import ensure_cluster
    from cluster.informers import wake

    monkeypatch.setattr(wake, "dispatch", lambda tasks_, countdown=None: None)
    others = [ensure_cluster(f"other-{i}", nodes=2, speed=Speed.INSTANT)[0] for i in range(3)]
    everyone = [cluster, *others]
    tasks.heartbeat()
    tasks.monitor_nodes()

    def statements(task) -> int:
        with CaptureQueriesContext(connection) as seen:
            task()
        return len(seen.captured_queries)

    # At rest, a moment after a beat: nothing due, nothing to do, in every cluster.
    clock.advance(0.1)
    assert kubelet.heartbeats_due(everyone) == set() and node_controller.clusters_with_work(everyone) == set()
    assert statements(tasks.heartbeat) <= 3 and statements(tasks.monitor_nodes) <= 3

    # One cluster's node stopped long enough to be judged: that cluster has work, no other.
    kubelet_node.stop(others[1], "node-1")
    for _ in range(int(timing.node_monitor_grace(others[1])) + 1):
        clock.advance(1)
        tasks.heartbeat()
    assert kubelet.heartbeats_due(everyone) == set()
    assert node_controller.clusters_with_work(everyone) == {others[1].pk}
    for c in everyone:
        alone = c.pk in node_controller.clusters_with_work([c])  # as its own pass reads it
        assert alone == (c.pk == others[1].pk)
    tasks.monitor_nodes()
    assert ready(others[1], "node-1")["status"] == "Unknown" and ready(others[0], "node-1")["status"] == "True"

    # Time for the Leases: every running kubelet's cluster has a beat due.
    clock.advance(timing.lease_renew_interval(cluster))
    assert kubelet.heartbeats_due(everyone) == {c.pk for c in everyone}
    before = revision(others[2])
    tasks.heartbeat()
    assert revision(others[2]) > before and kubelet.heartbeats_due(everyone) == set()
