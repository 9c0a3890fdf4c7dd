"""Where the store's write lock goes: an opt-in record of every hold, for `manage.py bench
--lock-profile`.

A cluster's writes queue on one lock (store.locked: on PostgreSQL the cluster's row lock,
on SQLite the database's single writer, which every cluster shares, with the writers'
queue in front of it). When that lock is what a run waits on, the question is who holds
it, for how long, and how much of the hold the holder spent working: its thread's CPU
time, and on Linux its time waiting on the run queue for a CPU (/proc/thread-self/
schedstat) — a holder another process preempted keeps every waiter waiting.

With PODFLOW_LOCK_TRACE set to a directory, each process appends one JSON line per hold
to a file of its own there (one write each, O_APPEND). Recorded: a `locked` transaction
of its own (not one joining a caller's, which holds the lock until the caller commits),
and on SQLite a write beside the store that waits in the writers' queue
(store.queued_write: the request log's rows). Unset, nothing is recorded and the cost is
one test per transaction.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

_file = threading.local()


def enabled() -> bool:
    return bool(settings.PODFLOW_LOCK_TRACE)


@dataclass
class Hold:
    asked: float  # time.time() when the lock was asked for
    what: str  # "cluster" (a store transaction) or "beside" (a queued write beside the store)
    got: float | None = None
    cpu: float = 0.0  # the thread's CPU time when it got the lock
    runq: float | None = None  # its run-queue wait so far (seconds), when known


def begin(what: str = "cluster") -> Hold | None:
    """A hold about to be asked for, or None when nothing is recorded."""
    return Hold(time.time(), what) if enabled() else None


def acquired(hold: Hold | None) -> None:
    if hold is not None:
        hold.got, hold.cpu, hold.runq = time.time(), time.thread_time(), _run_queue_wait()


def released(hold: Hold | None, cluster_id: int | None = None, revisions: int = 0) -> None:
    """Record the hold, once the lock is let go (its transaction committed or rolled back)."""
    if hold is None or hold.got is None:
        return
    now, cpu, runq = time.time(), time.thread_time(), _run_queue_wait()
    line = {
        "pid": os.getpid(), "what": hold.what, "cluster": cluster_id, "asked": hold.asked, "got": hold.got, "released": now,
        "cpu": cpu - hold.cpu, "runq": None if runq is None or hold.runq is None else runq - hold.runq,
        "task": _task_name(), "revisions": revisions,
    }
    _append(json.dumps(line, separators=(",", ":")) + "\n")


def _run_queue_wait() -> float | None:
    """Seconds this thread has waited on a run queue for a CPU since it started (Linux)."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def _task_name() -> str:
    """The Celery task this thread runs (a follow-up run after it counts as it), or ""."""
    try:
        from celery import current_task

        task = current_task._get_current_object()
    except Exception:  # noqa: BLE001 - no Celery here: not a worker
        return ""
    return task.name.rsplit(".", 1)[-1] if task is not None and task.name else ""


def _append(line: str) -> None:
    directory = settings.PODFLOW_LOCK_TRACE
    key = (os.getpid(), directory)
    if getattr(_file, "key", None) != key:
        Path(directory).mkdir(parents=True, exist_ok=True)
        _file.fd = os.open(os.path.join(directory, f"{os.getpid()}-{threading.get_ident()}.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _file.key = key
    os.write(_file.fd, line.encode())


# --- reading it back (the bench) ---------------------------------------------------------

def read(directory: str | Path) -> list[dict]:
    """Every hold recorded in the directory, in the order they were let go."""
    found: list[dict] = []
    for path in Path(directory).glob("*.jsonl"):
        with open(path) as f:
            for line in f:
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue  # a line cut short by a process killed mid-write
    return sorted(found, key=lambda h: h["released"])


def profile(holds: list[dict], windows: list[tuple[float, float]], names: dict[int, str], *, one_lock: bool) -> dict:
    """What the lock did in these windows (time.time() spans): holds let go inside one.
    `one_lock`: every cluster shares one (SQLite), else each its own (PostgreSQL) and the
    busiest cluster's is reported. By holder (process name, task): count, seconds held,
    CPU seconds and run-queue seconds while holding, seconds waited for the lock."""
    wall = sum(end - start for start, end in windows)
    inside = [h for h in holds if any(start <= h["released"] <= end for start, end in windows)]
    by: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])
    per_lock: dict[object, float] = defaultdict(float)
    runq_known = True
    for h in inside:
        held = h["released"] - h["got"]
        task = h["task"] or ("a write beside the store" if h["what"] == "beside" else "")
        row = by[(names.get(h["pid"], f"pid {h['pid']}"), task)]
        row[0] += 1
        row[1] += held
        row[2] += h["cpu"]
        if h["runq"] is None:
            runq_known = False
        else:
            row[3] += h["runq"]
        row[4] += h["got"] - h["asked"]
        per_lock["all" if one_lock or h["what"] == "beside" else h["cluster"]] += held
    busiest = max(per_lock.items(), key=lambda kv: kv[1], default=(None, 0.0))
    return {
        "wall": wall, "holds": len(inside), "held": sum(r[1] for r in by.values()), "busiest": busiest[1], "busiest_cluster": busiest[0],
        "one_lock": one_lock, "runq_known": runq_known,
        "by": sorted(((who, task, *row) for (who, task), row in by.items()), key=lambda r: -r[3]),
    }


def lines(p: dict, indent: int) -> list[str]:
    """The profile as the bench prints it."""
    pad = " " * indent
    if not p["holds"] or p["wall"] <= 0:
        return [f"{pad}the write lock (--lock-profile): no hold recorded in the run"]
    share = f"{100 * p['busiest'] / p['wall']:.0f}% of the {p['wall']:.2f} s"
    if p["one_lock"]:
        head = f"the database's one write lock (every cluster's writers queue on it) was held {share} ({p['holds']} holds)"
    else:
        head = f"each cluster's write lock is its own: the busiest was held {share}; the {p['holds']} holds of them all"
    out = [f"{pad}{head}; by holder: held / of it on a CPU" + (" / waiting for a CPU" if p["runq_known"] else "") + " / waited for the lock, all in ms:"]
    for who, task, count, held, cpu, runq, waited in p["by"][:8]:
        label = f"{who} {task}".strip()
        out.append(
            f"{pad}  {label:<44} {count:5d} holds  {held * 1000:7.0f} / {cpu * 1000:7.0f}"
            + (f" / {runq * 1000:6.0f}" if p["runq_known"] else "") + f" / {waited * 1000:7.0f}   ({held / count * 1000:.1f} per hold)"
        )
    return out
