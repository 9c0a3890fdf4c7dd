"""ConfigMaps and Secrets at the API server, and what of a Secret the browser may see."""
from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.apiserver.serializers import tables
from web import broadcast, delta, stream

from .manifests import counts, revision

SECRETS = "/k8s/test/api/v1/namespaces/default/secrets"


def secret(name: str = "db", **body) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **body}


def configmap(name: str = "settings", **body) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **body}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def api(cluster) -> Client:
    return Client(HTTP_USER_AGENT="kubectl/v1.32.4 (linux/amd64) kubernetes/abc", HTTP_AUTHORIZATION=f"Bearer {cluster.token}")


def test_string_data_is_merged_into_data_as_base64_and_not_stored(cluster):
    created = store.create(cluster, secret(data={"user": b64("admin"), "password": b64("old")}, stringData={"password": "s3cret"}))

    assert created["data"] == {"user": b64("admin"), "password": b64("s3cret")}
    assert "stringData" not in created
    assert created["type"] == "Opaque"


def test_data_that_is_not_base64_is_refused_as_the_decoder_does(cluster, api):
    before = counts(cluster)

    response = api.post(SECRETS, data=json.dumps(secret(data={"password": "not base64!"})), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"
    assert response.json()["message"] == 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
    assert counts(cluster) == before


def test_values_must_be_strings(cluster):
    with pytest.raises(APIError) as caught:
        store.create(cluster, configmap(data={"replicas": 3}))

    assert caught.value.code == 400
    assert caught.value.message == 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string'


def test_keys_must_be_config_keys(cluster):
    with pytest.raises(APIError) as caught:
        store.create(cluster, configmap(data={"bad key": "x"}))

    assert caught.value.code == 422
    assert caught.value.causes[0].field == "data[bad key]"
    assert caught.value.causes[0].message.startswith('Invalid value: "bad key": a valid config key must consist of alphanumeric characters')


def test_a_tls_secret_needs_its_certificate_and_key(cluster):
    with pytest.raises(APIError) as caught:
        store.create(cluster, secret(type="kubernetes.io/tls", data={"tls.crt": b64("cert")}))

    assert [(c.field, c.message) for c in caught.value.causes] == [("data[tls.key]", "Required value")]


def test_an_immutable_configmap_keeps_its_data(cluster):
    store.create(cluster, configmap(data={"mode": "fast"}, immutable=True))
    changed = store.get(cluster, kinds.CONFIGMAP, "default", "settings")
    changed["data"]["mode"] = "slow"

    with pytest.raises(APIError) as caught:
        store.update(cluster, changed)

    assert [(c.field, c.message) for c in caught.value.causes] == [("data", "Forbidden: field is immutable when `immutable` is set")]


def test_configmaps_and_secrets_print_with_kubectls_columns(cluster):
    cm = store.create(cluster, configmap(data={"a": "1", "b": "2"}, binaryData={"c": b64("3")}))
    sec = store.create(cluster, secret(stringData={"password": "x"}))

    assert tables.configmap_row(cm)[:2] == ["settings", 3]
    assert tables.secret_row(sec)[:3] == ["db", "Opaque", 1]
    assert [c["name"] for c in tables.SECRET_COLUMNS] == ["Name", "Type", "Data", "Age"]
    assert [c["name"] for c in tables.CONFIGMAP_COLUMNS] == ["Name", "Data", "Age"]


def test_the_api_shows_secret_data_as_base64_as_a_real_cluster_does(cluster, api):
    store.create(cluster, secret(stringData={"password": "s3cret"}))

    assert api.get(SECRETS + "/db").json()["data"] == {"password": b64("s3cret")}


def test_the_browser_stream_never_carries_secret_values(cluster):
    at = revision(cluster)
    applied = json.dumps(secret(stringData={"password": "s3cret"}))
    store.create(cluster, secret(stringData={"password": "s3cret"}, metadata={"name": "db", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied}}))

    entries, _ = stream.entries_since("test", at)
    snapshot = stream.snapshot("test")

    [entry] = entries
    assert entry["object"]["data"] == {"password": "(6 bytes)"}
    assert json.loads(entry["object"]["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])["stringData"] == {"password": "(6 bytes)"}
    assert snapshot["secrets"][0]["data"] == {"password": "(6 bytes)"}
    for payload in (entries, snapshot):
        text = json.dumps(payload)
        assert "s3cret" not in text and b64("s3cret") not in text
    # The store itself keeps the value: only what the page is sent is redacted.
    assert store.get(cluster, kinds.SECRET, "default", "db")["data"] == {"password": b64("s3cret")}


def test_what_a_write_publishes_to_the_page_is_redacted(cluster):
    with store.locked(cluster) as outbox:
        store.create(cluster, secret(data={"token": b64("abcdef")}))
        store.mutate(cluster, kinds.SECRET, "default", "db", lambda d: d["data"].update(token=b64("xyz")), by=store.API)
        changes = list(outbox.changes)
    published = [broadcast.entry(c) for c in changes]  # what the page's stream sends after commit

    created, modified = published
    assert created["object"]["data"] == {"token": "(6 bytes)"}
    # The change goes as a patch of the page's (redacted) view: the new size, not the value.
    assert modified["patch"]["data"] == {"token": "(3 bytes)"}
    assert delta.apply(created["object"], modified["patch"])["data"] == {"token": "(3 bytes)"}
    assert b64("abcdef") not in json.dumps(published) and b64("xyz") not in json.dumps(published)
