"""The page's stream sends each Pod and Node with `display`: what kubectl prints of it,
worked out by the server (cluster/apiserver/serializers/display.py), on a copy."""
from __future__ import annotations

import copy

from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.apiserver.serializers import display
from cluster.componentbase import narration
from web import broadcast, stream

from .manifests import pod, revision


def bare(cluster, name: str, **requests: str) -> dict:
    return store.create(cluster, pod(name, **requests), steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))


def test_a_committed_pod_goes_out_with_its_display_and_the_stored_document_is_untouched(cluster, settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.PODFLOW_BROADCAST = True
    sent: list[dict] = []
    monkeypatch.setattr(broadcast, "publish", lambda name, entries: sent.extend(entries))
    committed: list[store.Committed] = []
    monkeypatch.setattr(store, "_listeners", list(store._listeners))  # this test's listener goes with it
    store.on_commit(lambda _cluster, changes: committed.extend(changes))

    with django_capture_on_commit_callbacks(execute=True):
        created = bare(cluster, "web", cpu="250m", memory="64Mi")

    [entry] = [e for e in sent if e["kind"] == "Pod"]
    assert entry["object"]["display"] == {
        "status": "Pending", "key": "pending", "reason": "", "ready": "0/1", "restarts": "0", "restartCount": 0,
        "evicted": False, "requests": {"cpu": "250m", "memory": "64Mi", "milliCpu": 250, "memoryBytes": 64 * 2**20},
        "holdsResources": True,
    }
    assert {k: v for k, v in entry["object"].items() if k != "display"} == created
    # Neither the write's own document nor the stored one gained the field.
    assert all("display" not in c.new for c in committed)
    assert "display" not in store.get(cluster, kinds.POD, "default", "web")


def test_entry_copies_and_never_changes_the_committed_document(cluster):
    doc = store.get(cluster, kinds.NODE, "", "node-1")
    before = copy.deepcopy(doc)

    shown = {"status": "Ready", "ready": True, "allocatable": {"cpu": "4", "memory": "8Gi", "milliCpu": 4000, "memoryBytes": 8 * 2**30}}
    sent = broadcast.entry(store.Committed("ADDED", revision(cluster), None, doc, store.API))
    assert sent["object"]["display"] == shown
    # Modified, it goes as a patch of what changed (nothing) and the display beside it.
    cordoned = copy.deepcopy(doc)
    cordoned["spec"]["unschedulable"] = True
    sent = broadcast.entry(store.Committed("MODIFIED", revision(cluster), doc, cordoned, store.API))
    assert sent["patch"] == {"spec": {"unschedulable": True}} and "object" not in sent
    assert sent["display"] == {**shown, "status": "Ready,SchedulingDisabled"}
    assert doc == before


def test_snapshots_replays_and_the_timeline_carry_display_for_pods_and_nodes(cluster):
    at = revision(cluster)
    bare(cluster, "web", cpu="100m")
    store.create(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": {"ports": [{"port": 80}]}})
    then = revision(cluster)
    store.mutate(cluster, kinds.NODE, "", "node-2", lambda d: d["spec"].update(unschedulable=True), by=store.API)

    snap = stream.snapshot("test")
    assert [p["display"]["requests"]["cpu"] for p in snap["pods"]] == ["100m"]
    assert [n["display"]["status"] for n in snap["nodes"]] == ["Ready", "Ready,SchedulingDisabled", "Ready"]
    assert all("display" not in s for s in snap["services"])

    entries, complete = stream.entries_since("test", at)
    assert complete
    shown = {e["kind"]: e["object"] for e in entries}
    assert shown["Pod"]["display"]["key"] == "pending"
    assert shown["Node"]["display"]["status"] == "Ready,SchedulingDisabled"
    assert "display" not in shown["Service"]

    past = stream.snapshot(cluster.pk, at=then)
    assert [n["display"]["status"] for n in past["nodes"]] == ["Ready", "Ready", "Ready"]
    assert [p["display"]["status"] for p in past["pods"]] == ["Pending"]


def test_a_summarised_pod_keeps_the_display_of_the_whole_object(cluster):
    manifest = pod("heavy")
    manifest["metadata"]["annotations"] = {"notes": "x" * 200_000}
    manifest["spec"]["containers"] = [{"name": f"c{i}", "image": "nginx", "resources": {"requests": {"cpu": "10m"}}} for i in range(100)]
    store.create(cluster, manifest)

    sent = next(p for p in stream.snapshot("test")["pods"] if p["metadata"]["name"] == "heavy")

    assert sent["podflowSummarised"] > 200_000 and len(sent["spec"]["containers"]) == 50
    assert (sent["display"]["ready"], sent["display"]["requests"]["cpu"]) == ("0/100", "1")


def test_a_display_that_cannot_be_printed_leaves_the_object_as_it_was(cluster, monkeypatch):
    def broken(doc, now=None):
        raise KeyError("spec")

    monkeypatch.setattr(display, "of", broken)
    doc = store.get(cluster, kinds.NODE, "", "node-1")

    assert broadcast.for_page(doc) == doc
