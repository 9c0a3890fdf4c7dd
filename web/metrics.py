"""`/metrics`: podflow's figures in Prometheus' text format, and the HTTP middleware that times
every request.

What each process measured is in cluster/metrics.py; this web process adds up every local
process's files (prometheus-client's multiprocess mode) and reads, at scrape time, what is
cheaper to ask than to keep: the depth of each role's Celery queue (a Redis list named after
the role) and how many sandboxes and pods the store holds (two COUNT queries).

Who may scrape: with PODFLOW_METRICS_TOKEN set, a request with `Authorization: Bearer
<token>`; without it, only this machine (a loopback address, not through a proxy).
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from typing import Callable, Iterable, Iterator

import redis
from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from cluster import metrics
from cluster.informers import wake
from cluster.models import Cluster, Object

log = logging.getLogger("podflow.metrics")

# A request that came through a proxy carries one of these: its loopback address is the
# proxy's, not the client's.
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


# --- who may scrape -----------------------------------------------------------------------


def is_local(request: HttpRequest) -> bool:
    """From this machine: a loopback address, and not forwarded by a proxy on it."""
    if any(header in request.headers for header in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return (mapped or address).is_loopback


def refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read the metrics, else the answer that says why not."""
    token = settings.PODFLOW_METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            answer = _refused(401, "/metrics needs Authorization: Bearer <token>, the token the server's PODFLOW_METRICS_TOKEN holds.")
            answer["WWW-Authenticate"] = 'Bearer realm="podflow metrics"'
            return answer
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            return _refused(403, "/metrics: the bearer token is not the server's PODFLOW_METRICS_TOKEN.")
        return None
    if is_local(request):
        return None
    return _refused(
        403,
        "/metrics answers only requests from this machine (a loopback address, not through a proxy) "
        "while PODFLOW_METRICS_TOKEN is unset. To scrape from elsewhere, set PODFLOW_METRICS_TOKEN on "
        "the server and send Authorization: Bearer <token>.",
    )


def _refused(status: int, message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


# --- the view -----------------------------------------------------------------------------


class ScrapeTime(Collector):
    """What is read when Prometheus asks: the queues' depth and the store's counts."""

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("podflow_sandboxes", "Clusters in the store: every learner's sandbox, and those made from the command line (demo).", value=Cluster.objects.count())
        yield GaugeMetricFamily("podflow_pods", "Pods in the store, in every cluster.", value=Object.objects.filter(kind="Pod").count())
        depths = queue_depths(sorted(set(wake.QUEUES.values())))
        if depths is not None:
            family = GaugeMetricFamily("podflow_celery_queue_length", "Tasks waiting in each role's Celery queue (the Redis list named after the role).", labels=["queue"])
            for queue, depth in depths.items():
                family.add_metric([queue], depth)
            yield family


_redis: redis.Redis | None = None


def queue_depths(queues: Iterable[str]) -> dict[str, int] | None:
    """Each queue's length, read from the broker in one round trip; None if it does not answer."""
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
    queues = list(queues)
    pipe = _redis.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)
    try:
        return dict(zip(queues, pipe.execute()))
    except redis.RedisError:
        log.warning("the broker did not answer: /metrics has no queue depths this time", exc_info=True)
        return None


class _ThisProcess(Collector):
    """This process's own figures, when there is no multiprocess directory to add up."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


_registry: CollectorRegistry | None = None


def registry() -> CollectorRegistry:
    global _registry
    if _registry is None:
        built = CollectorRegistry()
        directory = os.environ.get(metrics.MULTIPROC_ENV)
        if directory:
            MultiProcessCollector(built, path=directory)
        else:
            built.register(_ThisProcess())
        built.register(ScrapeTime())
        _registry = built
    return _registry


@require_safe
def serve(request: HttpRequest) -> HttpResponse:
    """GET /metrics: every local process's figures in Prometheus' text format."""
    refused = refusal(request)
    if refused is not None:
        return refused
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


# --- every HTTP request -------------------------------------------------------------------


def _view_of(request: HttpRequest) -> str:
    """The URL conf's name for the view (bounded, unlike the path); WhiteNoise answers
    static files before the URL is resolved."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name
    return "static" if request.path.startswith(settings.STATIC_URL) else "unmatched"


@sync_and_async_middleware
def timing(get_response: Callable) -> Callable:
    """Time each request, first middleware to last (settings.MIDDLEWARE's first entry), in
    whichever mode the chain runs, so it adds no switch between sync and async."""
    if iscoroutinefunction(get_response):

        async def timed_async(request: HttpRequest) -> HttpResponse:
            started = time.perf_counter()
            response = await get_response(request)
            metrics.http_request(request.method or "", _view_of(request), response.status_code, time.perf_counter() - started)
            return response

        return timed_async

    def timed(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        metrics.http_request(request.method or "", _view_of(request), response.status_code, time.perf_counter() - started)
        return response

    return timed
