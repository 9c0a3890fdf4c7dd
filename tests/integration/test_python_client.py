"""The official `kubernetes` Python client against the live stack."""
from __future__ import annotations

import pytest

from tests.livehelpers import wait_until

pytestmark = pytest.mark.integration

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


@pytest.fixture(scope="module")
def api_client(kubectl):
    """Configured from the same kubeconfig a learner downloads from the page."""
    return config.new_client_from_config(config_file=str(kubectl.kubeconfig))


def _pod(name: str) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": name}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx:1.27", ports=[client.V1ContainerPort(container_port=80)])]),
    )


def _ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def test_it_creates_lists_reads_patches_and_deletes_a_pod(api_client):
    core = client.CoreV1Api(api_client)
    created = core.create_namespaced_pod("default", _pod("pyweb"))
    assert created.metadata.uid and created.metadata.resource_version

    names = [p.metadata.name for p in core.list_namespaced_pod("default", label_selector="app=pyweb").items]
    assert names == ["pyweb"]
    wait_until(lambda: _ready(core.read_namespaced_pod("pyweb", "default")), 30, "pyweb to be Ready")

    patched = core.patch_namespaced_pod("pyweb", "default", {"metadata": {"labels": {"tier": "frontend"}}})
    assert patched.metadata.labels == {"app": "pyweb", "tier": "frontend"}
    assert patched.spec.containers[0].ports[0].container_port == 80

    core.delete_namespaced_pod("pyweb", "default")
    wait_until(lambda: _gone(lambda: core.read_namespaced_pod("pyweb", "default")), 30, "pyweb to be deleted")

    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("nope", "default")
    assert err.value.status == 404


def _gone(read) -> bool:
    try:
        read()
    except ApiException as err:
        return err.status == 404
    return False


def test_it_watches_a_pod_reach_running(api_client):
    core = client.CoreV1Api(api_client)
    listing = core.list_namespaced_pod("default", field_selector="metadata.name=pywatch")
    w = watch.Watch()
    core.create_namespaced_pod("default", _pod("pywatch"))
    phases = []
    for event in w.stream(core.list_namespaced_pod, "default", field_selector="metadata.name=pywatch", resource_version=listing.metadata.resource_version, timeout_seconds=30):
        phases.append((event["type"], event["object"].status.phase))
        if event["object"].status.phase == "Running" and _ready(event["object"]):
            w.stop()
    assert phases[0] == ("ADDED", "Pending")
    assert phases[-1] == ("MODIFIED", "Running")


def test_it_creates_scales_reads_and_deletes_a_deployment(api_client):
    apps = client.AppsV1Api(api_client)
    body = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="pydep"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels={"app": "pydep"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "pydep"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx")]),
            ),
        ),
    )
    apps.create_namespaced_deployment("default", body)
    wait_until(lambda: apps.read_namespaced_deployment("pydep", "default").status.ready_replicas == 2, 30, "2 ready replicas")

    apps.patch_namespaced_deployment_scale("pydep", "default", {"spec": {"replicas": 4}})
    wait_until(lambda: apps.read_namespaced_deployment("pydep", "default").status.ready_replicas == 4, 30, "4 ready replicas")
    assert [d.metadata.name for d in apps.list_namespaced_deployment("default").items if d.metadata.name == "pydep"] == ["pydep"]

    apps.patch_namespaced_deployment("pydep", "default", {"metadata": {"labels": {"team": "lab"}}})
    assert apps.read_namespaced_deployment("pydep", "default").metadata.labels == {"team": "lab"}

    apps.delete_namespaced_deployment("pydep", "default")
    core = client.CoreV1Api(api_client)
    wait_until(lambda: not core.list_namespaced_pod("default", label_selector="app=pydep").items, 30, "pydep's pods to go")
