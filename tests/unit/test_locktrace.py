"""`manage.py bench --lock-profile`: every hold of the store's write lock is recorded when
PODFLOW_LOCK_TRACE names a directory, nothing when it does not, and the bench's profile
adds the holds up by holder within the spans it is given."""
from __future__ import annotations

import os

import pytest
from django.db import transaction

from cluster.apiserver import locktrace, store
from tests.unit.manifests import pod


@pytest.mark.django_db(transaction=True)
def test_a_transaction_of_its_own_records_one_hold_with_its_revisions(cluster, settings, tmp_path):
    settings.PODFLOW_LOCK_TRACE = str(tmp_path)
    with store.locked(cluster):
        store.create(cluster, pod("a"))
        store.create(cluster, pod("b"))
    holds = locktrace.read(tmp_path)
    assert len(holds) == 1, holds
    hold = holds[0]
    assert hold["what"] == "cluster" and hold["cluster"] == cluster.pk and hold["revisions"] == 2
    assert hold["pid"] == os.getpid() and hold["task"] == ""  # not in a Celery task
    assert hold["asked"] <= hold["got"] <= hold["released"] and hold["cpu"] >= 0
    assert hold["runq"] is None or hold["runq"] >= 0


@pytest.mark.django_db(transaction=True)
def test_a_block_inside_a_callers_transaction_is_not_a_hold_of_its_own(cluster, settings, tmp_path):
    settings.PODFLOW_LOCK_TRACE = str(tmp_path)
    with transaction.atomic():
        store.create(cluster, pod("a"))  # the lock is held until the caller commits, unseen here
    assert locktrace.read(tmp_path) == []
    store.create(cluster, pod("b"))
    assert [h["revisions"] for h in locktrace.read(tmp_path)] == [1]


@pytest.mark.django_db(transaction=True)
def test_nothing_is_recorded_when_the_setting_is_unset(cluster, settings, tmp_path):
    settings.PODFLOW_LOCK_TRACE = ""
    store.create(cluster, pod("a"))
    assert locktrace.begin() is None
    assert list(tmp_path.iterdir()) == []


def _hold(pid, cluster, got, held, *, cpu=0.0, runq=0.0, waited=0.0, task="sync_kubelets", what="cluster"):
    return {"pid": pid, "what": what, "cluster": cluster, "asked": got - waited, "got": got, "released": got + held,
            "cpu": cpu, "runq": runq, "task": task, "revisions": 1}


def test_the_profile_adds_up_the_holds_let_go_in_the_spans_by_holder():
    holds = [
        _hold(1, 7, 100.0, 0.2, cpu=0.1, runq=0.05, waited=0.01),
        _hold(1, 7, 100.3, 0.1, cpu=0.1, runq=0.0),
        _hold(2, 8, 100.5, 0.3, cpu=0.2, runq=0.1, task="schedule_queue"),
        _hold(2, 8, 200.0, 5.0, task="schedule_queue"),  # outside the span
        _hold(3, None, 100.9, 0.05, task="", what="beside"),
    ]
    names = {1: "kubelet", 2: "scheduler", 3: "web"}
    one = locktrace.profile(holds, [(100.0, 101.0)], names, one_lock=True)
    assert one["holds"] == 4 and one["wall"] == pytest.approx(1.0)
    assert one["busiest"] == pytest.approx(0.65) and one["held"] == pytest.approx(0.65)
    by = {(who, task): rest for who, task, *rest in one["by"]}
    assert by[("kubelet", "sync_kubelets")] == pytest.approx([2, 0.3, 0.2, 0.05, 0.01])
    assert by[("scheduler", "schedule_queue")] == pytest.approx([1, 0.3, 0.2, 0.1, 0.0])
    assert ("web", "a write beside the store") in by
    assert one["by"][0][0] in ("kubelet", "scheduler")  # the longest held first
    # Each cluster its own lock (PostgreSQL): the busiest one's share.
    own = locktrace.profile(holds[:4], [(100.0, 101.0)], names, one_lock=False)
    assert own["busiest"] == pytest.approx(0.3) and own["busiest_cluster"] in (7, 8)
    printed = "\n".join(locktrace.lines(one, 4))
    assert "was held 65% of the 1.00 s (4 holds)" in printed and "waiting for a CPU" in printed
    assert "the busiest was held 30% of the 1.00 s; the 3 holds of them all" in "\n".join(locktrace.lines(own, 0))
    assert "kubelet sync_kubelets" in printed


def test_without_run_queue_times_the_profile_does_not_claim_any():
    holds = [_hold(1, 7, 100.0, 0.2, runq=None)]
    profile = locktrace.profile(holds, [(99.0, 101.0)], {1: "kubelet"}, one_lock=True)
    assert profile["runq_known"] is False
    assert "waiting for a CPU" not in "\n".join(locktrace.lines(profile, 0))
    assert locktrace.lines(locktrace.profile([], [(0.0, 1.0)], {}, one_lock=True), 0) == ["the write lock (--lock-profile): no hold recorded in the run"]
