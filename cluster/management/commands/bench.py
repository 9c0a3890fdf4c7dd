"""`python manage.py bench`: how fast pods become Ready, and whether the stream loses any.

Against the real product at instant speed (its own Stack on free ports, a temporary
SQLite file — or with --postgres a throwaway PostgreSQL server — and Redis, unless --url
names a running one):

(a) create-pod → Ready latency of sequential bare pods: from the POST to the websocket
    message carrying step 8 of that pod (p50, p95, p99);
(b) a Deployment of many replicas: seconds from the POST until step 8 of every pod has
    arrived on the websocket, and pods per second;
(c) completeness of the stream: steps 1–8 exactly once for every pod made, revisions
    without gaps or repeats, the Ready count from the API, and a replay of the same
    revisions from the change log (?since=) compared with what arrived live.

(d) fan-out to many followers, (e) many sandboxes at once and (f) memory (issue 12) are in
    _benchscenarios.py beside this file, run after (m) on our own stack.

It is a benchmark, not a test: it exits 0 when a target is missed and says MISSED.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import platform
import sqlite3
import statistics
import tempfile
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cluster.models import Cluster
from cluster.stack import Stack

USER_AGENT = "podflow-bench"


def read_frame(raw: str | bytes) -> dict:
    """A message of the stream as JSON: a text message as it is, a binary one (a frame of
    changes to a follower that asked for `?compress=deflate`, as the page does) inflated."""
    return json.loads(zlib.decompress(raw, -15) if isinstance(raw, bytes) else raw)
IMAGE = "nginx"
TARGET_P50_MS = 40.0
TARGET_P99_MS = 100.0
TARGET_PODS_PER_S = 100.0  # on SQLite: one worker per role
TARGET_PODS_PER_S_POSTGRES = 200.0  # on PostgreSQL, with two workers per role
POD_TIMEOUT_S = 30.0


# --- HTTP -------------------------------------------------------------------------------

class Http:
    """One kept-alive HTTP/1.1 connection; JSON in and out."""

    def __init__(self, base_url: str) -> None:
        parsed = urlparse(base_url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.conn: http.client.HTTPConnection | None = None
        self.token = ""  # the cluster's bearer token, where the API asks for one

    def request(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server had closed: open a new one, once.
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            try:
                return response.status, json.loads(raw) if raw else None
            except ValueError:
                return response.status, raw.decode(errors="replace")
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --- the websocket ----------------------------------------------------------------------

class StreamRecorder:
    """Reads /ws/clusters/<cluster>/ in its own thread and records what arrives, when.

    Arrival times are taken right after each frame is received, before parsing, with
    time.perf_counter (the clock the HTTP side uses too).
    """

    def __init__(self, ws_url: str, origin: str, token: str) -> None:
        self.ws_url = ws_url
        self.origin = origin
        self.token = token  # the stream opens to the cluster's bearer token
        self.cond = threading.Condition()
        self.start_revision: int | None = None  # the snapshot's (or, with ?since=, that)
        self.cluster_info: dict = {}  # name, speed, revision, as the snapshot had them
        self.last: int | None = None
        self.snapshots = 0
        self.changes = 0
        self.frames = 0  # websocket frames received (a frame may carry many changes)
        self.gaps: list[tuple[int, int]] = []  # (expected, received)
        self.repeats: list[int] = []
        self.revisions: list[int] = []
        self.step_counts: Counter = Counter()  # (pod_uid, number) -> times received
        self.step_keys: set[tuple[str, int, int]] = set()  # (pod_uid, number, revision)
        self.uid_names: dict[str, str] = {}
        self.first_seen: dict[tuple[str, int], float] = {}  # (pod name, step) -> time
        self.ready_at: dict[str, float] = {}  # pod name -> time step 8 arrived
        self.deleted_pods: set[str] = set()
        self.last_message_at = time.perf_counter()
        self.error: BaseException | None = None
        self.closed = False
        self._connected = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws = None
        self._thread = threading.Thread(target=self._run, name="bench-websocket", daemon=True)

    # the reader thread

    def _run(self) -> None:
        try:
            asyncio.run(self._read())
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            self.error = self.error or exc
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()
            self._connected.set()

    async def _read(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosedOK

        self._loop = asyncio.get_running_loop()
        async with connect(
            self.ws_url,
            origin=self.origin,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            user_agent_header=USER_AGENT,
            max_size=None,
            max_queue=None,
            compression=None,
            proxy=None,
            ping_interval=None,
            open_timeout=15,
        ) as ws:
            self._ws = ws
            self._connected.set()
            try:
                async for raw in ws:
                    arrived = time.perf_counter()
                    frame = read_frame(raw)
                    # A `changes` frame carries a transaction's (or a backfill's) changes.
                    messages = [{"type": "change", **e} for e in frame["entries"]] if frame.get("type") == "changes" else [frame]
                    with self.cond:
                        self.frames += 1
                        for message in messages:
                            self._handle(message, arrived)
            except ConnectionClosedOK:
                pass

    def _handle(self, message: dict, arrived: float) -> None:
        self.last_message_at = arrived
        kind = message.get("type")
        if kind == "snapshot":
            self.snapshots += 1
            if self.start_revision is None:
                self.start_revision = message["revision"]
                self.cluster_info = message.get("cluster") or {}
            self.last = message["revision"]
            self.cond.notify_all()
        elif kind == "cluster":
            if self.last is None:  # ?since=: the replay starts after this revision
                self.start_revision = self.last = message["revision"]
                self.cond.notify_all()
        elif kind == "change":
            revision = message["revision"]
            self.changes += 1
            self.revisions.append(revision)
            if self.last is not None:
                if revision <= self.last:
                    self.repeats.append(revision)
                elif revision != self.last + 1:
                    self.gaps.append((self.last + 1, revision))
            if self.last is None or revision > self.last:
                self.last = revision
            notify = False
            for step in message.get("steps") or []:
                uid, number, name = step["pod_uid"], step["number"], step["pod"]
                self.step_counts[(uid, number)] += 1
                self.step_keys.add((uid, number, step["revision"]))
                self.uid_names[uid] = name
                self.first_seen.setdefault((name, number), arrived)
                if number == 8:
                    self.ready_at.setdefault(name, arrived)
                    notify = True
            if message.get("change") == "DELETED" and message.get("kind") == "Pod":
                self.deleted_pods.add(message["object"]["metadata"]["name"])
                notify = True
            if notify:
                self.cond.notify_all()

    # the main thread

    def start(self, timeout: float = 20.0) -> "StreamRecorder":
        self._thread.start()
        if not self._connected.wait(timeout) or self.error:
            raise CommandError(f"could not open the websocket {self.ws_url}: {self.error!r}")
        if not self.wait(lambda: self.last is not None, timeout):
            raise CommandError(f"no snapshot on {self.ws_url} within {timeout:.0f}s")
        return self

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait (holding the lock while checking) until predicate() is true or time runs out."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return predicate()
                self.cond.wait(min(left, 0.5))
            return True

    def wait_quiet(self, quiet: float, timeout: float) -> None:
        """Until no message has arrived for `quiet` seconds (or `timeout` passed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.cond:
                idle = time.perf_counter() - self.last_message_at
            if idle >= quiet:
                return
            time.sleep(min(quiet - idle, 0.1) + 0.01)

    def stop(self) -> None:
        if self._loop is not None and self._ws is not None and not self.closed:
            try:
                asyncio.run_coroutine_threadsafe(self._ws.close(), self._loop).result(10)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        self._thread.join(10)


# --- numbers ----------------------------------------------------------------------------

MEMORY_FOLLOWERS = 100
MEMORY_ROUNDS = 3
MEMORY_SETTLE_SECONDS = 3.0


def rss_mb(pid: int | None) -> float:
    """A process's resident set size in MB (Linux /proc); 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def cpu_seconds(pid: int | None) -> float:
    """The CPU time (user and system) a process and the processes it started (PostgreSQL's
    backends) have used so far, in seconds (Linux /proc); what cannot be read counts 0."""
    total = 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                total += sum(cpu_seconds(int(child)) for child in children.read().split())
    except (OSError, ValueError, IndexError):
        pass
    return total


class RssSampler:
    """The highest RSS of one process, sampled every 50 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.pid))

    def start(self) -> "RssSampler":
        self._thread.start()
        return self

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(5)
        return max(self.peak, rss_mb(self.pid))


