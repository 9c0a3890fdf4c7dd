"""Containers in depth, with the real kubectl and real workers: images that do not exist,
commands that fail or finish, probes a learner switches, config that is missing, and the
resources a node has handed out."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from tests.livehelpers import wait_until

pytestmark = pytest.mark.integration

CLUSTER = "containers"


@pytest.fixture(scope="module")
def kube(live_stack, tmp_path_factory):
    """kubectl for a cluster of our own (instant speed), so others' pods do not disturb us."""
    if shutil.which("kubectl") is None:
        pytest.skip("no kubectl on PATH")
    live_stack.manage("democluster", "--name", CLUSTER, "--speed", "instant")
    home = tmp_path_factory.mktemp("kube-containers")
    config = home / "kubeconfig"
    config.write_text(live_stack.kubeconfig(CLUSTER))

    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(home)}
        result = subprocess.run(["kubectl", "--cache-dir", str(home / "cache"), *args], input=input, capture_output=True, text=True, env=env, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    return run


def row(kube, name: str) -> list[str]:
    """NAME READY STATUS RESTARTS AGE of `kubectl get pod`."""
    out = kube("get", "pod", name, "--no-headers", check=False).stdout.split()
    return out[:4] if len(out) >= 4 else ["", "", "", ""]


def status_becomes(kube, name: str, wanted: set[str], timeout: float = 30) -> list[str]:
    return wait_until(lambda: (r := row(kube, name)) and r[2] in wanted and r, timeout, f"pod {name} to show {wanted}", interval=0.2)


def test_an_image_that_does_not_exist_shows_err_image_pull_and_back_off(kube):
    kube("run", "badimage", "--image=nginx:nope")

    status_becomes(kube, "badimage", {"ErrImagePull", "ImagePullBackOff"})

    described = wait_until(lambda: (out := kube("describe", "pod", "badimage").stdout) and "Back-off pulling image" in out and out, 30, "the BackOff event")
    assert 'Failed to pull image "nginx:nope": ' in described and "docker.io/library/nginx:nope: not found" in described
    assert 'Back-off pulling image "nginx:nope"' in described
    assert re.search(r"Reason:\s+(ErrImagePull|ImagePullBackOff)", described)
    events = kube("get", "events", "--field-selector", "involvedObject.name=badimage", "-o", "json").stdout
    reasons = {e["reason"] for e in json.loads(events)["items"]}
    assert {"Pulling", "Failed", "BackOff"} <= reasons


def test_a_failing_command_ends_in_crash_loop_back_off_with_restarts(kube):
    kube("run", "crasher", "--image=busybox", "--", "sh", "-c", "exit 1")

    _, _, status, restarts = status_becomes(kube, "crasher", {"CrashLoopBackOff"})

    assert int(restarts.split()[0]) >= 1
    pod = json.loads(kube("get", "pod", "crasher", "-o", "json").stdout)
    last = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (1, "Error")
    assert "Back-off restarting failed container crasher in pod crasher_default" in kube("describe", "pod", "crasher").stdout


def test_a_finished_pod_with_restart_never_is_completed_and_a_failed_one_error(kube):
    kube("run", "once", "--image=busybox", "--restart=Never", "--", "echo", "hi")
    kube("run", "oops", "--image=busybox", "--restart=Never", "--", "false")

    assert status_becomes(kube, "once", {"Completed"})[1] == "0/1"
    assert status_becomes(kube, "oops", {"Error"})[1] == "0/1"
    phases = {p["metadata"]["name"]: p["status"]["phase"] for p in json.loads(kube("get", "pods", "-o", "json").stdout)["items"]}
    assert phases["once"] == "Succeeded" and phases["oops"] == "Failed"


PROBED = """
apiVersion: v1
kind: Pod
metadata:
  name: probed
spec:
  containers:
  - name: web
    image: nginx:1.27
    readinessProbe:
      httpGet: {path: /, port: 80}
      periodSeconds: 10
    livenessProbe:
      tcpSocket: {port: 80}
      periodSeconds: 10
"""


def test_a_learner_switches_probes_with_annotations(kube):
    kube("apply", "-f", "-", input=PROBED)
    wait_until(lambda: row(kube, "probed")[1] == "1/1", 30, "probed to be ready")

    kube("annotate", "pod", "probed", "podflow.dev/readiness=fail", "--overwrite")
    wait_until(lambda: row(kube, "probed")[1] == "0/1", 30, "probed to be unready")
    described = kube("describe", "pod", "probed").stdout
    assert "Readiness probe failed: HTTP probe failed with statuscode: 503" in described
    assert row(kube, "probed")[2] == "Running"

    kube("annotate", "pod", "probed", "podflow.dev/readiness=pass", "podflow.dev/liveness=fail", "--overwrite")
    wait_until(lambda: int(row(kube, "probed")[3].split()[0] or 0) >= 1, 30, "probed to be restarted by its liveness probe")
    assert "Container web failed liveness probe, will be restarted" in kube("describe", "pod", "probed").stdout


CONFIGURED = """
apiVersion: v1
kind: Pod
metadata:
  name: configured
spec:
  containers:
  - name: app
    image: nginx
    env:
    - name: MODE
      valueFrom:
        configMapKeyRef: {name: settings, key: mode}
"""


def test_a_missing_configmap_holds_the_pod_until_it_is_created(kube):
    kube("apply", "-f", "-", input=CONFIGURED)

    status_becomes(kube, "configured", {"CreateContainerConfigError"})
    assert 'Error: configmap "settings" not found' in kube("describe", "pod", "configured").stdout

    kube("create", "configmap", "settings", "--from-literal=mode=fast")
    wait_until(lambda: row(kube, "configured")[1:3] == ["1/1", "Running"], 30, "configured to start once its ConfigMap exists")


REQUESTING = """
apiVersion: v1
kind: Pod
metadata:
  name: requesting
spec:
  nodeName: node-3
  containers:
  - name: app
    image: nginx
    resources:
      requests: {cpu: 250m, memory: 64Mi}
      limits: {cpu: 500m, memory: 128Mi}
"""


def test_describe_node_shows_the_resources_its_pods_requested(kube):
    kube("apply", "-f", "-", input=REQUESTING)
    wait_until(lambda: row(kube, "requesting")[2] == "Running", 30, "requesting to run")

    described = kube("describe", "node", "node-3").stdout

    assert "Allocatable:" in described and "Non-terminated Pods:" in described
    assert re.search(r"default\s+requesting\s+250m \(6%\)\s+500m \(12%\)\s+64Mi \(0%\)\s+128Mi \(1%\)", described), described
    allocated = described.split("Allocated resources:", 1)[1]
    assert re.search(r"cpu\s+250m \(6%\)\s+500m \(12%\)", allocated), allocated
    assert re.search(r"memory\s+64Mi \(0%\)\s+128Mi \(1%\)", allocated), allocated


def test_deleting_a_pod_that_ignores_sigterm_takes_its_grace_period(kube):
    kube("run", "sleeper", "--image=busybox", "--", "sleep", "3600")
    wait_until(lambda: row(kube, "sleeper")[2] == "Running", 30, "sleeper to run")

    # 1000 s of Kubernetes time is 10 s at instant speed: long enough to watch it terminate.
    kube("delete", "pod", "sleeper", "--grace-period=1000", "--wait=false")
    assert row(kube, "sleeper")[2] == "Terminating"
    wait_until(lambda: "Stopping container sleeper" in kube("describe", "pod", "sleeper").stdout, 10, "the Killing event")
    assert row(kube, "sleeper")[2] == "Terminating"  # sleep ignores SIGTERM: it waits out the grace period
    wait_until(lambda: kube("get", "pod", "sleeper", check=False).returncode == 1, 30, "sleeper to go after its grace period")
