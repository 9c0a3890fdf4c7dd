"""cluster.apiserver.serializers.protobuf: Kubernetes protobuf request bodies -> the object's JSON.

The fixtures are bodies captured from the real kubectl 1.32 (see
fixtures/protobuf/README.md); each is checked against the JSON the same
command prints with `--dry-run=client -o json`.  The hand-built bodies below
use a small encoder written here, independent of the decoder.
"""
from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from cluster.apimachinery.errors import APIError
from cluster.apiserver.serializers import protobuf

FIXTURES = Path(__file__).parent / "fixtures" / "protobuf"
CAPTURED = sorted(p.stem for p in FIXTURES.glob("*.bin"))


def fixture(name: str) -> tuple[bytes, dict]:
    return (FIXTURES / f"{name}.bin").read_bytes(), json.loads((FIXTURES / f"{name}.json").read_text())


# ---------------------------------------------------------------------------
# A tiny proto2 encoder for building test bodies.
# ---------------------------------------------------------------------------

def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # negative int32/int64: ten-byte two's complement
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def vi(number: int, value: int) -> bytes:
    return key(number, 0) + varint(value)


def ld(number: int, data: bytes) -> bytes:
    return key(number, 2) + varint(len(data)) + data


def s(number: int, text: str) -> bytes:
    return ld(number, text.encode())


def m(number: int, *parts: bytes) -> bytes:
    return ld(number, b"".join(parts))


def entry(number: int, k: str, value: bytes) -> bytes:
    """A map entry whose value is already encoded as field 2."""
    return m(number, s(1, k), value)


def envelope(api_version: str, kind: str, raw: bytes, *, encoding: str = "") -> bytes:
    return b"k8s\x00" + m(1, s(1, api_version), s(2, kind)) + ld(2, raw) + s(3, encoding) + s(4, "")


def unwrap_raw(body: bytes) -> bytes:
    return protobuf.unwrap(body)[2]


def walk_unknown(name: str, buf: bytes, start: int, end: int, path: str, unknown: list[str]) -> None:
    """Record every field on the wire that the schema tables do not name."""
    schema = protobuf.MESSAGES[name]
    for number, wire, value in protobuf._iter_fields(buf, start, end):
        field = schema.get(number)
        if field is None:
            unknown.append(f"{path}#{number}")
        elif field.type in protobuf.MESSAGES and wire == 2:
            if field.is_map:
                for n2, w2, v2 in protobuf._iter_fields(buf, *value):
                    if n2 == 2 and w2 == 2:
                        walk_unknown(field.type, buf, *v2, f"{path}.{field.name}[]", unknown)
            else:
                walk_unknown(field.type, buf, *value, f"{path}.{field.name}", unknown)


# ---------------------------------------------------------------------------
# Real kubectl bodies
# ---------------------------------------------------------------------------

def test_fixtures_were_captured():
    assert {"deployment", "namespace", "service_nodeport", "configmap", "secret", "job", "cronjob"} <= set(CAPTURED)


@pytest.mark.parametrize("name", CAPTURED)
def test_captured_body_decodes_to_what_kubectl_sends_as_json(name):
    body, expected = fixture(name)
    assert body.startswith(b"k8s\x00")
    assert protobuf.decode(body) == expected


@pytest.mark.parametrize("name", CAPTURED)
def test_every_field_kubectl_writes_is_in_the_schemas(name):
    # gogo proto2 writes every non-pointer field, zero or not, so these bodies
    # exercise most field numbers of ObjectMeta, PodSpec, Container, ServiceSpec...
    body, _ = fixture(name)
    api_version, kind, raw = protobuf.unwrap(body)
    unknown: list[str] = []
    walk_unknown(protobuf.KINDS[(api_version, kind)], raw, 0, len(raw), kind, unknown)
    assert unknown == []


def test_deployment_in_detail():
    obj = protobuf.decode(fixture("deployment")[0])
    assert list(obj)[:2] == ["kind", "apiVersion"]
    assert obj["kind"] == "Deployment" and obj["apiVersion"] == "apps/v1"
    assert obj["metadata"] == {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}}
    spec = obj["spec"]
    assert spec["replicas"] == 3
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["strategy"] == {}  # type "" stripped, the struct itself kept
    container = spec["template"]["spec"]["containers"][0]
    assert container == {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}], "resources": {}}
    # zero values of non-pointer fields are gone
    assert "hostNetwork" not in spec["template"]["spec"]
    assert "generateName" not in obj["metadata"]
    assert obj["status"] == {}


