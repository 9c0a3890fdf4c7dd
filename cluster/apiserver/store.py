"""The API-server layer: the one door to the store (invariant 1, see cluster/__init__.py).

Every change to cluster state goes through `create`, `update`, `mutate`, `delete` or
`remove` here. Each write, in one transaction: takes the cluster's lock, bumps its
revision, stamps `metadata.resourceVersion`, saves the object, appends a change-log row,
and records any of the eight steps the write completes. After commit, each write is handed
to the listeners the layers above registered with `on_commit` — the informers, which wake
the components that watch it, and the browser stream — so nothing here knows who they are.
"""
from __future__ import annotations

import copy
import fcntl
import json
import logging
import os
import secrets
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Iterator

from django.db import DatabaseError, connection, transaction

from cluster.apimachinery import jsontext, kinds, metav1
from cluster.apimachinery.errors import APIError, Cause, already_exists, conflict, conflict_because, forbidden, invalid, not_found
from cluster.apiserver import audit, locktrace, registry, rows
from cluster.apiserver.admission import ingressclasses, quota
from cluster.apiserver.registry import validation
from cluster.models import Change, Cluster, Object, Step

log = logging.getLogger("podflow.store")

# Who is writing: decides which components a write wakes, so that a component is not
# woken by its own writes (the real ones filter their informers the same way).
API = "api-server"
DEPLOYMENT_CONTROLLER = "deployment-controller"
REPLICASET_CONTROLLER = "replicaset-controller"
GARBAGE_COLLECTOR = "garbage-collector"
SCHEDULER = "scheduler"
KUBELET = "kubelet"
ENDPOINT_CONTROLLER = "endpoint-controller"
ENDPOINTSLICE_CONTROLLER = "endpointslice-controller"
SERVICE_CONTROLLER = "service-controller"
NAMESPACE_CONTROLLER = "namespace-controller"

# The finalizers the API server and the garbage collector own (metav1.FinalizerOrphanDependents,
# FinalizerDeleteDependents), and the namespace controller's (FinalizerKubernetes, in spec).
ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
NAMESPACE_FINALIZER = registry.NAMESPACE_FINALIZER
PROPAGATION_POLICIES = ("Background", "Foreground", "Orphan")
INGRESS_CONTROLLER = "ingress-controller"

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class StepRecord:
    """One of the eight steps, to be recorded with the write that completes it."""

    number: int
    component: str
    text_en: str
    text_ko: str
    actor: str = ""
    object_ref: str = ""
    status: str = Step.DONE


StepsFor = Callable[[dict, int], list[StepRecord]]


@dataclass(frozen=True)
class Committed:
    """One write as it committed: what the listeners registered with `on_commit` receive."""

    type: str  # ADDED, MODIFIED or DELETED
    revision: int
    old: dict | None
    new: dict
    by: str
    steps: tuple[Step, ...] = ()
    size_hint: int | None = None  # the object's serialised size, when the write measured it
    at: Any = None  # a datetime: the Change row's time (Change.time), carried to the stream's "at"

    @property
    def kind(self) -> str:
        return self.new.get("kind", "")


Listener = Callable[[Cluster, list[Committed]], None]
_listeners: list[Listener] = []


def on_commit(listener: Listener) -> None:
    """Hand every committed transaction's writes, in order, to `listener` (once per listener).

    The layers above register here when their Django app is ready: the informers (which
    components a write wakes) and the browser stream. A listener that raises is logged and
    the others still run: a lost wake-up is recovered by the resync, a lost stream message
    by the change log.
    """
    if listener not in _listeners:
        _listeners.append(listener)


@dataclass
class Outbox:
    """What one transaction wrote: handed to the listeners only after it commits.

    `log` holds the change-log rows of those writes, appended in one statement when the
    transaction's writing is done (nothing reads the log of a transaction still open).
    `namespaces` remembers, for this transaction, what admission found of each namespace.
    """

    cluster: Cluster
    revision: int
    start_revision: int
    changes: list[Committed] = field(default_factory=list)
    log: list[rows.ChangeRow] = field(default_factory=list)
    namespaces: dict[str, str | None] = field(default_factory=dict)
    # Steps the step log already had for their pod (one_step_per_pod): known once the
    # writes are sent, and left out of what is published. By id, holding the Step (so
    # that its id is not another's while the transaction lasts).
    unrecorded: dict[int, Step] = field(default_factory=dict)
    # The object rows this transaction has read or written, by (kind, namespace, name);
    # None where there is none. Under the lock no one else writes them, so a second read
    # of one is answered from here — and a row written and not yet sent (rows.py holds
    # writes back on PostgreSQL) is read as written.
    known: dict[tuple[str, str, str], rows.Stored | None] = field(default_factory=dict)
    uids: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # uid → identity, for rows in `known`
    # (kind, owner uid) → the rows `list_written` gives: forgotten when one of them is written.
    owned: dict[tuple[str, str], list[rows.Written]] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)  # uid → how often this transaction wrote it
    memo: dict = field(default_factory=dict)  # what a component computed from its reads (`memo`)

    def forget(self) -> None:
        """Forget what was read (a savepoint rolled back, or rows went by other means)."""
        self.namespaces.clear()
        self.known.clear()
        self.uids.clear()
        self.owned.clear()
        self.memo.clear()

    def next_revision(self) -> int:
        self.revision += 1
        return self.revision

    def leave_out_unrecorded(self) -> None:
        if self.unrecorded:
            self.changes = [
                replace(c, steps=tuple(s for s in c.steps if id(s) not in self.unrecorded)) if c.steps else c for c in self.changes
            ]
            self.unrecorded.clear()

    def flush(self) -> None:
        if not self.changes:
            return
        for listener in list(_listeners):
            try:
                listener(self.cluster, self.changes)
            except Exception:
                log.exception("a commit listener failed for cluster %s", self.cluster.name)


_local = threading.local()


