"""The labs from the command line.

    python manage.py lab list                         the catalogue
    python manage.py lab validate [path.yaml ...]     check lab files (default: every lab);
                                                      each problem named with its line
    python manage.py lab verify [<id> ...] [--file path.yaml ...] [--url URL] [--jobs N]
        run each lab (default: every lab) on a fresh cluster with real workers: every
        check fails before its solution and passes after it; one line per check; exits 1
        on any failure. --file validates a lab being written (problems → exit 1) and
        verifies it if it is valid. --jobs verifies N labs at once (threads, a cluster
        each: most of a lab's time is waiting for the cluster at normal speed).

`verify` needs the whole product running. With --url it uses the stack at that address,
which must share this process's settings (DATABASE_URL, REDIS_URL, PODFLOW_VAR_DIR and
PODFLOW_API_PORT: `make run`'s, when run from the same checkout): the labs' own actions go
through this process's store, the workers act on them, and kubectl reaches the stack's API.
Without --url it starts a stack of its own in a temporary directory (Redis, daphne, a
Celery worker per role, beat), as `manage.py bench` does, runs itself against it, and
stops it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

import cluster.labs as labs
from cluster.labs import verify as verifying
from cluster.labs.schema import Lab, LabFileError, load_file


class Command(BaseCommand):
    help = "List, validate and verify the labs (labs/*.yaml)."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        sub.add_parser("list", help="the catalogue")
        validate = sub.add_parser("validate", help="check lab files; each problem with its line")
        validate.add_argument("paths", nargs="*", help="lab files (default: every file in labs/)")
        verify = sub.add_parser("verify", help="run labs on fresh clusters: checks fail before their solution and pass after")
        verify.add_argument("ids", nargs="*", help="lab ids (default: every lab, unless --file is given)")
        verify.add_argument("--file", action="append", default=[], help="a lab file to validate and then verify (may be repeated)")
        verify.add_argument("--url", default="", help="the running stack to use (e.g. http://127.0.0.1:8000); default: start one")
        verify.add_argument("--timeout", type=float, default=None, help="seconds each step's checks may take to pass (default: the lab's verify.timeout, 60)")
        verify.add_argument("--jobs", type=int, default=1, help="labs verified at once, each on its own cluster (default 1); lines name their lab")

    def handle(self, *args, **options) -> None:
        what = options["what"]
        if what == "list":
            self._list()
        elif what == "validate":
            self._validate(options["paths"])
        else:
            self._verify(options)

    # --- list and validate -------------------------------------------------------------------

    def _list(self) -> None:
        found = labs.catalogue()
        if not found:
            self.stdout.write(f"no labs in {labs.labs_dir()}")
            return
        self.stdout.write(f"{'#':>3}  {'id':<24} {'level':<13} {'min':>4} {'steps':>5}  title")
        for lab in found:
            self.stdout.write(f"{lab.number or '':>3}  {lab.id:<24} {lab.level:<13} {lab.minutes:>4} {len(lab.steps):>5}  {lab.title.en}")

    def _read(self, paths: list[str]) -> tuple[list[Lab], list[str]]:
        """The labs in these files, and every problem found in them."""
        found, problems = [], []
        for path in paths:
            try:
                found.append(load_file(path))
            except LabFileError as exc:
                problems.extend(str(p) for p in exc.problems)
        return found, problems

    def _validate(self, paths: list[str]) -> None:
        files = paths or [str(p) for p in labs.lab_files()]
        found, problems = self._read(files)
        for lab in found:
            self.stdout.write(f"{lab.path}: {lab.id} · {len(lab.steps)} steps · valid")
        if problems:
            for line in problems:
                self.stderr.write(line)
            raise CommandError(f"{len(problems)} problem(s) in the lab files")

    # --- verify ----------------------------------------------------------------------------------

    def _verify(self, options: dict) -> None:
        chosen, problems = self._read(options["file"])
        if problems:
            for line in problems:
                self.stderr.write(line)
            raise CommandError(f"{len(problems)} problem(s): the lab is not verified until it is valid")
        by_id = {lab.id: lab for lab in labs.catalogue()}
        unknown = [i for i in options["ids"] if i not in by_id]
        if unknown:
            raise CommandError(f"no such lab: {', '.join(unknown)} (python manage.py lab list)")
        chosen += [by_id[i] for i in options["ids"]]
        if not options["ids"] and not options["file"]:
            chosen = list(by_id.values())
            broken = [str(p) for p in labs.lab_files() if p.stem not in by_id]
            if broken:
                _, problems = self._read(broken)
                for line in problems:
                    self.stderr.write(line)
                raise CommandError(f"{len(broken)} lab file(s) are not valid")
        if not chosen:
            raise CommandError("no lab to verify")
        if not options["url"]:
            self._verify_on_own_stack(options, chosen)
            return
        self._check_stack(options["url"])
        jobs = max(1, min(options["jobs"] or 1, len(chosen), 8))
        printing = threading.Lock()

        def emit(line: str) -> None:
            with printing:
                self.stdout.write(line)

        def one(lab: Lab) -> bool:
            try:
                return verifying.verify(lab, emit=emit, timeout=options["timeout"]).ok
            except Exception as exc:  # one lab's crash is its failure, not the others'
                emit(f"lab {lab.id} · failed: {type(exc).__name__}: {exc}")
                return False
            finally:
                if jobs > 1:
                    connections.close_all()  # this thread's own connections

        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="lab-verify") as pool:
            results = list(pool.map(one, chosen))
        failed = [lab.id for lab, ok in zip(chosen, results) if not ok]
        if failed:
            raise CommandError(f"lab verify failed: {', '.join(failed)}")
        self.stdout.write(f"{len(chosen)} lab(s) verified")

    def _check_stack(self, url: str) -> None:
        """The stack answers and its workers are up, and it reads this process's database
        (a cluster made here must open there)."""
        from cluster.demo import ensure_cluster

        status, body = _get(url, "/healthz?timeout=2")
        if status != 200:
            raise CommandError(f"the stack at {url} is not healthy ({status}): {json.dumps(body)[:300]}")
        probe, _ = ensure_cluster(f"verify-probe-{os.getpid()}", nodes=1)
        try:
            status, _ = _get(url, f"/k8s/{probe.name}/api/v1/namespaces", token=probe.token)
        finally:
            probe.delete()
        if status != 200:
            raise CommandError(
                f"the stack at {url} does not see this process's database (a cluster made here answers {status} there): "
                "run this command with the stack's DATABASE_URL, REDIS_URL, PODFLOW_VAR_DIR and PODFLOW_API_PORT, or leave out --url"
            )

    def _verify_on_own_stack(self, options: dict, chosen: list[Lab]) -> None:
        from cluster.stack import Stack, wait_for

        with tempfile.TemporaryDirectory(prefix="podflow-lab-verify-") as tmp:
            var = Path(tmp)
            stack = Stack.scratch(var)
            self.stdout.write("starting a stack of its own (redis-server, daphne, a Celery worker per role, beat) ...")
            try:
                stack.start(demo=False)
                wait_for(lambda: _get(stack.url, "/healthz?timeout=0.5")[0] == 200, 90, "every role's worker to answer /healthz", interval=0.2)
                argv = [sys.executable, "manage.py", "lab", "verify", "--url", stack.url]
                argv += [a for lab in chosen for a in ("--file", lab.file)]
                if options["timeout"]:
                    argv += ["--timeout", str(options["timeout"])]
                argv += ["--jobs", str(options["jobs"] or 1)]
                env = {**os.environ, **stack.env, "PODFLOW_API_PORT": str(stack.api_port)}
                code = subprocess.run(argv, env=env, cwd=settings.BASE_DIR).returncode
            except Exception:
                self._print_logs(var)
                raise
            finally:
                failed = stack.failed()
                stack.stop()
                if failed:
                    self.stderr.write(f"these stack processes had exited during the run: {', '.join(failed)}")
                    self._print_logs(var)
        if code != 0:
            raise CommandError("lab verify failed")

    def _print_logs(self, var: Path) -> None:
        for log in sorted((var / "logs").glob("*.log")):
            self.stderr.write(f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}")


def _get(base: str, path: str, token: str = "") -> tuple[int, dict]:
    headers = {"User-Agent": "podflow-command lab verify"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base.rstrip("/") + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read() or b"{}")
        except ValueError:
            return err.code, {}
    except (OSError, ValueError) as exc:
        return 0, {"error": str(exc)}
