"""The browser stream: one websocket per cluster, /ws/clusters/<cluster>/.

On connect it sends the current state (or, with ?since=<revision>, exactly what the
client missed), then every committed change in revision order. Messages come fast through
the cluster's Redis channel, read once per process for all its followers of a cluster
(web/bus.py, web/fanout.py);
any gap in revisions is filled from the change log, so a message that Redis dropped is
never lost, and one that arrives twice is never sent twice.

Changes travel in `changes` frames: {"type": "changes", "revision": <the last one>,
"entries": [<change>, ...]}. A follower sends at most one frame per TICK_SECONDS: what
arrived meanwhile goes out together (up to fanout.FRAME_ENTRIES a frame), so a burst of
commits costs a follower fewer frames than commits; a quiet stream sends at once. Each
change is encoded once per process, and a run of changes that came together is framed
once for all the followers that send it as it came. A follower that asks for
`?compress=deflate` gets each frame of changes, and each frame of its snapshot, as a
binary message, the frame's JSON deflated (raw DEFLATE), once per process for all of them.
"""
from __future__ import annotations

import asyncio
import collections
import ctypes
import logging
from urllib.parse import parse_qs

from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from cluster import metrics
from cluster.apiserver.handlers import access
from web import classroom, fanout, stream
from web.bus import Encoded
from web.fanout import Run

log = logging.getLogger("podflow.stream")

CLOSE_FORBIDDEN = 4403  # may not follow this cluster (or it does not exist)
CLOSE_GONE = 4404  # the cluster was deleted
CLOSE_ERROR = 1011  # the server failed while serving this follower: the page reconnects

TICK_SECONDS = 0.01  # a follower sends at most one frame of changes per tick
# A follower whose mailbox holds more than this (it cannot send as fast as the cluster
# commits) lets its pending changes go and later fills the gap from the change log.
MAILBOX_MAX = 2000


_followers = 0


