"""`manage.py bench`'s scenarios (d), (e) and (f) — the project's issue 12 — beside bench.py
(the leading underscore keeps Django from taking this module for a command).

They run on the bench's own stack only (not with --url: they make clusters of their own),
after (a)-(c) and (m), each in one asyncio event loop in this thread: every websocket
follower and every HTTP client of a scenario is a coroutine of that loop.

(d) fan-out: --followers websockets follow one fresh cluster while a --replicas Deployment
    comes up. Each follower must receive every change once (a gap the server heals from its
    change log counts as received; how many changes the server backfilled is the difference
    of its /metrics counter podflow_stream_changes_backfilled_total); delivery is the
    entry's `at` (its Change row's time) to its arrival at the follower. The run is made
    twice, on two fresh clusters: once as is, once with one more follower that reads nothing
    for --slow-seconds from the POST on (its client stops reading the socket once 4 messages
    wait, so the server's buffers fill) and then reads on — the others' delivery must not
    suffer, and the slow one must end up with every change.
(e) sandboxes: --sandboxes clusters, one client each with its own websocket and HTTP
    connection; in each of --rounds rounds every client creates a bare pod and a
    5-replica Deployment at the same moment; create (the POST sent) → step 8 of each pod on
    that client's websocket; then every pod Ready in the API and every change and step once
    on every websocket.
(f) memory: daphne's RSS while --idle-sockets followers of a small fresh cluster (three
    nodes, no pods) are held open, idle — measured first, before (d), on daphne as (a)-(c)
    and (m) left it; and each process's RSS after (d) and (e).

(d) and (e) print where the time went: the stretches between the client's moments and the
server's commit times (the `at` of entries, the `time` of steps) — for (d) also when each
change came out of Redis to a reader of the cluster's Channels group beside daphne, which
splits delivery into the publish path and daphne's part; the CPU seconds every process of
the stack used during the run (read from /proc: a stack process and everything it
started); and from /metrics before and after, the store's writes and, per Celery queue,
the tasks run and their mean wait in the queue and run time.

Times: arrivals are time.time() taken when the websocket hands the frame over; `at` is
stamped when the write is made inside its transaction (Change.time), so "commit → client"
includes the rest of that transaction. Both are this machine's clock.
"""
from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import re
import time
import traceback
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from urllib.parse import quote, urlparse

from cluster.management.commands.bench import USER_AGENT, RssSampler, is_ready, parallel_capacity, percentile, read_frame, rss_mb, statement_lines, verdict

TARGET_FANOUT_P99_MS = 250.0
TARGET_SANDBOX_P99_MS = 1000.0
TARGET_WORKER_MB = 150.0
TARGET_IDLE_DAPHNE_MB = 300.0
SANDBOX_REPLICAS = 5
OPEN_WAVE = 100  # websockets opened at once; the next wave when these have their snapshots
OPEN_TIMEOUT_S = 60.0
SLOW_AFTER_S = 0.0  # the slow follower stops reading this long after the POST is sent
IDLE_HOLD_S = 5.0
AT_REST_S = 6.0  # (e) the class at rest, pages open, before its first round
FRAME_CACHE_BYTES = 64 * 1024 * 1024  # (d) the frames whose parse the followers share
SETTLE_S = 3.0
WORKERS = ("controller-manager", "scheduler", "kubelet")


