"""The real kubectl against the live stack: each everyday command, output and errors."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.livehelpers import http, wait_until

pytestmark = pytest.mark.integration


def _ready(kubectl, name: str, timeout: float = 30) -> dict:
    def check():
        pod = json.loads(kubectl("get", "pod", name, "-o", "json").stdout)
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        return pod if conditions.get("Ready") == "True" else None

    return wait_until(check, timeout, f"pod {name} to be Ready", interval=0.3)


def test_it_answers_version_api_resources_and_api_versions(kubectl):
    assert "Server Version: v1.32" in kubectl("version").stdout
    resources = kubectl("api-resources").stdout
    for line in ("pods", "po", "deployments", "deploy", "replicasets", "rs", "nodes", "no", "events", "ev", "namespaces", "ns"):
        assert line in resources.split()
    assert set(kubectl("api-versions").stdout.split()) >= {"v1", "apps/v1"}


def test_it_prints_nodes_as_a_real_cluster_does(kubectl):
    out = kubectl("get", "nodes").stdout.splitlines()
    assert out[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [line.split()[:3] for line in out[1:]] == [["node-1", "Ready", "<none>"], ["node-2", "Ready", "<none>"], ["node-3", "Ready", "<none>"]]


def test_it_runs_a_pod_and_gets_it_in_every_output_format(kubectl):
    assert kubectl("run", "kweb", "--image=nginx", "--labels=app=kweb").stdout.strip() == "pod/kweb created"
    pod = _ready(kubectl, "kweb")
    table = kubectl("get", "pods", "kweb").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1].split()[:4] == ["kweb", "1/1", "Running", "0"]
    wide = kubectl("get", "pods", "kweb", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert wide[1].split()[5] == pod["status"]["podIP"] and wide[1].split()[6] == pod["spec"]["nodeName"]
    assert "kind: Pod" in kubectl("get", "pod", "kweb", "-o", "yaml").stdout
    assert kubectl("get", "pods", "-l", "app=kweb", "-o", "name").stdout.split() == ["pod/kweb"]
    labels = kubectl("get", "pod", "kweb", "--show-labels").stdout
    assert "app=kweb" in labels
    everywhere = kubectl("get", "pods", "-A").stdout.splitlines()
    assert everywhere[0].split()[0] == "NAMESPACE" and any(l.split()[:2] == ["default", "kweb"] for l in everywhere)
    on_node = kubectl("get", "pods", "--field-selector", f"spec.nodeName={pod['spec']['nodeName']}", "-o", "name").stdout.split()
    assert "pod/kweb" in on_node


def test_it_prints_errors_as_a_real_cluster_does(kubectl):
    missing = kubectl("get", "pod", "nope", check=False)
    assert missing.returncode == 1 and 'Error from server (NotFound): pods "nope" not found' in missing.stderr
    kubectl("run", "twice", "--image=nginx")
    again = kubectl("run", "twice", "--image=nginx", check=False)
    assert 'Error from server (AlreadyExists): pods "twice" already exists' in again.stderr
    bad = kubectl("run", "Bad_Name", "--image=nginx", check=False)
    assert bad.returncode == 1
    assert 'The Pod "Bad_Name" is invalid' in bad.stderr and "metadata.name: Invalid value: \"Bad_Name\"" in bad.stderr


def test_it_describes_a_pod_with_its_events(kubectl):
    # busybox exits at once without a command, as a real one does: give it one that runs.
    kubectl("run", "described", "--image=busybox:1.36", "--", "sleep", "3600")
    _ready(kubectl, "described")
    out = kubectl("describe", "pod", "described").stdout
    assert "Name:" in out and "described" in out
    assert "Status:           Running" in out or "Status:       Running" in out or "Running" in out
    for reason in ("Scheduled", "Pulling", "Pulled", "Created", "Started"):
        assert reason in out, f"{reason} missing from describe:\n{out}"


def test_it_watches_a_new_pod_go_from_pending_to_running(kubectl):
    proc = subprocess.Popen(
        ["kubectl", "--cache-dir", str(kubectl.kubeconfig.parent / "cache"), "get", "pods", "-w", "-l", "watch=me"],
        env={"KUBECONFIG": str(kubectl.kubeconfig), "HOME": str(kubectl.kubeconfig.parent), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    lines: list[str] = []
    try:
        # A first pod shows the watch is open (kubectl prints nothing for an empty list).
        kubectl("run", "watchmarker", "--image=nginx", "--labels=watch=me")
        while not any(l.startswith("watchmarker") for l in lines):
            lines.append(proc.stdout.readline().strip())
        kubectl("run", "watched", "--image=nginx", "--labels=watch=me")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(l.startswith("watched ") and l.split()[2] == "Running" for l in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
    finally:
        proc.terminate()
        proc.wait(10)
    statuses = [l.split()[2] for l in lines if l.startswith("watched")]
    assert statuses[0] == "Pending" and statuses[-1] == "Running", lines
    assert "ContainerCreating" in statuses, lines


def test_it_deletes_a_pod_and_waits_for_it_to_go(kubectl):
    kubectl("run", "doomed", "--image=nginx")
    _ready(kubectl, "doomed")
    assert kubectl("delete", "pod", "doomed").stdout.strip() == 'pod "doomed" deleted'
    assert kubectl("get", "pod", "doomed", check=False).returncode == 1


def test_it_force_deletes_a_pod_at_once(kubectl):
    kubectl("run", "forced", "--image=nginx")
    _ready(kubectl, "forced")
    out = kubectl("delete", "pod", "forced", "--grace-period=0", "--force")
    assert 'pod "forced" force deleted' in out.stdout
    assert kubectl("get", "pod", "forced", check=False).returncode == 1


def test_it_shows_logs_of_a_running_container(kubectl):
    kubectl("run", "logger", "--image=nginx")
    _ready(kubectl, "logger")
    out = kubectl("logs", "logger").stdout
    assert "Configuration complete; ready for start up" in out
    missing = kubectl("logs", "nope", check=False)
    assert 'pods "nope" not found' in missing.stderr


def test_it_lists_nodes_events_and_namespaces(kubectl):
    assert kubectl("get", "namespaces").stdout.split()[:3] == ["NAME", "STATUS", "AGE"]
    kubectl("create", "namespace", "lab1")
    assert "lab1" in kubectl("get", "ns").stdout
    kubectl("run", "eventful", "--image=nginx")
    _ready(kubectl, "eventful")
    events = kubectl("get", "events").stdout.splitlines()
    assert events[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert any("pod/eventful" in e and "Successfully assigned default/eventful to node-" in e for e in events)


def test_it_cordons_and_uncordons_a_node(kubectl):
    assert "node/node-3 cordoned" in kubectl("cordon", "node-3").stdout
    try:
        line = next(l for l in kubectl("get", "nodes").stdout.splitlines() if l.startswith("node-3"))
        assert line.split()[1] == "Ready,SchedulingDisabled"
        for i in range(4):
            kubectl("run", f"avoid{i}", "--image=nginx")
        for i in range(4):
            pod = _ready(kubectl, f"avoid{i}")
            assert pod["spec"]["nodeName"] != "node-3"
    finally:
        assert "node/node-3 uncordoned" in kubectl("uncordon", "node-3").stdout
    line = next(l for l in kubectl("get", "nodes").stdout.splitlines() if l.startswith("node-3"))
    assert line.split()[1] == "Ready"


def test_it_labels_and_annotates_a_pod(kubectl):
    kubectl("run", "tagged", "--image=nginx")
    assert "pod/tagged labeled" in kubectl("label", "pod", "tagged", "tier=web").stdout
    assert "tier=web" in kubectl("get", "pod", "tagged", "--show-labels").stdout
    kubectl("label", "pod", "tagged", "tier-")
    assert "tier=web" not in kubectl("get", "pod", "tagged", "--show-labels").stdout
    assert "pod/tagged annotated" in kubectl("annotate", "pod", "tagged", "note=hello").stdout
    pod = json.loads(kubectl("get", "pod", "tagged", "-o", "json").stdout)
    assert pod["metadata"]["annotations"]["note"] == "hello"


def test_it_refuses_a_request_without_a_valid_token(live_stack, kubectl):
    import ssl
    import urllib.error
    import urllib.request

    context = ssl._create_unverified_context()
    for headers, code in (({}, 401), ({"Authorization": "Bearer wrong"}, 401)):
        request = urllib.request.Request(live_stack.api_url + "/k8s/demo/api/v1/namespaces/default/pods", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, context=context, timeout=10)
        assert err.value.code == code
        body = json.loads(err.value.read())
        assert (body["kind"], body["reason"]) == ("Status", "Unauthorized")
    live_stack.manage("democluster", "--name", "other", "--speed", "instant")
    token = next(l.split()[-1] for l in kubectl.kubeconfig.read_text().splitlines() if "token:" in l)
    request = urllib.request.Request(live_stack.api_url + "/k8s/other/api/v1/namespaces/default/pods", headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, context=context, timeout=10)
    assert err.value.code == 403 and json.loads(err.value.read())["reason"] == "Forbidden"


def _deployment_ready(kubectl, name: str, replicas: int, timeout: float = 60) -> dict:
    def check():
        d = json.loads(kubectl("get", "deployment", name, "-o", "json").stdout)
        status = d.get("status", {})
        done = status.get("readyReplicas", 0) == replicas and status.get("replicas", 0) == replicas and d["metadata"]["generation"] == status.get("observedGeneration")
        return d if done else None

    return wait_until(check, timeout, f"deployment {name} to have {replicas} ready replicas", interval=0.3)


def test_it_creates_scales_describes_and_deletes_a_deployment(kubectl):
    out = kubectl("create", "deployment", "kdep", "--image=nginx:1.27", "--replicas=3")
    assert out.stdout.strip() == "deployment.apps/kdep created"
    _deployment_ready(kubectl, "kdep", 3)
    table = kubectl("get", "deployments", "kdep").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:4] == ["kdep", "3/3", "3", "3"]
    rs = kubectl("get", "replicasets", "-l", "app=kdep").stdout.splitlines()
    assert rs[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert rs[1].split()[1:4] == ["3", "3", "3"]

    assert kubectl("scale", "deployment/kdep", "--replicas=5").stdout.strip() == "deployment.apps/kdep scaled"
    _deployment_ready(kubectl, "kdep", 5)
    described = kubectl("describe", "deployment", "kdep").stdout
    assert "Replicas:" in described and "5 desired" in described
    assert "NewReplicaSet:" in described

    everything = kubectl("get", "all").stdout
    assert "deployment.apps/kdep" in everything and "replicaset.apps/kdep-" in everything and "pod/kdep-" in everything

    assert kubectl("delete", "deployment", "kdep").stdout.strip() == 'deployment.apps "kdep" deleted'
    wait_until(lambda: "kdep" not in kubectl("get", "pods,rs").stdout, 30, "the deployment's pods and ReplicaSets to go")


def test_it_applies_manifests_patches_only_what_changed_and_reports_unchanged(kubectl, tmp_path):
    manifest = tmp_path / "app.yaml"
    pod_doc = """apiVersion: v1
