"""Scaling out with nothing but settings: two daphne processes and two Celery workers per
role, all on one PostgreSQL database and one Redis, as two machines would run them.

A pod created through one daphne streams all its steps to a follower of the other (the
channel layer is Redis, the change log is the database), and killing one worker of each
role during a rollout loses nothing: the other worker of the role takes the queue, the
resync makes good what the killed one held, and the follower sees every revision once.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests import livehelpers
from tests.conftest import POSTGRES
from tests.livehelpers import Stream, deployment_manifest, http, is_ready, pod_manifest, step_done, wait_until

pytestmark = [
    pytest.mark.integration,
    # It starts PostgreSQL of its own whichever engine the rest use: once, in the PostgreSQL pass.
    pytest.mark.skipif(not POSTGRES, reason="runs in make test's PostgreSQL pass (PODFLOW_TEST_POSTGRES=1)"),
]

PODS = "/k8s/demo/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/k8s/demo/apis/apps/v1/namespaces/default/deployments"


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    from cluster.stack import Stack, free_port, postgres_binary

    if postgres_binary("initdb") is None:
        pytest.skip("PostgreSQL is not installed (make test installs Debian's postgresql)")
    var = Path(tmp_path_factory.mktemp("scaled"))
    stack = Stack.scratch(var, postgres=True)
    stack.workers_per_role = 2
    stack.env["PODFLOW_RESYNC_SECONDS"] = "1"
    try:
        stack.start(demo_speed="instant")
        other = f"http://127.0.0.1:{free_port()}"
        stack.start_web("web-2", int(other.rsplit(":", 1)[1]), free_port())
        for base in (stack.url, other):
            livehelpers.kubeconfig_sources[base] = stack.kubeconfig
            wait_until(lambda: http(base, "GET", "/healthz")[0] == 200, 90, f"{base} and every worker role to answer")
        yield stack, other
    finally:
        stack.stop()


def steps_once(stream: Stream, pod: str) -> list[int]:
    return sorted(s["number"] for s in stream.steps_for(pod))


def test_a_pod_created_through_one_daphne_streams_its_steps_to_a_follower_of_the_other(scaled):
    stack, other = scaled
    with Stream(other, "demo") as follower:
        follower.receive_until(lambda m: m.get("type") == "snapshot", 15, "the snapshot from daphne B")
        status, body = http(stack.url, "POST", PODS, pod_manifest("across"))
        assert status == 201, body
        follower.receive_until(step_done("across", 8), 30, "step 8 of pod across on daphne B")
    assert steps_once(follower, "across") == [1, 2, 3, 4, 5, 6, 7, 8]


def test_killing_one_worker_of_each_role_during_a_rollout_loses_nothing(scaled):
    stack, other = scaled
    with Stream(other, "demo") as follower:
        snapshot = follower.receive_until(lambda m: m.get("type") == "snapshot", 15, "the snapshot")
        status, body = http(stack.url, "POST", DEPLOYMENTS, deployment_manifest("spread", 6))
        assert status == 201, body
        for role in ("controller-manager", "scheduler", "kubelet"):
            os.killpg(stack.procs[role].pid, signal.SIGKILL)  # the first worker of the role; its twin stays
            stack.procs[role].wait(10)

        def all_ready() -> bool:
            status, pods = http(stack.url, "GET", PODS + "?labelSelector=app%3Dspread")
            return status == 200 and len(pods["items"]) == 6 and all(is_ready(p) for p in pods["items"])

        wait_until(all_ready, 60, "the six pods to be Ready with one worker of each role left")
        status, pods = http(stack.url, "GET", PODS + "?labelSelector=app%3Dspread")
        current = int(pods["metadata"]["resourceVersion"])
        follower.receive_until(lambda m: m.get("type") == "change" and m["revision"] >= current, 30, f"revision {current} on daphne B")
    revisions = [m["revision"] for m in follower.changes()]
    assert revisions == list(range(snapshot["revision"] + 1, revisions[-1] + 1)), "a gap or a repeat on the follower"
    for pod in pods["items"]:
        assert steps_once(follower, pod["metadata"]["name"]) == [1, 2, 3, 4, 5, 6, 7, 8]
