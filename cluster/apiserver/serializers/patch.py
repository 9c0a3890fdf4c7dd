"""The four PATCH flavours a Kubernetes API server accepts.

`apply_patch(current, body, content_type, kind=...)` returns the patched object (a new
dict; `current` is left untouched) for

- `application/strategic-merge-patch+json`: Kubernetes' strategic merge patch, what
  `kubectl apply` (client-side), `set image`, `label`, `cordon`, `edit` send;
- `application/merge-patch+json`: RFC 7386 JSON merge patch (`kubectl scale`);
- `application/json-patch+json`: RFC 6902 JSON patch (`kubectl rollout undo`);
- `application/apply-patch+yaml`: server-side apply, a reasonable subset: the applied
  configuration is merged onto the live object with strategic-merge rules, and nothing
  it leaves out is deleted (there is no managedFields bookkeeping).

Everything a client can get wrong raises `cluster.apimachinery.errors.APIError` with the code and
reason the real API server answers (400 BadRequest, 415 UnsupportedMediaType, 422
Invalid, 413 RequestEntityTooLarge), never anything else.

Strategic merge patch needs to know, per list field, whether the list is merged and by
which key. Kubernetes reads that from Go struct tags; here it is the `_LIST_RULES` table
below, keyed by field name, with the few names whose meaning depends on where they sit
(`ports` in a container vs in a Service spec, `finalizers` in metadata vs a Namespace
spec, ...) resolved from the kind and the path.

Ordering follows the apiserver's algorithm: items named in a patch list keep the patch's
order, items only on the server keep theirs, and the two are interleaved by their
positions on the server, so an item the server did not have lands before the server-only
items that follow it (a strategic patch adding a container without `$setElementOrder`
puts it first, as on a real cluster). `$setElementOrder/<field>` imposes its order on
the items it names the same way.
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import re
from typing import Any, Callable, Iterable

import yaml

from cluster.apimachinery.errors import APIError, Cause

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
# The order the apiserver lists them in its 415 message for built-in resources.
SUPPORTED_TYPES = (JSON_PATCH, MERGE, STRATEGIC_MERGE, APPLY)

MAX_JSON_PATCH_OPERATIONS = 10000  # the apiserver's limit, answered with 413
# Server-side apply bodies are YAML, whose aliases can make a small body expand into a
# huge document: past this many values after expansion the body is refused. A 3 MiB body
# (the apiserver's size limit) cannot spell out many more values than this without aliases.
MAX_APPLY_VALUES = 1_000_000
# How deeply a request body (JSON or YAML) may nest. Kubernetes objects stay under ~20
# levels (a pod template's affinity terms are the deepest podflow serves); 100 leaves room
# for anything real, while everything that walks a body afterwards (the JSON decoder,
# merging, validation, json.dumps: a few frames per level each) stays far below Python's
# recursion limit of 1000. cluster/apiserver/serializers/protobuf.py refuses deeper messages at the same depth.
MAX_NESTING_DEPTH = 100

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_ORDER_PREFIX = "$setElementOrder/"
_DELETE_PREFIX = "$deleteFromPrimitiveList/"

_GENERIC_INVALID = "the server rejected our request due to an error in our request"


# ---------------------------------------------------------------------------------------
# Public API


def apply_patch(current: dict, patch_body: bytes | str, content_type: str, *, kind: str) -> dict:
    """Apply a PATCH request's body to `current` and return the new object."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in SUPPORTED_TYPES:
        raise unsupported_media_type()
    if not isinstance(current, dict):
        raise TypeError("current must be a dict")  # a programming error, not client input
    try:
        if media_type == STRATEGIC_MERGE:
            patch = _decode_json(patch_body)
            if not isinstance(patch, dict):
                raise _bad_request(f"error decoding patch: a strategic merge patch must be a JSON object, not {_json_type(patch)}")
            result = strategic_merge(current, patch, kind=kind)
        elif media_type == MERGE:
            patch = _decode_json(patch_body)
            if not isinstance(patch, dict):
                raise _bad_request("Invalid JSON Patch")
            result = json_merge_patch(_clone(current), patch)
        elif media_type == JSON_PATCH:
            result = json_patch(current, _decode_json(patch_body))
        else:
            result = _server_side_apply(current, patch_body, kind=kind)
    except RecursionError:
        raise _bad_request("error decoding patch: the patch is nested too deeply") from None
    return _check_identity(current, result)


