"""How a cluster's stream gets from the process that committed to the daphne processes that
follow it: Redis publish/subscribe, one Redis channel per cluster.

The process that commits a write publishes its changes right after the commit, as one
message of their JSON texts, each encoded there once (`changes_payload`). Each daphne
process holds one subscriber connection and subscribes it to the clusters its followers
follow (web/fanout.py), so a message costs Redis one delivery per process that wants it,
and daphne a split of the text — no decoding and encoding again. The cluster's other
messages (its settings or clock changed, a request reached the API, a class message to the
learner) go the same way, in order with its changes (`message_payload`).

Pub/sub keeps nothing: a message published while nobody listens, or while a subscriber's
connection is being made again, is gone. The feed sees the gap in revisions (or its poll
sees the cluster's revision ahead of it) and reads what is missing from the change log
(invariant 7): delivery here only has to be quick.

Without Redis (the unit tests' settings: `PODFLOW_STREAM_REDIS_URL` empty) `MemoryBus` does
the same within one process.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Callable, NamedTuple

from django.conf import settings

from cluster.apimachinery import jsontext

log = logging.getLogger("podflow.stream")

CHANGES, MESSAGE = "E", "M"  # a payload's first character: what follows its first line
SUBSCRIBE_TIMEOUT_SECONDS = 5.0
PUBLISH_TIMEOUT_SECONDS = 1.0  # a commit's thread waits no longer for Redis
# After publishing fails, publishing is left alone for a while: a commit is not worth a
# timeout each while Redis is away (the change log has every change in any case).
PAUSE_AFTER_FAILURE_SECONDS = 5.0


class Encoded(NamedTuple):
    """One change of the stream and its JSON text, encoded once for every follower."""

    revision: int
    text: str


def encode(entries: list[dict]) -> list[Encoded]:
    return [Encoded(int(entry["revision"]), jsontext.ascii_text(entry)) for entry in entries]


def channel_of(cluster_name: str) -> str:
    return f"podflow.stream.{cluster_name}"


def changes_payload(entries: list[Encoded]) -> str:
    """One line per change, its revision and its JSON text (JSON text has no raw newline)."""
    return CHANGES + "\n" + "\n".join(f"{e.revision} {e.text}" for e in entries)


def message_payload(message: dict) -> str:
    return MESSAGE + "\n" + jsontext.ascii_text(message)


def parse(payload: bytes | str) -> tuple[str, list[Encoded] | dict]:
    """(CHANGES, the changes) or (MESSAGE, the message); ValueError for anything else."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    kind, _, body = text.partition("\n")
    if kind == CHANGES:
        out = []
        for line in body.split("\n"):
            revision, _, change = line.partition(" ")
            if not change:
                raise ValueError(f"a change without its text: {line[:80]!r}")
            out.append(Encoded(int(revision), change))
        return CHANGES, out
    if kind == MESSAGE:
        message = jsontext.loads(body)
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ValueError(f"a message without a type: {body[:80]!r}")
        return MESSAGE, message
    raise ValueError(f"a payload of no known kind: {text[:80]!r}")


# --- publishing (any process, any thread) ----------------------------------------------------

class _Publisher:
    def __init__(self, url: str) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.pid = os.getpid()
        self.errors = (redis.RedisError, OSError)
        # One try: a commit is not held up by retries (what is not published, the feed reads
        # from the change log).
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=PUBLISH_TIMEOUT_SECONDS,
            socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
            health_check_interval=0,
            retry=Retry(NoBackoff(), 0),
        )
        self.paused_until = 0.0

    def publish(self, channel: str, payload: str) -> None:
        if time.monotonic() < self.paused_until:
            return
        try:
            self.client.publish(channel, payload)
        except self.errors as exc:
            self.paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_SECONDS
            log.warning("could not publish to %s (%s); not trying for %.0f s, the stream fills in from the change log", channel, exc, PAUSE_AFTER_FAILURE_SECONDS)


_publisher: _Publisher | None = None
_publisher_lock = threading.Lock()


def _redis_url() -> str:
    return getattr(settings, "PODFLOW_STREAM_REDIS_URL", "") or ""