def at_least(minimum: int) -> Callable[[str], int]:
    """An argument type: a whole number of at least `minimum` (argparse's error otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least {minimum}")
        return value

    return parse


def add_arguments(parser) -> None:
    parser.add_argument("--followers", type=at_least(0), default=200, help="(d) websocket followers of one cluster during a --replicas Deployment (default 200; 0 skips (d)). (d)-(f) run on our own stack only, not with --url")
    parser.add_argument("--slow-seconds", type=float, default=10.0, help="(d) how long the slow follower reads nothing (default 10)")
    parser.add_argument("--sandboxes", type=at_least(0), default=30, help="(e) clusters, each with its own client and websocket (default 30; 0 skips (e))")
    parser.add_argument("--rounds", type=at_least(1), default=3, help="(e) rounds of a bare pod and a 5-replica Deployment per client (default 3)")
    parser.add_argument("--idle-sockets", type=at_least(0), default=500, help="(f) idle websockets daphne holds while its RSS is measured (default 500; 0 skips them)")


# --- small clients ------------------------------------------------------------------------

class AsyncHttp:
    """One kept-alive HTTP/1.1 connection on the running loop; JSON in and out."""

    def __init__(self, base: str, token: str = "") -> None:
        parsed = urlparse(base)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
        return await asyncio.wait_for(self._request(method, path, body), timeout)

    async def _request(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"User-Agent: {USER_AGENT}", "Accept: application/json", f"Content-Length: {len(data)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        if self.token:
            head.append(f"Authorization: Bearer {self.token}")
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(raw)
                await self.writer.drain()
                status, payload = await self._response(method)
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                # A kept-alive connection the server had closed: open a new one, once.
                self.close()
                if attempt == 2:
                    raise
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, payload.decode(errors="replace")

    async def _response(self, method: str) -> tuple[int, bytes]:
        assert self.reader is not None
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            payload = b""
        elif "content-length" in headers:
            payload = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while await self.reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                        pass
                    break
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            payload = b"".join(chunks)
        else:
            payload = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def open_socket(ws_url: str, origin: str, token: str, max_queue: int | None = None):
    """A follower's websocket (the cluster's bearer token, an Origin of this host)."""
    from websockets.asyncio.client import connect

    return await connect(
        ws_url, origin=origin, additional_headers={"Authorization": f"Bearer {token}"}, user_agent_header=USER_AGENT,
        max_size=None, max_queue=max_queue, compression=None, proxy=None, ping_interval=None, open_timeout=30, close_timeout=5,
    )


async def read_snapshot(ws, timeout: float) -> int:
    """Read the snapshot and its parts; its revision."""
    deadline = time.monotonic() + timeout
    while True:
        frame = read_frame(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
        if frame.get("type") == "snapshot":
            break
    for _ in range(frame.get("parts", 0)):
        await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
    return int(frame["revision"])


async def close_all(sockets) -> None:
    async def one(ws) -> None:
        try:
            await asyncio.wait_for(ws.close(), 10)
        except Exception:  # noqa: BLE001 - closing anyway
            pass

    await asyncio.gather(*(one(ws) for ws in sockets if ws is not None))


def epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


# --- what the processes did -----------------------------------------------------------

def cpu_seconds(roots: dict[int, str]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each of these processes and everything it
    started (PostgreSQL's postmaster and backends under `runuser`, which leave its session)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        pid = int(entry.name)
        parent[pid] = int(rest[1])
        used[pid] = (int(rest[11]) + int(rest[12])) / tick
    out = {name: 0.0 for name in roots.values()}
    for pid, seconds in used.items():
        ancestor, hops = pid, 0
        while ancestor not in roots and ancestor > 1 and hops < 64:
            ancestor, hops = parent.get(ancestor, 0), hops + 1
        if ancestor in roots:
            out[roots[ancestor]] += seconds
    return out


class Usage:
    """CPU seconds of each stack process, and of this thread (the bench's clients), over a run."""

    def __init__(self, stack) -> None:
        self.sessions = {proc.pid: name for name, proc in stack.procs.items() if proc.poll() is None}  # the roots of cpu_seconds
        self.began = time.monotonic()
        self.cpu0 = cpu_seconds(self.sessions)
        self.client0 = time.thread_time()
        self.load0 = os.getloadavg()[0]

    def done(self) -> dict:
        after = cpu_seconds(self.sessions)
        used = {name: after[name] - self.cpu0.get(name, 0.0) for name in after}
        used["bench clients"] = time.thread_time() - self.client0
        return {"wall": time.monotonic() - self.began, "cpu": used, "load0": self.load0, "load1": os.getloadavg()[0]}


def usage_line(usage: dict) -> str:
    busy = sorted(usage["cpu"].items(), key=lambda kv: -kv[1])
    return (f"CPU seconds over the run's {usage['wall']:.1f} s wall ({os.cpu_count()} cores): "
            + ", ".join(f"{name} {seconds:.1f}" for name, seconds in busy if seconds >= 0.05))


def machine(usage: dict) -> str:
    return f"{os.cpu_count()} cores; load average {usage['load0']:.2f} at its start, {usage['load1']:.2f} at its end"


def pct(values, p: float) -> float:
    return percentile(list(values), p) if len(values) else float("nan")


def stretch(label: str, values, unit: str = "ms", indent: int = 6) -> str:
    if not len(values):
        return f"{' ' * indent}{label:<54} (none)"
    scale = 1000.0 if unit == "ms" else 1.0
    return f"{' ' * indent}{label:<54} {pct(values, 50) * scale:8.1f} / {pct(values, 99) * scale:8.1f} {unit}  (n={len(values)})"


# --- the stack's clusters -------------------------------------------------------------

def make_clusters(stack, names: list[str]) -> dict[str, str]:
    """Fresh three-node clusters at instant speed, as `manage.py democluster` makes them,
    in one `manage.py shell` (one process start for all); their bearer tokens."""
    out = stack.var_dir / f"bench-clusters-{os.getpid()}-{time.monotonic_ns()}.json"
    script = (
        "import json\n"
        "from cluster.demo import ensure_cluster\n"
        f"names = {names!r}\n"
        "tokens = {n: ensure_cluster(n, nodes=3, speed='instant')[0].token for n in names}\n"
        f"open({str(out)!r}, 'w').write(json.dumps(tokens))\n"
    )
    stack.manage("shell", "-c", script)
    tokens = json.loads(out.read_text())
    out.unlink()
    return tokens


async def scrape(http: AsyncHttp) -> dict[str, float] | None:
    """The server's /metrics (every process's figures, added up): {"name{labels}": value}."""
    try:
        status, body = await http.request("GET", "/metrics", timeout=30)
    except (OSError, asyncio.TimeoutError):
        return None
    if status != 200 or not isinstance(body, str):
        return None
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


def metrics_delta(before: dict | None, after: dict | None) -> dict | None:
    """What the server counted between two scrapes: the stream's backfill, the store's
    writes, and per Celery queue the tasks run, their time waiting and running."""
    if before is None or after is None:
        return None

    def total(prefix: str) -> float:
        return sum(v - before.get(k, 0.0) for k, v in after.items() if k == prefix or k.startswith(prefix + "{"))

    queues: dict[str, dict[str, float]] = {}
    tasks: dict[tuple[str, str], dict[str, float]] = {}
    for key, value in after.items():
        found = re.match(r'podflow_celery_task_(queued|run)_seconds_(sum|count)\{(.*)\}$', key)
        if found:
            what, part, labels = found.groups()
            named = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            for entry in (queues.setdefault(named.get("queue", "?"), {}), tasks.setdefault((named.get("queue", "?"), named.get("task", "?")), {})):
                entry[f"{what}_{part}"] = entry.get(f"{what}_{part}", 0.0) + value - before.get(key, 0.0)
    return {
        "backfilled": total("podflow_stream_changes_backfilled_total"),
        "frames": total("podflow_stream_frames_sent_total"),
        "writes": total("podflow_store_writes_total"),
        "revisions": total("podflow_store_revisions_total"),
        "queues": queues,
        "tasks": tasks,
    }


def server_lines(delta: dict | None, indent: int) -> list[str]:
    pad = " " * indent
    if delta is None:
        return [f"{pad}(the server's /metrics could not be read)"]
    lines = [f"{pad}the store committed {delta['writes']:.0f} write transactions, {delta['revisions']:.0f} revisions; the stream sent {delta['frames']:.0f} frames"]
    for queue, q in sorted(delta["queues"].items()):
        count = q.get("run_count", 0.0)
        if count:
            lines.append(f"{pad}{queue:<19} {count:6.0f} tasks, waited in the queue {q.get('queued_sum', 0.0) / max(1.0, q.get('queued_count', 0.0)) * 1000:7.1f} ms "
                         f"and ran {q.get('run_sum', 0.0) / count * 1000:6.1f} ms on average ({q.get('run_sum', 0.0):.1f} s running)")
            for (in_queue, task), t in sorted(delta.get("tasks", {}).items(), key=lambda item: -item[1].get("run_count", 0.0)):
                if in_queue == queue and t.get("run_count"):
                    lines.append(f"{pad}  {task.rsplit('.', 1)[-1]:<25} {t['run_count']:6.0f} tasks, waited {t.get('queued_sum', 0.0) / max(1.0, t.get('queued_count', 0.0)) * 1000:7.1f} ms, "
                                 f"ran {t.get('run_sum', 0.0) / t['run_count'] * 1000:6.1f} ms on average")
    return lines


async def list_pods(http: AsyncHttp, cluster: str, selector: str = "") -> tuple[int, list[dict]]:
    path = f"/k8s/{cluster}/api/v1/namespaces/default/pods" + (f"?labelSelector={quote(selector)}" if selector else "")
    status, body = await http.request("GET", path, timeout=60)
    if status != 200:
        raise RuntimeError(f"GET pods of {cluster} answered {status}: {json.dumps(body)[:300]}")
    return int(body["metadata"]["resourceVersion"]), body["items"]


class LayerProbe:
    """A subscriber to a cluster's stream channel in Redis beside daphne's: when each change
    reached Redis and came back out (the publish path — the committing thread's publish,
    Redis, a subscriber's read), apart from daphne's part. It reads the channel as a client
    of its wire format (web/bus.py): channel "podflow.stream.<cluster>", a payload of changes
    is "E" and then a line per change, "<revision> <its JSON>"."""

    def __init__(self, redis_url: str, cluster: str) -> None:
        self.redis_url, self.channel = redis_url, f"podflow.stream.{cluster}"
        self.arrival: dict[int, float] = {}
        self.transactions: dict[int, int] = {}  # first revision -> last: what one commit published
        self.steps: dict[str, dict[int, float]] = {}  # pod -> step 1 and 8 -> commit time (epoch)
        self.client = None
        self.pubsub = None
        self.task: asyncio.Task | None = None

    async def start(self) -> "LayerProbe":
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(self.redis_url, socket_timeout=None)
        self.pubsub = self.client.pubsub()
        await self.pubsub.subscribe(self.channel)
        confirmed = await self.pubsub.get_message(timeout=10)
        if not confirmed or confirmed.get("type") != "subscribe":
            raise RuntimeError(f"Redis did not confirm the subscription to {self.channel}: {confirmed!r}")
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            message = await self.pubsub.get_message(timeout=None)
            if message and message["type"] == "message":
                self._take(message["data"].decode())

    def _take(self, payload: str) -> None:
        now = time.time()
        kind, _, body = payload.partition("\n")
        if kind != "E" or not body:
            return
        revisions = []
        for line in body.split("\n"):
            revision, _, text = line.partition(" ")
            revisions.append(int(revision))
            self.arrival.setdefault(revisions[-1], now)
            if '"steps":[]' in text:
                continue
            for step in json.loads(text)["steps"]:
                if step["number"] in (1, 8):
                    self.steps.setdefault(step["pod"], {})[step["number"]] = epoch(step["time"])
        self.transactions[revisions[0]] = revisions[-1]

    def live_frame(self) -> Callable[[int, int], bool]:
        """Whether a frame of revisions first..last lies within one committed transaction (as
        a live frame does) rather than spanning several (as a backfill from the change log
        mostly does)."""
        starts = sorted(self.transactions)

        def within_one(first: int, last: int) -> bool:
            i = bisect.bisect_right(starts, first) - 1
            return i >= 0 and last <= self.transactions[starts[i]]

        return within_one

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        try:
            if self.pubsub is not None:
                await asyncio.wait_for(self.pubsub.aclose(), 5)
            if self.client is not None:
                await asyncio.wait_for(self.client.aclose(), 5)
        except Exception:  # noqa: BLE001 - the stack's Redis goes with it anyway
            pass


# --- (d) fan-out ----------------------------------------------------------------------

class Follower:
    """One websocket reading a cluster's stream, recording each change's delivery."""

    def __init__(self, index: int, run: "FanoutRun", slow: bool = False) -> None:
        self.index, self.run, self.slow = index, run, slow
        self.ws = None
        self.start = 0  # the snapshot's revision
        self.last = 0
        self.seen = bytearray()  # [revision - start] -> received
        self.repeats = 0
        self.out_of_order = 0
        self.extra_snapshots = 0
        self.delivery = array("d")  # seconds, commit → arrival, one per change
        self.frames: list[tuple[int, int, int]] = []  # each `changes` frame: first, last revision, changes new to this follower
        self.error: str = ""
        self.closing = False
        self.resumed_at: float | None = None  # the slow follower: when it read again,
        self.resume_target = 0  # the newest change the others had then,
        self.caught_up_at: float | None = None  # and when it had every change up to that one
        self.steps: dict[str, dict[int, tuple[str, float]]] | None = {} if index == 0 else None  # pod -> number -> (time, arrival)

    async def open(self) -> None:
        self.ws = await open_socket(self.run.ws_url, self.run.origin, self.run.token, max_queue=4 if self.slow else None)
        self.start = self.last = await read_snapshot(self.ws, OPEN_TIMEOUT_S)

    async def follow(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            if self.slow:
                await self._until_pause()
                await asyncio.sleep(self.run.slow_seconds)  # reads nothing: the library stops reading the socket at 4 queued
                self.resumed_at = time.time()
                self.resume_target = max(self.run.first_arrival, default=self.last)
            while True:
                raw = await self.ws.recv()
                self.take(raw, time.time())
        except ConnectionClosed as exc:
            if not self.closing:
                self.error = (f"closed by the server: {exc}" if exc.rcvd is not None else f"dropped: {exc}")[:160]

    async def _until_pause(self) -> None:
        await self.run.posted.wait()
        pause_at = self.run.post_sent + SLOW_AFTER_S
        while (left := pause_at - time.time()) > 0:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), left)  # cancelling recv loses nothing
            except asyncio.TimeoutError:
                break
            self.take(raw, time.time())

    def take(self, raw: str | bytes, arrived: float) -> None:
        run = self.run
        entries = run.parsed(raw)
        if entries is None:
            if read_frame(raw).get("type") == "snapshot":
                self.extra_snapshots += 1
            return
        fresh = len(self.delivery)
        for revision, at, steps in entries:
            i = revision - self.start
            if i <= 0:
                self.repeats += 1
                continue
            if i >= len(self.seen):
                self.seen.extend(bytes(i - len(self.seen) + 4096))
            if self.seen[i]:
                self.repeats += 1
                continue
            self.seen[i] = 1
            if revision != self.last + 1:
                self.out_of_order += 1
            if revision > self.last:
                self.last = revision
            self.delivery.append(arrived - at)
            if not self.slow:
                first = run.first_arrival.get(revision)
                if first is None or arrived < first:
                    run.first_arrival[revision] = arrived
                if arrived > run.last_arrival.get(revision, 0.0):
                    run.last_arrival[revision] = arrived
            if self.steps is not None:
                for step in steps:
                    self.steps.setdefault(step["pod"], {})[step["number"]] = (step["time"], arrived)
        if entries:
            self.frames.append((entries[0][0], entries[-1][0], len(self.delivery) - fresh))
        if self.resumed_at is not None and self.caught_up_at is None and self.last >= self.resume_target and not self.missing(self.resume_target):
            self.caught_up_at = arrived

    def missing(self, target: int) -> int:
        """Revisions after the snapshot up to `target` that never arrived."""
        span = max(0, target - self.start)
        return span - sum(self.seen[1:span + 1])


