"""The store: what etcd holds for each simulated cluster.

Only cluster/apiserver/store.py (the API-server layer) writes the cluster's state (its
objects, revision, change log and step log). Beside it: the API server's request log
(written by cluster/apiserver/requestlog.py) and the learners' lab progress (cluster/labs/).
"""
from __future__ import annotations

import secrets

from django.conf import settings
from django.db import connections, models


class Speed(models.TextChoices):
    INSTANT = "instant", "instant"
    NORMAL = "normal", "normal"
    SLOW = "slow", "slow"


# Seconds each kubelet stage waits before it acts, per speed (invariant 6, see cluster/__init__.py).
STAGE_SECONDS = {Speed.INSTANT: 0.0, Speed.NORMAL: 1.0, Speed.SLOW: 3.0}


def new_token() -> str:
    return secrets.token_urlsafe(24)


class NodeSize(models.TextChoices):
    SMALL = "small", "small"
    MEDIUM = "medium", "medium"
    LARGE = "large", "large"


# What each node of a sandbox has to give (cpu, memory), by the size chosen for it.
NODE_SIZES = {NodeSize.SMALL: ("2", "4Gi"), NodeSize.MEDIUM: ("4", "8Gi"), NodeSize.LARGE: ("8", "16Gi")}


class ClusterManager(models.Manager):
    def one(self, column: str, value: object) -> "Cluster | None":
        """The cluster whose `column` ("id" or "name", both unique) is `value`, or None.

        What every API request (by name) and every component task (by id) reads first: one
        statement on a cursor and the model built from its row (a third of a RawQuerySet's
        cost, a ninth of filter().first()'s), each field converted as the ORM converts it."""
        if column not in ("id", "name"):
            raise ValueError(f"not a unique column of a cluster: {column}")
        meta = self.model._meta
        fields = meta.concrete_fields
        compiler, converters = self._compiler()
        with connections[self.db].cursor() as cursor:  # this thread's connection
            cursor.execute(f"SELECT {', '.join(f.column for f in fields)} FROM {meta.db_table} WHERE {column} = %s", [value])
            row = cursor.fetchone()
        if row is None:
            return None
        values = next(compiler.apply_converters([row], converters))
        return self.model.from_db(self.db, [f.attname for f in fields], values)

    def _compiler(self):
        """The ORM's compiler for this model's table and the converters it would apply to
        a row of all its columns (aware datetimes, JSON, booleans on SQLite), kept per
        database alias. Used to convert values only: it runs no statement (its connection
        is the thread's that made it)."""
        found = self._compilers.get(self.db)
        if found is None:
            compiler = self.none().query.get_compiler(self.db)
            table = self.model._meta.db_table
            found = self._compilers[self.db] = (compiler, compiler.get_converters([f.get_col(table) for f in self.model._meta.concrete_fields]))
        return found

    _compilers: dict[str, tuple] = {}


class Cluster(models.Model):
    """A sandbox: its own objects, its own revision (etcd's), its own speed, its owner.

    The owner is an account, or before anyone signs in, the browser session's learner id
    (`learner`); a cluster with neither (such as `demo`) opens to staff and the command line
    only. Who may open a cluster is decided in one place: cluster/apiserver/handlers/access.py.
    """

    objects = ClusterManager()

    name = models.SlugField(max_length=63, unique=True)
    # The bearer token of the cluster's kubeconfig: it opens this cluster's API and no other.
    token = models.CharField(max_length=64, unique=True, default=new_token)
    revision = models.BigIntegerField(default=0)
    speed = models.CharField(max_length=10, choices=Speed.choices, default=Speed.NORMAL)
    created = models.DateTimeField(auto_now_add=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="sandboxes")
    learner = models.CharField(max_length=64, blank=True, default="", db_index=True)
    # What a reset brings back: this many nodes of this size.
    node_count = models.PositiveSmallIntegerField(default=3)
    node_size = models.CharField(max_length=10, choices=NodeSize.choices, default=NodeSize.MEDIUM)
    # When its owner last used it (page, API, stream); idle anonymous sandboxes expire.
    last_active = models.DateTimeField(null=True, blank=True, db_index=True)
    # The cluster's clock (cluster/componentbase/clock.py): while paused the API server still
    # stores what clients send, but no component acts; each action it would take is a
    # HeldAction, released one at a time (step) or all at once (resume).
    paused = models.BooleanField(default=False)
    # The control-plane components a teacher has stopped ("scheduler", "controller-manager").
    stopped_components = models.JSONField(default=list, blank=True)
    # podflow's explain API answers for this cluster (a lab's troubleshooting step turns it off).
    explain = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name

    @property
    def stage_seconds(self) -> float:
        return STAGE_SECONDS[Speed(self.speed)]


