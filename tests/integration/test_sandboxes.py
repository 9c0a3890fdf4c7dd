"""Sandboxes on the real stack: two learners over real HTTP and websockets, each sealed from
the other; a reset seen live by the page's stream and by `kubectl get pods -w`; the pod
quota reached by a Deployment, as kubectl shows it."""
from __future__ import annotations

import http.cookiejar
import json
import os
import queue
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.livehelpers import deployment_manifest, frame_messages, wait_until

pytestmark = pytest.mark.integration


class Browser:
    """A learner's browser without the page: cookies, CSRF, redirects, as a browser does."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.cluster = ""

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def request(self, method: str, path: str, body: dict | None = None, *, accept: str = "application/json") -> tuple[int, bytes]:
        headers = {"Accept": accept, "Referer": self.base + "/", "X-CSRFToken": self.cookie("csrftoken")}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def open_home(self) -> str:
        with self.opener.open(self.base + "/", timeout=30) as response:
            assert response.status == 200
            self.cluster = response.url.rstrip("/").split("/")[-1]
        return self.cluster

    def follow(self, cluster: str, origin: str | None = None):
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        url = self.base.replace("http://", "ws://") + f"/ws/clusters/{cluster}/"
        return connect(url, origin=origin or self.base, additional_headers={"Cookie": cookies}, max_size=None, open_timeout=10)


def first_frame(ws) -> tuple[str, object]:
    """("message", parsed) or ("closed", code)."""
    try:
        return "message", json.loads(ws.recv(timeout=10))
    except ConnectionClosed as closed:
        return "closed", closed.rcvd.code if closed.rcvd else None


@pytest.fixture
def two_learners(live_stack):
    a, b = Browser(live_stack.url), Browser(live_stack.url)
    a.open_home()
    b.open_home()
    return a, b


def test_two_browsers_get_two_sandboxes_sealed_from_each_other(two_learners):
    a, b = two_learners
    assert a.cluster != b.cluster

    assert a.request("GET", f"/clusters/{a.cluster}/", accept="text/html")[0] == 200
    assert a.request("GET", f"/clusters/{b.cluster}/", accept="text/html")[0] == 404
    assert a.request("GET", f"/clusters/{b.cluster}/kubeconfig")[0] == 404
    assert a.request("GET", f"/k8s/{b.cluster}/api/v1/namespaces/default/pods")[0] == 401
    assert a.request("POST", f"/k8s/{b.cluster}/api/v1/namespaces/default/pods", {"metadata": {"name": "x"}})[0] == 401
    mine = a.request("GET", f"/k8s/{a.cluster}/api/v1/nodes")
    assert mine[0] == 200 and len(json.loads(mine[1])["items"]) == 3
    with a.follow(a.cluster) as ws:
        kind, message = first_frame(ws)
        assert kind == "message" and message["type"] == "snapshot"
    with a.follow(b.cluster) as ws:
        assert first_frame(ws) == ("closed", 4403)


def test_a_foreign_origin_cannot_follow_even_with_the_owners_cookie(two_learners):
    a, _ = two_learners
    with pytest.raises(Exception) as refused:
        with a.follow(a.cluster, origin="http://evil.example") as ws:
            first_frame(ws)
    assert "403" in str(refused.value)


def kubectl_for(browser: Browser, home: Path):
    if shutil.which("kubectl") is None:
        pytest.skip("no kubectl on PATH")
    status, body = browser.request("GET", f"/clusters/{browser.cluster}/kubeconfig")
    assert status == 200
    config = home / "kubeconfig"
    config.write_bytes(body)
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(home)}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(["kubectl", "--cache-dir", str(home / "cache"), *args], capture_output=True, text=True, env=env, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {done.stdout}{done.stderr}")
        return done

    run.env = env
    return run


def lines_of(proc: subprocess.Popen) -> "queue.Queue[str]":
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            out.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return out


def test_reset_is_seen_live_by_the_pages_stream_and_by_kubectl_get_pods_watch(live_stack, tmp_path):
    learner = Browser(live_stack.url)
    cluster = learner.open_home()
    learner.request("PUT", f"/k8s/{cluster}/podflow/v1/speed", {"speed": "instant"})
    kubectl = kubectl_for(learner, tmp_path)
    kubectl("run", "before-reset", "--image=nginx")
    wait_until(lambda: "Running" in kubectl("get", "pod", "before-reset", "--no-headers").stdout, 30, "the pod to run")
    watch = subprocess.Popen(
        ["kubectl", "--cache-dir", str(tmp_path / "cache"), "get", "pods", "-w", "--output-watch-events"],
        env=kubectl.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    seen: list[str] = []
    try:
        lines = lines_of(watch)
        wait_until(lambda: seen.append(lines.get(timeout=1)) or any("before-reset" in l for l in seen), 30, "the watch to list the pod")
        with learner.follow(cluster) as ws:
            snapshot = json.loads(ws.recv(timeout=10))
            assert snapshot["type"] == "snapshot"

            status, body = learner.request("POST", f"/clusters/{cluster}/reset")
            assert status == 200, body
            revision = json.loads(body)["revision"]
            assert revision > snapshot["revision"]

            changes = []

            def pod_deleted() -> bool:
                changes.extend(frame_messages(json.loads(ws.recv(timeout=10))))
                return any(m.get("change") == "DELETED" and m.get("object", {}).get("metadata", {}).get("name") == "before-reset" for m in changes)

            wait_until(pod_deleted, 30, "the stream to show the pod deleted")
            revisions = [m["revision"] for m in changes if m.get("type") == "change"]
            assert revisions == sorted(revisions) and revisions[0] > snapshot["revision"]
        wait_until(lambda: seen.append(lines.get(timeout=1)) or any(l.startswith("DELETED") and "before-reset" in l for l in seen), 30, "kubectl's watch to print DELETED")
    finally:
        watch.terminate()
        watch.wait(10)
    # The nodes are back, Ready; the pod is gone.
    nodes = kubectl("get", "nodes", "--no-headers").stdout.splitlines()
    assert [n.split()[1] for n in nodes] == ["Ready"] * 3
    assert "before-reset" not in kubectl("get", "pods").stdout + kubectl("get", "pods").stderr


def test_a_deployment_past_the_pod_quota_stops_there_with_failed_create(live_stack, tmp_path):
    learner = Browser(live_stack.url)
    cluster = learner.open_home()
    learner.request("PUT", f"/k8s/{cluster}/podflow/v1/speed", {"speed": "instant"})
    kubectl = kubectl_for(learner, tmp_path)
    status, body = learner.request("POST", f"/k8s/{cluster}/apis/apps/v1/namespaces/default/deployments", deployment_manifest("big", 400))
    assert status == 201, body

    def pods() -> int:
        return len(kubectl("get", "pods", "--no-headers").stdout.splitlines())

    wait_until(lambda: pods() >= 300, 120, "300 pods", interval=1)
    events = wait_until(lambda: (out := kubectl("get", "events", "--field-selector", "reason=FailedCreate").stdout) and "exceeded quota" in out and out, 60, "FailedCreate", interval=1)
    assert "ReplicaSet" in events or "replicaset" in events
    assert pods() == 300
    one_more = kubectl("run", "one-more", "--image=nginx", check=False)
    assert one_more.returncode == 1 and "Error from server (Forbidden)" in one_more.stderr and "exceeded quota" in one_more.stderr
    kubectl("delete", "deployment", "big", "--wait=false")