def parse_apply_body(body: bytes | str, *, kind: str | None = None, api_version: str | None = None, name: str | None = None) -> dict:
    """The object a server-side apply (or any YAML) body describes, as JSON-shaped data.

    JSON bodies are read as JSON, anything else as YAML (one document). Null values are
    dropped (they set nothing), so are YAML timestamps resolved (they stay strings).
    `kind`, `api_version` and `name`, when given, must match the body's, as the apiserver
    checks them against the URL.
    """
    try:
        config = _load_apply_config(body)
    except RecursionError:
        raise _bad_request("error decoding YAML: the document is nested too deeply") from None
    if api_version is not None and config.get("apiVersion") != api_version:
        raise _bad_request(
            "Incorrect version specified in apply patch. "
            f"Specified patch version: {_text(config.get('apiVersion'))}, expected: {api_version}"
        )
    if kind is not None and config.get("kind") != kind:
        raise _bad_request(
            "Incorrect kind specified in apply patch. "
            f"Specified patch kind: {_text(config.get('kind'))}, expected: {kind}"
        )
    if name is not None:
        given = (config.get("metadata") or {}).get("name")
        if given != name:
            raise _bad_request(f"the name of the object ({_text(given)}) does not match the name on the URL ({name})")
    return config


def unsupported_media_type() -> APIError:
    return APIError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: " + ", ".join(SUPPORTED_TYPES),
    )


# ---------------------------------------------------------------------------------------
# Errors


def _bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def _unprocessable(detail: str) -> APIError:
    """What the apiserver answers when a JSON patch operation fails: 422 Invalid with a
    generic message. The specific reason is added as a cause (kubectl prints causes)."""
    return APIError(422, "Invalid", _GENERIC_INVALID, causes=[Cause(field="", message=detail)])


