"""The SQLite backend (config/sqlite): a connection Django closes is handed out again; and
the store's writers checkpoint the write-ahead log themselves (cluster/apiserver/store.py)."""
from __future__ import annotations

import threading

import pytest

from cluster.apiserver import store
from config.sqlite import base as pool


@pytest.fixture(autouse=True)
def _own_database(django_db_blocker):
    """These tests open a database file of their own, not the tests' database."""
    with django_db_blocker.unblock():
        yield
    pool._idle.clear()


def wrapper(path, init_command: str = "PRAGMA journal_mode=WAL;") -> pool.DatabaseWrapper:
    settings = {
        "NAME": str(path), "ENGINE": "config.sqlite", "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False, "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False, "TIME_ZONE": None, "USER": "", "PASSWORD": "", "HOST": "", "PORT": "", "TEST": {},
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "init_command": init_command},
    }
    return pool.DatabaseWrapper(settings, alias="pooled")


def raw(db: pool.DatabaseWrapper):
    db.ensure_connection()
    return db.connection


def test_a_connection_closed_idle_is_taken_again_by_the_next_thread(tmp_path):
    first = wrapper(tmp_path / "db.sqlite3")
    with first.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x INTEGER)")
    opened = raw(first)
    first.close()
    assert pool.pooled(first) == 1

    taken: list = []

    def request() -> None:  # a request's thread: a wrapper of its own, as Django gives it
        db = wrapper(tmp_path / "db.sqlite3")
        taken.append(raw(db))
        with db.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (1)")
            cursor.execute("SELECT count(*) FROM t")
            taken.append(cursor.fetchone()[0])
        db.close()

    thread = threading.Thread(target=request)
    thread.start()
    thread.join(timeout=10)
    assert taken == [opened, 1]
    assert pool.pooled(first) == 1


def test_a_connection_closed_inside_a_transaction_is_closed_not_kept(tmp_path):
    db = wrapper(tmp_path / "db.sqlite3")
    db.set_autocommit(False)
    with db.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x INTEGER)")
        cursor.execute("INSERT INTO t VALUES (1)")
    assert db.connection.in_transaction
    db.close()
    assert pool.pooled(db) == 0
    again = wrapper(tmp_path / "db.sqlite3")
    with again.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        assert cursor.fetchone()[0] == 0  # what the open transaction wrote was not kept either
    again.close()


def test_no_more_than_the_pools_size_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "POOL_MAX", 2)
    opened = [wrapper(tmp_path / "db.sqlite3") for _ in range(3)]
    for db in opened:
        raw(db)
    for db in opened:
        db.close()
    assert pool.pooled(opened[0]) == 2


# --- the write-ahead log's checkpoints -------------------------------------------------------

def pages_in_log(db) -> int:
    """Pages written to the log since it last started over (what a PASSIVE checkpoint reports)."""
    with db.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return cursor.fetchone()[1]


def test_settings_leave_sqlites_own_checkpoint_as_a_backstop():
    from config.settings import _database

    init = _database("sqlite:////tmp/podflow-settings-check.sqlite3")["OPTIONS"]["init_command"]
    assert "journal_mode=WAL" in init and "wal_autocheckpoint=10000" in init


@pytest.mark.parametrize("writers_checkpoint", [True, False])
def test_the_store_writers_keep_the_log_short(tmp_path, monkeypatch, writers_checkpoint):
    from config.settings import _database

    db = wrapper(tmp_path / "db.sqlite3", _database(f"sqlite:///{tmp_path}/db.sqlite3")["OPTIONS"]["init_command"])
    monkeypatch.setattr(store, "connection", db)
    monkeypatch.setattr(store, "CHECKPOINT_EVERY", 8)
    store._writer.commits = 0
    with db.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x TEXT)")
    for _ in range(200):  # a page or two each
        with db.cursor() as cursor:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("INSERT INTO t VALUES (?)", ["x" * 3000])
            cursor.execute("COMMIT")
        if writers_checkpoint:
            store._checkpoint_now_and_then()  # what a writer does once out of the queue
    pages = pages_in_log(db)
    db.close()
    if writers_checkpoint:
        assert pages <= 8 * 4, f"{pages} pages in the log"
    else:  # the test can tell: SQLite alone leaves them all there, far below its 10,000
        assert pages >= 200, f"only {pages} pages in the log"
