"""A modified object goes to the page as a merge patch of its version before (web/delta.py)."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from cluster.apimachinery import kinds
from cluster.apiserver import store
from web import broadcast, delta, stream

from .manifests import pod, revision

STORE_JS = Path(__file__).resolve().parents[2] / "static" / "podflow" / "store.js"

CASES = [
    ({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 4, "d": 3}}, {"b": {"c": 4}}),
    ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
    ({"a": 1}, {"a": 1, "b": {"c": [1, None]}}, {"b": {"c": [1, None]}}),
    ({"a": {"x": 1}}, {"a": [1, 2]}, {"a": [1, 2]}),
    ({"a": [1, 2]}, {"a": {"x": 1}}, {"a": {"x": 1}}),
    ({"a": {"x": 1}}, {"a": {}}, {"a": {"x": None}}),
    ({}, {"a": {}}, {"a": {}}),
    ({"l": [{"k": None}]}, {"l": [{"k": None}, {"k": 1}]}, {"l": [{"k": None}, {"k": 1}]}),
    ({"same": {"deep": [1]}}, {"same": {"deep": [1]}}, {}),
]


@pytest.mark.parametrize("old,new,patch", CASES)
def test_the_patch_is_what_changed_and_applying_it_gives_the_new_version(old, new, patch):
    before = copy.deepcopy(old)
    assert delta.diff(old, new) == patch
    assert delta.apply(old, patch) == new
    assert old == before  # neither the diff nor the apply touched the version before


@pytest.mark.parametrize("new", [{"a": None}, {"a": {"b": None}}, {"x": 1, "a": {"b": {"c": None}}}])
def test_a_null_a_patch_would_carry_sends_the_object_whole(new):
    with pytest.raises(delta.Unpatchable):
        delta.diff({"a": 1}, new)


def test_the_kinds_patched_are_the_kinds_the_snapshot_carries_and_the_page_keeps():
    assert delta.KEPT_KINDS == {k.kind for k in stream.SNAPSHOT_KINDS}
    page = set(re.findall(r"^  (\w+): \"\w+\",", STORE_JS.read_text(), re.M))
    assert delta.KEPT_KINDS == page - {"Event"}


def test_a_pods_status_update_goes_as_a_small_patch_the_page_turns_into_the_whole_pod(cluster):
    created = store.create(cluster, pod("web"))
    with store.locked(cluster) as outbox:
        store.mutate(cluster, kinds.POD, "default", "web", lambda d: d.setdefault("status", {}).update(phase="Running", podIP="10.0.0.7"), by=store.API)
        [change] = outbox.changes
    sent = broadcast.entry(change)

    assert (sent["change"], sent["uid"], sent["base"]) == ("MODIFIED", created["metadata"]["uid"], created["metadata"]["resourceVersion"])
    assert sent["patch"]["status"] == {"phase": "Running", "podIP": "10.0.0.7"}
    assert sent["display"]["status"] == "Running"
    # What the page held (the created pod as it was sent) patched is the pod as it is now.
    page = broadcast.for_page(created)
    whole = {**delta.apply({k: v for k, v in page.items() if k != "display"}, sent["patch"]), "display": sent["display"]}
    assert whole == broadcast.for_page(store.get(cluster, kinds.POD, "default", "web"))
    assert whole["metadata"]["resourceVersion"] == str(revision(cluster))
    assert len(json.dumps(sent)) < len(json.dumps(broadcast.for_page(change.new)))


def test_events_and_new_or_deleted_objects_go_whole(cluster):
    with store.locked(cluster) as outbox:
        store.create(cluster, pod("web"))
        store.create(cluster, {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "default"}, "reason": "Scheduled", "count": 1, "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}})
        store.mutate(cluster, kinds.EVENT, "default", "e1", lambda d: d.update(count=2), by=store.API)
        store.delete(cluster, kinds.POD, "default", "web", by=store.API)
        changes = list(outbox.changes)
    sent = [broadcast.entry(c) for c in changes]
    assert all("object" in e and "patch" not in e for e in sent), [(e["kind"], e["change"]) for e in sent]


def test_two_writes_to_one_pod_in_one_transaction_patch_in_turn(cluster):
    """A kubelet batch modifies a pod several times in one transaction: each patch is to
    the version the one before it made, which the page gets earlier in the same frame."""
    created = store.create(cluster, pod("web"))
    with store.locked(cluster) as outbox:
        store.mutate(cluster, kinds.POD, "default", "web", lambda d: d.setdefault("status", {}).update(podIP="10.0.0.9"), by=store.API)
        store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["status"].update(phase="Running"), by=store.API)
        first, second = [broadcast.entry(c) for c in outbox.changes]
    assert first["base"] == created["metadata"]["resourceVersion"]
    assert second["base"] == str(first["revision"])
    page = {k: v for k, v in broadcast.for_page(created).items() if k != "display"}
    page = delta.apply(delta.apply(page, first["patch"]), second["patch"])
    assert page == {k: v for k, v in broadcast.for_page(store.get(cluster, kinds.POD, "default", "web")).items() if k != "display"}