kind: Pod
metadata:
  name: applied
  labels: {app: applied}
spec:
  containers:
  - name: web
    image: nginx:1.26
    ports:
    - containerPort: 80
    env:
    - {name: MODE, value: one}
"""
    dep_doc = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: applied-dep
spec:
  replicas: 2
  selector: {matchLabels: {app: applied-dep}}
  template:
    metadata: {labels: {app: applied-dep}}
    spec:
      containers:
      - {name: web, image: nginx:1.26, ports: [{containerPort: 80}]}
"""
    manifest.write_text(pod_doc + "---\n" + dep_doc)
    out = kubectl("apply", "-f", str(manifest)).stdout.splitlines()
    assert out == ["pod/applied created", "deployment.apps/applied-dep created"]
    _deployment_ready(kubectl, "applied-dep", 2)

    out = kubectl("apply", "-f", str(manifest)).stdout.splitlines()
    assert out == ["pod/applied unchanged", "deployment.apps/applied-dep unchanged"]

    manifest.write_text(pod_doc.replace("value: one", "value: two") + "---\n" + dep_doc.replace("replicas: 2", "replicas: 3"))
    out = kubectl("apply", "-f", str(manifest)).stdout.splitlines()
    assert out == ["pod/applied configured", "deployment.apps/applied-dep configured"]
    pod = json.loads(kubectl("get", "pod", "applied", "-o", "json").stdout)
    container = pod["spec"]["containers"][0]
    assert container["env"] == [{"name": "MODE", "value": "two"}]
    assert container["ports"][0]["containerPort"] == 80 and container["image"] == "nginx:1.26"
    _deployment_ready(kubectl, "applied-dep", 3)

    out = kubectl("delete", "-f", str(manifest)).stdout.splitlines()
    assert out == ['pod "applied" deleted', 'deployment.apps "applied-dep" deleted']


