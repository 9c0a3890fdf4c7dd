"""podflow's Prometheus metrics: what every process measures, and where it is recorded.

Each process of the stack (daphne, one Celery worker per role, beat, the `manage.py`
commands it runs) counts in its own files under PROMETHEUS_MULTIPROC_DIR, which
cluster/stack.py sets for every child and empties at start (prometheus-client's
multiprocess mode); web/metrics.py's `/metrics` adds them up with the figures read at
scrape time (queue depth, sandbox and pod counts). Without the variable (the unit tests,
a shell) each process keeps its own figures in memory.

Recorded on the hot paths, each costing a counter or a histogram observe (and, for a pod's
steps, one cache write at its creation and one read in each process that records a later
step):

- every HTTP request (web/metrics.py's middleware) and every Kubernetes API request
  (cluster/apiserver/handlers/k8s.py's api_view);
- every committed transaction, as a store listener (`committed`, registered in
  cluster/apps.py): writes, revisions, and the time from a pod's creation to each of its
  eight steps, from the step rows the transaction recorded (invariant 5);
- every Celery task, through Celery's signals (`watch_celery`, from config/celery.py):
  how long it waited in its queue and how long it ran;
- the browser stream (web/consumers.py): followers, frames, changes replayed from the
  change log and changes carried several to a frame.

Importable before Django's apps are ready (config/celery.py imports it while settings
load): nothing here imports a model.
"""
from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery import signals
from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache, caches
from prometheus_client import Counter, Gauge, Histogram, multiprocess

from cluster.apimachinery import kinds

if TYPE_CHECKING:
    from cluster.apiserver.store import Committed
    from cluster.models import Cluster

log = logging.getLogger("podflow.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# prometheus-client opens its files there as each metric is made: a directory named in
# the environment but not made yet (a process started by hand) must not stop the import.
if os.environ.get(MULTIPROC_ENV):
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)

# Seconds. From the 1 ms a read takes to the minutes a pod waits behind an image pull's back-off.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

# --- requests -----------------------------------------------------------------------------

HTTP_REQUEST_SECONDS = Histogram(
    "podflow_http_request_duration_seconds",
    "HTTP requests to daphne (the page, the API, static files) until the response is ready, by method and view.",
    ["method", "view"],
    buckets=LATENCY_BUCKETS,
)
HTTP_RESPONSES = Counter(
    "podflow_http_responses_total",
    "HTTP responses by method, view and status code.",
    ["method", "view", "code"],
)
API_REQUEST_SECONDS = Histogram(
    "podflow_apiserver_request_duration_seconds",
    "Kubernetes API requests by verb and resource (as kube-apiserver's apiserver_request_duration_seconds; "
    "a request on no resource, such as discovery, has the HTTP method as verb and an empty resource).",
    ["verb", "resource"],
    buckets=LATENCY_BUCKETS,
)
API_REQUESTS = Counter(
    "podflow_apiserver_requests_total",
    "Kubernetes API requests by verb, resource and status code (as kube-apiserver's apiserver_request_total).",
    ["verb", "resource", "code"],
)

# --- the store ----------------------------------------------------------------------------

STORE_WRITES = Counter(
    "podflow_store_writes_total",
    "Write transactions the store committed (each took the cluster's lock once and made one or more revisions).",
)
STORE_REVISIONS = Counter(
    "podflow_store_revisions_total",
    "Revisions committed, one per object written, by kind and change type (ADDED, MODIFIED, DELETED).",
    ["kind", "type"],
)
POD_STEP_SECONDS = Histogram(
    "podflow_pod_creation_to_step_seconds",
    "Time from a pod's creation (the write that stored it) to each of its eight steps being recorded; "
    "a step that was not needed (step 3 of a bare pod) is not counted.",
    ["step"],
    buckets=LATENCY_BUCKETS,
)

# --- Celery -------------------------------------------------------------------------------

TASK_QUEUED_SECONDS = Histogram(
    "podflow_celery_task_queued_seconds",
    "Time a Celery task waited from being sent (or from its countdown's end) until a worker started it, by queue and task.",
    ["queue", "task"],
    buckets=LATENCY_BUCKETS,
)
TASK_RUN_SECONDS = Histogram(
    "podflow_celery_task_run_seconds",
    "Time a Celery task ran, by queue and task.",
    ["queue", "task"],
    buckets=LATENCY_BUCKETS,
)

