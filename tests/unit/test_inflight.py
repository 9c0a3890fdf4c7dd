"""Mutating requests in flight (PODFLOW_MAX_MUTATING_INFLIGHT, as kube-apiserver's
--max-mutating-requests-inflight): a write waits for one of the process's places, gets
429 with Retry-After (and writes nothing) when none comes in time, and a read never waits."""
from __future__ import annotations

import json
import threading
import time

import pytest

from cluster.apiserver.handlers import k8s

from .manifests import counts, pod

PODS = "/k8s/test/api/v1/namespaces/default/pods"


@pytest.fixture
def one_place(monkeypatch) -> threading.BoundedSemaphore:
    """The process has one place, and another write holds it."""
    places = threading.BoundedSemaphore(1)
    monkeypatch.setattr(k8s, "_inflight", places)
    places.acquire()
    yield places
    try:
        places.release()
    except ValueError:  # the test gave it back already
        pass


def create(api, name: str):
    return api.post(PODS, data=json.dumps(pod(name)), content_type="application/json")


def test_a_write_that_finds_no_place_in_time_is_answered_429_and_writes_nothing(api, cluster, one_place, monkeypatch):
    monkeypatch.setattr(k8s, "INFLIGHT_WAIT_SECONDS", 0.3)
    before = counts(cluster)

    started = time.monotonic()
    refused = create(api, "web")
    waited = time.monotonic() - started
    listed = api.get(PODS)  # a read does not wait for a place

    assert refused.status_code == 429, refused.content
    assert refused.json()["reason"] == "TooManyRequests" and int(refused["Retry-After"]) >= 1
    assert waited >= 0.3
    assert counts(cluster) == before
    assert listed.status_code == 200
    one_place.release()
    assert create(api, "web").status_code == 201


def test_a_write_waits_for_a_place_and_goes_through_when_one_is_freed(api, cluster, one_place, monkeypatch):
    monkeypatch.setattr(k8s, "INFLIGHT_WAIT_SECONDS", 10.0)
    threading.Timer(0.2, one_place.release).start()

    started = time.monotonic()
    created = create(api, "web")

    assert created.status_code == 201, created.content
    assert time.monotonic() - started >= 0.2