async def _followers(ws_url: str, origin: str, token: str, count: int, hold: float) -> list[object]:
    """`count` followers open the stream at once, read for `hold` seconds, and close.
    Each outcome is True when its stream opened and its snapshot arrived."""
    from websockets.asyncio.client import connect

    async def one() -> object:
        try:
            async with connect(ws_url, origin=origin, additional_headers={"Authorization": f"Bearer {token}"}, user_agent_header=USER_AGENT,
                               max_size=None, proxy=None, ping_interval=None, open_timeout=30) as ws:
                first = read_frame(await asyncio.wait_for(ws.recv(), timeout=30))
                end = time.monotonic() + hold
                while (left := end - time.monotonic()) > 0:
                    try:
                        await asyncio.wait_for(ws.recv(), timeout=left)
                    except asyncio.TimeoutError:
                        break
                return first.get("type") == "snapshot"
        except Exception as exc:  # noqa: BLE001 - counted and reported
            return exc

    return await asyncio.gather(*(one() for _ in range(count)))


# A fixed piece of pure-Python work, timed by the process that does it.
_SPIN = "import sys, time; t = time.perf_counter(); sum(i * i for i in range(1_500_000)); sys.stdout.write(str(time.perf_counter() - t))"


def parallel_capacity() -> str:
    """What the machine's cores give now: a fixed piece of work timed alone, then in as
    many processes at once as there are cores. On a virtual machine the cores may share a
    physical core or a busy host, and then two at once go slower than one alone, which no
    core count or load average shows."""
    import subprocess
    import sys

    def spin(n: int) -> list[float]:
        procs = [subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True) for _ in range(n)]
        return [float(p.communicate(timeout=60)[0] or "nan") for p in procs]

    cores = os.cpu_count() or 1
    try:
        alone = min(spin(1) + spin(1))
        together = max(spin(cores))
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return f"the cores' capacity not measured ({exc})"
    return (f"{cores} processes of pure-Python work at once ran at {cores * alone / together:.2f}× one alone "
            f"({alone * 1000:.0f} ms alone, {together * 1000:.0f} ms at once)")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def statement_lines(sql: dict, indent: int) -> list[str]:
    """PostgreSQL's statement profile (`Command._statements_profile`) as report lines."""
    pad = " " * indent
    if not sql:
        return []
    if sql.get("error"):
        return [f"{pad}PostgreSQL's statements: not read ({sql['error'][:200]})"]
    lines = [
        f"{pad}PostgreSQL ran {sql['calls']:,} statements in {sql['ms'] / 1000:.2f} s of their own time in all; "
        f"{sql['lock_ms'] / 1000:.2f} s of it waiting for a cluster's write lock ({sql['lock_calls']:,} transactions took it: "
        f"{sql['lock_ms'] / max(1, sql['lock_calls']):.1f} ms each on average). The others that took longest:"
    ]
    lines += [f"{pad}  {ms:8.1f} ms  {calls:6,} calls  {query}" for calls, ms, query in sql["top"]]
    lines.append(f"{pad}  The most called:")
    lines += [f"{pad}  {ms:8.1f} ms  {calls:6,} calls  {query}" for calls, ms, query in sql.get("most", [])]
    return lines


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    stage_ms: dict[str, list[float]] = field(default_factory=dict)
    timed_out: list[str] = field(default_factory=list)
    bare_ready_api: int = 0
    deployment_seconds: float | None = None
    deployment_ready: int = 0
    deployment_created_s: float | None = None
    deployment_first_ready_s: float | None = None
    # Where (b)'s time went: when the last pod reached each step, each pod's stretches, and
    # the CPU each process of our stack used meanwhile.
    deployment_all_at: dict[int, float] = field(default_factory=dict)
    deployment_stretches: dict[str, list[float]] = field(default_factory=dict)
    deployment_cpu: dict[str, float] = field(default_factory=dict)
    deployment_statements: dict = field(default_factory=dict)  # PostgreSQL's pg_stat_statements over (b)
    deployment_window: tuple[float, float] | None = None  # (b) from the POST to the last step 8, time.time()
    deployment_ready_api: int = 0
    problems: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)


