"""The labs, as podflow's own API under /k8s/<cluster>/podflow/v1/labs.

    GET  labs                      the catalogue: each lab's id, title, level, minutes, number
                                   of steps, and this cluster's progress in it
    GET  labs/<lab>                the lab in both languages, the progress, and the current
                                   step's checks evaluated now
    POST labs/<lab>/start          run the lab's setup; progress starts afresh at step 1
    GET  labs/<lab>/checks         the current step's checks, evaluated now (POST too)
    POST labs/<lab>/answer         {"step": "<id>", "answer": "<choice id>"}: record it, reveal
    POST labs/<lab>/hint           {} or {"step": "<id>"}: the step's next hint
    POST labs/<lab>/solution       {} or {"step": "<id>"}: the step's solution (recorded as shown)
    POST labs/<lab>/next           on to the next step: only when its checks pass, its
                                   question is answered and the class's pace allows (409)
    POST labs/<lab>/cleanup        run the lab's cleanup

Not Kubernetes APIs. They open the cluster as the rest of the API does (its bearer token,
or its owner's session with the CSRF token); a bad request is a Status, never a 500. The
engine is cluster/labs/.
"""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

import cluster.labs as labs
from cluster.apimachinery.errors import APIError, Cause, bad_request, invalid
from cluster.apiserver.handlers.auth import resolve
from cluster.apiserver.handlers.k8s import allow_methods, api_view, json_object, json_response
from cluster.labs import actions, follow, runner
from cluster.labs.schema import Lab
from cluster.models import Cluster, LabProgress

VERBS = ("start", "checks", "answer", "hint", "solution", "next", "cleanup")


def _lab(lab_id: str) -> Lab:
    found = labs.get(lab_id)
    if found is None:
        raise APIError(404, "NotFound", f'labs "{lab_id}" not found', name=lab_id, kind="labs")
    return found


def _body(request: HttpRequest, allowed: tuple[str, ...]) -> dict[str, Any]:
    body = json_object(request.body) if request.body else {}
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad_request(f"unknown field(s) {', '.join(unknown)}" + (f": send {', '.join(allowed)}" if allowed else ": send {}"))
    for key, value in body.items():
        if value is not None and not isinstance(value, str):
            raise invalid("LabRequest", "podflow", "", [Cause(key, f"Invalid value: must be a string, not {type(value).__name__}")])
    return body


def _started(found: Cluster, lab: Lab) -> LabProgress:
    progress = runner.progress_of(found, lab)
    if progress is None:
        raise APIError(409, "Conflict", f'lab "{lab.id}" is not started on this cluster: POST .../labs/{lab.id}/start first', name=lab.id, kind="labs")
    progress.cluster = found
    return progress


def _refused(err: runner.Refused) -> APIError:
    reason = {404: "NotFound", 422: "Invalid"}.get(err.code, "Conflict")
    causes = [Cause(f"checks[{i}]", r.why.en if r.why else r.text.en, "CheckFailed") for i, r in enumerate(err.results) if not r.ok]
    return APIError(err.code, reason, err.why.en, kind="labs", causes=causes)


def _failed(err: actions.ActionFailed) -> APIError:
    return APIError(err.code, "ServiceUnavailable" if err.code == 503 else "Conflict", f"the lab could not do it: {err.message}", kind="labs")


@api_view
def catalogue(request: HttpRequest, cluster: str) -> HttpResponse:
    allow_methods(request, "GET")
    found = resolve(request, cluster)
    mine = {p.lab: p for p in LabProgress.objects.filter(cluster=found)}
    items = [runner.summary(lab, mine.get(lab.id)) for lab in labs.catalogue()]
    return json_response({"kind": "LabList", "apiVersion": "podflow/v1", "items": items})


@api_view
def detail(request: HttpRequest, cluster: str, lab: str) -> HttpResponse:
    allow_methods(request, "GET")
    found = resolve(request, cluster)
    chosen = _lab(lab)
    progress = runner.progress_of(found, chosen)
    if progress is not None:
        progress.cluster = found
    return json_response(runner.lab_view(chosen, progress))


@api_view
def act(request: HttpRequest, cluster: str, lab: str, action: str) -> HttpResponse:
    allow_methods(request, "GET", "POST") if action == "checks" else allow_methods(request, "POST")
    found = resolve(request, cluster)
    if action not in VERBS:
        raise APIError(404, "NotFound", f'unknown lab action "{action}": use {", ".join(VERBS)}')
    chosen = _lab(lab)
    try:
        return json_response(_ACTIONS[action](request, found, chosen))
    except runner.Refused as err:
        raise _refused(err) from None
    except actions.ActionFailed as err:
        raise _failed(err) from None


def _start(request: HttpRequest, found: Cluster, lab: Lab) -> dict[str, Any]:
    _body(request, ())
    progress, done = runner.start(found, lab)
    follow.started(found.pk)
    return {**runner.lab_view(lab, progress), "did": [d.as_dict() for d in done]}


def _checks(request: HttpRequest, found: Cluster, lab: Lab) -> dict[str, Any]:
    if request.method == "POST":
        _body(request, ())
    progress = _started(found, lab)
    return {"kind": "LabChecks", "apiVersion": "podflow/v1", "lab": lab.id, **runner.checks_view(progress, lab, runner.evaluate(progress, lab))}


def _answer(request: HttpRequest, found: Cluster, lab: Lab) -> dict[str, Any]:
    body = _body(request, ("step", "answer"))
    missing = [Cause(k, "Required value", "FieldValueRequired") for k in ("step", "answer") if not body.get(k)]
    if missing:
        raise invalid("LabAnswer", "podflow", "", missing)
    progress = _started(found, lab)
    return runner.answer(progress, lab, body["step"], body["answer"]).as_dict()


def _hint(request: HttpRequest, found: Cluster, lab: Lab) -> dict[str, Any]:
    body = _body(request, ("step",))
    return runner.hint(_started(found, lab), lab, body.get("step"))


def _solution(request: HttpRequest, found: Cluster, lab: Lab) -> dict[str, Any]:
    body = _body(request, ("step",))
    return runner.solution(_started(found, lab), lab, body.get("step"))


def _next(request: HttpRequest, found: Cluster, lab: Lab) -> dict[str, Any]:
    _body(request, ())
    progress = _started(found, lab)
    done = runner.advance(progress, lab)
    return {**runner.lab_view(lab, progress), "did": [d.as_dict() for d in done]}


def _cleanup(request: HttpRequest, found: Cluster, lab: Lab) -> dict[str, Any]:
    _body(request, ())
    done = runner.cleanup(found, lab)
    return {"kind": "LabCleanup", "apiVersion": "podflow/v1", "lab": lab.id, "did": [d.as_dict() for d in done]}


_ACTIONS = {"start": _start, "checks": _checks, "answer": _answer, "hint": _hint, "solution": _solution, "next": _next, "cleanup": _cleanup}
