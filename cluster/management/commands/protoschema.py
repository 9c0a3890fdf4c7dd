"""Regenerate `cluster/apiserver/serializers/protoschema.py` from the kubectl binary.

    python manage.py protoschema [--kubectl PATH] [--check]

Every Kubernetes client built with client-go carries, for each k8s.io/api and
k8s.io/apimachinery `generated.proto`, a gzipped `FileDescriptorProto`: gogo
protobuf registers it at start-up so that the types can describe themselves.
Those descriptors hold exactly what the protobuf decoder needs (message and
field names, field numbers, types, and the gogoproto options that tell a Go
pointer from a value), so the decoder's schema is read from them instead of
being copied by hand from the .proto files.

The pipeline is a chain of plain functions, each usable on its own:

    extract_descriptors(binary bytes) -> the raw FileDescriptorProtos
    parse_file(raw)                   -> ProtoFile (messages and fields)
    index_messages(files)             -> {fully-qualified name: ProtoMessage}
    build_schema(messages, roots)     -> {message: {number: (jsonName, type, repeated, is_map, ptr)}}
    render(schema, version)           -> the text of protoschema.py

`generate(kubectl)` runs them all; the management command only writes (or,
with --check, compares) the result.  Only the Python standard library is used:
the protobuf wire format is simple enough to read directly.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from django.core.management.base import BaseCommand, CommandError

OUTPUT = Path(__file__).resolve().parents[2] / "apiserver" / "serializers" / "protoschema.py"

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"  # gzip, deflate, no flags, no mtime (Go's gzip writer)
_MAX_DESCRIPTOR = 4 << 20  # stop inflating a false gzip match after 4 MiB
_CHUNK = 64 << 10

# FieldDescriptorProto.type values the decoder understands as scalars.
SCALAR_TYPES = {9: "string", 12: "bytes", 5: "int32", 3: "int64", 8: "bool"}
TYPE_MESSAGE = 11
LABEL_REPEATED = 3

# Messages whose JSON form is not an object: the decoder reads them itself.
SPECIAL_MESSAGES = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "Time",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "FieldsV1",  # raw JSON (managedFields)
}

# gogoproto extension numbers found in FieldOptions.
GOGO_NULLABLE = 65001
GOGO_CUSTOMNAME = 65004
GOGO_CASTTYPE = 65007


class DescriptorError(ValueError):
    """The descriptors are unreadable or describe something the decoder cannot use."""


# ---------------------------------------------------------------------------
# Reading the protobuf wire format
# ---------------------------------------------------------------------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise DescriptorError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def read_fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield (field number, value) for each field of one encoded message.

    Varints come back as ints, length-delimited fields as bytes, fixed-width
    fields as their raw bytes.  Descriptors use no groups, so none are read.
    """
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, value
            continue
        if wire == 2:
            size, pos = _varint(buf, pos)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
        else:
            raise DescriptorError(f"unexpected wire type {wire} for field {number}")
        if pos + size > len(buf):
            raise DescriptorError(f"field {number} runs past the end of its message")
        yield number, buf[pos:pos + size]
        pos += size


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise DescriptorError("expected a string field, found a varint")
    return value.decode("utf-8")


