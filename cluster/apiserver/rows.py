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
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterable, Iterator, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections

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

    def __init__(self, raw, vendor: str) -> None:
        self.raw, self.vendor = raw, vendor

    def execute(self, template: str, params: list | tuple = ()) -> "_Cursor":
        self.raw.execute(_statement(template, self.vendor), params)
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
        raw = db.connection.cursor()
        try:
            yield _Cursor(raw, db.vendor)
        finally:
            raw.close()


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

    id: int
    uid: str
    text: str  # the document's JSON as stored


# --- the cluster's revision ---------------------------------------------------------------

def revision_for_update(cluster_id: int) -> int:
    """The cluster's revision, locking its row where the database locks rows (PostgreSQL:
    the cluster's write lock). On SQLite the IMMEDIATE transaction already holds the
    database's write lock."""
    with _cursor() as cursor:
        lock = " FOR UPDATE" if cursor.vendor == "postgresql" else ""
        found = cursor.execute(f"SELECT revision FROM {_CLUSTER} WHERE id = %s{lock}", [cluster_id]).fetchone()
    if found is None:
        raise Cluster.DoesNotExist(f"cluster {cluster_id} does not exist")
    return int(found[0])


def set_revision(cluster_id: int, revision: int) -> None:
    with _cursor() as cursor:
        cursor.execute(f"UPDATE {_CLUSTER} SET revision = %s WHERE id = %s", [revision, cluster_id])


# --- objects ------------------------------------------------------------------------------

def stored(cluster_id: int, kind: str, namespace: str, name: str) -> Stored | None:
    """The row of one object, by its identity (the object_identity index)."""
    with _cursor() as cursor:
        found = cursor.execute(
            f"SELECT id, uid, doc FROM {_OBJECT} WHERE cluster_id = %s AND kind = %s AND namespace = %s AND name = %s",
            [cluster_id, kind, namespace, name],
        ).fetchone()
    return Stored(*found) if found else None


def text_by_uid(cluster_id: int, uid: str) -> str | None:
    with _cursor() as cursor:
        found = cursor.execute(f"SELECT doc FROM {_OBJECT} WHERE uid = %s AND cluster_id = %s", [uid, cluster_id]).fetchone()
    return found[0] if found else None


def written_by_uid(cluster_id: int, uid: str) -> tuple[str, datetime] | None:
    """The document of one object and when its row was last written."""
    with _cursor() as cursor:
        found = cursor.execute(f"SELECT doc, updated FROM {_OBJECT} WHERE uid = %s AND cluster_id = %s", [uid, cluster_id]).fetchone()
    return (found[0], _aware(found[1])) if found else None


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


def texts_by_uid(cluster_id: int, uids: list[str]) -> list[str]:
    found: list[str] = []
    with _cursor() as cursor:
        for start in range(0, len(uids), 500):
            chunk = uids[start:start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT doc FROM {_OBJECT} WHERE uid IN ({marks}) AND cluster_id = %s", [*chunk, cluster_id])
            found.extend(text for (text,) in cursor.fetchall())
    return found


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


def exists(cluster_id: int, kind: str, namespace: str, name: str) -> bool:
    with _cursor() as cursor:
        return cursor.execute(
            f"SELECT 1 FROM {_OBJECT} WHERE cluster_id = %s AND kind = %s AND namespace = %s AND name = %s LIMIT 1",
            [cluster_id, kind, namespace, name],
        ).fetchone() is not None


def insert_object(
    cluster_id: int, kind: str, namespace: str, name: str, uid: str, revision: int,
    node_name: str, owner_uid: str, client: str, updated: datetime, text: str,
) -> None:
    with _cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_OBJECT} (cluster_id, kind, namespace, name, uid, resource_version, node_name, owner_uid, client, updated, doc) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, {doc})",
            [cluster_id, kind, namespace, name, uid, revision, node_name, owner_uid, client, _time(updated), text],
        )


def update_object(row_id: int, revision: int, node_name: str, owner_uid: str, updated: datetime, text: str) -> None:
    with _cursor() as cursor:
        cursor.execute(
            f"UPDATE {_OBJECT} SET resource_version = %s, node_name = %s, owner_uid = %s, updated = %s, doc = {{doc}} WHERE id = %s",
            [revision, node_name, owner_uid, _time(updated), text, row_id],
        )


def delete_object(row_id: int) -> None:
    with _cursor() as cursor:
        cursor.execute(f"DELETE FROM {_OBJECT} WHERE id = %s", [row_id])


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


def insert_changes(rows: Iterable[ChangeRow]) -> None:
    """Append change-log rows, all in one statement prepared once."""
    params = [(r.cluster_id, r.revision, r.type, r.kind, r.namespace, r.name, r.uid, r.text, _time(r.time)) for r in rows]
    if not params:
        return
    with _cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {_CHANGE} (cluster_id, revision, type, kind, namespace, name, uid, doc, time) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, {doc}, %s)",
            params,
        )


def insert_step(step: Step) -> bool:
    """Record one step unless that pod has it already (one_step_per_pod). Whether it was
    recorded now."""
    with _cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_STEP} (cluster_id, revision, pod_uid, namespace, pod_name, number, status, component, actor, object_ref, text_en, text_ko, time) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [
                step.cluster_id, step.revision, step.pod_uid, step.namespace, step.pod_name, step.number, step.status,
                step.component, step.actor, step.object_ref, step.text_en, step.text_ko, _time(step.time),
            ],
        )
        return cursor.rowcount == 1