def publish(cluster_name: str, payload: str) -> None:
    """Publish to a cluster's followers, in the calling thread (one round trip to Redis)."""
    url = _redis_url()
    if not url:
        memory_bus().publish(channel_of(cluster_name), payload)
        return
    global _publisher
    publisher = _publisher
    if publisher is None or publisher.pid != os.getpid():  # a forked child makes its own
        with _publisher_lock:
            if _publisher is None or _publisher.pid != os.getpid():
                _publisher = _Publisher(url)
            publisher = _publisher
    publisher.publish(channel_of(cluster_name), payload)


# --- subscribing (daphne's event loop) --------------------------------------------------------

Handler = Callable[[bytes | str], None]


class RedisSubscriber:
    """One event loop's subscriber connection, shared by its feeds (one handler a channel)."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(url, socket_timeout=None, socket_connect_timeout=SUBSCRIBE_TIMEOUT_SECONDS, health_check_interval=0)
        self.pubsub = self.client.pubsub()
        self.handlers: dict[str, Handler] = {}
        self.confirming: dict[str, asyncio.Future] = {}
        self.reader: asyncio.Task | None = None

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Returns once Redis has the subscription: what is published after, arrives."""
        self.handlers[channel] = handler
        confirmed = asyncio.get_running_loop().create_future()
        self.confirming[channel] = confirmed
        try:
            await self.pubsub.subscribe(channel)
            if self.reader is None or self.reader.done():
                self.reader = asyncio.create_task(self._read())
            await asyncio.wait_for(confirmed, SUBSCRIBE_TIMEOUT_SECONDS)
        except BaseException:
            self.handlers.pop(channel, None)
            raise
        finally:
            self.confirming.pop(channel, None)

    async def unsubscribe(self, channel: str) -> None:
        self.handlers.pop(channel, None)
        await self.pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self.pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: the connection is made again on the next read, subscriptions with it
                log.warning("the stream's subscription to Redis broke (%s); reconnecting", exc)
                await asyncio.sleep(0.5)
                continue
            if not message:
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            if message["type"] == "subscribe":
                confirmed = self.confirming.get(channel)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)
            elif message["type"] == "message":
                handler = self.handlers.get(channel)
                if handler is not None:
                    handler(message["data"])

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        await self.pubsub.aclose()
        await self.client.aclose()


class MemoryBus:
    """Publish/subscribe within one process (the unit tests'): a handler runs on the event
    loop that subscribed it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscribers: dict[str, list[tuple[asyncio.AbstractEventLoop, Handler]]] = {}

    def publish(self, channel: str, payload: str) -> None:
        with self.lock:
            found = list(self.subscribers.get(channel, ()))
        for loop, handler in found:
            if not loop.is_closed():
                loop.call_soon_threadsafe(handler, payload)

    def subscriber(self) -> "MemorySubscriber":
        return MemorySubscriber(self)

    def count(self, channel: str) -> int:
        with self.lock:
            return len(self.subscribers.get(channel, ()))


class MemorySubscriber:
    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus
        self.mine: dict[str, tuple[asyncio.AbstractEventLoop, Handler]] = {}

    async def subscribe(self, channel: str, handler: Handler) -> None:
        entry = (asyncio.get_running_loop(), handler)
        self.mine[channel] = entry
        with self.bus.lock:
            self.bus.subscribers.setdefault(channel, []).append(entry)

    async def unsubscribe(self, channel: str) -> None:
        entry = self.mine.pop(channel, None)
        with self.bus.lock:
            listed = self.bus.subscribers.get(channel, [])
            if entry in listed:
                listed.remove(entry)
            if not listed:
                self.bus.subscribers.pop(channel, None)

    async def close(self) -> None:
        for channel in list(self.mine):
            await self.unsubscribe(channel)


_memory = MemoryBus()


def memory_bus() -> MemoryBus:
    return _memory


def subscriber() -> RedisSubscriber | MemorySubscriber:
    """A subscriber for the running event loop (web/fanout.py keeps one per loop)."""
    url = _redis_url()
    return RedisSubscriber(url) if url else _memory.subscriber()
