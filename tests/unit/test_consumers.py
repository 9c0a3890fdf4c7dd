"""The browser stream over a websocket: snapshot, then every change once, in order, no gaps."""
from __future__ import annotations

import asyncio
import functools
import json
import zlib

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from cluster.apiserver import store
from cluster.componentbase import narration
from cluster.models import Cluster
from config.asgi import application
from web import bus, consumers, fanout, stream

from .manifests import pod

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://testserver")]


def run(test):
    """Run an async test body on an event loop (pytest-asyncio is not installed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return async_to_sync(test)(*args, **kwargs)

    return wrapper


@database_sync_to_async
def create_pods(cluster, *names: str) -> int:
    """Create bare pods as the API would; returns the revision before them."""
    before = store.current_revision(cluster)
    for name in names:
        store.create(cluster, pod(name), steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))
    return before


@database_sync_to_async
def logged(cluster, since: int) -> list[dict]:
    entries, complete = stream.entries_since(cluster.name, since)
    assert complete
    return entries


async def publish(*entries: dict) -> None:
    """What broadcast.publish sends after a commit (PODFLOW_BROADCAST is off in tests)."""
    bus.publish("test", bus.changes_payload(bus.encode(list(entries))))


def say(message: dict) -> None:
    """What broadcast.to_cluster sends (PODFLOW_BROADCAST is off in tests)."""
    bus.publish("test", bus.message_payload(message))


def subscribers() -> int:
    return bus.memory_bus().count(bus.channel_of("test"))


@database_sync_to_async
def token_of(name: str) -> str:
    return Cluster.objects.get(name=name).token


async def connected(path: str = "/ws/clusters/test/") -> WebsocketCommunicator:
    """A follower with the cluster's bearer token, as scripts and the benchmark follow."""
    bearer = [(b"authorization", f"Bearer {await token_of(path.split('/')[3])}".encode())]
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN + bearer)
    ok, code = await communicator.connect()
    assert ok, code
    return communicator


async def changes(communicator: WebsocketCommunicator, count: int) -> list[dict]:
    """The next `count` changes, from as many `changes` frames as carry them."""
    out: list[dict] = []
    while len(out) < count:
        frame = await communicator.receive_json_from()
        assert frame["type"] == "changes" and frame["revision"] == frame["entries"][-1]["revision"], frame
        out += frame["entries"]
    assert len(out) == count, out
    return out


async def revisions(communicator: WebsocketCommunicator, count: int) -> list[int]:
    return [entry["revision"] for entry in await changes(communicator, count)]


@run
async def test_it_sends_a_snapshot_on_connect(cluster):
    await create_pods(cluster, "web")
    communicator = await connected()
    try:
        snapshot = await communicator.receive_json_from()
    finally:
        await communicator.disconnect()

    assert snapshot["type"] == "snapshot"
    assert snapshot["revision"] == await database_sync_to_async(store.current_revision)(cluster)
    assert snapshot["cluster"]["name"] == "test"
    assert [n["metadata"]["name"] for n in snapshot["nodes"]] == ["node-1", "node-2", "node-3"]
    assert [p["metadata"]["name"] for p in snapshot["pods"]] == ["web"]
    assert [(s["pod"], s["number"], s["status"]) for s in snapshot["steps"]] == [("web", 1, "done"), ("web", 2, "done"), ("web", 3, "not-needed")]


@run
async def test_it_forwards_group_entries_in_revision_order(cluster):
    communicator = await connected()
    try:
        snapshot = await communicator.receive_json_from()
        at = await create_pods(cluster, "a", "b")
        entries = await logged(cluster, at)

        await publish(*entries)

        frame = await communicator.receive_json_from()  # one transaction's changes: one frame
    finally:
        await communicator.disconnect()

    assert snapshot["revision"] == at
    assert (frame["type"], frame["revision"]) == ("changes", at + 2)
    first, second = frame["entries"]
    assert [(m["change"], m["kind"], m["revision"]) for m in (first, second)] == [
        ("ADDED", "Pod", at + 1),
        ("ADDED", "Pod", at + 2),
    ]
    assert first["object"]["metadata"]["name"] == "a"
    assert [s["number"] for s in first["steps"]] == [1, 2, 3]


@run
async def test_it_backfills_from_the_change_log_when_an_entry_skips_ahead(cluster):
    communicator = await connected()
    try:
        await communicator.receive_json_from()
        at = await create_pods(cluster, "a", "b", "c")
        entries = await logged(cluster, at)

        await publish(entries[-1])  # the messages for a and b were lost

        got = await revisions(communicator, 3)
        assert await communicator.receive_nothing()
    finally:
        await communicator.disconnect()

    assert got == [at + 1, at + 2, at + 3]


