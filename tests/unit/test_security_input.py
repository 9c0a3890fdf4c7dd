"""Hostile request bodies: each gets a 4xx Kubernetes Status, never a 500, and writes nothing.

Oversized bodies (413, kube-apiserver's 3 MiB limit), nesting past 100 levels, YAML alias
bombs, bad UTF-8, NUL characters, numbers out of range, bodies that are not an object,
unknown media types; then a fuzz loop over mutated bodies with a fixed seed.
"""
from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.test import Client
from django.urls import reverse

from cluster.apiserver.handlers import k8s
from cluster.models import Speed

from .manifests import counts, deployment, pod

PODS = "/k8s/test/api/v1/namespaces/default/pods"
WEB = PODS + "/web"
DEPLOYMENTS = "/k8s/test/apis/apps/v1/namespaces/default/deployments"
LIMIT = 3 * 1024 * 1024  # kube-apiserver's MaxRequestBodyBytes

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"

DEPLOYMENT_PROTOBUF = (Path(__file__).parent / "fixtures" / "protobuf" / "deployment.bin").read_bytes()


@pytest.fixture
def api(cluster, settings) -> Client:
    # Room for the fuzz loop under the per-cluster write rate limit.
    settings.PODFLOW_QUOTA_WRITE_BURST = 1_000_000
    settings.PODFLOW_QUOTA_WRITES_PER_SECOND = 1_000_000
    return Client(HTTP_USER_AGENT="kubectl/v1.32.4 (linux/amd64) kubernetes/abc", HTTP_AUTHORIZATION=f"Bearer {cluster.token}")


@pytest.fixture
def web(api) -> dict:
    """A pod for PUT and PATCH to aim at."""
    response = api.post(PODS, json.dumps(pod("web")), content_type=JSON)
    assert response.status_code == 201, response.content
    return response.json()


def send(api: Client, method: str, path: str, body: bytes | str, content_type: str):
    return api.generic(method, path, data=body, content_type=content_type)


def assert_status(response, code: int, reason: str) -> dict:
    assert response.status_code == code, response.content[:500]
    assert response["Content-Type"] == "application/json"
    status = json.loads(response.content)
    assert (status["kind"], status["apiVersion"], status["status"]) == ("Status", "v1", "Failure")
    assert (status["code"], status["reason"]) == (code, reason)
    return status


def refused(api: Client, cluster, method: str, path: str, body: bytes | str, content_type: str, code: int = 400, reason: str = "BadRequest") -> dict:
    """Send the body, expect the error, and check that nothing was written."""
    before = counts(cluster)
    status = assert_status(send(api, method, path, body, content_type), code, reason)
    assert counts(cluster) == before
    return status


def padded(doc: dict, size: int) -> bytes:
    """The document as JSON of exactly `size` bytes (trailing whitespace is valid JSON)."""
    text = json.dumps(doc).encode()
    return text + b" " * (size - len(text))


# --- Size -------------------------------------------------------------------------------

def test_it_answers_413_to_a_body_over_3_mib_as_the_api_server_does(api, cluster):
    status = refused(api, cluster, "POST", PODS, padded(pod("big"), LIMIT + 1), JSON, 413, "RequestEntityTooLarge")

    assert status["message"] == "Request entity too large: limit is 3145728"


def test_it_reads_a_body_of_exactly_3_mib(api, cluster):
    response = send(api, "POST", PODS, padded(pod("big"), LIMIT), JSON)

    assert response.status_code == 201
    assert response.json()["metadata"]["name"] == "big"


@pytest.mark.parametrize("method, path, content_type", [("PUT", WEB, JSON), ("PATCH", WEB, MERGE), ("PATCH", WEB, APPLY), ("POST", PODS, YAML), ("POST", DEPLOYMENTS, PROTOBUF)])
def test_it_answers_413_to_an_oversized_body_of_any_kind(api, cluster, web, method, path, content_type):
    refused(api, cluster, method, path, b"{" + b" " * LIMIT + b"}", content_type, 413, "RequestEntityTooLarge")


