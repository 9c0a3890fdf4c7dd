"""The browser stream: one websocket per cluster, /ws/clusters/<cluster>/.

On connect it sends the current state (or, with ?since=<revision>, exactly what the
client missed), then every committed change in revision order. Messages come fast through
the Redis group; any gap in revisions is filled from the change log, so a message that
Redis dropped is never lost, and one that arrives twice is never sent twice.

Changes travel in `changes` frames: {"type": "changes", "revision": <the last one>,
"entries": [<change>, ...]} — what one transaction committed in one frame, a backfill in
frames of up to FRAME_ENTRIES. A frame is encoded once per process and the same text sent
to every follower it suits (a class following one cluster costs one encoding per commit,
not one per follower).
"""
from __future__ import annotations

import asyncio
import ctypes
import json
from collections import OrderedDict
from urllib.parse import parse_qs

from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from cluster import metrics
from cluster.apiserver.handlers import access
from web import broadcast, classroom, stream

POLL_SECONDS = 2.0
CLOSE_FORBIDDEN = 4403  # may not follow this cluster (or it does not exist)
CLOSE_GONE = 4404  # the cluster was deleted


FORGET_AFTER_SECONDS = 5.0
FRAME_ENTRIES = 200  # the most changes one frame carries

# The encoded `changes` frames last sent, by (cluster id, first revision, last revision):
# the followers of a cluster receive the same entries and share their text.
_frames: OrderedDict[tuple[int, int, int], str] = OrderedDict()
FRAMES_KEPT = 64


def changes_frame(cluster_id: int, entries: list[dict], *, shared: bool = True) -> str:
    """The `changes` frame of these entries; `shared` (live entries, the same for every
    follower) looks for it among the frames last encoded first."""
    if not shared:
        return json.dumps({"type": "changes", "revision": entries[-1]["revision"], "entries": entries})
    key = (cluster_id, entries[0]["revision"], entries[-1]["revision"])
    text = _frames.get(key)
    if text is None:
        text = json.dumps({"type": "changes", "revision": entries[-1]["revision"], "entries": entries})
        _frames[key] = text
        if len(_frames) > FRAMES_KEPT:
            _frames.popitem(last=False)
    return text


_followers = 0


def _trim_memory() -> None:
    """Give the memory the last followers' snapshots and send buffers used back to the
    system. CPython frees it, but glibc keeps freed heap for reuse and daphne's RSS stays
    at its high-water mark; malloc_trim returns it. Elsewhere (no glibc) nothing happens."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _read(fn):
    """A read of the stream (a snapshot, a replay), run in the thread pool rather than the
    one thread Channels gives database work by default: many followers' reads then go on
    side by side instead of queueing — with every handshake's session lookup — behind each
    other. They only read, so they need none of that thread's ordering."""
    return database_sync_to_async(fn, thread_sensitive=False)


# Every read a follower makes goes through `_read`: on Channels' default single database
# thread it would queue behind every sync view of the process (each learner's lab checks,
# the instructor's roster), and a follower waiting there holds back every message after it
# — a class's broadcast included.


def _forget_channel(layer, channel: str) -> None:
    """Drop what the Redis channel layer buffered for a channel nobody reads any more.

    channels_redis's receive loop reads every message for this process and files each in a
    per-channel queue, made on first use; a group message that arrives for a follower that
    has just left is filed in a queue nobody will read or remove, and daphne's memory grew
    by one queue per departed follower. Its public API has no way to forget a channel, so
    the buffer is reached here (and nothing happens on a layer without one)."""
    buffers = getattr(layer, "receive_buffer", None)
    if isinstance(buffers, dict):
        buffers.pop(channel, None)


