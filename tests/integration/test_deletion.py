"""Deletion with the real kubectl and the official Python client: namespaces, --all and -l,
--cascade=foreground|orphan, deletecollection and a watch by label selector."""
from __future__ import annotations

import json

import pytest

from tests.livehelpers import wait_until

pytestmark = pytest.mark.integration

HOLD = "podflow.dev/hold"


def _get(kubectl, *args: str) -> dict | None:
    """The object as JSON, or None once the server answers NotFound."""
    result = kubectl("get", *args, "-o", "json", check=False)
    if result.returncode != 0:
        assert "NotFound" in result.stderr, result.stderr
        return None
    return json.loads(result.stdout)


def _names(kubectl, *args: str) -> list[str]:
    return sorted(kubectl("get", *args, "-o", "name").stdout.split())


def _hold(kubectl, kind: str, name: str, namespace: str) -> None:
    kubectl("patch", kind, name, "-n", namespace, "--type=merge", "-p", json.dumps({"metadata": {"finalizers": [HOLD]}}))


def _release(kubectl, kind: str, name: str, namespace: str) -> None:
    kubectl("patch", kind, name, "-n", namespace, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')


def test_it_deletes_a_namespace_and_everything_in_it(kubectl):
    kubectl("create", "namespace", "doomed")
    kubectl("run", "p", "-n", "doomed", "--image=nginx")
    kubectl("create", "configmap", "held", "-n", "doomed", "--from-literal=a=1")
    _hold(kubectl, "configmap", "held", "doomed")

    out = kubectl("delete", "namespace", "doomed", "--wait=false").stdout
    assert out.strip() == 'namespace "doomed" deleted'

    ns = _get(kubectl, "namespace", "doomed")
    assert ns["status"]["phase"] == "Terminating" and ns["spec"]["finalizers"] == ["kubernetes"]
    assert "Terminating" in kubectl("get", "namespace", "doomed").stdout
    wait_until(lambda: _names(kubectl, "pods", "-n", "doomed") == [], 30, "the namespace's pods to go")
    refused = kubectl("run", "late", "-n", "doomed", "--image=nginx", check=False)
    assert refused.returncode == 1
    assert 'Error from server (Forbidden): pods "late" is forbidden: unable to create new content in namespace doomed because it is being terminated' in refused.stderr

    _release(kubectl, "configmap", "held", "doomed")
    wait_until(lambda: _get(kubectl, "namespace", "doomed") is None, 30, "the namespace to go")


def test_kubectl_delete_namespace_waits_until_it_is_gone(kubectl):
    kubectl("create", "namespace", "brief")
    kubectl("run", "p", "-n", "brief", "--image=nginx")
    wait_until(lambda: (_get(kubectl, "pod", "p", "-n", "brief") or {}).get("status", {}).get("hostIP"), 30, "the pod to start")

    assert kubectl("delete", "namespace", "brief").stdout.strip() == 'namespace "brief" deleted'

    assert _get(kubectl, "namespace", "brief") is None


def test_it_refuses_to_delete_the_default_namespace(kubectl):
    refused = kubectl("delete", "namespace", "default", check=False)

    assert refused.returncode == 1
    assert 'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted' in refused.stderr


def test_it_deletes_pods_by_label_and_all_of_them(kubectl):
    kubectl("create", "namespace", "bulk")
    for name, app in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        kubectl("run", name, "-n", "bulk", "--image=nginx", f"--labels=app={app}")

    out = kubectl("delete", "pods", "-n", "bulk", "-l", "app=a").stdout.splitlines()
    assert sorted(out) == ['pod "a1" deleted', 'pod "a2" deleted']
    assert _names(kubectl, "pods", "-n", "bulk") == ["pod/b1"]

    kubectl("run", "b2", "-n", "bulk", "--image=nginx", "--labels=app=b")
    out = kubectl("delete", "pods", "-n", "bulk", "--all").stdout.splitlines()
    assert sorted(out) == ['pod "b1" deleted', 'pod "b2" deleted']
    assert _names(kubectl, "pods", "-n", "bulk") == []


def test_it_deletes_a_deployment_in_the_foreground(kubectl):
    kubectl("create", "namespace", "fg")
    kubectl("create", "deployment", "web", "-n", "fg", "--image=nginx", "--replicas=2")
    wait_until(lambda: len(_names(kubectl, "pods", "-n", "fg", "-l", "app=web")) == 2, 30, "two pods")
    held, other = (name.split("/", 1)[1] for name in _names(kubectl, "pods", "-n", "fg", "-l", "app=web"))
    _hold(kubectl, "pod", held, "fg")

    kubectl("delete", "deployment", "web", "-n", "fg", "--cascade=foreground", "--wait=false")

    deployment = _get(kubectl, "deployment", "web", "-n", "fg")
    assert deployment["metadata"]["deletionTimestamp"] and "foregroundDeletion" in deployment["metadata"]["finalizers"]
    wait_until(lambda: _get(kubectl, "pod", other, "-n", "fg") is None, 30, "the unheld pod to go")
    assert "foregroundDeletion" in _get(kubectl, "deployment", "web", "-n", "fg")["metadata"]["finalizers"]
    assert _get(kubectl, "pod", held, "-n", "fg")["metadata"]["deletionTimestamp"]

    _release(kubectl, "pod", held, "fg")
    wait_until(lambda: _get(kubectl, "deployment", "web", "-n", "fg") is None, 30, "the Deployment to go once its pods are gone")
    assert _names(kubectl, "replicasets", "-n", "fg") == [] and _names(kubectl, "pods", "-n", "fg") == []


def test_cascade_orphan_keeps_the_replicaset_and_its_pods(kubectl):
    kubectl("create", "namespace", "orph")
    kubectl("create", "deployment", "web", "-n", "orph", "--image=nginx", "--replicas=2")
    wait_until(lambda: len(_names(kubectl, "pods", "-n", "orph", "-l", "app=web")) == 2, 30, "two pods")
    [rs] = _names(kubectl, "replicasets", "-n", "orph")
    pods = _names(kubectl, "pods", "-n", "orph")

    kubectl("delete", "deployment", "web", "-n", "orph", "--cascade=orphan")

    assert _get(kubectl, "deployment", "web", "-n", "orph") is None
    kept = _get(kubectl, rs, "-n", "orph")
    assert "ownerReferences" not in kept["metadata"]
    assert _names(kubectl, "pods", "-n", "orph") == pods


# --- the official Python client ------------------------------------------------------------

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

from tests.integration.test_python_client import _gone  # noqa: E402


@pytest.fixture(scope="module")
def core(kubectl) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=str(kubectl.kubeconfig)))