def test_it_answers_413_to_an_oversized_chunked_body_that_declares_no_length(cluster):
    # What daphne hands Django for `Transfer-Encoding: chunked`: the body buffered, no
    # Content-Length header.
    body_file = tempfile.SpooledTemporaryFile()
    body_file.write(padded(pod("big"), LIMIT + 1))
    body_file.seek(0)
    scope = {
        "type": "http",
        "method": "POST",
        "path": PODS,
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {cluster.token}".encode()), (b"content-type", b"application/json"), (b"host", b"testserver")],
    }
    before = counts(cluster)

    response = k8s.collection(ASGIRequest(scope, body_file), cluster="test", plural="pods", namespace="default")

    assert_status(response, 413, "RequestEntityTooLarge")
    assert counts(cluster) == before


def test_it_answers_400_to_a_content_length_that_is_not_a_number(api, cluster):
    before = counts(cluster)

    response = api.post(PODS, json.dumps(pod("web")), content_type=JSON, CONTENT_LENGTH="12abc")

    assert_status(response, 400, "BadRequest")
    assert counts(cluster) == before


def test_it_answers_a_huge_form_post_to_the_page_with_400_not_500(db):
    # Not the API: Django's own language switch, held to the same limit by
    # DATA_UPLOAD_MAX_MEMORY_SIZE, answers its RequestDataTooBig with 400.
    response = Client().post("/i18n/setlang/", data=b"language=ko&next=/&pad=" + b"x" * LIMIT, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400


def test_the_page_speed_switch_answers_413_to_a_huge_body(admin_client, cluster):
    # The page's own POST (a session, not the API's token): the same limit, the same Status.
    response = admin_client.post(reverse("cluster-speed", kwargs={"cluster": "test"}), data=padded({"speed": "slow"}, LIMIT + 1), content_type=JSON)

    assert_status(response, 413, "RequestEntityTooLarge")
    cluster.refresh_from_db()
    assert cluster.speed == Speed.INSTANT


@pytest.mark.parametrize("body", [b"[" * 10_000, b'{"speed":' * 10_000, b'{"speed":"\xff"}', b"[]", b'{"speed":1e999999}', b'{"speed":"slow"'])
def test_the_page_speed_switch_answers_400_to_a_malformed_body(admin_client, cluster, body):
    response = admin_client.post(reverse("cluster-speed", kwargs={"cluster": "test"}), data=body, content_type=JSON)

    assert_status(response, 400, "BadRequest")
    cluster.refresh_from_db()
    assert cluster.speed == Speed.INSTANT


# --- Nesting ----------------------------------------------------------------------------

def deep_json(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


DEEP = 10_000


@pytest.mark.parametrize(
    "method, path, content_type, body",
    [
        ("POST", PODS, JSON, "[" * DEEP),
        ("POST", PODS, JSON, "[" * DEEP + "]" * DEEP),
        ("POST", PODS, JSON, deep_json(DEEP)),
        ("POST", PODS, JSON, '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"deep","annotations":' + deep_json(DEEP) + "}}"),
        ("PUT", WEB, JSON, '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":' + deep_json(DEEP) + "}}"),
        ("PATCH", WEB, SMP, '{"metadata":{"labels":' + deep_json(DEEP) + "}}"),
        ("PATCH", WEB, MERGE, '{"metadata":{"labels":' + deep_json(DEEP) + "}}"),
        ("PATCH", WEB, JSON_PATCH, '[{"op":"add","path":"/metadata/labels","value":' + deep_json(DEEP) + "}]"),
        ("PATCH", WEB, APPLY, '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":' + deep_json(DEEP) + "}}"),
        ("PATCH", WEB, APPLY, "apiVersion: v1\nkind: Pod\nmetadata:\n  labels: " + "[" * DEEP + "]" * DEEP + "\n"),
        ("PATCH", WEB, APPLY, "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  " + "- " * DEEP + "x\n"),
        ("POST", PODS, YAML, "apiVersion: v1\nkind: Pod\nmetadata: " + "{a: " * DEEP + "b" + "}" * DEEP + "\n"),
    ],
)
def test_it_answers_400_to_a_body_nested_thousands_deep(api, cluster, web, method, path, content_type, body):
    status = refused(api, cluster, method, path, body, content_type)

    assert "nested more than 100 levels deep" in status["message"]  # seen before decoding, not a RecursionError caught


def test_it_answers_400_to_a_protobuf_body_nested_thousands_deep(api, cluster):
    group_start, group_end = varint(7 << 3 | 3), varint(7 << 3 | 4)  # field 7, unknown to Deployment

    refused(api, cluster, "POST", DEPLOYMENTS, envelope("apps/v1", "Deployment", group_start * DEEP + group_end * DEEP), PROTOBUF)


def test_it_still_accepts_the_deepest_objects_kubernetes_has(api, cluster):
    doc = deployment("pinned")
    doc["spec"]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-1", "node-2"]}]}]
            }
        }
    }

    response = send(api, "POST", DEPLOYMENTS, json.dumps(doc), JSON)

    assert response.status_code == 201, response.content[:500]


