"""Deleting a pod as the API server does: at once if no kubelet started it, else gracefully."""
from __future__ import annotations

from cluster.apimachinery import kinds, metav1, pods
from cluster.apiserver import store

from .manifests import pod


def started(cluster, name: str = "web") -> dict:
    store.create(cluster, pod(name))
    return store.mutate(cluster, kinds.POD, "default", name, lambda d: d["spec"].update(nodeName="node-1") or d["status"].update(hostIP="192.168.49.2"), by=store.KUBELET)


def test_it_removes_a_pod_no_kubelet_has_started_at_once(cluster):
    store.create(cluster, pod("web"))

    store.delete_pod(cluster, "default", "web", by=store.API)

    assert store.find(cluster, kinds.POD, "default", "web") is None


def test_it_lets_a_started_pod_terminate_with_its_grace_period(cluster):
    started(cluster)

    deleted = store.delete_pod(cluster, "default", "web", by=store.API)

    assert deleted["metadata"]["deletionTimestamp"]
    assert deleted["metadata"]["deletionGracePeriodSeconds"] == 30
    assert not pods.is_active(store.get(cluster, kinds.POD, "default", "web"))


def test_it_removes_a_started_pod_at_once_with_grace_zero(cluster):
    started(cluster)

    store.delete_pod(cluster, "default", "web", by=store.API, grace_seconds=0)

    assert store.find(cluster, kinds.POD, "default", "web") is None


def test_it_moves_a_conditions_transition_time_only_when_its_status_changes(monkeypatch):
    doc: dict = {}
    monkeypatch.setattr(metav1, "rfc3339", lambda moment=None: "T1")
    pods.set_condition(doc, "Ready", "False", "ContainersNotReady", "waiting")
    monkeypatch.setattr(metav1, "rfc3339", lambda moment=None: "T2")
    pods.set_condition(doc, "Ready", "False")
    first = dict(doc["status"]["conditions"][0])
    pods.set_condition(doc, "Ready", "True")

    assert (first["lastTransitionTime"], "reason" in first) == ("T1", False)
    assert doc["status"]["conditions"] == [{"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": "T2"}]


def test_it_sums_container_requests_with_the_schedulers_defaults_for_missing_ones():
    doc = {"spec": {"containers": [{"resources": {"requests": {"cpu": "250m"}}}, {"resources": {"requests": {"memory": "1Gi"}}}]}}

    assert pods.requests(doc) == (250, 2**30)
    assert pods.requests(doc, non_zero=True) == (350, 2**30 + 200 * 2**20)
