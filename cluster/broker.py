"""Celery's Redis transport, with one Redis client per channel instead of one per command.

kombu's Redis channel makes a new `redis.Redis` over its connection pool for each command
it sends outside the consumer's loop: every task sent (LPUSH), every acknowledgement of a
task (acks_late: HDEL and ZREM), every queue length read. redis-py 8 builds a client's
table of reply callbacks (some 170 entries) in its constructor, about 0.7 ms of CPU here:
a quarter of the controller manager's CPU in `manage.py bench`'s (e), and as much in every
process that sends wake-ups. A client holds no connection of its own (each command takes
one from the pool and gives it back, thread-safely), so one made once per channel does the
same work; a new one is made when the channel makes a new pool (after its connection
broke). Selected by CELERY_BROKER_TRANSPORT (config/settings.py); the broker URL stays
redis://.
"""
from __future__ import annotations

from contextlib import contextmanager

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _podflow_client: tuple = (None, None)  # (the pool it was made over, the client)

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        pool = self.pool
        made_over, shared = self._podflow_client
        if shared is None or made_over is not pool:
            shared = self._create_client()
            self._podflow_client = (pool, shared)
        yield shared


class Transport(kombu_redis.Transport):
    Channel = Channel
