"""The verify routine, on labs that need no worker: a good lab passes; a lab whose check
passes before its solution, or that its solution does not make pass, fails and says so.
(tests/integration/test_labs_verify.py verifies every lab of labs/ with the real stack.)"""
from __future__ import annotations

from cluster.labs import verify
from cluster.labs.schema import parse
from cluster.models import Cluster, LabProgress

from .labfiles import lab_source

CLEANUP = "cleanup:\n  - deleteAll: default\n"
MAKE = """
  - id: make
    text: {en: Make settings., ko: settings를 만드세요.}
    checks:
      - objectExists: {kind: ConfigMap, name: settings}
    solve:
      - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {mode: a}}
  - id: ask
    quiz:
      question: {en: "Where is it stored?", ko: "어디에 저장될까요?"}
      choices: [etcd, kubelet]
      answer: etcd
      explanation: {en: In etcd., ko: etcd에 저장됩니다.}
"""


def lab(steps: str):
    return parse(lab_source(steps, lab_id="tiny", head=CLEANUP), "labs/tiny.yaml")


def test_a_lab_whose_checks_fail_before_and_pass_after_is_verified(db):
    lines: list[str] = []
    report = verify.verify(lab(MAKE), emit=lines.append, timeout=2)
    assert report.ok, report.lines
    assert "lab tiny · step make · objectExists ConfigMap settings · failed before ✓ · passed after ✓" in lines
    assert "lab tiny · step ask · quiz answered etcd ✓" in lines
    assert lines[-2:] == ["lab tiny · cleanup ✓", "lab tiny · passed"]
    # Its cluster was its own, and is gone with its progress.
    assert not Cluster.objects.filter(name__startswith="verify-tiny-").exists()
    assert not LabProgress.objects.exists()


def test_a_check_that_passes_before_its_solution_fails_the_lab(db):
    steps = MAKE.replace("      - objectExists: {kind: ConfigMap, name: settings}", "      - objectExists: {kind: ConfigMap, name: settings}\n      - objectExists: {kind: Node, name: node-1}")
    report = verify.verify(lab(steps), emit=lambda line: None, timeout=2)
    assert not report.ok
    assert report.failures[0] == (
        "lab tiny · step make · objectExists Node node-1 · passed before ✗ (a check that passes before its solution "
        "cannot tell whether the learner did it) · passed after ✓"
    )


def test_a_solution_that_does_not_make_the_check_pass_fails_the_lab_and_stops_it(db):
    steps = MAKE.replace("data: {mode: a}", "data: {mode: b}").replace(
        "      - objectExists: {kind: ConfigMap, name: settings}",
        "      - field: {kind: ConfigMap, name: settings, path: data.mode, equals: a}",
    )
    report = verify.verify(lab(steps), emit=lambda line: None, timeout=0.5)
    assert not report.ok
    assert report.failures[0] == "lab tiny · step make · field ConfigMap settings data.mode · failed before ✓ · passed after ✗ (not after 0.5 s: data.mode of ConfigMap settings is b, expected a)"
    assert "lab tiny · stopped after step make: the later steps build on it" in report.lines
    assert report.lines[-1] == "lab tiny · FAILED"


def test_a_failing_solve_action_is_reported(db):
    steps = MAKE.replace("      - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {mode: a}}", "      - delete: {kind: Pod, name: nope}\n      - annotate: {name: nope, annotations: {a: b}}")
    report = verify.verify(lab(steps), emit=lambda line: None, timeout=0.5)
    assert report.failures[0].startswith("lab tiny · step make · solve failed: steps[0].solve[1].annotate: pods \"nope\" not found")
