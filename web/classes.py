"""The classroom's pages and doors (the rules are web/classroom.py's).

    GET       /classes/                    the instructor's classes, and the form that makes one
    POST      /classes/                    make a class
    GET       /classes/<code>/             the class page: roster, heat map, the instructor's controls
    GET       /classes/<code>/roster       the roster as JSON (what the page's websocket sends)
    POST      /classes/<code>/broadcast    {"text"}
    POST      /classes/<code>/pace         {"lab", "step"}           instructor-led: open up to that step
    POST      /classes/<code>/clock        {"action": pause|step|resume}
    POST      /classes/<code>/fault        {"component": scheduler|controller-manager, "action": stop|start}
    POST      /classes/<code>/reset        {"member": <id> | "all"}
    POST      /classes/<code>/extend       {"hours": 1..24}
    POST      /classes/<code>/end
    GET       /classes/<code>/projector    the instructor's own sandbox, full screen
    POST      /classes/<code>/hand         {"raised": true|false}    a learner's hand (the learner only)
    GET|POST  /join, /join/<code>          a learner joins: the code and a display name

Everything under /classes/<code>/ opens only to the class's instructor (and staff), except
`hand`, which opens only to its learners; anyone else gets 404, as for a class that does not
exist. Every POST is CSRF-checked (the page sends X-CSRFToken). A form post is answered with
a redirect and a message, a `fetch` that accepts JSON with JSON.
"""
from __future__ import annotations

import json
from functools import wraps
from typing import Any, Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cluster.apiserver.handlers import access
from cluster.componentbase import clock as cluster_clock
from web import classroom, limits
from web.classroom import ClassError
from web.models import Classroom, Pacing

BODY_MAX = 16 * 1024


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _body(request: HttpRequest) -> dict[str, Any]:
    """A JSON object (the page's fetch) or the form's fields."""
    if request.content_type == "application/json":
        if len(request.body) > BODY_MAX:
            raise ClassError(_("The request is too large."))
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ClassError(_("Send a JSON object.")) from None
        if not isinstance(body, dict):
            raise ClassError(_("Send a JSON object."))
        return body
    return {key: request.POST.getlist(key) if key == "labs" else request.POST.get(key) for key in request.POST}


def _missing(request: HttpRequest, code: str) -> HttpResponse:
    """The answer for a class that does not exist, and for one this request may not open."""
    if _wants_json(request) or request.path.endswith("/roster"):
        return JsonResponse({"error": "not found"}, status=404)
    return render(request, "classroom/missing.html", {"code": code}, status=404)


