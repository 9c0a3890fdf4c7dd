"""On PostgreSQL each cluster's write lock is its own row's lock (cluster/apiserver/store.py
`locked`: SELECT ... FOR UPDATE on the Cluster row): writers of different sandboxes go in
parallel, writers of one sandbox queue, and each cluster's revisions stay gapless. (On
SQLite one writer holds the whole database, so this runs only with PODFLOW_TEST_POSTGRES=1.)"""
from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings

from tests.conftest import POSTGRES
from tests.livehelpers import http, pod_manifest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not POSTGRES, reason="PODFLOW_TEST_POSTGRES=1 runs it: on SQLite one writer holds the whole database"),
]

HOLD_SECONDS = 3.0


def shell(stack, code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code], env=stack._env(), cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs,
    )


def lines_of(proc: subprocess.Popen) -> "queue.Queue[str]":
    out: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [out.put(line.strip()) for line in proc.stdout], daemon=True).start()
    return out


def create_pod(base: str, cluster: str, name: str) -> float:
    started = time.monotonic()
    status, body = http(base, "POST", f"/k8s/{cluster}/api/v1/namespaces/default/pods", pod_manifest(name))
    assert status == 201, body
    return time.monotonic() - started


def test_two_sandboxes_write_in_parallel_and_each_keeps_its_revisions_gapless(live_stack):
    base = live_stack.url
    for name in ("pg-a", "pg-b"):
        live_stack.manage("democluster", "--name", name, "--speed", "instant")

    # Another process holds pg-a's write lock for a while, as a long reconcile would.
    holder = shell(live_stack, f"""
import time
from django.db import transaction
from cluster.models import Cluster
with transaction.atomic():
    Cluster.objects.select_for_update().get(name="pg-a")
    print("held", flush=True)
    time.sleep({HOLD_SECONDS})
print("released", flush=True)
""")
    said = lines_of(holder)
    try:
        line = said.get(timeout=60)
        assert line == "held", line
        # pg-b's writer does not wait for pg-a's lock ...
        assert create_pod(base, "pg-b", "b-during") < HOLD_SECONDS / 2
        # ... while pg-a's own writer queues behind it.
        assert create_pod(base, "pg-a", "a-during") > HOLD_SECONDS / 3
        assert said.get(timeout=30) == "released"
    finally:
        holder.wait(timeout=60)

    # Both sandboxes written at once from several threads: every revision of each is used
    # exactly once, in order, whatever the interleaving.
    errors: list[BaseException] = []

    def writer(cluster: str, index: int) -> None:
        try:
            for i in range(8):
                create_pod(base, cluster, f"w{index}-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(c, i)) for c in ("pg-a", "pg-b") for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    check = shell(live_stack, """
from cluster.models import Change, Cluster
for name in ("pg-a", "pg-b"):
    cluster = Cluster.objects.get(name=name)
    revisions = list(Change.objects.filter(cluster=cluster).order_by("revision").values_list("revision", flat=True))
    gaps = [r for a, r in zip(revisions, revisions[1:]) if r != a + 1]
    print(name, len(revisions), revisions[0], revisions[-1], cluster.revision, len(gaps))
""")
    out, _ = check.communicate(timeout=120)
    rows = [line.split() for line in out.splitlines() if line.startswith("pg-")]
    assert len(rows) == 2, out
    for name, count, first, last, current, gaps in rows:
        assert gaps == "0" and int(last) == int(current) and int(last) - int(first) + 1 == int(count), (name, out)
