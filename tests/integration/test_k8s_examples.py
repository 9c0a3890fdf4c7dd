"""kubernetes.io's own examples, run unchanged with the real kubectl in a learner's sandbox.

The manifests are those the documentation applies (tests/fixtures/k8s_examples/, each naming
its page), with the images and tags they use; the commands are the pages' commands, in their
order, with the local file in place of https://k8s.io/examples/…. The pages' wrong tags — the
Deployment page's nginx:1.161, the rolling-update tutorial's kubernetes-bootcamp:v10 — fail
as on a real cluster: ErrImagePull, then ImagePullBackOff, with containerd's "not found",
while the old pods keep serving.

Each test is a new learner: a browser opens /, gets a sandbox of its own, downloads its
kubeconfig and sets the sandbox to instant speed.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.livehelpers import is_ready, wait_until

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "k8s_examples"
NOT_FOUND = (
    'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
    'failed to resolve reference "{ref}": {ref}: not found'
)


def example(path: str) -> str:
    return str(EXAMPLES / path)


# --- a learner with a sandbox, and kubectl for it ----------------------------------------------------

class Learner:
    """A browser without the page: cookies and CSRF, as test_sandboxes' learners."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        with self.opener.open(base + "/", timeout=30) as response:
            assert response.status == 200
            self.cluster = response.url.rstrip("/").split("/")[-1]

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        csrf = next((c.value for c in self.jar if c.name == "csrftoken"), "")
        headers = {"Accept": "application/json", "Referer": self.base + "/", "X-CSRFToken": csrf}
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()


