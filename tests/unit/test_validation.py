"""Validation and defaulting, seen through the API server's create: 422 Invalid, nothing written."""
from __future__ import annotations

import pytest

from cluster.apimachinery.errors import APIError
from cluster.apiserver import store

from .manifests import counts, deployment, pod, replicaset


def refused(cluster, doc: dict) -> dict:
    """Create `doc`, expect 422 Invalid and no write; return the Status."""
    before = counts(cluster)
    with pytest.raises(APIError) as caught:
        store.create(cluster, doc)
    assert counts(cluster) == before
    status = caught.value.status()
    assert (status["code"], status["reason"], status["status"]) == (422, "Invalid", "Failure")
    return status


def fields(status: dict) -> list[str]:
    return [c["field"] for c in status["details"]["causes"]]


def with_requests(**requests) -> dict:
    doc = pod("web")
    doc["spec"]["containers"][0]["resources"] = {"requests": requests}
    return doc


def test_it_refuses_a_name_that_is_not_a_dns_subdomain(cluster):
    status = refused(cluster, pod("Bad_Name"))

    assert fields(status) == ["metadata.name"]
    assert status["message"].startswith('Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain')
    assert status["details"]["kind"] == "Pod"
    assert status["details"]["name"] == "Bad_Name"


def test_it_requires_a_name_or_generate_name(cluster):
    doc = pod("web")
    doc["metadata"] = {}

    assert fields(refused(cluster, doc)) == ["metadata.name"]


def test_it_requires_containers(cluster):
    doc = pod("web")
    doc["spec"] = {}

    status = refused(cluster, doc)

    assert status["details"]["causes"] == [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}]


def test_it_requires_an_image(cluster):
    doc = pod("web")
    del doc["spec"]["containers"][0]["image"]

    status = refused(cluster, doc)

    assert fields(status) == ["spec.containers[0].image"]
    assert status["message"] == 'Pod "web" is invalid: spec.containers[0].image: Required value'


def test_it_refuses_duplicate_container_names(cluster):
    doc = pod("web")
    doc["spec"]["containers"].append({"name": "app", "image": "redis"})

    status = refused(cluster, doc)

    assert status["details"]["causes"][0]["reason"] == "FieldValueDuplicate"
    assert fields(status) == ["spec.containers[1].name"]


def test_it_refuses_a_quantity_that_does_not_parse(cluster):
    status = refused(cluster, with_requests(cpu="abc"))

    assert fields(status) == ["spec.containers[0].resources.requests[cpu]"]
    assert 'Invalid value: "abc": quantities must match the regular expression' in status["message"]


@pytest.mark.parametrize("cpu,memory", [("500m", "128Mi"), ("1", "1.5Gi"), ("2e3", "64M"), ("250m", "1E")])
def test_it_accepts_well_formed_quantities(cluster, cpu, memory):
    created = store.create(cluster, with_requests(cpu=cpu, memory=memory))

    assert created["spec"]["containers"][0]["resources"]["requests"] == {"cpu": cpu, "memory": memory}


def test_it_refuses_a_request_above_its_limit(cluster):
    doc = with_requests(cpu="2")
    doc["spec"]["containers"][0]["resources"]["limits"] = {"cpu": "1"}

    status = refused(cluster, doc)

    assert fields(status) == ["spec.containers[0].resources.requests[cpu]"]
    assert "must be less than or equal to cpu limit of 1" in status["message"]


@pytest.mark.parametrize("resources", [{"limits": ["cpu"]}, {"requests": "cpu=1", "limits": {"cpu": "1"}}, {"requests": {"cpu": "1"}, "limits": "1"}])
def test_it_reports_malformed_resources_as_invalid_not_as_a_crash(cluster, resources):
    doc = pod("web")
    doc["spec"]["containers"][0]["resources"] = resources

    status = refused(cluster, doc)

    assert any(f.startswith("spec.containers[0].resources.") for f in fields(status))


