"""The request log's writer (cluster/apiserver/requestlog.py): a thread of the process
writes the rows of the requests answered meanwhile, several in one transaction, so that
no answer waits for the log's write."""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Callable

import pytest

from cluster.apiserver import audit, requestlog, store
from cluster.models import Cluster, RequestRecord
from tests.livehelpers import wait_until


@pytest.fixture
def thread_on(settings, transactional_db):
    """The writer's thread, on a database whose writes are committed (the thread's own
    connection sees them, and the test's sees the thread's)."""
    settings.PODFLOW_REQUEST_LOG_THREAD = True
    requestlog._writer.rows.clear()
    requestlog._writer.written.clear()
    yield
    wait_until(lambda: not requestlog._writer.rows, 10, "the writer to take every row", interval=0.01)  # none left for the next test


@pytest.fixture
def cluster_row(thread_on):
    return Cluster.objects.create(name="logged")


def request(cluster: Cluster, name: str, code: int = 200) -> None:
    requestlog.record(cluster.name, audit.REQUEST, {"client": "kubectl", "verb": "get", "resource": "pods", "name": name, "code": code, audit.CLUSTER_ID: cluster.pk})


def wait_for_rows(cluster: Cluster, count: int) -> list[RequestRecord]:
    def rows() -> list[RequestRecord]:
        found = list(RequestRecord.objects.filter(cluster=cluster).order_by("id"))
        return found if len(found) >= count else []

    return wait_until(rows, 10, f"{count} rows of the request log", interval=0.01)


def before_each_write(monkeypatch, before: Callable[[], None]) -> None:
    """`before()` runs each time the writer asks for its turn to write (it may wait, or fail)."""
    real = store.queued_write

    @contextmanager
    def queued_write():
        before()
        with real():
            yield

    monkeypatch.setattr(store, "queued_write", queued_write)


def test_a_request_is_answered_before_its_row_is_written_and_the_row_follows(cluster_row, monkeypatch):
    let_go = threading.Event()

    def held_elsewhere() -> None:  # the writers' queue held by someone else for a while
        assert let_go.wait(10)

    before_each_write(monkeypatch, held_elsewhere)
    began = time.monotonic()
    request(cluster_row, "web", 200)
    assert time.monotonic() - began < 1.0  # the request did not wait for the write
    assert not RequestRecord.objects.filter(cluster=cluster_row).exists()
    let_go.set()
    [row] = wait_for_rows(cluster_row, 1)
    assert (row.client, row.verb, row.resource, row.name, row.code) == ("kubectl", "get", "pods", "web", 200)


def test_requests_answered_while_a_write_waits_go_in_together(cluster_row, monkeypatch):
    let_go, writes = threading.Event(), []

    def counted() -> None:
        assert let_go.wait(10)
        writes.append(len(requestlog._writer.rows))

    before_each_write(monkeypatch, counted)
    request(cluster_row, "first")
    wait_until(lambda: not requestlog._writer.rows, 10, "the thread to take the first row", interval=0.005)
    for i in range(9):
        request(cluster_row, f"then-{i}")
    let_go.set()
    rows = wait_for_rows(cluster_row, 10)
    assert [r.name for r in rows] == ["first"] + [f"then-{i}" for i in range(9)]
    assert len(writes) == 2, writes  # one transaction for the first, one for the nine behind it


def test_the_log_is_trimmed_as_the_writer_goes(cluster_row, monkeypatch):
    trimmed: list[int] = []
    monkeypatch.setattr(requestlog, "TRIM_EVERY", 4)
    monkeypatch.setattr(requestlog, "trim", lambda cluster_id, *a, **k: trimmed.append(cluster_id) or 0)
    for i in range(9):
        request(cluster_row, f"p{i}")
    wait_for_rows(cluster_row, 9)
    # Passing the 4th and the 8th row: a trim each, or one if one transaction passed both.
    assert trimmed in ([cluster_row.pk], [cluster_row.pk, cluster_row.pk])


def test_a_failed_write_is_logged_and_the_next_rows_go_in(cluster_row, monkeypatch, caplog):
    failing = [True]

    def once_broken() -> None:
        if failing:
            failing.clear()
            from django.db import OperationalError

            raise OperationalError("database is locked")

    before_each_write(monkeypatch, once_broken)
    request(cluster_row, "lost")
    wait_until(lambda: "missed 1 requests" in caplog.text, 10, "the failed write's warning", interval=0.01)
    assert "missed 1 requests" in caplog.text
    request(cluster_row, "kept")
    assert [r.name for r in wait_for_rows(cluster_row, 1)] == ["kept"]


def test_rows_still_waiting_when_the_process_ends_are_written(cluster_row):
    with requestlog._writer.lock:  # as if the thread had not come round to them
        requestlog._writer.rows.append(requestlog._row(cluster_row.pk, {"client": "kubectl", "verb": "list", "resource": "pods", "code": 200}))
        requestlog._writer.pid = os.getpid()
    requestlog._write_at_exit()
    assert [(r.verb, r.resource) for r in RequestRecord.objects.filter(cluster=cluster_row)] == [("list", "pods")]
