"""Decode Kubernetes protobuf request bodies into the object's JSON form.

kubectl 1.32's typed clients (`kubectl create deployment`, `create namespace`,
`create service`, `create configmap`, ...) POST
`Content-Type: application/vnd.kubernetes.protobuf`.  Such a body is

    b"k8s\\x00" + runtime.Unknown{1: typeMeta{1: apiVersion, 2: kind},
                                 2: raw, 3: contentEncoding, 4: contentType}

where `raw` is the proto2 (gogo) encoding of the typed object.  This module
reads it with the standard library only, driven by per-message field tables.

Where the tables come from:

* Field numbers, names, types, repeated/map and Go pointer-ness come from
  `cluster/apiserver/serializers/protoschema.py`, a data module generated from
  the FileDescriptorProtos that the kubectl binary embeds for every k8s.io/api
  and k8s.io/apimachinery `generated.proto`.  It holds every field of every
  message reachable from the kinds in `ROOTS`.  Regenerate it with
  `python manage.py protoschema` (`--check` only compares; see
  cluster/management/commands/protoschema.py) after moving to another kubectl.
* What a descriptor cannot say about the Go struct behind a message is kept
  by hand in `GO_TAGS` (a JSON tag without `omitempty`, or `json:",inline"`)
  and `JSON_NAMES` (the rare field whose proto name is not its JSON name).
* `ROOTS` names the top-level kinds podflow decodes and their messages.

The result is what the same command sends when it speaks JSON: `decode()` of
`kubectl create deployment web --image=nginx` equals the JSON printed by
`kubectl create deployment web --image=nginx --dry-run=client -o json`.
Fields come out in declaration order, which is the Go struct's order and so
the order Go's encoding/json prints them in.

Zero-value rule (gogo proto2 writes every non-pointer field, pointer fields
only when set; Go's encoding/json drops `omitempty` zero scalars but never
drops a struct):

* A scalar (string, bytes, int, bool) that is zero ("", b"", 0, false) is
  dropped, as `omitempty` would, unless its field is a Go pointer (`ptr` in
  protoschema: it is on the wire only because it was set, so `replicas: 0`
  survives) or a Go field without `omitempty` (`req` in GO_TAGS, e.g. a
  container's `name` or a port's `containerPort`).
* A nested message that is on the wire is always kept, even when empty:
  `"resources": {}`, `"strategy": {}`, `"status": {}` and `"emptyDir": {}`
  are what Go prints too.  An `inline` message's fields are merged into its
  parent (`Volume.volumeSource`, `Probe.handler`, ...).
* `meta.v1.Time` (and `MicroTime`) sent as an empty message is the zero time:
  `null` (`"creationTimestamp": null`).  Otherwise it is the RFC 3339 UTC
  string of its seconds (`2024-05-01T12:00:00Z`); like the API server, nanos
  are not kept.
* `IntOrString` becomes an int or a string, `resource.Quantity` its string,
  `meta.v1.FieldsV1` (managedFields) the JSON document it carries, bytes
  (Secret `data`, ConfigMap `binaryData`) base64 text.
* Maps are repeated {1: key, 2: value} entries; lists and maps only appear
  when they have entries.
* Fields not in the tables (newer than the kubectl the tables were generated
  from) are skipped whatever their wire type.

Anything that is not a well-formed envelope raises `APIError` 400
BadRequest; a kind without a table raises `APIError` 415.
"""
from __future__ import annotations

import base64
import datetime as _dt
from typing import Any, Iterable, Mapping, NamedTuple

from cluster.apimachinery.errors import APIError
from cluster.apiserver.serializers import protoschema
from cluster.apiserver.serializers.patch import loads_json

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# Wire types.
_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5

_MAX_DEPTH = 100  # nesting guard for skipped groups and schema recursion


# ---------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------

