"""The server follows a lab in progress: a commit queues one evaluation, only for a
cluster with a lab in progress; an evaluation saves the progress the page would."""
from __future__ import annotations

import pytest
from django.utils import timezone

from cluster.apiserver import store
from cluster.componentbase import clock
from cluster.informers import wake
from cluster.labs import follow
from cluster.models import LabProgress

from .manifests import pod


@pytest.fixture(autouse=True)
def forget_what_the_process_knows():
    """The process remembers which clusters have a lab in progress, by id: a later test's
    cluster gets the same id from the test database, and must not inherit it."""
    follow._in_progress.clear()
    yield
    follow._in_progress.clear()


def test_a_commit_queues_an_evaluation_only_while_a_lab_is_in_progress(cluster, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: queued.append((tasks, kw)) if tasks and tasks[0][0] == wake.EVALUATE_LABS else None)
    follow._in_progress.clear()
    with django_capture_on_commit_callbacks(execute=True):
        store.create(cluster, pod("before"))
    assert queued == []  # no lab: nothing to follow
    LabProgress.objects.create(cluster=cluster, lab="eight-steps", step_id="pause", checks_total=1, started=timezone.now(), step_started=timezone.now())
    follow.started(cluster.pk)
    with django_capture_on_commit_callbacks(execute=True):
        store.create(cluster, pod("after"))
    assert queued == [([(wake.EVALUATE_LABS, (cluster.pk,))], {"countdown": follow.EVERY_SECONDS})]


def test_an_evaluation_saves_the_progress_of_the_current_step(cluster, monkeypatch):
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: None)
    now = timezone.now()
    progress = LabProgress.objects.create(cluster=cluster, lab="eight-steps", step_index=0, step_id="pause", checks_total=1, started=now, step_started=now)
    assert follow.evaluate(cluster.pk) == 1
    progress.refresh_from_db()
    assert progress.checks_passed == 0  # the clock runs: "pause" is not done
    cluster.paused = True
    cluster.save(update_fields=["paused"])
    follow.evaluate(cluster.pk)
    progress.refresh_from_db()
    assert progress.checks_passed == 1
    LabProgress.objects.filter(pk=progress.pk).update(lab="no-such-lab")
    assert follow.evaluate(cluster.pk) == 0  # a lab file gone: skipped


def test_a_clock_announcement_queues_an_evaluation_too(cluster, monkeypatch):
    # An action held or let through is no store write, and a check (held, clock) reads it.
    queued = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: queued.extend(tasks))
    follow._in_progress.clear()
    follow.announced(cluster.name, clock.CLOCK)
    assert queued == []  # no lab in progress
    LabProgress.objects.create(cluster=cluster, lab="eight-steps", step_id="pause", checks_total=1, started=timezone.now(), step_started=timezone.now())
    follow.started(cluster.pk)
    follow.announced(cluster.name, "request", {})
    follow.announced(cluster.name, clock.CLOCK)
    assert queued == [(wake.EVALUATE_LABS, (cluster.pk,))]
