"""The SQLite backend's pool (config/sqlite): a connection Django closes is handed out again."""
from __future__ import annotations

import threading

import pytest

from config.sqlite import base as pool


@pytest.fixture(autouse=True)
def _own_database(django_db_blocker):
    """These tests open a database file of their own, not the tests' database."""
    with django_db_blocker.unblock():
        yield
    pool._idle.clear()


def wrapper(path) -> pool.DatabaseWrapper:
    settings = {
        "NAME": str(path), "ENGINE": "config.sqlite", "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False, "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False, "TIME_ZONE": None, "USER": "", "PASSWORD": "", "HOST": "", "PORT": "", "TEST": {},
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
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
