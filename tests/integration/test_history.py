"""Lists at an exact past revision against the live stack: the official Python client's
`resource_version_match="Exact"`, and `kubectl get --raw` with resourceVersionMatch."""
from __future__ import annotations

import json

import pytest

from tests.livehelpers import http

pytestmark = pytest.mark.integration

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

LABEL = "podflow.dev/test=history"


@pytest.fixture(scope="module")
def core(kubectl) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=str(kubectl.kubeconfig)))


def _configmap(name: str, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"podflow.dev/test": "history"}), data=data)


def _shown(listed: client.V1ConfigMapList) -> list[tuple[str, dict]]:
    return [(c.metadata.name, c.data) for c in listed.items]


def test_the_python_client_lists_configmaps_as_they_were_at_a_revision(core):
    core.create_namespaced_config_map("default", _configmap("hist-kept", v="1"))
    core.create_namespaced_config_map("default", _configmap("hist-changed", v="1"))
    core.create_namespaced_config_map("default", _configmap("hist-deleted", v="1"))
    then = core.list_namespaced_config_map("default", label_selector=LABEL)
    rv = then.metadata.resource_version
    core.patch_namespaced_config_map("hist-changed", "default", {"data": {"v": "2"}})
    core.delete_namespaced_config_map("hist-deleted", "default")
    core.create_namespaced_config_map("default", _configmap("hist-later", v="1"))

    past = core.list_namespaced_config_map("default", label_selector=LABEL, resource_version=rv, resource_version_match="Exact")
    present = core.list_namespaced_config_map("default", label_selector=LABEL, resource_version=rv, resource_version_match="NotOlderThan")

    assert past.metadata.resource_version == rv
    assert _shown(past) == _shown(then) == [("hist-changed", {"v": "1"}), ("hist-deleted", {"v": "1"}), ("hist-kept", {"v": "1"})]
    assert _shown(present) == [("hist-changed", {"v": "2"}), ("hist-kept", {"v": "1"}), ("hist-later", {"v": "1"})]
    assert int(present.metadata.resource_version) > int(rv)


def test_the_python_client_is_told_what_resource_version_match_needs(core):
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map("default", resource_version_match="Exact")

    assert err.value.status == 422
    body = json.loads(err.value.body)
    assert body["reason"] == "Invalid"
    assert body["message"] == 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided'


def test_kubectl_get_raw_lists_configmaps_at_a_revision(kubectl):
    kubectl("create", "configmap", "raw-before", "--from-literal=v=1")
    rv = json.loads(kubectl("get", "configmaps", "raw-before", "-o", "json").stdout)["metadata"]["resourceVersion"]
    kubectl("create", "configmap", "raw-after", "--from-literal=v=1")
    kubectl("patch", "configmap", "raw-before", "--type=merge", "-p", '{"data":{"v":"2"}}')

    # --raw replaces the path of the kubeconfig's server (…/k8s/demo) rather than adding to
    # it, so the raw path names the cluster's prefix itself.
    listed = json.loads(kubectl("get", "--raw", f"/k8s/demo/api/v1/namespaces/default/configmaps?resourceVersion={rv}&resourceVersionMatch=Exact").stdout)

    assert listed["metadata"]["resourceVersion"] == rv
    shown = {c["metadata"]["name"]: c["data"] for c in listed["items"]}
    assert shown["raw-before"] == {"v": "1"} and "raw-after" not in shown
    now = json.loads(kubectl("get", "configmaps", "-o", "json").stdout)
    assert {c["metadata"]["name"]: c["data"] for c in now["items"]}["raw-before"] == {"v": "2"}


def test_a_revision_the_compaction_dropped_is_expired(live_stack):
    live_stack.manage("democluster", "--name", "history-compacted", "--speed", "instant")
    live_stack.manage("compact", "history-compacted", "--keep", "2")
    collection = "/k8s/history-compacted/api/v1/namespaces/default/configmaps"

    code, body = http(live_stack.url, "GET", f"{collection}?resourceVersion=1&resourceVersionMatch=Exact")

    assert (code, body["reason"]) == (410, "Expired")
    assert body["message"].startswith("too old resource version: 1 (")
    # The revision the message names is one the history still answers.
    available = body["message"].rsplit("(", 1)[1].rstrip(")")
    code, listed = http(live_stack.url, "GET", f"{collection}?resourceVersion={available}&resourceVersionMatch=Exact")
    assert (code, listed["metadata"]["resourceVersion"]) == (200, available)
