"""A learner's way through a lab, kept as a LabProgress row per cluster and lab.

What the API (cluster/apiserver/handlers/labs.py) and `lab verify` call:

    start     run the lab's setup and its first step's setup; progress starts afresh
    evaluate  the current step's checks, now (checks_passed is kept up to date)
    answer    record the answer to the current step's predict or quiz question, and
              run its reveal (a prediction is made once; a quiz may be tried again)
    hint      the next of a step's hints
    solution  a step's solution, recorded as shown
    advance   to the next step, when its checks pass, its question is answered and the
              pacing hook (cluster.labs.may_advance) agrees; the step's setup runs
    cleanup   the lab's cleanup

Actions never run inside a database transaction: a kubectl action calls the API, which
must be able to write. Progress moves by compare-and-swap on the step index, so two
concurrent "next" do not skip a step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

import cluster.labs as labs
from cluster.apiserver import audit, store
from cluster.labs import actions, checks
from cluster.labs.schema import Lab, Step, Text
from cluster.models import Cluster, LabProgress


class Refused(Exception):
    """The learner may not do that now: `why` in both languages; `code` the HTTP status."""

    def __init__(self, why: Text, code: int = 409, results: list[checks.Result] | None = None) -> None:
        super().__init__(why.en)
        self.why = why
        self.code = code
        self.results = results or []


def progress_of(cluster: Cluster, lab: Lab) -> LabProgress | None:
    return LabProgress.objects.filter(cluster=cluster, lab=lab.id).first()


def context(progress: LabProgress) -> checks.Context:
    return checks.Context(progress.cluster, progress.started, progress.lab_revision, progress.step_started, progress.step_revision)


def _announce(progress: LabProgress) -> None:
    audit.announce_on_commit(
        progress.cluster.name,
        labs.PROGRESS,
        {"lab": progress.lab, "step": progress.step_index, "stepId": progress.step_id, "passed": progress.checks_passed, "total": progress.checks_total, "completed": progress.completed},
    )


# --- start and steps ------------------------------------------------------------------------------


def start(cluster: Cluster, lab: Lab) -> tuple[LabProgress, list[actions.Done]]:
    """Run the lab's setup, then start it afresh at its first step. ActionFailed if an
    action of the setup fails (progress is then left as it was)."""
    done = actions.run_all(checks.Context(cluster), lab.setup)
    moment, revision = timezone.now(), store.current_revision(cluster)
    fresh = {
        "step_index": 0, "step_id": lab.steps[0].id, "checks_passed": 0, "checks_total": len(lab.steps[0].checks),
        "started": moment, "step_started": moment, "lab_revision": revision, "step_revision": revision,
        "answers": {}, "hints_shown": {}, "solution_shown": [], "completed": False,
    }
    try:
        progress, _ = LabProgress.objects.update_or_create(cluster=cluster, lab=lab.id, defaults=fresh)
    except IntegrityError:  # started twice at once: the other one made the row
        progress = LabProgress.objects.get(cluster=cluster, lab=lab.id)
        LabProgress.objects.filter(pk=progress.pk).update(**fresh)
        progress.refresh_from_db()
    progress.cluster = cluster
    done += _enter(progress, lab, 0)
    return progress, done


def _enter(progress: LabProgress, lab: Lab, index: int) -> list[actions.Done]:
    """Run the step's setup; the step begins when it is done."""
    step = lab.steps[index]
    done = actions.run_all(context(progress), step.setup)
    moment, revision = timezone.now(), store.current_revision(progress.cluster)
    LabProgress.objects.filter(pk=progress.pk).update(step_started=moment, step_revision=revision, checks_passed=0, checks_total=len(step.checks))
    progress.step_started, progress.step_revision, progress.checks_passed, progress.checks_total = moment, revision, 0, len(step.checks)
    _announce(progress)
    return done


def current(progress: LabProgress, lab: Lab) -> Step:
    return lab.steps[min(progress.step_index, len(lab.steps) - 1)]