def _configmap(name: str, labels: dict[str, str]) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data={"k": "v"})


def test_the_python_client_deletes_a_namespace(core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pyns")))
    core.create_namespaced_config_map("pyns", _configmap("c", {"app": "x"}))

    core.delete_namespace("pyns")

    wait_until(lambda: _gone(lambda: core.read_namespace("pyns")), 30, "the namespace to go")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("c", "pyns")
    assert err.value.status == 404


def test_the_python_client_deletes_a_collection_by_label_selector(core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pycoll")))
    for name, app in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        core.create_namespaced_config_map("pycoll", _configmap(name, {"app": app}))

    core.delete_collection_namespaced_config_map("pycoll", label_selector="app=a")

    assert [c.metadata.name for c in core.list_namespaced_config_map("pycoll").items] == ["b1"]


def test_the_python_client_watches_configmaps_by_label_selector(core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pywatch")))
    core.create_namespaced_config_map("pywatch", _configmap("w1", {"app": "w"}))
    core.create_namespaced_config_map("pywatch", _configmap("other", {"app": "x"}))
    seen: list[tuple[str, str]] = []
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_config_map, "pywatch", label_selector="app=w", timeout_seconds=20):
        seen.append((event["type"], event["object"].metadata.name))
        if seen == [("ADDED", "w1")]:
            core.create_namespaced_config_map("pywatch", _configmap("not-me", {"app": "x"}))
            core.create_namespaced_config_map("pywatch", _configmap("w2", {"app": "w"}))
            core.delete_namespaced_config_map("w1", "pywatch")
        if ("DELETED", "w1") in seen:
            stream.stop()

    assert seen == [("ADDED", "w1"), ("ADDED", "w2"), ("DELETED", "w1")]