class ClusterConsumer(AsyncJsonWebsocketConsumer):
    last: int = 0

    async def connect(self) -> None:
        self.cluster_name = self.scope["url_route"]["kwargs"]["cluster"]
        self.lock = asyncio.Lock()
        self.poller: asyncio.Task | None = None
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
        self.group = broadcast.group_name(self.cluster_name)
        global _followers
        _followers += 1
        metrics.STREAM_FOLLOWERS.inc()
        # Join before reading, so nothing committed after the read can slip past.
        await self.channel_layer.group_add(self.group, self.channel_name)
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
            await self._send_broadcasts()
        self.poller = asyncio.create_task(self._poll())

    async def _send_broadcasts(self) -> None:
        """The class's messages this socket has not sent yet: on connect, and by the poll,
        since a group message can be dropped (a full channel) and is in no change log."""
        for said in await _read(classroom.recent_broadcasts)(self.cluster_id):
            if said["sent"] and said["sent"] > getattr(self, "broadcast_seen", ""):
                self.broadcast_seen = said["sent"]
                await self.send_json({**said, "type": "broadcast", "revision": self.last})

    def _since(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            since = int(query.get("since", [""])[0])
        except ValueError:
            return None
        return since if since >= 0 else None

    async def __call__(self, scope, receive, send) -> None:
        """However the consumer ends — a clean close, a crash in a handler, a cancelled
        task — it leaves the cluster's group, so no message is sent to a client long gone."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._leave()

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self) -> None:
        poller = getattr(self, "poller", None)
        if poller:
            poller.cancel()
        group = getattr(self, "group", None)
        if group and self.channel_layer is not None:
            self.group = None
            await self.channel_layer.group_discard(group, self.channel_name)
            # Not at once: the layer's own receive for this channel is still being cancelled,
            # and it removes its queue itself then (and fails if the queue is already gone).
            # A few seconds on, whatever landed for the channel since is dropped.
            asyncio.get_running_loop().call_later(FORGET_AFTER_SECONDS, _forget_channel, self.channel_layer, self.channel_name)
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

    async def _send_changes(self, entries: list[dict], *, live: bool = True) -> None:
        """Contiguous entries after self.last, in frames of up to FRAME_ENTRIES. (A
        backfill's entries are read for this follower: their display fields are of now.)"""
        for start in range(0, len(entries), FRAME_ENTRIES):
            chunk = entries[start:start + FRAME_ENTRIES]
            try:
                await self.send(text_data=changes_frame(self.cluster_id, chunk, shared=live))
            except Disconnected as exc:
                raise StopConsumer() from exc
            self.last = chunk[-1]["revision"]
            metrics.frame_sent({"type": "changes"})
            if len(chunk) > 1:
                metrics.STREAM_COALESCED.inc(len(chunk))

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "revision": self.last})

    # --- group messages -------------------------------------------------------------

    async def cluster_entries(self, message: dict) -> None:
        async with self.lock:
            fresh = [e for e in message["entries"] if e["revision"] > self.last]
            if not fresh:
                return
            if fresh[0]["revision"] != self.last + 1:
                # Something before these never reached us: the change log has it (and
                # these too, as they are committed).
                if not await self._backfill():
                    await self._send_snapshot()
                return
            await self._send_changes(fresh)

    async def cluster_settings(self, message: dict) -> None:
        info = await _read(stream.current)(self.cluster_id)
        if info:
            await self.send_json({"type": "cluster", "revision": self.last, "cluster": info})
        else:
            await self.close(code=CLOSE_GONE)

    async def cluster_clock(self, message: dict) -> None:
        """The cluster's clock was paused, stepped or resumed, or a component switched."""
        state = await _read(stream.clock_of)(self.cluster_id)
        if state is not None:
            await self.send_json({"type": "clock", "revision": self.last, "clock": state})

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
        for frame in frames:
            await self.send_json(frame)

    async def _backfill(self) -> bool:
        entries, complete = await _read(stream.entries_since)(self.cluster_id, self.last)
        if not complete:
            return False
        fresh = [e for e in entries if e["revision"] > self.last]
        if fresh:
            await self._send_changes(fresh, live=False)
            metrics.STREAM_BACKFILLED.inc(len(fresh))
        return True

    async def _poll(self) -> None:
        """A safety net: if the last message of a burst was dropped, no later one reveals
        the gap, so every few seconds compare with the cluster's revision."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            info = await _read(stream.current)(self.cluster_id)
            if info is None:
                await self.close(code=CLOSE_GONE)
                return
            if info["revision"] > self.last:
                async with self.lock:
                    if not await self._backfill():
                        await self._send_snapshot()
            async with self.lock:
                await self._send_broadcasts()