class _OpFailed(Exception):
    """A JSON patch operation that does not apply to the document."""


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else _show(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# ---------------------------------------------------------------------------------------
# Decoding


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _body_text(body: bytes | str | bytearray | memoryview | None) -> str:
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_request(f"error decoding patch: the body is not valid UTF-8: {exc.reason} at byte {exc.start}") from None


class BodyRefused(ValueError):
    """Well-formed JSON or YAML that the API server still will not read (too deep, a number
    out of range, a NUL character, too many aliases)."""


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise BodyRefused(f"number {_cut(text)} is out of range")
    return value


def _int64(text: str) -> int:
    # Every integer field of a Kubernetes object is at most 64 bits (Go's int64); a longer
    # number would only reach a controller as a count it cannot act on (replicas: 10**30).
    # Too many digits is refused before converting (Python's own limit, 4,300 digits,
    # would answer with a less helpful message).
    value = int(text) if len(text.lstrip("-")) <= 19 else None
    if value is None or not -(2**63) <= value < 2**63:
        raise BodyRefused(f"number {_cut(text)} is out of range (64-bit integers only)")
    return value


def _no_constants(name: str) -> Any:
    raise BodyRefused(f"invalid value {name}")


def _cut(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def check_json_depth(text: str) -> None:
    """Refuse JSON text that nests deeper than MAX_NESTING_DEPTH, before it is decoded.

    json.loads recurses once per level, so 10,000 `[` end in RecursionError deep inside
    the decoder. This counts the brackets outside strings instead: for valid JSON it finds
    the decoder's depth, for invalid JSON at least the depth the decoder would reach before
    failing.
    """
    if text.count("[") + text.count("{") <= MAX_NESTING_DEPTH:
        return  # the usual case, at C speed: too few brackets to nest that deep
    depth = 0
    for char in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        if char in "[{":
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                raise BodyRefused(f"the body is nested more than {MAX_NESTING_DEPTH} levels deep")
        else:
            depth -= 1


def loads_json(text: str) -> Any:
    """A JSON request body as the API server reads it, or ValueError (BodyRefused for
    well-formed JSON that is refused anyway).

    Bounded nesting, finite numbers, 64-bit integers, no NUL characters; lone UTF-16
    surrogates become U+FFFD as Go's decoder makes them.
    """
    check_json_depth(text)
    value = json.loads(text, parse_float=_finite_float, parse_int=_int64, parse_constant=_no_constants)
    if "\\u" in text:  # surrogates and NULs can only arrive escaped: raw ones are invalid JSON
        _refuse_nul(value)
        if _has_lone_surrogate(value):
            value = _replace_surrogates(value)
    return value


def _refuse_nul(value: Any) -> None:
    """PostgreSQL's jsonb cannot store U+0000: there, an object holding one would fail
    inside the write (a 500). It is refused up front as a bad request, on every database."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise BodyRefused("strings may not contain NUL (U+0000) characters")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _decode_json(body: bytes | str) -> Any:
    text = _body_text(body)
    try:
        return loads_json(text)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise _bad_request(f"error decoding patch: {exc}") from None


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _replace_surrogates(value: Any) -> Any:
    """Lone UTF-16 surrogates cannot be encoded as UTF-8; Go turns them into U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    return value


class _ApplyLoader(yaml.SafeLoader):
    """YAML as Kubernetes reads it into unstructured data: timestamps stay strings, and the
    document's depth and alias expansion are bounded while it is composed, before any data
    is built.

    Aliases are allowed (manifests do reuse a block of labels or env with `&`/`*`), but
    every node knows how many values it stands for once its aliases are expanded, so a
    "billion laughs" body (or a `<<` merge-key chain, which the constructor would really
    copy) is refused after reading a few lines, as sigs.k8s.io/yaml refuses "excessive
    aliasing". Aliases count, not anchors: a document without aliases is bounded by the
    body's size already.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._expanded: dict[int, int] = {}  # id(node) -> values it stands for, once complete

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if id(node) not in self._expanded:  # an alias inside its own anchor
                raise BodyRefused("the document refers to itself")
            self._aliases += 1
            return node
        self._depth += 1
        if self._depth > MAX_NESTING_DEPTH:
            raise BodyRefused(f"the document is nested more than {MAX_NESTING_DEPTH} levels deep")
        node = super().compose_node(parent, index)
        self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._expanded[id(item)] for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._expanded[id(k)] + self._expanded[id(v)] for k, v in node.value)
        else:
            size = 1
        if self._aliases and size > MAX_APPLY_VALUES:
            raise BodyRefused("the document is too large once its aliases are expanded")
        self._expanded[id(node)] = size
        return node


_ApplyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_apply_config(body: bytes | str) -> dict:
    text = _body_text(body)
    stripped = text.strip()
    document: Any = None
    parsed = False
    if stripped.startswith("{"):
        try:
            document = loads_json(stripped)
            parsed = True
        except BodyRefused as exc:
            raise _bad_request(f"error decoding JSON: {exc}") from None
        except ValueError:
            parsed = False  # not JSON after all: YAML gets its turn
    if not parsed:
        try:
            document = yaml.load(text, Loader=_ApplyLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise _bad_request(f"error decoding YAML: {_one_line(str(exc))}") from None
        except (ValueError, TypeError) as exc:  # e.g. a constructor refusing a value, BodyRefused
            raise _bad_request(f"error decoding YAML: {_one_line(str(exc))}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise _bad_request(f"error decoding YAML: the body must be an object, not {_json_type(_plain(document))}")
    config = _to_json_data(document, [MAX_APPLY_VALUES], set())
    if _has_lone_surrogate(config):
        config = _replace_surrogates(config)
    return config


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _plain(value: Any) -> Any:
    return value if isinstance(value, (dict, list, str, int, float, bool, type(None))) else str(value)


def _to_json_data(value: Any, budget: list[int], active: set[int]) -> Any:
    """YAML data as JSON data: string keys, no nulls in maps, no cycles, bounded size."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _bad_request("error decoding YAML: the document is too large once its aliases are expanded")
    if isinstance(value, dict):
        if id(value) in active:
            raise _bad_request("error decoding YAML: the document refers to itself")
        active.add(id(value))
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            name = _yaml_key(key)
            if name.startswith("$"):
                raise _bad_request(f'error decoding YAML: "{name}": patch directives have no meaning in an apply configuration')
            out[name] = _to_json_data(item, budget, active)
        active.discard(id(value))
        return out
    if isinstance(value, list):
        if id(value) in active:
            raise _bad_request("error decoding YAML: the document refers to itself")
        active.add(id(value))
        items = [_to_json_data(item, budget, active) for item in value]
        active.discard(id(value))
        return items
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise _bad_request("error decoding YAML: a number is out of range (64-bit integers only)")
        return value
    if isinstance(value, str):
        if "\x00" in value:  # see _refuse_nul
            raise _bad_request("error decoding YAML: strings may not contain NUL (U+0000) characters")
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise _bad_request("error decoding YAML: .nan and .inf cannot be represented in JSON")
        return value
    if isinstance(value, (_dt.datetime, _dt.date)):  # an explicit !!timestamp tag
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):  # !!binary: JSON carries bytes as base64
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (set, frozenset, tuple)):
        return _to_json_data(list(value), budget, active)
    raise _bad_request(f"error decoding YAML: unsupported value of type {type(value).__name__}")


