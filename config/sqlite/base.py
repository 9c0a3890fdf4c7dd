"""Django's SQLite backend, with each process's connections kept and handed out again.

Django's connections belong to a thread, and with CONN_MAX_AGE 0 Django closes a
request's connection when the request ends: each request opened a new SQLite connection
(the file, the PRAGMAs, Django's SQL functions registered again) — a tenth of daphne's CPU
for a `kubectl get` or a pod's POST, when every request also ran on a new thread. Here a
connection Django closes, when it is idle (no transaction open), goes back to its
process's pool and the next connection Django opens in that process, on whichever thread,
is taken from there: the next request takes it.

An in-memory database (the unit tests') is never closed by Django and never pooled.
"""
from __future__ import annotations

import os
import threading

from django.db.backends.sqlite3 import base

# Idle connections kept per process and database file; more are closed.
POOL_MAX = 16

_lock = threading.Lock()
_idle: dict[tuple[int, str], list] = {}


def _key(wrapper: "DatabaseWrapper") -> tuple[int, str]:
    return os.getpid(), str(wrapper.settings_dict["NAME"])  # a forked child starts its own


def pooled(wrapper: "DatabaseWrapper") -> int:
    """How many idle connections this process keeps for the wrapper's database."""
    with _lock:
        return len(_idle.get(_key(wrapper), ()))


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        if not self.is_in_memory_db():
            with _lock:
                idle = _idle.get(_key(self))
                if idle:
                    return idle.pop()
        return super().get_new_connection(conn_params)

    def _close(self):
        connection = self.connection
        if connection is not None and not self.is_in_memory_db() and not self.in_atomic_block and not connection.in_transaction:
            with _lock:
                idle = _idle.setdefault(_key(self), [])
                if len(idle) < POOL_MAX:
                    idle.append(connection)
                    return None
        return super()._close()