# Top-level kinds: (apiVersion, kind) -> fully qualified message.  The
# generator starts from these; add a kind here, then regenerate protoschema.
ROOTS: dict[tuple[str, str], str] = {
    ("v1", "Pod"): "k8s.io.api.core.v1.Pod",
    ("v1", "Namespace"): "k8s.io.api.core.v1.Namespace",
    ("v1", "Service"): "k8s.io.api.core.v1.Service",
    ("v1", "ConfigMap"): "k8s.io.api.core.v1.ConfigMap",
    ("v1", "Secret"): "k8s.io.api.core.v1.Secret",
    ("v1", "ServiceAccount"): "k8s.io.api.core.v1.ServiceAccount",
    ("v1", "ResourceQuota"): "k8s.io.api.core.v1.ResourceQuota",
    ("apps/v1", "Deployment"): "k8s.io.api.apps.v1.Deployment",
    ("apps/v1", "ReplicaSet"): "k8s.io.api.apps.v1.ReplicaSet",
    ("batch/v1", "Job"): "k8s.io.api.batch.v1.Job",
    ("batch/v1", "CronJob"): "k8s.io.api.batch.v1.CronJob",
    ("networking.k8s.io/v1", "Ingress"): "k8s.io.api.networking.v1.Ingress",
    ("networking.k8s.io/v1", "IngressClass"): "k8s.io.api.networking.v1.IngressClass",
}