def _yaml_key(key: Any) -> str:
    if isinstance(key, str):
        if "\x00" in key:  # see _refuse_nul
            raise _bad_request("error decoding YAML: strings may not contain NUL (U+0000) characters")
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, (int, float)):
        return str(key)
    if isinstance(key, (_dt.datetime, _dt.date)):
        return key.isoformat()
    raise _bad_request(f"error decoding YAML: unsupported map key {_show(_plain(key))}")


# ---------------------------------------------------------------------------------------
# JSON values


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _token(value: Any) -> Any:
    """A hashable stand-in for a JSON value, equal exactly when the values are equal
    (booleans are not numbers; 1 and 1.0 are the same number)."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("num", value)
    if isinstance(value, str):
        return ("str", value)
    return ("json", _show_exact(value))


def _show_exact(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    return _token(a) == _token(b)


def _prune_nulls(value: Any) -> Any:
    """A new value for a merge patch: maps lose their null members (at any depth,
    inside arrays too, as the apiserver's merge does); null array elements stay."""
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386)


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else replaces.
    Parts of `target` the patch does not touch are shared with the result."""
    if not isinstance(patch, dict):
        return _prune_nulls(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = json_merge_patch(result.get(key), value)
        else:
            result[key] = _prune_nulls(value)
    return result


# ---------------------------------------------------------------------------------------
# JSON patch (RFC 6902)


def json_patch(document: Any, operations: Any) -> dict:
    """RFC 6902 operations applied in order, all or nothing."""
    if not isinstance(operations, list):
        raise _bad_request(f"error decoding patch: a JSON patch must be an array of operations, not {_json_type(operations)}")
    for operation in operations:
        if not isinstance(operation, dict):
            raise _bad_request(f"error decoding patch: a JSON patch operation must be an object, not {_json_type(operation)}")
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise APIError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: "
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {len(operations)}",
        )
    doc = _clone(document)
    for operation in operations:
        try:
            doc = _apply_operation(doc, operation)
        except _OpFailed as exc:
            raise _unprocessable(str(exc)) from None
    if not isinstance(doc, dict):
        raise _unprocessable(f"the patched document is {_json_type(doc)}, not an object")
    return doc


def _pointer(operation: dict, member: str) -> list[str]:
    if member not in operation:
        raise _OpFailed(f"operation {_show(operation.get('op'))} is missing \"{member}\"")
    path = operation[member]
    if not isinstance(path, str):
        raise _OpFailed(f'"{member}" must be a string, not {_json_type(path)}')
    if path == "":
        return []
    if not path.startswith("/"):
        raise _OpFailed(f'invalid JSON pointer "{path}": it must be empty or start with "/"')
    tokens = []
    for raw in path[1:].split("/"):
        if re.search(r"~(?![01])", raw):
            raise _OpFailed(f'invalid JSON pointer "{path}": "~" must be followed by 0 or 1')
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tokens


def _pointer_text(tokens: list[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _array_index(token: str, length: int, *, for_add: bool, tokens: list[str]) -> int:
    if token == "-" and for_add:
        return length
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise _OpFailed(f'invalid array index "{token}" in {_pointer_text(tokens)}')
    index = int(token)
    limit = length if for_add else length - 1
    if index > limit:
        raise _OpFailed(f"array index {index} is out of bounds in {_pointer_text(tokens)}")
    return index


def _resolve(doc: Any, tokens: list[str]) -> Any:
    """The value at `tokens`; _OpFailed when there is none."""
    node = doc
    for depth, token in enumerate(tokens):
        if isinstance(node, dict):
            if token not in node:
                raise _OpFailed(f"the path {_pointer_text(tokens[: depth + 1])} does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_array_index(token, len(node), for_add=False, tokens=tokens[: depth + 1])]
        else:
            raise _OpFailed(f"the path {_pointer_text(tokens[: depth + 1])} does not exist")
    return node


def _container(doc: Any, tokens: list[str]) -> Any:
    parent = _resolve(doc, tokens[:-1])
    if not isinstance(parent, (dict, list)):
        raise _OpFailed(f"the parent of {_pointer_text(tokens)} is not an object or an array")
    return parent


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent, last = _container(doc, tokens), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    else:
        parent.insert(_array_index(last, len(parent), for_add=True, tokens=tokens), value)
    return doc


def _remove(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise _OpFailed("the whole document cannot be removed")
    parent, last = _container(doc, tokens), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _OpFailed(f"the path {_pointer_text(tokens)} does not exist")
        return parent.pop(last)
    return parent.pop(_array_index(last, len(parent), for_add=False, tokens=tokens))


def _value(operation: dict) -> Any:
    if "value" not in operation:
        raise _OpFailed(f"operation {_show(operation.get('op'))} is missing \"value\"")
    return _clone(operation["value"])


def _apply_operation(doc: Any, operation: dict) -> Any:
    op = operation.get("op")
    if op == "add":
        return _add(doc, _pointer(operation, "path"), _value(operation))
    if op == "remove":
        _remove(doc, _pointer(operation, "path"))
        return doc
    if op == "replace":
        tokens = _pointer(operation, "path")
        value = _value(operation)
        if not tokens:
            return value
        _resolve(doc, tokens)  # must exist
        parent, last = _container(doc, tokens), tokens[-1]
        if isinstance(parent, dict):
            parent[last] = value
        else:
            parent[_array_index(last, len(parent), for_add=False, tokens=tokens)] = value
        return doc
    if op == "move":
        source = _pointer(operation, "from")
        target = _pointer(operation, "path")
        if source == target:
            _resolve(doc, source)
            return doc
        if len(target) > len(source) and target[: len(source)] == source:
            raise _OpFailed(f"cannot move {_pointer_text(source)} into its own child {_pointer_text(target)}")
        if not source:
            raise _OpFailed("the whole document cannot be moved")
        value = _remove(doc, source)
        return _add(doc, target, value)
    if op == "copy":
        source = _pointer(operation, "from")
        target = _pointer(operation, "path")
        return _add(doc, target, _clone(_resolve(doc, source)))
    if op == "test":
        tokens = _pointer(operation, "path")
        expected = _value(operation)
        try:
            actual = _resolve(doc, tokens)
        except _OpFailed:
            if expected is None:  # as the apiserver's JSON patch library: absent equals null
                return doc
            raise _OpFailed(f"testing value {_pointer_text(tokens)} failed: test failed") from None
        if not _json_equal(actual, expected):
            raise _OpFailed(f"testing value {_pointer_text(tokens)} failed: test failed")
        return doc
    raise _OpFailed(f"Unexpected kind: {_text(op) if op is not None else 'unknown'}")


# ---------------------------------------------------------------------------------------
# Strategic merge patch: which lists merge, and by what


SET = "<primitive set>"  # a list of scalars merged as an ordered set (finalizers)

_CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})


def _ports(kind: str, path: tuple[str, ...]) -> str | None:
    if path and path[-1] in _CONTAINER_LISTS:
        return "containerPort"
    if kind == "Service" and path == ("spec",):
        return "port"
    return None  # e.g. Endpoints subsets: replaced


def _at(where: tuple[str, ...], rule: str, kinds: Iterable[str] | None = None) -> Callable[[str, tuple[str, ...]], str | None]:
    allowed = frozenset(kinds) if kinds is not None else None

    def lookup(kind: str, path: tuple[str, ...]) -> str | None:
        if path == where and (allowed is None or kind in allowed):
            return rule
        return None

    return lookup


# field name -> merge key, SET, or a function of (kind, path of the map holding the field)
# giving one of those or None. Fields not listed are replaced whole. From the
# patchStrategy/patchMergeKey tags of k8s.io/api core/v1, apps/v1 and meta/v1.
_LIST_RULES: dict[str, Any] = {
    # PodSpec
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
    # Container
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": _ports,
    # status of pods, nodes, deployments, replica sets, namespaces, services, ...
    "conditions": "type",
    "podIPs": "ip",
    "hostIPs": "ip",
    "resourceClaimStatuses": "name",
    "addresses": _at(("status",), "type", {"Node"}),
    # ObjectMeta
    "ownerReferences": _at(("metadata",), "uid"),
    "finalizers": _at(("metadata",), SET),
    # NodeSpec
    "podCIDRs": _at(("spec",), SET, {"Node"}),
    # ServiceAccount
    "secrets": _at((), "name", {"ServiceAccount"}),
}


def _list_rule(field: str, kind: str, path: tuple[str, ...]) -> str | None:
    rule = _LIST_RULES.get(field)
    if callable(rule):
        return rule(kind, path)
    return rule


# ---------------------------------------------------------------------------------------
# Strategic merge patch: the merge


_MISSING = object()


def strategic_merge(current: dict, patch: dict, *, kind: str) -> dict:
    """Kubernetes' strategic merge patch of `patch` onto `current` (a new dict)."""
    return _merge_map(_clone(current), patch, kind, ())


