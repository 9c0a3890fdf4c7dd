"""JSON text as the store and the stream write and read it, thousands of times a second.

Every write encodes its document once and every read decodes one; every change is encoded
again for the page's stream. orjson (compiled) does both for a tenth (writing) and under
half (reading) of the standard library's time, with the same text for what we store: UTF-8
JSON without spaces, keys in their order. Where orjson would not give json's answer, json
gives it:

- writing: a key that is not a string, an integer beyond 64 bits, a string with a lone
  surrogate, an object orjson does not know (TypeError from orjson; json then writes it or
  raises as it always did); for `ascii_text`, any text not all printable ASCII (json
  escapes the rest);
- reading: NaN and Infinity, a number out of a float's range, an escaped lone surrogate
  (JSONDecodeError from orjson; json reads them as before).

One difference is left as orjson has it: a small float's form (`0.00001` against json's
`1e-05`), the same number read back. orjson reads an
integer beyond 64 bits as a float; no stored document holds one (the API server refuses
them: cluster/apiserver/serializers/patch.py).
"""
from __future__ import annotations

import json
from typing import Any

import orjson


def text(value: Any) -> str:
    """As json.dumps(value, separators=(",", ":"), ensure_ascii=False)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def utf8(value: Any) -> bytes:
    """`text(value)` in UTF-8 (what a size in bytes is measured on)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def ascii_text(value: Any) -> str:
    """As json.dumps(value, separators=(",", ":")): anything not ASCII escaped."""
    try:
        found = orjson.dumps(value).decode()
    except TypeError:
        found = None
    if found is None or not found.isascii() or "\x7f" in found:  # json escapes DEL too
        return json.dumps(value, separators=(",", ":"))
    return found


def loads(data: str | bytes) -> Any:
    """As json.loads(data)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
