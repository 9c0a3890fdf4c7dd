"""Whatever a client sends for Services, Endpoints, ConfigMaps and Secrets, the API answers a
Status (400, 409, 422...) and never 500: bodies mutated at random, created and written over."""
from __future__ import annotations

import copy
import json
import random

from django.test import Client

VALUES = [None, 0, -1, 1, 80, 30080, 70000, "", "x", "80", "None", "TCP", "http", [], [1], {}, {"a": 1}, True, 1.5, "10.96.0.10", "a b", "YWJj", "!!"]
BASES = {
    "services": {"kind": "Service", "metadata": {"name": "s"}, "spec": {
        "type": "NodePort", "selector": {"app": "a"}, "clusterIP": "", "externalTrafficPolicy": "Local", "sessionAffinity": "ClientIP",
        "externalIPs": ["1.2.3.4"], "ports": [{"name": "a", "port": 80, "targetPort": "web", "protocol": "TCP"}, {"name": "b", "port": 81}],
    }},
    "secrets": {"kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "YWJj"}, "stringData": {"b": "x"}},
    "configmaps": {"kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"a": "b"}, "binaryData": {"c": "YWJj"}},
    "endpoints": {"kind": "Endpoints", "metadata": {"name": "s"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]},
}
PATH = "/k8s/test/api/v1/namespaces/default/"


def scramble(doc, rng: random.Random, depth: int = 0) -> None:
    """Replace one value somewhere in the document by something of another shape."""
    keys = list(doc) if isinstance(doc, dict) else list(range(len(doc))) if isinstance(doc, list) else []
    if not keys:
        return
    key = rng.choice(keys)
    if rng.random() < 0.5 and depth < 4 and isinstance(doc[key], (dict, list)):
        scramble(doc[key], rng, depth + 1)
    else:
        doc[key] = copy.deepcopy(rng.choice(VALUES))


def body(doc, base: dict, name: str) -> str:
    if not isinstance(doc, dict):
        doc = {}
    doc.update(kind=base["kind"], apiVersion="v1")
    if not isinstance(doc.get("metadata"), dict):
        doc["metadata"] = {}
    doc["metadata"]["name"] = name
    doc["metadata"].pop("resourceVersion", None)
    return json.dumps(doc)


def test_no_input_makes_the_api_answer_500(cluster):
    api = Client(HTTP_AUTHORIZATION=f"Bearer {cluster.token}")
    rng = random.Random(3)
    for plural, base in BASES.items():
        good = copy.deepcopy(base)
        good["metadata"]["name"] = "good"
        assert api.post(PATH + plural, data=json.dumps(good), content_type="application/json").status_code == 201
    for i in range(600):
        plural = rng.choice(list(BASES))
        created = copy.deepcopy(BASES[plural])
        for _ in range(rng.randint(1, 3)):
            scramble(created, rng)
        response = api.post(PATH + plural, data=body(created, BASES[plural], f"s{i}"), content_type="application/json")
        assert response.status_code < 500, (created, response.content)
        current = api.get(f"{PATH}{plural}/good").json()
        for _ in range(rng.randint(1, 3)):
            scramble(current, rng)
        response = api.put(f"{PATH}{plural}/good", data=body(current, BASES[plural], "good"), content_type="application/json")
        assert response.status_code < 500, (current, response.content)
    for tail in ("", "/request", "/proxy-rules"):
        assert api.get(f"/k8s/test/podflow/v1/namespaces/default/services/good{tail}").status_code != 500  # 503: no endpoints is an answer