def _no_merge_key(item: Any, key: str) -> APIError:
    return _bad_request(f"map: {_show(item)} does not contain declared merge key: {key}")


def _merge_map(original: dict | None, patch: dict, kind: str, path: tuple[str, ...]) -> dict:
    """`original` is ours to reuse (a clone); `patch` is never modified."""
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            return _merge_map(None, {k: v for k, v in patch.items() if k != _DIRECTIVE}, kind, path)
        if directive == "delete":
            return {}
        raise _bad_request(f"unknown patch type: {_text(directive)} in map: {_show(patch)}")

    result: dict = dict(original) if original else {}

    if _RETAIN_KEYS in patch:
        keep = patch[_RETAIN_KEYS]
        if not isinstance(keep, list):
            raise _bad_request("invalid patch format of retainKeys")
        kept = {k for k in keep if isinstance(k, str)}
        for key, value in patch.items():
            if value is None or key == _RETAIN_KEYS or key.startswith(_DELETE_PREFIX) or key.startswith(_ORDER_PREFIX):
                continue
            if key not in kept:
                raise _bad_request("invalid patch format of retainKeys")
        result = {k: v for k, v in result.items() if k in kept}

    ordered = _apply_element_orders(result, patch, kind, path)

    deletions: list[tuple[str, list]] = []
    for key, value in patch.items():
        if key in ordered or key == _RETAIN_KEYS or key.startswith(_ORDER_PREFIX):
            continue
        if key.startswith(_DELETE_PREFIX):
            field = key[len(_DELETE_PREFIX):]
            if not field or not isinstance(value, list):
                raise _bad_request("invalid patch format of primitive list")
            deletions.append((field, value))
            continue
        if key.startswith("$"):
            raise _bad_request(f'unknown strategic merge patch directive "{key}"')
        if value is None:
            result.pop(key, None)
            continue
        result[key] = _merge_value(result.get(key, _MISSING), value, key, kind, path)

    for field, values in deletions:
        present = result.get(field)
        if isinstance(present, list):
            drop = {_token(v) for v in values}
            result[field] = [item for item in present if _token(item) not in drop]
    return result