def evaluate(progress: LabProgress, lab: Lab) -> list[checks.Result]:
    """The current step's checks, evaluated now; checks_passed and checks_total follow."""
    step = current(progress, lab)
    results = checks.evaluate_all(context(progress), step.checks)
    passed = sum(1 for r in results if r.ok)
    if (passed, len(results)) != (progress.checks_passed, progress.checks_total):
        LabProgress.objects.filter(pk=progress.pk, step_index=progress.step_index).update(checks_passed=passed, checks_total=len(results), updated=timezone.now())
        progress.checks_passed, progress.checks_total = passed, len(results)
        _announce(progress)
    return results


def blocked(progress: LabProgress, lab: Lab, results: list[checks.Result]) -> Text | None:
    """Why the learner may not move on yet (None when the step is done). The pacing hook
    is asked separately, by `advance`."""
    if progress.completed:
        return Text("the lab is complete", "실습을 마쳤습니다")
    step = current(progress, lab)
    question = step.question
    if question is not None:
        answer = (progress.answers or {}).get(step.id)
        if answer is None:
            return Text("answer the question first", "먼저 질문에 답하세요")
        if question.kind == "quiz" and not answer.get("correct"):
            return Text("answer the quiz correctly first", "먼저 퀴즈에 맞게 답하세요")
    failing = [r for r in results if not r.ok]
    if failing:
        n = len(failing)
        return Text(
            f"{n} of {len(results)} checks do not pass yet: {failing[0].why.en if failing[0].why else failing[0].text.en}",
            f"확인 항목 {len(results)}개 중 {n}개가 아직 통과하지 못했습니다: {failing[0].why.ko if failing[0].why else failing[0].text.ko}",
        )
    return None


def advance(progress: LabProgress, lab: Lab, *, paced: bool = True) -> list[actions.Done]:
    """Move to the next step (or complete the lab on the last). Refused when the step is
    not done or the pacing hook says no; ActionFailed if the next step's setup fails."""
    results = evaluate(progress, lab)
    why = blocked(progress, lab, results)
    if why is not None:
        raise Refused(why, results=results)
    target = progress.step_index + 1
    if paced and not labs.may_advance(progress.cluster, lab.id, target):
        raise Refused(Text("the class has not reached the next step yet: wait for your instructor", "수업이 아직 다음 단계로 넘어가지 않았습니다. 강사를 기다리세요"), results=results)
    if target >= len(lab.steps):
        if LabProgress.objects.filter(pk=progress.pk, step_index=progress.step_index, completed=False).update(completed=True, updated=timezone.now()):
            progress.completed = True
            _announce(progress)
        else:
            progress.refresh_from_db()
        return []
    following = lab.steps[target]
    moved = LabProgress.objects.filter(pk=progress.pk, step_index=progress.step_index).update(step_index=target, step_id=following.id, updated=timezone.now())
    if not moved:  # another request moved it first
        progress.refresh_from_db()
        return []
    progress.step_index, progress.step_id = target, following.id
    return _enter(progress, lab, target)


def cleanup(cluster: Cluster, lab: Lab) -> list[actions.Done]:
    return actions.run_all(checks.Context(cluster), lab.cleanup)


# --- questions, hints, solutions -------------------------------------------------------------------


def _step_at_most_current(progress: LabProgress, lab: Lab, step_id: str | None) -> Step:
    if not step_id:
        return current(progress, lab)
    index = lab.index_of(step_id)
    if index < 0:
        raise Refused(Text(f'the lab has no step "{step_id}"', f'실습에 "{step_id}" 단계가 없습니다'), 404)
    if index > progress.step_index:
        raise Refused(Text(f'step "{step_id}" is not open yet', f'"{step_id}" 단계는 아직 열리지 않았습니다'))
    return lab.steps[index]