@run
async def test_it_does_not_send_a_duplicate_entry_twice(cluster):
    communicator = await connected()
    try:
        await communicator.receive_json_from()
        at = await create_pods(cluster, "a", "b")
        first, second = await logged(cluster, at)

        await publish(first)
        await publish(first)
        await publish(first, second)

        got = await revisions(communicator, 2)
        assert await communicator.receive_nothing()
    finally:
        await communicator.disconnect()

    assert got == [at + 1, at + 2]


@run
async def test_it_sends_exactly_the_changes_after_since(cluster):
    at = await create_pods(cluster, "a")
    await create_pods(cluster, "b", "c")
    communicator = await connected(f"/ws/clusters/test/?since={at + 1}")
    try:
        hello = await communicator.receive_json_from()
        got = await revisions(communicator, 2)
        assert await communicator.receive_nothing()
    finally:
        await communicator.disconnect()

    assert (hello["type"], hello["revision"]) == ("cluster", at + 1)
    assert got == [at + 2, at + 3]


@run
async def test_it_sends_a_snapshot_to_a_client_ahead_of_the_cluster(cluster):
    # A tab left open while the cluster was made again: its revision means nothing here.
    now = await create_pods(cluster, "a") + 1
    communicator = await connected(f"/ws/clusters/test/?since={now + 100}")
    try:
        snapshot = await communicator.receive_json_from()
        at = await create_pods(cluster, "b")
        await publish(*await logged(cluster, at))
        got = await revisions(communicator, 1)
    finally:
        await communicator.disconnect()

    assert (snapshot["type"], snapshot["revision"]) == ("snapshot", now)
    assert got == [now + 1]


@run
async def test_it_answers_a_ping_with_its_revision(cluster):
    communicator = await connected()
    try:
        snapshot = await communicator.receive_json_from()
        await communicator.send_json_to({"type": "ping"})
        pong = await communicator.receive_json_from()
    finally:
        await communicator.disconnect()

    assert pong == {"type": "pong", "revision": snapshot["revision"]}


@run
async def test_it_forwards_a_settings_change(cluster):
    communicator = await connected()
    try:
        await communicator.receive_json_from()
        await database_sync_to_async(store.set_speed)(cluster, "slow")
        say({"type": "cluster.settings"})
        message = await communicator.receive_json_from()
    finally:
        await communicator.disconnect()

    assert (message["type"], message["cluster"]["speed"]) == ("cluster", "slow")


@run
async def test_it_closes_the_stream_of_a_cluster_that_does_not_exist_as_one_it_may_not_open(cluster):
    communicator = WebsocketCommunicator(application, "/ws/clusters/nope/", headers=ORIGIN)

    await communicator.connect()
    first = await communicator.receive_output(timeout=2)

    assert first == {"type": "websocket.close", "code": 4403}


@run
async def test_it_refuses_a_page_from_another_origin(cluster):
    communicator = WebsocketCommunicator(application, "/ws/clusters/test/", headers=[(b"origin", b"http://evil.example")])

    ok, _ = await communicator.connect()

    assert ok is False


@run
async def test_it_forwards_simulated_requests_to_a_service_as_traffic(cluster):
    communicator = await connected()
    try:
        snapshot = await communicator.receive_json_from()
        answer = {"service": "web", "namespace": "default", "pod": "web-1", "status": 200}

        say({"type": "cluster.traffic", "answers": [answer]})

        message = await communicator.receive_json_from()
    finally:
        await communicator.disconnect()

    assert message == {"type": "traffic", "revision": snapshot["revision"], "answers": [answer]}


@database_sync_to_async
def fill(cluster, count: int) -> None:
    with store.locked(cluster):
        for i in range(count):
            store.create(cluster, pod(f"many-{i}"))


@run
async def test_it_sends_a_large_clusters_snapshot_in_parts_and_then_the_changes(cluster):
    await fill(cluster, 600)
    communicator = await connected()
    try:
        first = await communicator.receive_json_from(timeout=10)
        parts = [await communicator.receive_json_from(timeout=10) for _ in range(first["parts"])]
        await create_pods(cluster, "after")
        frame = await communicator.receive_json_from(timeout=5)  # the poller backfills it
    finally:
        await communicator.disconnect()

    assert first["type"] == "snapshot" and first["parts"] >= 1
    assert {p["type"] for p in parts} == {"snapshot-part"}
    names = {p["metadata"]["name"] for frame in [first, *parts] for p in frame.get("pods", [])}
    assert len(names) == 600
    [change] = frame["entries"]
    assert frame["type"] == "changes" and change["object"]["metadata"]["name"] == "after"