def _merge_value(current: Any, value: Any, field: str, kind: str, path: tuple[str, ...]) -> Any:
    child = path + (field,)
    if isinstance(value, dict):
        return _merge_map(current if isinstance(current, dict) else None, value, kind, child)
    if isinstance(value, list):
        rule = _list_rule(field, kind, path)
        if rule is None:
            return _replacement_list(value, kind, child)
        return _merge_list(current if isinstance(current, list) else [], value, rule, kind, child)
    return value


def _replacement_list(value: list, kind: str, path: tuple[str, ...]) -> list:
    """A list that is replaced whole, its maps cleaned of nulls and directives."""
    out = []
    for item in value:
        if isinstance(item, dict):
            if _DIRECTIVE in item:
                directive = item[_DIRECTIVE]
                if directive == "delete":
                    continue
                if directive != "replace":
                    raise _bad_request(f"unknown patch type: {_text(directive)} in map: {_show(item)}")
                item = {k: v for k, v in item.items() if k != _DIRECTIVE}
                if not item:
                    continue
            out.append(_merge_map(None, item, kind, path))
        elif isinstance(item, list):
            out.append(_replacement_list(item, kind, path))
        else:
            out.append(item)
    return out


def _element_shape(*lists: list) -> str | None:
    shape = None
    for values in lists:
        for item in values:
            if isinstance(item, list):
                raise _unprocessable("lists of lists are not supported")
            this = "map" if isinstance(item, dict) else "scalar"
            if shape is None:
                shape = this
            elif shape != this:
                raise _bad_request(f"list element types are not identical: {_show(values)}")
    return shape