# Go struct tags a descriptor does not carry, keyed "Message.jsonName" (the
# decoder's short message names, see _short_names):
#   req     the JSON tag has no omitempty: a zero value is printed, so kept
#   inline  an embedded struct tagged json:",inline": its fields join the parent's
# Checked against kubectl's own JSON for the same objects (`kubectl run
# --overrides` and `kubectl set env --local -o json` print Go's encoding).
GO_TAGS: dict[str, str] = {
    "AWSElasticBlockStoreVolumeSource.volumeID": "req",
    "AppArmorProfile.type": "req",
    "AzureDiskVolumeSource.diskName": "req", "AzureDiskVolumeSource.diskURI": "req",
    "AzureFileVolumeSource.secretName": "req", "AzureFileVolumeSource.shareName": "req",
    "CSIVolumeSource.driver": "req",
    "CinderVolumeSource.volumeID": "req",
    "ClusterTrustBundleProjection.path": "req",
    "Condition.type": "req", "Condition.status": "req", "Condition.reason": "req", "Condition.message": "req",
    "ConfigMapEnvSource.localObjectReference": "inline",
    "ConfigMapKeySelector.localObjectReference": "inline", "ConfigMapKeySelector.key": "req",
    "ConfigMapProjection.localObjectReference": "inline",
    "ConfigMapVolumeSource.localObjectReference": "inline",
    "Container.name": "req",
    "ContainerPort.containerPort": "req",
    "ContainerResizePolicy.resourceName": "req", "ContainerResizePolicy.restartPolicy": "req",
    "ContainerStateTerminated.exitCode": "req",
    "ContainerStatus.name": "req", "ContainerStatus.ready": "req", "ContainerStatus.restartCount": "req",
    "ContainerStatus.image": "req", "ContainerStatus.imageID": "req",
    "CronJobSpec.schedule": "req",
    "DeploymentCondition.type": "req", "DeploymentCondition.status": "req",
    "DownwardAPIVolumeFile.path": "req",
    "EnvVar.name": "req",
    "EphemeralContainer.ephemeralContainerCommon": "inline",
    "EphemeralContainerCommon.name": "req",
    "FlexVolumeSource.driver": "req",
    "GCEPersistentDiskVolumeSource.pdName": "req",
    "GRPCAction.port": "req",
    "GitRepoVolumeSource.repository": "req",
    "GlusterfsVolumeSource.endpoints": "req", "GlusterfsVolumeSource.path": "req",
    "HTTPHeader.name": "req", "HTTPHeader.value": "req",
    "HostAlias.ip": "req",
    "HostIP.ip": "req",
    "HostPathVolumeSource.path": "req",
    "ISCSIVolumeSource.targetPortal": "req", "ISCSIVolumeSource.iqn": "req", "ISCSIVolumeSource.lun": "req",
    "IngressClassParametersReference.kind": "req", "IngressClassParametersReference.name": "req",
    "IngressPortStatus.port": "req", "IngressPortStatus.protocol": "req",
    "IngressRule.ingressRuleValue": "inline",
    "IngressServiceBackend.name": "req",
    "JobCondition.type": "req", "JobCondition.status": "req",
    "KeyToPath.key": "req", "KeyToPath.path": "req",
    "LabelSelectorRequirement.key": "req", "LabelSelectorRequirement.operator": "req",
    "LinuxContainerUser.uid": "req", "LinuxContainerUser.gid": "req",
    "NFSVolumeSource.server": "req", "NFSVolumeSource.path": "req",
    "NamespaceCondition.type": "req", "NamespaceCondition.status": "req",
    "NodeSelectorRequirement.key": "req", "NodeSelectorRequirement.operator": "req",
    "ObjectFieldSelector.fieldPath": "req",
    "OwnerReference.apiVersion": "req", "OwnerReference.kind": "req", "OwnerReference.name": "req",
    "OwnerReference.uid": "req",
    "PersistentVolumeClaimVolumeSource.claimName": "req",
    "PhotonPersistentDiskVolumeSource.pdID": "req",
    "PodAffinityTerm.topologyKey": "req",
    "PodCondition.type": "req", "PodCondition.status": "req",
    "PodFailurePolicyOnExitCodesRequirement.operator": "req",
    "PodFailurePolicyOnPodConditionsPattern.type": "req", "PodFailurePolicyOnPodConditionsPattern.status": "req",
    "PodFailurePolicyRule.action": "req",
    "PodIP.ip": "req",
    "PodOS.name": "req",
    "PodReadinessGate.conditionType": "req",
    "PodResourceClaim.name": "req",
    "PodResourceClaimStatus.name": "req",
    "PodSchedulingGate.name": "req",
    "PortStatus.port": "req", "PortStatus.protocol": "req",
    "PortworxVolumeSource.volumeID": "req",
    "PreferredSchedulingTerm.weight": "req",
    "Probe.handler": "inline",
    "QuobyteVolumeSource.registry": "req", "QuobyteVolumeSource.volume": "req",
    "RBDVolumeSource.image": "req",
    "ReplicaSetCondition.type": "req", "ReplicaSetCondition.status": "req",
    "ReplicaSetStatus.replicas": "req",
    "ResourceClaim.name": "req",
    "ResourceFieldSelector.resource": "req",
    "ResourceHealth.resourceID": "req",
    "ResourceStatus.name": "req",
    "ScaleIOVolumeSource.gateway": "req", "ScaleIOVolumeSource.system": "req",
    "ScopedResourceSelectorRequirement.scopeName": "req", "ScopedResourceSelectorRequirement.operator": "req",
    "SeccompProfile.type": "req",
    "SecretEnvSource.localObjectReference": "inline",
    "SecretKeySelector.localObjectReference": "inline", "SecretKeySelector.key": "req",
    "SecretProjection.localObjectReference": "inline",
    "ServiceAccountTokenProjection.path": "req",
    "ServicePort.port": "req",
    "SleepAction.seconds": "req",
    "Sysctl.name": "req", "Sysctl.value": "req",
    "TopologySpreadConstraint.maxSkew": "req", "TopologySpreadConstraint.topologyKey": "req",
    "TopologySpreadConstraint.whenUnsatisfiable": "req",
    "TypedLocalObjectReference.kind": "req", "TypedLocalObjectReference.name": "req",
    "TypedObjectReference.kind": "req", "TypedObjectReference.name": "req",
    "Volume.name": "req", "Volume.volumeSource": "inline",
    "VolumeDevice.name": "req", "VolumeDevice.devicePath": "req",
    "VolumeMount.name": "req", "VolumeMount.mountPath": "req",
    "VolumeMountStatus.name": "req", "VolumeMountStatus.mountPath": "req",
    "VsphereVirtualDiskVolumeSource.volumePath": "req",
    "WeightedPodAffinityTerm.weight": "req",
}

