"""Sandboxes: a learner's own clusters — made, reset, deleted, adopted and expired.

A sandbox belongs to an account (`Cluster.owner`) or, before anyone signs in, to the
learner id kept in one browser's session (`Cluster.learner`). Who may open one is decided
in cluster/apiserver/handlers/access.py; this module only changes them.
"""
from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from typing import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cluster import demo
from cluster.apiserver import audit, store
from cluster.models import Cluster, NodeSize, Speed

log = logging.getLogger("podflow.sandbox")

MAX_NODES = 5
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Names that a learner may not take: the shared cluster, and words the URLs use.
RESERVED = {"demo", "new", "admin", "static", "accounts"}
# A touch is a write; once a minute is plenty to tell idle from used.
TOUCH_EVERY = timedelta(seconds=60)


class SandboxError(ValueError):
    """A request the learner can correct: `field` names the form field, or is empty."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def owned_by(*, user=None, learner: str = "") -> QuerySet[Cluster]:
    """The sandboxes of an account (when signed in) or of an anonymous learner."""
    if user is not None and user.is_authenticated:
        return Cluster.objects.filter(owner=user)
    if learner:
        return Cluster.objects.filter(owner__isnull=True, learner=learner)
    return Cluster.objects.none()


def create(*, user=None, learner: str = "", name: str = "", nodes: int = 3, node_size: str = NodeSize.MEDIUM, speed: str = Speed.NORMAL, quota: bool = True) -> tuple[Cluster, bool]:
    """A new sandbox with its namespaces and `nodes` Ready nodes.

    Returns the cluster and whether the requested name had to be changed (taken by another
    sandbox: a suffix is added rather than telling anyone that a sandbox of that name
    exists). Raises SandboxError for input the learner can correct. `quota`: the learner's
    own sandboxes are limited to PODFLOW_QUOTA_SANDBOXES (a class's are not: `personal`).
    """
    if not isinstance(nodes, int) or not 1 <= nodes <= MAX_NODES:
        raise SandboxError(_("A sandbox has 1 to %(max)s nodes.") % {"max": MAX_NODES}, "nodes")
    if node_size not in NodeSize.values:
        raise SandboxError(_("Choose a node size: small, medium or large."), "node_size")
    name = (name or "").strip().lower()
    if name and (len(name) > 40 or not NAME.match(name)):
        raise SandboxError(_("A name has at most 40 lowercase letters, digits and dashes, and starts and ends with a letter or digit."), "name")
    if quota and personal(owned_by(user=user, learner=learner)).count() >= settings.PODFLOW_QUOTA_SANDBOXES:
        raise SandboxError(_("You have %(n)s sandboxes, the most one person may have. Delete one first.") % {"n": settings.PODFLOW_QUOTA_SANDBOXES})
    owner = user if user is not None and user.is_authenticated else None
    wanted = name
    for attempt in range(20):
        candidate = _candidate(wanted, attempt)
        try:
            with transaction.atomic():
                cluster = Cluster.objects.create(
                    name=candidate,
                    owner=owner,
                    learner="" if owner else learner,
                    node_count=nodes,
                    node_size=node_size,
                    speed=speed,
                    last_active=timezone.now(),
                )
        except IntegrityError:
            continue  # the name is taken: try another
        demo.populate(cluster)
        return cluster, bool(wanted) and candidate != wanted
    raise SandboxError(_("No free name was found. Try another one."), "name")


def _candidate(wanted: str, attempt: int) -> str:
    if wanted and attempt == 0 and wanted not in RESERVED:
        return wanted
    return f"{wanted or 'sandbox'}-{secrets.token_hex(3)}"


def reset(cluster: Cluster) -> int:
    """Back to the first state: every object deleted (each deletion a revision, so open
    streams and watches see it), then the namespaces and nodes made again. The revision
    keeps increasing; the token, speed and owner stay; explain is on again. Returns the new
    revision."""
    with store.locked(cluster):
        store.remove_all(cluster, by="podflow")
        demo.populate(cluster)
        Cluster.objects.filter(pk=cluster.pk).update(explain=True)
    cluster.refresh_from_db(fields=["revision", "explain"])
    return cluster.revision


def delete(cluster: Cluster) -> None:
    """Remove the sandbox with its objects, change log and steps; followers are told.

    Under the cluster's write lock, as every write of its objects: a component writing
    meanwhile finishes first (and its rows go with the cluster), or finds the cluster gone
    and writes nothing (its rows have no foreign-key constraint: cluster/models.py)."""
    name = cluster.name
    with store.locked(cluster):
        # The writers' lock lets rows that refer to the cluster be inserted meanwhile (a
        # request's log row: PostgreSQL's foreign-key check only shares the key); the row's
        # own lock from here on keeps any more from coming between the deletion's
        # collecting of them and the cluster's row going.
        Cluster.objects.select_for_update().filter(pk=cluster.pk).values_list("pk", flat=True).first()
        cluster.delete()
    audit.announce_on_commit(name, audit.CLUSTER)


def adopt(user, learner: str) -> int:
    """Give an anonymous learner's sandboxes to the account that just signed in or up."""
    if not learner or user is None or not user.is_authenticated:
        return 0
    return Cluster.objects.filter(owner__isnull=True, learner=learner).update(owner=user, learner="")


def touch(cluster: Cluster) -> None:
    """Note that the owner used the sandbox (at most one write a minute)."""
    moment = timezone.now()
    if cluster.last_active is None or moment - cluster.last_active >= TOUCH_EVERY:
        Cluster.objects.filter(pk=cluster.pk).update(last_active=moment)
        cluster.last_active = moment


# Rules that keep sandboxes past their idle time, each narrowing the idle ones: a class's
# stay until a week after it ends (web/classroom.py, registered in web/apps.py).
_keepers: list[Callable[[QuerySet[Cluster]], QuerySet[Cluster]]] = []


def keep_when(rule: Callable[[QuerySet[Cluster]], QuerySet[Cluster]]) -> None:
    if rule not in _keepers:
        _keepers.append(rule)


# Rules that leave out of a learner's quota the sandboxes that are not theirs to manage
# (a class's, made on joining and kept read-only after it ends): web/apps.py registers one.
_not_personal: list[Callable[[QuerySet[Cluster]], QuerySet[Cluster]]] = []


def personal_when(rule: Callable[[QuerySet[Cluster]], QuerySet[Cluster]]) -> None:
    if rule not in _not_personal:
        _not_personal.append(rule)


def personal(sandboxes: QuerySet[Cluster]) -> QuerySet[Cluster]:
    """The sandboxes that count toward their owner's quota."""
    for rule in _not_personal:
        sandboxes = rule(sandboxes)
    return sandboxes


def expire(now=None) -> list[str]:
    """Remove anonymous sandboxes idle longer than PODFLOW_SANDBOX_IDLE_HOURS.

    Only sandboxes of a learner without an account: an account's sandboxes and the
    clusters nobody owns (demo) stay. Returns the names removed.
    """
    cutoff = (now or timezone.now()) - timedelta(hours=settings.PODFLOW_SANDBOX_IDLE_HOURS)
    idle = Cluster.objects.filter(owner__isnull=True).exclude(learner="").filter(Q(last_active__lt=cutoff) | Q(last_active__isnull=True, created__lt=cutoff))
    for rule in _keepers:
        idle = rule(idle)
    removed = []
    for cluster in idle:
        with transaction.atomic():
            delete(cluster)
        removed.append(cluster.name)
    if removed:
        log.info("removed %d idle anonymous sandboxes: %s", len(removed), ", ".join(removed))
    return removed
