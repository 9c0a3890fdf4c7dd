"""The controller manager's work queue on the real broker: what an object's own change asks
for is taken before what other objects' dependents reported (wake.BEHIND), through the
same Redis transport the workers consume with."""
from __future__ import annotations

import os

import kombu
import pytest
import redis
from celery import Celery

from cluster.informers import wake
from tests.conftest import POSTGRES

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(POSTGRES, reason="the work queues are Redis's, whatever the database: they run in the SQLite pass"),
]


def test_a_new_objects_own_reconcile_is_taken_before_what_dependents_reported(live_stack, monkeypatch, settings):
    url = live_stack.redis_url()
    client = redis.Redis.from_url(url, socket_timeout=5)
    app = Celery("work-queues-test", broker=url)
    app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    settings.PODFLOW_WAKE = True
    monkeypatch.setattr(wake, "current_app", app)
    monkeypatch.setattr(wake, "_redis_client", lambda: client)
    # A queue of the test's own, so that the stack's controller manager does not take them.
    queue = f"work-queues-test-{os.getpid()}"
    for name in (wake.RECONCILE_REPLICASET, wake.RECONCILE_DEPLOYMENT):
        monkeypatch.setitem(wake.QUEUES, name, queue)
    cluster_id = 900000 + os.getpid() % 10000  # keys no cluster of the stack has

    try:
        # Twenty ReplicaSets heard from their pods, then a Deployment was created.
        wake.dispatch([(wake.RECONCILE_REPLICASET, (cluster_id, f"rs-{i}")) for i in range(20)])
        wake.dispatch([(wake.RECONCILE_REPLICASET, (cluster_id, "rs-0"))])  # heard again while queued: not queued twice
        wake.dispatch([(wake.RECONCILE_DEPLOYMENT, (cluster_id, "new"))], countdown=0.0)

        taken = []
        with kombu.Connection(url, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as connection:
            inbox = connection.SimpleQueue(queue)
            try:
                for _ in range(21):
                    message = inbox.get(timeout=10)
                    taken.append((message.headers["task"], message.headers["argsrepr"]))
                    message.ack()
            finally:
                inbox.close()
        assert taken[0] == (wake.RECONCILE_DEPLOYMENT, repr([cluster_id, "new"]))
        assert sorted(args for task, args in taken[1:]) == sorted(repr([cluster_id, f"rs-{i}"]) for i in range(20))
    finally:
        client.delete(*client.keys(f"{queue}*") or ["none"], *client.keys(f"podflow:*:{cluster_id}:*") or ["none"])