# Fields whose proto name differs from their Go JSON name: "Message.protoName" -> JSON name.
JSON_NAMES: dict[str, str] = {
    "IngressClassParametersReference.aPIGroup": "apiGroup",
}

_SCALARS = {"string", "bytes", "int32", "int64", "bool"}
_SPECIAL = {"Time", "IntOrString", "Quantity", "FieldsV1"}
_TAGS = {"req", "inline"}


class Field(NamedTuple):
    name: str
    type: str          # scalar, special, or message name (value type for maps)
    repeated: bool
    is_map: bool
    keep_zero: bool    # ptr or req
    inline: bool


def _short_names(full_names: Iterable[str]) -> dict[str, str]:
    """A short, unique name for each fully qualified message name.

    The last dotted part (`Pod`) when no other message shares it, otherwise as
    many trailing parts as make it unique (`core.v1.Status`, `meta.v1.Status`).
    """
    names = sorted(full_names)
    short: dict[str, str] = {}
    for full in names:
        parts = full.split(".")
        for count in range(1, len(parts) + 1):
            suffix = ".".join(parts[-count:])
            if sum(1 for other in names if other == suffix or other.endswith("." + suffix)) == 1:
                short[full] = suffix
                break
    return short


def _check_tag(key: str, tag: str, field: Field) -> None:
    """Refuse a GO_TAGS entry that does not fit its field (ValueError)."""
    single = not field.repeated and not field.is_map
    if tag not in _TAGS:
        raise ValueError(f"GO_TAGS[{key!r}]: unknown tag {tag!r}")
    if tag == "req" and not (single and field.type in _SCALARS):
        raise ValueError(f"GO_TAGS[{key!r}]: req only applies to a single scalar field")
    if tag == "inline" and not (single and field.type not in _SCALARS and field.type not in _SPECIAL):
        raise ValueError(f"GO_TAGS[{key!r}]: only a single message field can be inline")


def _build_messages(
    generated: Mapping[str, Mapping[int, tuple[str, str, bool, bool, bool]]],
    go_tags: Mapping[str, str],
    json_names: Mapping[str, str],
) -> tuple[dict[str, dict[int, Field]], dict[str, str]]:
    """The decoder's tables: generated fields plus the Go tag overlay, under short names.

    Returns (messages, aliases), aliases mapping fully qualified names to short
    ones.  Raises ValueError when the overlay names a field the generated
    schema does not have (so a regenerated schema cannot silently orphan it)
    or gives a field a tag that does not fit it.
    """
    aliases = _short_names(generated)
    unused_tags, unused_names = set(go_tags), set(json_names)
    messages: dict[str, dict[int, Field]] = {}
    for full, fields in generated.items():
        name = aliases[full]
        table: dict[int, Field] = {}
        for number, (proto_name, typ, repeated, is_map, ptr) in fields.items():
            json_name = json_names.get(f"{name}.{proto_name}", proto_name)
            key = f"{name}.{json_name}"
            tag = go_tags.get(key)
            unused_tags.discard(key)
            unused_names.discard(f"{name}.{proto_name}")
            field = Field(json_name, aliases.get(typ, typ), repeated, is_map, ptr or tag == "req", tag == "inline")
            if tag is not None:
                _check_tag(key, tag, field)
            table[number] = field
        messages[name] = table
    if unused_tags or unused_names:
        raise ValueError(f"overlay names fields protoschema does not have: {sorted(unused_tags | unused_names)}")
    for name, table in messages.items():
        for field in table.values():
            if field.type not in _SCALARS and field.type not in _SPECIAL and field.type not in messages:
                raise ValueError(f"protoschema {name}.{field.name}: unknown type {field.type}")
    return messages, aliases


