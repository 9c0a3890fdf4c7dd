"""Per-sandbox quotas: what one learner's cluster may hold, and how fast clients may write.

Two admission checks of the API server, each refused as Kubernetes refuses it:

- object counts (`admit_create`, called by store.create under the cluster's lock, before
  anything is written): 403 Forbidden in ResourceQuota's words, `pods "web-7" is
  forbidden: exceeded quota: sandbox, requested: pods=1, used: pods=300, limited: pods=300`;
- client write rate (`admit_write`, called for HTTP writes once the cluster is known): a
  token bucket per cluster, 429 TooManyRequests with Retry-After, as API Priority and
  Fairness answers.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from typing import Protocol

import redis
from django.conf import settings
from django.db.models import Count

from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError, resource_name
from cluster.models import Cluster, Object

log = logging.getLogger("podflow.quota")

# The ResourceQuota every sandbox has, as `kubectl describe quota` would name it.
QUOTA_NAME = "sandbox"
# Kubernetes has no quota on all objects of a namespace; `count/<resource>` is how its
# object-count quotas are named, so the total is `count/objects`.
OBJECTS = "count/objects"
PODS = "pods"
# Events are not counted: the components write them all the time (a 300-pod Deployment
# makes about 1,500), a learner cannot stop them, and Kubernetes expires them after an
# hour instead of charging them to anyone's quota.
COUNTED_KINDS = [k.kind for k in kinds.ALL if k.kind != "Event"]


def applies(cluster: Cluster) -> bool:
    """Quotas are a sandbox's: a cluster a learner owns (an account, or an anonymous
    session). A cluster made from the command line for staff (demo, the benchmark's) has
    none, as a cluster without ResourceQuotas has none."""
    return bool(cluster.owner_id or cluster.learner)


# --- object counts ----------------------------------------------------------------------

def admit_create(cluster: Cluster, kind: kinds.Kind, name: str) -> None:
    """Refuse a create that would take the cluster past its object or pod quota.

    Must run inside the create's transaction, under the cluster's lock, so that two
    concurrent creates cannot both take the last place.
    """
    if kind.kind not in COUNTED_KINDS or not applies(cluster):
        return
    limits = {OBJECTS: int(settings.PODFLOW_QUOTA_OBJECTS)}
    if kind.kind == "Pod":
        limits[PODS] = int(settings.PODFLOW_QUOTA_PODS)
    # One query, counted on the (cluster, kind, ...) index: naming the kinds that count
    # (rather than "not Event") lets the database skip the Events' entries instead of
    # reading them all.
    per_kind = dict(
        Object.objects.filter(cluster=cluster, kind__in=COUNTED_KINDS).values_list("kind").annotate(n=Count("pk")).order_by()
    )
    used = {OBJECTS: sum(per_kind.values()), PODS: per_kind.get("Pod", 0)}
    exceeded = sorted(resource for resource, limit in limits.items() if used[resource] + 1 > limit)
    if exceeded:
        raise exceeded_quota(kind, name, {r: used[r] for r in exceeded}, {r: limits[r] for r in exceeded})


def exceeded_quota(kind: kinds.Kind, name: str, used: dict[str, int], limited: dict[str, int]) -> APIError:
    """The quota admission plugin's refusal, word for word (resources sorted, as it prints them)."""

    def listed(values: dict[str, int]) -> str:
        return ",".join(f"{resource}={value}" for resource, value in sorted(values.items()))

    reason = (
        f"exceeded quota: {QUOTA_NAME}, requested: {listed({r: 1 for r in used})}, "
        f"used: {listed(used)}, limited: {listed(limited)}"
    )
    return APIError(
        403,
        "Forbidden",
        f'{resource_name(kind.plural, kind.group)} "{name}" is forbidden: {reason}',
        name=name,
        kind=kind.plural,
        group=kind.group,
    )


# --- client write rate ------------------------------------------------------------------

def take(tokens: float, updated: float, now: float, rate: float, burst: float) -> tuple[bool, float, float]:
    """One request through a token bucket: (allowed, tokens left, seconds until one is back).

    The bucket holds at most `burst` tokens and gains `rate` a second since `updated`; a
    request takes one. A clock that went backwards refills nothing.
    """
    tokens = min(burst, tokens + max(0.0, now - updated) * rate)
    if tokens >= 1.0:
        return True, tokens - 1.0, 0.0
    return False, tokens, (1.0 - tokens) / rate


def admit_write(cluster: Cluster) -> None:
    """Refuse a client's write beyond the cluster's rate with 429 and Retry-After.

    For requests from clients over HTTP only: the components' own writes (a 300-pod
    Deployment is thousands of them) are the simulation, not the learner's traffic.
    """
    if not applies(cluster):
        return
    rate = float(settings.PODFLOW_QUOTA_WRITES_PER_SECOND)
    burst = float(settings.PODFLOW_QUOTA_WRITE_BURST)
    allowed, retry_after = _backend().take(bucket_key(cluster), rate, burst)
    if not allowed:
        seconds = max(1, math.ceil(retry_after))
        raise APIError(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
            retry_after_seconds=seconds,
            headers={"Retry-After": str(seconds)},
        )


def bucket_key(cluster: Cluster) -> str:
    # With its creation time: SQLite gives a deleted sandbox's id to the next one, which
    # must not inherit its bucket.
    return f"podflow:ratelimit:{cluster.pk}:{int(cluster.created.timestamp() * 1_000_000)}"


class Buckets(Protocol):
    def take(self, key: str, rate: float, burst: float) -> tuple[bool, float]: ...


def clock() -> float:
    """The memory backend's time; tests replace it to move time by hand."""
    return time.monotonic()


class MemoryBuckets:
    """Buckets in this process: for the unit tests and a single-process server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, rate: float, burst: float) -> tuple[bool, float]:
        with self._lock:
            now = clock()
            tokens, updated = self._buckets.get(key, (burst, now))
            allowed, tokens, retry_after = take(tokens, updated, now, rate, burst)
            self._buckets[key] = (tokens, now)
            return allowed, retry_after

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


# `take` in Lua, atomic in Redis, on Redis's clock (one clock for every server process).
# The hash expires once the bucket would be full again: a missing bucket is a full one.
_TAKE_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1]) or burst
local updated = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local allowed = 0
local retry_after = 0
if tokens >= 1 then
  allowed = 1
  tokens = tokens - 1
else
  retry_after = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens), 'updated', string.format('%.6f', now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(retry_after)}
"""


class RedisBuckets:
    """Buckets in Redis, shared by every server process."""

    def __init__(self, url: str) -> None:
        # Short timeouts: a slow Redis must not hold every write request for seconds.
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = client.register_script(_TAKE_LUA)
        self._failing = False

    def take(self, key: str, rate: float, burst: float) -> tuple[bool, float]:
        try:
            allowed, retry_after = self._script(keys=[key], args=[rate, burst])
        except (redis.RedisError, OSError) as exc:
            # Fail open: the limiter protects the API, it must not be what takes it down.
            # Warn once per outage, not once per request.
            if not self._failing:
                log.warning("write rate limiter: Redis unreachable, writes are not limited: %s", exc)
                self._failing = True
            return True, 0.0
        if self._failing:
            log.info("write rate limiter: Redis reachable again, writes are limited")
            self._failing = False
        return bool(allowed), float(retry_after)


_backends: dict[tuple[str, str], Buckets] = {}
_backends_lock = threading.Lock()


def _backend() -> Buckets:
    choice = settings.PODFLOW_RATE_LIMIT_BACKEND
    key = (choice, settings.REDIS_URL)
    with _backends_lock:
        if key not in _backends:
            if choice == "memory":
                _backends[key] = MemoryBuckets()
            elif choice == "redis":
                _backends[key] = RedisBuckets(settings.REDIS_URL)
            else:
                raise ValueError(f"PODFLOW_RATE_LIMIT_BACKEND {choice!r} is not supported (redis, memory)")
        return _backends[key]


def memory_buckets() -> MemoryBuckets:
    """The in-process buckets (tests empty them between tests)."""
    backend = _backend()
    if not isinstance(backend, MemoryBuckets):
        raise RuntimeError("PODFLOW_RATE_LIMIT_BACKEND is not 'memory'")
    return backend