def test_it_applies_server_side(kubectl, tmp_path):
    manifest = tmp_path / "ssa.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ssa\nspec:\n  containers:\n  - name: web\n    image: nginx\n")
    assert kubectl("apply", "--server-side", "-f", str(manifest)).stdout.strip() == "pod/ssa serverside-applied"
    manifest.write_text(manifest.read_text().replace("  name: ssa\n", "  name: ssa\n  labels: {tier: web}\n"))
    assert kubectl("apply", "--server-side", "-f", str(manifest)).stdout.strip() == "pod/ssa serverside-applied"
    assert "tier=web" in kubectl("get", "pod", "ssa", "--show-labels").stdout


def test_it_describes_a_node_with_its_pods(kubectl):
    out = kubectl("describe", "node", "node-1").stdout
    assert "Name:               node-1" in out
    assert "Non-terminated Pods:" in out
    assert "Ready            True" in out or "Ready  " in out
    assert "NodeReady" in out and "Node node-1 status is now: NodeReady" in out


def test_it_follows_logs(kubectl):
    kubectl("run", "follower", "--image=nginx")
    _ready(kubectl, "follower")
    proc = subprocess.Popen(
        ["kubectl", "--cache-dir", str(kubectl.kubeconfig.parent / "cache"), "logs", "-f", "follower"],
        env={"KUBECONFIG": str(kubectl.kubeconfig), "HOME": str(kubectl.kubeconfig.parent), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = proc.stdout.readline()
        assert "docker-entrypoint" in first
    finally:
        proc.terminate()
        proc.wait(10)


def test_it_answers_a_watch_from_before_the_compacted_log_with_410_expired(live_stack):
    import urllib.request

    from tests.livehelpers import token_for

    live_stack.manage("democluster", "--name", "compacted", "--speed", "instant")
    live_stack.manage("compact", "compacted", "--keep", "2")
    request = urllib.request.Request(
        live_stack.url + "/k8s/compacted/api/v1/namespaces/default/pods?watch=true&resourceVersion=1",
        headers={"Authorization": "Bearer " + token_for(live_stack.url, "compacted")},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        event = json.loads(response.readline())
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    assert event["object"]["message"].startswith("too old resource version: 1 (")


def test_it_orphans_the_replicasets_and_pods_of_a_deployment_deleted_with_cascade_orphan(kubectl):
    kubectl("create", "deployment", "orph", "--image=nginx", "--replicas=2")
    _deployment_ready(kubectl, "orph", 2)

    out = kubectl("delete", "deployment", "orph", "--cascade=orphan")

    assert out.stdout.strip() == 'deployment.apps "orph" deleted'
    rs = json.loads(kubectl("get", "rs", "-l", "app=orph", "-o", "json").stdout)["items"]
    assert len(rs) == 1 and not rs[0]["metadata"].get("ownerReferences")
    pods = json.loads(kubectl("get", "pods", "-l", "app=orph", "-o", "json").stdout)["items"]
    assert len(pods) == 2 and all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)
    kubectl("delete", "rs", rs[0]["metadata"]["name"])  # now the ReplicaSet's own cascade takes the pods
    wait_until(lambda: not json.loads(kubectl("get", "pods", "-l", "app=orph", "-o", "json").stdout)["items"], 30, "the pods to go with their ReplicaSet")