def _done(request: HttpRequest, found: Classroom, text: str, data: dict | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({**(data or {}), "message": text})
    messages.success(request, text)
    return redirect("class", code=found.code)


def _failed(request: HttpRequest, found: Classroom, err: ClassError) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": str(err), "fields": {err.field: str(err)} if err.field else {}}, status=err.status)
    messages.error(request, str(err))
    return redirect("class", code=found.code)


def instructor_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The class named in the URL, for its instructor (or staff); 404 for anyone else."""

    @wraps(view)
    def wrapper(request: HttpRequest, code: str) -> HttpResponse:
        found = classroom.class_for_instructor(request.user, code)
        if found is None:
            return _missing(request, code)
        return view(request, found)

    return wrapper


def instructor_action(action: Callable[[HttpRequest, Classroom, dict], tuple[str, dict]]) -> Callable[..., HttpResponse]:
    """A POST the instructor makes: the action returns its message (and data for JSON)."""

    @require_POST
    @instructor_only
    @wraps(action)
    def wrapper(request: HttpRequest, found: Classroom) -> HttpResponse:
        try:
            text, data = action(request, found, _body(request))
        except ClassError as err:
            return _failed(request, found, err)
        return _done(request, found, text, data)

    return wrapper


# --- the instructor's pages ----------------------------------------------------------------

@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
def classes(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not classroom.is_instructor(request.user):
        return render(request, "classroom/not_instructor.html", status=403)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"title": "", "labs": [], "pacing": Pacing.SELF_PACED}
    if request.method == "POST":
        try:
            body = _body(request)
            labs = body.get("labs") or []
            if isinstance(labs, str):
                labs = [part.strip() for part in labs.replace(",", " ").split()]
            values = {"title": str(body.get("title") or ""), "labs": [str(x) for x in labs] if isinstance(labs, list) else [], "pacing": str(body.get("pacing") or Pacing.SELF_PACED)}
            made = classroom.create_class(request.user, title=values["title"], labs=values["labs"], pacing=values["pacing"])
        except ClassError as err:
            if _wants_json(request):
                return JsonResponse({"error": str(err), "fields": {err.field: str(err)} if err.field else {}}, status=400)
            errors = {err.field or "form": str(err)}
        else:
            url = reverse("class", kwargs={"code": made.code})
            text = _("The class %(title)s is open. Its join code is %(code)s.") % {"title": made.title, "code": made.code}
            if _wants_json(request):
                return JsonResponse({"code": made.code, "url": url, "message": text}, status=201)
            messages.success(request, text)
            return redirect(url)
    known = classroom.catalogue()
    mine = [
        {"title": c.title, "code": c.code, "state": classroom.state_of(c), "learners": c.members.count(), "ends_at": c.ends_at(), "url": reverse("class", kwargs={"code": c.code})}
        for c in classroom.classes_of(request.user)
    ]
    lang = "ko" if (request.LANGUAGE_CODE or "").startswith("ko") else "en"
    return render(
        request,
        "classroom/classes.html",
        {
            "classes": mine,
            "labs": [{"id": lab_id, "title": lab["title"].get(lang) or lab["title"]["en"], "steps": len(lab["steps"])} for lab_id, lab in known.items()],
            "values": values,
            "errors": errors,
            "hours": settings.PODFLOW_CLASS_HOURS,
        },
        status=400 if errors else 200,
    )


@require_GET
@ensure_csrf_cookie
@instructor_only
def class_page(request: HttpRequest, found: Classroom) -> HttpResponse:
    data = classroom.roster(found)
    lang = "ko" if (request.LANGUAGE_CODE or "").startswith("ko") else "en"
    urls = {name: reverse(f"class-{name}", kwargs={"code": found.code}) for name in ("roster", "broadcast", "pace", "clock", "fault", "reset", "extend", "end", "projector")}
    config = {"code": found.code, "ws": f"/ws/classes/{found.code}/", "urls": urls, "roster": data}
    return render(
        request,
        "classroom/class.html",
        {
            "classroom": found,
            "info": data["class"],
            "state": data["class"]["state"],
            "learners": data["learners"],
            "heatmap": [{**row, "title_text": row["title"].get(lang) or row["title"].get("en")} for row in data["heatmap"]],
            "labs": [{**lab, "title_text": lab["title"].get(lang) or lab["title"].get("en"), "last_step": max(len(lab["steps"]) - 1, 0)} for lab in data["class"]["labs"]],
            "join_link": request.build_absolute_uri(reverse("class-join-code", kwargs={"code": found.code})),
            "sent": list(found.messages.order_by("-sent_at", "-id")[:10]),
            "urls": urls,
            "page_config": config,
            "components": cluster_clock.STOPPABLE,
            "instructor_led": found.pacing == Pacing.INSTRUCTOR_LED,
        },
    )


@require_GET
@instructor_only
def roster(request: HttpRequest, found: Classroom) -> HttpResponse:
    return JsonResponse(classroom.roster(found))


@require_GET
@instructor_only
def projector(request: HttpRequest, found: Classroom) -> HttpResponse:
    """The instructor's own sandbox for this class, in projector mode (the cluster page with
    ?projector=1: full screen, large type)."""
    try:
        own = classroom.instructor_sandbox(found)
    except ClassError as err:
        messages.error(request, str(err))
        return redirect("class", code=found.code)
    return redirect(reverse("cluster", kwargs={"cluster": own.name}) + "?projector=1")


# --- the instructor's actions ----------------------------------------------------------------

@instructor_action
def send_broadcast(request: HttpRequest, found: Classroom, body: dict) -> tuple[str, dict]:
    message = classroom.send_message(found, body.get("text"), request.user.get_username())
    return _("Sent to every learner."), {"text": message.text, "sent": classroom.iso(message.sent_at)}


@instructor_action
def pace(request: HttpRequest, found: Classroom, body: dict) -> tuple[str, dict]:
    lab = body.get("lab")
    step = body.get("step")
    if step is None and body.get("delta") is not None:
        try:
            step = classroom.opened_step(found, str(lab)) + int(body.get("delta"))
        except (TypeError, ValueError):
            raise ClassError(_("A step is a number."), "step") from None
    opened = classroom.set_pace(found, lab, step)
    return _("Learners may now go as far as step %(n)s of %(lab)s.") % {"n": opened + 1, "lab": classroom.lab_title(str(lab), _lang(request))}, {"lab": lab, "opened_step": opened}


@instructor_action
def clock(request: HttpRequest, found: Classroom, body: dict) -> tuple[str, dict]:
    action = str(body.get("action") or "")
    count = classroom.clock_all(found, action)
    text = {
        "pause": _("Every sandbox of the class is paused (%(n)s)."),
        "step": _("Every paused sandbox took one step (%(n)s)."),
        "resume": _("Every sandbox of the class runs again (%(n)s)."),
    }[action] % {"n": count}
    return text, {"action": action, "clusters": count}


@instructor_action
def fault(request: HttpRequest, found: Classroom, body: dict) -> tuple[str, dict]:
    component, action = str(body.get("component") or ""), str(body.get("action") or "")
    count = classroom.fault_all(found, component, action)
    if action == "stop":
        text = _("%(component)s is stopped in every sandbox of the class (%(n)s).")
    else:
        text = _("%(component)s runs again in every sandbox of the class (%(n)s).")
    return text % {"component": component, "n": count}, {"component": component, "action": action, "clusters": count}


@instructor_action
def reset(request: HttpRequest, found: Classroom, body: dict) -> tuple[str, dict]:
    which = str(body.get("member") or "")
    if which == "all":
        count = classroom.reset(found)
        return _("Every learner's sandbox is back to its first state (%(n)s).") % {"n": count}, {"clusters": count}
    try:
        member_id = int(which)
    except ValueError:
        raise ClassError(_("Choose a learner, or all of them."), "member") from None
    classroom.reset(found, member_id)
    name = found.members.filter(pk=member_id).values_list("display_name", flat=True).first() or ""
    return _("%(name)s's sandbox is back to its first state.") % {"name": name}, {"clusters": 1, "member": member_id}


@instructor_action
def extend(request: HttpRequest, found: Classroom, body: dict) -> tuple[str, dict]:
    until = classroom.extend(found, body.get("hours") or 1)
    return _("The class now ends at %(time)s.") % {"time": until.strftime("%Y-%m-%d %H:%M UTC")}, {"expires_at": classroom.iso(until)}


@instructor_action
def end(request: HttpRequest, found: Classroom, body: dict) -> tuple[str, dict]:
    if found.ended_at is not None:
        raise ClassError(_("This class has ended."), status=409)
    classroom.end(found)
    return _("The class has ended. Its sandboxes stay, read-only, for %(days)s days.") % {"days": f"{settings.PODFLOW_CLASS_KEEP_DAYS:g}"}, {"ended_at": classroom.iso(found.ended_at)}


def _lang(request: HttpRequest) -> str:
    return "ko" if (getattr(request, "LANGUAGE_CODE", "") or "").startswith("ko") else "en"


# --- the learner's doors ---------------------------------------------------------------------

@require_POST
def hand(request: HttpRequest, code: str) -> HttpResponse:
    """A learner raises or lowers their hand (their own only); 404 to anyone not in the class."""
    found = classroom.find_class(code)
    member = classroom.member_for(found, access.principal(request)) if found is not None else None
    if member is None:
        return _missing(request, code)
    try:
        body = _body(request)
    except ClassError as err:
        return JsonResponse({"error": str(err)}, status=400)
    raised = body.get("raised")
    raised = raised if isinstance(raised, bool) else str(raised).lower() in ("1", "true", "on", "yes")
    if raised and found.has_ended():
        return JsonResponse({"error": _("This class has ended.")}, status=409)
    classroom.set_hand(member, raised)
    text = _("Your hand is up: the instructor sees it.") if raised else _("Your hand is down.")
    if _wants_json(request):
        return JsonResponse({"raised": raised, "message": text})
    messages.success(request, text)
    return redirect("cluster", cluster=member.cluster.name) if member.cluster else redirect("home")


def _join_key(request: HttpRequest) -> str:
    return f"podflow:join:ip:{limits.client_address(request)}"


def _join_wait(request: HttpRequest) -> int:
    return limits.wait_seconds(_join_key(request), settings.PODFLOW_JOIN_FAILURES_PER_IP)


def _too_many(request: HttpRequest, wait: int) -> HttpResponse:
    response = render(request, "classroom/join.html", {"locked_out_minutes": max(1, (wait + 59) // 60), "code": "", "name": ""}, status=429)
    response["Retry-After"] = str(wait)
    return response


def _wrong_code(request: HttpRequest, typed: str, name: str) -> HttpResponse:
    """A code that opens no class: counted, then the form again (or 429 past the limit)."""
    limits.count(_join_key(request), settings.PODFLOW_JOIN_WINDOW_SECONDS)
    wait = _join_wait(request)
    if wait:
        return _too_many(request, wait)
    return render(request, "classroom/join.html", {"code": typed, "name": name, "errors": {"code": _("No class has this code. Check it with your instructor.")}}, status=404)


def _closed(request: HttpRequest, found: Classroom) -> HttpResponse:
    return render(request, "classroom/closed.html", {"title": found.title, "ended": found.ended_at is not None}, status=410)


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, code: str | None = None) -> HttpResponse:
    wait = _join_wait(request)
    if wait:
        return _too_many(request, wait)
    typed = str((request.POST.get("code") if request.method == "POST" else None) or code or "")[:40]
    name = str(request.POST.get("name") or "")[:200] if request.method == "POST" else ""
    if request.method == "GET" and code is None:
        return render(request, "classroom/join.html", {"code": "", "name": ""})
    found = classroom.find_class(typed)
    if found is None:
        if request.method == "GET" or typed.strip():
            return _wrong_code(request, typed, name)
        return render(request, "classroom/join.html", {"code": typed, "name": name, "errors": {"code": _("Type the class's join code.")}}, status=400)
    if found.has_ended():
        return _closed(request, found)
    member = classroom.member_for(found, access.principal(request))
    context = {"code": found.code, "name": name or (member.display_name if member else ""), "classroom": found, "member": member}
    if request.method == "GET":
        return render(request, "classroom/join.html", context)
    try:
        member = classroom.join(found, user=request.user, learner=access.learner_id(request), display_name=name)
    except ClassError as err:
        if err.status == 410:
            return _closed(request, found)
        return render(request, "classroom/join.html", {**context, "errors": {err.field or "form": str(err)}}, status=err.status)
    messages.success(request, _("You joined %(title)s as %(name)s. This sandbox is yours for the class.") % {"title": found.title, "name": member.display_name})
    return redirect("cluster", cluster=member.cluster.name)
