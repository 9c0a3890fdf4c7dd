"""One Celery beat at a time (cluster/beat.py): a second beat started beside the stack's
waits as a standby while the first holds the lease in Redis, and takes over when the first
is killed."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
import redis
from django.conf import settings

from cluster import beat
from tests.conftest import POSTGRES
from tests.livehelpers import wait_until

pytestmark = [
    pytest.mark.integration,
    # The lease is Redis's, whatever the database: once, in the SQLite pass.
    pytest.mark.skipif(POSTGRES, reason="the beat lease does not depend on the database engine: it runs in the SQLite pass"),
]


def test_a_second_beat_waits_until_the_first_is_gone(live_stack, tmp_path):
    client = redis.Redis.from_url(live_stack.redis_url(), socket_timeout=5)
    first = wait_until(lambda: client.get(beat.KEY), 30, "the stack's beat to hold the lease").decode()
    assert first == f"{socket.gethostname()}:{live_stack.procs['beat'].pid}"
    log = open(tmp_path / "beat2.log", "wb")
    second = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "-s", str(tmp_path / "schedule"), "-l", "WARNING"],
        env=live_stack._env(), cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_until(lambda: b"waits as a standby" in (tmp_path / "beat2.log").read_bytes(), 60, "the second beat to wait as a standby")
        assert client.get(beat.KEY).decode() == first  # still the first's
        os.killpg(live_stack.procs["beat"].pid, signal.SIGKILL)  # as a crash would
        live_stack.procs["beat"].wait(10)
        taken = wait_until(lambda: (v := client.get(beat.KEY)) and v.decode() != first and v.decode(), beat.LEASE_SECONDS + 3 * beat.RENEW_SECONDS + 10, "the standby to take the lease")
        assert taken.endswith(f":{second.pid}")
        wait_until(lambda: b"holds the lease" in (tmp_path / "beat2.log").read_bytes(), 10, "the standby to say it schedules")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(15)
        log.close()
        live_stack.restart("beat")