@run
async def test_followers_share_one_reading_of_a_change_and_a_backfill_is_cut_into_frames(cluster, monkeypatch):
    monkeypatch.setattr(fanout, "FRAME_ENTRIES", 2)
    read = []
    real_parse = bus.parse

    def parse(payload):
        what, body = real_parse(payload)
        read.append([e.revision for e in body])
        return what, body

    monkeypatch.setattr(bus, "parse", parse)
    one, two = await connected(), await connected()
    try:
        for follower in (one, two):
            await follower.receive_json_from()  # the snapshot
        at = await create_pods(cluster, "a", "b")
        await publish(*await logged(cluster, at))
        texts = [await follower.receive_output() for follower in (one, two)]
        assert texts[0]["text"] == texts[1]["text"]
        assert read == [[at + 1, at + 2]]  # once for both followers
        # Five changes missed: the change log sends them in frames of at most two.
        later = await create_pods(cluster, "c", "d", "e", "f", "g")
        await publish((await logged(cluster, later))[-1])
        frames = [await one.receive_json_from() for _ in range(3)]
    finally:
        await one.disconnect()
        await two.disconnect()
    assert [[e["revision"] for e in f["entries"]] for f in frames] == [[later + 1, later + 2], [later + 3, later + 4], [later + 5]]


@run
async def test_one_subscription_per_cluster_serves_every_follower_in_the_process(cluster):
    one, two = await connected(), await connected()
    for follower in (one, two):
        await follower.receive_json_from()  # the snapshot
    assert subscribers() == 1
    await one.disconnect()
    assert subscribers() == 1  # the other still follows
    at = await create_pods(cluster, "a")
    await publish(*await logged(cluster, at))
    [change] = await changes(two, 1)
    assert change["object"]["metadata"]["name"] == "a"
    await two.disconnect()
    assert subscribers() == 0


@run
async def test_changes_that_arrive_together_go_out_in_one_frame(cluster):
    follower = await connected()
    await follower.receive_json_from()  # the snapshot
    at = await create_pods(cluster, "a", "b", "c")
    entries = await logged(cluster, at)
    for entry in entries:  # three commits' messages, one after the other
        await publish(entry)
    frames = []
    while sum(len(f["entries"]) for f in frames) < 3:
        frames.append(await follower.receive_json_from())
    await follower.disconnect()
    assert [e["revision"] for f in frames for e in f["entries"]] == [at + 1, at + 2, at + 3]
    assert len(frames) < 3  # at most one frame a tick: the second and third went together


@run
async def test_a_malformed_message_is_dropped_and_the_change_log_fills_the_gap(cluster):
    communicator = await connected()
    await communicator.receive_json_from()  # the snapshot

    bus.publish("test", "E\nno-revision {}")
    bus.publish("test", "M\n[]")
    bus.publish("test", "nothing known")
    at = await create_pods(cluster, "a", "b")
    await publish((await logged(cluster, at))[-1])  # only the second: a gap
    received = await changes(communicator, 2)
    assert [e["revision"] for e in received] == [at + 1, at + 2]
    await communicator.disconnect()
    assert subscribers() == 0


@run
async def test_a_follower_that_fails_is_closed_and_leaves_the_feed(cluster, monkeypatch):
    communicator = await connected()
    await communicator.receive_json_from()  # the snapshot

    async def fails(self, message):
        raise RuntimeError("a handler's bug")

    monkeypatch.setattr(consumers.ClusterConsumer, "cluster_request", fails)
    say({"type": "cluster.request", "request": {}})
    closed = await communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": consumers.CLOSE_ERROR}
    assert subscribers() == 0
    await communicator.disconnect()


@run
async def test_the_poll_fills_in_a_last_change_whose_message_was_lost(cluster, monkeypatch):
    monkeypatch.setattr(fanout, "POLL_SECONDS", 0.1)
    follower = await connected()
    await follower.receive_json_from()  # the snapshot
    at = await create_pods(cluster, "lost")  # committed, its message never published
    [change] = await changes(follower, 1)  # the poll after the one that read its revision
    await follower.disconnect()
    assert change["revision"] == at + 1 and change["object"]["metadata"]["name"] == "lost"


