"""Bad input that used to answer 500 or be stored (issue 9): Deployment validation on every
write path, oversized patches, odd JSON, and a store too busy to write (429, not 500)."""
from __future__ import annotations

import json
import sqlite3

import pytest
from django.test import Client

from cluster.apimachinery import kinds
from cluster.apiserver import store

from .manifests import counts, deployment, pod

DEPLOYMENTS = "/k8s/test/apis/apps/v1/namespaces/default/deployments"
PODS = "/k8s/test/api/v1/namespaces/default/pods"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


# --- Deployments: the same validation on create, update and patch -------------------------

INVALID_SPECS = [
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": -1, "maxUnavailable": 1}}}, "spec.strategy.rollingUpdate.maxSurge", "Invalid value: -1: must be greater than or equal to 0"),
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}, "spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: 0: may not be 0 when `maxSurge` is 0"),
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "0%", "maxUnavailable": 0}}}, "spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: 0: may not be 0 when `maxSurge` is 0"),
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "a lot", "maxUnavailable": 1}}}, "spec.strategy.rollingUpdate.maxSurge", "Invalid value: \"a lot\": a valid percent string must be a numeric string followed by an ending '%'"),
    ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "150%"}}}, "spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: \"150%\": must not be greater than 100%"),
    ({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}, "spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'"),
    ({"strategy": {"type": "Sideways"}}, "spec.strategy.type", "Unsupported value: \"Sideways\""),
    ({"revisionHistoryLimit": -1}, "spec.revisionHistoryLimit", "Invalid value: -1: must be greater than or equal to 0"),
    ({"progressDeadlineSeconds": 0}, "spec.progressDeadlineSeconds", "Invalid value: 0: must be greater than 0"),
    ({"minReadySeconds": 30, "progressDeadlineSeconds": 30}, "spec.progressDeadlineSeconds", "Invalid value: 30: must be greater than minReadySeconds"),
    ({"minReadySeconds": -1}, "spec.minReadySeconds", "Invalid value: -1: must be greater than or equal to 0"),
]


def spec_with(extra: dict) -> dict:
    doc = deployment("web")
    doc["spec"].update(json.loads(json.dumps(extra)))
    return doc


def assert_refused(response, field: str, message: str) -> None:
    assert response.status_code == 422, response.content
    body = response.json()
    assert (body["kind"], body["reason"]) == ("Status", "Invalid")
    assert any(c["field"] == field and c["message"].startswith(message) for c in body["details"]["causes"]), body


@pytest.mark.parametrize("extra, field, message", INVALID_SPECS)
def test_it_refuses_an_invalid_deployment_spec_on_create(api, cluster, extra, field, message):
    before = counts(cluster)

    response = api.post(DEPLOYMENTS, data=json.dumps(spec_with(extra)), content_type="application/json")

    assert_refused(response, field, message)
    assert counts(cluster) == before


@pytest.mark.parametrize("extra, field, message", INVALID_SPECS)
def test_it_refuses_an_invalid_deployment_spec_on_update(api, cluster, extra, field, message):
    stored = store.create(cluster, deployment("web"))
    before = counts(cluster)
    doc = spec_with(extra)
    doc["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]

    response = api.put(DEPLOYMENTS + "/web", data=json.dumps(doc), content_type="application/json")

    assert_refused(response, field, message)
    assert counts(cluster) == before


@pytest.mark.parametrize("extra, field, message", INVALID_SPECS)
def test_it_refuses_an_invalid_deployment_spec_on_patch(api, cluster, extra, field, message):
    store.create(cluster, deployment("web"))
    before = counts(cluster)

    response = api.patch(DEPLOYMENTS + "/web", data=json.dumps({"spec": extra}), content_type=MERGE)

    assert_refused(response, field, message)
    assert counts(cluster) == before


def test_it_still_accepts_the_defaults_and_a_recreate_deployment(api, cluster):
    assert api.post(DEPLOYMENTS, data=json.dumps(deployment("web")), content_type="application/json").status_code == 201
    recreate = spec_with({"strategy": {"type": "Recreate"}})
    recreate["metadata"]["name"] = "again"
    assert api.post(DEPLOYMENTS, data=json.dumps(recreate), content_type="application/json").status_code == 201
    surge_only = spec_with({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0}}})
    surge_only["metadata"]["name"] = "surge"
    assert api.post(DEPLOYMENTS, data=json.dumps(surge_only), content_type="application/json").status_code == 201