@dataclass
class FanoutRun:
    cluster: str
    token: str
    ws_url: str
    origin: str
    slow_seconds: float
    posted: asyncio.Event = field(default_factory=asyncio.Event)
    post_sent: float = 0.0
    at_epoch: dict[int, float] = field(default_factory=dict)
    first_arrival: dict[int, float] = field(default_factory=dict)
    last_arrival: dict[int, float] = field(default_factory=dict)
    # A live frame is encoded once by daphne and the same text sent to every follower, so
    # its parse is kept by that text and shared: the bench's own loop then decodes each
    # frame about once, not once per follower (it shares the machine it measures).
    frames: dict[bytes, list[tuple[int, float, list]]] = field(default_factory=dict)
    frames_bytes: int = 0

    def parsed(self, raw: str | bytes) -> list[tuple[int, float, list]] | None:
        """A `changes` frame's (revision, `at` in epoch seconds, steps); None for another message."""
        found = self.frames.get(raw)
        if found is not None:
            return found
        frame = read_frame(raw)
        if frame.get("type") != "changes":
            return None
        found = []
        for entry in frame["entries"]:
            at = self.at_epoch.get(entry["revision"])
            if at is None:
                at = self.at_epoch[entry["revision"]] = epoch(entry["at"])
            found.append((entry["revision"], at, entry["steps"]))
        if self.frames_bytes > FRAME_CACHE_BYTES:
            self.frames.clear()
            self.frames_bytes = 0
        self.frames[raw] = found
        self.frames_bytes += len(raw)
        return found