# The store's rows (objects, the change log, steps) name their cluster without a foreign-key
# constraint in the database: every write of them takes the cluster's row first, under
# its write lock (cluster/apiserver/store.py `locked`), and so does a cluster's deletion
# (cluster/sandbox.py `delete`), so no row can outlive its cluster's deletion. The
# constraint cost a check query (on PostgreSQL a SELECT ... FOR KEY SHARE of the cluster
# row) per row written: 16,500 of the 54,000 statements of `manage.py bench`'s (e).
# Django still deletes them with the cluster (on_delete=CASCADE is Django's).
#
# Their indexes likewise: every revision inserts or updates rows of these tables, and each
# of their indexes, holding the cluster's lock (on SQLite the database's). So each has the
# indexes its queries use and no other: every query names its cluster, or a uid, and an
# index that starts with that column serves it (the foreign key has none of its own).
STORE_ROWS = ("Object", "Change", "Step")


class Object(models.Model):
    """One Kubernetes object, stored whole as its JSON document.

    The columns beside `doc` are indexes for what the components query.
    """

    # No foreign-key constraint in the database (see `STORE_ROWS`), and no index of its own:
    # every index below starts with the cluster.
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="stored_objects", db_constraint=False, db_index=False)
    kind = models.CharField(max_length=63)
    namespace = models.CharField(max_length=63, blank=True, default="")
    name = models.CharField(max_length=253)
    uid = models.CharField(max_length=36)
    resource_version = models.BigIntegerField()
    node_name = models.CharField(max_length=253, blank=True, default="")
    owner_uid = models.CharField(max_length=36, blank=True, default="")
    # Who first asked for this object (kubectl, the page, a Python client): the client of
    # step 1 for the pods made from it. Kept beside the document, not in it.
    client = models.CharField(max_length=120, blank=True, default="")
    updated = models.DateTimeField()
    doc = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "kind", "namespace", "name"], name="object_identity"),
            # A constraint rather than unique=True: on PostgreSQL that adds a second index
            # for LIKE queries, which nothing makes.
            models.UniqueConstraint(fields=["uid"], name="object_uid"),
        ]
        # The components' hot queries list by kind and owner or node, in name order: the
        # name columns at the end let the database read them in order from the index.
        indexes = [
            models.Index(fields=["cluster", "kind", "owner_uid", "namespace", "name"], name="object_kind_owner"),
            models.Index(fields=["cluster", "kind", "node_name", "namespace", "name"], name="object_kind_node"),
            models.Index(fields=["cluster", "owner_uid"], name="object_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class Change(models.Model):
    """The change log: one row per revision, as etcd's history (invariant 3)."""

    ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
    TYPES = [(t, t) for t in (ADDED, MODIFIED, DELETED)]

    # No foreign-key constraint in the database (see `STORE_ROWS`); indexed by
    # one_change_per_revision, which starts with it.
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="changes", db_constraint=False, db_index=False)
    revision = models.BigIntegerField()
    type = models.CharField(max_length=8, choices=TYPES)
    kind = models.CharField(max_length=63)
    namespace = models.CharField(max_length=63, blank=True, default="")
    name = models.CharField(max_length=253)
    uid = models.CharField(max_length=36)
    doc = models.JSONField()
    time = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "revision"], name="one_change_per_revision")]


class Step(models.Model):
    """One of the eight steps of a pod's creation, recorded when it happened (invariant 5)."""

    DONE, NOT_NEEDED = "done", "not-needed"

    # No foreign-key constraint in the database (see `STORE_ROWS`). Indexed by the two
    # indexes below, which start with the cluster and with the pod.
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="steps", db_constraint=False, db_index=False)
    revision = models.BigIntegerField()
    pod_uid = models.CharField(max_length=36)
    namespace = models.CharField(max_length=63)
    pod_name = models.CharField(max_length=253)
    number = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=12, default=DONE)
    component = models.CharField(max_length=40)
    actor = models.CharField(max_length=120, blank=True, default="")
    object_ref = models.CharField(max_length=300)
    text_en = models.TextField()
    text_ko = models.TextField()
    time = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pod_uid", "number"], name="one_step_per_pod")]
        indexes = [models.Index(fields=["cluster", "revision"])]