def test_explicit_zero_replicas_survives():
    obj = protobuf.decode(fixture("deployment_zero")[0])
    assert obj["spec"]["replicas"] == 0


def test_secret_data_is_base64_and_type_kept():
    obj = protobuf.decode(fixture("secret")[0])
    assert obj["data"] == {"password": base64.b64encode(b"s3cret").decode()}
    docker = protobuf.decode(fixture("secret_dockercfg")[0])
    assert docker["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(docker["data"][".dockerconfigjson"]))
    assert config["auths"]["registry.example.com"]["username"] == "u"


def test_service_target_port_and_node_port():
    obj = protobuf.decode(fixture("service_nodeport")[0])
    assert obj["spec"]["type"] == "NodePort"
    assert obj["spec"]["ports"] == [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}]
    assert obj["status"] == {"loadBalancer": {}}


def test_cluster_scoped_namespace():
    assert protobuf.decode(fixture("namespace")[0]) == {
        "kind": "Namespace", "apiVersion": "v1",
        "metadata": {"name": "lab", "creationTimestamp": None}, "spec": {}, "status": {},
    }


# ---------------------------------------------------------------------------
# Hand-built bodies: the less common shapes
# ---------------------------------------------------------------------------

def quantity(text: str) -> bytes:
    return s(1, text)


POD_RAW = b"".join([
    m(1,  # metadata
      s(1, "demo"), s(2, ""), s(3, "team-a"),
      vi(7, 0),
      m(8, vi(1, 1714564800), vi(2, 123456789)),  # creationTimestamp with nanos
      vi(10, 0),  # deletionGracePeriodSeconds: pointer, explicit 0
      entry(11, "app", s(2, "demo")), entry(11, "tier", s(2, "web")),
      entry(12, "note", s(2, "")),
      m(13, s(5, "apps/v1"), s(1, "ReplicaSet"), s(3, "demo-rs"), s(4, "uid-1"), vi(6, 1)),
      s(14, "example.com/cleanup")),
    m(2,  # spec
      m(1, s(1, "scratch"), m(2, m(2))),  # volume emptyDir: {}
      m(1, s(1, "conf"), m(2, m(19, m(1, s(1, "app-config")), m(2, s(1, "k"), s(2, "k.txt")), vi(3, 0o644)))),
      m(1, s(1, "creds"), m(2, m(6, s(1, "db-secret"), vi(4, 1)))),
      m(2,  # container
        s(1, "app"), s(2, "ghcr.io/acme/app:1"),
        s(3, "/bin/app"), s(4, "--port"), s(4, "8080"),
        s(5, ""),
        m(6, s(1, "http"), vi(2, 0), vi(3, 8080), s(4, "TCP"), s(5, "")),
        m(7, s(1, "MODE"), s(2, "prod")),
        m(7, s(1, "COLOR"), m(3, m(3, m(1, s(1, "app-config")), s(2, "color")))),
        m(7, s(1, "PASSWORD"), m(3, m(4, m(1, s(1, "db-secret")), s(2, "password"), vi(3, 0)))),
        m(7, s(1, "POD_NAME"), m(3, m(1, s(1, "v1"), s(2, "metadata.name")))),
        m(8, entry(1, "cpu", m(2, quantity("500m"))), entry(1, "memory", m(2, quantity("256Mi"))),
          entry(2, "cpu", m(2, quantity("100m")))),
        m(9, s(1, "scratch"), vi(2, 0), s(3, "/tmp/scratch"), s(4, "")),
        m(9, s(1, "conf"), vi(2, 1), s(3, "/etc/app")),
        m(10, m(1, m(2, s(1, "/healthz"), m(2, vi(1, 1), s(3, "http")))), vi(2, 5), vi(3, 1), vi(4, 10), vi(5, 1), vi(6, 3)),
        m(11, m(1, m(3, m(1, vi(1, 0), vi(2, 8080)))), vi(4, 5)),
        m(12, m(2, m(4, vi(1, 5)))),
        s(13, "/dev/termination-log"), s(20, "File"), s(14, "IfNotPresent"),
        m(15, vi(2, 0), m(1, s(2, "ALL"))),
        vi(16, 0), vi(17, 0), vi(18, 0)),
      s(3, "Always"), vi(4, 30), s(6, "ClusterFirst"),
      entry(7, "disk", s(2, "ssd")),
      vi(11, 0), vi(12, 0), vi(13, 0),
      m(14, vi(2, 1000), ld(4, varint(1) + varint(2)), vi(4, 3)),  # supplementalGroups packed then unpacked
      s(19, "default-scheduler"),
      m(22, s(1, "node.kubernetes.io/not-ready"), s(2, "Exists"), s(4, "NoExecute"), vi(5, 300)),
      vi(25, -5),  # priority: negative int32, ten-byte varint
      vi(30, 1)),
    m(3, s(1, "Pending"), m(2, s(1, "PodScheduled"), s(2, "False"), m(3), m(4, vi(1, 0)))),
])

