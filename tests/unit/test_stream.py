"""What the browser stream reads: the snapshot and the entries since a revision, from the logs."""
from __future__ import annotations

import json
import re
import time
import zlib
from datetime import datetime

import pytest

from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.componentbase import narration
from cluster.models import Change
from web import broadcast, bus, stream

from .manifests import pod, revision


def bare(cluster, name: str) -> dict:
    return store.create(cluster, pod(name), steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))


def test_it_snapshots_the_objects_steps_and_revision(cluster):
    web = bare(cluster, "web")

    snap = stream.snapshot("test")

    assert snap["revision"] == revision(cluster)
    assert snap["cluster"] == {"name": "test", "speed": "instant", "revision": revision(cluster), "paused": False, "stopped": []}
    assert [p["metadata"]["uid"] for p in snap["pods"]] == [web["metadata"]["uid"]]
    assert len(snap["nodes"]) == 3
    assert [s["number"] for s in snap["steps"]] == [1, 2, 3]
    assert snap["steps"][0]["text"]["en"].startswith("kubectl asked the API server to create Pod default/web")


def test_it_leaves_out_the_steps_of_pods_that_are_gone(cluster):
    bare(cluster, "web")
    store.remove(cluster, kinds.POD, "default", "web", by=store.API)

    assert stream.snapshot("test")["steps"] == []


def test_it_returns_the_entries_after_a_revision_with_their_steps(cluster):
    at = revision(cluster)
    web = bare(cluster, "web")
    store.remove(cluster, kinds.POD, "default", "web", by=store.API)

    entries, complete = stream.entries_since("test", at)

    assert complete
    assert [(e["revision"], e["change"], e["kind"]) for e in entries] == [(at + 1, "ADDED", "Pod"), (at + 2, "DELETED", "Pod")]
    assert entries[0]["object"]["metadata"]["uid"] == web["metadata"]["uid"]
    assert [s["number"] for s in entries[0]["steps"]] == [1, 2, 3]
    assert entries[1]["steps"] == []