# --- the browser stream (web/consumers.py) ------------------------------------------------

STREAM_FOLLOWERS = Gauge(
    "podflow_stream_followers",
    "Websockets following a cluster's stream (/ws/clusters/<cluster>/).",
    multiprocess_mode="livesum",
)
STREAM_FRAMES = Counter(
    "podflow_stream_frames_sent_total",
    "Websocket frames sent to the stream's followers, by message type.",
    ["type"],
)
STREAM_COALESCED = Counter(
    "podflow_stream_changes_coalesced_total",
    "Changes sent to a follower in a websocket frame that carried more than one change.",
)
STREAM_BACKFILLED = Counter(
    "podflow_stream_changes_backfilled_total",
    "Changes sent to a follower from the change log rather than the live group: a replay after ?since= "
    "or a gap filled (invariant 7).",
)

FRAME_TYPES = frozenset(("snapshot", "snapshot-part", "change", "changes", "cluster", "clock", "request", "traffic", "broadcast", "pace", "pong"))

# --- the multiprocess directory -----------------------------------------------------------


def multiproc_dir(var_dir: Path) -> Path:
    """Where the stack's processes keep their figures."""
    return Path(var_dir) / "metrics"


def clear_dir(path: Path) -> None:
    """Empty the directory before a stack starts: figures of processes from an earlier run
    would otherwise be added to this one's (prometheus-client's rule for multiprocess mode).
    Only its own files go, in case the directory was named by hand."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def process_gone(pid: int, path: Path) -> None:
    """A child of the stack exited: its followers are followed no more (its counters stay
    in the sum: what it counted did happen)."""
    if Path(path).is_dir():
        multiprocess.mark_process_dead(pid, str(path))


# --- requests -----------------------------------------------------------------------------

HTTP_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
VERBS = frozenset(("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")) | HTTP_METHODS
RESOURCES = frozenset(k.plural for k in kinds.ALL)
# The subresources cluster/apiserver/handlers/k8s.py serves.
SUBRESOURCES = frozenset(("status", "scale", "log", "binding", "finalize"))


def http_request(method: str, view: str, code: int, seconds: float) -> None:
    method = method if method in HTTP_METHODS else "other"
    HTTP_REQUEST_SECONDS.labels(method, view).observe(seconds)
    HTTP_RESPONSES.labels(method, view, str(code)).inc()


def api_request(verb: str, plural: str | None, sub: str | None, code: int, seconds: float) -> None:
    """One Kubernetes API request. The labels are bounded whatever the URL said: a resource
    or subresource the API server does not serve is "unknown", and so is a verb it does not know."""
    verb = verb if verb in VERBS else "unknown"
    if plural:
        resource = plural if plural in RESOURCES else "unknown"
        if sub:
            resource += "/" + (sub if sub in SUBRESOURCES else "unknown")
    else:
        resource = ""
    API_REQUEST_SECONDS.labels(verb, resource).observe(seconds)
    API_REQUESTS.labels(verb, resource, str(code)).inc()


# --- the store's listener -----------------------------------------------------------------

# A pod's creation moment, kept where every process reads it (the shared cache: Redis, or
# the unit tests' memory): its later steps are recorded by the scheduler and the kubelet.
CREATED_KEY = "podflow:metrics:pod-created:{uid}"
CREATED_SECONDS = 24 * 3600
# And the last few in this process, so a kubelet recording steps 5 to 8 asks once.
_created: OrderedDict[str, float] = OrderedDict()
_CREATED_LOCAL = 4096
# After the cache fails, it is left alone for a while: a step is not worth a timeout each.
CACHE_PAUSE_SECONDS = 30.0
_cache_down_until = 0.0
# One cache backend for the process: under ASGI `django.core.cache.cache` is a new backend,
# with a new Redis connection, for each request (about 1 ms more per pod created).
_cache: BaseCache | None = None


def committed(cluster: Cluster, changes: list[Committed]) -> None:
    """The store's commit listener: count the transaction and its revisions, and time
    each step it recorded since its pod's creation (the creation times it needs, and those
    it learns, go to the cache in one round trip each per transaction)."""
    STORE_WRITES.inc()
    timed: list[Committed] = []
    for change in changes:
        STORE_REVISIONS.labels(change.kind if change.kind in kinds.BY_KIND else "other", change.type).inc()
        if change.steps:
            timed.append(change)
    if not timed:
        return
    learnt: dict[str, float] = {}
    for change in timed:
        if change.type == "ADDED":
            # steps 1-3 are recorded with the pod's creation
            learnt[change.steps[0].pod_uid] = change.steps[0].time.timestamp()
    for uid, created in learnt.items():
        _keep_local(uid, created)
    if learnt:
        _cache_call("set_many", {CREATED_KEY.format(uid=uid): created for uid, created in learnt.items()}, CREATED_SECONDS)
    wanted = {change.steps[0].pod_uid for change in timed} - _created.keys()
    if wanted:
        found = _cache_call("get_many", [CREATED_KEY.format(uid=uid) for uid in wanted]) or {}
        for uid in wanted:
            created = found.get(CREATED_KEY.format(uid=uid))
            if created is not None:
                _keep_local(uid, created)
    for change in timed:
        # Created before the metrics were, or forgotten: not timed.
        created = _created.get(change.steps[0].pod_uid)
        if created is None:
            continue
        for step in change.steps:
            if step.status != step.NOT_NEEDED:
                POD_STEP_SECONDS.labels(str(step.number)).observe(max(0.0, step.time.timestamp() - created))


def _keep_local(uid: str, created: float) -> None:
    _created[uid] = created
    while len(_created) > _CREATED_LOCAL:
        _created.popitem(last=False)


def _cache_call(operation: str, *args: Any) -> Any:
    global _cache, _cache_down_until
    if time.monotonic() < _cache_down_until:
        return None
    if _cache is None:
        _cache = caches.create_connection(DEFAULT_CACHE_ALIAS)
    try:
        return getattr(_cache, operation)(*args)
    except Exception:
        _cache_down_until = time.monotonic() + CACHE_PAUSE_SECONDS
        log.warning("the cache did not answer: pod step latencies are not timed for %.0f s", CACHE_PAUSE_SECONDS, exc_info=True)
        return None


# --- Celery -------------------------------------------------------------------------------

PUBLISHED_HEADER = "podflow_published"
_running: dict[str, tuple[float, str, str]] = {}


def watch_celery() -> None:
    """Time every task: each process that sends tasks stamps them, each worker times them."""
    signals.before_task_publish.connect(_stamp, weak=False, dispatch_uid="podflow-metrics-stamp")
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="podflow-metrics-started")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="podflow-metrics-finished")


def _stamp(sender: str | None = None, headers: dict | None = None, **_: Any) -> None:
    if headers is not None:
        headers[PUBLISHED_HEADER] = time.time()


def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task is None or task_id is None:
        return
    request = task.request
    queue = (request.delivery_info or {}).get("routing_key") or "unknown"
    _running[task_id] = (time.perf_counter(), queue, task.name)
    published = getattr(request, PUBLISHED_HEADER, None)
    if published is None:  # sent by a process that does not stamp
        return
    due = float(published)
    eta = request.eta
    if eta:
        # A countdown is time the sender asked for, not time spent waiting for a worker.
        due = max(due, (datetime.fromisoformat(eta) if isinstance(eta, str) else eta).timestamp())
    TASK_QUEUED_SECONDS.labels(queue, task.name).observe(max(0.0, time.time() - due))


def _task_finished(task_id: str | None = None, **_: Any) -> None:
    started = _running.pop(task_id, None) if task_id else None
    if started is not None:
        began, queue, name = started
        TASK_RUN_SECONDS.labels(queue, name).observe(time.perf_counter() - began)


# --- the browser stream -------------------------------------------------------------------


def frame_sent(content: Any) -> None:
    kind = content.get("type") if isinstance(content, dict) else None
    STREAM_FRAMES.labels(kind if kind in FRAME_TYPES else "other").inc()
