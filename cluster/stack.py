"""Starting and stopping the whole product: Redis, daphne, one Celery worker per role, beat.

`python manage.py runstack` (what `make run` calls), the integration tests and the
benchmark all start the product through this one class, so they run the same processes.
With `postgres=True` it also starts a throwaway PostgreSQL server (Debian's `postgresql`
package: initdb, then the server on a free port of 127.0.0.1) and gives every process its
DATABASE_URL; the test suite (PODFLOW_TEST_POSTGRES=1) and `manage.py bench --postgres`
use it.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings

from cluster import metrics
from cluster.apiserver import tls

ROLES = ("controller-manager", "scheduler", "kubelet")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def postgres_binary(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, or where Debian installs it
    (/usr/lib/postgresql/<version>/bin, the newest version)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return str(versions[-1]) if versions else None


def wait_for(check, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Stack:
    """The product's processes. `env` is passed to every child on top of os.environ."""

    port: int = 8000
    host: str = "127.0.0.1"
    api_port: int = field(default_factory=lambda: int(settings.PODFLOW_API_PORT))
    env: dict[str, str] = field(default_factory=dict)
    var_dir: Path = field(default_factory=lambda: Path(settings.VAR_DIR))
    # One worker per role, as on a real control plane; False runs one worker for all three
    # queues (the smallest footprint).
    worker_per_role: bool = True
    # Celery workers started per role (a second one of a role shares its queue).
    workers_per_role: int = 1
    beat: bool = True
    # A throwaway PostgreSQL server of its own instead of SQLite (start_postgres).
    postgres: bool = False
    pg_dir: Path | None = None
    quiet: bool = False
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    argvs: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def scratch(cls, var_dir: Path, *, postgres: bool = False) -> "Stack":
        """A stack of its own in `var_dir`, beside any other: every port free, its own SQLite
        file (or PostgreSQL server) and Redis (what `manage.py bench` and `manage.py lab
        verify` start)."""
        return cls(
            port=free_port(),
            api_port=free_port(),
            quiet=True,
            var_dir=var_dir,
            postgres=postgres,
            env={
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DATABASE_URL": f"sqlite:///{var_dir}/podflow.sqlite3",
                "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                "PODFLOW_VAR_DIR": str(var_dir),
            },
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"https://{self.host}:{self.api_port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        env["PODFLOW_API_PORT"] = str(self.api_port)
        env.setdefault("PODFLOW_VAR_DIR", str(self.var_dir))
        # Each process counts in its own files there; /metrics adds them up (cluster/metrics.py).
        env[metrics.MULTIPROC_ENV] = str(metrics.multiproc_dir(self.var_dir))
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        out = subprocess.DEVNULL if self.quiet else None
        log_path = self.var_dir / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        stream = open(log_path, "ab") if self.quiet else None
        proc = subprocess.Popen(
            argv,
            env=self._env(),
            cwd=settings.BASE_DIR,
            stdout=stream or out,
            stderr=subprocess.STDOUT if stream else None,
            start_new_session=True,  # a Ctrl-C reaches us; we stop the children in order
        )
        self.procs[name] = proc
        self.argvs[name] = argv
        return proc

    def restart(self, name: str) -> subprocess.Popen:
        """Start a child that exited again, as it was first started."""
        metrics.process_gone(self.procs[name].pid, metrics.multiproc_dir(self.var_dir))
        return self._spawn(name, self.argvs[name])

    def redis_url(self) -> str:
        return self.env.get("REDIS_URL") or os.environ.get("REDIS_URL") or settings.REDIS_URL

    def start_redis(self) -> None:
        """Start a redis-server for REDIS_URL's port unless one already answers there."""
        parsed = urlparse(self.redis_url())
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
        if port_open(host, port):
            return
        if host not in ("127.0.0.1", "localhost"):
            raise RuntimeError(f"Redis at {host}:{port} does not answer")
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        data = self.var_dir / f"redis-{port}"
        data.mkdir(parents=True, exist_ok=True)
        self._spawn("redis", [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(data)])
        wait_for(lambda: port_open(host, port), 15, f"redis-server on port {port}")

    def start_postgres(self) -> str:
        """Start a PostgreSQL server of this stack's own and make it every child's database:
        initdb into a fresh directory (trust authentication, 127.0.0.1 only, fsync off: it
        holds test and benchmark data and is thrown away), the server on a free port, then
        an empty database `podflow`. Returns its URL (also set as DATABASE_URL).

        The server refuses to run as root, so as root it runs as the `postgres` user that
        Debian's package creates, in a directory of its own under the system's temp dir."""
        initdb, server = postgres_binary("initdb"), postgres_binary("postgres")
        if not initdb or not server:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (Debian's package)")
        as_user: list[str] = []
        self.pg_dir = Path(tempfile.mkdtemp(prefix="podflow-pg-"))
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(self.pg_dir, user.pw_uid, user.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        data, port = self.pg_dir / "data", free_port()
        subprocess.run([*as_user, initdb, "-D", str(data), "-U", "podflow", "--auth=trust", "-E", "UTF8", "--locale=C"], check=True, capture_output=True, timeout=120)
        # pg_stat_statements (in Debian's package) counts each statement's calls and time:
        # `manage.py bench --postgres` reads it for where (b)'s time goes in the database.
        statements = Path(server).resolve().parent.parent / "lib" / "pg_stat_statements.so"
        profile = ["-c", "shared_preload_libraries=pg_stat_statements"] if statements.exists() else []
        self._spawn("postgres", [
            *as_user, server, "-D", str(data), "-p", str(port), "-k", str(self.pg_dir), "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300", *profile,
        ])
        url = f"postgres://podflow@127.0.0.1:{port}/podflow"

        def accepts() -> bool:
            import psycopg

            try:
                with psycopg.connect(f"postgresql://podflow@127.0.0.1:{port}/postgres", autocommit=True, connect_timeout=2) as conn:
                    conn.execute("CREATE DATABASE podflow")
                return True
            except psycopg.OperationalError:
                return False  # still starting

        wait_for(accepts, 60, f"PostgreSQL on port {port}", interval=0.2)
        self.env["DATABASE_URL"] = url
        return url

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], env=self._env(), cwd=settings.BASE_DIR, check=True, stdout=subprocess.DEVNULL if self.quiet else None)

    def kubeconfig(self, cluster: str = "demo", server: str | None = None) -> str:
        """The cluster's kubeconfig as `python manage.py kubeconfig` prints it for the shell
        (the page serves it only to the cluster's owner)."""
        args = [sys.executable, "manage.py", "kubeconfig", cluster, "--server", server or self.api_url]
        done = subprocess.run(args, env=self._env(), cwd=settings.BASE_DIR, check=True, capture_output=True, text=True, timeout=60)
        return done.stdout

    def start_workers(self, roles: tuple[str, ...] = ROLES) -> None:
        groups = [(role, [role]) for role in roles] if self.worker_per_role else [("worker", list(roles))]
        for name, queues in groups:
            for i in range(self.workers_per_role):
                self.start_worker(name if i == 0 else f"{name}-{i + 1}", queues)

    def start_worker(self, name: str, queues: list[str]) -> subprocess.Popen:
        return self._spawn(
            name,
            [
                sys.executable, "-m", "celery", "-A", "config", "worker",
                "-Q", ",".join(queues), "-n", f"{name}@%h", "--pool", "solo",
                "--without-gossip", "--without-mingle", "-l", "WARNING",
            ],
        )

    def start_beat(self) -> None:
        schedule = self.var_dir / f"celerybeat-{self.port}"
        self._spawn("beat", [sys.executable, "-m", "celery", "-A", "config", "beat", "-s", str(schedule), "-l", "WARNING"])

    def start_web(self, name: str = "web", port: int | None = None, api_port: int | None = None) -> None:
        """A daphne; another one beside the first (`name`, its own ports) shares everything
        else — the database, Redis and the TLS files — as a second machine's would."""
        port, api_port = port or self.port, api_port or self.api_port
        _, cert, key = tls.ensure(self.var_dir / "tls")
        # One daphne, two doors: plain HTTP for the page, TLS for kubectl and client-go.
        tls_endpoint = f"ssl:{api_port}:interface={self.host}:privateKey={key}:certKey={cert}"
        self._spawn(name, [sys.executable, "-m", "daphne", "-b", self.host, "-p", str(port), "-e", tls_endpoint, "config.asgi:application"])
        wait_for(lambda: port_open(self.host, port) and port_open(self.host, api_port), 30, f"daphne on ports {port} and {api_port}")

    def start(self, *, demo: bool = True, demo_speed: str = "normal") -> "Stack":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        metrics.clear_dir(metrics.multiproc_dir(self.var_dir))  # an earlier run's figures are not this one's
        self.start_redis()
        if self.postgres:
            self.start_postgres()
        self.manage("migrate", "--noinput")
        if self._env().get("DEBUG", "1") != "1":
            # Production serves the collected, hashed and compressed files (web/staticfiles.py).
            self.manage("collectstatic", "--noinput", "-v", "0")
        if demo:
            self.manage("democluster", "--speed", demo_speed)
        self.start_workers()
        if self.beat:
            self.start_beat()
        self.start_web()
        return self

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, sig)
        proc.wait(10)
        metrics.process_gone(proc.pid, metrics.multiproc_dir(self.var_dir))

    def stop(self) -> None:
        # Web and workers first, the database and Redis last, so nobody loses them mid-task.
        last = [n for n in ("postgres", "redis") if n in self.procs]
        order = [n for n in self.procs if n not in last] + last
        for name in order:
            proc = self.procs[name]
            if proc.poll() is None:
                try:
                    # PostgreSQL's fast shutdown (SIGINT) does not wait for clients to leave.
                    os.killpg(proc.pid, signal.SIGINT if name == "postgres" else signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name in order:
            proc = self.procs[name]
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs.clear()
        if self.pg_dir is not None:
            shutil.rmtree(self.pg_dir, ignore_errors=True)
            self.pg_dir = None

    def failed(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
