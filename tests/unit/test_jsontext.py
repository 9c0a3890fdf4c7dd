"""The store's and the stream's JSON text (cluster/apimachinery/jsontext.py): orjson where it
gives json's answer, json where it would not."""
from __future__ import annotations

import json
import random

import pytest

from cluster.apimachinery import jsontext

ODD = [
    {1: "an int key"}, {"big": 2**70}, {"s": "\ud800"}, {"del": "\x7f"}, {"ctl": "\x00\x1f\n\t"}, {"ls": "\u2028\u2029"},
    {"é": ["ü", "😀"]}, {"f": [1e16, 0.1, -0.0, 5e-324]}, [], {}, "text", 0, None, True,
]


@pytest.mark.parametrize("value", ODD)
def test_odd_values_are_written_as_json_writes_them(value):
    assert jsontext.text(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert jsontext.ascii_text(value) == json.dumps(value, separators=(",", ":"))


def test_what_orjson_cannot_write_fails_as_json_fails():
    with pytest.raises(TypeError):
        jsontext.text({"x": object()})
    with pytest.raises(UnicodeEncodeError):
        jsontext.utf8({"s": "\ud800"})


@pytest.mark.parametrize("text", ['{"a":NaN}', "[Infinity,-Infinity]", "1e400", '"\\ud800"', '{"a":1,"a":2}', " [ 1 , 2 ] ", '"\\u00e9"'])
def test_odd_texts_are_read_as_json_reads_them(text):
    expected, found = json.loads(text), jsontext.loads(text)
    assert repr(found) == repr(expected)


def test_bad_json_is_refused_as_json_refuses_it():
    with pytest.raises(json.JSONDecodeError):
        jsontext.loads('{"a":')


def test_random_documents_are_written_and_read_as_json_does():
    rnd = random.Random(5)
    chars = [chr(i) for i in range(0x250)] + ["\u2028", "\ufeff", "😀", "\ud800", "\udfff"]
    for _ in range(3000):
        word = "".join(rnd.choice(chars) for _ in range(rnd.randrange(8)))
        value = {"k" + word: [word, rnd.randrange(-2**63, 2**63), rnd.choice([True, False, None]), {"n": [word]}]}
        assert jsontext.text(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        assert jsontext.ascii_text(value) == json.dumps(value, separators=(",", ":"))
        for written in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
            assert jsontext.loads(written) == json.loads(written)