POD_JSON = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {
        "name": "demo",
        "namespace": "team-a",
        "creationTimestamp": "2024-05-01T12:00:00Z",
        "deletionGracePeriodSeconds": 0,
        "labels": {"app": "demo", "tier": "web"},
        "annotations": {"note": ""},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "demo-rs", "uid": "uid-1", "controller": True}],
        "finalizers": ["example.com/cleanup"],
    },
    "spec": {
        "volumes": [
            {"name": "scratch", "emptyDir": {}},
            {"name": "conf", "configMap": {"name": "app-config", "items": [{"key": "k", "path": "k.txt"}], "defaultMode": 420}},
            {"name": "creds", "secret": {"secretName": "db-secret", "optional": True}},
        ],
        "containers": [{
            "name": "app",
            "image": "ghcr.io/acme/app:1",
            "command": ["/bin/app"],
            "args": ["--port", "8080"],
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "env": [
                {"name": "MODE", "value": "prod"},
                {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "color"}}},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-secret", "key": "password", "optional": False}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            ],
            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m"}},
            "volumeMounts": [
                {"name": "scratch", "mountPath": "/tmp/scratch"},
                {"name": "conf", "readOnly": True, "mountPath": "/etc/app"},
            ],
            "livenessProbe": {
                "httpGet": {"path": "/healthz", "port": "http"},
                "initialDelaySeconds": 5, "timeoutSeconds": 1, "periodSeconds": 10,
                "successThreshold": 1, "failureThreshold": 3,
            },
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5},
            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
            "securityContext": {"capabilities": {"drop": ["ALL"]}, "privileged": False},
        }],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"disk": "ssd"},
        "securityContext": {"runAsUser": 1000, "supplementalGroups": [1, 2, 3]},
        "schedulerName": "default-scheduler",
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
        "priority": -5,
        "enableServiceLinks": True,
    },
    "status": {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": "1970-01-01T00:00:00Z"}],
    },
}


def test_hand_built_pod():
    assert protobuf.decode(envelope("v1", "Pod", POD_RAW)) == POD_JSON


def test_replicaset_with_rolling_fields():
    raw = m(1, s(1, "rs")) + m(2, vi(1, 2), m(2, m(2, s(1, "app"), s(2, "In"), s(3, "a"), s(3, "b"))), vi(4, 0)) + m(3, vi(1, 0), vi(3, 4))
    assert protobuf.decode(envelope("apps/v1", "ReplicaSet", raw)) == {
        "kind": "ReplicaSet", "apiVersion": "apps/v1",
        "metadata": {"name": "rs"},
        "spec": {"replicas": 2, "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}},
        "status": {"replicas": 0, "observedGeneration": 4},
    }


def test_rolling_update_int_or_string():
    strategy = m(4, s(1, "RollingUpdate"), m(2, m(1, vi(1, 1), s(3, "25%")), m(2, vi(1, 0), vi(2, 2))))
    raw = m(1, s(1, "d")) + m(2, strategy, vi(6, 10), vi(9, 600))
    spec = protobuf.decode(envelope("apps/v1", "Deployment", raw))["spec"]
    assert spec == {
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 2}},
        "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
    }


def test_configmap_binary_data_and_immutable():
    raw = m(1, s(1, "cm")) + vi(4, 1) + entry(2, "a", s(2, "x")) + entry(3, "b", ld(2, b"\x00\xff")) + entry(3, "empty", b"")
    assert protobuf.decode(envelope("v1", "ConfigMap", raw)) == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cm"}, "immutable": True,
        "data": {"a": "x"}, "binaryData": {"b": "AP8=", "empty": ""},
    }


def test_secret_string_data():
    raw = m(1, s(1, "s")) + entry(4, "user", s(2, "admin")) + s(3, "Opaque")
    assert protobuf.decode(envelope("v1", "Secret", raw)) == {
        "kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s"}, "stringData": {"user": "admin"}, "type": "Opaque",
    }


