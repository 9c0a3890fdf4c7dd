"""The cluster's clock and component switches: pause, step, resume; stop and start.

Time is a setting of the cluster (invariant 6), so holding time is too. While a cluster is
paused the API server still stores what clients send (steps 1 and 2 happen: the pod is in
etcd, Pending), but no component acts. Each action a component would take is recorded as
a `HeldAction` — data, not a sleeping worker, so a worker restart keeps the pause — and
listed as "what happens next". `step` lets the first one (or the first of one component)
through; `resume` lets them all through, in the order they were held.

A stopped component (the scheduler, the controller manager) does nothing and holds
nothing: on start it catches up, level-triggered, through the resync. A stopped kubelet is
a stopped node (cluster/kubelet/node.py).

Every component's entry point asks `admit` before it acts; the callers that release an
action (the HTTP handlers) queue its task again.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import transaction

from cluster.apiserver import audit
from cluster.models import Cluster, HeldAction

SCHEDULER = "scheduler"
CONTROLLER_MANAGER = "controller-manager"
KUBELET = "kubelet"
COMPONENTS = (CONTROLLER_MANAGER, SCHEDULER, KUBELET)
# The components a teacher can stop as a whole (a kubelet is stopped with its node).
STOPPABLE = (SCHEDULER, CONTROLLER_MANAGER)
# The announcement the page's stream carries when the clock or the held actions change.
CLOCK = "clock"


@dataclass(frozen=True)
class Action:
    """What a held action will do, in words for the page."""

    en: str
    ko: str
    step: int | None = None
    object_ref: str = ""


def key_of(task: str, args: list | tuple) -> str:
    return task.rsplit(".", 1)[-1] + ":" + json.dumps(list(args), separators=(",", ":"))


def settings_of(cluster_id: int) -> tuple[bool, list[str]]:
    """(paused, stopped components), read now: a long-running worker's Cluster is stale."""
    row = Cluster.objects.filter(pk=cluster_id).values_list("paused", "stopped_components").first()
    if row is None:
        return False, []
    return bool(row[0]), list(row[1] or [])


def is_paused(cluster: Cluster) -> bool:
    return settings_of(cluster.pk)[0]


RUN = "run"  # the clock runs: act as usual
ONCE = "once"  # let through by a step: take this one action, then hold the next


def admit(cluster: Cluster, component: str, task: str, args: list | tuple, describe) -> str:
    """Whether `component` may take this action now: RUN, ONCE, or "" (not now).

    `cluster` is the row as the task read it when it started (its clock and switches are
    taken from it: read once per task). A stopped component may not (nothing is held: it
    catches up when started). On a paused cluster the action is held (once, however often
    the component is woken for it) unless a step let it through: then its row goes and it
    may act ONCE. `describe()` gives the Action's words, and is only called when the action
    is first held.
    """
    if component in (cluster.stopped_components or []):
        return ""
    if not cluster.paused:
        return RUN
    return _hold_or_release(cluster, component, task, args, describe)


def _hold_or_release(cluster: Cluster, component: str, task: str, args: list | tuple, describe) -> str:
    """The paused side of `admit`, with the cluster's row locked: a `resume` (which
    unpauses and deletes the held rows in one transaction, holding the same lock) comes
    wholly before or after this, so no action is held on a cluster that runs again, and
    a task on a running cluster has no row to clean up."""
    key = key_of(task, args)
    with transaction.atomic():
        row = Cluster.objects.select_for_update().filter(pk=cluster.pk).values_list("paused", "stopped_components").first()
        if row is None or component in (row[1] or []):
            return ""
        if not row[0]:
            return RUN  # resumed while this was queued
        if HeldAction.objects.filter(cluster=cluster, key=key, released=True).delete()[0]:
            _announce(cluster)
            return ONCE
        if HeldAction.objects.filter(cluster=cluster, key=key).exists():
            return ""
        words: Action = describe()
        HeldAction.objects.create(
            cluster=cluster, component=component, task=task, args=list(args), key=key,
            action=words.en[:300], action_ko=words.ko[:300], step=words.step, object_ref=words.object_ref[:300],
        )
        _announce(cluster)
    return ""


def _held(row: HeldAction) -> dict:
    return {
        "component": row.component,
        "action": row.action,
        "action_ko": row.action_ko,
        "step": row.step,
        "object": row.object_ref,
        "released": row.released,
    }


def next_actions(cluster: Cluster) -> list[dict]:
    """The held actions, in the order they will be let through."""
    return [_held(row) for row in HeldAction.objects.filter(cluster=cluster).order_by("id")]


def state(cluster: Cluster) -> dict:
    paused, stopped = settings_of(cluster.pk)
    return {"paused": paused, "stopped": [c for c in STOPPABLE if c in stopped], "next": next_actions(cluster)}


def states(clusters: list[Cluster]) -> dict[int, dict]:
    """`state` of each of these clusters, as read with their rows (fresh ones: the caller
    has just read them), and their held actions in one statement for all."""
    held: dict[int, list[dict]] = {c.pk: [] for c in clusters}
    for row in HeldAction.objects.filter(cluster_id__in=list(held)).order_by("id"):
        held[row.cluster_id].append(_held(row))
    return {
        c.pk: {"paused": bool(c.paused), "stopped": [s for s in STOPPABLE if s in (c.stopped_components or [])], "next": held[c.pk]}
        for c in clusters
    }


def pause(cluster: Cluster) -> None:
    Cluster.objects.filter(pk=cluster.pk).update(paused=True)
    cluster.paused = True
    _announce(cluster)


def resume(cluster: Cluster) -> list[tuple[str, tuple]]:
    """Unpause; returns every held action's task, in order, for the caller to queue."""
    with transaction.atomic():
        Cluster.objects.filter(pk=cluster.pk).update(paused=False)
        cluster.paused = False
        rows = list(HeldAction.objects.select_for_update().filter(cluster=cluster).order_by("id"))
        HeldAction.objects.filter(pk__in=[r.pk for r in rows]).delete()
    _announce(cluster)
    return [(row.task, tuple(row.args)) for row in rows]


def step(cluster: Cluster, component: str | None = None) -> HeldAction | None:
    """Let the first held action (of `component`, if given) through; returns it, for the
    caller to queue its task, or None when nothing of that kind is held."""
    with transaction.atomic():
        rows = HeldAction.objects.select_for_update().filter(cluster=cluster, released=False)
        if component:
            rows = rows.filter(component=component)
        row = rows.order_by("id").first()
        if row is None:
            return None
        row.released = True
        row.save(update_fields=["released"])
    _announce(cluster)
    return row


def stop(cluster: Cluster, component: str) -> None:
    _switch(cluster, component, stopped=True)


def start(cluster: Cluster, component: str) -> None:
    _switch(cluster, component, stopped=False)


def _switch(cluster: Cluster, component: str, *, stopped: bool) -> None:
    if component not in STOPPABLE:
        raise ValueError(f"{component!r} is not a component that can be stopped")
    with transaction.atomic():
        current = set(Cluster.objects.select_for_update().filter(pk=cluster.pk).values_list("stopped_components", flat=True).first() or [])
        (current.add if stopped else current.discard)(component)
        value = [c for c in STOPPABLE if c in current]
        Cluster.objects.filter(pk=cluster.pk).update(stopped_components=value)
        cluster.stopped_components = value
        if stopped:
            # What it had been asked to do while paused is not done by a stopped component.
            HeldAction.objects.filter(cluster=cluster, component=component).delete()
    _announce(cluster)


def _announce(cluster: Cluster) -> None:
    audit.announce_on_commit(cluster.name, CLOCK)