def test_it_refuses_an_unknown_restart_policy(cluster):
    doc = pod("web")
    doc["spec"]["restartPolicy"] = "Sometimes"

    status = refused(cluster, doc)

    assert status["details"]["causes"][0]["reason"] == "FieldValueNotSupported"
    assert fields(status) == ["spec.restartPolicy"]


def test_it_refuses_negative_replicas(cluster):
    status = refused(cluster, deployment("web", replicas=-1))

    assert fields(status) == ["spec.replicas"]
    assert status["message"] == 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'


def test_it_refuses_a_selector_that_does_not_match_the_template_labels(cluster):
    doc = replicaset("web")
    doc["spec"]["selector"] = {"matchLabels": {"app": "other"}}

    status = refused(cluster, doc)

    assert fields(status) == ["spec.template.metadata.labels"]
    assert "`selector` does not match template `labels`" in status["message"]


def test_it_refuses_a_template_metadata_that_is_not_an_object(cluster):
    doc = deployment("web")
    doc["spec"]["template"]["metadata"] = "app=web"

    assert fields(refused(cluster, doc)) == ["spec.template.metadata"]


def test_it_requires_a_selector(cluster):
    doc = deployment("web")
    del doc["spec"]["selector"]

    assert fields(refused(cluster, doc)) == ["spec.selector"]


def test_it_names_every_cause_in_one_answer(cluster):
    doc = deployment("Bad_Name", replicas=-2)
    del doc["spec"]["template"]["spec"]["containers"][0]["image"]

    status = refused(cluster, doc)

    assert fields(status) == ["metadata.name", "spec.replicas", "spec.template.spec.containers[0].image"]
    assert status["message"].startswith('Deployment.apps "Bad_Name" is invalid: [metadata.name: ')


def test_it_refuses_a_bad_label_value(cluster):
    status = refused(cluster, pod("web", labels={"app": "not ok!"}))

    assert fields(status) == ["metadata.labels[app]"]


def test_it_defaults_a_pod_as_the_api_server_does(cluster):
    created = store.create(cluster, pod("web", image="nginx:1.27"))

    spec = created["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["schedulerName"]) == ("Always", "ClusterFirst", "default-scheduler")
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert created["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    with_port = pod("port") | {}
    with_port["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    assert store.create(cluster, with_port)["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_a_new_pods_status_is_the_api_servers_whatever_the_client_sent(cluster):
    # kubectl run sends `status: {}`; a client may even claim a phase.
    empty = store.create(cluster, pod("empty") | {"status": {}})
    claimed = store.create(cluster, pod("claimed") | {"status": {"phase": "Running", "podIP": "10.0.0.9"}})
    assert empty["status"] == claimed["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_it_pulls_latest_and_untagged_images_always(cluster):
    untagged = store.create(cluster, pod("a", image="nginx"))
    latest = store.create(cluster, pod("b", image="nginx:latest"))

    assert untagged["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert latest["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_it_gives_a_pod_with_equal_requests_and_limits_guaranteed_qos(cluster):
    doc = with_requests(cpu="500m", memory="128Mi")
    doc["spec"]["containers"][0]["resources"]["limits"] = {"cpu": "500m", "memory": "128Mi"}

    assert store.create(cluster, doc)["status"]["qosClass"] == "Guaranteed"
    assert store.create(cluster, with_requests(cpu="100m") | {"metadata": {"name": "burst"}})["status"]["qosClass"] == "Burstable"


def test_it_defaults_a_deployment_strategy_and_history(cluster):
    created = store.create(cluster, deployment("web"))

    spec = created["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    assert created["metadata"]["generation"] == 1


@pytest.mark.parametrize(
    "doc",
    [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "nginx"}], "tolerations": [{"key": 5, "operator": "Exists"}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "nginx"}], "tolerations": [{"key": ["a"], "operator": "Exists"}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": {"name": "x"}}, {"port": {"name": "x"}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "protocol": ["TCP"]}, {"port": 80, "protocol": ["TCP"]}]}},
    ],
)
def test_it_reports_values_of_the_wrong_type_as_causes_not_errors(cluster, doc):
    status = refused(cluster, doc)

    assert status["code"] in (400, 422), status