class Scenarios:
    def __init__(self, command, stack, base: str, *, replicas: int, options: dict) -> None:
        self.command, self.stack, self.base = command, stack, base.rstrip("/")
        self.replicas = replicas
        self.followers = int(options.get("followers") or 0)
        self.slow_seconds = float(options.get("slow_seconds") or 0.0)
        self.sandboxes = int(options.get("sandboxes") or 0)
        self.rounds = int(options.get("rounds") or 0)
        self.idle_sockets = int(options.get("idle_sockets") or 0)
        self.netloc = urlparse(self.base).netloc
        self.results: dict[str, Any] = {}

    def say(self, text: str) -> None:
        self.command.stdout.write(text)

    def ws_url(self, cluster: str) -> str:
        return f"ws://{self.netloc}/ws/clusters/{cluster}/?compress=deflate"  # as the page follows it

    def run(self) -> dict:
        # (f)'s idle websockets go first, on daphne as (a)-(c) and (m) left it: after (d) it
        # holds what that run's backlog made it grow to, which is not what idle followers cost.
        for key, wanted, fn in (
            ("idle", self.idle_sockets > 0, self.idle),
            ("d", self.followers > 0, self.fanout),
            ("e", self.sandboxes > 0, self.sandbox_rounds),
            ("f", True, self.memory),
        ):
            if not wanted:
                continue
            try:
                self.results[key] = fn()
            except Exception as exc:  # noqa: BLE001 - a scenario that breaks is reported; the others still run
                self.results[key] = {"crashed": f"{exc!r}", "trace": traceback.format_exc(limit=6)}
        if "f" in self.results and "idle" in self.results:
            self.results["f"]["idle"] = self.results.pop("idle")
        return self.results

    # (d) ------------------------------------------------------------------------------

    def fanout(self) -> dict:
        names = ["bench-fanout", "bench-fanout-slow"]
        self.say(f"(d) fan-out: {self.followers} followers, a {self.replicas}-replica Deployment, without and with a slow follower ...")
        tokens = make_clusters(self.stack, names)
        out = {}
        for name, slow in zip(names, (False, True)):
            waited = self.quiet_web() if slow else 0.0
            usage = Usage(self.stack)
            web = self.stack.procs.get("web")
            sampler = RssSampler(web.pid).start() if web else None
            try:
                result = asyncio.run(self._fanout(name, tokens[name], slow))
            finally:
                peak = sampler.stop() if sampler else 0.0
            result["usage"] = usage.done()
            result["daphne_peak_mb"] = peak
            result["quiet_wait_s"] = waited
            out["slow" if slow else "plain"] = result
        return out

    def quiet_web(self, busy: float = 0.2, timeout: float = 120.0) -> float:
        """Wait until daphne uses under `busy` of a core over a second (the sends of a run
        before may still be queued in it); how long that took."""
        web = self.stack.procs.get("web")
        if web is None:
            return 0.0
        began = time.monotonic()
        sessions = {web.pid: "web"}
        while time.monotonic() - began < timeout:
            before = cpu_seconds(sessions)["web"]
            time.sleep(1.0)
            if cpu_seconds(sessions)["web"] - before < busy:
                break
        return time.monotonic() - began

    async def _wait_saying(self, going: Callable[[], bool], progress: Callable[[], str], every: float = 5.0) -> None:
        """Wait while `going()` holds, saying `progress()` every few seconds."""
        next_report = time.monotonic() + every
        while going():
            await asyncio.sleep(0.2)
            if time.monotonic() >= next_report:
                self.say(progress())
                next_report = time.monotonic() + every

    async def _fanout(self, cluster: str, token: str, slow: bool) -> dict:
        run = FanoutRun(cluster, token, self.ws_url(cluster), self.base, self.slow_seconds)
        http = AsyncHttp(self.base, token)
        result: dict[str, Any] = {"cluster": cluster, "problems": []}
        followers = [Follower(i, run) for i in range(self.followers)]
        slowpoke = Follower(self.followers, run, slow=True) if slow else None
        everyone = followers + ([slowpoke] if slowpoke else [])
        tasks: list[asyncio.Task] = []
        probe = await LayerProbe(self.stack.redis_url(), cluster).start()
        try:
            opened, reasons = 0, Counter()
            for start in range(0, len(everyone), OPEN_WAVE):
                wave = everyone[start:start + OPEN_WAVE]
                outcomes = await asyncio.gather(*(asyncio.wait_for(f.open(), OPEN_TIMEOUT_S) for f in wave), return_exceptions=True)
                for f, outcome in zip(wave, outcomes):
                    if isinstance(outcome, BaseException):
                        f.error = f"did not open: {outcome!r}"[:200]
                        reasons[type(outcome).__name__] += 1
                    else:
                        opened += 1
            result["opened"], result["open_failures"] = opened, dict(reasons)
            live = [f for f in everyone if f.ws is not None and not f.error]
            tasks = [asyncio.create_task(f.follow()) for f in live]
            scraped0 = await scrape(http)

            deployment = f"fan-{format(int(time.time() * 1000) % 10**8, 'x')}"
            prefix = f"{deployment}-"
            run.post_sent = time.time()
            status, body = await http.request("POST", f"/k8s/{cluster}/apis/apps/v1/namespaces/default/deployments", self.command._deployment(deployment, self.replicas))
            answered = time.time()
            run.posted.set()
            result["post_ms"] = (answered - run.post_sent) * 1000
            if status != 201:
                raise RuntimeError(f"POST deployment answered {status}: {json.dumps(body)[:300]}")
            reference = followers[0] if followers and followers[0] in live else (live[0] if live else None)
            if reference is None or reference.steps is None:
                raise RuntimeError("no follower opened the stream")

            def committed_ready() -> list[float]:
                return sorted(t[8] for pod, t in probe.steps.items() if pod.startswith(prefix) and 8 in t)

            def seen_ready() -> list[float]:
                return sorted(t[8][1] for pod, t in reference.steps.items() if pod.startswith(prefix) and 8 in t)

            # Ready as committed (step 8 out of Redis, read beside daphne): the control
            # plane's own pace, whatever the followers' lag.
            timeout = max(120.0, self.replicas * 0.5)
            await self._wait_saying(
                lambda: len(committed_ready()) < self.replicas and time.time() - run.post_sent < timeout,
                lambda: f"    {cluster}: {len(committed_ready())}/{self.replicas} Ready after {time.time() - run.post_sent:.1f} s ({len(seen_ready())} on follower 0's stream)",
            )
            ready = committed_ready()
            result["ready_committed"] = len(ready)
            if len(ready) >= self.replicas:
                result["all_ready_s"] = ready[self.replicas - 1] - run.post_sent
            # The revision every follower must reach: the last published once the writes
            # that follow Ready (the Deployment's status, events) have settled for a second
            # (from the reader beside daphne: the API may be too busy to answer now).
            while True:
                newest = max(probe.arrival, default=0)
                await asyncio.sleep(1.0)
                if max(probe.arrival, default=0) == newest or time.time() - run.post_sent > timeout:
                    break
            target = max(probe.arrival, default=0)
            catch_up = max(60.0, self.replicas * 0.5) + (self.slow_seconds if slow else 0.0)
            deadline = time.monotonic() + catch_up
            await self._wait_saying(
                lambda: time.monotonic() < deadline and any(f.last < target and not f.error for f in live),
                lambda: f"    {cluster}: {sum(1 for f in live if f.last >= target)} of {len(live)} followers have every change up to revision {target} ({sum(1 for f in live if f.error)} closed)",
            )
            seen = seen_ready()
            result["ready_on_stream"] = len(seen)
            if len(seen) >= self.replicas:
                result["all_seen_s"] = seen[self.replicas - 1] - run.post_sent
            behind = [f for f in live if f.last < target and not f.error]
            if behind:
                result["problems"].append(f"{len(behind)} followers still open had not reached revision {target} {catch_up:.0f} s after the pods were Ready")
            try:  # the API's word on Ready, once the followers are done (or given up on)
                _, items = await list_pods(http, cluster, f"app={deployment}")
                result["ready_api"] = sum(1 for p in items if is_ready(p))
            except (OSError, asyncio.TimeoutError, RuntimeError) as exc:
                result["problems"].append(f"the API did not list the pods: {exc!r}")
            result["server"] = metrics_delta(scraped0, await scrape(http))
            result["backfilled"] = result["server"]["backfilled"] if result["server"] else None
            result["target"] = target

            # What arrived.
            def check(f: Follower) -> dict:
                return {"missing": f.missing(target), "repeats": f.repeats, "out_of_order": f.out_of_order, "extra_snapshots": f.extra_snapshots, "error": f.error}

            others = [check(f) for f in followers]
            result["followers"] = len(followers)
            result["complete"] = sum(1 for c in others if not c["missing"] and not c["repeats"] and not c["extra_snapshots"] and not c["error"])
            result["missing"] = sum(c["missing"] for c in others)
            result["repeats"] = sum(c["repeats"] for c in others)
            result["out_of_order"] = sum(c["out_of_order"] for c in others)
            result["extra_snapshots"] = sum(c["extra_snapshots"] for c in others)
            result["errors"] = Counter(re.sub(r"\d+ s", "N s", c["error"]) for c in others if c["error"])
            result["changes"] = target - reference.start
            result["revisions"] = (min((f.start for f in live), default=0) + 1, target)
            delivery = array("d")
            per_follower_p99 = []
            for f in followers:
                delivery.extend(f.delivery)
                if len(f.delivery):
                    per_follower_p99.append(pct(f.delivery, 99))
            result["delivery"] = delivery
            result["worst_follower_p99"] = max(per_follower_p99) if per_follower_p99 else None
            live_frame = probe.live_frame()
            result["backfilled_each"] = sorted(sum(n for first, last, n in f.frames if not live_frame(first, last)) for f in followers)
            result["first"] = array("d", (t - run.at_epoch[r] for r, t in run.first_arrival.items() if r in run.at_epoch))
            result["spread"] = array("d", (run.last_arrival[r] - t for r, t in run.first_arrival.items()))
            result["to_redis"] = array("d", (t - run.at_epoch[r] for r, t in probe.arrival.items() if r in run.at_epoch))
            result["redis_to_first"] = array("d", (run.first_arrival[r] - t for r, t in probe.arrival.items() if r in run.first_arrival))
            # The server's side, per pod of the deployment: the POST to its creation (steps
            # 1-3 commit), its creation to step 8's commit, step 8's commit to its arrival.
            created, working, delivered = array("d"), array("d"), array("d")
            for pod, steps in reference.steps.items():
                if pod.startswith(prefix) and 1 in steps and 8 in steps:
                    t1, t8 = epoch(steps[1][0]), epoch(steps[8][0])
                    created.append(t1 - run.post_sent)
                    working.append(t8 - t1)
                    delivered.append(steps[8][1] - t8)
            result["created"], result["working"], result["step8_delivery"] = created, working, delivered
            if slowpoke is not None:
                s = check(slowpoke)
                s["delivery_max_s"] = max(slowpoke.delivery) if len(slowpoke.delivery) else None
                s["caught_up_s"] = (slowpoke.caught_up_at - slowpoke.resumed_at) if slowpoke.caught_up_at and slowpoke.resumed_at else None
                s["complete"] = not s["missing"] and not s["repeats"] and not s["extra_snapshots"] and not s["error"] and slowpoke.ws is not None
                s["received"] = len(slowpoke.delivery)
                result["slowpoke"] = s
        finally:
            for f in everyone:
                f.closing = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await close_all(f.ws for f in everyone)
            await probe.stop()
            http.close()
        return result

    # (e) ------------------------------------------------------------------------------

    def sandbox_rounds(self) -> dict:
        names = [f"bench-{i}" for i in range(self.sandboxes)]
        self.say(f"(e) {self.sandboxes} sandboxes at once: {self.rounds} round{'' if self.rounds == 1 else 's'} of a bare pod and a {SANDBOX_REPLICAS}-replica Deployment each ...")
        tokens = make_clusters(self.stack, names)
        waited = self.quiet_web()
        capacity = parallel_capacity()  # the cores (e) is about to use: they change from minute to minute on a shared host
        usage = Usage(self.stack)
        result = asyncio.run(self._sandboxes(tokens))
        result["usage"] = usage.done()
        result["quiet_wait_s"] = waited
        result["capacity"] = capacity
        return result

    async def _sandboxes(self, tokens: dict[str, str]) -> dict:
        clients = [SandboxClient(name, token, self) for name, token in tokens.items()]
        result: dict[str, Any] = {"problems": [], "rounds": []}
        # Seconds, per pod (the bare one and the Deployment's apart) or per POST.
        m = {key: array("d") for key in ("bare", "owned", "post", "created_bare", "created_owned", "working", "delivered")}
        try:
            outcomes = await asyncio.gather(*(asyncio.wait_for(c.open(), OPEN_TIMEOUT_S) for c in clients), return_exceptions=True)
            failed = [f"{c.cluster}: {o!r}"[:200] for c, o in zip(clients, outcomes) if isinstance(o, BaseException)]
            if failed:
                raise RuntimeError(f"{len(failed)} websockets did not open, e.g. {failed[0]}")
            readers = [asyncio.create_task(c.follow()) for c in clients]
            # The class at rest with its pages open: what the periodic work of its sandboxes
            # (heartbeats, node monitor, resync, the streams' polls) costs before anyone acts.
            rest = Usage(self.stack)
            await asyncio.sleep(AT_REST_S)
            result["at_rest"] = rest.done()
            scraped0 = await scrape(clients[0].http)
            # On PostgreSQL, what the database ran during the rounds (none of the checks after).
            statements = await asyncio.to_thread(self.command._statements_reset)
            try:
                in_rounds: dict[str, float] = {}
                rounds_wall = 0.0
                for number in range(1, self.rounds + 1):
                    fire_at = time.time() + 0.5
                    await asyncio.sleep(0.45)
                    round_usage, began, began_wall = Usage(self.stack), time.monotonic(), time.time()
                    posted = await asyncio.gather(*(c.create(number, fire_at) for c in clients), return_exceptions=True)
                    refused = [repr(o)[:200] for o in posted if isinstance(o, BaseException)]
                    if refused:
                        result["problems"].append(f"round {number}: {len(refused)} clients' POSTs failed, e.g. {refused[0]}")
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline and not all(c.round_done(number) for c in clients):
                        await asyncio.sleep(0.05)
                    used = round_usage.done()
                    result.setdefault("windows", []).append((began_wall, time.time()))
                    rounds_wall += time.monotonic() - began
                    for name, seconds in used["cpu"].items():
                        in_rounds[name] = in_rounds.get(name, 0.0) + seconds
                    done = sum(1 for c in clients if c.round_done(number))
                    sent = [c.sent[number] for c in clients if number in c.sent]
                    result["rounds"].append({"round": number, "clients_done": done, "posts_within_s": max(s[2] for s in sent) - min(s[0] for s in sent) if sent else 0.0})
                    if done < len(clients):
                        result["problems"].append(f"round {number}: {len(clients) - done} clients did not see step 8 of all {1 + SANDBOX_REPLICAS} pods within 60 s")
                    before = {kind: len(m[kind]) for kind in ("bare", "owned")}
                    for c in clients:
                        c.measure(number, m)
                    # Each round's pods apart: the first is a class's first step, in sandboxes
                    # nothing has run in yet.
                    result["rounds"][-1]["latency"] = [x for kind in ("bare", "owned") for x in m[kind][before[kind]:]]
                    self.say(f"    round {number}: {done} of {len(clients)} clients saw all {1 + SANDBOX_REPLICAS} pods Ready on their websockets")
                result["in_rounds"] = {"wall": rounds_wall, "cpu": in_rounds}
                if statements:
                    result["statements"] = await asyncio.to_thread(self.command._statements_profile)
                result["server"] = metrics_delta(scraped0, await scrape(clients[0].http))
                # Nothing lost: every pod Ready in the API, every revision and step once.
                checks = await asyncio.gather(*(c.check(self.rounds) for c in clients), return_exceptions=True)
            finally:
                for task in readers:
                    task.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
            bad = [f"{c.cluster}: {o!r}"[:200] for c, o in zip(clients, checks) if isinstance(o, BaseException)]
            checks = [o for o in checks if not isinstance(o, BaseException)]
            result["problems"] += bad[:3]
            result["expected_pods"] = len(clients) * self.rounds * (1 + SANDBOX_REPLICAS)
            result["ready_api"] = sum(c["ready_api"] for c in checks)
            result["pods_complete"] = sum(c["pods_complete"] for c in checks)
            result["streams_complete"] = sum(1 for c in checks if c["stream_ok"])
            result["missing"] = sum(c["missing"] for c in checks)
            result["repeats"] = sum(c["repeats"] for c in checks)
            result["changes"] = sum(c["changes"] for c in checks)
            result["clients"] = len(clients)
            result.update(m)
            result["latency"] = m["bare"] + m["owned"]
        finally:
            for c in clients:
                c.closing = True
            await close_all(c.ws for c in clients)
            for c in clients:
                c.http.close()
        return result

    # (f) ------------------------------------------------------------------------------

    def memory(self) -> dict:
        """Each process's RSS after the runs."""
        pids = {name: proc.pid for name, proc in self.stack.procs.items() if proc.poll() is None}
        return {"after_runs": {name: rss_mb(pid) for name, pid in pids.items()}}

    def idle(self) -> dict:
        """daphne's RSS while it holds --idle-sockets idle followers of a small cluster."""
        web = self.stack.procs.get("web")
        if web is None:
            raise RuntimeError("no daphne in the stack")
        self.say(f"(f) memory: daphne holding {self.idle_sockets} idle websockets of a small cluster ...")
        token = make_clusters(self.stack, ["bench-idle"])["bench-idle"]
        return asyncio.run(self._idle(web.pid, token))

    async def _idle(self, web: int, token: str) -> dict:
        url = self.ws_url("bench-idle")
        before = rss_mb(web)
        sockets: list = []
        reasons: Counter = Counter()
        received = Counter()
        readers: list[asyncio.Task] = []
        sampler = RssSampler(web).start()
        tick = os.sysconf("SC_CLK_TCK")

        def daphne_cpu() -> float:
            try:
                with open(f"/proc/{web}/stat") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
                return (int(rest[11]) + int(rest[12])) / tick
            except (OSError, IndexError, ValueError):
                return 0.0

        async def one():
            ws = await open_socket(url, self.base, token)
            await read_snapshot(ws, OPEN_TIMEOUT_S)
            return ws

        async def idle_reader(ws) -> None:
            try:
                async for _ in ws:
                    received["messages"] += 1
            except Exception:  # noqa: BLE001 - a socket that drops is counted below
                received["dropped"] += 1

        began = time.monotonic()
        try:
            for start in range(0, self.idle_sockets, OPEN_WAVE):
                count = min(OPEN_WAVE, self.idle_sockets - start)
                outcomes = await asyncio.gather(*(asyncio.wait_for(one(), OPEN_TIMEOUT_S) for _ in range(count)), return_exceptions=True)
                for o in outcomes:
                    if isinstance(o, BaseException):
                        reasons[type(o).__name__] += 1
                    else:
                        sockets.append(o)
                        readers.append(asyncio.create_task(idle_reader(o)))
            opened_s = time.monotonic() - began
            opening_peak = sampler.peak
            # Held, idle: the highest RSS while they stay open, and daphne's CPU meanwhile.
            sampler.peak = 0.0
            cpu0, t0 = daphne_cpu(), time.monotonic()
            await asyncio.sleep(IDLE_HOLD_S)
            held_cpu = (daphne_cpu() - cpu0) / (time.monotonic() - t0)
            held = max(sampler.peak, rss_mb(web))
        finally:
            sampler.stop()
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await close_all(sockets)
        left = time.monotonic()
        settled = rss_mb(web)
        while time.monotonic() - left < SETTLE_S:
            await asyncio.sleep(0.2)
            settled = rss_mb(web)
        return {
            "before": before, "opening_peak": opening_peak, "held": held, "settled": settled, "opened": len(sockets),
            "failed": sum(reasons.values()), "reasons": dict(reasons), "opened_s": opened_s, "held_cpu": held_cpu,
            "messages": received["messages"], "dropped": received["dropped"],
        }

    # the report -----------------------------------------------------------------------

    def report(self) -> None:
        r = self.results
        if "d" in r:
            self._report_fanout(r["d"])
        if "e" in r:
            self._report_sandboxes(r["e"])
        if "f" in r:
            self._report_memory(r["f"])

    def _crashed(self, label: str, result: dict) -> bool:
        if "crashed" not in result:
            return False
        self.say(f"{label}: the scenario broke off: {result['crashed']}   MISSED")
        for line in result["trace"].rstrip().splitlines()[-6:]:
            self.say(f"      {line}")
        self.say("=" * 78)
        return True

    def _report_fanout(self, d: dict) -> None:
        out = self.say
        out("")
        if self._crashed("(d) fan-out", d):
            return
        plain, slow = d.get("plain"), d.get("slow")
        first = plain or slow
        out(f"(d) fan-out: {self.followers} websocket followers of one cluster during a {self.replicas}-replica Deployment ({machine(first['usage'])})")
        for label, x in (("without a slow follower", plain), (f"with one more follower that reads nothing for {self.slow_seconds:g} s " + (f"from {SLOW_AFTER_S:g} s after the POST" if SLOW_AFTER_S else "from the POST on"), slow)):
            if x is None:
                continue
            out(f"    {label} (cluster {x['cluster']}" + (f"; {machine(x['usage'])}" if x is slow else "") + "):")
            ready = (f"{x['all_ready_s']:.2f} s ({self.replicas / x['all_ready_s']:.1f} pods/s)" if x.get("all_ready_s")
                     else f"only {x.get('ready_committed', 0)} of {self.replicas} within the timeout")
            seen = f"{x['all_seen_s']:.2f} s" if x.get("all_seen_s") else f"never ({x.get('ready_on_stream', 0)} of {self.replicas})"
            out(f"      pods: step 8 of all {self.replicas} committed after {ready}, on follower 0's websocket after {seen}; API: {x.get('ready_api', '?')} of {self.replicas} Ready; "
                f"{x.get('opened', 0)} of {self.followers + (1 if x is slow else 0)} followers opened; daphne's RSS peak {x['daphne_peak_mb']:.0f} MB")
            if x.get("quiet_wait_s", 0.0) > 1.5:
                out(f"      (daphne was still busy with the run before: waited {x['quiet_wait_s']:.1f} s for it to go quiet first)")
            if "complete" in x:
                lossless = x["complete"] == self.followers and not x["problems"]
                out(f"      every change to every follower: {x['complete']} of {x['followers']} followers had all {x['changes']} changes up to revision {x['target']} "
                    f"exactly once; missing {x['missing']}, repeats {x['repeats']}, out of order {x['out_of_order']}, extra snapshots {x['extra_snapshots']}   {verdict(lossless)}")
                for error, count in x["errors"].most_common(3):
                    out(f"        {count} × {error}")
                if x.get("backfilled") is not None:
                    each = x.get("backfilled_each") or [0]
                    out(f"      sent from the change log rather than live: {x['backfilled']:.0f} changes in all (the server's podflow_stream_changes_backfilled_total before/after), "
                        f"{x['backfilled'] / max(1, x.get('opened', 1)):.1f} per follower on average; by frame, about min {each[0]}, median {each[len(each) // 2]}, max {each[-1]} per follower "
                        f"(frames spanning more than one commit)")
                if len(x["delivery"]):
                    p50, p99 = pct(x["delivery"], 50) * 1000, pct(x["delivery"], 99) * 1000
                    worst = f"; the worst follower's p99 {x['worst_follower_p99'] * 1000:.1f} ms" if x.get("worst_follower_p99") is not None else ""
                    who = "the others'" if x is slow else ""
                    compare = f" (without it: p99 {pct(plain['delivery'], 99) * 1000:.1f} ms)" if x is slow and plain and len(plain.get("delivery", [])) else ""
                    out(f"      {who + ' ' if who else ''}delivery commit → client: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(x['delivery'])} deliveries{worst}{compare}   "
                        f"target p99 ≤ {TARGET_FANOUT_P99_MS:.0f} ms   {verdict(p99 <= TARGET_FANOUT_P99_MS)}")
                s = x.get("slowpoke")
                if s is not None:
                    caught = (f"; had what the others had {s['caught_up_s']:.2f} s after it read again" if s.get("caught_up_s") is not None
                              else "; never caught up with the others")
                    behind = f"; at most {s['delivery_max_s']:.1f} s behind" if s.get("delivery_max_s") is not None else ""
                    out(f"      the slow follower: {s['received']} changes, missing {s['missing']}, repeats {s['repeats']}, extra snapshots {s['extra_snapshots']}"
                        f"{behind}{caught}{(' — ' + s['error']) if s['error'] else ''}   every change without loss: {verdict(s['complete'])}")
            for problem in x["problems"]:
                out(f"      problem: {problem}")
            out("      where the time goes (p50 / p99):")
            if "post_ms" in x:
                out(f"        {'POST sent → answered':<54} {x['post_ms']:8.1f} ms")
            out(stretch("POST sent → pod stored (steps 1-3 commit), per pod", x.get("created", []), "s", 8))
            out(stretch("pod stored → step 8 committed, per pod", x.get("working", []), "ms", 8))
            out(stretch("step 8 committed → on a follower, per pod", x.get("step8_delivery", []), "ms", 8))
            out(stretch("commit → first follower, per change", x.get("first", []), "ms", 8))
            out(stretch("  commit → out of Redis (a reader beside daphne)", x.get("to_redis", []), "ms", 8))
            out(stretch("  out of Redis → first follower (daphne)", x.get("redis_to_first", []), "ms", 8))
            out(stretch("first → last follower, per change (the fan-out)", x.get("spread", []), "ms", 8))
            self._usage_and_server(x, 8)
        out("=" * 78)

    def _report_sandboxes(self, e: dict) -> None:
        out = self.say
        out("")
        if self._crashed("(e) sandboxes", e):
            return
        n = e.get("clients", self.sandboxes)
        out(f"(e) {n} sandboxes at once, {self.rounds} round{'' if self.rounds == 1 else 's'}: each client a bare pod and a {SANDBOX_REPLICAS}-replica Deployment in the same second, "
            f"create (POST sent) → step 8 on its own websocket ({machine(e['usage'])})")
        if e.get("capacity"):
            out(f"    just before it (the stack at rest but for its periodic tasks), {e['capacity']}")
        lat = e.get("latency", [])
        if len(lat):
            p50, p99 = pct(lat, 50) * 1000, pct(lat, 99) * 1000
            expected = n * self.rounds * (1 + SANDBOX_REPLICAS)
            out(f"    p50 {p50:7.1f} ms, p99 {p99:7.1f} ms, max {max(lat) * 1000:.1f} ms over {len(lat)} of {expected} pods   "
                f"target p99 ≤ {TARGET_SANDBOX_P99_MS:.0f} ms   {verdict(p99 <= TARGET_SANDBOX_P99_MS and len(lat) == expected)}")
            out(stretch("the bare pods", e["bare"], indent=6))
            out(stretch("the Deployments' pods (from the Deployment's POST)", e["owned"], indent=6))
        if e.get("quiet_wait_s", 0.0) > 1.5:
            out(f"    (daphne was still busy with (d): waited {e['quiet_wait_s']:.1f} s for it to go quiet first)")
        for rd in e.get("rounds", []):
            own = rd.get("latency") or []
            its = f"; its pods p50 {pct(own, 50) * 1000:.0f} ms, p99 {pct(own, 99) * 1000:.0f} ms" if own else ""
            out(f"      round {rd['round']}: {rd['clients_done']} of {n} clients saw all their pods Ready; the {2 * n} POSTs went out within {rd['posts_within_s'] * 1000:.0f} ms{its}")
        if "ready_api" in e:
            lossless = e["pods_complete"] == e["expected_pods"] and e["streams_complete"] == n and not e["problems"]
            out(f"    every pod Ready: {e['ready_api']} of {e['expected_pods']} in the API at the end   {verdict(e['ready_api'] == e['expected_pods'])}")
            out(f"    nothing lost: {e['streams_complete']} of {n} websockets had every one of their {e['changes']} changes in all exactly once (missing {e['missing']}, repeats {e['repeats']}); "
                f"steps 1..8 exactly once on its client's websocket: {e['pods_complete']} of {e['expected_pods']} pods   {verdict(lossless)}")
        for problem in e.get("problems", []):
            out(f"    problem: {problem}")
        if e.get("at_rest"):
            r = e["at_rest"]
            busy = sorted(((k, v) for k, v in r["cpu"].items() if k != "bench clients"), key=lambda kv: -kv[1])
            out(f"    the class at rest first ({n} sandboxes, their websockets open, nothing asked for {r['wall']:.1f} s): the stack kept "
                f"{sum(v for _, v in busy) / max(r['wall'], 1e-9):.3f} cores busy: " + ", ".join(f"{name} {seconds / max(r['wall'], 1e-9):.3f}" for name, seconds in busy if seconds > 0))
        out("    where the time goes (p50 / p99):")
        out(stretch("POST sent → answered (pod, deployment)", e.get("post", [])))
        out(stretch("POST sent → bare pod stored (steps 1-3 commit)", e.get("created_bare", [])))
        out(stretch("POST sent → Deployment's pod stored (via RS)", e.get("created_owned", [])))
        out(stretch("pod stored → step 8 committed", e.get("working", [])))
        out(stretch("step 8 committed → on the client's websocket", e.get("delivered", [])))
        self._usage_and_server(e, 6)
        if e.get("in_rounds"):
            r = e["in_rounds"]
            busy = sorted(r["cpu"].items(), key=lambda kv: -kv[1])
            out(f"      of it during the rounds (from just before the POSTs to the last step 8 seen, {r['wall']:.1f} s wall, {sum(r['cpu'].values()) / max(r['wall'], 1e-9):.2f} cores busy): "
                + ", ".join(f"{name} {seconds:.1f}" for name, seconds in busy if seconds >= 0.05))
        for line in statement_lines(e.get("statements") or {}, 6):
            out(line)
        for line in self.command.lock_lines(e.get("windows") or [], 6):
            out(line)
        out("=" * 78)

    def _usage_and_server(self, result: dict, indent: int) -> None:
        """The CPU our processes used during a run, and what the server's metrics counted."""
        self.say(f"{' ' * indent}{usage_line(result['usage'])}")
        for line in server_lines(result.get("server"), indent):
            self.say(line)

    def _report_memory(self, f: dict) -> None:
        out = self.say
        out("")
        if self._crashed("(f) memory", f):
            return
        after = f["after_runs"]
        load = os.getloadavg()[0]
        out(f"(f) memory (RSS, MB) ({os.cpu_count()} cores; load average {load:.2f} now)")
        out("    after the runs: " + ", ".join(f"{name} {value:.0f}" for name, value in sorted(after.items())))
        workers = {name: value for name, value in after.items() if name in WORKERS or name.rsplit("-", 1)[0] in WORKERS}
        if workers:
            worst = max(workers, key=workers.get)
            out(f"    each Celery worker: at most {workers[worst]:.0f} ({worst})   target ≤ {TARGET_WORKER_MB:.0f}   {verdict(workers[worst] <= TARGET_WORKER_MB)}")
        idle = f.get("idle")
        if idle and "crashed" in idle:
            out(f"    daphne holding {self.idle_sockets} idle websockets: broke off: {idle['crashed']}   MISSED")
        elif idle:
            out(f"    daphne holding {idle['opened']} idle websockets of a three-node cluster, before (d) and (e) ({idle['failed']} did not open{(': ' + str(idle['reasons'])) if idle['reasons'] else ''}; "
                f"all open after {idle['opened_s']:.1f} s): {idle['held']:.0f} while held   target ≤ {TARGET_IDLE_DAPHNE_MB:.0f}   "
                f"{verdict(idle['held'] <= TARGET_IDLE_DAPHNE_MB and idle['failed'] == 0 and idle['opened'] == self.idle_sockets)}")
            out(f"      daphne: {idle['before']:.0f} before, peak {idle['opening_peak']:.0f} while they opened, {idle['settled']:.0f} {SETTLE_S:.0f} s after they left; "
                f"{idle['held_cpu'] * 100:.0f}% of a core while they sat idle ({idle['messages']} messages reached them in {IDLE_HOLD_S:.0f} s, {idle['dropped']} dropped)")
        out("=" * 78)


