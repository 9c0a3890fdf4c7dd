"""Label and field selectors, as ?labelSelector= and ?fieldSelector= take them."""
from __future__ import annotations

import pytest

from cluster.apimachinery import selectors
from cluster.apimachinery.errors import APIError

WEB = {"app": "web", "tier": "front"}
DB = {"app": "db"}
NONE: dict = {}


@pytest.mark.parametrize(
    "text,matches",
    [
        ("", [WEB, DB, NONE]),
        ("app=web", [WEB]),
        ("app==web", [WEB]),
        ("app!=web", [DB, NONE]),
        ("app=web,tier=front", [WEB]),
        ("app in (web, db)", [WEB, DB]),
        ("app notin (web)", [DB, NONE]),
        ("tier", [WEB]),
        ("!tier", [DB, NONE]),
        ("app in (web,db),!tier", [DB]),
    ],
)
def test_it_matches_labels_as_kubernetes_does(text, matches):
    test = selectors.label_selector(text)

    assert [labels for labels in (WEB, DB, NONE) if test(labels)] == matches


@pytest.mark.parametrize("text", ["=web", "app=we b", "a b", "app=web=x", "!", "app in (web"])
def test_it_refuses_a_malformed_label_selector_with_a_400_status(text):
    with pytest.raises(APIError) as caught:
        selectors.label_selector(text)

    status = caught.value.status()
    assert (status["code"], status["reason"], status["kind"]) == (400, "BadRequest", "Status")
    assert "unable to parse requirement" in status["message"]


POD = {"kind": "Pod", "metadata": {"name": "web", "namespace": "default"}, "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(
    "text,match",
    [
        ("metadata.name=web", True),
        ("metadata.name==other", False),
        ("spec.nodeName=node-1,status.phase!=Succeeded", True),
        ("status.phase!=Running", False),
        ("metadata.namespace=default", True),
    ],
)
def test_it_matches_fields(text, match):
    assert selectors.field_selector(text)(POD) is match


def test_it_refuses_an_unknown_field_with_a_400_status():
    with pytest.raises(APIError) as caught:
        selectors.field_selector("spec.colour=blue")

    assert caught.value.code == 400
    assert '"spec.colour" is not a known field selector' in caught.value.message


def test_it_refuses_a_field_requirement_without_an_operator():
    with pytest.raises(APIError) as caught:
        selectors.field_selector("metadata.name")

    assert caught.value.code == 400