def test_cronjob_pointers():
    raw = m(1, s(1, "c")) + m(2, s(1, "@hourly"), s(8, "Etc/UTC"), vi(4, 0), vi(6, 0), m(5, m(2, vi(7, 0))))
    assert protobuf.decode(envelope("batch/v1", "CronJob", raw))["spec"] == {
        "schedule": "@hourly", "timeZone": "Etc/UTC", "suspend": False, "jobTemplate": {"spec": {"backoffLimit": 0}},
        "successfulJobsHistoryLimit": 0,
    }


def test_invalid_utf8_in_a_string_becomes_replacement_character():
    raw = m(1, ld(1, b"ab\xffc"))
    assert protobuf.decode(envelope("v1", "Namespace", raw))["metadata"]["name"] == "ab\ufffdc"


# ---------------------------------------------------------------------------
# Unknown fields
# ---------------------------------------------------------------------------

UNKNOWN_FIELDS = b"".join([
    vi(900, 7),                               # varint
    key(901, 1) + b"\x01" * 8,                # 64-bit
    ld(902, b"whatever\x00"),                 # length-delimited
    key(903, 5) + b"\x02" * 4,                # 32-bit
    key(904, 3) + vi(1, 5) + ld(2, b"x") + key(904, 4),  # group
    vi(905, -1),                              # ten-byte varint
])


def test_unknown_fields_of_every_wire_type_are_skipped():
    body, expected = fixture("deployment")
    raw = unwrap_raw(body)
    # at the top level, before and after the known fields
    assert protobuf.decode(envelope("apps/v1", "Deployment", UNKNOWN_FIELDS + raw + UNKNOWN_FIELDS)) == expected
    # inside nested messages too
    nested = m(1, s(1, "x"), UNKNOWN_FIELDS) + m(2, UNKNOWN_FIELDS, m(3, m(2, m(2, s(1, "c"), UNKNOWN_FIELDS))))
    assert protobuf.decode(envelope("apps/v1", "Deployment", nested)) == {
        "kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "x"},
        "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}},
    }


def test_unknown_envelope_fields_are_skipped():
    body, expected = fixture("configmap")
    assert protobuf.decode(body + UNKNOWN_FIELDS) == expected


# ---------------------------------------------------------------------------
# Errors: always APIError
# ---------------------------------------------------------------------------

def assert_bad(body, code=400, contains=""):
    with pytest.raises(APIError) as err:
        protobuf.decode(body)
    assert err.value.code == code, err.value.message
    assert err.value.reason == ("BadRequest" if code == 400 else "UnsupportedMediaType")
    assert contains in err.value.message
    assert err.value.status()["code"] == code
    return err.value


@pytest.mark.parametrize("body", [
    b"",
    b"k8s",
    b'{"kind":"Deployment","apiVersion":"apps/v1"}',
    b"K8S\x00" + b"\x0a\x00",
    b"\x00k8s\x00",
])
def test_not_an_envelope(body):
    assert_bad(body, contains="k8s\\x00")


def test_envelope_without_kind():
    assert_bad(b"k8s\x00", contains="no kind")
    assert_bad(b"k8s\x00" + m(1, s(1, "v1")), contains="no kind")


@pytest.mark.parametrize("api_version,kind", [
    ("apps/v1", "DaemonSet"),
    ("apps/v1beta1", "Deployment"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "Deployment"),
])
def test_unknown_kind_is_415(api_version, kind):
    err = assert_bad(envelope(api_version, kind, m(1, s(1, "x"))), code=415, contains=f"kind {api_version} {kind}")
    assert "send JSON" in err.message


def test_content_encoding_is_refused():
    raw = unwrap_raw(fixture("namespace")[0])
    assert_bad(envelope("v1", "Namespace", raw, encoding="gzip"), contains="contentEncoding")


@pytest.mark.parametrize("raw,why", [
    (key(1, 0) + varint(5), "message field sent as varint"),
    (m(1, vi(1, 3)), "string field sent as varint"),
    (m(2, s(1, "replicas")), "int32 field sent as bytes"),
    (m(1, key(8, 5) + b"\0\0\0\0"), "Time sent as fixed32"),
    (m(1, ld(1, b"") + b"\xff" * 11), "varint longer than ten bytes"),
    (b"\x80", "truncated varint"),
    (key(2, 2) + varint(50) + b"short", "length past the end"),
    (key(0, 0) + b"\x01", "field number zero"),
    (key(7, 6), "wire type 6"),
    (key(7, 7), "wire type 7"),
    (key(7, 4), "end group without start"),
    (key(7, 3) + vi(1, 1), "group never ends"),
    (key(7, 3) + key(8, 4), "mismatched end group"),
    (key(7, 1) + b"\0\0\0", "truncated fixed64"),
    (key(7, 5) + b"\0", "truncated fixed32"),
    (m(2, m(4, s(1, "RollingUpdate"), m(2, m(1, vi(1, 7))))), "IntOrString of unknown type"),
    (m(1, m(8, vi(1, 10 ** 15))), "Time out of range"),
])
def test_malformed_object(raw, why):
    assert_bad(envelope("apps/v1", "Deployment", raw), contains="malformed")


