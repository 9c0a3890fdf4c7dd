"""One subscription per followed cluster per daphne process, shared by its followers.

The first follower of a cluster in a process opens a `Feed`: it subscribes the process's
connection to the cluster's Redis channel (web/bus.py), takes each message once — the
changes arrive as their JSON texts, encoded once by the process that committed them
(`Encoded`) — and hands it to the mailbox of every follower of the cluster in this process
(web/consumers.py); the last follower to leave closes it.

The feed keeps the changes it hands out contiguous (invariant 7), once for all its
followers: it knows the newest revision it has handed out. A message that skips ahead of
it waits up to GAP_SECONDS for the one before it (each process publishes its own commits,
so two processes' messages can cross on the way); if that never comes (it was published
while the subscription was being made again, or was lost), the change log's entries in
between are read, once, and handed out first.
Every POLL_SECONDS the hub's poll reads the revision of every cluster followed: a revision
a cluster had at the poll before that its feed has still not seen (the last message of a
burst was lost, and nothing came after it) is read from the change log the same way. The
same poll reads each cluster's clock and its class's recent messages and hands them round
(`stream.poll`).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from channels.db import database_sync_to_async

from cluster import metrics
from web import bus, classroom, stream
from web.bus import Encoded, encode

log = logging.getLogger("podflow.stream")

POLL_SECONDS = 2.0
GAP_SECONDS = 0.25  # how long a message ahead of a gap waits for the one before it


FRAME_ENTRIES = 200  # the most changes one frame carries


def changes_frame(entries: list[Encoded]) -> str:
    """The `changes` frame of these (contiguous) changes, from their shared texts."""
    return '{"type":"changes","revision":%d,"entries":[%s]}' % (entries[-1].revision, ",".join(e.text for e in entries))


class Run:
    """Contiguous changes handed out together, and their frames, each built once for every
    follower that sends the run as it came (a follower not behind): as text, and deflated
    for those that asked for it. Stream JSON compresses about tenfold, so a class of
    followers costs daphne a tenth of the bytes to send."""

    __slots__ = ("entries", "_frames")

    def __init__(self, entries: list[Encoded]) -> None:
        self.entries = entries
        self._frames: dict[bool, list[tuple[int, str | bytes, int]]] = {}

    def frames(self, deflated: bool) -> list[tuple[int, str | bytes, int]]:
        """(last revision, frame, changes in it) per frame of at most FRAME_ENTRIES changes."""
        found = self._frames.get(deflated)
        if found is None:
            found = []
            for start in range(0, len(self.entries), FRAME_ENTRIES):
                chunk = self.entries[start:start + FRAME_ENTRIES]
                text = changes_frame(chunk)
                found.append((chunk[-1].revision, stream.deflate(text) if deflated else text, len(chunk)))
            self._frames[deflated] = found
        return found


class Follower(Protocol):
    def deliver(self, message: dict) -> None: ...


def read_off_thread(fn):
    """A read of the stream (a snapshot, a replay, the cluster's revision), run in the
    thread pool rather than the one thread Channels gives database work by default: there
    it would queue behind every sync view of the process (each learner's lab checks, the
    instructor's roster) and every handshake's session lookup. These only read, so they
    need none of that thread's ordering."""
    return database_sync_to_async(fn, thread_sensitive=False)


class Feed:
    """A cluster's channel, read once for the followers of this process."""

    def __init__(self, cluster_id: int, cluster_name: str) -> None:
        self.cluster_id = cluster_id
        self.channel = bus.channel_of(cluster_name)
        self.followers: list[Follower] = []
        self.inbox: asyncio.Queue = asyncio.Queue()  # what arrived, read in order by `_read`
        self.tasks: list[asyncio.Task] = []
        self.received = 0  # the newest revision handed to the followers
        self.waiting: dict[int, Encoded] = {}  # changes ahead of a gap, by revision
        self.filler: asyncio.Task | None = None
        self.fills = 0  # how many times the change log filled a gap (tests read it)
        self.clock: dict | None = None  # the clock state last handed out (or read at opening)
        self.behind: int | None = None  # the cluster's revision at the last poll

    async def open(self, subscriber) -> None:
        # Subscribed before any follower reads its snapshot: nothing committed after that
        # read can slip past (what arrives meanwhile waits in the inbox). What the feed
        # hands out starts at the revision read after subscribing (a follower's snapshot is
        # at least as new).
        await subscriber.subscribe(self.channel, self.inbox.put_nowait)
        try:
            info = await read_off_thread(stream.current)(self.cluster_id)
            self.clock = await read_off_thread(stream.clock_of)(self.cluster_id) if info else None
        except BaseException:
            await subscriber.unsubscribe(self.channel)
            raise
        self.received = info["revision"] if info else 0
        self.tasks = [asyncio.create_task(self._read())]

    async def close(self, subscriber) -> None:
        for task in [*self.tasks, self.filler]:
            if task is not None:
                task.cancel()
        await subscriber.unsubscribe(self.channel)

    def deliver(self, message: dict) -> None:
        for follower in list(self.followers):
            follower.deliver(message)

    def _hand_out(self, entries: list[Encoded]) -> None:
        """Take changes in, and hand out those that follow on from the newest handed out;
        those ahead of a gap wait for it to close (or for `_fill_gap`)."""
        for entry in entries:
            if entry.revision > self.received:
                self.waiting[entry.revision] = entry
        run = []
        while self.received + 1 in self.waiting:
            entry = self.waiting.pop(self.received + 1)
            run.append(entry)
            self.received = entry.revision
        if run:
            self.deliver({"type": "cluster.entries", "entries": run, "run": Run(run)})
        if self.waiting and self.filler is None:
            self.filler = asyncio.create_task(self._fill_gap())

    async def _fill_gap(self) -> None:
        try:
            await asyncio.sleep(GAP_SECONDS)
            if self.waiting:
                await self._fill()
        except Exception:  # the database is away for a moment: the poll fills it later
            log.exception("could not fill a gap in the stream of %s", self.channel)
        finally:
            self.filler = None
        if self.waiting:  # still ahead of a gap (the fill found the log too far behind)
            self.filler = asyncio.create_task(self._fill_gap())

    async def _fill(self) -> None:
        """Hand out what the change log holds after the newest revision handed out."""
        entries, complete = await read_off_thread(stream.entries_since)(self.cluster_id, self.received)
        if not complete:
            # Too far to replay: the followers find the gap themselves (a snapshot each).
            self.received = max(self.waiting, default=self.received)
            self.waiting.clear()
            return
        self.fills += 1
        metrics.STREAM_BACKFILLED.inc(len(entries))
        self._hand_out(encode(entries))
        # Whatever waited beyond the log's end as read is kept for what comes next.
        for revision in [r for r in self.waiting if r <= self.received]:
            del self.waiting[revision]

    async def _read(self) -> None:
        while True:
            payload = await self.inbox.get()
            try:
                # A dict is the feed's own poll asking after the clock (`_poll`).
                what, body = (bus.MESSAGE, payload) if isinstance(payload, dict) else bus.parse(payload)
                if what == bus.CHANGES:
                    self._hand_out(body)
                    continue
                message = body
                kind = message["type"]
                if kind == "cluster.settings":
                    # Read once here for every follower (None: the cluster is gone).
                    message = {"type": kind, "info": await read_off_thread(stream.current)(self.cluster_id)}
                elif kind == "cluster.clock":
                    clock = await read_off_thread(stream.clock_of)(self.cluster_id)
                    if message.get("poll") and clock == self.clock:
                        continue
                    self.clock = clock
                    message = {"type": kind, "clock": clock}
            except (KeyError, TypeError, ValueError):
                log.exception("a malformed message on %s was dropped (the change log fills any gap)", self.channel)
                continue
            except Exception:  # the database is away for a moment: the poll fills in later
                log.exception("a message on %s could not be read for", self.channel)
                continue
            self.deliver(message)

    async def polled(self, info: dict | None, clock: dict | None, said: list[dict]) -> None:
        """The hub's poll read this feed's cluster (`info` None: it is gone)."""
        if self.behind is not None and self.behind > self.received:
            try:
                await self._fill()
            except Exception:  # the database is away for a moment: the next poll asks again
                log.exception("the stream's poll of cluster %s could not fill in", self.cluster_id)
                return
        self.deliver({"type": "stream.poll", "gone": info is None, "said": said})
        self.behind = info["revision"] if info is not None else None
        # The clock's messages are not in the change log: one lost (published while this
        # process's subscription was made again) is made good here. Only a clock unlike the
        # one last handed out asks `_read` to read it again, in order with the messages,
        # and hand it out (a read in `_read` every poll would hold up the changes behind it).
        if info is not None and clock != self.clock:
            self.inbox.put_nowait({"type": "cluster.clock", "poll": True})


class Hub:
    """The feeds of one event loop (daphne's), by cluster, their subscriber connection, and
    the poll of them all: every POLL_SECONDS one read (`stream.polled`, a few statements)
    for every cluster the process follows, not a few statements per cluster — a class's
    thirty pages at rest cost daphne next to nothing."""

    def __init__(self) -> None:
        self.feeds: dict[tuple[int, str], Feed] = {}
        self.lock = asyncio.Lock()
        self.subscriber = None  # made with the first feed
        self.poller: asyncio.Task | None = None  # while there are feeds

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            feeds = list(self.feeds.values())
            if not feeds:
                continue
            try:
                found = await read_off_thread(stream.polled)(sorted({f.cluster_id for f in feeds}))
            except Exception:  # the database is away for a moment: the next poll asks again
                log.exception("the streams' poll failed")
                continue
            for outcome in await asyncio.gather(*(feed.polled(*found.get(feed.cluster_id, (None, None, []))) for feed in feeds), return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.error("a feed could not take the poll", exc_info=outcome)

    async def join(self, cluster_id: int, cluster_name: str, follower: Follower) -> None:
        key = (cluster_id, cluster_name)
        async with self.lock:
            feed = self.feeds.get(key)
            if feed is None:
                if self.subscriber is None:
                    self.subscriber = bus.subscriber()
                feed = Feed(*key)
                await feed.open(self.subscriber)
                self.feeds[key] = feed
                if self.poller is None:
                    self.poller = asyncio.create_task(self._poll())
            feed.followers.append(follower)

    async def leave(self, cluster_id: int, cluster_name: str, follower: Follower) -> None:
        key = (cluster_id, cluster_name)
        async with self.lock:
            feed = self.feeds.get(key)
            if feed is None or follower not in feed.followers:
                return
            feed.followers.remove(follower)
            if not feed.followers:
                del self.feeds[key]
                await feed.close(self.subscriber)
                if not self.feeds and self.poller is not None:
                    self.poller.cancel()
                    self.poller = None


_hubs: dict[int, tuple[Any, Hub]] = {}


def hub() -> Hub:
    """This event loop's hub (daphne runs one loop; a test may run several in turn)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(id(loop))
    if found is None or found[0] is not loop:
        for key in [k for k, (other, _) in _hubs.items() if other.is_closed()]:
            del _hubs[key]
        found = _hubs[id(loop)] = (loop, Hub())
    return found[1]
