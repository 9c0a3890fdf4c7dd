"""The store's rows, written and read in plain SQL.

Every revision writes an object row and a change-log row, and most read one object row
first: the ORM's per-query work (building the query, a model instance per row, encoding
the document again for each table, the cursor wrappers' rewriting and logging of every
statement) cost more than the database did. Only the API-server layer
(cluster/apiserver/store.py) calls these; they take and give what the store already has
at hand — the document's JSON text, encoded once — and know nothing of revisions, locks
or listeners.

They run on the connection Django has open, inside its transactions, with the database's
own cursor; errors come out as Django's (IntegrityError …) as from any query. The same
statements serve SQLite and PostgreSQL: a document goes in as JSON text (cast to jsonb on
PostgreSQL) and comes back as text on both (Django has psycopg load jsonb as text too).

On PostgreSQL, inside a transaction, the writes are held back and sent together, in one
pipeline, with the next statement that needs an answer: a read here, any statement Django
sends (a savepoint, an ORM query), or `send_held` at the end of the store's transaction.
The database then sees them in the order they were made, as if each had been sent alone,
but the writer waits for one round trip instead of one per write — and it waits holding
its cluster's lock, which every other writer of that cluster is queued on. A write's
error (a unique constraint) comes out of the statement that sent it. SQLite runs in this
process: each write is done at once.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from cluster.apimachinery import jsontext
from cluster.models import Change, Cluster, Object, Step

_OBJECT = Object._meta.db_table
_CHANGE = Change._meta.db_table
_STEP = Step._meta.db_table
_CLUSTER = Cluster._meta.db_table

# Statements are written with %s for a parameter and {doc} for a JSON document.
_statements: dict[tuple[str, str], str] = {}


def _statement(template: str, vendor: str) -> str:
    found = _statements.get((template, vendor))
    if found is None:
        if vendor == "postgresql":
            found = template.replace("{doc}", "%s::jsonb")
        else:
            found = template.replace("%s", "?").replace("{doc}", "?")
        _statements[(template, vendor)] = found
    return found


class _Cursor:
    """A database cursor that takes the statements above."""

    def __init__(self, raw, vendor: str, db) -> None:
        self.raw, self.vendor, self.db = raw, vendor, db

    def execute(self, template: str, params: list | tuple = ()) -> "_Cursor":
        statement = _statement(template, self.vendor)
        if getattr(self.db, "podflow_held", None):
            _send(self.db, then=lambda: self.raw.execute(statement, params))
        else:
            self.raw.execute(statement, params)
        return self

    def executemany(self, template: str, params: list) -> None:
        self.raw.executemany(_statement(template, self.vendor), params)

    def fetchone(self):
        return self.raw.fetchone()

    def fetchall(self):
        return self.raw.fetchall()

    @property
    def rowcount(self) -> int:
        return self.raw.rowcount


@contextmanager
def _cursor() -> Iterator[_Cursor]:
    db = connections[DEFAULT_DB_ALIAS]
    if db.connection is None:
        db.ensure_connection()
    if db.needs_rollback:
        db.validate_no_broken_transaction()
    with db.wrap_database_errors:
        raw = _raw_cursor(db)
        try:
            yield _Cursor(raw, db.vendor, db)
        finally:
            raw.close()


def _raw_cursor(db):
    """The driver's own cursor. On PostgreSQL one that binds parameters on the server
    (whatever cursor Django's queries use): psycopg then prepares a statement run often on
    a connection (its prepare_threshold, which config/settings.py sets: Django's default
    turns preparing off), so the server parses and plans each of these once per
    connection, not at every call."""
    if db.vendor == "postgresql":
        import psycopg

        return psycopg.Cursor(db.connection)
    return db.connection.cursor()


# --- writes held back on PostgreSQL ---------------------------------------------------------

class _Held(NamedTuple):
    statement: str
    params: list | tuple
    done: Callable[[int], object] | None  # given the statement's row count once it has run
    many: bool


# How a write of an object row folds into the held write of that row before it (given
# that write's statement and parameters): its new parameters, or None if it cannot.
Fold = Callable[[str, list], "list | None"]


def _write(
    template: str, params: list | tuple, *, done: Callable[[int], object] | None = None, many: bool = False,
    row: tuple | None = None, fold: Fold | None = None, barrier: bool = False,
) -> None:
    """Run a write now, or on PostgreSQL inside a transaction hold it for the next round trip.

    `row` names the object row it writes. While held, a later write of the same row folds
    into the earlier one (`fold`): a pod's stages at instant speed write its row five times
    in one transaction, each a revision of its own in the change log, but only the last
    state needs to reach the row. Never across a savepoint (`barrier`): rolling one back
    forgets the writes held since it, and must leave the earlier ones as they were."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql" and db.in_atomic_block:
        held = getattr(db, "podflow_held", None)
        if held is None:
            held = db.podflow_held = []
            db.podflow_sent = 0
            db.podflow_rows = {}  # row → (its held write's index since the connection opened, that write)
            db.podflow_barrier = -1
            # Django's own statements (savepoints, ORM reads) go after what is held. First
            # in the list, so that connection.execute_wrapper()'s pop takes its own.
            db.execute_wrappers.insert(0, _send_held_first)
        index = db.podflow_sent + len(held)
        if barrier:
            db.podflow_barrier = index
        if row is not None:
            earlier = db.podflow_rows.get(row)
            if earlier is not None and fold is not None and earlier[0] > db.podflow_barrier:
                position = earlier[0] - db.podflow_sent
                if 0 <= position < len(held) and held[position] is earlier[1]:
                    folded = fold(earlier[1].statement, list(earlier[1].params))
                    if folded is not None:
                        held[position] = earlier[1]._replace(params=folded)
                        db.podflow_rows[row] = (earlier[0], held[position])
                        return
        write = _Held(_statement(template, db.vendor), params, done, many)
        held.append(write)
        if row is not None:
            db.podflow_rows[row] = (index, write)
        return
    with _cursor() as cursor:
        if many:
            cursor.executemany(template, params)
        else:
            cursor.execute(template, params)
        if done is not None:
            done(cursor.rowcount)


def _send(db, then: Callable[[], object] | None = None) -> None:
    """Send the held writes in one pipeline, and `then` (a statement whose answer the
    caller reads) after them in the same round trip; each write's `done` gets its row count."""
    held = list(db.podflow_held)
    db.podflow_held.clear()
    db.podflow_rows.clear()
    db.podflow_sent += len(held)
    raw = db.connection
    sent = []
    try:
        with raw.pipeline():
            for write in held:
                cursor = _raw_cursor(db)
                sent.append((cursor, write.done))
                if write.many:
                    cursor.executemany(write.statement, write.params)
                else:
                    # COMMIT is sent as it is, never prepared as a statement of the session.
                    cursor.execute(write.statement, write.params, prepare=False if write.statement == "COMMIT" else None)
            if then is not None:
                then()
        for cursor, done in sent:
            if done is not None:
                done(cursor.rowcount)
    finally:
        for cursor, _ in sent:
            cursor.close()


def _send_held_first(execute, sql, params, many, context):
    send_held(context["connection"])
    return execute(sql, params, many, context)


def send_held(db=None) -> None:
    """Send what is held now (the store does before its transaction commits)."""
    db = connections[DEFAULT_DB_ALIAS] if db is None else db
    if getattr(db, "podflow_held", None):
        with db.wrap_database_errors:
            _send(db)


def send_held_and_commit() -> None:
    """The end of a transaction of the store's own (not one inside a caller's): on
    PostgreSQL the held writes and the COMMIT go in one round trip instead of two. The
    commit Django makes when its atomic block ends then finds the transaction over and
    sends nothing (psycopg commits only a transaction in progress). With nothing held,
    or elsewhere, the commit is Django's own."""
    db = connections[DEFAULT_DB_ALIAS]
    # Not a transaction Django is to roll back (a failed query caught inside it).
    if db.vendor == "postgresql" and getattr(db, "podflow_held", None) and not db.needs_rollback:
        db.podflow_held.append(_Held("COMMIT", (), None, False))
    send_held(db)


@contextmanager
def savepoint() -> Iterator[None]:
    """A savepoint: what the block wrote is undone if it raises, and the transaction goes on.

    On PostgreSQL inside a transaction the SAVEPOINT and its RELEASE are held like the
    writes (one name, as savepoints of one name nest: RELEASE and ROLLBACK TO take the
    latest); a block that fails before any of it was sent is forgotten without a round
    trip. Elsewhere Django's own.
    """
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or not db.in_atomic_block:
        with transaction.atomic():
            yield
        return
    mark = held_mark()
    _write("SAVEPOINT podflow", [], barrier=True)
    try:
        yield
    except BaseException:
        sent = db.podflow_sent > mark
        drop_held(mark)
        if sent:
            with _cursor() as cursor:
                cursor.execute("ROLLBACK TO SAVEPOINT podflow")
                cursor.execute("RELEASE SAVEPOINT podflow")
        raise
    _write("RELEASE SAVEPOINT podflow", [], barrier=True)


def held_mark() -> int:
    """Where the held writes stand: give it to `drop_held` to forget what is held after it."""
    db = connections[DEFAULT_DB_ALIAS]
    return getattr(db, "podflow_sent", 0) + len(getattr(db, "podflow_held", None) or ())


def drop_held(mark: int) -> None:
    """Forget the writes held since `mark`, unsent: their transaction or savepoint is being
    rolled back (what was already sent the rollback undoes)."""
    db = connections[DEFAULT_DB_ALIAS]
    held = getattr(db, "podflow_held", None)
    if held:
        del held[max(0, mark - db.podflow_sent):]


def _time(value: datetime):
    """A time as the database takes it (what Django's adapt_datetimefield_value gives: on
    SQLite the naive UTC time as text)."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "sqlite" and value.tzinfo is timezone.utc:
        return str(value.replace(tzinfo=None))
    return db.ops.adapt_datetimefield_value(value)


def _aware(value) -> datetime:
    """A time column as read: SQLite's comes back naive (it is stored in UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class Stored(NamedTuple):
    """An object's row as the store reads it before writing it."""

    id: int | None  # None where the store did not read it (a row it wrote, or listed)
    uid: str
    text: str  # the document's JSON as stored
    updated: datetime | None = None  # when it was last written, where known


# --- the cluster's revision ---------------------------------------------------------------

def _revision_statement(vendor: str) -> str:
    # NO KEY: the lock a write of the row's other columns takes, so that inserting a row
    # that refers to the cluster (its foreign-key check takes KEY SHARE) does not wait for
    # the cluster's writer; it excludes the other writers all the same.
    lock = " FOR NO KEY UPDATE" if vendor == "postgresql" else ""
    return f"SELECT revision FROM {_CLUSTER} WHERE id = %s{lock}"


def _revision(cluster_id: int, found) -> int:
    if found is None:
        raise Cluster.DoesNotExist(f"cluster {cluster_id} does not exist")
    return int(found[0])


def revision_for_update(cluster_id: int) -> int:
    """The cluster's revision, locking its row where the database locks rows (PostgreSQL:
    the cluster's write lock). On SQLite the IMMEDIATE transaction already holds the
    database's write lock."""
    with _cursor() as cursor:
        return _revision(cluster_id, cursor.execute(_revision_statement(cursor.vendor), [cluster_id]).fetchone())


def revision_for_update_and_rows(cluster_id: int, identities: list[tuple[str, str, str]]) -> tuple[int, list[Stored | None]]:
    """`revision_for_update`, and the rows of these identities as `stored` reads them once
    the lock is held. On PostgreSQL in one round trip (after the transaction's BEGIN): the
    reads follow the lock in one pipeline, and each statement of a READ COMMITTED
    transaction sees what was committed before it started, so they see every write made
    before the lock was granted. A client's create or update otherwise waited for the lock,
    then for the namespace, then for the name, each a round trip."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or not identities or getattr(db, "podflow_held", None):
        return revision_for_update(cluster_id), [stored(cluster_id, *identity) for identity in identities]
    db.ensure_connection()
    with db.wrap_database_errors:
        lock = _raw_cursor(db)
        reads = [_raw_cursor(db) for _ in identities]
        try:
            with db.connection.pipeline():
                lock.execute(_revision_statement(db.vendor), [cluster_id])
                for read, identity in zip(reads, identities):
                    read.execute(_STORED, [cluster_id, *identity])
            found = lock.fetchone()
            rows = [read.fetchone() for read in reads]
        finally:
            for one in (lock, *reads):
                one.close()
    return _revision(cluster_id, found), [_stored_row(row) for row in rows]


def set_revision(cluster_id: int, revision: int) -> None:
    _write(f"UPDATE {_CLUSTER} SET revision = %s WHERE id = %s", [revision, cluster_id])


# --- objects ------------------------------------------------------------------------------

# A row is read and written by its identity (the object_identity index), not by its id: a
# row inserted in the same transaction may not have been sent yet, and has no id to give.
_IDENTITY = "cluster_id = %s AND kind = %s AND namespace = %s AND name = %s"
_STORED = f"SELECT id, uid, doc, updated FROM {_OBJECT} WHERE {_IDENTITY}"


def _stored_row(found) -> Stored | None:
    return Stored(found[0], found[1], found[2], _aware(found[3])) if found else None


def stored(cluster_id: int, kind: str, namespace: str, name: str) -> Stored | None:
    """The row of one object, by its identity (the object_identity index)."""
    with _cursor() as cursor:
        return _stored_row(cursor.execute(_STORED, [cluster_id, kind, namespace, name]).fetchone())


def names_from(cluster_id: int, kind: str, namespace: str, prefix: str) -> list[str]:
    """The names of a kind in a namespace that begin with `prefix`."""
    with _cursor() as cursor:
        cursor.execute(
            f"SELECT name FROM {_OBJECT} WHERE cluster_id = %s AND kind = %s AND namespace = %s AND substr(name, 1, %s) = %s",
            [cluster_id, kind, namespace, len(prefix), prefix],
        )
        return [name for (name,) in cursor.fetchall()]


def text_by_uid(cluster_id: int, uid: str) -> str | None:
    with _cursor() as cursor:
        found = cursor.execute(f"SELECT doc FROM {_OBJECT} WHERE uid = %s AND cluster_id = %s", [uid, cluster_id]).fetchone()
    return found[0] if found else None


def written_by_uid(cluster_id: int, uid: str) -> tuple[str, datetime, str] | None:
    """The document of one object, when its row was last written, and its kind."""
    with _cursor() as cursor:
        found = cursor.execute(f"SELECT doc, updated, kind FROM {_OBJECT} WHERE uid = %s AND cluster_id = %s", [uid, cluster_id]).fetchone()
    return (found[0], _aware(found[1]), found[2]) if found else None


def _chunks(values: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _by_uids(columns: str, cluster_id: int, uids: list[str]) -> list[tuple]:
    """These columns of the objects of these uids that exist, 500 uids a statement."""
    found: list[tuple] = []
    with _cursor() as cursor:
        for chunk in _chunks(uids):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT {columns} FROM {_OBJECT} WHERE uid IN ({marks}) AND cluster_id = %s", [*chunk, cluster_id])
            found.extend(cursor.fetchall())
    return found


def written_by_uids(cluster_id: int, uids: list[str]) -> list[tuple[str, str, datetime]]:
    """(kind, document, update time) of the objects of these uids that exist."""
    return [(kind, text, _aware(updated)) for kind, text, updated in _by_uids("kind, doc, updated", cluster_id, uids)]


class Written(NamedTuple):
    name: str
    text: str
    updated: datetime
    revision: int


def written(cluster_id: int, kind: str, owner_uid: str) -> list[Written]:
    """The objects of one kind that one object owns (or, for Events, are about it), each
    with when it was last written and at which revision, in revision order."""
    with _cursor() as cursor:
        cursor.execute(
            f"SELECT name, doc, updated, resource_version FROM {_OBJECT} WHERE cluster_id = %s AND kind = %s AND owner_uid = %s ORDER BY resource_version",
            [cluster_id, kind, owner_uid],
        )
        return [Written(name, text, _aware(updated), int(rv)) for name, text, updated, rv in cursor.fetchall()]


def written_owned(cluster_id: int, kind: str, owner_uids: list[str]) -> list[tuple[str, "Written"]]:
    """(owner uid, row) of the objects of one kind that these objects own, as `written`
    gives them, in revision order for each owner."""
    found: list[tuple[str, Written]] = []
    with _cursor() as cursor:
        for chunk in _chunks(owner_uids):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT owner_uid, name, doc, updated, resource_version FROM {_OBJECT} WHERE cluster_id = %s AND kind = %s AND owner_uid IN ({marks}) "
                "ORDER BY owner_uid, resource_version",
                [cluster_id, kind, *chunk],
            )
            found.extend((owner, Written(name, text, _aware(updated), int(rv))) for owner, name, text, updated, rv in cursor.fetchall())
    return found


def versions_on_node(cluster_id: int, kind: str, node_name: str) -> list[tuple[str, int, str]]:
    """(uid, resourceVersion, update time as text) of the objects of a kind bound to a node:
    keys to compare with what was read before, not times to parse."""
    with _cursor() as cursor:
        cursor.execute(
            f"SELECT uid, resource_version, CAST(updated AS TEXT) FROM {_OBJECT} WHERE cluster_id = %s AND kind = %s AND node_name = %s",
            [cluster_id, kind, node_name],
        )
        return [(uid, int(rv), updated) for uid, rv, updated in cursor.fetchall()]


def client_of(cluster_id: int, uid: str) -> str | None:
    """The client that created an object (its row's `client`), None if it is not stored."""
    with _cursor() as cursor:
        found = cursor.execute(f"SELECT client FROM {_OBJECT} WHERE uid = %s AND cluster_id = %s", [uid, cluster_id]).fetchone()
    return None if found is None else found[0]


def _field(path: tuple[str, ...], vendor: str) -> str:
    """A field of the document as JSON text, extracted by the database (NULL if missing):
    jsonb's #> on PostgreSQL (given back as text, as a document is), the -> operator on
    SQLite (3.38 and later)."""
    if vendor == "postgresql":
        # A path as an array, not as '{a,b}' text: braces are how the statements here mark
        # the document's parameter (`_statement`).
        return "doc #> ARRAY[%s]" % ", ".join(f"'{key}'" for key in path)
    return "doc -> '$.%s'" % ".".join(path)


def _loads(text: str | None) -> Any:
    return None if text is None else jsontext.loads(text)


def json_fields(
    cluster_id: int, kind: str | None, paths: tuple[tuple[str, ...], ...], *,
    owner_uids: list[str] | None = None, owned: bool = False, having: tuple[str, ...] | None = None, namespace: str | None = None,
) -> list[tuple]:
    """(uid, owner uid, *those fields' values) of the objects of one kind (None: of every
    kind) — those these objects own if `owner_uids` is given, those with any owner if
    `owned`, those whose document has the field `having` if given, those of `namespace`
    if given — a missing field None.
    The few fields a count reads, extracted by the database instead of whole documents
    decoded here. The keys in `paths` and `having` are the callers' own, never input."""
    found: list[tuple] = []
    with _cursor() as cursor:
        fields = ", ".join(_field(path, cursor.vendor) for path in paths)
        where, params = ["cluster_id = %s"], [cluster_id]
        if kind is not None:
            where.append("kind = %s")
            params.append(kind)
        if owned:
            where.append("owner_uid <> ''")
        if having is not None:
            where.append(f"{_field(having, cursor.vendor)} IS NOT NULL")
        if namespace is not None:
            where.append("namespace = %s")
            params.append(namespace)
        statement = f"SELECT uid, owner_uid, {fields} FROM {_OBJECT} WHERE {' AND '.join(where)}"
        if owner_uids is None:
            cursor.execute(statement, params)
            batches = [cursor.fetchall()]
        else:
            batches = []
            for chunk in _chunks(owner_uids):
                cursor.execute(statement + f" AND owner_uid IN ({', '.join(['%s'] * len(chunk))})", [*params, *chunk])
                batches.append(cursor.fetchall())
    for batch in batches:
        found.extend((uid, owner, *map(_loads, values)) for uid, owner, *values in batch)
    return found


def json_fields_of_clusters(cluster_ids: list[int], kind: str, paths: tuple[tuple[str, ...], ...], *, namespace: str | None = None) -> dict[int, list[tuple]]:
    """`json_fields` of one kind in each of these clusters, in one statement for 500 of
    them: what a periodic pass over every cluster (the heartbeat, the node monitor) reads to
    see which clusters it has work in, instead of a statement or two per cluster."""
    found: dict[int, list[tuple]] = {pk: [] for pk in cluster_ids}
    with _cursor() as cursor:
        fields = ", ".join(_field(path, cursor.vendor) for path in paths)
        for chunk in _chunks(list(found)):
            where, params = [f"cluster_id IN ({', '.join(['%s'] * len(chunk))})", "kind = %s"], [*chunk, kind]
            if namespace is not None:
                where.append("namespace = %s")
                params.append(namespace)
            cursor.execute(f"SELECT cluster_id, uid, owner_uid, {fields} FROM {_OBJECT} WHERE {' AND '.join(where)}", params)
            for cluster_id, uid, owner, *values in cursor.fetchall():
                found[cluster_id].append((uid, owner, *map(_loads, values)))
    return found


def namespaces_of(cluster_id: int, kind: str) -> list[str]:
    """The namespaces that hold at least one object of a kind."""
    with _cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT namespace FROM {_OBJECT} WHERE cluster_id = %s AND kind = %s", [cluster_id, kind])
        return [namespace for (namespace,) in cursor.fetchall()]


def bound_versions(cluster_id: int, kind: str) -> list[tuple[str, int, str]]:
    """(uid, resourceVersion, node) of the objects of a kind bound to any node, in
    (namespace, name) order."""
    with _cursor() as cursor:
        cursor.execute(
            f"SELECT uid, resource_version, node_name FROM {_OBJECT} WHERE cluster_id = %s AND kind = %s AND node_name <> '' ORDER BY namespace, name",
            [cluster_id, kind],
        )
        return [(uid, int(rv), node) for uid, rv, node in cursor.fetchall()]


def versioned_texts(cluster_id: int, uids: list[str]) -> list[tuple[str, int, str, str]]:
    """(uid, resourceVersion, update time as text, document) of the objects of these uids."""
    return [(uid, int(rv), updated, text) for uid, rv, updated, text in _by_uids("uid, resource_version, CAST(updated AS TEXT), doc", cluster_id, uids)]


def texts_by_uid(cluster_id: int, uids: list[str]) -> list[str]:
    return [text for (text,) in _by_uids("doc", cluster_id, uids)]


def texts(cluster_id: int, kind: str, namespace: str | None = None, *, node: str | None = None, owner_uid: str | None = None) -> list[str]:
    """The documents of one kind, in (namespace, name) order; `namespace`, `node` and
    `owner_uid` narrow them when given (the indexes end in namespace and name, so the
    order costs no sort)."""
    where, params = ["cluster_id = %s", "kind = %s"], [cluster_id, kind]
    for column, value in (("owner_uid", owner_uid), ("node_name", node), ("namespace", namespace)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    with _cursor() as cursor:
        cursor.execute(f"SELECT doc FROM {_OBJECT} WHERE {' AND '.join(where)} ORDER BY namespace, name", params)
        return [text for (text,) in cursor.fetchall()]


def insert_object(
    cluster_id: int, kind: str, namespace: str, name: str, uid: str, revision: int,
    node_name: str, owner_uid: str, client: str, updated: datetime, text: str,
) -> None:
    _write(
        f"INSERT INTO {_OBJECT} (cluster_id, kind, namespace, name, uid, resource_version, node_name, owner_uid, client, updated, doc) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, {doc})",
        [cluster_id, kind, namespace, name, uid, revision, node_name, owner_uid, client, _time(updated), text],
        row=(cluster_id, kind, namespace, name),
    )


def update_object(
    cluster_id: int, kind: str, namespace: str, name: str, revision: int, node_name: str, owner_uid: str, updated: datetime, text: str,
) -> None:
    when = _time(updated)

    def fold(statement: str, earlier: list) -> list | None:
        if statement.startswith("UPDATE "):
            return [revision, node_name, owner_uid, when, text, *earlier[5:]]
        if statement.startswith("INSERT "):  # the row's insert, now with its latest state
            earlier[5:8] = [revision, node_name, owner_uid]
            earlier[9:11] = [when, text]
            return earlier
        return None

    _write(
        f"UPDATE {_OBJECT} SET resource_version = %s, node_name = %s, owner_uid = %s, updated = %s, doc = {{doc}} WHERE {_IDENTITY}",
        [revision, node_name, owner_uid, when, text, cluster_id, kind, namespace, name],
        row=(cluster_id, kind, namespace, name), fold=fold,
    )


def delete_object(cluster_id: int, kind: str, namespace: str, name: str) -> None:
    # Held, it ends what a later write of the row could fold into.
    _write(f"DELETE FROM {_OBJECT} WHERE {_IDENTITY}", [cluster_id, kind, namespace, name], row=(cluster_id, kind, namespace, name))


# --- the change log and the step log -------------------------------------------------------

class ChangeRow(NamedTuple):
    cluster_id: int
    revision: int
    type: str
    kind: str
    namespace: str
    name: str
    uid: str
    text: str
    time: datetime


# On PostgreSQL the change log's rows go CHANGES_AT_ONCE to a statement (the rest one by
# one): two statements to prepare, and a statement's fixed cost once per that many rows.
CHANGES_AT_ONCE = 16
_CHANGE_INSERT = f"INSERT INTO {_CHANGE} (cluster_id, revision, type, kind, namespace, name, uid, doc, time) VALUES "
_CHANGE_VALUES = "(%s, %s, %s, %s, %s, %s, %s, {doc}, %s)"


def insert_changes(rows: Iterable[ChangeRow]) -> None:
    """Append change-log rows, all in one statement prepared once."""
    params = [(r.cluster_id, r.revision, r.type, r.kind, r.namespace, r.name, r.uid, r.text, _time(r.time)) for r in rows]
    if not params:
        return
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql" and len(params) >= CHANGES_AT_ONCE:
        whole = len(params) - len(params) % CHANGES_AT_ONCE
        _write(
            _CHANGE_INSERT + ", ".join([_CHANGE_VALUES] * CHANGES_AT_ONCE),
            [[value for row in params[start:start + CHANGES_AT_ONCE] for value in row] for start in range(0, whole, CHANGES_AT_ONCE)],
            many=True,
        )
        params = params[whole:]
        if not params:
            return
    _write(
        _CHANGE_INSERT + _CHANGE_VALUES,
        params,
        many=True,
    )


def insert_step(step: Step, done: Callable[[bool], object]) -> None:
    """Record one step unless that pod has it already (one_step_per_pod); `done` is told
    whether it was recorded (at once, or when the held writes are sent)."""
    _write(
        f"INSERT INTO {_STEP} (cluster_id, revision, pod_uid, namespace, pod_name, number, status, component, actor, object_ref, text_en, text_ko, time) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        [
            step.cluster_id, step.revision, step.pod_uid, step.namespace, step.pod_name, step.number, step.status,
            step.component, step.actor, step.object_ref, step.text_en, step.text_ko, _time(step.time),
        ],
        done=lambda count: done(count == 1),
    )