def test_deeply_nested_groups_are_refused():
    depth = 5000
    raw = key(7, 3) * depth + key(7, 4) * depth
    assert_bad(envelope("v1", "Namespace", raw), contains="malformed")


@pytest.mark.parametrize("name", ["deployment", "service_nodeport", "secret", "cronjob"])
def test_every_truncation_is_a_bad_request_or_still_whole(name):
    body, expected = fixture(name)
    raw_end = body.index(unwrap_raw(body)) + len(unwrap_raw(body))
    for cut in range(len(body)):
        truncated = body[:cut]
        if cut >= raw_end:
            # only the trailing, empty contentEncoding/contentType fields are lost
            try:
                assert protobuf.decode(truncated) == expected
            except APIError as err:  # cut in the middle of a trailing field
                assert err.code == 400
        else:
            with pytest.raises(APIError) as err:
                protobuf.decode(truncated)
            assert err.value.code == 400


def test_random_bytes_only_ever_raise_api_error():
    rng = random.Random(20240501)
    for _ in range(3000):
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80)))
        for body in (junk, b"k8s\x00" + junk):
            try:
                protobuf.decode(body)
            except APIError as err:
                assert err.code in (400, 415)


def test_random_raw_objects_only_ever_raise_api_error():
    rng = random.Random(7)
    kinds = sorted(protobuf.KINDS)
    for _ in range(3000):
        api_version, kind = rng.choice(kinds)
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 120)))
        try:
            obj = protobuf.decode(envelope(api_version, kind, junk))
        except APIError as err:
            assert err.code == 400
        else:
            assert obj["kind"] == kind
            json.dumps(obj)  # always JSON-serialisable


@pytest.mark.parametrize("name", CAPTURED)
def test_mutated_captured_bodies_only_ever_raise_api_error(name):
    body, _ = fixture(name)
    rng = random.Random(name)
    for _ in range(300):
        mutated = bytearray(body)
        for _ in range(rng.randrange(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
        try:
            obj = protobuf.decode(bytes(mutated))
        except APIError as err:
            assert err.code in (400, 415)
        else:
            json.dumps(obj)


def test_non_bytes_body_is_a_bad_request():
    assert_bad("k8s\x00")  # a str, not bytes


def test_memoryview_and_bytearray_bodies():
    body, expected = fixture("namespace")
    assert protobuf.decode(bytearray(body)) == expected
    assert protobuf.decode(memoryview(body)) == expected


# ---------------------------------------------------------------------------
# Schemas and helpers
# ---------------------------------------------------------------------------

def test_schema_spot_checks_against_generated_proto():
    # A few numbers that matter most, as in k8s.io/api and apimachinery generated.proto.
    names = lambda msg: {n: f.name for n, f in protobuf.MESSAGES[msg].items()}  # noqa: E731
    assert names("ObjectMeta")[8] == "creationTimestamp" and names("ObjectMeta")[11] == "labels"
    assert names("DeploymentSpec") == {1: "replicas", 2: "selector", 3: "template", 4: "strategy", 5: "minReadySeconds",
                                       6: "revisionHistoryLimit", 7: "paused", 9: "progressDeadlineSeconds"}
    assert names("Container")[19] == "envFrom" and names("Container")[7] == "env"
    assert names("PodSpec")[20] == "initContainers" and names("PodSpec")[2] == "containers"
    assert names("ServicePort") == {1: "name", 2: "protocol", 6: "appProtocol", 3: "port", 4: "targetPort", 5: "nodePort"}
    assert names("Secret") == {1: "metadata", 5: "immutable", 2: "data", 4: "stringData", 3: "type"}
    assert names("CronJobSpec")[8] == "timeZone"


def test_is_protobuf():
    assert protobuf.is_protobuf("application/vnd.kubernetes.protobuf")
    assert protobuf.is_protobuf("Application/VND.Kubernetes.Protobuf; charset=binary")
    assert not protobuf.is_protobuf("application/json")
    assert not protobuf.is_protobuf("application/vnd.kubernetes.protobuf;stream=watch".replace("protobuf", "protobufx"))
    assert not protobuf.is_protobuf(None)