def _trim_memory() -> None:
    """Give the memory the last followers' snapshots and send buffers used back to the
    system. CPython frees it, but glibc keeps freed heap for reuse and daphne's RSS stays
    at its high-water mark; malloc_trim returns it. Elsewhere (no glibc) nothing happens."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# Every read a follower makes runs off Channels' single database thread (fanout.read_off_thread).
_read = fanout.read_off_thread


class ClusterConsumer(AsyncJsonWebsocketConsumer):
    last: int = 0
    # Its messages come from its cluster's feed (web/fanout.py), not a channel of its own.
    channel_layer_alias = None

    async def connect(self) -> None:
        self.cluster_name = self.scope["url_route"]["kwargs"]["cluster"]
        self.lock = asyncio.Lock()
        self.pump: asyncio.Task | None = None
        self.mailbox: collections.deque[dict] = collections.deque()
        self.wakeup = asyncio.Event()
        self.sent_at = 0.0  # the loop's time of the last frame of changes
        self.joined = False
        self.dropped = False  # changes let go from a full mailbox, not yet filled in
        # `?compress=deflate`: the snapshot's and the changes' frames go as binary messages,
        # each a raw DEFLATE stream of the frame's JSON (web/fanout.py Run, web/stream.py
        # SnapshotFrames); the rest (a few small messages) stays text.
        self.deflate = parse_qs(self.scope.get("query_string", b"").decode()).get("compress") == ["deflate"]
        # The handshake is answered at once: the checks below wait for the database behind
        # other followers' snapshots, and a handshake left unanswered for daphne's connect
        # timeout (5 s) is dropped — when a whole class opens the page in the same second.
        await self.accept()
        # Who may follow: the cluster's bearer token or its owner's session (cluster/apiserver/handlers/access.py).
        # Anyone else is closed with 4403 before any message, whether or not it exists.
        allowed = await database_sync_to_async(access.cluster_for_scope)(self.scope, self.cluster_name)
        if allowed is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.cluster_id = allowed.pk
        info = await _read(stream.current)(self.cluster_id)
        if info is None:
            await self.close(code=CLOSE_GONE)
            return
        global _followers
        _followers += 1
        metrics.STREAM_FOLLOWERS.inc()
        # Join before reading, so nothing committed after the read can slip past. What
        # arrives meanwhile waits in the mailbox until the snapshot is out.
        self.joined = True
        await fanout.hub().join(self.cluster_id, self.cluster_name, self)
        since = self._since()
        if since is not None and since > info["revision"]:
            since = None  # a revision this cluster never had (it was made again): start afresh
        async with self.lock:
            if since is None:
                await self._send_snapshot()
            else:
                self.last = since
                await self.send_json({"type": "cluster", "revision": since, "cluster": info})
                if not await self._backfill():
                    await self._send_snapshot()
            # A learner in a class gets the instructor's recent messages again: one sent
            # while this socket was reconnecting is not lost (the page shows each once).
            await self._send_broadcasts(await _read(classroom.recent_broadcasts)(self.cluster_id))
        self.pump = asyncio.create_task(self._pump())

    def deliver(self, message: dict) -> None:
        """A message of the cluster's group, from this process's feed (web/fanout.py)."""
        self.mailbox.append(message)
        if len(self.mailbox) > MAILBOX_MAX:
            # Too far behind to keep everything: the changes go (the next one shows the gap,
            # or the poll does, and the change log fills it); the rest are kept.
            kept = [m for m in self.mailbox if m.get("type") != "cluster.entries"]
            self.mailbox = collections.deque(kept[-MAILBOX_MAX // 2:])
            self.dropped = True
        self.wakeup.set()

    async def _pump(self) -> None:
        """Hand the mailbox to the handlers in order, the changes that arrived together
        in one frame, at most one frame of changes per tick."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self.wakeup.wait()
                self.wakeup.clear()
                wait = self.sent_at + TICK_SECONDS - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                while self.mailbox:
                    message = self.mailbox.popleft()
                    kind = message.get("type")
                    if kind == "cluster.entries":
                        # A run as it came is sent in the frames built once for every
                        # follower; runs that waited together go out in one frame, unless
                        # this follower takes them deflated (a run's own frames are smaller).
                        entries, run = list(message["entries"]), message.get("run")
                        while not self.deflate and self.mailbox and self.mailbox[0].get("type") == "cluster.entries":
                            entries += self.mailbox.popleft()["entries"]
                            run = None
                        await self._take(entries, run)
                    elif kind in HANDLED:
                        await getattr(self, kind.replace(".", "_"))(message)
        except (StopConsumer, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("the stream of %s failed for a follower: it is closed for the page to open it again", self.cluster_name)
            try:
                await self.close(code=CLOSE_ERROR)
            except Exception:  # the socket is gone already
                pass
        finally:
            await self._leave(from_pump=True)

    async def _send_broadcasts(self, said: list[dict]) -> None:
        """The class's messages this socket has not sent yet: on connect, and from the
        poll, since a group message can be dropped (a full channel) and is in no change log."""
        for message in said:
            if message["sent"] and message["sent"] > getattr(self, "broadcast_seen", ""):
                self.broadcast_seen = message["sent"]
                await self.send_json({**message, "type": "broadcast", "revision": self.last})

    def _since(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            since = int(query.get("since", [""])[0])
        except ValueError:
            return None
        return since if since >= 0 else None

    async def __call__(self, scope, receive, send) -> None:
        """However the consumer ends — a clean close, a crash in a handler, a cancelled
        task — it leaves the cluster's feed, so no message is kept for a client long gone."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._leave()

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self, from_pump: bool = False) -> None:
        pump = getattr(self, "pump", None)
        if pump is not None and not from_pump:
            pump.cancel()
        if getattr(self, "joined", False):
            self.joined = False
            self.mailbox.clear()
            await fanout.hub().leave(self.cluster_id, self.cluster_name, self)
            global _followers
            _followers -= 1
            metrics.STREAM_FOLLOWERS.dec()
            if _followers == 0:
                _trim_memory()

    async def send_json(self, content, close: bool = False) -> None:
        """A follower that has gone (its socket closed while a message was on its way) ends
        this consumer quietly, instead of as an error of the application."""
        try:
            await super().send_json(content, close=close)
        except Disconnected as exc:
            raise StopConsumer() from exc
        metrics.frame_sent(content)

    async def _send_encoded(self, payload: str | bytes) -> None:
        """A frame encoded once for many followers: text, or deflated bytes as a binary message."""
        try:
            if isinstance(payload, bytes):
                await self.send(bytes_data=payload)
            else:
                await self.send(text_data=payload)
        except Disconnected as exc:
            raise StopConsumer() from exc

    async def _send_changes(self, entries: list[Encoded], run: Run | None = None) -> None:
        """Contiguous entries after self.last, in frames of up to fanout.FRAME_ENTRIES:
        `run`'s shared frames when the entries are that run, text or deflated as asked."""
        if run is None or run.entries != entries:
            run = Run(entries)
        for last, frame, count in run.frames(self.deflate):
            await self._send_encoded(frame)
            self.last = last
            metrics.frame_sent({"type": "changes"})
            if count > 1:
                metrics.STREAM_COALESCED.inc(count)
        self.sent_at = asyncio.get_running_loop().time()

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "revision": self.last})

    # --- group messages -------------------------------------------------------------

    async def _take(self, entries: list[Encoded], shared: Run | None = None) -> None:
        """Changes from the feed, in revision order: the new ones are sent while they
        follow on from the last one sent; at a gap (a message Redis dropped, or one let go
        from a full mailbox) the change log has the rest."""
        async with self.lock:
            fresh = [e for e in entries if e.revision > self.last]
            if not fresh:
                return
            run = 0
            while run < len(fresh) and fresh[run].revision == self.last + 1 + run:
                run += 1
            if run:
                await self._send_changes(fresh[:run], shared)
            if run < len(fresh):
                if not await self._backfill():
                    await self._send_snapshot()

    async def stream_poll(self, message: dict) -> None:
        """The feed's poll (web/fanout.py): the cluster is gone, or class messages this
        socket has not sent yet; a follower that let changes go from a full mailbox fills
        them from the change log now, should no later change have shown it the gap."""
        if message.get("gone"):
            await self.close(code=CLOSE_GONE)
            raise StopConsumer()
        async with self.lock:
            if self.dropped:
                self.dropped = False
                if not await self._backfill():
                    await self._send_snapshot()
            await self._send_broadcasts(message.get("said") or [])

    async def cluster_settings(self, message: dict) -> None:
        """The cluster's settings changed (its speed): as the feed read them once."""
        if message.get("info"):
            await self.send_json({"type": "cluster", "revision": self.last, "cluster": message["info"]})
        else:
            await self.close(code=CLOSE_GONE)
            raise StopConsumer()

    async def cluster_clock(self, message: dict) -> None:
        """The cluster's clock was paused, stepped or resumed, or a component switched."""
        if message.get("clock") is not None:
            await self.send_json({"type": "clock", "revision": self.last, "clock": message["clock"]})

    async def cluster_request(self, message: dict) -> None:
        """A client's request reached the API server (not stored: it is not a change)."""
        await self.send_json({"type": "request", "revision": self.last, **message["request"]})

    async def cluster_traffic(self, message: dict) -> None:
        """Simulated requests to a Service, each with the pod that answered (not stored)."""
        await self.send_json({"type": "traffic", "revision": self.last, "answers": message["answers"]})

    async def class_broadcast(self, message: dict) -> None:
        """The class's instructor said something to every learner, or ended the class
        (web/classroom.py): {"type": "broadcast", "kind": "message"|"ended", "text", "from", "sent", "class"}."""
        if message.get("sent") and message["sent"] > getattr(self, "broadcast_seen", ""):
            self.broadcast_seen = message["sent"]
        await self.send_json({**{k: v for k, v in message.items() if k != "type"}, "type": "broadcast", "revision": self.last})

    async def class_pace(self, message: dict) -> None:
        """Instructor-led pacing: learners may now go as far as step `opened_step` of `lab`."""
        await self.send_json({**{k: v for k, v in message.items() if k != "type"}, "type": "pace", "revision": self.last})

    # --- internals ------------------------------------------------------------------

    async def _send_snapshot(self) -> None:
        """The snapshot in bounded frames (web/stream.py): the first says how many parts
        follow; nothing else is sent between them (the caller holds the lock)."""
        frames = await _read(stream.shared_snapshot_frames)(self.cluster_id)
        if frames is None:
            await self.close(code=CLOSE_GONE)
            return
        self.last = frames[0]["revision"]
        # Encoded once for every follower of this snapshot (deflated for those that asked).
        payloads = await _read(frames.encoded)(self.deflate)
        for frame, payload in zip(frames, payloads):
            await self._send_encoded(payload)
            metrics.frame_sent(frame)

    async def _backfill(self) -> bool:
        entries, complete = await _read(stream.entries_since)(self.cluster_id, self.last)
        if not complete:
            return False
        fresh = [e for e in entries if e["revision"] > self.last]
        if fresh:
            await self._send_changes(fanout.encode(fresh))
            metrics.STREAM_BACKFILLED.inc(len(fresh))
        return True


# The feed's messages each follower handles (web/fanout.py), each by the method Channels'
# convention names (`cluster.clock` → `cluster_clock`): the cluster's channel (web/broadcast.py,
# web/classroom.py) and the feed's own poll. `cluster.entries` is taken apart (`_take`).
HANDLED = frozenset(("cluster.settings", "cluster.clock", "cluster.request", "cluster.traffic", "class.broadcast", "class.pace", "stream.poll"))