@contextmanager
def locked(cluster: Cluster, reads: tuple[tuple[str, str, str], ...] = ()) -> Iterator[Outbox]:
    """A transaction holding the cluster's write lock; nested calls join the outer one.

    Reads made inside see every committed write and no other writer can interleave, so
    a reconcile that reads, decides and writes inside one `locked` block is safe to run
    twice or concurrently. `reads`: the (kind, namespace, name) of rows the block will
    look up, read with the lock where that saves round trips (rows.py); a block that
    joins an outer one looks them up as it goes.
    """
    outer = _outbox()
    if outer is not None:
        if outer.cluster.pk != cluster.pk:
            raise RuntimeError("one transaction writes one cluster")
        yield outer
        return
    # Whether this block is the whole transaction (not a part of a caller's): then the
    # listeners run once it has committed and the writers' queue is left.
    whole = not connection.in_atomic_block
    hold = locktrace.begin() if whole else None  # --lock-profile: who held the lock, how long
    wrote = 0
    try:
        with _writers_turn(whole):
            with transaction.atomic():
                # PostgreSQL: a row lock; SQLite: the IMMEDIATE transaction already holds the
                # database's write lock, and the read just fetches the revision.
                current, found = rows.revision_for_update_and_rows(cluster.pk, list(reads))
                locktrace.acquired(hold)
                outbox = Outbox(cluster=cluster, revision=current, start_revision=current)
                for identity, row in zip(reads, found):
                    _remember(outbox, identity, row)
                _local.outbox = outbox
                held = rows.held_mark()
                try:
                    yield outbox
                    if outbox.revision != outbox.start_revision:
                        rows.insert_changes(outbox.log)
                        rows.set_revision(cluster.pk, outbox.revision)
                    if whole:
                        rows.send_held_and_commit()
                    else:
                        rows.send_held()
                except BaseException:
                    rows.drop_held(held)
                    raise
                finally:
                    _local.outbox = None
                outbox.leave_out_unrecorded()
                if outbox.revision != outbox.start_revision:
                    cluster.revision = outbox.revision
                    if not whole:
                        transaction.on_commit(outbox.flush)
                wrote = outbox.revision - outbox.start_revision
    finally:
        locktrace.released(hold, cluster.pk, wrote)
    if whole:
        outbox.flush()


_writer = threading.local()