@run
async def test_one_poll_reads_every_followed_cluster_and_ends_with_the_last_feed(cluster, monkeypatch):
    from cluster.demo import ensure_cluster

    monkeypatch.setattr(fanout, "POLL_SECONDS", 0.1)
    other, _ = await database_sync_to_async(ensure_cluster)("other", nodes=1)
    reads: list[list[int]] = []
    real = stream.polled
    monkeypatch.setattr(stream, "polled", lambda ids: reads.append(ids) or real(ids))
    one, two = await connected(), await connected("/ws/clusters/other/")
    for follower in (one, two):
        await follower.receive_json_from()  # the snapshot
    at = await create_pods(cluster, "lost")  # committed, its message never published
    [change] = await changes(one, 1)  # filled in by a poll that read both clusters at once
    assert change["revision"] == at + 1
    assert sorted([cluster.pk, other.pk]) in reads and all(len(ids) == len(set(ids)) for ids in reads)
    await one.disconnect()
    await two.disconnect()
    hub = fanout.hub()
    assert not hub.feeds and hub.poller is None


@run
async def test_the_poll_hands_out_a_clock_change_whose_message_was_lost_and_only_a_change(cluster, monkeypatch):
    from cluster.componentbase import clock

    monkeypatch.setattr(fanout, "POLL_SECONDS", 0.1)
    follower = await connected()
    try:
        await follower.receive_json_from()  # the snapshot
        await database_sync_to_async(clock.pause)(cluster)  # committed, its message never published
        message = await follower.receive_json_from(timeout=5)
        while message["type"] != "clock":  # the polls before it
            message = await follower.receive_json_from(timeout=5)
        assert message["clock"]["paused"] is True
        # Polls that find the clock as it was hand out nothing more.
        deadline = asyncio.get_running_loop().time() + 0.5
        while asyncio.get_running_loop().time() < deadline:
            if not await follower.receive_nothing(timeout=0.05):
                later = await follower.receive_json_from()
                assert later["type"] != "clock", later
    finally:
        await follower.disconnect()


@run
async def test_a_lost_message_is_read_from_the_change_log_once_for_all_followers(cluster):
    one, two = await connected(), await connected()
    for follower in (one, two):
        await follower.receive_json_from()  # the snapshot
    [feed] = fanout.hub().feeds.values()
    at = await create_pods(cluster, "a", "b", "c")
    await publish((await logged(cluster, at))[-1])  # the first two never published
    for follower in (one, two):
        assert [e["revision"] for e in await changes(follower, 3)] == [at + 1, at + 2, at + 3]
    assert feed.fills == 1
    await one.disconnect()
    await two.disconnect()


@run
async def test_messages_that_cross_on_the_way_are_put_back_in_order_without_the_change_log(cluster):
    follower = await connected()
    await follower.receive_json_from()  # the snapshot
    [feed] = fanout.hub().feeds.values()
    at = await create_pods(cluster, "a", "b")
    first, second = await logged(cluster, at)
    await publish(second)  # two processes' commits: the later one's message arrives first
    await publish(first)
    assert [e["revision"] for e in await changes(follower, 2)] == [at + 1, at + 2]
    assert feed.fills == 0
    await follower.disconnect()


def inflated(frame: bytes) -> dict:
    return json.loads(zlib.decompress(frame, -15))


@run
async def test_a_follower_that_asks_gets_the_changes_deflated_the_same_bytes_for_every_such_follower(cluster):
    """`?compress=deflate`: each frame of the snapshot and of changes is a binary message,
    the frame's JSON as a raw DEFLATE stream, built once for the followers that send it as
    it came."""
    plain = await connected()
    packed = [await connected("/ws/clusters/test/?compress=deflate") for _ in range(2)]
    try:
        snapshot = await plain.receive_json_from()
        # The snapshot too, deflated once for both.
        opened = [await follower.receive_output(5) for follower in packed]
        assert opened[0] == opened[1] and inflated(opened[0]["bytes"]) == snapshot
        at = await create_pods(cluster, "a", "b")
        await publish(*await logged(cluster, at))
        text = await plain.receive_json_from()
        first, second = [await follower.receive_output(5) for follower in packed]
        # A gap: the change log fills it, deflated for this follower alone.
        later = await create_pods(cluster, "c", "d")
        await publish((await logged(cluster, later))[-1])
        filled = await packed[0].receive_output(5)
    finally:
        for follower in (plain, *packed):
            await follower.disconnect()

    assert first == second and first.get("text") is None
    assert inflated(first["bytes"]) == text
    assert [e["object"]["metadata"]["name"] for e in inflated(first["bytes"])["entries"]] == ["a", "b"]
    assert [e["revision"] for e in inflated(filled["bytes"])["entries"]] == [later + 1, later + 2]
    assert len(first["bytes"]) * 3 < len(json.dumps(text))
