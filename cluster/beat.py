"""One Celery beat at a time, however many are started.

Beat sends the periodic tasks (the resync, heartbeats, the node monitor, the expiry jobs);
two beats would send each twice. Several machines may each start one for safety, and a
supervisor restarts a beat that died: so every beat, before it schedules anything, takes a
lease in Redis (`SET podflow:beat <who> NX PX`), renews it every RENEW_SECONDS, and lets
it expire after LEASE_SECONDS without renewal. A beat that finds the lease taken waits
as a standby, trying again every RENEW_SECONDS, and takes over within LEASE_SECONDS of the
holder's death. A holder that finds its lease gone (Redis lost it, or it was stalled past
the lease and another took over) exits at once, so two never send together for longer
than one renewal.

Connected to Celery's `beat_init` signal in config/celery.py: the signal runs in beat's
own process before its first tick, and blocking in it holds the schedule back.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

from django.conf import settings

log = logging.getLogger("podflow.beat")

KEY = "podflow:beat"
LEASE_SECONDS = 15.0
RENEW_SECONDS = 3.0

# Renew the lease only while it is still ours: compare and extend in one step.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)


def acquire(client, me: str) -> bool:
    return bool(client.set(KEY, me, nx=True, px=int(LEASE_SECONDS * 1000)))


def renew(client, me: str) -> bool:
    return bool(client.eval(_RENEW, 1, KEY, me, int(LEASE_SECONDS * 1000)))


def hold(client=None, me: str | None = None, *, exit=os._exit) -> None:
    """Wait until this process holds the beat lease, then keep it renewed from a thread;
    losing it ends the process (`exit`)."""
    client = client or _client()
    me = me or holder_name()
    told = False
    while True:
        try:
            if acquire(client, me):
                break
            if not told:
                log.warning("another Celery beat (%s) holds the lease: this one (%s) waits as a standby", client.get(KEY), me)
                told = True
        except Exception as exc:  # Redis away: wait for it like any other process
            log.warning("beat lease: Redis did not answer (%s); trying again", exc)
        time.sleep(RENEW_SECONDS)
    log.warning("this Celery beat (%s) holds the lease and schedules the periodic tasks", me)

    def keep() -> None:
        while True:
            time.sleep(RENEW_SECONDS)
            try:
                ours = renew(client, me)
            except Exception as exc:
                log.warning("beat lease: could not renew (%s)", exc)
                continue  # the lease outlives a short Redis hiccup
            if not ours:
                log.error("this Celery beat (%s) lost its lease to another: it stops", me)
                exit(1)
                return

    threading.Thread(target=keep, name="podflow-beat-lease", daemon=True).start()


def on_beat_init(sender=None, **kwargs) -> None:
    hold()
