"""Django's Redis cache, with one Redis client per connection pool instead of one per call.

Django's RedisCacheClient wraps its pool in a new `redis.Redis` for every get, set or
delete. redis-py 8 builds some 170 reply callbacks in that constructor (about 0.7 ms of
CPU here), and the store's metrics listener reads and writes the cache once per
transaction that records steps (cluster/metrics.py): in `manage.py bench`'s (e) that was
hundreds of clients per process. A client holds no connection of its own (each command
takes one from the pool and gives it back, thread-safely), so one per pool does the same
work. Selected by CACHES in config/settings.py.
"""
from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)  # made once per server, then kept
        clients = self.__dict__.setdefault("_podflow_clients", {})
        if pool not in clients:
            clients[pool] = self._client(connection_pool=pool)
        return clients[pool]


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