def _kinds(roots: Mapping[tuple[str, str], str], aliases: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """ROOTS with each message under its short name; ValueError if protoschema lacks one."""
    kinds: dict[tuple[str, str], str] = {}
    for key, full in roots.items():
        if full not in aliases:
            raise ValueError(f"{full} is not in protoschema.py: run python manage.py protoschema")
        kinds[key] = aliases[full]
    return kinds


MESSAGES, _ALIASES = _build_messages(protoschema.MESSAGES, GO_TAGS, JSON_NAMES)

# Top-level kinds: (apiVersion, kind) -> message name in MESSAGES.
KINDS: dict[tuple[str, str], str] = _kinds(ROOTS, _ALIASES)


# ---------------------------------------------------------------------------
# Wire format
# ---------------------------------------------------------------------------

class _Malformed(Exception):
    """Internal: the bytes are not valid protobuf for the expected shape."""


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise _Malformed("truncated varint")
        b = buf[pos]
        pos += 1
        if shift == 63 and b > 1:
            raise _Malformed("varint overflows 64 bits")
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Malformed("varint longer than 10 bytes")


def _tag(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    key, pos = _varint(buf, pos, end)
    number, wire = key >> 3, key & 7
    if number == 0 or number > 0x1FFFFFFF:
        raise _Malformed(f"invalid field number {number}")
    return number, wire, pos


def _length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    n, pos = _varint(buf, pos, end)
    if n > end - pos:
        raise _Malformed("length-delimited field runs past the end of its message")
    return pos, pos + n


def _skip(buf: bytes, pos: int, end: int, wire: int, number: int, depth: int) -> int:
    if wire == _VARINT:
        return _varint(buf, pos, end)[1]
    if wire == _I64:
        if end - pos < 8:
            raise _Malformed("truncated 64-bit field")
        return pos + 8
    if wire == _I32:
        if end - pos < 4:
            raise _Malformed("truncated 32-bit field")
        return pos + 4
    if wire == _LEN:
        return _length(buf, pos, end)[1]
    if wire == _SGROUP:
        if depth > _MAX_DEPTH:
            raise _Malformed("groups nested too deeply")
        while True:
            inner, inner_wire, pos = _tag(buf, pos, end)
            if inner_wire == _EGROUP:
                if inner != number:
                    raise _Malformed("mismatched end of group")
                return pos
            pos = _skip(buf, pos, end, inner_wire, inner, depth + 1)
    if wire == _EGROUP:
        raise _Malformed("end of group without a start")
    raise _Malformed(f"invalid wire type {wire}")


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _text(data: bytes) -> str:
    # Go strings may hold any bytes; encoding/json writes invalid UTF-8 as U+FFFD.
    text = data.decode("utf-8", errors="replace")
    if "\x00" in text:
        # PostgreSQL's jsonb cannot store U+0000: refused as the JSON and YAML readers
        # refuse it (cluster.apiserver.serializers.patch._refuse_nul), rather than failing inside the write.
        raise _Malformed("strings may not contain NUL (U+0000) characters")
    return text


def _iter_fields(buf: bytes, start: int, end: int):
    """Yield (number, wire, value) with value = int for varint/fixed, (start, end) for LEN."""
    pos = start
    while pos < end:
        number, wire, pos = _tag(buf, pos, end)
        if wire == _LEN:
            s, pos = _length(buf, pos, end)
            yield number, wire, (s, pos)
        elif wire == _VARINT:
            v, pos = _varint(buf, pos, end)
            yield number, wire, v
        elif wire in (_I64, _I32):
            width = 8 if wire == _I64 else 4
            if end - pos < width:
                raise _Malformed("truncated fixed-width field")
            yield number, wire, int.from_bytes(buf[pos:pos + width], "little")
            pos += width
        else:
            pos = _skip(buf, pos, end, wire, number, 0)
            yield number, wire, None


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

def _scalar(typ: str, wire: int, value: Any, buf: bytes) -> Any:
    if typ in ("string", "bytes"):
        if wire != _LEN:
            raise _Malformed(f"{typ} field with wire type {wire}")
        data = buf[value[0]:value[1]]
        return _text(data) if typ == "string" else data
    if wire != _VARINT:
        raise _Malformed(f"{typ} field with wire type {wire}")
    if typ == "bool":
        return value != 0
    return _signed(value, 32 if typ == "int32" else 64)


def _packed(typ: str, buf: bytes, start: int, end: int) -> list[Any]:
    out = []
    pos = start
    while pos < end:
        v, pos = _varint(buf, pos, end)
        out.append(_scalar(typ, _VARINT, v, buf))
    return out


def _time(buf: bytes, start: int, end: int) -> str | None:
    if start == end:
        return None  # the zero time; Go prints null
    seconds = 0
    for number, wire, value in _iter_fields(buf, start, end):
        if number == 1:
            if wire != _VARINT:
                raise _Malformed("Time.seconds with wrong wire type")
            seconds = _signed(value, 64)
        # field 2 (nanos) is dropped, as the API server does for meta.v1.Time
    try:
        moment = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(seconds=seconds)
    except OverflowError as exc:
        raise _Malformed("Time out of range") from exc
    if not 1 <= moment.year <= 9999:
        raise _Malformed("Time out of range")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_or_string(buf: bytes, start: int, end: int) -> int | str:
    kind, int_val, str_val = 0, 0, ""
    for number, wire, value in _iter_fields(buf, start, end):
        if number == 1:
            kind = _scalar("int64", wire, value, buf)
        elif number == 2:
            int_val = _scalar("int32", wire, value, buf)
        elif number == 3:
            str_val = _scalar("string", wire, value, buf)
    if kind == 0:
        return int_val
    if kind == 1:
        return str_val
    raise _Malformed(f"IntOrString with unknown type {kind}")


def _quantity(buf: bytes, start: int, end: int) -> str:
    text = "0"  # a zero Quantity prints as "0"
    for number, wire, value in _iter_fields(buf, start, end):
        if number == 1:
            text = _scalar("string", wire, value, buf)
    return text


def _fields_v1(buf: bytes, start: int, end: int) -> Any:
    """meta.v1.FieldsV1: field 1 holds a JSON document, which is its JSON form."""
    raw = None
    for number, wire, value in _iter_fields(buf, start, end):
        if number == 1:
            raw = _scalar("bytes", wire, value, buf)
    if not raw:
        return None  # nothing to print; Go would print null (or fail on an empty document)
    try:
        # Read as a JSON body is: UTF-8, bounded nesting, no NUL, 64-bit numbers.
        return loads_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Malformed(f"FieldsV1 is not valid JSON: {exc}") from None


def _value(typ: str, wire: int, value: Any, buf: bytes, depth: int) -> Any:
    if typ in _SCALARS:
        return _scalar(typ, wire, value, buf)
    if wire != _LEN:
        raise _Malformed(f"{typ} field with wire type {wire}")
    start, end = value
    if typ == "Time":
        return _time(buf, start, end)
    if typ == "IntOrString":
        return _int_or_string(buf, start, end)
    if typ == "Quantity":
        return _quantity(buf, start, end)
    if typ == "FieldsV1":
        return _fields_v1(buf, start, end)
    return _message(typ, buf, start, end, depth + 1)


def _is_zero(v: Any) -> bool:
    return v is False or (v == 0 and not isinstance(v, bool)) or v == "" or v == b""


def _json_scalar(v: Any) -> Any:
    return base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v


def _map_entry(field: Field, buf: bytes, start: int, end: int, depth: int) -> tuple[str, Any]:
    key: str = ""
    val: Any = None
    for number, wire, value in _iter_fields(buf, start, end):
        if number == 1:
            key = _scalar("string", wire, value, buf)
        elif number == 2:
            val = _value(field.type, wire, value, buf, depth)
    if val is None:  # value missing on the wire: Go's zero value
        if field.type == "string":
            val = ""
        elif field.type == "bytes":
            val = b""
        elif field.type == "Quantity":
            val = "0"
        elif field.type in MESSAGES:
            val = {}
    return key, _json_scalar(val)


def _message(name: str, buf: bytes, start: int, end: int, depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise _Malformed("messages nested too deeply")
    schema = MESSAGES[name]
    found: dict[int, Any] = {}
    for number, wire, value in _iter_fields(buf, start, end):
        field = schema.get(number)
        if field is None:
            continue  # unknown field: already skipped by _iter_fields
        if field.is_map:
            if wire != _LEN:
                raise _Malformed(f"map {name}.{field.name} with wire type {wire}")
            k, v = _map_entry(field, buf, value[0], value[1], depth)
            found.setdefault(number, {})[k] = v
        elif field.repeated:
            items = found.setdefault(number, [])
            if field.type in ("int32", "int64", "bool") and wire == _LEN:
                items.extend(_packed(field.type, buf, value[0], value[1]))
            else:
                items.append(_json_scalar(_value(field.type, wire, value, buf, depth)))
        else:
            v = _value(field.type, wire, value, buf, depth)
            if field.type in MESSAGES and isinstance(found.get(number), dict):
                found[number].update(v)  # protobuf merges repeated singular messages
            else:
                found[number] = v
    out: dict[str, Any] = {}
    for number, field in schema.items():
        if number not in found:
            continue
        v = found[number]
        if field.inline:
            out.update(v)
        elif field.type in _SCALARS and not field.repeated and not field.is_map:
            if _is_zero(v) and not field.keep_zero:
                continue
            out[field.name] = _json_scalar(v)
        else:
            out[field.name] = v
    return out


# ---------------------------------------------------------------------------
# Envelope
# ---------------------------------------------------------------------------

def _bad(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def _unsupported(kind: str, api_version: str) -> APIError:
    what = f"{api_version} {kind}".strip() or "an unnamed kind"
    return APIError(
        415,
        "UnsupportedMediaType",
        f"podflow cannot decode protobuf for kind {what}; send JSON (Content-Type: application/json)",
    )


def unwrap(body: bytes) -> tuple[str, str, bytes]:
    """Return (apiVersion, kind, raw) from a `k8s\\x00` + runtime.Unknown body."""
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise _bad("protobuf body must be bytes")
    body = bytes(body)
    if not body.startswith(MAGIC):
        raise _bad("request body is not a Kubernetes protobuf envelope (missing the k8s\\x00 prefix)")
    try:
        api_version = kind = encoding = ""
        raw = b""
        end = len(body)
        for number, wire, value in _iter_fields(body, len(MAGIC), end):
            if number == 1:
                if wire != _LEN:
                    raise _Malformed("typeMeta with wrong wire type")
                for n2, w2, v2 in _iter_fields(body, value[0], value[1]):
                    if n2 == 1:
                        api_version = _scalar("string", w2, v2, body)
                    elif n2 == 2:
                        kind = _scalar("string", w2, v2, body)
            elif number == 2:
                raw = _scalar("bytes", wire, value, body)
            elif number == 3:
                encoding = _scalar("string", wire, value, body)
    except _Malformed as exc:
        raise _bad(f"malformed protobuf envelope: {exc}") from None
    if encoding:
        raise _bad(f"protobuf envelope with contentEncoding {encoding!r} is not supported")
    return api_version, kind, raw


def decode(body: bytes) -> dict[str, Any]:
    """Decode a `application/vnd.kubernetes.protobuf` request body into the object's JSON dict.

    Raises APIError 400 BadRequest for anything that is not a well-formed
    envelope and object, and 415 UnsupportedMediaType for a kind podflow has
    no schema for.
    """
    api_version, kind, raw = unwrap(body)
    if not kind:
        raise _bad("protobuf envelope names no kind")
    if not raw:
        raise _bad(f"protobuf envelope for {kind} carries no object")
    message = KINDS.get((api_version, kind))
    if message is None:
        raise _unsupported(kind, api_version)
    try:
        obj = _message(message, raw, 0, len(raw), 0)
    except _Malformed as exc:
        raise _bad(f"malformed protobuf {kind}: {exc}") from None
    except RecursionError:
        raise _bad(f"malformed protobuf {kind}: nested too deeply") from None
    return {"kind": kind, "apiVersion": api_version, **obj}


def is_protobuf(content_type: str | None) -> bool:
    """True for a Content-Type naming the Kubernetes protobuf media type (parameters ignored)."""
    return bool(content_type) and content_type.split(";", 1)[0].strip().lower() == CONTENT_TYPE
