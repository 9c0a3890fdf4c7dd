"""Every lab in labs/ is verified with the real stack: `python manage.py lab verify` runs it
on a fresh cluster of the test session's stack (its workers, its API over HTTP and TLS for
kubectl), and each check must fail before its solution and pass after it. A new lab file
is verified here without anyone adding a test. A lab whose check passes before its
solution fails verification."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from cluster.labs.schema import load_file
from tests.livehelpers import http, wait_until

pytestmark = pytest.mark.integration

LABS = sorted((Path(settings.BASE_DIR) / "labs").glob("*.yaml"))


def lab_verify(stack, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`manage.py lab verify ... --url <the stack>`, run with the stack's own settings (its
    database, Redis, TLS files and API port), as an instructor runs it beside `make run`."""
    return subprocess.run(
        [sys.executable, "manage.py", "lab", "verify", *args, "--url", stack.url],
        env=stack._env(), cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=timeout,
    )


def uses_kubectl(path: Path) -> bool:
    lab = load_file(path)
    steps = [a for s in lab.steps for a in (*s.setup, *s.solve, *(s.question.reveal if s.question else []))]
    return any(a.type == "kubectl" for a in (*lab.setup, *lab.cleanup, *steps))


# Labs verified at once: most of a lab's time is waiting for the cluster at normal speed.
JOBS = 4


@pytest.fixture(scope="module")
def verified(live_stack) -> subprocess.CompletedProcess:
    """Every lab file verified in one `lab verify --jobs`, each on a cluster of its own."""
    runnable = [p for p in LABS if shutil.which("kubectl") is not None or not uses_kubectl(p)]
    args = [a for p in runnable for a in ("--file", str(p))]
    return lab_verify(live_stack, *args, "--jobs", str(JOBS), timeout=1500)


@pytest.mark.parametrize("path", LABS, ids=[p.stem for p in LABS])
def test_the_lab_verifies_its_checks_fail_before_and_pass_after_their_solution(verified, path):
    if shutil.which("kubectl") is None and uses_kubectl(path):
        pytest.skip("no kubectl on PATH")
    mine = [line for line in verified.stdout.splitlines() if line.startswith(f"lab {path.stem} · ")]
    report = "\n".join(mine) + "\n" + verified.stderr[-3000:]
    assert f"lab {path.stem} · passed" in mine, f"lab verify {path.name} failed:\n{report}"
    checked = [line for line in mine if "failed before" in line or "passed before" in line]
    assert checked and all("failed before ✓ · passed after ✓" in line for line in checked), report


def test_a_lab_whose_check_passes_before_its_solution_fails_verification(live_stack, tmp_path):
    lab = tmp_path / "passes-before.yaml"
    lab.write_text(
        """\
id: passes-before
title: {en: A lab that proves nothing, ko: 아무것도 증명하지 못하는 실습}
level: beginner
minutes: 5
cleanup: [{deleteAll: default}]
steps:
  - id: make
    text: {en: Make the ConfigMap settings., ko: settings 컨피그맵을 만드세요.}
    checks:
      - objectExists: {kind: ConfigMap, name: settings}
      - objectExists: {kind: Node, name: node-1}
    solve:
      - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}}
"""
    )
    done = lab_verify(live_stack, "--file", str(lab), "--timeout", "20")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "lab passes-before · step make · objectExists ConfigMap settings · failed before ✓ · passed after ✓" in done.stdout
    assert "lab passes-before · step make · objectExists Node node-1 · passed before ✗" in done.stdout
    assert "lab verify failed: passes-before" in done.stderr


def test_a_lab_file_with_problems_is_not_run_and_its_lines_are_named(live_stack, tmp_path):
    lab = tmp_path / "typo.yaml"
    lab.write_text("id: typo\ntitle: {en: Typo}\nlevel: beginner\nminutes: 5\nsteps:\n  - id: a\n    text: {en: a, ko: 가}\n    checks:\n      - objectExist: {kind: Pod, name: web}\n    solve: [kubectl run web --image=nginx]\n")
    done = lab_verify(live_stack, "--file", str(lab))
    assert done.returncode == 1
    assert f"{lab}:2: title: missing 'ko' (Korean text)" in done.stderr
    assert f"{lab}:9: steps[0].checks[0]: unknown check 'objectExist' (did you mean 'objectExists'?)" in done.stderr


def test_a_learner_starts_a_lab_over_http_and_its_checks_follow_the_cluster(live_stack):
    """The API with the real workers: start lab 2, answer its steps' checks by acting as the
    learner would (the clock API, a pod created over HTTP), and move on."""
    base = live_stack.url
    live_stack.manage("democluster", "--name", "lab-api", "--speed", "instant")
    labs_url = "/k8s/lab-api/podflow/v1/labs/eight-steps"
    status, body = http(base, "POST", labs_url + "/start")
    assert status == 200, body
    assert body["current"]["step"]["id"] == "pause" and not body["current"]["canAdvance"]
    assert http(base, "POST", "/k8s/lab-api/podflow/v1/clock", {"paused": True})[0] == 200
    status, checked = http(base, "GET", labs_url + "/checks")
    assert checked["canAdvance"], checked
    status, body = http(base, "POST", labs_url + "/next")
    assert status == 200 and body["current"]["step"]["id"] == "create"
    # A pod created by a client other than kubectl: the request check says so.
    status, _ = http(base, "POST", "/k8s/lab-api/api/v1/namespaces/default/pods", {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}})
    assert status == 201
    status, checked = http(base, "GET", labs_url + "/checks")
    request_check = checked["checks"][0]
    assert request_check["ok"] is False and request_check["why"]["en"] == "kubectl has not made a request to create pods since this step began yet"
    status, refused = http(base, "POST", labs_url + "/next")
    assert status == 409 and refused["details"]["causes"][0]["field"] == "checks[0]"
    http(base, "POST", labs_url + "/cleanup")


def test_the_server_re_runs_the_checks_as_the_cluster_changes_with_no_page_open(live_stack):
    """A learner who works with their own kubectl and has no page open: the workers re-run
    the current step's checks after the cluster changes, so their progress (and a class's
    roster, which reads it) follows without anyone asking for the checks."""
    base = live_stack.url
    live_stack.manage("democluster", "--name", "lab-follow", "--speed", "instant")
    labs_url = "/k8s/lab-follow/podflow/v1/labs/eight-steps"
    assert http(base, "POST", labs_url + "/start")[0] == 200
    assert http(base, "POST", "/k8s/lab-follow/podflow/v1/clock", {"paused": True})[0] == 200
    assert http(base, "POST", labs_url + "/next")[0] == 200  # `next` runs the checks itself

    def progress() -> dict:
        _, listed = http(base, "GET", "/k8s/lab-follow/podflow/v1/labs")  # reads progress, runs no check
        return next(item["progress"] for item in listed["items"] if item["id"] == "eight-steps")

    assert progress()["stepId"] == "create" and progress()["checksPassed"] == 0
    status, _ = http(base, "POST", "/k8s/lab-follow/api/v1/namespaces/default/pods", {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}, agent="kubectl/v1.32.4 (linux/amd64) kubernetes/abc")
    assert status == 201
    # Request, object, steps 1–2 and the scheduler's held action: all four, with no /checks.
    wait_until(lambda: progress()["checksPassed"] == 4, 10, "the workers to re-run lab 2's checks")
    http(base, "POST", labs_url + "/cleanup")
