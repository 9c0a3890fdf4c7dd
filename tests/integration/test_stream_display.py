"""The page's stream, for real (daphne, Redis, the workers): each Pod and Node arrives with
`display`, what kubectl would print of it, so the page prints nothing itself."""
from __future__ import annotations

import pytest

from tests.livehelpers import Stream, http, pod_manifest

pytestmark = pytest.mark.integration

PODS = "/k8s/demo/api/v1/namespaces/default/pods"


def pod_change(name: str, check=lambda shown: True):
    def matches(m: dict) -> bool:
        obj = m.get("object") or {}
        return m.get("type") == "change" and m.get("kind") == "Pod" and obj.get("metadata", {}).get("name") == name and check(obj.get("display") or {})
    return matches


def test_a_pod_on_the_stream_carries_what_kubectl_prints_of_it(live_stack):
    with Stream(live_stack.url) as stream:
        snapshot = stream.receive_until(lambda m: m["type"] == "snapshot", 10, "the snapshot")
        assert {n["display"]["status"] for n in snapshot["nodes"]} == {"Ready"}
        assert all(n["display"]["allocatable"]["milliCpu"] > 0 for n in snapshot["nodes"])

        status, created = http(live_stack.url, "POST", PODS, pod_manifest("shown", cpu="250m", memory="64Mi"))
        assert status == 201, created

        added = stream.receive_until(pod_change("shown"), 15, "pod shown on the stream")
        assert added["change"] == "ADDED"
        first = added["object"]["display"]
        assert (first["status"], first["key"], first["ready"]) == ("Pending", "pending", "0/1")
        assert first["requests"] == {"cpu": "250m", "memory": "64Mi", "milliCpu": 250, "memoryBytes": 64 * 2**20}

        ready = stream.receive_until(pod_change("shown", lambda d: d.get("key") == "ready"), 30, "pod shown ready on the stream")
        shown = ready["object"]["display"]
        assert (shown["status"], shown["ready"], shown["restarts"], shown["restartCount"]) == ("Running", "1/1", "0", 0)
        assert shown["holdsResources"] is True and shown["evicted"] is False

    # The API serves the object as stored: the display is the stream's, never the document's.
    status, stored = http(live_stack.url, "GET", PODS + "/shown")
    assert status == 200 and "display" not in stored