def test_live_and_replayed_entries_carry_their_change_rows_commit_time(cluster, settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.PODFLOW_BROADCAST = True
    sent: list[dict] = []
    monkeypatch.setattr(broadcast, "publish", lambda name, entries: sent.extend(entries))
    at = revision(cluster)

    with django_capture_on_commit_callbacks(execute=True):
        bare(cluster, "web")
        store.remove(cluster, kinds.POD, "default", "web", by=store.API)
    replayed, _ = stream.entries_since("test", at)

    rows = {c.revision: c.time for c in Change.objects.filter(cluster=cluster, revision__gt=at)}
    assert sorted(rows) == [at + 1, at + 2] == [e["revision"] for e in sent] == [e["revision"] for e in replayed]
    for entry in sent + replayed:
        # RFC 3339 in UTC to the microsecond, the Change row's time exactly.
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", entry["at"]), entry["at"]
        assert datetime.fromisoformat(entry["at"].replace("Z", "+00:00")) == rows[entry["revision"]]
    assert [e["at"] for e in sent] == [e["at"] for e in replayed]


def test_it_gives_up_on_a_replay_longer_than_its_limit(cluster):
    at = revision(cluster)
    for name in ("a", "b", "c"):
        bare(cluster, name)

    assert stream.entries_since("test", at, limit=2) == ([], False)
    assert len(stream.entries_since("test", at, limit=3)[0]) == 3


def test_it_knows_nothing_of_a_cluster_that_does_not_exist(db):
    assert stream.snapshot("nope") is None
    assert stream.current("nope") is None
    assert stream.entries_since("nope", 0) == ([], True)


MIB = 1024 * 1024


def many_pods(cluster, count: int) -> None:
    with store.locked(cluster):
        for i in range(count):
            bare(cluster, f"web-{i}")


def test_a_snapshot_of_a_thousand_pods_goes_out_in_frames_far_below_a_mebibyte(cluster):
    many_pods(cluster, 1000)

    frames = stream.snapshot_frames("test")

    assert frames[0]["type"] == "snapshot" and frames[0]["parts"] == len(frames) - 1 >= 3
    assert [f["part"] for f in frames[1:]] == list(range(1, len(frames)))
    assert all(stream._bytes(f) <= stream.FRAME_BYTES for f in frames)
    pods = [p["metadata"]["name"] for f in frames for p in f.get("pods", [])]
    steps = [s for f in frames for s in f.get("steps", [])]
    assert sorted(pods) == sorted(f"web-{i}" for i in range(1000))
    assert len(steps) == len(stream.snapshot("test")["steps"])


def test_an_object_too_large_for_the_browser_is_sent_summarised_and_the_api_keeps_it_whole(cluster):
    manifest = pod("heavy")
    # Within the API server's limits (annotations 256 KiB, 100 containers), far over the
    # browser's 64 KiB per object.
    manifest["metadata"]["annotations"] = {"notes": "x" * 200_000}
    manifest["spec"]["containers"] += [{"name": f"c{i}", "image": "nginx"} for i in range(98)]
    bare(cluster, "light")
    store.create(cluster, manifest)

    frames = stream.snapshot_frames("test")
    entries, _ = stream.entries_since("test", revision(cluster) - 1)

    sent = next(p for f in frames for p in f.get("pods", []) if p["metadata"]["name"] == "heavy")
    assert all(stream._bytes(f) < MIB for f in frames)
    assert sent["podflowSummarised"] > 200_000
    assert sent["metadata"]["annotations"]["notes"] == "(200000 bytes)"
    assert len(sent["spec"]["containers"]) == 50
    assert entries[0]["object"]["podflowSummarised"] == sent["podflowSummarised"]
    assert len(store.get(cluster, kinds.POD, "default", "heavy")["metadata"]["annotations"]["notes"]) == 200_000
    light = next(p for f in frames for p in f.get("pods", []) if p["metadata"]["name"] == "light")
    assert "podflowSummarised" not in light


def test_followers_at_one_revision_share_one_snapshot_build(cluster, django_assert_num_queries):
    stream._shared.clear()
    first = stream.shared_snapshot_frames(cluster.pk)
    # The second follower asks only for the cluster's revision and speed, and reuses it.
    with django_assert_num_queries(1):
        again = stream.shared_snapshot_frames(cluster.pk)
    assert again is first
    # Encoded once for all of them: as text, and deflated for those that asked.
    texts = first.encoded(False)
    assert first.encoded(False) is texts and [json.loads(t) for t in texts] == list(first)
    assert [json.loads(zlib.decompress(b, -15)) for b in first.encoded(True)] == list(first)

    store.create(cluster, pod("later"))
    after_write = stream.shared_snapshot_frames(cluster.pk)
    assert after_write is not first and after_write[0]["revision"] == revision(cluster)
    assert "later" in [p["metadata"]["name"] for frame in after_write for p in frame.get("pods", [])]

    store.set_speed(cluster, "slow")  # no new revision, but the snapshot says the speed
    assert stream.shared_snapshot_frames(cluster.pk)[0]["cluster"]["speed"] == "slow"
    assert stream.shared_snapshot_frames(-1) is None


def test_the_shared_snapshots_are_bounded(cluster, settings, monkeypatch):
    from cluster.demo import ensure_cluster

    stream._shared.clear()
    monkeypatch.setattr(stream, "SHARED_SNAPSHOTS", 2)
    others = [ensure_cluster(f"other-{i}", nodes=1)[0] for i in range(3)]
    for made in [cluster, *others]:
        stream.shared_snapshot_frames(made.pk)
    assert list(stream._shared) == [others[1].pk, others[2].pk]


def test_the_timeline_shows_the_cluster_as_it_was(cluster, client):
    from cluster.apiserver.handlers import access  # noqa: F401 — the page's owner rule

    first = store.create(cluster, pod("early"))
    at = revision(cluster)
    store.create(cluster, pod("late"))
    store.delete(cluster, kinds.POD, "default", "early", by=store.API, options=store.DeleteOptions(grace_seconds=0))

    then = stream.snapshot(cluster.pk, at=at)
    assert [p["metadata"]["name"] for p in then["pods"]] == ["early"] and then["revision"] == at
    assert then["pods"][0]["metadata"]["uid"] == first["metadata"]["uid"]
    now = stream.snapshot(cluster.pk)
    assert [p["metadata"]["name"] for p in now["pods"]] == ["late"]


def test_a_redis_that_does_not_answer_holds_up_one_commit_for_a_bounded_time(monkeypatch, settings):
    """The committing thread publishes its changes itself (web/bus.py); a Redis that takes
    the connection and never answers delays that thread once by PUBLISH_TIMEOUT_SECONDS,
    and the commits after it not at all while publishing pauses (the change log has them)."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        settings.PODFLOW_STREAM_REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        monkeypatch.setattr(bus, "PUBLISH_TIMEOUT_SECONDS", 0.3)
        monkeypatch.setattr(bus, "_publisher", None)
        began = time.monotonic()
        bus.publish("web", bus.changes_payload([bus.Encoded(1, "{}")]))
        first = time.monotonic() - began
        began = time.monotonic()
        bus.publish("web", bus.changes_payload([bus.Encoded(2, "{}")]))
        second = time.monotonic() - began
    finally:
        silent.close()
        bus._publisher = None
    assert 0.25 <= first < 3.0
    assert second < 0.05


def test_a_payload_carries_changes_or_one_message_and_nothing_else_is_taken():
    changes = bus.encode([{"revision": 7, "text": "a\nb"}, {"revision": 8}])
    assert bus.parse(bus.changes_payload(changes).encode()) == (bus.CHANGES, changes)
    assert bus.parse(bus.message_payload({"type": "cluster.clock"})) == (bus.MESSAGE, {"type": "cluster.clock"})
    for bad in ("E\n7", "E\nseven {}", "M\n[]", "M\n{}", "X\n{}", ""):
        with pytest.raises(ValueError):
            bus.parse(bad)
