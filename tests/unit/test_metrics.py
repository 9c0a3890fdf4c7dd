"""/metrics: who may read it, and what the API, the store, the stream and the stack count.

The unit tests run without PROMETHEUS_MULTIPROC_DIR, so each figure is this process's own
and is read back from prometheus-client's registry.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from cluster import metrics, scheduler
from cluster.apiserver import store
from cluster.componentbase import narration
from cluster.models import Cluster
from config.asgi import application

from .manifests import pod
from .test_consumers import run

PODS = "/k8s/test/api/v1/namespaces/default/pods"
ORIGIN = [(b"origin", b"http://testserver")]


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def total(name: str) -> float:
    """A sample summed over every label set."""
    return sum(s.value for family in REGISTRY.collect() for s in family.samples if s.name == name)


def families(response) -> dict:
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


# --- who may read it ----------------------------------------------------------------------

@pytest.mark.django_db
def test_it_answers_this_machine_in_prometheus_text_format_without_a_token(settings):
    settings.PODFLOW_METRICS_TOKEN = ""

    response = Client().get("/metrics")  # the test client's address is 127.0.0.1

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = families(response)
    assert {"podflow_sandboxes", "podflow_pods", "podflow_store_writes", "podflow_pod_creation_to_step_seconds"} <= set(found)


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"])
def test_it_answers_every_loopback_address(settings, address):
    settings.PODFLOW_METRICS_TOKEN = ""

    assert Client(REMOTE_ADDR=address).get("/metrics").status_code == 200


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.20", "203.0.113.7", "2001:db8::1", "", "not-an-address"])
def test_it_refuses_any_other_address_with_403_saying_how_to_open_it(settings, address):
    settings.PODFLOW_METRICS_TOKEN = ""

    response = Client(REMOTE_ADDR=address).get("/metrics")

    assert response.status_code == 403
    assert b"PODFLOW_METRICS_TOKEN" in response.content and b"Authorization: Bearer" in response.content
    assert b"podflow_" not in response.content


@pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED"])
def test_it_refuses_a_loopback_request_that_came_through_a_proxy(settings, header):
    """A proxy on this machine connects from 127.0.0.1 whoever its client is."""
    settings.PODFLOW_METRICS_TOKEN = ""

    response = Client(**{header: "203.0.113.7"}).get("/metrics")

    assert response.status_code == 403


def test_with_a_token_it_asks_even_this_machine_for_it_with_401(settings):
    settings.PODFLOW_METRICS_TOKEN = "s3cret-token"

    response = Client().get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"Authorization: Bearer" in response.content


@pytest.mark.parametrize("header", ["Bearer wrong-token", "Bearer s3cret-token-and-more", "Basic czNjcmV0LXRva2Vu"])
def test_with_a_token_it_refuses_another_one(settings, header):
    settings.PODFLOW_METRICS_TOKEN = "s3cret-token"

    response = Client(HTTP_AUTHORIZATION=header).get("/metrics")

    assert response.status_code in (401, 403)
    assert b"podflow_" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["127.0.0.1", "203.0.113.7"])
def test_with_a_token_it_answers_the_bearer_from_anywhere(settings, address):
    settings.PODFLOW_METRICS_TOKEN = "s3cret-token"

    response = Client(REMOTE_ADDR=address, HTTP_AUTHORIZATION="Bearer s3cret-token").get("/metrics")

    assert response.status_code == 200
    assert "podflow_sandboxes" in families(response)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_it_only_reads(settings, method):
    settings.PODFLOW_METRICS_TOKEN = ""

    assert Client().generic(method, "/metrics").status_code == 405


# --- what it counts -----------------------------------------------------------------------

@pytest.mark.django_db
def test_it_counts_sandboxes_and_pods_at_scrape_time(cluster, api, settings):
    settings.PODFLOW_METRICS_TOKEN = ""
    api.post(PODS, pod("one"), content_type="application/json")
    api.post(PODS, pod("two"), content_type="application/json")

    found = families(Client().get("/metrics"))

    assert found["podflow_sandboxes"].samples[0].value == Cluster.objects.count() == 1
    assert found["podflow_pods"].samples[0].value == 2


@pytest.mark.django_db
def test_it_times_api_requests_by_verb_and_resource(api, cluster):
    listed = value("podflow_apiserver_request_duration_seconds_count", verb="list", resource="pods")
    created = value("podflow_apiserver_requests_total", verb="create", resource="pods", code="201")
    status = value("podflow_apiserver_request_duration_seconds_count", verb="get", resource="pods/status")

    api.get(PODS)
    api.post(PODS, pod("web"), content_type="application/json")
    api.get(PODS + "/web/status")

    assert value("podflow_apiserver_request_duration_seconds_count", verb="list", resource="pods") == listed + 1
    assert value("podflow_apiserver_requests_total", verb="create", resource="pods", code="201") == created + 1
    assert value("podflow_apiserver_request_duration_seconds_count", verb="get", resource="pods/status") == status + 1


@pytest.mark.django_db
def test_its_api_labels_stay_bounded_whatever_the_url_says(api, cluster):
    resource = value("podflow_apiserver_requests_total", verb="list", resource="unknown", code="404")
    sub = value("podflow_apiserver_request_duration_seconds_count", verb="get", resource="pods/unknown")
    verb = value("podflow_apiserver_request_duration_seconds_count", verb="unknown", resource="pods")

    api.get("/k8s/test/api/v1/namespaces/default/made-up-things")
    api.get(PODS + "/web/made-up-sub")
    api.generic("FROB", PODS + "/web")

    assert value("podflow_apiserver_requests_total", verb="list", resource="unknown", code="404") == resource + 1
    assert value("podflow_apiserver_request_duration_seconds_count", verb="get", resource="pods/unknown") == sub + 1
    assert value("podflow_apiserver_request_duration_seconds_count", verb="unknown", resource="pods") == verb + 1
    resources = {s.labels["resource"] for family in REGISTRY.collect() for s in family.samples if "resource" in s.labels}
    assert resources <= metrics.RESOURCES | {f"{r}/{s}" for r in metrics.RESOURCES | {"unknown"} for s in metrics.SUBRESOURCES | {"unknown"}} | {"unknown", ""}


@pytest.mark.django_db
def test_it_times_every_http_request_by_view(cluster):
    before = value("podflow_http_request_duration_seconds_count", method="GET", view="healthz")
    missing = value("podflow_http_responses_total", method="GET", view="unmatched", code="404")

    Client().get("/healthz")
    Client().get("/no/such/page")

    assert value("podflow_http_request_duration_seconds_count", method="GET", view="healthz") == before + 1
    assert value("podflow_http_responses_total", method="GET", view="unmatched", code="404") == missing + 1


@pytest.mark.django_db
def test_it_counts_each_committed_transaction_and_its_revisions(cluster, django_capture_on_commit_callbacks):
    writes, revisions = value("podflow_store_writes_total"), total("podflow_store_revisions_total")
    added = value("podflow_store_revisions_total", kind="Pod", type="ADDED")
    start = store.current_revision(cluster)

    with django_capture_on_commit_callbacks(execute=True):
        with store.locked(cluster):  # one transaction: the pod, then its binding and events
            created = store.create(cluster, pod("web"))
            scheduler.schedule(cluster, created["metadata"]["uid"])

    assert value("podflow_store_writes_total") == writes + 1
    assert total("podflow_store_revisions_total") == revisions + store.current_revision(cluster) - start
    assert store.current_revision(cluster) - start > 2
    assert value("podflow_store_revisions_total", kind="Pod", type="ADDED") == added + 1


@pytest.mark.django_db
def test_it_times_each_step_from_the_pods_creation(cluster, clock, django_capture_on_commit_callbacks):
    def counted(step: int) -> tuple[float, float]:
        labels = {"step": str(step)}
        return value("podflow_pod_creation_to_step_seconds_count", **labels), value("podflow_pod_creation_to_step_seconds_sum", **labels)

    before = {n: counted(n) for n in (1, 2, 3, 4)}
    with django_capture_on_commit_callbacks(execute=True):
        created = store.create(cluster, pod("web"), steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))
    metrics._created.clear()  # the scheduler is another process: it finds the creation in the shared cache
    clock.advance(2.5)
    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.schedule(cluster, created["metadata"]["uid"])

    assert counted(1) == (before[1][0] + 1, before[1][1])  # recorded with the creation
    assert counted(2) == (before[2][0] + 1, before[2][1])
    assert counted(3) == before[3]  # not needed for a bare pod
    assert counted(4) == (before[4][0] + 1, pytest.approx(before[4][1] + 2.5))


@pytest.mark.django_db
def test_a_step_of_a_pod_whose_creation_is_unknown_is_not_timed(cluster, clock, django_capture_on_commit_callbacks):
    created = store.create(cluster, pod("web"), steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))
    before = value("podflow_pod_creation_to_step_seconds_count", step="4")

    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.schedule(cluster, created["metadata"]["uid"])

    assert value("podflow_pod_creation_to_step_seconds_count", step="4") == before


# --- the stream ---------------------------------------------------------------------------

@database_sync_to_async
def token_and_revision(name: str) -> tuple[str, int]:
    found = Cluster.objects.get(name=name)
    return found.token, found.revision


@database_sync_to_async
def create_pods(cluster, *names: str) -> None:
    for name in names:
        store.create(cluster, pod(name))


async def follow(path: str, token: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN + [(b"authorization", f"Bearer {token}".encode())])
    ok, code = await communicator.connect()
    assert ok, code
    return communicator


@pytest.mark.django_db(transaction=True)
@run
async def test_it_counts_followers_frames_and_changes_replayed_from_the_change_log(cluster):
    token, since = await token_and_revision("test")
    await create_pods(cluster, "a", "b", "c")
    followers = value("podflow_stream_followers")
    frames = value("podflow_stream_frames_sent_total", type="change") + value("podflow_stream_frames_sent_total", type="changes")
    backfilled, coalesced = value("podflow_stream_changes_backfilled_total"), value("podflow_stream_changes_coalesced_total")

    communicator = await follow(f"/ws/clusters/test/?since={since}", token)
    assert (await communicator.receive_json_from())["type"] == "cluster"
    received: list[dict] = []  # each change alone ("change") or several to a frame ("changes")
    while sum(len(frame.get("entries", [frame])) for frame in received) < 3:
        received.append(await communicator.receive_json_from())
    assert {frame["type"] for frame in received} <= {"change", "changes"}

    assert value("podflow_stream_followers") == followers + 1
    assert value("podflow_stream_frames_sent_total", type="change") + value("podflow_stream_frames_sent_total", type="changes") == frames + len(received)
    assert value("podflow_stream_changes_backfilled_total") == backfilled + 3
    several = [frame for frame in received if len(frame.get("entries", [frame])) > 1]
    assert value("podflow_stream_changes_coalesced_total") == coalesced + sum(len(frame["entries"]) for frame in several)
    await communicator.disconnect()
    assert value("podflow_stream_followers") == followers


# --- the multiprocess directory -----------------------------------------------------------

def test_clearing_the_directory_removes_only_metrics_files(tmp_path):
    (tmp_path / "counter_123.db").write_bytes(b"x")
    (tmp_path / "gauge_livesum_123.db").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("mine")

    metrics.clear_dir(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_process_gone_is_followed_no_more_but_what_it_counted_stays(tmp_path):
    for name in ("counter_41.db", "gauge_livesum_41.db", "gauge_livesum_42.db", "histogram_41.db"):
        (tmp_path / name).write_bytes(b"x")

    metrics.process_gone(41, tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_41.db", "gauge_livesum_42.db", "histogram_41.db"]


def test_the_stack_gives_every_child_its_own_directory_under_its_var_dir(tmp_path):
    from cluster.stack import Stack

    env = Stack(var_dir=tmp_path)._env()

    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "metrics")
    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR") != env["PROMETHEUS_MULTIPROC_DIR"]


def test_a_countdown_is_not_counted_as_time_in_the_queue():
    """task_prerun as a worker sends it for a task published 10 s ago with a countdown that
    ended half a second ago (the live stack's workers send the real one: tests/integration)."""
    now = time.time()
    request = SimpleNamespace(
        delivery_info={"routing_key": "kubelet"},
        eta=datetime.fromtimestamp(now - 0.5, timezone.utc).isoformat(),
        podflow_published=now - 10,
    )
    task = SimpleNamespace(name="cluster.tasks.sync_pod", request=request)
    before = value("podflow_celery_task_queued_seconds_sum", queue="kubelet", task="cluster.tasks.sync_pod")
    runs = value("podflow_celery_task_run_seconds_count", queue="kubelet", task="cluster.tasks.sync_pod")

    metrics._task_started(task_id="t-1", task=task)
    metrics._task_finished(task_id="t-1")

    waited = value("podflow_celery_task_queued_seconds_sum", queue="kubelet", task="cluster.tasks.sync_pod") - before
    assert 0.4 < waited < 5
    assert value("podflow_celery_task_run_seconds_count", queue="kubelet", task="cluster.tasks.sync_pod") == runs + 1


def test_a_pods_creation_time_is_cached_before_any_component_is_woken_for_it():
    """The commit listeners run in order: the metrics' (which caches a new pod's creation
    time) before the informers' (which wakes the scheduler). The other way round the
    scheduler could bind the pod and record step 4 before the time was there, untimed."""
    from cluster import metrics as cluster_metrics
    from cluster.apiserver import store
    from cluster.informers import wake

    assert store._listeners.index(cluster_metrics.committed) < store._listeners.index(wake.route)