@dataclass
class Answered:
    step: Step
    answer: str
    correct: bool
    first: bool  # the first time this answer was recorded (or a quiz's first correct one)
    revealed: list[actions.Done]
    reveal_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        question = self.step.question
        assert question is not None
        shows_answer = question.kind == "predict" or self.correct
        return {
            "kind": "LabAnswer",
            "apiVersion": "podflow/v1",
            "step": self.step.id,
            "question": question.kind,
            "answer": self.answer,
            "correct": self.correct,
            "correctAnswer": question.answer if shows_answer else None,
            "explanation": question.explanation.as_dict() if shows_answer else None,
            "revealed": [d.as_dict() for d in self.revealed],
            "revealError": self.reveal_error or None,
        }


def answer(progress: LabProgress, lab: Lab, step_id: str, choice: str) -> Answered:
    """Record the answer to the current step's question; run the reveal the first time a
    prediction is made (or a quiz is answered correctly)."""
    step = current(progress, lab)
    if lab.index_of(step_id) < 0:
        raise Refused(Text(f'the lab has no step "{step_id}"', f'실습에 "{step_id}" 단계가 없습니다'), 404)
    if step_id != step.id:
        raise Refused(Text(f'answer the current step\'s question ("{step.id}"), not "{step_id}"', f'현재 단계("{step.id}")의 질문에 답하세요'))
    question = step.question
    if question is None:
        raise Refused(Text(f'step "{step.id}" asks no question', f'"{step.id}" 단계에는 질문이 없습니다'), 404)
    ids = [c.id for c in question.choices]
    if choice not in ids:
        raise Refused(Text(f'"{choice}" is not one of the choices: {", ".join(ids)}', f'"{choice}"은(는) 선택지가 아닙니다: {", ".join(ids)}'), 422)
    correct = choice == question.answer
    with transaction.atomic():
        row = LabProgress.objects.select_for_update().get(pk=progress.pk)
        answers = dict(row.answers or {})
        before = answers.get(step.id)
        if before is not None and question.kind == "predict":
            raise Refused(Text("a prediction is made once: it is already recorded", "예측은 한 번만 합니다: 이미 기록되었습니다"))
        if before is not None and before.get("correct"):
            # A quiz answered correctly stays so; nothing is recorded again.
            return Answered(step, before["answer"], True, False, [])
        answers[step.id] = {"answer": choice, "correct": correct, "at": timezone.now().isoformat(), "tries": int((before or {}).get("tries", 0)) + 1}
        row.answers = answers
        row.save(update_fields=["answers", "updated"])
        progress.answers = answers
    _announce(progress)
    revealed: list[actions.Done] = []
    error = ""
    if question.reveal and (question.kind == "predict" or correct):
        try:
            revealed = actions.run_all(context(progress), question.reveal)
        except actions.ActionFailed as exc:
            error = exc.message
    return Answered(step, choice, correct, True, revealed, error)


def hint(progress: LabProgress, lab: Lab, step_id: str | None = None) -> dict[str, Any]:
    step = _step_at_most_current(progress, lab, step_id)
    with transaction.atomic():
        row = LabProgress.objects.select_for_update().get(pk=progress.pk)
        shown = dict(row.hints_shown or {})
        n = min(int(shown.get(step.id, 0)) + 1, len(step.hints))
        if n != shown.get(step.id, 0):
            shown[step.id] = n
            row.hints_shown = shown
            row.save(update_fields=["hints_shown", "updated"])
        progress.hints_shown = shown
    return {"kind": "LabHints", "apiVersion": "podflow/v1", "step": step.id, "hints": [h.as_dict() for h in step.hints[:n]], "left": len(step.hints) - n}


def solution_of(step: Step) -> dict[str, Any]:
    return {
        "step": step.id,
        "text": step.solution.as_dict() if step.solution else None,
        "actions": [actions.describe(a) for a in step.solve],
        "reveal": [actions.describe(a) for a in step.question.reveal] if step.question else [],
    }


def solution(progress: LabProgress, lab: Lab, step_id: str | None = None) -> dict[str, Any]:
    step = _step_at_most_current(progress, lab, step_id)
    if not step.solve and step.solution is None:
        raise Refused(Text(f'step "{step.id}" has no solution to show', f'"{step.id}" 단계에는 보여 줄 풀이가 없습니다'), 404)
    with transaction.atomic():
        row = LabProgress.objects.select_for_update().get(pk=progress.pk)
        shown = list(row.solution_shown or [])
        if step.id not in shown:
            shown.append(step.id)
            row.solution_shown = shown
            row.save(update_fields=["solution_shown", "updated"])
        progress.solution_shown = shown
    return {"kind": "LabSolution", "apiVersion": "podflow/v1", **solution_of(step)}