@contextmanager
def _writers_turn(whole: bool) -> Iterator[None]:
    """On SQLite, wait for this writer's turn in a queue of the database's writers (an
    exclusive lock on a file beside it) before asking for SQLite's write lock.

    SQLite's own wait for its lock is a sleep between tries, longer the longer a writer has
    waited (up to 100 ms): with several components writing in turn, the lock sat idle
    while those waiting slept. A waiter for the file lock wakes as soon as it is let go.
    Only for a transaction of its own: inside a caller's transaction SQLite's write lock is
    already held. (PostgreSQL queues the cluster's writers on its row lock.)
    """
    path = _writers_queue_path() if whole else None
    if path is None:
        yield
        return
    if getattr(_writer, "key", None) != (os.getpid(), path):
        # One open file per thread (and process): a lock taken through another thread's
        # open file would not exclude this thread.
        _writer.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        _writer.key = (os.getpid(), path)
    fcntl.flock(_writer.fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(_writer.fd, fcntl.LOCK_UN)
    _checkpoint_now_and_then()


# SQLite's WAL is copied back into the database file by a checkpoint. Left to SQLite, the
# commit that takes the log past wal_autocheckpoint pages runs one (copying the pages and
# syncing the file) before COMMIT returns: inside the writers' queue, where every other
# writer of every sandbox waits. Here the writers' connections checkpoint the log every
# CHECKPOINT_EVERY transactions of their own once they have left the queue, PASSIVE (it
# waits for no reader and no writer); config/settings.py raises wal_autocheckpoint so that
# SQLite's own checkpoint is only the backstop for writes made elsewhere.
CHECKPOINT_EVERY = 32


def _checkpoint_now_and_then() -> None:
    _writer.commits = getattr(_writer, "commits", 0) + 1
    if _writer.commits % CHECKPOINT_EVERY or connection.in_atomic_block:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except DatabaseError:  # a checkpoint not made now is made by a later one
        log.warning("a passive checkpoint of the write-ahead log failed", exc_info=True)


@contextmanager
def queued_write() -> Iterator[None]:
    """A write of a row beside the store's objects (a log's): on SQLite it waits its turn in
    the writers' queue, as the store's transactions do, rather than in SQLite's sleeping
    retries behind them."""
    alone = not connection.in_atomic_block
    hold = locktrace.begin("beside") if locktrace.enabled() and alone and _writers_queue_path() is not None else None
    try:
        with _writers_turn(alone):
            locktrace.acquired(hold)
            yield
    finally:
        locktrace.released(hold)


def _writers_queue_path() -> str | None:
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return None
    return name + ".writers"


def _outbox() -> Outbox | None:
    """The transaction this thread is in (a `locked` block's), if any."""
    return getattr(_local, "outbox", None)


def in_transaction() -> bool:
    """Whether this thread is inside a `locked` block."""
    return _outbox() is not None


@contextmanager
def savepoint(cluster: Cluster) -> Iterator[Outbox]:
    """One object's part of a larger transaction: if it raises, its writes are undone (the
    rows and what the outbox would publish) and the rest of the transaction stands.

    What lets a component's loop skip an object that fails and go on with the others
    (cluster/componentbase/isolation.py) without publishing writes that were rolled back.
    """
    with locked(cluster) as outbox:
        changes, logged, revision = len(outbox.changes), len(outbox.log), outbox.revision
        try:
            with rows.savepoint():
                yield outbox
        except BaseException:
            del outbox.changes[changes:]
            del outbox.log[logged:]
            outbox.revision = revision
            outbox.forget()
            raise


# --- reads ------------------------------------------------------------------------------

def _lookup(cluster: Cluster, kind: str, namespace: str, name: str) -> rows.Stored | None:
    """An object's row, by its identity: from what this transaction knows of it, or read."""
    outbox = _outbox()
    if outbox is None:
        return rows.stored(cluster.pk, kind, namespace, name)
    key = (kind, namespace, name)
    if key not in outbox.known:
        _remember(outbox, key, rows.stored(cluster.pk, kind, namespace, name))
    return outbox.known[key]


def _remember(outbox: Outbox, key: tuple[str, str, str], found: rows.Stored | None) -> None:
    """What a read found of a row (None: there is none), for the rest of the transaction."""
    outbox.known[key] = found
    if found is not None:
        outbox.uids[found.uid] = key


def _known_by_uid(uid: str, *, written: bool = False) -> rows.Stored | None:
    """This transaction's copy of the row of `uid`, if it has one (`written`: with its time)."""
    outbox = _outbox()
    key = outbox.uids.get(uid) if outbox is not None else None
    found = outbox.known.get(key) if key is not None else None
    if found is None or found.uid != uid or (written and found.updated is None):
        return None
    return found


def _learn(kind: str, doc: dict, text: str, updated: datetime | None = None) -> None:
    """Remember a row a read returned (inside a transaction: nothing else writes it meanwhile)."""
    outbox = _outbox()
    if outbox is None:
        return
    meta = doc["metadata"]
    key = (kind, meta.get("namespace") or "", meta["name"])
    outbox.known[key] = rows.Stored(None, meta["uid"], text, updated)
    outbox.uids[meta["uid"]] = key


def memo() -> dict | None:
    """A dict that lasts as long as this transaction (None outside one), for what a
    component computes from its reads and would otherwise compute again for each object
    of its batch; forgotten with the reads when a savepoint rolls back. `writes_of` says
    whether an object it used has been written since."""
    outbox = _outbox()
    return outbox.memo if outbox is not None else None


def writes_of(uid: str) -> int:
    """How many times this transaction has written the object of `uid` (0 outside one)."""
    outbox = _outbox()
    return outbox.writes.get(uid, 0) if outbox is not None else 0


def _knows(outbox: Outbox, row: "_Row", text: str | None, updated: datetime | None = None, owners: tuple[str, ...] = ()) -> None:
    """What this transaction wrote to a row (None: removed it)."""
    outbox.writes[row.uid] = outbox.writes.get(row.uid, 0) + 1
    key = (row.kind, row.namespace, row.name)
    if text is None:
        outbox.known[key] = None
        outbox.uids.pop(row.uid, None)
    else:
        outbox.known[key] = rows.Stored(row.id, row.uid, text, updated)
        outbox.uids[row.uid] = key
    for owner in owners:
        outbox.owned.pop((row.kind, owner), None)


def prefetch(cluster: Cluster, uids: list[str], *, owned_kind: kinds.Kind | None = None) -> None:
    """Read these objects (and, with `owned_kind`, the objects of that kind they own — an
    Event: that are about them) in one statement each, for the rest of this transaction:
    a component about to go through a batch of objects one by one asks for them at once."""
    outbox = _outbox()
    if outbox is None or not uids:
        return
    for kind, text, updated in rows.written_by_uids(cluster.pk, uids):
        _learn(kind, jsontext.loads(text), text, updated)
    if owned_kind is not None:
        found: dict[str, list[rows.Written]] = {uid: [] for uid in uids}
        for owner, row in rows.written_owned(cluster.pk, owned_kind.kind, uids):
            found[owner].append(row)
        for owner, written_rows in found.items():
            outbox.owned[(owned_kind.kind, owner)] = written_rows


def get(cluster: Cluster, kind: kinds.Kind, namespace: str, name: str) -> dict:
    found = _lookup(cluster, kind.kind, _ns(kind, namespace), name)
    if found is None:
        raise not_found(kind.plural, kind.group, name)
    return jsontext.loads(found.text)


def find(cluster: Cluster, kind: kinds.Kind, namespace: str, name: str) -> dict | None:
    found = _lookup(cluster, kind.kind, _ns(kind, namespace), name)
    return jsontext.loads(found.text) if found else None


def by_uid(cluster: Cluster, uid: str) -> dict | None:
    known = _known_by_uid(uid)
    if known is not None:
        return jsontext.loads(known.text)
    text = rows.text_by_uid(cluster.pk, uid)
    if text is None:
        return None
    doc = jsontext.loads(text)
    _learn(doc["kind"], doc, text)
    return doc


def by_uid_written(cluster: Cluster, uid: str) -> tuple[dict, datetime] | None:
    """The object and when it was last written (its row's update time)."""
    known = _known_by_uid(uid, written=True)
    if known is not None:
        return jsontext.loads(known.text), known.updated
    found = rows.written_by_uid(cluster.pk, uid)
    if not found:
        return None
    doc = jsontext.loads(found[0])
    _learn(found[2], doc, found[0], found[1])
    return doc, found[1]


@dataclass(frozen=True)
class Written:
    """An object with when it was last written and at which revision."""

    name: str
    doc: dict
    updated: datetime
    revision: int


def list_written(cluster: Cluster, kind: kinds.Kind, *, owner_uid: str) -> list[Written]:
    """The objects of a kind that an object owns (Events: that are about it), oldest
    revision first, each with when it was last written."""
    outbox = _outbox()
    found = outbox.owned.get((kind.kind, owner_uid)) if outbox is not None else None
    if found is None:
        found = rows.written(cluster.pk, kind.kind, owner_uid)
        if outbox is not None:
            outbox.owned[(kind.kind, owner_uid)] = found
    return [Written(row.name, jsontext.loads(row.text), row.updated, row.revision) for row in found]


def list_by_uid(cluster: Cluster, uids: list[str]) -> list[dict]:
    """The objects of these uids that exist, in no particular order."""
    return [jsontext.loads(text) for text in rows.texts_by_uid(cluster.pk, uids)]


def versions_on_node(cluster: Cluster, kind: kinds.Kind, node: str) -> list[tuple[str, int, str]]:
    """(uid, resourceVersion, write time as text) of the objects of a kind bound to a node:
    what a component that keeps decoded copies compares to know which changed."""
    return rows.versions_on_node(cluster.pk, kind.kind, node)


def namespaces_of(cluster: Cluster, kind: kinds.Kind) -> list[str]:
    """The namespaces that hold at least one object of a (namespaced) kind."""
    return rows.namespaces_of(cluster.pk, kind.kind)


def bound_versions(cluster: Cluster, kind: kinds.Kind) -> list[tuple[str, int, str]]:
    """(uid, resourceVersion, node) of the objects of a kind bound to a node, in (namespace,
    name) order: the scheduler's keys to the pods it keeps decoded."""
    return rows.bound_versions(cluster.pk, kind.kind)


def versioned_docs(cluster: Cluster, uids: list[str]) -> list[tuple[str, int, str, dict]]:
    """(uid, resourceVersion, write time as text, document) of the objects of these uids."""
    return [(uid, rv, updated, jsontext.loads(text)) for uid, rv, updated, text in rows.versioned_texts(cluster.pk, uids)]


def list_docs(cluster: Cluster, kind: kinds.Kind, namespace: str | None = None, *, node: str | None = None, owner_uid: str | None = None) -> list[dict]:
    texts = rows.texts(cluster.pk, kind.kind, namespace if kind.namespaced else None, node=node, owner_uid=owner_uid)
    docs = [jsontext.loads(text) for text in texts]
    if in_transaction():
        for doc, text in zip(docs, texts):
            _learn(kind.kind, doc, text)
    return docs


def current_revision(cluster: Cluster) -> int:
    return Cluster.objects.values_list("revision", flat=True).get(pk=cluster.pk)


# --- writes -----------------------------------------------------------------------------

def create(
    cluster: Cluster,
    doc: dict,
    *,
    by: str = API,
    client: str = "",
    namespace: str = "",
    steps: StepsFor | None = None,
) -> dict:
    """Validate, default and store a new object. Raises APIError; writes nothing then."""
    kind = _kind_of(doc)
    strategy = registry.strategy(kind)
    doc = {"apiVersion": kind.api_version, "kind": kind.kind, **_copy(doc)}
    doc["apiVersion"], doc["kind"] = kind.api_version, kind.kind
    meta = doc.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise invalid(kind.kind, kind.group, "", [validation.invalid("metadata", meta, "must be an object")])
    if kind.namespaced:
        body_ns = meta.get("namespace")
        namespace = namespace or body_ns or "default"
        if body_ns and body_ns != namespace:
            raise APIError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
    # The strategy's BeforeCreate names the object before validating it, so a generated
    # name is validated like any other (and the prefix as a prefix).
    generate = meta.get("generateName")
    generated = not meta.get("name") and isinstance(generate, str) and bool(generate)
    if generated:
        meta["name"] = generate_name(generate)
    registry.default(doc)
    ingressclasses.admit_create(cluster, doc)  # DefaultIngressClass: mutating admission, before validation
    causes = strategy.validate(doc) + _finalizer_causes(None, doc)
    if causes:
        raise invalid(kind.kind, kind.group, _display_name(doc), causes)
    size = check_size(doc)
    meta = doc["metadata"]
    for server_owned in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
        meta.pop(server_owned, None)
    if kind.namespaced:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if strategy.prepare_for_create is not None:
        strategy.prepare_for_create(doc)
    with locked(cluster, _create_reads(kind, namespace, meta.get("name") if not generated else None, by)) as outbox:
        # A generated name is checked free just below, under the same lock.
        free = False
        if generated:
            meta["name"] = _unique_name(cluster, kind, namespace, meta["generateName"], meta["name"])
            free = True
        if kind.namespaced:
            _admit_in_namespace(cluster, kind, namespace, meta["name"], by)
        # Admission, as in the real API server: after naming, before storage (so a full
        # sandbox answers a duplicate name with the quota's 403, as Kubernetes does).
        quota.admit_create(cluster, kind, meta["name"])
        # An Event a component writes is named after its object and the time with random
        # digits (events.event_name): its name is left to the identity index alone, which
        # fails the insert in the unlikely case it is taken.
        if not free and not (kind.kind == "Event" and by != API) and _lookup(cluster, kind.kind, _ns(kind, namespace), meta["name"]) is not None:
            raise already_exists(kind.plural, kind.group, meta["name"])
        if strategy.allocate is not None:
            strategy.allocate(cluster, doc, None)  # a Service's cluster IP and node ports, or 422
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = metav1.rfc3339()
        if strategy.generation:
            meta["generation"] = 1
        revision = outbox.next_revision()
        meta["resourceVersion"] = str(revision)
        text, _ = _encoded(doc)
        row = _Row(cluster.pk, kind.kind, _ns(kind, namespace), meta["name"], meta["uid"])
        updated = metav1.now()
        rows.insert_object(
            cluster.pk, row.kind, row.namespace, row.name, row.uid, revision,
            _node_of(doc), _owner_of(doc), client, updated, text,
        )
        _knows(outbox, row, text, updated, (_owner_of(doc),))
        _record(outbox, Change.ADDED, row, None, doc, by, steps, size_hint=size, text=text)
    return doc


def _create_reads(kind: kinds.Kind, namespace: str, name: str | None, by: str) -> tuple[tuple[str, str, str], ...]:
    """The rows a create looks up, to read with its lock: its namespace (admission; not
    for an Event a component writes, `_admit_in_namespace`) and its name (taken or not;
    None for a generated one, checked against the names read for it)."""
    if kind.kind == "Event" and by != API:
        return ()
    reads = [("Namespace", "", namespace)] if kind.namespaced else []
    if name:
        reads.append((kind.kind, _ns(kind, namespace), name))
    return tuple(reads)


class _DryRun(Exception):
    pass


def dry_run_create(cluster: Cluster, doc: dict, *, namespace: str = "") -> dict:
    """`dryRun=All`: validate, default and name the object as create would; store nothing."""
    created: dict = {}
    try:
        with transaction.atomic():
            created = create(cluster, doc, by=API, namespace=namespace)
            raise _DryRun
    except _DryRun:
        pass
    cluster.refresh_from_db(fields=["revision"])
    return created


def update(cluster: Cluster, doc: dict, *, by: str = API, subresource: str = "", steps: StepsFor | None = None) -> dict:
    """Replace an object (PUT). A stale resourceVersion is refused with 409 Conflict.

    The main resource keeps the stored status; the status subresource keeps the spec.
    """
    kind = _kind_of(doc)
    meta = doc.get("metadata") or {}
    with locked(cluster, _one_row(kind, meta.get("namespace", ""), meta.get("name", ""))):
        current = get(cluster, kind, meta.get("namespace", ""), meta.get("name", ""))
        expected = meta.get("resourceVersion")
        if expected and str(expected) != current["metadata"]["resourceVersion"]:
            raise conflict(kind.plural, kind.group, current["metadata"]["name"])

        def replace(stored: dict) -> None:
            new = copy.deepcopy(doc)
            if subresource == "status":
                stored["status"] = new.get("status", {})
                return
            # What the kind's strategy keeps from the stored object: its status (changed
            # through /status), and a namespace's spec.finalizers (through /finalize).
            kept = [(path, _at(stored, path)) for path in registry.strategy(kind).keeps_on_update]
            stored.clear()
            stored.update(new)
            for path, value in kept:
                if value is not None:
                    _put(stored, path, value)

        return mutate(cluster, kind, current["metadata"].get("namespace", ""), current["metadata"]["name"], replace, by=by, steps=steps, validate=True)


def mutate(
    cluster: Cluster,
    kind: kinds.Kind,
    namespace: str,
    name: str,
    change: Callable[[dict], Any],
    *,
    by: str,
    steps: StepsFor | None = None,
    expected_uid: str | None = None,
    validate: bool = False,
) -> dict:
    """Read-modify-write under the lock. `change` edits the document in place.

    If `change` leaves the document as it was, nothing is written (no revision): that is
    what makes repeated reconciles free.
    """
    strategy = registry.strategy(kind)
    with locked(cluster, _one_row(kind, namespace, name)) as outbox:
        row = _stored(cluster, kind, namespace, name, expected_uid)
        old = row.doc
        new = row.copy()
        change(new)
        # Identity and server-owned metadata cannot be changed by a write.
        new["apiVersion"], new["kind"] = kind.api_version, kind.kind
        new_meta = new.setdefault("metadata", {})
        for fixed in ("name", "namespace", "uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if fixed in old["metadata"]:
                new_meta[fixed] = old["metadata"][fixed]
            else:
                new_meta.pop(fixed, None)
        if validate:
            if strategy.prepare_for_update is not None:
                strategy.prepare_for_update(old, new)  # a Service keeps what was allocated, drops what its type no longer uses
            registry.default(new)
            causes = strategy.validate(new) + validation.validate_immutable_data(old, new) + _finalizer_causes(old, new)
            if causes:
                raise invalid(kind.kind, kind.group, name, causes)
            if strategy.allocate is not None:
                strategy.allocate(cluster, new, old)
        # Compared after defaulting: re-sending the manifest as applied changes nothing.
        if new == old:
            return old
        if strategy.generation and new.get("spec") != old.get("spec"):
            new_meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if _finalized(new):
            # The write that removes the last finalizer of an object being deleted deletes it.
            return _remove_row(outbox, row, old, new, by)
        return _save(outbox, row, old, new, by, steps)


# etcd's default --max-request-bytes: a larger object cannot be stored.
MAX_OBJECT_BYTES = 1536 * 1024


def check_size(doc: dict) -> int:
    """What etcd answers for an object over its request limit, as the API server passes it
    on: 413 RequestEntityTooLarge. Measured as compact JSON (etcd holds protobuf, a little
    smaller: the limit is reached a little earlier here). Returns the size, which the
    browser stream reuses (redact.for_browser)."""
    return _encoded(doc)[1]


def _encoded(doc: dict) -> tuple[str, int]:
    """The document as the store keeps it (compact JSON text) and its size, measured as
    `check_size` says (413 over the limit). Encoded once per write: the object row and
    the change-log row store the same text."""
    text = jsontext.text(doc)
    if text.isascii():
        size = len(text)
    else:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            # A lone surrogate (JSON allows it, UTF-8 does not): measured as it came, stored escaped.
            size = len(text.encode("utf-8", "surrogatepass"))
            text = json.dumps(doc, separators=(",", ":"))
    if size > MAX_OBJECT_BYTES:
        raise APIError(413, "RequestEntityTooLarge", "etcdserver: request is too large")
    return text, size


def mark_deleted(cluster: Cluster, kind: kinds.Kind, namespace: str, name: str, *, by: str, grace_seconds: int) -> dict:
    """Start a graceful deletion: set deletionTimestamp; the kubelet finishes it."""
    with locked(cluster, _one_row(kind, namespace, name)) as outbox:
        row = _stored(cluster, kind, namespace, name)
        old = row.doc
        if old["metadata"].get("deletionTimestamp"):
            return old
        new = row.copy()
        new["metadata"]["deletionTimestamp"] = metav1.rfc3339()
        new["metadata"]["deletionGracePeriodSeconds"] = grace_seconds
        return _save(outbox, row, old, new, by, None)


@dataclass(frozen=True)
class DeleteOptions:
    """metav1.DeleteOptions: what a client may say about one deletion."""

    grace_seconds: int | None = None
    propagation: str | None = None  # Orphan, Background or Foreground
    orphan_dependents: bool | None = None  # the old spelling of propagationPolicy
    uid: str | None = None  # preconditions
    resource_version: str | None = None
    dry_run: bool = False


def delete(
    cluster: Cluster,
    kind: kinds.Kind,
    namespace: str,
    name: str,
    *,
    by: str,
    options: DeleteOptions = DeleteOptions(),
    expected_uid: str | None = None,
) -> dict:
    """Delete as the API server's registry does, in one transaction.

    Preconditions are checked; the propagation policy becomes the `orphan` or
    `foregroundDeletion` finalizer; deletionTimestamp and deletionGracePeriodSeconds are set.
    The object goes at once unless a grace period (pods) or a finalizer keeps it, Terminating.
    A second delete may shorten a pod's grace period, never lengthen it. Returns the object
    as stored, or its last state when it was removed.
    """
    with locked(cluster, _one_row(kind, namespace, name)) as outbox:
        row = _stored(cluster, kind, namespace, name, expected_uid)
        old = row.doc
        _check_preconditions(kind, old, options)
        strategy = registry.strategy(kind)
        if name in strategy.undeletable:
            raise forbidden(kind.plural, kind.group, name, "this namespace may not be deleted")
        new = row.copy()
        meta = new["metadata"]
        finalizers = _gc_finalizers(list(meta.get("finalizers") or []), options)
        if finalizers:
            meta["finalizers"] = finalizers
        else:
            meta.pop("finalizers", None)
        grace = _grace_seconds(new, options)
        if meta.get("deletionTimestamp"):
            if options.grace_seconds is not None and grace < int(meta.get("deletionGracePeriodSeconds") or 0):
                meta["deletionGracePeriodSeconds"] = grace
        else:
            meta["deletionTimestamp"] = metav1.rfc3339()
            meta["deletionGracePeriodSeconds"] = grace
            if strategy.on_delete is not None:
                strategy.on_delete(new)
        if options.dry_run:
            return new
        if _finalized(new):
            return _remove_row(outbox, row, old, old, by)
        if new == old:
            return old
        return _save(outbox, row, old, new, by, None)


def delete_pod(cluster: Cluster, namespace: str, name: str, *, by: str, grace_seconds: int | None = None) -> dict:
    """Delete a pod as a component does (`delete` has the pod's grace rules).

    A pod whose kubelet has started it goes Terminating (deletionTimestamp) and the kubelet
    removes it once its containers have stopped. A pod no kubelet has touched yet, or a
    deletion with grace 0 (`--grace-period=0 --force`), is removed at once.
    """
    return delete(cluster, kinds.POD, namespace, name, by=by, options=DeleteOptions(grace_seconds=grace_seconds))


def _check_preconditions(kind: kinds.Kind, doc: dict, options: DeleteOptions) -> None:
    meta = doc["metadata"]
    for label, wanted, actual in (("UID", options.uid, meta["uid"]), ("ResourceVersion", options.resource_version, meta["resourceVersion"])):
        if wanted is not None and str(wanted) != actual:
            raise conflict_because(kind.plural, kind.group, meta["name"], f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {actual}")


def _gc_finalizers(finalizers: list[str], options: DeleteOptions) -> list[str]:
    """deletionFinalizersForGarbageCollection: the policy asked for, as a finalizer.

    Without a policy the object keeps what an earlier delete asked (every kind podflow
    serves defaults to Background, which needs no finalizer).
    """
    policy = options.propagation
    if policy is None and options.orphan_dependents is not None:
        policy = "Orphan" if options.orphan_dependents else "Background"
    if policy is None:
        return finalizers
    kept = [f for f in finalizers if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
    if policy == "Orphan":
        kept.append(ORPHAN_FINALIZER)
    elif policy == "Foreground":
        kept.append(FOREGROUND_FINALIZER)
    return kept


def _grace_seconds(doc: dict, options: DeleteOptions) -> int:
    """The pod strategy's CheckGracefulTermination; other kinds have no grace period.

    A pod no kubelet has started, or one that has finished, goes at once: nothing runs
    that could be stopped gracefully.
    """
    if doc.get("kind") != "Pod":
        return 0
    spec, status = doc.get("spec") or {}, doc.get("status") or {}
    grace = options.grace_seconds if options.grace_seconds is not None else spec.get("terminationGracePeriodSeconds", 30)
    if not isinstance(grace, int) or isinstance(grace, bool):
        grace = 30
    if not status.get("hostIP") or status.get("phase") in ("Succeeded", "Failed"):
        return 0
    return 1 if grace < 0 else grace


def remove(cluster: Cluster, kind: kinds.Kind, namespace: str, name: str, *, by: str, expected_uid: str | None = None) -> dict:
    """Delete the object from the store now. Returns the last state, as stored in the log."""
    with locked(cluster, _one_row(kind, namespace, name)) as outbox:
        row = _stored(cluster, kind, namespace, name, expected_uid)
        return _remove_row(outbox, row, row.doc, row.doc, by)


def remove_all(cluster: Cluster, *, by: str) -> int:
    """Delete every object of the cluster now, each at its own revision with its DELETED
    change, and forget the step log: a sandbox's reset. Open watches and streams see every
    deletion; the revision keeps increasing. Returns how many objects were removed."""
    with locked(cluster) as outbox:
        found = list(Object.objects.filter(cluster=cluster).order_by("id"))
        for stored in found:
            row = _Row(stored.cluster_id, stored.kind, stored.namespace, stored.name, stored.uid, stored.pk, stored.doc)
            final = copy.deepcopy(stored.doc)
            revision = outbox.next_revision()
            final["metadata"]["resourceVersion"] = str(revision)
            _record(outbox, Change.DELETED, row, stored.doc, final, by, None, revision=revision)
        Object.objects.filter(pk__in=[stored.pk for stored in found]).delete()
        outbox.forget()
        Step.objects.filter(cluster=cluster).delete()
        return len(found)


def compact(cluster: Cluster, keep: int) -> int:
    """Forget all but the last `keep` revisions of the change log, as etcd compacts.

    A watch or stream that resumes from before what is kept gets 410 Expired (or a fresh
    snapshot) and lists again. Steps of pods that no longer exist go with their revisions.
    Returns the number of change rows removed.
    """
    cutoff = current_revision(cluster) - keep
    if cutoff <= 0:
        return 0
    removed, _ = Change.objects.filter(cluster=cluster, revision__lte=cutoff).delete()
    live = Object.objects.filter(cluster=cluster, kind="Pod").values_list("uid", flat=True)
    Step.objects.filter(cluster=cluster, revision__lte=cutoff).exclude(pod_uid__in=live).delete()
    return removed


def set_speed(cluster: Cluster, speed: str) -> None:
    Cluster.objects.filter(pk=cluster.pk).update(speed=speed)
    cluster.speed = speed
    audit.announce_on_commit(cluster.name, audit.CLUSTER)


# --- internals --------------------------------------------------------------------------

@dataclass
class _Row:
    """An object's row as a write needs it: its identity, and what is stored."""

    cluster_id: int
    kind: str
    namespace: str
    name: str
    uid: str
    id: int | None = None
    doc: dict | None = None
    text: str = ""

    def copy(self) -> dict:
        """A copy of the stored document to edit (decoded again from its text: quicker
        than a deep copy, and the same)."""
        return jsontext.loads(self.text) if self.text else _copy(self.doc)


def _stored(cluster: Cluster, kind: kinds.Kind, namespace: str, name: str, expected_uid: str | None = None) -> _Row:
    """The stored row, or 404 (also when it is a newer object of the same name)."""
    ns = _ns(kind, namespace)
    found = _lookup(cluster, kind.kind, ns, name)
    if found is None or (expected_uid and found.uid != expected_uid):
        raise not_found(kind.plural, kind.group, name)
    return _Row(cluster.pk, kind.kind, ns, name, found.uid, found.id, jsontext.loads(found.text), found.text)


def _remove_row(outbox: Outbox, row: _Row, old: dict, last: dict, by: str) -> dict:
    """Remove the row; the DELETED change carries the object's last state."""
    final = _copy(last)
    revision = outbox.next_revision()
    final["metadata"]["resourceVersion"] = str(revision)
    rows.delete_object(row.cluster_id, row.kind, row.namespace, row.name)
    _knows(outbox, row, None, owners=(_owner_of(old),))
    _record(outbox, Change.DELETED, row, old, final, by, None, revision=revision)
    return final


_SCALARS = (str, int, float, bool, type(None))


def _copy(value: Any) -> Any:
    """A deep copy of a document: JSON's dicts and lists copied, its scalars shared (what
    copy.deepcopy does for them, without its bookkeeping); anything else deep-copied."""
    if isinstance(value, dict):
        return {key: item if type(item) in _SCALARS else _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [item if type(item) in _SCALARS else _copy(item) for item in value]
    if type(value) in _SCALARS:
        return value
    return copy.deepcopy(value)


def _at(doc: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _put(doc: dict, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(doc.get(key), dict):
            doc[key] = {}
        doc = doc[key]
    doc[path[-1]] = value


def _finalized(doc: dict) -> bool:
    """Being deleted, with no finalizer left and no grace period running: it may go."""
    meta = doc["metadata"]
    if not meta.get("deletionTimestamp") or meta.get("finalizers") or meta.get("deletionGracePeriodSeconds"):
        return False
    return not (registry.strategy(doc.get("kind", "")).spec_finalizers and (doc.get("spec") or {}).get("finalizers"))


# Finalizers every API server knows; any other must be a qualified name (example.com/hold).
_STANDARD_FINALIZERS = (ORPHAN_FINALIZER, FOREGROUND_FINALIZER, NAMESPACE_FINALIZER)


def _finalizer_causes(old: dict | None, new: dict) -> list[Cause]:
    """ValidateFinalizers, and ValidateObjectMetaUpdate's rule that an object being
    deleted may lose finalizers but not gain them."""
    meta = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
    finalizers = meta.get("finalizers")
    if finalizers is None:
        return []
    if not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers):
        return [validation.invalid("metadata.finalizers", finalizers, "must be a list of strings")]
    causes = [
        validation.invalid("metadata.finalizers", f, "name is neither a standard finalizer name nor is it fully qualified")
        for f in finalizers
        if f not in _STANDARD_FINALIZERS and "/" not in f
    ]
    if ORPHAN_FINALIZER in finalizers and FOREGROUND_FINALIZER in finalizers:
        causes.append(validation.invalid("metadata.finalizers", FOREGROUND_FINALIZER, "finalizer foregroundDeletion and orphan cannot be both set"))
    if old is None or not old["metadata"].get("deletionTimestamp"):
        return causes
    before = set(old["metadata"].get("finalizers") or [])
    added = [f for f in finalizers if f not in before]
    if added:
        shown = ", ".join(f'"{f}"' for f in added)
        causes.append(Cause("metadata.finalizers", f"Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{shown}}}", "FieldValueForbidden"))
    return causes


def _admit_in_namespace(cluster: Cluster, kind: kinds.Kind, namespace: str, name: str, by: str) -> None:
    """NamespaceLifecycle admission: the namespace must exist and not be terminating.

    The components write only beside objects that already live in a namespace, so a
    missing one is checked for clients only. Events the components write stay allowed in
    a terminating namespace: the kubelet keeps its memory of a pod's stages in them, and
    needs it to finish stopping the pods the namespace controller deletes. So such an
    Event is admitted without looking the namespace up (the scheduler's only create).
    """
    if kind.kind == "Event" and by != API:
        return
    outbox = _outbox()
    if outbox is not None and namespace in outbox.namespaces:
        deleting = outbox.namespaces[namespace]
    else:
        found = _lookup(cluster, "Namespace", "", namespace)
        deleting = None if found is None else (jsontext.loads(found.text)["metadata"].get("deletionTimestamp") or "")
        if outbox is not None:
            outbox.namespaces[namespace] = deleting
    if deleting is None:
        if by == API:
            raise not_found("namespaces", "", namespace)
        return
    if deleting:
        raise forbidden(
            kind.plural, kind.group, name,
            f"unable to create new content in namespace {namespace} because it is being terminated",
            [Cause("metadata.namespace", f"namespace {namespace} is being terminated", "NamespaceTerminating")],
        )


def _save(outbox: Outbox, row: _Row, old: dict, new: dict, by: str, steps: StepsFor | None) -> dict:
    revision = outbox.next_revision()
    new["metadata"]["resourceVersion"] = str(revision)
    text, size = _encoded(new)
    updated = metav1.now()
    rows.update_object(row.cluster_id, row.kind, row.namespace, row.name, revision, _node_of(new), _owner_of(new), updated, text)
    _knows(outbox, row, text, updated, (_owner_of(old), _owner_of(new)))
    _record(outbox, Change.MODIFIED, row, old, new, by, steps, revision=revision, size_hint=size, text=text)
    return new


def _record(
    outbox: Outbox, type_: str, row: _Row, old: dict | None, new: dict, by: str, steps: StepsFor | None,
    revision: int | None = None, size_hint: int | None = None, text: str | None = None,
) -> None:
    revision = revision or int(new["metadata"]["resourceVersion"])
    moment = metav1.now()
    if text is None:
        text = jsontext.ascii_text(new)
    outbox.log.append(rows.ChangeRow(row.cluster_id, revision, type_, row.kind, row.namespace, row.name, row.uid, text, moment))
    if row.kind == "Namespace":
        outbox.namespaces.pop(row.name, None)
    step_rows: list[Step] = []
    if steps is not None:
        for record in steps(new, revision):
            step_rows.append(
                Step(
                    cluster_id=row.cluster_id,
                    revision=revision,
                    pod_uid=new["metadata"]["uid"],
                    namespace=row.namespace,
                    pod_name=row.name,
                    number=record.number,
                    status=record.status,
                    component=record.component,
                    actor=record.actor,
                    object_ref=record.object_ref or f"Pod {row.namespace}/{row.name}",
                    text_en=record.text_en,
                    text_ko=record.text_ko,
                    time=moment,
                )
            )
        # A step happens once per pod: a late duplicate reconcile (or a pod Ready again
        # after a spell of not Ready) records nothing more, and publishes nothing more —
        # what is streamed must be what the step log holds.
        for step in step_rows:
            rows.insert_step(step, lambda recorded, step=step: recorded or outbox.unrecorded.setdefault(id(step), step))
    outbox.changes.append(Committed(type_, revision, old, new, by, tuple(step_rows), size_hint, moment))


def _kind_of(doc: Any) -> kinds.Kind:
    if not isinstance(doc, dict):
        raise APIError(400, "BadRequest", "the request body must be a JSON object")
    kind = kinds.BY_KIND.get(doc.get("kind")) if isinstance(doc.get("kind"), str) else None
    if kind is None:
        raise APIError(400, "BadRequest", f"no kind {doc.get('kind')!r} is registered")
    return kind


def _one_row(kind: kinds.Kind, namespace: str, name: str) -> tuple[tuple[str, str, str]]:
    """The row a write of one named object looks up, as `locked(reads=)` takes it."""
    return ((kind.kind, _ns(kind, namespace), name),)


def _ns(kind: kinds.Kind, namespace: str) -> str:
    return namespace if kind.namespaced else ""


def _node_of(doc: dict) -> str:
    if doc.get("kind") == "Pod":
        return (doc.get("spec") or {}).get("nodeName") or ""
    return ""


def _owner_of(doc: dict) -> str:
    if doc.get("kind") == "Event":
        return (doc.get("involvedObject") or {}).get("uid", "")
    return metav1.controller_uid(doc)


def _display_name(doc: dict) -> str:
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return str(meta.get("name") or meta.get("generateName") or "")


# names.SimpleNameGenerator: five random characters after the prefix, and the prefix cut
# so that the name stays within 63 characters (maxNameLength - randomLength).
_GENERATED_RANDOM_LENGTH = 5
MAX_GENERATED_PREFIX = 63 - _GENERATED_RANDOM_LENGTH


def generate_name(prefix: str) -> str:
    return prefix[:MAX_GENERATED_PREFIX] + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(_GENERATED_RANDOM_LENGTH))


def _unique_name(cluster: Cluster, kind: kinds.Kind, namespace: str, prefix: str, first: str) -> str:
    """The validated candidate, or another one while it is taken (RetryGenerateName)."""
    namespace = _ns(kind, namespace)
    taken = _taken_names(cluster, kind.kind, namespace, prefix)
    name = first
    for _ in range(20):
        if not taken(name):
            return name
        name = generate_name(prefix)
    raise APIError(409, "AlreadyExists", f"could not generate a unique name from {prefix!r}")


def _taken_names(cluster: Cluster, kind: str, namespace: str, prefix: str) -> Callable[[str], bool]:
    """Whether a name is taken. Inside a transaction the names with this prefix are read
    once for it (a ReplicaSet creating fifty pods asked the database fifty times); what
    this transaction has itself written or removed since is known (`known`), and nobody
    else writes under the lock."""
    outbox = _outbox()
    if outbox is None:
        return lambda name: _lookup(cluster, kind, namespace, name) is not None
    key = ("names from", kind, namespace, prefix)
    names = outbox.memo.get(key)
    if names is None:
        names = outbox.memo[key] = frozenset(rows.names_from(cluster.pk, kind, namespace, prefix))

    def taken(name: str) -> bool:
        identity = (kind, namespace, name)
        return outbox.known[identity] is not None if identity in outbox.known else name in names

    return taken


def db_vendor() -> str:
    return connection.vendor