def _item_token(item: Any, key: str | None) -> Any:
    if key is None:
        return _token(item)
    if isinstance(item, dict) and key in item:
        return _token(item[key])
    return ("missing", id(item))  # matches nothing


def _merge_list(original: list, patch: list, rule: str, kind: str, path: tuple[str, ...]) -> list:
    if not original and not patch:
        return []
    shape = _element_shape(original, patch)
    if shape == "scalar":
        merged, seen = [], set()
        for item in original + patch:
            token = _token(item)
            if token not in seen:
                seen.add(token)
                merged.append(item)
        in_patch = {_token(item) for item in patch}
        patch_items = [item for item in merged if _token(item) in in_patch]
        server_only = [item for item in merged if _token(item) not in in_patch]
        return _normalize_order(patch_items, server_only, patch, original, None)
    if rule is SET:
        raise _bad_request("cannot merge lists without merge key for type map")
    key = rule

    plain: list[dict] = []
    replace = False
    for item in patch:
        if _DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if key not in item:
                raise _no_merge_key(item, key)
            gone = _token(item[key])
            original = [o for o in original if _item_token(o, key) != gone]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _bad_request("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_request(f"unknown patch type: {_text(directive)} in map: {_show(item)}")
    if replace:
        original = []
        for item in plain:
            if key not in item:
                raise _no_merge_key(item, key)
            original.append(_merge_map(None, item, kind, path))
        plain = []

    merged = list(original)
    where: dict[Any, int] = {}
    for index, item in enumerate(merged):
        where.setdefault(_item_token(item, key), index)
    for item in plain:
        if key not in item:
            raise _no_merge_key(item, key)
        token = _token(item[key])
        index = where.get(token)
        if index is None:
            where[token] = len(merged)
            merged.append(_merge_map(None, item, kind, path))
        else:
            merged[index] = _merge_map(merged[index], item, kind, path)

    in_patch = {_token(item[key]) for item in plain}
    patch_items = [item for item in merged if _item_token(item, key) in in_patch]
    server_only = [item for item in merged if _item_token(item, key) not in in_patch]
    return _normalize_order(patch_items, server_only, plain, original, key)


def _positions(order: list, key: str | None) -> dict[Any, int]:
    positions: dict[Any, int] = {}
    for index, item in enumerate(order):
        positions.setdefault(_item_token(item, key), index)
    return positions


def _sort_by(items: list, order: list, key: str | None) -> list:
    positions = _positions(order, key)
    last = len(order)
    return sorted(items, key=lambda item: positions.get(_item_token(item, key), last))


def _normalize_order(patch_items: list, server_only: list, patch_order: list, server_order: list, key: str | None) -> list:
    """Patch items in patch order, server-only items in server order, interleaved by their
    positions on the server: a server-only item goes first only when the server had it
    before the next patch item (so items new to the server come before it)."""
    patch_items = _sort_by(patch_items, patch_order, key)
    server_only = _sort_by(server_only, server_order, key)
    positions = _positions(server_order, key)
    out: list = []
    i = j = 0
    while i < len(server_only) and j < len(patch_items):
        left = positions.get(_item_token(server_only[i], key))
        right = positions.get(_item_token(patch_items[j], key))
        if left is not None and right is not None and left < right:
            out.append(server_only[i])
            i += 1
        else:
            out.append(patch_items[j])
            j += 1
    out.extend(server_only[i:])
    out.extend(patch_items[j:])
    return out


def _check_order_list(patch_list: list, order: list, key: str | None) -> None:
    """Every item of the patch list (deletions aside) must appear in the
    `$setElementOrder` list, in the same relative order."""
    items = [item for item in patch_list if not (isinstance(item, dict) and _DIRECTIVE in item)]
    if not items or not order:
        return
    for entry in order:
        if key is not None and not (isinstance(entry, dict) and key in entry):
            raise _no_merge_key(entry, key)
    i = j = 0
    while i < len(items) and j < len(order):
        if key is not None and not (isinstance(items[i], dict) and key in items[i]):
            raise _no_merge_key(items[i], key)
        if _item_token(items[i], key) == _item_token(order[j], key):
            i += 1
        j += 1
    if i < len(items):
        raise _bad_request(f"The order in patch list: {_show(patch_list)} doesn't match $setElementOrder list: {_show(order)}")


def _apply_element_orders(result: dict, patch: dict, kind: str, path: tuple[str, ...]) -> set[str]:
    """Merge each list that has a `$setElementOrder/<field>` directive and put it in that
    order. Returns the fields done (the main loop skips them)."""
    done: set[str] = set()
    for directive_key, order in patch.items():
        if not directive_key.startswith(_ORDER_PREFIX):
            continue
        field = directive_key[len(_ORDER_PREFIX):]
        if not field or not isinstance(order, list):
            raise _bad_request("invalid patch format of setElementOrder list")
        rule = _list_rule(field, kind, path)
        if rule is None:
            continue  # a list that is replaced whole: the order is the patch's own
        patch_list = patch.get(field, _MISSING)
        if patch_list is None:
            continue  # the list is being deleted
        if patch_list is not _MISSING and not isinstance(patch_list, list):
            raise _bad_request(f"expected a list for {field}, but received {_json_type(patch_list)}")
        present = result.get(field)
        original = present if isinstance(present, list) else None
        if patch_list is _MISSING and original is None:
            continue
        shape = _element_shape(original or [], patch_list if patch_list is not _MISSING else [], order)
        key = rule if shape == "map" and rule is not SET else None
        if shape == "map" and rule is SET:
            raise _bad_request("cannot merge lists without merge key for type map")
        if patch_list is not _MISSING:
            _check_order_list(patch_list, order, key)
            merged = _merge_list(original or [], patch_list, rule, kind, path + (field,))
        else:
            merged = list(original or [])
        listed = {_item_token(entry, key) for entry in order}
        patch_items = [item for item in merged if _item_token(item, key) in listed]
        server_only = [item for item in merged if _item_token(item, key) not in listed]
        result[field] = _normalize_order(patch_items, server_only, order, original or [], key)
        done.add(field)
    return done


# ---------------------------------------------------------------------------------------
# Server-side apply


def _server_side_apply(current: dict, body: bytes | str, *, kind: str) -> dict:
    config = parse_apply_body(body, api_version=current.get("apiVersion"), kind=kind or current.get("kind"))
    metadata = config.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad_request("error decoding YAML: metadata must be an object")
    if metadata and "managedFields" in metadata:
        raise _bad_request("metadata.managedFields must be nil")
    return strategic_merge(current, config, kind=kind)


# ---------------------------------------------------------------------------------------
# What no patch may change


def _check_identity(current: dict, result: Any) -> dict:
    if not isinstance(result, dict):
        raise _unprocessable(f"the patched object is {_json_type(result)}, not an object")
    # kind and apiVersion come from the URL: a patch cannot change them.
    for field in ("kind", "apiVersion"):
        if field in current:
            result[field] = current[field]
    old_meta = current.get("metadata")
    if not isinstance(old_meta, dict):
        return result
    new_meta = result.get("metadata")
    if new_meta is None:
        new_meta = result["metadata"] = {}
    if not isinstance(new_meta, dict):
        raise _unprocessable(f"metadata must be an object, not {_json_type(new_meta)}")
    old_name = old_meta.get("name")
    if old_name is not None and new_meta.get("name") != old_name:
        raise _bad_request(f"the name of the object ({_text(new_meta.get('name'))}) does not match the name on the URL ({old_name})")
    old_namespace = old_meta.get("namespace")
    new_namespace = new_meta.get("namespace")
    if old_namespace:
        if not new_namespace:
            new_meta["namespace"] = old_namespace
        elif new_namespace != old_namespace:
            raise _bad_request("the namespace of the provided object does not match the namespace sent on the request")
    elif new_namespace:
        raise _bad_request("the namespace of the provided object does not match the namespace sent on the request")
    return result
