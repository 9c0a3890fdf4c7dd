"""The server re-runs a learner's lab checks as their cluster changes, page open or not.

The page re-runs the current step's checks whenever its stream brings a change; this does
the same on the server, so that the progress of a learner who works with their own
kubectl and no page open — and a class's roster (web/classroom.py), which reads it —
follows them. Two listeners (cluster/apps.py) queue one `cluster.tasks.evaluate_labs` per
cluster at most once a second (the work queue's dedupe of cluster/informers/wake.py: one
delayed run per key; writes after it started queue it again), and only for clusters with
a lab in progress: `committed`, the store's commit listener, and `announced`, an audit
listener for the clock's announcements (a pause, an action held or let through, a
component switched: none is a store write, and checks read them). Whether a cluster has a
lab in progress is remembered for a few seconds in each process, so the commit listener
costs a dictionary lookup per commit.

`evaluate(cluster_id)` runs the current step's checks of every lab in progress; the
progress it saves is announced as the page's own evaluation is (cluster/labs/runner.py).
A check that waits for time rather than a write (`forAtLeast`) asks to run again a
second later while it fails.
"""
from __future__ import annotations

import logging
import time

from cluster import labs
from cluster.apiserver import store
from cluster.componentbase import clock
from cluster.informers import wake
from cluster.labs import runner
from cluster.models import Cluster, LabProgress

log = logging.getLogger("podflow.labs")

EVERY_SECONDS = 1.0  # at most one evaluation a second per cluster
REMEMBER_SECONDS = 5.0  # how long a process trusts what it knows of a cluster's labs

_in_progress: dict[int, tuple[float, bool]] = {}


def in_progress(cluster_id: int) -> bool:
    now = time.monotonic()
    known = _in_progress.get(cluster_id)
    if known is None or known[0] < now:
        active = LabProgress.objects.filter(cluster_id=cluster_id, completed=False).exists()
        _in_progress[cluster_id] = known = (now + REMEMBER_SECONDS, active)
    return known[1]


def started(cluster_id: int) -> None:
    """A lab was started here: follow the cluster from now on (other processes within
    REMEMBER_SECONDS)."""
    _in_progress[cluster_id] = (time.monotonic() + REMEMBER_SECONDS, True)


def committed(cluster: Cluster, changes: list[store.Committed]) -> None:
    if changes and in_progress(cluster.pk):
        wake.dispatch([(wake.EVALUATE_LABS, (cluster.pk,))], countdown=EVERY_SECONDS)


def announced(cluster_name: str, what: str, payload=None) -> None:
    if what != clock.CLOCK:
        return
    cluster_id = Cluster.objects.filter(name=cluster_name).values_list("pk", flat=True).first()
    if cluster_id is not None and in_progress(cluster_id):
        wake.dispatch([(wake.EVALUATE_LABS, (cluster_id,))], countdown=EVERY_SECONDS)


def evaluate(cluster_id: int) -> int:
    """Run the current step's checks of each lab in progress on the cluster. Returns how
    many labs were evaluated."""
    evaluated, waiting = 0, False
    for progress in LabProgress.objects.filter(cluster_id=cluster_id, completed=False).select_related("cluster"):
        lab = labs.get(progress.lab)
        if lab is None:
            continue  # a lab file removed or broken since: the page says so when opened
        results = runner.evaluate(progress, lab)
        evaluated += 1
        step = runner.current(progress, lab)
        waiting |= any(not r.ok and c.type == "field" and c.args.get("forAtLeast") for c, r in zip(step.checks, results))
    if waiting:
        wake.dispatch([(wake.EVALUATE_LABS, (cluster_id,))], countdown=EVERY_SECONDS)
    return evaluated
