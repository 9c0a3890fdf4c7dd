"""A killed worker loses no progress: the resync and level-triggered reconciles pick up."""
from __future__ import annotations

import signal

import pytest

from tests.livehelpers import http, is_ready, pod_manifest, wait_until

pytestmark = pytest.mark.integration

PODS = "/k8s/killtest/api/v1/namespaces/default/pods"


def _health(base: str) -> tuple[int, dict]:
    return http(base, "GET", "/healthz")


def test_it_reports_each_part_healthy_when_all_respond(live_stack):
    status, body = _health(live_stack.url)
    assert status == 200, body
    assert set(body["parts"]) == {"database", "redis", "controller-manager", "scheduler", "kubelet"}
    assert all(part["ok"] for part in body["parts"].values())


def test_it_still_brings_a_pod_to_ready_after_the_kubelet_worker_is_killed_mid_creation(live_stack):
    # Its own cluster at normal speed (a second a stage), so the kill lands mid-creation.
    live_stack.manage("democluster", "--name", "killtest", "--speed", "normal")
    status, _ = http(live_stack.url, "POST", PODS, pod_manifest("survivor"))
    assert status == 201

    wait_until(lambda: (http(live_stack.url, "GET", PODS + "/survivor")[1].get("status") or {}).get("hostIP"), 20, "the kubelet to admit the pod")
    live_stack.kill("kubelet", signal.SIGKILL)
    pod = http(live_stack.url, "GET", PODS + "/survivor")[1]
    assert not is_ready(pod), "the pod must still be mid-creation when the worker dies"

    status, body = _health(live_stack.url)
    assert status == 503 and body["failing"] == ["kubelet"]

    live_stack.start_worker("kubelet", ["kubelet"])
    pod = wait_until(lambda: (p := http(live_stack.url, "GET", PODS + "/survivor")[1]) and is_ready(p) and p, 60, "the pod to become Ready after the restart")
    assert pod["status"]["phase"] == "Running"
    wait_until(lambda: _health(live_stack.url)[0] == 200, 20, "healthz to be 200 again")


@pytest.mark.parametrize("timeout", ["0", "-1", "0.0001"])
def test_health_with_a_tiny_or_negative_timeout_still_finds_the_running_workers(live_stack, timeout):
    status, body = http(live_stack.url, "GET", f"/healthz?timeout={timeout}")

    assert status == 200, body


@pytest.mark.parametrize("timeout", ["abc", "nan", "inf"])
def test_health_refuses_a_timeout_that_is_not_a_number(live_stack, timeout):
    status, body = http(live_stack.url, "GET", f"/healthz?timeout={timeout}")

    assert status == 400 and "timeout" in body["error"]