class Command(BaseCommand):
    help = "Benchmark create-pod → Ready latency, deployment throughput and stream completeness against the real stack."

    def add_arguments(self, parser):
        from ._benchscenarios import at_least

        parser.add_argument("--pods", type=at_least(1), default=100, help="sequential bare pods for (a) (default 100)")
        parser.add_argument("--replicas", type=at_least(1), default=300, help="replicas of the deployment for (b) (default 300)")
        parser.add_argument("--url", default="", help="a running podflow (http://host:port); default: start our own stack")
        parser.add_argument("--cluster", default="", help="cluster to use (default: bench on our own stack, demo with --url)")
        parser.add_argument("--token", default="", help="the cluster's bearer token with --url (default: read from this database)")
        parser.add_argument("--postgres", action="store_true", help="our own stack on a throwaway PostgreSQL server instead of SQLite (Debian's postgresql)")
        parser.add_argument("--warmup", type=at_least(0), default=3, help="bare pods made before (a) and not timed (default 3)")
        parser.add_argument("--lock-profile", action="store_true", help="on our own stack, record every hold of the store's write lock (PODFLOW_LOCK_TRACE; the recording costs a little) and print for (b) and (e) who held it, how long, and how much of that on a CPU")
        parser.add_argument("--workers-per-role", type=at_least(0), default=0, help="Celery workers per role on our own stack (default: 2 on PostgreSQL, 1 on SQLite, whose single writer gains nothing from more)")
        from ._benchscenarios import add_arguments as scenario_arguments  # (d), (e), (f): in _benchscenarios.py beside this file

        scenario_arguments(parser)

    def handle(self, *args, pods: int, replicas: int, url: str, cluster: str, warmup: int, token: str, postgres: bool = False, workers_per_role: int = 0, lock_profile: bool = False, **options):
        began = time.monotonic()
        stack = None
        tmp: tempfile.TemporaryDirectory | None = None
        redis_url = settings.REDIS_URL
        database_note = ""
        try:
            if url:
                base = url.rstrip("/")
                cluster = cluster or "demo"
                where = f"the running stack at {base}"
            else:
                cluster = cluster or "bench"
                tmp = tempfile.TemporaryDirectory(prefix="podflow-bench-")
                self.lock_trace = Path(tmp.name) / "locktrace" if lock_profile else None
                stack, redis_url = self._start_stack(Path(tmp.name), cluster, postgres=postgres, workers=workers_per_role)
                base = stack.url
                database_note = f"PostgreSQL {self._postgres_version(stack)} (throwaway, fsync off)" if postgres else f"SQLite {sqlite3.sqlite_version}, WAL, file in {tmp.name}"
                where = f"our own stack at {base} (Redis {redis_url}, {database_note})"
            self.stdout.write(f"podflow bench: cluster {cluster!r} on {where}")
            client = Http(base)
            client.token = token or (self._token_of(stack, cluster) if stack else "")
            vendor = self._prepare(client, base, cluster)
            env_line = (
                f"machine: {os.cpu_count()} cores (os.cpu_count()), Python {platform.python_version()}, "
                f"Redis {self._redis_version(redis_url)}, database {vendor}" + (f" ({database_note})" if database_note else "")
                + (f"; load average {os.getloadavg()[0]:.2f} at the start (other work on the machine skews the numbers)" if hasattr(os, "getloadavg") else "")
                + f"; {parallel_capacity()}"
            )
            self.stdout.write(env_line)
            results = self._run(client, base, cluster, pods=pods, replicas=replicas, warmup=warmup, clean_up=bool(url))
            memory = self._memory(stack, base, cluster, client.token) if stack is not None else None
            from ._benchscenarios import run_scenarios  # (d) fan-out, (e) sandboxes, (f) memory: on our own stack only

            scenarios = run_scenarios(self, stack, base, replicas=replicas, options=options) if stack is not None else None
            self._report(results, env_line, pods=pods, replicas=replicas, warmup=warmup, seconds=time.monotonic() - began, postgres=vendor == "postgresql")
            if memory is not None:
                self._report_memory(memory)
            if scenarios is not None:
                scenarios.report()
        finally:
            if stack is not None:
                failed = stack.failed()
                stack.stop()
                if failed:
                    self.stderr.write(f"these stack processes had exited during the run: {', '.join(failed)}")
                    self._print_logs(Path(tmp.name))
            if tmp is not None:
                tmp.cleanup()

    def lock_lines(self, windows: list[tuple[float, float]], indent: int) -> list[str]:
        """With --lock-profile, who held the store's write lock in these spans of time."""
        trace, stack = getattr(self, "lock_trace", None), getattr(self, "stack", None)
        if trace is None or stack is None:
            return []
        from cluster.apiserver import locktrace

        names = {proc.pid: name for name, proc in stack.procs.items()}
        return locktrace.lines(locktrace.profile(locktrace.read(trace), windows, names, one_lock=not stack.postgres), indent)

    # --- setup ----------------------------------------------------------------------------

    def _database(self):
        """A connection to our own stack's PostgreSQL server, or None (SQLite, --url)."""
        stack = getattr(self, "stack", None)
        url = stack.env.get("DATABASE_URL", "") if stack is not None else ""
        if not url.startswith("postgres://"):
            return None
        import psycopg

        return psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=5, autocommit=True)

    def _statements_reset(self) -> bool:
        """Start pg_stat_statements' counts afresh; False where it is not there."""
        try:
            conn = self._database()
            if conn is None:
                return False
            with conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                conn.execute("SELECT pg_stat_statements_reset()")
            return True
        except Exception as exc:  # noqa: BLE001 - a profile is a bonus: say why it is missing
            self.stderr.write(f"(b) no PostgreSQL statement profile: {exc}")
            return False

    def _statements_profile(self) -> dict:
        """What the database spent since the reset: statements, their time in all, the
        time spent waiting for clusters' write locks (the FOR UPDATE of a cluster's row),
        and the statements that took longest."""
        try:
            conn = self._database()
            with conn:
                rows = conn.execute(
                    "SELECT calls, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements "
                    "WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC"
                ).fetchall()
        except Exception as exc:  # noqa: BLE001
            return {"error": str(exc)}
        lock = [r for r in rows if ("FOR UPDATE" in r[2] or "FOR NO KEY UPDATE" in r[2]) and "cluster_cluster" in r[2]]
        return {
            "calls": sum(r[0] for r in rows),
            "ms": sum(r[1] for r in rows),
            "lock_calls": sum(r[0] for r in lock),
            "lock_ms": sum(r[1] for r in lock),
            "top": [(r[0], r[1], r[2][:110]) for r in rows if r not in lock][:5],
            "most": [(r[0], r[1], r[2][:110]) for r in sorted(rows, key=lambda r: -r[0])][:10],
        }

    def _postgres_version(self, stack) -> str:
        import psycopg

        with psycopg.connect(stack.env["DATABASE_URL"].replace("postgres://", "postgresql://", 1), connect_timeout=5) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])

    def _start_stack(self, var: Path, cluster: str, *, postgres: bool = False, workers: int = 0):
        from cluster.stack import Stack, wait_for

        stack = Stack.scratch(var, postgres=postgres)
        if getattr(self, "lock_trace", None) is not None:
            stack.env["PODFLOW_LOCK_TRACE"] = str(self.lock_trace)
        # PostgreSQL locks a cluster's row, not the database: two workers per role write
        # different sandboxes side by side (SQLite has one writer, so one worker per role).
        stack.workers_per_role = workers if workers > 0 else (2 if postgres else 1)
        self.stack = stack  # (b) reports the CPU each of its processes used
        redis_url = stack.env["REDIS_URL"]
        self.stdout.write(f"starting the stack (redis-server, daphne, {stack.workers_per_role} Celery worker(s) per role, beat) ...")
        try:
            stack.start(demo=False)
            stack.manage("democluster", "--name", cluster, "--speed", "instant")
            client = Http(stack.url)

            def healthy() -> bool:
                try:
                    status, _ = client.request("GET", "/healthz?timeout=0.5", timeout=10)
                    return status == 200
                except OSError:
                    return False

            wait_for(healthy, 90, "every role's worker to answer /healthz", interval=0.2)
            client.close()
        except Exception:
            stack.stop()
            self._print_logs(var)
            raise
        return stack, redis_url

    def _prepare(self, client: Http, base: str, cluster: str) -> str:
        status, health = client.request("GET", "/healthz?timeout=1.0", timeout=15)
        if status != 200:
            self.stderr.write(f"warning: /healthz answers {status}: {json.dumps(health)[:300]}")
        vendor = ((health or {}).get("parts") or {}).get("database", {}).get("vendor", "unknown") if isinstance(health, dict) else "unknown"
        # The cluster's bearer token (as its kubeconfig holds it) opens its API and stream.
        if not client.token:
            found = Cluster.objects.filter(name=cluster).first()
            if found is None:
                raise CommandError(f"cluster {cluster!r} is not in this database: pass --token (the token: line of its kubeconfig)")
            client.token = found.token
        return vendor

    def _token_of(self, stack: Stack, cluster: str) -> str:
        kubeconfig = stack.kubeconfig(cluster)
        return next(line.split(":", 1)[1].strip() for line in kubeconfig.splitlines() if line.strip().startswith("token:"))

    def _set_speed(self, client: Http, cluster: str, speed: str) -> None:
        status, body = client.request("PUT", f"/k8s/{cluster}/podflow/v1/speed", {"speed": speed})
        if status != 200:
            raise CommandError(f"could not set cluster {cluster!r} to {speed} speed: {status} {body}")

    def _redis_version(self, redis_url: str) -> str:
        try:
            import redis

            return redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2).info("server")["redis_version"]
        except Exception:  # noqa: BLE001 - a version is nice to have
            return "unknown"

    def _print_logs(self, var: Path) -> None:
        for log in sorted((var / "logs").glob("*.log")):
            self.stderr.write(f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}")

    # --- the run --------------------------------------------------------------------------

    def _run(self, client: Http, base: str, cluster: str, *, pods: int, replicas: int, warmup: int, clean_up: bool) -> Results:
        parsed = urlparse(base)
        ws_url = f"ws://{parsed.netloc}/ws/clusters/{cluster}/?compress=deflate"  # as the page follows it
        run = format(int(time.time()) % 1_000_000, "x")
        pods_path = f"/k8s/{cluster}/api/v1/namespaces/default/pods"
        deployments_path = f"/k8s/{cluster}/apis/apps/v1/namespaces/default/deployments"
        deployment = f"benchdep-{run}"
        results = Results()
        stream = StreamRecorder(ws_url, origin=base, token=client.token).start()
        speed_before = stream.cluster_info.get("speed", "instant")
        try:
            self._set_speed(client, cluster, "instant")
            # (a) sequential bare pods
            bare = [f"bench-{run}-w{i}" for i in range(warmup)] + [f"bench-{run}-p{i}" for i in range(pods)]
            self.stdout.write(f"(a) {warmup} warm-up + {pods} sequential bare pods ...")
            for index, name in enumerate(bare):
                timed = index >= warmup
                self._one_pod(client, stream, pods_path, name, results, timed)
            with stream.cond:
                bare_uids = {uid for uid, name in stream.uid_names.items() if name in set(bare)}
            results.bare_ready_api = self._ready_in_api(client, pods_path, set(bare))

            # Make room: three demo nodes hold 330 pods, so the bare pods go before (b).
            for name in bare:
                client.request("DELETE", f"{pods_path}/{name}?gracePeriodSeconds=0")
            if not stream.wait(lambda: set(bare) <= stream.deleted_pods, 60):
                results.problems.append("not every bare pod's deletion reached the stream within 60 s")
            stream.wait_quiet(0.5, 15)

            # (b) a deployment
            prefix = f"{deployment}-"
            self.stdout.write(f"(b) deployment {deployment} with {replicas} replicas ...")

            def ready_of_deployment() -> list[float]:
                return [t for name, t in stream.ready_at.items() if name.startswith(prefix)]

            procs = getattr(getattr(self, "stack", None), "procs", {})
            cpu_before = {name: cpu_seconds(proc.pid) for name, proc in procs.items()}
            statements = self._statements_reset()
            started, started_wall = time.perf_counter(), time.time()
            status, body = client.request("POST", deployments_path, self._deployment(deployment, replicas))
            if status != 201:
                raise CommandError(f"POST deployment answered {status}: {json.dumps(body)[:500]}")
            timeout = max(120.0, replicas * 0.5)
            next_report = time.monotonic() + 5
            while True:
                done = stream.wait(lambda: len(ready_of_deployment()) >= replicas, min(5.0, timeout))
                elapsed = time.perf_counter() - started
                if done or elapsed > timeout or stream.closed:
                    break
                if time.monotonic() >= next_report:
                    with stream.cond:
                        so_far = len(ready_of_deployment())
                    self.stdout.write(f"    {so_far}/{replicas} Ready after {elapsed:.1f} s")
                    next_report = time.monotonic() + 5
            with stream.cond:
                ready_times = sorted(ready_of_deployment())
                created = sorted(t for (name, number), t in stream.first_seen.items() if number == 1 and name.startswith(prefix))
            results.deployment_ready = len(ready_times)
            if ready_times:
                results.deployment_first_ready_s = ready_times[0] - started
            if len(ready_times) >= replicas:
                results.deployment_seconds = ready_times[replicas - 1] - started
            else:
                results.problems.append(f"only {len(ready_times)} of {replicas} deployment pods reached step 8 on the stream within {timeout:.0f} s")
            results.deployment_window = (started_wall, started_wall + (time.perf_counter() - started if results.deployment_seconds is None else results.deployment_seconds))
            if len(created) >= replicas:
                results.deployment_created_s = created[replicas - 1] - started
            results.deployment_cpu = {name: cpu_seconds(proc.pid) - cpu_before.get(name, 0.0) for name, proc in procs.items()}
            if statements:
                results.deployment_statements = self._statements_profile()
            self._deployment_profile(stream, prefix, started, results)

            # (c) completeness
            self._check_stream(client, stream, ws_url, base, pods_path, results, bare_uids, prefix, replicas)
        finally:
            stream.stop()
            if stream.error and not isinstance(stream.error, asyncio.CancelledError):
                results.problems.append(f"the websocket failed: {stream.error!r}")
            if clean_up:
                # On a stack we did not start, leave the cluster as we found it (ours is
                # thrown away whole): the garbage collector removes the ReplicaSet and its
                # pods; bare pods left by a run that stopped early go one by one.
                try:
                    client.request("DELETE", f"{deployments_path}/{deployment}")
                    _, items = self._list_pods(client, pods_path)
                    for pod in items:
                        if pod["metadata"]["name"].startswith(f"bench-{run}-"):
                            client.request("DELETE", f"{pods_path}/{pod['metadata']['name']}?gracePeriodSeconds=0")
                    if speed_before != "instant":
                        self._set_speed(client, cluster, speed_before)
                except (OSError, CommandError) as exc:
                    self.stderr.write(f"could not clean up cluster {cluster!r}: {exc}")
            client.close()
        return results

    def _deployment_profile(self, stream: StreamRecorder, prefix: str, started: float, results: Results) -> None:
        """Where (b)'s time went, from the stream: when the last of the deployment's pods
        reached steps 1, 4, 5 and 8, and each pod's stretches between them."""
        with stream.cond:
            seen = {key: t for key, t in stream.first_seen.items() if key[0].startswith(prefix)}
        names = {name for name, _ in seen}
        for number in (1, 4, 5, 8):
            times = [seen[(name, number)] for name in names if (name, number) in seen]
            if times and len(times) == len(names):
                results.deployment_all_at[number] = max(times) - started
        for label, a, b in (("step 1 → 4 (scheduler)", 1, 4), ("step 4 → 5 (kubelet hop and admit)", 4, 5), ("step 5 → 8 (kubelet stages)", 5, 8)):
            results.deployment_stretches[label] = [(seen[(n, b)] - seen[(n, a)]) * 1000 for n in names if (n, a) in seen and (n, b) in seen]

    def _one_pod(self, client: Http, stream: StreamRecorder, pods_path: str, name: str, results: Results, timed: bool) -> None:
        started = time.perf_counter()
        status, body = client.request("POST", pods_path, self._pod(name))
        answered = time.perf_counter()
        if status != 201:
            raise CommandError(f"POST pod {name} answered {status}: {json.dumps(body)[:500]}")
        if not stream.wait(lambda: name in stream.ready_at, POD_TIMEOUT_S):
            results.timed_out.append(name)
            results.problems.append(f"pod {name}: no step 8 on the stream within {POD_TIMEOUT_S:.0f} s")
            return
        if not timed:
            return
        with stream.cond:
            seen = {n: stream.first_seen.get((name, n)) for n in (1, 4, 5, 8)}
        results.latencies_ms.append((seen[8] - started) * 1000)
        results.post_ms.append((answered - started) * 1000)
        if None not in seen.values():
            for label, a, b in (
                ("POST → step 1 on the stream", started, seen[1]),
                ("step 1 → 4 (scheduler hop and bind)", seen[1], seen[4]),
                ("step 4 → 5 (kubelet hop and admit)", seen[4], seen[5]),
                ("step 5 → 8 (kubelet stages 6, 7, 8)", seen[5], seen[8]),
            ):
                results.stage_ms.setdefault(label, []).append((b - a) * 1000)

    def _pod(self, name: str) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "podflow-bench"}},
            "spec": {"containers": [{"name": "app", "image": IMAGE}]},
        }

    def _deployment(self, name: str, replicas: int) -> dict:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": IMAGE}]}},
            },
        }

    def _list_pods(self, client: Http, pods_path: str) -> tuple[int, list[dict]]:
        status, body = client.request("GET", pods_path, timeout=60)
        if status != 200:
            raise CommandError(f"GET pods answered {status}: {json.dumps(body)[:300]}")
        return int(body["metadata"]["resourceVersion"]), body["items"]

    def _ready_in_api(self, client: Http, pods_path: str, names: set[str]) -> int:
        _, items = self._list_pods(client, pods_path)
        return sum(1 for p in items if p["metadata"]["name"] in names and is_ready(p))

    def _check_stream(self, client, stream, ws_url, base, pods_path, results, bare_uids, prefix, replicas) -> None:
        revision, items = self._list_pods(client, pods_path)
        mine = [p for p in items if p["metadata"]["name"].startswith(prefix)]
        results.deployment_ready_api = sum(1 for p in mine if is_ready(p) and not p["metadata"].get("deletionTimestamp"))
        # The stream must catch up with what the API has committed.
        if not stream.wait(lambda: (stream.last or 0) >= revision, 15):
            results.problems.append(f"the stream stopped at revision {stream.last}, the API is at {revision}")
        with stream.cond:
            target = stream.last or 0
            start = stream.start_revision or 0
            deployment_uids = {uid for uid, name in stream.uid_names.items() if name.startswith(prefix)}
            counts = dict(stream.step_counts)
            live_revisions = [r for r in stream.revisions if r <= target]
            live_steps = {k for k in stream.step_keys if k[2] <= target}
            gaps, repeats, snapshots, frames = list(stream.gaps), list(stream.repeats), stream.snapshots, stream.frames
        checked = bare_uids | deployment_uids
        missing = {uid: [n for n in range(1, 9) if counts.get((uid, n), 0) == 0] for uid in checked}
        duplicated = {(uid, n): c for (uid, n), c in counts.items() if uid in checked and c > 1}
        results.checks = {
            "pods": len(checked),
            "bare_pods": len(bare_uids),
            "deployment_pods": len(deployment_uids),
            "complete": sum(1 for uid in checked if not missing[uid] and not any((uid, n) in duplicated for n in range(1, 9))),
            "missing": {stream.uid_names[u]: m for u, m in missing.items() if m},
            "duplicated": {f"{stream.uid_names[u]}#{n}": c for (u, n), c in duplicated.items()},
            "gaps": gaps,
            "repeats": repeats,
            "snapshots": snapshots,
            "start": start,
            "target": target,
            "changes": len(live_revisions),
            "frames": frames,
        }
        # Replay the same revisions from the change log and compare.
        replay = StreamRecorder(ws_url + f"&since={start}", origin=base, token=client.token)
        try:
            replay.start()
            caught_up = replay.wait(lambda: (replay.last or 0) >= target or replay.snapshots > 0, 60)
            with replay.cond:
                replay_revisions = {r for r in replay.revisions if r <= target}
                replay_steps = {k for k in replay.step_keys if k[2] <= target}
                replay_snapshot = replay.snapshots > 0
        finally:
            replay.stop()
        if replay_snapshot:
            results.checks["replay"] = "not available: the server answered ?since= with a snapshot"
        elif not caught_up:
            results.checks["replay"] = f"incomplete: the replay reached revision {replay.last} of {target}"
        else:
            expected = set(range(start + 1, target + 1))
            results.checks["replay"] = {
                "changes": len(replay_revisions),
                "log_gaps": len(expected - replay_revisions),
                "lost_live": len(replay_revisions - set(live_revisions)),
                "extra_live": len(set(live_revisions) - replay_revisions),
                "steps_lost_live": len(replay_steps - live_steps),
                "steps_extra_live": len(live_steps - replay_steps),
            }

    # --- the report ----------------------------------------------------------------------

    # --- memory ---------------------------------------------------------------------------

    def _memory(self, stack: Stack, base: str, cluster: str, token: str) -> dict:
        """Each process's RSS after the runs above; then daphne's while MEMORY_FOLLOWERS
        followers open the cluster's stream at once (MEMORY_ROUNDS times) and after the last
        has left — the figure that showed a leak when it did not come back down."""
        self.stdout.write(f"(m) memory: {MEMORY_ROUNDS} rounds of {MEMORY_FOLLOWERS} stream followers at once ...")
        pids = {name: proc.pid for name, proc in stack.procs.items() if proc.poll() is None}
        after_runs = {name: rss_mb(pid) for name, pid in pids.items()}
        web = pids.get("web")
        peak, opened, failed = 0.0, 0, 0
        reasons: Counter = Counter()
        ws_url = f"ws://{urlparse(base).netloc}/ws/clusters/{cluster}/"
        for _ in range(MEMORY_ROUNDS):
            sampler = RssSampler(web).start() if web else None
            outcomes = asyncio.run(_followers(ws_url, base, token, MEMORY_FOLLOWERS, hold=2.0))
            if sampler is not None:
                peak = max(peak, sampler.stop())
            opened += sum(1 for o in outcomes if o is True)
            failed += sum(1 for o in outcomes if o is not True)
            reasons.update(type(o).__name__ + (f": {o}"[:120] if str(o) else "") for o in outcomes if o is not True)
        left = time.monotonic()
        settled = rss_mb(web) if web else 0.0
        # The last follower's goodbye reaches daphne a moment after the client closes.
        while web and time.monotonic() - left < MEMORY_SETTLE_SECONDS:
            time.sleep(0.2)
            settled = rss_mb(web)
        return {"after_runs": after_runs, "peak": peak, "settled": settled, "opened": opened, "failed": failed, "reasons": reasons}

    def _report_memory(self, m: dict) -> None:
        out = self.stdout.write
        out(f"(m) memory (RSS, MB), {MEMORY_ROUNDS} rounds of {MEMORY_FOLLOWERS} followers opening the stream at once")
        out("    after (a)-(c): " + ", ".join(f"{name} {value:.0f}" for name, value in sorted(m["after_runs"].items())))
        out(f"    daphne: peak {m['peak']:.0f} with the followers, {m['settled']:.0f} {MEMORY_SETTLE_SECONDS:.0f} s after the last left; "
            f"{m['opened']} streams opened, {m['failed']} refused or dropped   {verdict(m['failed'] == 0)}")
        for reason, count in m["reasons"].most_common(3):
            out(f"      {count} × {reason}")
        out("=" * 78)

    def _report(self, r: Results, env_line: str, *, pods: int, replicas: int, warmup: int, seconds: float, postgres: bool = False) -> None:
        out = self.stdout.write
        c = r.checks
        out("")
        out("=" * 78)
        out("podflow bench results")
        out(env_line)
        out("")
        out(f"(a) create-pod → Ready (POST sent → step 8 on the websocket), {len(r.latencies_ms)} of {pods} sequential bare pods (after {warmup} warm-up)")
        if r.latencies_ms:
            p50, p95, p99 = (percentile(r.latencies_ms, p) for p in (50, 95, 99))
            out(f"    p50 {p50:7.1f} ms   target ≤ {TARGET_P50_MS:.0f} ms   {verdict(p50 <= TARGET_P50_MS)}")
            out(f"    p95 {p95:7.1f} ms")
            out(f"    p99 {p99:7.1f} ms   target ≤ {TARGET_P99_MS:.0f} ms  {verdict(p99 <= TARGET_P99_MS and len(r.latencies_ms) == pods)}")
            out(f"    min {min(r.latencies_ms):.1f} ms, max {max(r.latencies_ms):.1f} ms, mean {statistics.fmean(r.latencies_ms):.1f} ms; POST answered in p50 {percentile(r.post_ms, 50):.1f} ms")
            out("    where the time goes (p50 / p95 of each stretch, as seen by the client):")
            for label, values in r.stage_ms.items():
                out(f"      {label:<40} {percentile(values, 50):7.1f} / {percentile(values, 95):7.1f} ms")
        else:
            out("    no pod became Ready: MISSED")
        out("")
        out(f"(b) Deployment of {replicas} replicas: POST sent → step 8 of all {replicas} pods on the websocket")
        if r.deployment_seconds:
            rate = replicas / r.deployment_seconds
            wanted = TARGET_PODS_PER_S_POSTGRES if postgres else TARGET_PODS_PER_S
            out(f"    {r.deployment_seconds:.2f} s, {rate:.1f} pods/s   target ≥ {wanted:.0f} pods/s{' (PostgreSQL)' if postgres else ''}   {verdict(rate >= wanted)}")
        else:
            out(f"    {r.deployment_ready} of {replicas} Ready: MISSED")
        if r.deployment_first_ready_s is not None:
            out(f"    first pod Ready after {r.deployment_first_ready_s:.2f} s" + (f"; step 1 of all {replicas} pods after {r.deployment_created_s:.2f} s" if r.deployment_created_s else ""))
        if r.deployment_all_at:
            out("    where the time goes: every pod at step " + ", ".join(f"{n} after {t:.2f} s" for n, t in sorted(r.deployment_all_at.items())))
            for label, values in r.deployment_stretches.items():
                if values:
                    out(f"      {label:<40} p50 {percentile(values, 50):7.1f} / p95 {percentile(values, 95):7.1f} ms per pod")
        if r.deployment_cpu and r.deployment_seconds:
            used = ", ".join(f"{name} {seconds:.2f}" for name, seconds in sorted(r.deployment_cpu.items(), key=lambda kv: -kv[1]))
            out(f"    CPU seconds used by our stack's processes from the POST until the last step 8 was counted: {used} "
                f"(in all {sum(r.deployment_cpu.values()):.2f} in {r.deployment_seconds:.2f} s on {os.cpu_count()} cores)")
        for line in statement_lines(r.deployment_statements, 4):
            out(line)
        if r.deployment_window is not None:
            for line in self.lock_lines([r.deployment_window], 4):
                out(line)
        out("")
        out("(c) the stream lost nothing")
        out(f"    stream: {c['changes']} changes ({c['frames']} frames in all), revisions {c['start'] + 1}..{c['target']}; gaps {len(c['gaps'])}, repeats {len(c['repeats'])}, extra snapshots {max(0, c['snapshots'] - 1)}")
        out(f"    steps: {c['complete']} of {c['pods']} pods ({c['bare_pods']} bare, {c['deployment_pods']} from the deployment) had steps 1..8 each exactly once")
        if c["missing"]:
            out(f"      missing steps: {len(c['missing'])} pods, e.g. {dict(list(c['missing'].items())[:5])}")
        if c["duplicated"]:
            out(f"      duplicated steps: {len(c['duplicated'])}, e.g. {dict(list(c['duplicated'].items())[:5])}")
        expected_pods = warmup + pods + replicas
        out(f"    API: {r.bare_ready_api} of {warmup + pods} bare pods Ready (checked before deleting them), {r.deployment_ready_api} of {replicas} deployment pods Ready")
        replay = c.get("replay")
        if isinstance(replay, dict):
            out(
                f"    replay from the change log (?since={c['start']}): {replay['changes']} changes; "
                f"log gaps {replay['log_gaps']}; live lost {replay['lost_live']} changes and {replay['steps_lost_live']} steps; "
                f"live had {replay['extra_live']} changes and {replay['steps_extra_live']} steps the log does not"
            )
            replay_ok = not any(replay[k] for k in ("log_gaps", "lost_live", "extra_live", "steps_lost_live", "steps_extra_live"))
        else:
            out(f"    replay from the change log: {replay}")
            replay_ok = False
        lossless = (
            not c["gaps"] and not c["repeats"] and c["snapshots"] == 1
            and c["pods"] == expected_pods and c["complete"] == expected_pods
            and r.bare_ready_api == warmup + pods and r.deployment_ready_api == replicas
            and replay_ok and not r.timed_out
        )
        out(f"    target: nothing lost   {verdict(lossless)}")
        for problem in r.problems:
            out(f"    problem: {problem}")
        out("")
        out(f"bench took {seconds:.1f} s in all")
        out("=" * 78)