# --- what the page shows -------------------------------------------------------------------------


def progress_dict(progress: LabProgress | None) -> dict[str, Any] | None:
    if progress is None:
        return None
    stamp = lambda t: t.isoformat().replace("+00:00", "Z") if t else None  # noqa: E731
    return {
        "stepIndex": progress.step_index,
        "stepId": progress.step_id,
        "checksPassed": progress.checks_passed,
        "checksTotal": progress.checks_total,
        "started": stamp(progress.started),
        "stepStarted": stamp(progress.step_started),
        "updated": stamp(progress.updated),
        "completed": progress.completed,
        "answers": progress.answers or {},
        "hintsShown": progress.hints_shown or {},
        "solutionShown": progress.solution_shown or [],
    }


def summary(lab: Lab, progress: LabProgress | None) -> dict[str, Any]:
    """A lab in the catalogue."""
    return {
        "id": lab.id,
        "number": lab.number or None,
        "title": lab.title.as_dict(),
        "summary": lab.summary.as_dict() if lab.summary else None,
        "level": lab.level,
        "minutes": lab.minutes,
        "steps": len(lab.steps),
        "progress": progress_dict(progress),
    }


def step_view(step: Step, progress: LabProgress | None) -> dict[str, Any]:
    """A step as the page shows it: never a hint not yet asked for, a solution not yet
    shown, nor a question's answer before it is answered."""
    shown_hints = int(((progress.hints_shown if progress else None) or {}).get(step.id, 0))
    answered = ((progress.answers if progress else None) or {}).get(step.id)
    question = None
    if step.question is not None:
        q = step.question
        reveal_answer = answered is not None and (q.kind == "predict" or answered.get("correct"))
        question = {
            "kind": q.kind,
            "question": q.question.as_dict(),
            "choices": [c.as_dict() for c in q.choices],
            "answered": answered,
            "correctAnswer": q.answer if reveal_answer else None,
            "explanation": q.explanation.as_dict() if reveal_answer else None,
        }
    solution_shown = step.id in ((progress.solution_shown if progress else None) or [])
    return {
        "id": step.id,
        "title": step.title.as_dict() if step.title else None,
        "text": step.text.as_dict() if step.text else None,
        "suggest": step.suggest,
        "checks": [checks.describe(c)[0].as_dict() for c in step.checks],
        "hints": [h.as_dict() for h in step.hints[:shown_hints]],
        "hintsLeft": len(step.hints) - shown_hints,
        "hasSolution": bool(step.solve or step.solution),
        "solution": solution_of(step) if solution_shown else None,
        "question": question,
    }


def checks_view(progress: LabProgress, lab: Lab, results: list[checks.Result]) -> dict[str, Any]:
    why = blocked(progress, lab, results)
    step = current(progress, lab)
    return {
        "step": {"index": progress.step_index, "id": step.id},
        "checks": [r.as_dict() for r in results],
        "passed": sum(1 for r in results if r.ok),
        "total": len(results),
        "canAdvance": why is None,
        "blocked": why.as_dict() if why else None,
        "completed": progress.completed,
    }


def lab_view(lab: Lab, progress: LabProgress | None, results: list[checks.Result] | None = None) -> dict[str, Any]:
    """The whole lab in both languages, the learner's progress and the current step's
    checks evaluated now (None before the lab is started)."""
    current_checks = None
    if progress is not None:  # evaluated first: the progress shown counts what passes now
        current_checks = checks_view(progress, lab, results if results is not None else evaluate(progress, lab))
    return {
        "kind": "Lab",
        "apiVersion": "podflow/v1",
        **summary(lab, progress),
        "steps": [step_view(s, progress) for s in lab.steps],
        "current": current_checks,
    }