def _int(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise DescriptorError("expected a varint field, found bytes")
    return value


def _sub(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise DescriptorError("expected a message field, found a varint")
    return value


# ---------------------------------------------------------------------------
# Finding the descriptors
# ---------------------------------------------------------------------------

def _inflate(binary: bytes, start: int) -> bytes | None:
    """Gunzip the stream starting at `start`, or None if it is not a whole gzip stream."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    view = memoryview(binary)
    out = bytearray()
    pos = start
    try:
        while not inflater.eof and pos < len(binary) and len(out) <= _MAX_DESCRIPTOR:
            out += inflater.decompress(view[pos:pos + _CHUNK])
            pos += _CHUNK
    except zlib.error:
        return None
    return bytes(out) if inflater.eof else None


def _file_name(raw: bytes) -> str | None:
    """FileDescriptorProto.name (field 1), or None when `raw` does not look like one."""
    try:
        for number, value in read_fields(raw):
            if number == 1 and isinstance(value, bytes):
                return value.decode("utf-8")
            return None
    except (DescriptorError, UnicodeDecodeError):
        return None
    return None


def extract_descriptors(binary: bytes) -> list[bytes]:
    """Every gzipped FileDescriptorProto in `binary` whose name ends in generated.proto.

    Go programs built with gogo protobuf keep each .proto file's descriptor as
    a gzip stream in the data section.  Scanning for the fixed gzip header and
    inflating each hit finds them; anything that does not inflate, or does not
    start with a name, is some other data and is ignored.
    """
    found: list[bytes] = []
    pos = binary.find(GZIP_HEADER)
    while pos >= 0:
        raw = _inflate(binary, pos)
        if raw is not None:
            name = _file_name(raw)
            if name is not None and name.endswith("generated.proto"):
                found.append(raw)
        pos = binary.find(GZIP_HEADER, pos + 1)
    return found


# ---------------------------------------------------------------------------
# Descriptor model
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ProtoField:
    """The parts of a FieldDescriptorProto the schema needs."""

    name: str
    number: int
    repeated: bool
    type: int                 # FieldDescriptorProto.Type
    type_name: str            # fully qualified, without the leading dot; "" for scalars
    json_name: str
    nullable: bool            # gogoproto.nullable: absent means true (a Go pointer)
    customname: str = ""      # gogoproto.customname: the Go field name, when not the default
    casttype: str = ""        # gogoproto.casttype: the Go type, when a named type


@dataclass(frozen=True)
class ProtoMessage:
    """A DescriptorProto, with its fully qualified name and nested types flattened out."""

    full_name: str
    fields: tuple[ProtoField, ...]
    map_entry: bool


@dataclass(frozen=True)
class ProtoFile:
    name: str
    package: str
    messages: tuple[ProtoMessage, ...]  # top-level and nested


def _parse_field_options(raw: bytes) -> dict[int, int | bytes]:
    return {number: value for number, value in read_fields(raw)}


def parse_field(raw: bytes) -> ProtoField:
    """Read a FieldDescriptorProto: 1 name, 3 number, 4 label, 5 type, 6 type_name, 8 options, 10 json_name."""
    name = json_name = type_name = ""
    number = label = kind = 0
    options: dict[int, int | bytes] = {}
    for field, value in read_fields(raw):
        if field == 1:
            name = _text(value)
        elif field == 3:
            number = _int(value)
        elif field == 4:
            label = _int(value)
        elif field == 5:
            kind = _int(value)
        elif field == 6:
            type_name = _text(value).lstrip(".")
        elif field == 8:
            options = _parse_field_options(_sub(value))
        elif field == 10:
            json_name = _text(value)
    if not name or number < 1 or not kind:
        raise DescriptorError(f"incomplete field descriptor {name or '?'} = {number}")
    nullable = options.get(GOGO_NULLABLE)
    return ProtoField(
        name=name,
        number=number,
        repeated=label == LABEL_REPEATED,
        type=kind,
        type_name=type_name,
        json_name=json_name or name,
        nullable=True if nullable is None else bool(_int(nullable)),
        customname=_text(options[GOGO_CUSTOMNAME]) if GOGO_CUSTOMNAME in options else "",
        casttype=_text(options[GOGO_CASTTYPE]) if GOGO_CASTTYPE in options else "",
    )


def parse_message(raw: bytes, scope: str) -> list[ProtoMessage]:
    """Read a DescriptorProto (1 name, 2 field, 3 nested_type, 7 options) and its nested types."""
    name = ""
    fields: list[ProtoField] = []
    nested: list[bytes] = []
    map_entry = False
    for field, value in read_fields(raw):
        if field == 1:
            name = _text(value)
        elif field == 2:
            fields.append(parse_field(_sub(value)))
        elif field == 3:
            nested.append(_sub(value))
        elif field == 7:
            # MessageOptions.map_entry is field 7.
            map_entry = any(n == 7 and bool(_int(v)) for n, v in read_fields(_sub(value)))
    if not name:
        raise DescriptorError(f"message without a name in {scope}")
    full_name = f"{scope}.{name}"
    out = [ProtoMessage(full_name, tuple(fields), map_entry)]
    for inner in nested:
        out.extend(parse_message(inner, full_name))
    return out


def parse_file(raw: bytes) -> ProtoFile:
    """Read a FileDescriptorProto: 1 name, 2 package, 4 message_type."""
    name = package = ""
    bodies: list[bytes] = []
    for field, value in read_fields(raw):
        if field == 1:
            name = _text(value)
        elif field == 2:
            package = _text(value)
        elif field == 4:
            bodies.append(_sub(value))
    messages: list[ProtoMessage] = []
    for body in bodies:
        messages.extend(parse_message(body, package))
    return ProtoFile(name, package, tuple(messages))


def index_messages(files: Iterable[ProtoFile]) -> dict[str, ProtoMessage]:
    """All messages of all files by fully qualified name.

    A binary may embed the same file twice (vendored copies); identical
    duplicates are harmless, differing ones are an error.
    """
    index: dict[str, ProtoMessage] = {}
    for proto in files:
        for message in proto.messages:
            known = index.get(message.full_name)
            if known is not None and known != message:
                raise DescriptorError(f"two different descriptors for {message.full_name}")
            index[message.full_name] = message
    return index


# ---------------------------------------------------------------------------
# The decoder's schema
# ---------------------------------------------------------------------------

# number -> (jsonName, type, repeated, is_map, ptr)
FieldSpec = tuple[str, str, bool, bool, bool]
Schema = dict[str, dict[int, FieldSpec]]


def _value_type(field: ProtoField, where: str) -> str:
    """The decoder's name for a field's (element) type."""
    if field.type == TYPE_MESSAGE:
        return SPECIAL_MESSAGES.get(field.type_name, field.type_name)
    if field.type in SCALAR_TYPES:
        return SCALAR_TYPES[field.type]
    raise DescriptorError(f"{where}: protobuf type {field.type} is not supported by the decoder")


def _field_spec(field: ProtoField, messages: dict[str, ProtoMessage], where: str) -> FieldSpec:
    """One field's (jsonName, type, repeated, is_map, ptr); a map field is folded from its entry message."""
    entry = messages.get(field.type_name) if field.type == TYPE_MESSAGE else None
    if entry is not None and entry.map_entry and field.repeated:
        parts = {f.number: f for f in entry.fields}
        if set(parts) != {1, 2} or parts[1].type != 9:
            raise DescriptorError(f"{where}: only maps with string keys are supported")
        return (field.json_name, _value_type(parts[2], where), False, True, False)
    typ = _value_type(field, where)
    # gogo writes a pointer (nullable, the default) only when it is set.
    ptr = field.nullable and not field.repeated
    return (field.json_name, typ, field.repeated, False, ptr)


def build_schema(messages: dict[str, ProtoMessage], roots: Iterable[str]) -> Schema:
    """The schema of every message reachable from `roots`, following message-typed fields.

    Map entry messages are folded into their field (is_map, value type) and the
    SPECIAL_MESSAGES (Time, IntOrString, Quantity, FieldsV1) are leaves.  Fields
    keep their declaration order; messages are sorted by name.
    """
    schema: Schema = {}
    pending = sorted(set(roots))
    while pending:
        name = pending.pop()
        if name in schema:
            continue
        message = messages.get(name)
        if message is None:
            raise DescriptorError(f"no descriptor for message {name}")
        fields: dict[int, FieldSpec] = {}
        for field in message.fields:
            where = f"{name}.{field.name}"
            if field.number in fields:
                raise DescriptorError(f"{where}: duplicate field number {field.number}")
            spec = fields[field.number] = _field_spec(field, messages, where)
            if spec[1] in messages and spec[1] not in schema:
                pending.append(spec[1])
        schema[name] = fields  # declaration order: Go's struct order, so JSON's order
    return dict(sorted(schema.items()))


def _literal(value: str | bool | int) -> str:
    """A Python literal in the project's style (double-quoted strings)."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def render(schema: Schema, version: str) -> str:
    """protoschema.py's text: data only, messages sorted by name, one line per field."""
    lines = [
        f"# Generated by `python manage.py protoschema` from the FileDescriptorProtos kubectl {version} embeds",
        "# (k8s.io/api and k8s.io/apimachinery generated.proto).  Do not edit by hand: regenerate.",
        '"""Protobuf field tables for cluster.apiserver.serializers.protobuf.',
        "",
        "MESSAGES maps a fully qualified message name to {field number: (jsonName,",
        "type, repeated, is_map, ptr)}, for every message reachable from the",
        "decoder's ROOTS.  type is string, bytes, int32, int64, bool, Time,",
        "IntOrString, Quantity, FieldsV1 or a message name (for a map, the type of",
        "its values; keys are strings).  ptr is true for a Go pointer field",
        "(gogoproto.nullable left at its default), which is on the wire only when",
        "set.  Fields are in declaration order, which is the Go struct's order.",
        '"""',
        "from __future__ import annotations",
        "",
        f"KUBECTL_VERSION = {_literal(version)}",
        "",
        "MESSAGES: dict[str, dict[int, tuple[str, str, bool, bool, bool]]] = {",
    ]
    for name, fields in schema.items():
        lines.append(f"    {_literal(name)}: {{")
        for number, spec in fields.items():
            lines.append(f"        {number}: ({', '.join(_literal(part) for part in spec)}),")
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Putting it together
# ---------------------------------------------------------------------------

def find_kubectl(path: str | None = None) -> str | None:
    """`path` if given, else kubectl on PATH (None when there is none)."""
    return path or shutil.which("kubectl")


def kubectl_version(kubectl: str) -> str:
    """The client's gitVersion, from `kubectl version --client -o json`."""
    try:
        done = subprocess.run(
            [kubectl, "version", "--client", "-o", "json"],
            capture_output=True, check=True, text=True, timeout=60,
        )
        return json.loads(done.stdout)["clientVersion"]["gitVersion"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError) as exc:
        raise DescriptorError(f"cannot read the version of {kubectl}: {exc}") from exc


def root_messages() -> list[str]:
    """The fully qualified messages of the kinds the decoder accepts (protobuf.ROOTS)."""
    from cluster.apiserver.serializers import protobuf  # the decoder names its own roots

    return sorted(set(protobuf.ROOTS.values()))


def generate(kubectl: str, roots: Iterable[str] | None = None) -> str:
    """The text protoschema.py should have, read from the kubectl binary at `kubectl`."""
    binary = Path(kubectl).resolve().read_bytes()
    files = [parse_file(raw) for raw in extract_descriptors(binary)]
    if not files:
        raise DescriptorError(f"{kubectl} embeds no generated.proto descriptors")
    schema = build_schema(index_messages(files), root_messages() if roots is None else roots)
    return render(schema, kubectl_version(kubectl))


class Command(BaseCommand):
    help = "Regenerate cluster/apiserver/serializers/protoschema.py from the protobuf descriptors kubectl embeds."

    def add_arguments(self, parser):
        parser.add_argument("--kubectl", default=None, help="the kubectl binary to read (default: kubectl on PATH)")
        parser.add_argument("--check", action="store_true",
                            help="write nothing; exit 1 if the committed file differs from what would be generated")

    def handle(self, *args, kubectl: str | None, check: bool, **options):
        binary = find_kubectl(kubectl)
        if binary is None:
            raise CommandError("kubectl not found on PATH; pass --kubectl PATH")
        try:
            text = generate(binary)
        except (DescriptorError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        current = OUTPUT.read_text() if OUTPUT.exists() else None
        if check:
            if current != text:
                raise CommandError(f"{OUTPUT} is out of date: run python manage.py protoschema", returncode=1)
            self.stdout.write(f"{OUTPUT} is up to date")
            return
        if current == text:
            self.stdout.write(f"{OUTPUT} unchanged")
            return
        OUTPUT.write_text(text)
        self.stdout.write(f"wrote {OUTPUT}")