# --- YAML aliases -----------------------------------------------------------------------

def laughs(levels: int = 9) -> str:
    """Nine levels of ten aliases each: a billion strings once expanded, 800 bytes as sent."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def merge_key_laughs(levels: int = 9) -> str:
    """The same with `<<` merge keys, which the YAML constructor would really copy."""
    lines = ["m0: &m0 {" + ", ".join(f"k{i}: v" for i in range(10)) + "}"]
    lines += [f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 10) + "]}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "method, path, content_type, body",
    [
        ("PATCH", WEB, APPLY, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n" + laughs()),
        ("PATCH", PODS + "/bomb", APPLY, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bomb\n" + laughs()),
        ("POST", PODS, YAML, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bomb\n" + laughs()),
        ("POST", PODS, YAML, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bomb\n" + merge_key_laughs()),
        ("PATCH", WEB, APPLY, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n" + merge_key_laughs()),
    ],
)
def test_it_refuses_a_yaml_alias_bomb_at_once(api, cluster, web, method, path, content_type, body):
    started = time.monotonic()

    status = refused(api, cluster, method, path, body, content_type)

    assert "aliases" in status["message"]
    assert time.monotonic() - started < 2  # refused while reading, not after expanding


def test_it_refuses_a_yaml_alias_inside_its_own_anchor(api, cluster):
    status = refused(api, cluster, "POST", PODS, "apiVersion: v1\nkind: Pod\nmetadata: &m\n  name: loop\n  labels: *m\n", YAML)

    assert "refers to itself" in status["message"]


def test_it_still_accepts_a_manifest_that_reuses_an_anchor(api, cluster):
    manifest = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: anchored\n  labels: &labels {app: anchored}\n"
        "spec:\n  replicas: 1\n  selector:\n    matchLabels: *labels\n  template:\n    metadata:\n      labels: *labels\n"
        "    spec:\n      containers:\n      - name: app\n        image: nginx\n"
    )

    response = send(api, "POST", DEPLOYMENTS, manifest, YAML)

    assert response.status_code == 201, response.content[:500]
    assert response.json()["spec"]["selector"]["matchLabels"] == {"app": "anchored"}


# --- Encoding, NUL, numbers -------------------------------------------------------------

@pytest.mark.parametrize(
    "method, path, content_type, body",
    [
        ("POST", PODS, JSON, b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\xff\xfe"}}'),
        ("POST", PODS, JSON, json.dumps(pod("utf16")).encode("utf-16")),
        ("POST", PODS, YAML, b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: \xc3\x28\n"),
        ("PUT", WEB, JSON, b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"a":"\xed\xa0\x80"}}}'),
        ("PATCH", WEB, MERGE, b'{"metadata":{"labels":{"a":"\x80"}}}'),
        ("PATCH", WEB, APPLY, b"apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {a: \xff}\n"),
    ],
)
def test_it_answers_400_to_a_body_that_is_not_utf8(api, cluster, web, method, path, content_type, body):
    refused(api, cluster, method, path, body, content_type)


@pytest.mark.parametrize(
    "method, path, content_type, body",
    [
        ("POST", PODS, JSON, b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a\x00b"}}'),
        ("POST", PODS, JSON, b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nul","annotations":{"a":"x\\u0000y"}},"spec":{"containers":[{"name":"c","image":"i"}]}}'),
        ("POST", PODS, JSON, b'\x00{"apiVersion":"v1","kind":"Pod"}'),
        ("POST", PODS, YAML, b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\x00b\n"),
        ("POST", PODS, YAML, b'apiVersion: v1\nkind: Pod\nmetadata:\n  name: nul\n  annotations: {a: "x\\0y"}\n'),
        ("PATCH", WEB, SMP, b'{"metadata":{"labels":{"a\\u0000":"b"}}}'),
        ("POST", DEPLOYMENTS, PROTOBUF, DEPLOYMENT_PROTOBUF.replace(b"nginx:1.27", b"ngin\x00:1.27")),
    ],
)
def test_it_answers_400_to_a_nul_character(api, cluster, web, method, path, content_type, body):
    # The real API server would store it; PostgreSQL's jsonb cannot, so it is refused
    # before the write rather than failing inside it.
    refused(api, cluster, method, path, body, content_type)


def with_spec(extra: str) -> str:
    return '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"num"},"spec":{"containers":[{"name":"c","image":"i"}],' + extra + "}}"


@pytest.mark.parametrize(
    "method, path, content_type, body",
    [
        ("POST", PODS, JSON, with_spec('"terminationGracePeriodSeconds":1e999999')),
        ("POST", PODS, JSON, with_spec('"terminationGracePeriodSeconds":-1e999999')),
        ("POST", PODS, JSON, with_spec('"terminationGracePeriodSeconds":NaN')),
        ("POST", PODS, JSON, with_spec('"terminationGracePeriodSeconds":' + "9" * 5000)),
        ("POST", PODS, JSON, with_spec('"terminationGracePeriodSeconds":' + str(10**30))),
        ("POST", DEPLOYMENTS, JSON, json.dumps(deployment("many")).replace('"replicas": 3', '"replicas": ' + str(10**30))),
        ("POST", DEPLOYMENTS, YAML, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: many\nspec:\n  replicas: " + str(10**30) + "\n"),
        ("PATCH", WEB, MERGE, '{"spec":{"activeDeadlineSeconds":1e400}}'),
        ("PATCH", WEB, APPLY, "apiVersion: v1\nkind: Pod\nspec:\n  activeDeadlineSeconds: 1.0e+400\n"),
    ],
)
def test_it_answers_400_to_a_number_out_of_range(api, cluster, web, method, path, content_type, body):
    refused(api, cluster, method, path, body, content_type)


# --- Shapes and media types -------------------------------------------------------------

@pytest.mark.parametrize("body", [b"[]", b"[1,2]", b"42", b"-1.5", b'"pod"', b"null", b"true", b"{", b"not json", b'{"a":1}{"b":2}', b'{"a":1,}'])
def test_it_answers_400_to_a_json_body_that_is_not_one_object(api, cluster, body):
    refused(api, cluster, "POST", PODS, body, JSON)


@pytest.mark.parametrize("body", ["- a\n- b\n", "42\n", "just text\n", "a: 1\n---\nb: 2\n", "a: [\n", "a: !!python/object:os.system ls\n"])
def test_it_answers_400_to_a_yaml_body_that_is_not_one_object(api, cluster, body):
    refused(api, cluster, "POST", PODS, body, YAML)


@pytest.mark.parametrize("content_type", ["text/html", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/cbor"])
def test_it_answers_415_to_a_body_in_an_unknown_format(api, cluster, content_type):
    refused(api, cluster, "POST", PODS, json.dumps(pod("web")), content_type, 415, "UnsupportedMediaType")


@pytest.mark.parametrize("content_type", [JSON, YAML, "text/plain"])
def test_it_answers_415_to_a_patch_in_an_unknown_format(api, cluster, web, content_type):
    refused(api, cluster, "PATCH", WEB, '{"metadata":{"labels":{"a":"b"}}}', content_type, 415, "UnsupportedMediaType")


@pytest.mark.parametrize("length", [254, 10_000, 2 * 1024 * 1024])
def test_it_answers_422_to_a_name_that_is_too_long(api, cluster, length):
    status = refused(api, cluster, "POST", PODS, json.dumps(pod("a" * length)), JSON, 422, "Invalid")

    assert [c["field"] for c in status["details"]["causes"]] == ["metadata.name"]


# --- Fuzz -------------------------------------------------------------------------------

HOSTILE = [b"[", b"{", b"]", b"}", b'"', b"\\", b"\x00", b"\xff", b"\xc3", b":", b",", b"&a ", b"*a", b"<<: ", b"!!", b"\n- ", b"1e999", b"-", b"\\u0000", b"\\ud800"]


def mutate(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randint(1, 4)):
        where = rng.randrange(len(data) + 1)
        choice = rng.random()
        if choice < 0.3:
            data[where:where] = rng.choice(HOSTILE) * rng.choice([1, 1, 3, 200])
        elif choice < 0.5 and data:
            data[where:where + 1] = bytes([rng.randrange(256)])
        elif choice < 0.7:
            del data[where:where + rng.randint(1, 20)]
        elif choice < 0.85:
            data = data[:where]
        else:
            data[where:where] = data[rng.randrange(len(data) + 1):][:50]
    return bytes(data)


def test_it_never_answers_500_or_writes_on_an_error_to_mutated_bodies(api, cluster, web):
    targets = [
        ("POST", PODS, JSON, json.dumps(pod("fuzz")).encode()),
        ("POST", PODS, YAML, b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: fuzz\n  labels: &l {app: fuzz}\n  annotations: *l\nspec:\n  containers:\n  - {name: c, image: nginx}\n"),
        ("POST", DEPLOYMENTS, JSON, json.dumps(deployment("fuzz")).encode()),
        ("POST", DEPLOYMENTS, PROTOBUF, DEPLOYMENT_PROTOBUF),
        ("PUT", WEB, JSON, json.dumps(web).encode()),
        ("PATCH", WEB, SMP, b'{"metadata":{"labels":{"a":"b"}},"spec":{"$setElementOrder/containers":[{"name":"app"}],"containers":[{"name":"app","image":"nginx:2"}]}}'),
        ("PATCH", WEB, MERGE, b'{"metadata":{"annotations":{"a":"b","c":null}}}'),
        ("PATCH", WEB, JSON_PATCH, b'[{"op":"add","path":"/metadata/labels/x","value":"y"},{"op":"test","path":"/kind","value":"Pod"}]'),
        ("PATCH", WEB, APPLY, b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {fuzz: 'yes'}\n"),
        ("DELETE", PODS + "/nothing", JSON, b'{"propagationPolicy":"Background","gracePeriodSeconds":0}'),
    ]
    rng = random.Random(20240501)
    answered: set[int] = set()
    for _ in range(300):
        method, path, content_type, body = rng.choice(targets)
        mutated = mutate(rng, body)
        before = counts(cluster)

        response = send(api, method, path, mutated, content_type)

        case = f"{method} {path} {content_type} {mutated[:200]!r}"
        assert response.status_code < 500, case
        answered.add(response.status_code)
        if response.status_code >= 400:
            status = response.json()
            assert (status["kind"], status["code"]) == ("Status", response.status_code), case
            assert counts(cluster) == before, case
    assert 400 in answered  # the mutations did reach the decoders


# --- A small protobuf encoder, for bodies the fixtures do not have ---------------------

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, data: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + field(1, field(1, api_version.encode()) + field(2, kind.encode())) + field(2, raw)
