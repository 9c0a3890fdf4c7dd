"""/metrics on the real stack: every process's figures added up in daphne's answer."""
from __future__ import annotations

import os
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cluster.stack import ROLES
from tests.livehelpers import Stream, http, is_ready, pod_manifest, wait_until

pytestmark = pytest.mark.integration

PODS = "/k8s/demo/api/v1/namespaces/default/pods"


def scrape(base: str) -> dict:
    """/metrics parsed by prometheus-client's own text parser, by family name."""
    request = urllib.request.Request(base + "/metrics")
    if os.environ.get("PODFLOW_METRICS_TOKEN"):  # the stack's processes inherit it
        request.add_header("Authorization", "Bearer " + os.environ["PODFLOW_METRICS_TOKEN"])
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        text = response.read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families: dict, family: str, name: str, **labels: str) -> float:
    found = families.get(family)
    return sum(s.value for s in (found.samples if found else []) if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def step_count(families: dict, step: int) -> float:
    return sample(families, "podflow_pod_creation_to_step_seconds", "podflow_pod_creation_to_step_seconds_count", step=str(step))


def test_its_step_histogram_counts_a_pod_created_here_when_the_kubelet_reports_it_ready(live_stack):
    before = scrape(live_stack.url)

    status, created = http(live_stack.url, "POST", PODS, pod_manifest("metered"))
    assert status == 201, created
    wait_until(lambda: is_ready(http(live_stack.url, "GET", PODS + "/metered")[1]), 30, "pod metered to be Ready")

    def counted() -> dict | None:
        families = scrape(live_stack.url)
        return families if step_count(families, 8) >= step_count(before, 8) + 1 else None

    # The kubelet's worker counts step 8 right after its commit, the moment the pod is Ready.
    after = wait_until(counted, 10, "step 8 to be counted")
    for step in (1, 2, 4, 5, 6, 7):  # each recorded by another process: daphne, the scheduler, the kubelet
        assert step_count(after, step) >= step_count(before, step) + 1, step
    assert step_count(after, 3) == step_count(before, 3)  # not needed for a bare pod
    assert sample(after, "podflow_apiserver_request_duration_seconds", "podflow_apiserver_request_duration_seconds_count", verb="create", resource="pods") >= 1
    assert sample(after, "podflow_store_writes", "podflow_store_writes_total") > sample(before, "podflow_store_writes", "podflow_store_writes_total")


def test_it_adds_up_every_roles_celery_tasks_and_reads_the_queues_and_the_store(live_stack):
    status, created = http(live_stack.url, "POST", PODS, pod_manifest("metered-tasks"))
    assert status == 201, created
    wait_until(lambda: is_ready(http(live_stack.url, "GET", PODS + "/metered-tasks")[1]), 30, "pod metered-tasks to be Ready")

    families = scrape(live_stack.url)

    for role in ROLES:
        assert sample(families, "podflow_celery_task_run_seconds", "podflow_celery_task_run_seconds_count", queue=role) >= 1, role
    assert sample(families, "podflow_celery_task_queued_seconds", "podflow_celery_task_queued_seconds_count", queue="kubelet") >= 1
    assert {s.labels["queue"] for s in families["podflow_celery_queue_length"].samples} == set(ROLES)
    assert sample(families, "podflow_sandboxes", "podflow_sandboxes") >= 1
    assert sample(families, "podflow_http_request_duration_seconds", "podflow_http_request_duration_seconds_count", view="healthz") >= 1


def test_it_counts_the_streams_followers_while_they_follow(live_stack):
    followers = sample(scrape(live_stack.url), "podflow_stream_followers", "podflow_stream_followers")

    with Stream(live_stack.url) as stream:
        stream.receive_until(lambda m: m["type"] == "snapshot", 10, "the snapshot")
        during = scrape(live_stack.url)
        assert sample(during, "podflow_stream_followers", "podflow_stream_followers") == followers + 1
        assert sample(during, "podflow_stream_frames_sent", "podflow_stream_frames_sent_total", type="snapshot") >= 1

    wait_until(lambda: sample(scrape(live_stack.url), "podflow_stream_followers", "podflow_stream_followers") == followers, 10, "the follower to be gone")