class HeldAction(models.Model):
    """An action a component would have taken while the cluster's clock was paused: the
    task that does it, and what it will do, for the page's "what happens next"."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="held_actions")
    component = models.CharField(max_length=32)  # scheduler, controller-manager, kubelet
    task = models.CharField(max_length=100)  # the Celery task's name
    args = models.JSONField(default=list)
    key = models.CharField(max_length=300)  # task and args: one row per action
    action = models.CharField(max_length=300, blank=True, default="")  # in English
    action_ko = models.CharField(max_length=300, blank=True, default="")
    step = models.PositiveSmallIntegerField(null=True, blank=True)  # which of the eight steps it is, if one
    object_ref = models.CharField(max_length=300, blank=True, default="")
    # Let through by a step or a resume: the task acts once, then the row goes.
    released = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "key"], name="held_action_once")]
        indexes = [models.Index(fields=["cluster", "released", "id"])]

    def __str__(self) -> str:
        return f"{self.component}: {self.action or self.key}"


class RequestRecord(models.Model):
    """A request the API server answered, as its audit log records it: who asked (kubectl,
    the page, a Python client), the verb and resource, and the answer's code.

    Written by an audit listener (cluster/apiserver/requestlog.py) for every request that
    opened this cluster; only the last REQUEST_LOG_KEEP of each cluster are kept. A lab's
    `request` check reads them ("web was created by kubectl").
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="requests")
    time = models.DateTimeField()
    client = models.CharField(max_length=120)
    verb = models.CharField(max_length=20)
    resource = models.CharField(max_length=120)  # the plural, with /subresource if any
    namespace = models.CharField(max_length=63, blank=True, default="")
    name = models.CharField(max_length=253, blank=True, default="")
    code = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=63, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["cluster", "id"], name="request_record_cluster")]

    def __str__(self) -> str:
        return f"{self.client} {self.verb} {self.resource} {self.code}"


# How many requests each cluster's log keeps (the newest).
REQUEST_LOG_KEEP = 500


class TrafficRecord(models.Model):
    """One simulated request to a Service or through an Ingress (the page's “send
    requests”, a lab's `traffic` action) and who answered it: the pod kube-proxy's rules
    or the ingress controller picked, and the status.

    Written by the same audit listener as RequestRecord (cluster/apiserver/requestlog.py);
    the last TRAFFIC_LOG_KEEP of each cluster are kept. A lab's `traffic` check reads them
    ("20 requests to web were answered by 4 different pods").
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="traffic")
    time = models.DateTimeField()
    kind = models.CharField(max_length=10)  # Service or Ingress
    namespace = models.CharField(max_length=63)
    name = models.CharField(max_length=253)
    via = models.CharField(max_length=200, blank=True, default="")
    pod = models.CharField(max_length=253, blank=True, default="")
    status = models.PositiveSmallIntegerField()

    class Meta:
        indexes = [models.Index(fields=["cluster", "id"], name="traffic_record_cluster")]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name} → {self.pod or '-'} {self.status}"


TRAFFIC_LOG_KEEP = 500


class LabProgress(models.Model):
    """How far a cluster's learner is in one lab (cluster/labs/): the current step, its
    checks, the answers given, the hints and solutions shown. One row per cluster and lab;
    starting the lab again resets it. The classroom's roster reads these rows."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="lab_progress")
    lab = models.CharField(max_length=63)  # the lab's id (its file name in labs/)
    step_index = models.PositiveSmallIntegerField(default=0)
    step_id = models.CharField(max_length=63, blank=True, default="")
    checks_passed = models.PositiveSmallIntegerField(default=0)
    checks_total = models.PositiveSmallIntegerField(default=0)
    started = models.DateTimeField(null=True, blank=True)  # when the lab was (last) started
    step_started = models.DateTimeField(null=True, blank=True)  # when the current step began
    # The cluster's revision when the lab and the current step began: what happened "since
    # the step began" (events, steps) is what has a newer revision.
    lab_revision = models.BigIntegerField(default=0)
    step_revision = models.BigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)
    answers = models.JSONField(default=dict, blank=True)  # {step_id: {answer, correct, at, tries}}
    hints_shown = models.JSONField(default=dict, blank=True)  # {step_id: how many}
    solution_shown = models.JSONField(default=list, blank=True)  # [step_id, ...]
    completed = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "lab"], name="one_progress_per_lab")]

    def __str__(self) -> str:
        return f"{self.cluster} {self.lab} step {self.step_index}"