class SandboxClient:
    """(e): one learner — a cluster, its websocket and its HTTP connection."""

    def __init__(self, cluster: str, token: str, scenarios: Scenarios) -> None:
        self.cluster, self.token, self.s = cluster, token, scenarios
        self.http = AsyncHttp(scenarios.base, token)
        self.ws = None
        self.start = self.last = 0
        self.seen: Counter = Counter()  # revision -> times received
        self.steps: dict[str, dict[int, tuple[str, float]]] = {}  # pod -> number -> (time, arrival)
        self.step_counts: Counter = Counter()  # (pod, number) -> times received
        self.sent: dict[int, tuple[float, float, float, float]] = {}  # round -> pod sent, answered, deployment sent, answered
        self.closing = False
        self.error = ""

    async def open(self) -> None:
        self.ws = await open_socket(self.s.ws_url(self.cluster), self.s.base, self.token)
        self.start = self.last = await read_snapshot(self.ws, OPEN_TIMEOUT_S)

    async def follow(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                raw = await self.ws.recv()
                arrived = time.time()
                frame = read_frame(raw)
                if frame.get("type") != "changes":
                    continue
                for entry in frame["entries"]:
                    self.seen[entry["revision"]] += 1
                    self.last = max(self.last, entry["revision"])
                    for step in entry["steps"]:
                        self.steps.setdefault(step["pod"], {}).setdefault(step["number"], (step["time"], arrived))
                        self.step_counts[(step["pod"], step["number"])] += 1
        except ConnectionClosed as exc:
            if not self.closing:
                self.error = f"closed: {exc}"

    async def create(self, number: int, fire_at: float) -> None:
        await asyncio.sleep(max(0.0, fire_at - time.time()))
        base = f"/k8s/{self.cluster}"
        pod_sent = time.time()
        status, body = await self.http.request("POST", f"{base}/api/v1/namespaces/default/pods", self.s.command._pod(f"r{number}-pod"))
        pod_answered = time.time()
        if status != 201:
            raise RuntimeError(f"{self.cluster}: POST pod answered {status}: {json.dumps(body)[:200]}")
        dep_sent = time.time()
        status, body = await self.http.request("POST", f"{base}/apis/apps/v1/namespaces/default/deployments", self.s.command._deployment(f"r{number}-dep", SANDBOX_REPLICAS))
        dep_answered = time.time()
        if status != 201:
            raise RuntimeError(f"{self.cluster}: POST deployment answered {status}: {json.dumps(body)[:200]}")
        self.sent[number] = (pod_sent, pod_answered, dep_sent, dep_answered)

    def pods_of(self, number: int) -> list[str]:
        return [p for p in self.steps if p == f"r{number}-pod" or p.startswith(f"r{number}-dep-")]

    def round_done(self, number: int) -> bool:
        ready = [p for p in self.pods_of(number) if 8 in self.steps[p]]
        return len(ready) >= 1 + SANDBOX_REPLICAS and f"r{number}-pod" in ready

    def measure(self, number: int, m: dict[str, array]) -> None:
        if number not in self.sent:
            return
        pod_sent, pod_answered, dep_sent, dep_answered = self.sent[number]
        m["post"].extend((pod_answered - pod_sent, dep_answered - dep_sent))
        for pod in self.pods_of(number):
            steps = self.steps[pod]
            if 8 not in steps:
                continue
            kind = "bare" if pod == f"r{number}-pod" else "owned"
            sent = pod_sent if kind == "bare" else dep_sent
            m[kind].append(steps[8][1] - sent)
            if 1 in steps:
                t1, t8 = epoch(steps[1][0]), epoch(steps[8][0])
                m[f"created_{kind}"].append(t1 - sent)
                m["working"].append(t8 - t1)
                m["delivered"].append(steps[8][1] - t8)

    async def check(self, rounds: int) -> dict:
        target, items = await list_pods(self.http, self.cluster)
        deadline = time.monotonic() + 30
        while self.last < target and time.monotonic() < deadline and not self.error:
            await asyncio.sleep(0.1)
        expected = {f"r{n}-pod" for n in range(1, rounds + 1)}
        mine = [p for p in items if p["metadata"]["name"] in expected or any(p["metadata"]["name"].startswith(f"r{n}-dep-") for n in range(1, rounds + 1))]
        names = [p["metadata"]["name"] for p in mine]
        complete = sum(1 for name in names if all(self.step_counts[(name, k)] == 1 for k in range(1, 9)))
        span = range(self.start + 1, target + 1)
        missing = sum(1 for r in span if not self.seen[r])
        repeats = sum(c - 1 for c in self.seen.values() if c > 1) + sum(c for r, c in self.seen.items() if r <= self.start)
        return {
            "ready_api": sum(1 for p in mine if is_ready(p)), "pods_complete": complete, "missing": missing, "repeats": repeats,
            "changes": len(span), "stream_ok": not missing and not repeats and not self.error,
        }


def run_scenarios(command, stack, base: str, *, replicas: int, options: dict) -> Scenarios:
    scenarios = Scenarios(command, stack, base, replicas=replicas, options=options)
    scenarios.run()
    return scenarios
