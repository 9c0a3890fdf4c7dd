"""`lab verify`: run a lab end to end on a fresh cluster, as a learner would, with real workers.

For each lab: a new cluster (three Ready nodes); its setup; then for each step, its checks
are evaluated before anything is done — each must fail, for a check that passes before its
solution cannot tell whether the learner did anything — then the step's question is
answered (its reveal runs) and its solve runs, and every check must pass before a deadline
(polled; the workers act meanwhile); then on to the next step, whose setup runs. Last, the
cleanup, and the cluster is deleted. One line per check:

    lab eight-steps · step create · objectExists Pod web · failed before ✓ · passed after ✓

It goes through the same runner as the API (cluster/labs/runner.py), so what it verifies
is what a learner gets. The pacing hook is not asked: a lab is verified outside any class.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

from cluster import demo, sandbox
from cluster.labs import actions, checks, runner
from cluster.labs.schema import Lab
from cluster.models import Cluster

POLL_SECONDS = 0.25
OK, BAD = "✓", "✗"


@dataclass
class Report:
    lab: str
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def fresh_cluster(lab: Lab) -> Cluster:
    """A cluster of its own for one run: three Ready nodes, like a new sandbox."""
    name = f"verify-{lab.id[:40]}-{secrets.token_hex(3)}"
    cluster, _ = demo.ensure_cluster(name, nodes=3)
    return cluster


def verify(lab: Lab, *, emit: Callable[[str], None] = print, timeout: float | None = None, cluster: Cluster | None = None, keep: bool = False) -> Report:
    """Verify `lab`; `emit` receives each line as it is known. Returns the report."""
    report = Report(lab.id)
    deadline_seconds = timeout or lab.verify_timeout

    def say(line: str, failure: bool = False) -> None:
        report.lines.append(line)
        if failure:
            report.failures.append(line)
        emit(line)

    own = cluster is None
    cluster = cluster or fresh_cluster(lab)
    try:
        try:
            progress, _ = runner.start(cluster, lab)
        except actions.ActionFailed as exc:
            say(f"lab {lab.id} · setup · failed: {exc.message}", failure=True)
            return report
        for index, step in enumerate(lab.steps):
            prefix = f"lab {lab.id} · step {step.id}"
            if not _verify_step(progress, lab, index, prefix, deadline_seconds, say):
                if index + 1 < len(lab.steps):
                    say(f"lab {lab.id} · stopped after step {step.id}: the later steps build on it")
                return report
            try:
                runner.advance(progress, lab, paced=False)
            except runner.Refused as exc:
                say(f"{prefix} · could not move on: {exc.why.en}", failure=True)
                return report
            except actions.ActionFailed as exc:
                say(f"{prefix} · the next step's setup failed: {exc.message}", failure=True)
                return report
        if not progress.completed:
            say(f"lab {lab.id} · not complete after its last step", failure=True)
    finally:
        try:
            runner.cleanup(cluster, lab)
            say(f"lab {lab.id} · cleanup {OK}")
        except actions.ActionFailed as exc:
            say(f"lab {lab.id} · cleanup {BAD}: {exc.message}", failure=True)
        if own and not keep:
            sandbox.delete(cluster)
        say(f"lab {lab.id} · {'passed' if report.ok else 'FAILED'}")
    return report


def _verify_step(progress, lab: Lab, index: int, prefix: str, deadline_seconds: float, say: Callable[..., None]) -> bool:
    step = lab.steps[index]
    before = runner.evaluate(progress, lab)
    # Answer the question (its reveal runs), then the solve.
    try:
        if step.question is not None:
            answered = runner.answer(progress, lab, step.id, step.question.answer)
            if answered.reveal_error:
                say(f"{prefix} · {step.question.kind} · reveal failed: {answered.reveal_error}", failure=True)
                return False
            say(f"{prefix} · {step.question.kind} answered {step.question.answer} {OK}")
        actions.run_all(runner.context(progress), step.solve)
    except actions.ActionFailed as exc:
        say(f"{prefix} · solve failed: {exc.message}", failure=True)
        return False
    except runner.Refused as exc:
        say(f"{prefix} · {exc.why.en}", failure=True)
        return False
    if not step.checks:
        say(f"{prefix} · no checks {OK}")
        return True
    after = _until_all_pass(progress, lab, deadline_seconds)
    good = True
    for first, last in zip(before, after):
        failed_before = not first.ok
        parts = [prefix, first.label, f"failed before {OK}" if failed_before else f"passed before {BAD} (a check that passes before its solution cannot tell whether the learner did it)"]
        if last.ok:
            parts.append(f"passed after {OK}")
        else:
            parts.append(f"passed after {BAD} (not after {deadline_seconds:g} s: {last.why.en if last.why else 'it did not pass'})")
        line = " · ".join(parts)
        bad = not failed_before or not last.ok
        good = good and not bad
        say(line, failure=bad)
    return good


def _until_all_pass(progress, lab: Lab, seconds: float) -> list[checks.Result]:
    """The step's checks, evaluated until all pass or the deadline (the last evaluation)."""
    deadline = time.monotonic() + seconds
    while True:
        results = runner.evaluate(progress, lab)
        if all(r.ok for r in results) or time.monotonic() >= deadline:
            return results
        time.sleep(POLL_SECONDS)
