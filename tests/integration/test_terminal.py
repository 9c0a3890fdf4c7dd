"""The page's terminal with the real kubectl and the real stack: the server runs it against
the cluster with the cluster's own kubeconfig, and its output streams back."""
from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.livehelpers import http, is_ready, token_for, wait_until

pytestmark = pytest.mark.integration

CLUSTER = "terminal"
URL = f"/k8s/{CLUSTER}/podflow/v1/kubectl"


@pytest.fixture(scope="module")
def cluster(live_stack):
    live_stack.manage("democluster", "--name", CLUSTER, "--speed", "instant")
    return live_stack.url


def run(base: str, command: str, timeout: float = 60) -> str:
    request = urllib.request.Request(
        base + URL, data=json.dumps({"command": command}).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token_for(base, CLUSTER)},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


def test_kubectl_run_and_get_pods_from_the_page(cluster):
    out = run(cluster, "kubectl run from-page --image=nginx:1.27")
    assert "pod/from-page created" in out and out.rstrip().endswith("[exit 0]")
    wait_until(lambda: is_ready(http(cluster, "GET", f"/k8s/{CLUSTER}/api/v1/namespaces/default/pods/from-page")[1]), 30, "from-page to be Ready")
    listed = run(cluster, "kubectl get pods")
    assert "NAME" in listed and "from-page" in listed and "Running" in listed


def test_kubectl_apply_reads_a_here_document(cluster):
    manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: applied\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: applied}\n  template:\n    metadata:\n      labels: {app: applied}\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:1.27\n"
    out = run(cluster, f"kubectl apply -f - <<EOF\n{manifest}EOF")
    assert "deployment.apps/applied created" in out and out.rstrip().endswith("[exit 0]")
    again = run(cluster, f"cat <<'EOF' | kubectl apply -f -\n{manifest.replace('replicas: 2', 'replicas: 3')}EOF")
    assert "deployment.apps/applied configured" in again and again.rstrip().endswith("[exit 0]")
    _, deployment = http(cluster, "GET", f"/k8s/{CLUSTER}/apis/apps/v1/namespaces/default/deployments/applied")
    assert deployment["spec"]["replicas"] == 3
    assert "kubectl.kubernetes.io/last-applied-configuration" in deployment["metadata"]["annotations"]


def test_a_failing_command_shows_kubectls_own_error_and_exit(cluster):
    out = run(cluster, "kubectl get pod nope")
    assert 'pods "nope" not found' in out and out.rstrip().endswith("[exit 1]")


def test_a_watch_streams_until_the_page_stops_reading(cluster):
    # A pod of its own, so the watch has a line to print whichever tests ran before
    # (`kubectl get pods -w` prints nothing at all over an empty namespace).
    status, _ = http(cluster, "POST", f"/k8s/{CLUSTER}/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "watched"}, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    })
    assert status in (201, 409), status
    request = urllib.request.Request(
        cluster + URL, data=json.dumps({"command": "kubectl get pods -w"}).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token_for(cluster, CLUSTER)},
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as response:
        first = response.readline().decode()  # the header line arrives while kubectl still runs
        assert first.startswith("NAME"), first
    assert time.monotonic() - started < 15  # a watch does not wait for its deadline to show anything
