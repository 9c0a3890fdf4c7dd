"""Faults of a part: Redis, each worker role and daphne are killed in turn during a rollout,
with `make run`'s supervisor restarting them, and nobody restarting anything by hand.

The rollout still finishes, a follower of the stream resumes without a gap, and no request
was answered 500. This stack is its own (killing Redis would disturb the shared one).
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests import livehelpers
from tests.conftest import POSTGRES
from tests.livehelpers import deployment_manifest, http, wait_until

pytestmark = pytest.mark.integration

DEPLOYMENTS = "/k8s/demo/apis/apps/v1/namespaces/default/deployments"
REPLICAS = 4


@pytest.fixture
def supervised(tmp_path):
    from cluster.management.commands.runstack import Supervisor
    from cluster.stack import Stack, free_port

    redis_port = free_port()
    stack = Stack(
        port=free_port(), api_port=free_port(), quiet=True, var_dir=Path(tmp_path), postgres=POSTGRES,
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path}/podflow.sqlite3",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "PODFLOW_VAR_DIR": str(tmp_path),
            "PODFLOW_RESYNC_SECONDS": "1",
        },
    )
    said: list[str] = []
    stop = threading.Event()
    stack.start(demo_speed="instant")
    livehelpers.kubeconfig_sources[stack.url] = stack.kubeconfig
    supervisor = Supervisor(stack, said.append)

    def watch() -> None:
        while not stop.wait(0.2):
            supervisor.tick(time.monotonic())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        wait_until(lambda: http(stack.url, "GET", "/healthz")[0] == 200, 90, "every worker to answer")
        yield stack, said
    finally:
        stop.set()
        thread.join(5)
        stack.stop()


def crash(stack, name: str) -> None:
    """SIGKILL a child, as the kernel or a crash would; the supervisor sees it exit. (A
    worker may be down already: kombu's Redis transport fails closing its channel after a
    Redis restart and the worker exits; the supervisor starts it again.)"""
    wait_until(lambda: stack.procs[name].poll() is None, 30, f"{name} to be running")
    os.killpg(stack.procs[name].pid, signal.SIGKILL)


def rolled_out(stack, name: str, image: str) -> bool:
    status, dep = http(stack.url, "GET", f"{DEPLOYMENTS}/{name}")
    if status != 200:
        return False
    st = dep.get("status") or {}
    return (
        dep["spec"]["template"]["spec"]["containers"][0]["image"] == image
        and st.get("observedGeneration") == dep["metadata"]["generation"]
        and st.get("updatedReplicas") == st.get("availableReplicas") == st.get("replicas") == REPLICAS
    )


def test_a_rollout_rides_through_redis_each_worker_and_daphne_being_killed(supervised):
    stack, said = supervised
    assert http(stack.url, "POST", DEPLOYMENTS, deployment_manifest("sturdy", REPLICAS, "nginx:1.27"))[0] == 201
    wait_until(lambda: rolled_out(stack, "sturdy", "nginx:1.27"), 60, "the first rollout")
    follower = livehelpers.Stream(stack.url)
    snapshot = follower.receive_until(lambda m: m.get("type") == "snapshot", 10, "the snapshot")
    revisions = [snapshot["revision"]]

    status, _ = http(stack.url, "PUT", "/k8s/demo/podflow/v1/speed", {"speed": "normal"})
    assert status == 200
    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.26"}]
    done = http_patch(stack.url, f"{DEPLOYMENTS}/sturdy", patch)
    assert done == 200

    for name in ("redis", "controller-manager", "scheduler", "kubelet", "web"):
        restarts = said.count(f"{name} started again")
        crash(stack, name)
        wait_until(lambda: said.count(f"{name} started again") > restarts, 30, f"{name} to be started again")
        if name == "web":
            follower.close()
            wait_until(lambda: http_ok(stack.url), 30, "daphne to answer again")
            follower = livehelpers.Stream(stack.url, since=revisions[-1])
        revisions += drain(follower)

    wait_until(lambda: rolled_out(stack, "sturdy", "nginx:1.26"), 120, "the rollout to finish after the faults", interval=0.5)
    revisions += drain(follower, until_quiet=1.0)
    follower.close()

    changes = sorted(set(revisions[1:]))
    assert changes == list(range(revisions[0] + 1, changes[-1] + 1)), "the follower missed revisions"
    log = (stack.var_dir / "logs" / "web.log").read_text(errors="replace")
    assert '" 500 ' not in log, [line for line in log.splitlines() if '" 500 ' in line][:5]
    assert any("exited with code" in line for line in said)


def http_ok(base: str) -> bool:
    try:
        return http(base, "GET", "/healthz")[0] in (200, 503)
    except OSError:
        return False


def http_patch(base: str, path: str, patch: list) -> int:
    import urllib.error
    import urllib.request

    token = livehelpers.token_for(base, "demo")
    request = urllib.request.Request(
        base + path, data=json.dumps(patch).encode(), method="PATCH",
        headers={"Content-Type": "application/json-patch+json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def drain(follower, until_quiet: float = 0.5) -> list[int]:
    """The revisions of the changes the follower has received until it has been quiet a while."""
    seen: list[int] = []
    while True:
        try:
            raw = follower.ws.recv(timeout=until_quiet)
        except TimeoutError:
            return seen
        except Exception:  # the socket closed (daphne killed): what came before counts
            return seen
        for message in livehelpers.frame_messages(json.loads(raw)):
            if message.get("type") == "change":
                seen.append(message["revision"])