# --- patches and strings ------------------------------------------------------------------

def test_it_answers_4xx_to_a_merge_patch_nested_600_deep(api, cluster):
    store.create(cluster, pod("web"))
    before = counts(cluster)
    body = '{"metadata":{"annotations":' + '{"a":' * 600 + "1" + "}" * 600 + "}}"

    response = api.patch(PODS + "/web", data=body, content_type=MERGE)

    assert response.status_code == 400
    assert response.json()["kind"] == "Status"
    assert counts(cluster) == before


def test_it_answers_413_to_a_json_patch_of_100000_operations(api, cluster):
    store.create(cluster, pod("web"))
    before = counts(cluster)
    operations = [{"op": "remove", "path": "/a"}] * 100_000  # short ones: the body stays under 3 MiB

    response = api.patch(PODS + "/web", data=json.dumps(operations, separators=(",", ":")), content_type=JSON_PATCH)

    assert response.status_code == 413
    assert response.json()["message"] == "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 100000"
    assert counts(cluster) == before


@pytest.mark.parametrize("body", ['{"metadata":{"annotations":{"a":NaN}}}', '{"metadata":{"annotations":{"a":"x\\u0000y"}}}'])
def test_it_answers_400_to_nan_and_nul_in_a_patch(api, cluster, body):
    store.create(cluster, pod("web"))
    before = counts(cluster)

    response = api.patch(PODS + "/web", data=body, content_type=MERGE)

    assert response.status_code == 400
    assert counts(cluster) == before


def test_it_stores_a_lone_surrogate_as_go_decodes_it(api, cluster):
    doc = json.dumps(pod("web")).replace('"name": "web"', '"name": "web", "annotations": {"note": "a\\ud800b"}')

    response = api.post(PODS, data=doc, content_type="application/json")

    assert response.status_code == 201
    assert store.get(cluster, kinds.POD, "default", "web")["metadata"]["annotations"]["note"] == "a\ufffdb"


# --- a store too busy to write ------------------------------------------------------------

@pytest.fixture
def file_database(tmp_path, django_db_blocker):
    """The unit tests' in-memory database on a SQLite file instead, with a short busy
    timeout, so that another connection can hold its write lock."""
    import copy

    from django.core.management import call_command
    from django.db import connections
    from django.db.backends.sqlite3.base import DatabaseWrapper

    path = tmp_path / "busy.sqlite3"
    settings = {
        **copy.deepcopy(connections["default"].settings_dict),
        "NAME": str(path),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 0.2},
        "TEST": {},
    }
    saved = connections["default"]
    wrapper = DatabaseWrapper(settings, "default")
    connections["default"] = wrapper
    with django_db_blocker.unblock():
        try:
            call_command("migrate", verbosity=0)
            yield path
        finally:
            wrapper.close()
            connections["default"] = saved


def test_it_answers_429_with_retry_after_while_another_writer_holds_the_database(file_database, settings):
    from cluster.demo import ensure_cluster
    from cluster.models import Speed

    settings.PODFLOW_QUOTA_WRITE_BURST = 1_000_000
    cluster, _ = ensure_cluster("test", nodes=1, speed=Speed.INSTANT)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {cluster.token}")
    before = counts(cluster)
    holder = sqlite3.connect(file_database, timeout=0.2)
    try:
        holder.execute("BEGIN IMMEDIATE")

        response = api.post(PODS, data=json.dumps(pod("web")), content_type="application/json")
    finally:
        holder.rollback()
        holder.close()

    assert response.status_code == 429, response.content
    assert response["Retry-After"] == "1"
    body = response.json()
    assert (body["kind"], body["reason"], body["details"]["retryAfterSeconds"]) == ("Status", "TooManyRequests", 1)
    assert counts(cluster) == before
