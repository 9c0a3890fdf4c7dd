"""The Redis clients of the broker's transport (cluster/broker.py) and of the cache
(cluster/cache.py): made once over a pool, not once per command, on the stack's real Redis."""
from __future__ import annotations

import os

import kombu
import pytest

from tests.conftest import POSTGRES

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(POSTGRES, reason="Redis's clients, whatever the database: they run in the SQLite pass"),
]


def test_the_brokers_channel_sends_and_acknowledges_through_one_redis_client(live_stack, monkeypatch):
    """cluster/broker.py: the workers' transport makes one Redis client per channel, not one
    per command, and a new one when the channel made a new pool (its connection broke)."""
    from cluster import broker

    made: list[bool] = []
    real = broker.Channel._create_client

    def counted(self, asynchronous=False):
        made.append(asynchronous)
        return real(self, asynchronous=asynchronous)

    monkeypatch.setattr(broker.Channel, "_create_client", counted)
    name = f"broker-test-{os.getpid()}"
    with kombu.Connection(live_stack.redis_url(), transport=broker.Transport) as connection:
        channel = connection.channel()
        try:
            queue = kombu.Queue(name, channel=channel)
            queue.declare()
            producer = kombu.Producer(channel)
            for n in range(20):
                producer.publish({"n": n}, routing_key=name)
            taken = [queue.get(no_ack=False) for _ in range(20)]
            for message in taken:
                message.ack()
            assert [m.payload["n"] for m in taken] == list(range(20))
            assert made.count(False) == 1
            channel._disconnect_pools()  # what the channel does when its connection broke
            producer.publish({"n": 20}, routing_key=name)
            again = queue.get(no_ack=False)
            again.ack()
            assert again.payload == {"n": 20}
            assert made.count(False) == 2
        finally:
            channel.queue_delete(name)
            channel.close()


def test_the_cache_reads_and_writes_through_one_redis_client(live_stack, monkeypatch):
    from cluster import cache

    made: list[object] = []
    client = cache.RedisCacheClient([live_stack.redis_url()], socket_timeout=1)
    real = client._client
    monkeypatch.setattr(client, "_client", lambda **kwargs: made.append(kwargs) or real(**kwargs))
    key = f"podflow:test:cache:{os.getpid()}"
    client.set_many({key: 1.5}, 30)
    assert client.get_many([key]) == {key: 1.5}
    assert client.get(key, None) == 1.5
    client.delete(key)
    assert client.get(key, "gone") == "gone"
    assert len(made) == 1