@pytest.fixture
def kube(live_stack, tmp_path):
    """kubectl for a new learner's sandbox (three Ready nodes), at instant speed."""
    if shutil.which("kubectl") is None:
        pytest.skip("no kubectl on PATH")
    learner = Learner(live_stack.url)
    status, body = learner.request("POST", f"/clusters/{learner.cluster}/speed", {"speed": "instant"})
    assert status == 200, body
    status, body = learner.request("GET", f"/clusters/{learner.cluster}/kubeconfig")
    assert status == 200, body
    config = tmp_path / "kubeconfig"
    config.write_bytes(body)
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(tmp_path)}

    def run(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        done = subprocess.run(["kubectl", "--cache-dir", str(tmp_path / "cache"), *args], capture_output=True, text=True, env=env, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    yield run
    learner.request("POST", f"/clusters/{learner.cluster}/delete")


def get(kube, *what: str) -> dict:
    return json.loads(kube("get", *what, "-o", "json").stdout)


def rows(kube, *what: str) -> list[list[str]]:
    return [line.split() for line in kube("get", *what, "--no-headers").stdout.splitlines() if line.strip()]


def rolled_out(kube, deployment: str) -> str:
    out = kube("rollout", "status", deployment, "--timeout=120s", timeout=150).stdout
    assert out.splitlines()[-1] == f'deployment "{deployment.split("/")[-1]}" successfully rolled out', out
    return out


def pods_settled(kube, selector: str, count: int, image: str, timeout: float = 90) -> list[dict]:
    """Exactly `count` pods matching `selector`, all of `image`, Ready, none terminating."""

    def check():
        pods = get(kube, "pods", "-l", selector)["items"]
        done = len(pods) == count and all(
            p["spec"]["containers"][0]["image"] == image and is_ready(p) and not p["metadata"].get("deletionTimestamp") for p in pods
        )
        return pods if done else None

    return wait_until(check, timeout, f"{count} Ready pods of {image} ({selector})", interval=0.3)


def pod_status(kube, name: str) -> str:
    found = [r for r in rows(kube, "pods") if r[0] == name]
    return found[0][2] if found else ""


def events_of(kube, name: str) -> list[tuple[str, str, str]]:
    items = get(kube, "events", "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items]


# --- Pods ------------------------------------------------------------------------------------------

def test_the_pods_page_simple_pod_pulls_nginx_1_14_2_and_runs(kube):
    # https://kubernetes.io/docs/concepts/workloads/pods/
    assert kube("apply", "-f", example("pods/simple-pod.yaml")).stdout.strip() == "pod/nginx created"

    wait_until(lambda: (r := rows(kube, "pod", "nginx")) and r[0][1:3] == ["1/1", "Running"], 60, "the nginx pod to run")
    pod = get(kube, "pod", "nginx")
    assert pod["spec"]["containers"][0]["image"] == "nginx:1.14.2"
    assert pod["status"]["phase"] == "Running" and is_ready(pod)
    reasons = [(kind, reason) for kind, reason, _ in events_of(kube, "nginx")]
    assert ("Normal", "Pulling") in reasons and ("Normal", "Pulled") in reasons and ("Normal", "Started") in reasons
    described = kube("describe", "pod", "nginx").stdout
    assert 'Pulling image "nginx:1.14.2"' in described and 'Successfully pulled image "nginx:1.14.2"' in described
    node = get(kube, "node", pod["spec"]["nodeName"])
    assert any("docker.io/library/nginx:1.14.2" in image["names"] for image in node["status"]["images"])


# --- Deployments -------------------------------------------------------------------------------------

def test_the_deployment_page_rolls_out_updates_gets_stuck_on_its_typo_and_rolls_back(kube):
    # https://kubernetes.io/docs/concepts/workloads/controllers/deployment/
    selector = "app.kubernetes.io/name=nginx"
    out = kube("apply", "-f", example("controllers/nginx-deployment.yaml"))
    assert out.stdout.strip() == "deployment.apps/nginx-deployment created"
    rolled_out(kube, "deployment/nginx-deployment")
    [deployment] = rows(kube, "deployments")
    assert deployment[:4] == ["nginx-deployment", "3/3", "3", "3"]
    [first_rs] = rows(kube, "rs")
    assert first_rs[0].startswith("nginx-deployment-") and first_rs[1:4] == ["3", "3", "3"]
    pods = pods_settled(kube, selector, 3, "nginx:1.14.2")
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in pods} == {first_rs[0].rsplit("-", 1)[1]}

    # Updating a Deployment: nginx:1.16.1.
    out = kube("set", "image", "deployment.v1.apps/nginx-deployment", "nginx=nginx:1.16.1")
    assert out.stdout.strip() == "deployment.apps/nginx-deployment image updated"
    rolled_out(kube, "deployment/nginx-deployment")
    pods_settled(kube, selector, 3, "nginx:1.16.1")
    by_name = {r[0]: r[1:4] for r in rows(kube, "rs")}
    assert by_name[first_rs[0]] == ["0", "0", "0"] and sorted(by_name.values()) == [["0", "0", "0"], ["3", "3", "3"]]
    described = kube("describe", "deployments").stdout
    assert re.search(r"Replicas:\s+3 desired \| 3 updated \| 3 total \| 3 available \| 0 unavailable", described), described
    assert re.search(r"Image:\s+nginx:1\.16\.1", described)

    # Rolling back: the page's typo, nginx:1.161, gets stuck.
    out = kube("set", "image", "deployment/nginx-deployment", "nginx=nginx:1.161")
    assert out.stdout.strip() == "deployment.apps/nginx-deployment image updated"

    def stuck():
        found = [r for r in rows(kube, "pods") if r[0].startswith("nginx-deployment-")]
        pulling = [r for r in found if r[1] == "0/1" and r[2] in ("ErrImagePull", "ImagePullBackOff")]
        running = [r for r in found if r[1:3] == ["1/1", "Running"]]
        dep = get(kube, "deployment", "nginx-deployment")
        counted = dep["status"].get("observedGeneration") == dep["metadata"]["generation"] and dep["status"].get("updatedReplicas") == 1
        return (pulling, running) if counted and len(pulling) == 1 and len(running) == 3 and len(found) == 4 else None

    [bad], running = wait_until(stuck, 60, "one new pod stuck pulling nginx:1.161 beside the three old ones")
    status = kube("rollout", "status", "deployment/nginx-deployment", "--timeout=5s", check=False, timeout=60)
    assert status.returncode == 1
    assert set(status.stdout.splitlines()) == {'Waiting for deployment "nginx-deployment" rollout to finish: 1 out of 3 new replicas have been updated...'}
    # Ctrl-C on the page; here the timeout (or, were the test slow, the 600 s progress deadline).
    assert ("timed out waiting for the condition" in status.stderr) or ('deployment "nginx-deployment" exceeded its progress deadline' in status.stderr), status.stderr
    assert all(get(kube, "pod", r[0])["spec"]["containers"][0]["image"] == "nginx:1.16.1" for r in running)
    wait_until(lambda: pod_status(kube, bad[0]) == "ImagePullBackOff", 60, "the kubelet to back off pulling")
    new_rs = {r[0]: r[1:4] for r in rows(kube, "rs")}
    assert sorted(new_rs.values()) == [["0", "0", "0"], ["1", "1", "0"], ["3", "3", "3"]]
    failed = [message for kind, reason, message in events_of(kube, bad[0]) if reason == "Failed"]
    assert 'Failed to pull image "nginx:1.161": ' + NOT_FOUND.format(ref="docker.io/library/nginx:1.161") in failed
    assert "Error: ErrImagePull" in failed and "Error: ImagePullBackOff" in failed
    assert 'Back-off pulling image "nginx:1.161"' in kube("describe", "pod", bad[0]).stdout
    described = kube("describe", "deployment").stdout
    assert re.search(r"Replicas:\s+3 desired \| 1 updated \| 4 total \| 3 available \| 1 unavailable", described), described
    assert re.search(r"Image:\s+nginx:1\.161", described)
    assert re.search(r"Available\s+True\s+MinimumReplicasAvailable", described)

    # Checking rollout history, then rolling back to the previous revision.
    history = kube("rollout", "history", "deployment/nginx-deployment").stdout.splitlines()
    assert history[0].strip() == "deployment.apps/nginx-deployment" and history[1].split() == ["REVISION", "CHANGE-CAUSE"]
    assert [line.split()[0] for line in history[2:] if line.strip()] == ["1", "2", "3"]
    revision_2 = kube("rollout", "history", "deployment/nginx-deployment", "--revision=2").stdout
    assert "deployment.apps/nginx-deployment with revision #2" in revision_2 and re.search(r"Image:\s+nginx:1\.16\.1", revision_2)
    assert kube("rollout", "undo", "deployment/nginx-deployment").stdout.strip() == "deployment.apps/nginx-deployment rolled back"
    rolled_out(kube, "deployment/nginx-deployment")
    pods_settled(kube, selector, 3, "nginx:1.16.1")
    assert rows(kube, "deployment", "nginx-deployment")[0][:4] == ["nginx-deployment", "3/3", "3", "3"]
    dep = get(kube, "deployment", "nginx-deployment")
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    history = kube("rollout", "history", "deployment/nginx-deployment").stdout.splitlines()
    assert [line.split()[0] for line in history[2:] if line.strip()] == ["1", "3", "4"]

    # Scaling a Deployment.
    assert kube("scale", "deployment/nginx-deployment", "--replicas=10").stdout.strip() == "deployment.apps/nginx-deployment scaled"
    rolled_out(kube, "deployment/nginx-deployment")
    pods_settled(kube, selector, 10, "nginx:1.16.1")
    assert rows(kube, "deployment", "nginx-deployment")[0][:4] == ["nginx-deployment", "10/10", "10", "10"]


def test_the_rolling_update_tutorial_updates_bootcamp_to_v2_and_undoes_the_missing_v10(kube):
    # https://kubernetes.io/docs/tutorials/kubernetes-basics/ (deploy, scale, update)
    image = "gcr.io/google-samples/kubernetes-bootcamp:v1"
    assert kube("create", "deployment", "kubernetes-bootcamp", f"--image={image}").stdout.strip() == "deployment.apps/kubernetes-bootcamp created"
    assert kube("scale", "deployments/kubernetes-bootcamp", "--replicas=4").stdout.strip() == "deployment.apps/kubernetes-bootcamp scaled"
    rolled_out(kube, "deployments/kubernetes-bootcamp")
    pods_settled(kube, "app=kubernetes-bootcamp", 4, image)

    v2 = "docker.io/jocatalin/kubernetes-bootcamp:v2"
    kube("set", "image", "deployments/kubernetes-bootcamp", f"kubernetes-bootcamp={v2}")
    rolled_out(kube, "deployments/kubernetes-bootcamp")
    pods_settled(kube, "app=kubernetes-bootcamp", 4, v2)

    v10 = "gcr.io/google-samples/kubernetes-bootcamp:v10"
    kube("set", "image", "deployments/kubernetes-bootcamp", f"kubernetes-bootcamp={v10}")

    def stuck():
        found = rows(kube, "pods")
        pulling = [r for r in found if r[2] in ("ErrImagePull", "ImagePullBackOff")]
        return pulling if pulling and len([r for r in found if r[1:3] == ["1/1", "Running"]]) == 3 else None

    pulling = wait_until(stuck, 60, "the v10 pods to fail pulling while three v2 pods serve")
    wait_until(lambda: rows(kube, "deployments")[0][1] == "3/4", 30, "the Deployment to count 3 of 4 ready")
    described = kube("describe", "pods").stdout
    assert f'Failed to pull image "{v10}": ' + NOT_FOUND.format(ref=v10) in described
    assert all(get(kube, "pod", r[0])["spec"]["containers"][0]["image"] == v10 for r in pulling)

    assert kube("rollout", "undo", "deployments/kubernetes-bootcamp").stdout.strip() == "deployment.apps/kubernetes-bootcamp rolled back"
    rolled_out(kube, "deployments/kubernetes-bootcamp")
    pods_settled(kube, "app=kubernetes-bootcamp", 4, v2)


# --- Services ----------------------------------------------------------------------------------------

def endpoint_ips(kube, service: str) -> tuple[list[str], list[int]]:
    # The endpoints controller makes a Service's Endpoints after the Service: until then, none.
    found = kube("get", "endpoints", service, "-o", "json", check=False)
    if found.returncode != 0 and "NotFound" in found.stderr:
        return [], []
    endpoints = json.loads(found.stdout)
    subsets = endpoints.get("subsets") or []
    ips = sorted(a["ip"] for s in subsets for a in s.get("addresses") or [])
    ports = sorted({p["port"] for s in subsets for p in s.get("ports") or []})
    return ips, ports


def test_the_service_page_named_port_reaches_its_pod(kube):
    # https://kubernetes.io/docs/concepts/services-networking/service/
    out = kube("apply", "-f", example("service/nginx-service-named-port.yaml")).stdout.splitlines()
    assert out == ["pod/nginx created", "service/nginx-service created"]
    wait_until(lambda: (r := rows(kube, "pod", "nginx")) and r[0][1:3] == ["1/1", "Running"], 60, "the nginx:stable pod to run")
    pod_ip = get(kube, "pod", "nginx")["status"]["podIP"]

    ips, ports = wait_until(lambda: (found := endpoint_ips(kube, "nginx-service")) and found[0] and found, 30, "the Service's endpoints")
    assert (ips, ports) == ([pod_ip], [80])  # targetPort http-web-svc is the pod's port 80
    described = kube("describe", "service", "nginx-service").stdout
    assert re.search(r"TargetPort:\s+http-web-svc/TCP", described) and re.search(rf"Endpoints:\s+{re.escape(pod_ip)}:80", described), described


def test_connecting_applications_with_services_exposes_my_nginx_and_follows_its_pods(kube):
    # https://kubernetes.io/docs/tutorials/services/connect-applications-service/
    assert kube("apply", "-f", example("service/networking/run-my-nginx.yaml")).stdout.strip() == "deployment.apps/my-nginx created"
    pods = pods_settled(kube, "run=my-nginx", 2, "nginx")
    wide = rows(kube, "pods", "-l", "run=my-nginx", "-o", "wide")
    assert sorted(r[5] for r in wide) == sorted(p["status"]["podIP"] for p in pods)
    columns = kube("get", "pods", "-l", "run=my-nginx", "-o", "custom-columns=POD_IP:.status.podIPs").stdout.splitlines()
    assert columns[0].strip() == "POD_IP" and sorted(c.strip() for c in columns[1:]) == sorted(f"[map[ip:{p['status']['podIP']}]]" for p in pods)

    assert kube("expose", "deployment/my-nginx").stdout.strip() == "service/my-nginx exposed"
    [svc] = rows(kube, "svc", "my-nginx")
    assert svc[1] == "ClusterIP" and svc[4] == "80/TCP"
    want = sorted(p["status"]["podIP"] for p in pods)
    wait_until(lambda: endpoint_ips(kube, "my-nginx") == (want, [80]), 30, "the Service's endpoints to be both pods")
    described = kube("describe", "svc", "my-nginx").stdout
    assert re.search(r"Selector:\s+run=my-nginx", described)
    assert re.search(r"Endpoints:\s+" + ",".join(re.escape(f"{ip}:80") for ip in want), described), described
    [slice_row] = rows(kube, "endpointslices", "-l", "kubernetes.io/service-name=my-nginx")
    assert slice_row[1:3] == ["IPv4", "80"] and sorted(slice_row[3].split(",")) == want

    # The pods made again after the Service: the endpoints follow the new ones.
    # (The page runs both on one line; here the second waits for the first to have emptied
    # the Deployment, which a real controller manager does between two kubectl commands.)
    kube("scale", "deployment", "my-nginx", "--replicas=0")
    wait_until(lambda: not rows(kube, "pods", "-l", "run=my-nginx"), 60, "my-nginx's pods to go")
    kube("scale", "deployment", "my-nginx", "--replicas=2")
    again = pods_settled(kube, "run=my-nginx", 2, "nginx")
    assert not {p["metadata"]["name"] for p in again} & {p["metadata"]["name"] for p in pods}
    now = sorted(p["status"]["podIP"] for p in again)
    wait_until(lambda: endpoint_ips(kube, "my-nginx") == (now, [80]), 30, "the endpoints to follow the new pods")

    # What `kubectl expose` made is the tutorial's nginx-svc.yaml.
    exposed = get(kube, "svc", "my-nginx")["spec"]
    kube("delete", "svc", "my-nginx")
    assert kube("apply", "-f", example("service/networking/nginx-svc.yaml")).stdout.strip() == "service/my-nginx created"
    applied = get(kube, "svc", "my-nginx")["spec"]
    for field in ("ports", "selector", "type"):
        assert applied[field] == exposed[field], field
    wait_until(lambda: endpoint_ips(kube, "my-nginx") == (now, [80]), 30, "the applied Service's endpoints")


# --- ConfigMaps ----------------------------------------------------------------------------------------

def finished(kube, name: str, timeout: float = 60) -> dict:
    """The pod once its one container has run to the end (restartPolicy: Never)."""

    def check():
        pod = get(kube, "pod", name)
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

    return wait_until(check, timeout, f"pod {name} to finish")


def delete_pod(kube, name: str) -> None:
    kube("delete", "pod", name, "--now")
    wait_until(lambda: kube("get", "pod", name, check=False).returncode == 1, 60, f"pod {name} to go")


def test_configure_a_pod_to_use_a_configmap_runs_each_env_example(kube):
    # https://kubernetes.io/docs/tasks/configure-pod-container/configure-pod-configmap/
    # A single ConfigMap.
    out = kube("create", "configmap", "special-config", "--from-literal=special.how=very")
    assert out.stdout.strip() == "configmap/special-config created"
    assert kube("create", "-f", example("pods/pod-single-configmap-env-variable.yaml")).stdout.strip() == "pod/dapi-test-pod created"
    pod = finished(kube, "dapi-test-pod")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (pod["status"]["phase"], terminated["exitCode"], terminated["reason"]) == ("Succeeded", 0, "Completed")
    assert rows(kube, "pod", "dapi-test-pod")[0][1:3] == ["0/1", "Completed"]
    reasons = [reason for _, reason, _ in events_of(kube, "dapi-test-pod")]
    assert "Pulled" in reasons and "Created" in reasons and "Started" in reasons and "Failed" not in reasons
    assert 'Successfully pulled image "registry.k8s.io/busybox:1.27.2"' in kube("describe", "pod", "dapi-test-pod").stdout
    assert kube("logs", "dapi-test-pod").returncode == 0
    delete_pod(kube, "dapi-test-pod")

    # Multiple ConfigMaps: the page creates special-config again, which already exists.
    again = kube("create", "-f", example("configmap/configmaps.yaml"), check=False)
    assert again.returncode == 1 and "configmap/env-config created" in again.stdout
    assert 'configmaps "special-config" already exists' in again.stderr
    kube("create", "-f", example("pods/pod-multiple-configmap-env-variable.yaml"))
    assert finished(kube, "dapi-test-pod")["status"]["phase"] == "Succeeded"
    delete_pod(kube, "dapi-test-pod")

    # A key the ConfigMap does not have stops the container, in the kubelet's words.
    kube("create", "-f", example("pods/pod-configmap-env-var-valueFrom.yaml"))
    wait_until(lambda: pod_status(kube, "dapi-test-pod") == "CreateContainerConfigError", 60, "the missing key to stop the container")
    waiting = get(kube, "pod", "dapi-test-pod")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["message"] == "couldn't find key SPECIAL_LEVEL in ConfigMap default/special-config"
    delete_pod(kube, "dapi-test-pod")

    # All key-value pairs as environment variables (envFrom), from configmap-multikeys.yaml.
    kube("delete", "configmap", "special-config")
    assert kube("create", "-f", example("configmap/configmap-multikeys.yaml")).stdout.strip() == "configmap/special-config created"
    kube("create", "-f", example("pods/pod-configmap-envFrom.yaml"))
    pod = finished(kube, "dapi-test-pod")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Always"  # registry.k8s.io/busybox is :latest
    delete_pod(kube, "dapi-test-pod")

    # ConfigMap-defined variables in the Pod's command: "very charm".
    kube("create", "-f", example("pods/pod-configmap-env-var-valueFrom.yaml"))
    assert finished(kube, "dapi-test-pod")["status"]["phase"] == "Succeeded"


def test_the_configmap_page_demo_pod_runs_with_its_configmap(kube):
    # https://kubernetes.io/docs/concepts/configuration/configmap/
    assert kube("apply", "-f", example("configmap/game-demo.yaml")).stdout.strip() == "configmap/game-demo created"
    assert kube("apply", "-f", example("configmap/configure-pod.yaml")).stdout.strip() == "pod/configmap-demo-pod created"
    wait_until(lambda: (r := rows(kube, "pod", "configmap-demo-pod")) and r[0][1:3] == ["1/1", "Running"], 60, "the demo pod to run")
    data = get(kube, "configmap", "game-demo")["data"]
    assert data["player_initial_lives"] == "3" and data["game.properties"].startswith("enemy.types=aliens,monsters\n")

