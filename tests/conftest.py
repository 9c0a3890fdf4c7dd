import os
from pathlib import Path

import pytest

from cluster.apimachinery import metav1
from cluster.demo import ensure_cluster
from cluster.models import Speed


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with no attempt counted (the unit tests' cache is in-process)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def cluster(db):
    """A fresh demo-like cluster: namespaces and three Ready nodes, instant speed."""
    created, _ = ensure_cluster("test", nodes=3, speed=Speed.INSTANT)
    return created


class Clock:
    """metav1.now under the test's control: time moves only when the test says so."""

    def __init__(self) -> None:
        self.moment = metav1.now()

    def __call__(self):
        return self.moment

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(metav1, "now", clock)
    return clock


# The integration and browser tests run against PostgreSQL instead of SQLite.
POSTGRES = os.environ.get("PODFLOW_TEST_POSTGRES") == "1"


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory):
    """The real product: redis-server, daphne, one Celery worker per role, beat.

    Its own ports, its own SQLite file and Redis, so it never touches `make run`'s; with
    PODFLOW_TEST_POSTGRES=1 its own throwaway PostgreSQL server instead of SQLite (Stack.
    start_postgres). The demo cluster starts at instant speed. Logs land in <tmp>/logs/
    (printed on failure).
    """
    from cluster.stack import Stack, free_port

    var = tmp_path_factory.mktemp("stack")
    redis_port = free_port()
    stack = Stack(
        port=free_port(),
        api_port=free_port(),
        quiet=True,
        var_dir=Path(var),
        postgres=POSTGRES and not os.environ.get("PODFLOW_TEST_DATABASE_URL"),
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings",
            # PODFLOW_TEST_DATABASE_URL runs the live stack on PostgreSQL instead (it must
            # be an empty database: migrations run against it).
            "DATABASE_URL": os.environ.get("PODFLOW_TEST_DATABASE_URL") or f"sqlite:///{var}/podflow.sqlite3",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "PODFLOW_VAR_DIR": str(var),
            "PODFLOW_RESYNC_SECONDS": "1",
        },
    )
    try:
        stack.start(demo_speed="instant")
    except Exception:
        stack.stop()
        _print_logs(var)
        raise
    from tests import livehelpers

    livehelpers.kubeconfig_sources[stack.url] = stack.kubeconfig
    # Every worker answers before the first test (they boot after daphne's port opens).
    livehelpers.wait_until(lambda: livehelpers.http(stack.url, "GET", "/healthz")[0] == 200, 90, "every worker role to answer /healthz", interval=0.5)
    yield stack
    stack.stop()


def _print_logs(var: Path) -> None:
    for log in sorted((var / "logs").glob("*.log")):
        print(f"--- {log.name} ---")
        print(log.read_text(errors="replace")[-4000:])


@pytest.fixture(scope="session")
def kubectl(live_stack, tmp_path_factory):
    """Run the real kubectl against the live stack, with demo's kubeconfig from `manage.py kubeconfig`."""
    import shutil
    import subprocess

    if shutil.which("kubectl") is None:
        pytest.skip("no kubectl on PATH")
    home = tmp_path_factory.mktemp("kubectl")
    config = home / "kubeconfig"
    config.write_text(live_stack.kubeconfig("demo"))

    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(home)}
        result = subprocess.run(
            ["kubectl", "--cache-dir", str(home / "cache"), *args],
            input=input, capture_output=True, text=True, env=env, timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    run.kubeconfig = config
    return run
