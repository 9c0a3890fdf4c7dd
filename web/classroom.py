"""The classroom: an instructor's class, its join code, its learners' sandboxes, the roster.

An instructor (a user in the `instructors` group, or staff) makes a class: a title, its labs,
its pacing. Learners join with the class's short code and a display name; each gets a
sandbox of their own (cluster/sandbox.py), sealed as every sandbox is, except that the
class's instructor may *read* it (the rule below, which cluster/apiserver/handlers/access.py
asks). The roster reads each learner's lab progress (`cluster.models.LabProgress`, the
labs engine's) by their sandbox, at query time.

What the instructor does to the whole class (pause, step, resume, stop a component, reset)
goes through the same functions as the cluster's own API (cluster/componentbase/clock.py,
cluster/apiserver/handlers/clock.py, cluster/sandbox.py), once per sandbox.

Messages:
- to the instructor's class page, group `class.<id>`: {"type": "class.changed"} (the roster
  consumer reads the roster again; web/classroom_consumer.py);
- to each learner sandbox's stream, its cluster's channel (web/bus.py; web/consumers.py
  forwards them):
  {"type": "class.broadcast", "kind": "message"|"ended", "text", "from", "sent", "class"} and
  {"type": "class.pace", "lab", "opened_step", "class"}.
"""
from __future__ import annotations

import functools
import logging
import re
import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cluster import labs as lab_engine
from cluster import sandbox
from cluster.apiserver.handlers import access
from cluster.apiserver.handlers import clock as clock_api
from cluster.componentbase import clock as cluster_clock
from cluster.informers import wake
from cluster.models import Cluster, LabProgress
from web import broadcast
from web.models import ClassMessage, Classroom, Membership, Pacing

log = logging.getLogger("podflow.classroom")

INSTRUCTORS = "instructors"
# Join codes: no letter or digit that reads as another (I, L, O, 0, 1 are left out).
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
NAME_MAX = 40
MESSAGE_MAX = 500
EXTEND_HOURS = (1, 24)
CLOCK_ACTIONS = ("pause", "step", "resume")
FAULT_ACTIONS = ("stop", "start")


class ClassError(ValueError):
    """A request the instructor or learner can correct; `field` names the form field."""

    def __init__(self, message: str, field: str = "", status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


# --- instructors -------------------------------------------------------------------------

def instructors_group() -> Group:
    return Group.objects.get_or_create(name=INSTRUCTORS)[0]


def is_instructor(user) -> bool:
    if not (user is not None and getattr(user, "is_authenticated", False) and user.is_active):
        return False
    return bool(user.is_staff or user.groups.filter(name=INSTRUCTORS).exists())


def make_instructor(user) -> None:
    user.groups.add(instructors_group())


# --- classes -----------------------------------------------------------------------------

def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: Any) -> str:
    """A code as typed (lower case, spaces, a dash in the middle) as it is stored; "" for
    what cannot be a code."""
    code = re.sub(r"[\s\-]", "", str(text or "")[:40]).upper()
    return code if re.fullmatch(r"[A-Z0-9]{4,12}", code) else ""


def create_class(instructor, *, title: str, labs: list[str], pacing: str = Pacing.SELF_PACED, hours: float | None = None) -> Classroom:
    title = " ".join(str(title or "").split())
    if not title:
        raise ClassError(_("Give the class a title."), "title")
    if len(title) > 120:
        raise ClassError(_("A title has at most 120 characters."), "title")
    if pacing not in Pacing.values:
        raise ClassError(_("Choose self-paced or instructor-led."), "pacing")
    known = catalogue()
    labs = [lab for lab in dict.fromkeys(str(x) for x in labs) if lab]
    unknown = [lab for lab in labs if known and lab not in known]
    if unknown:
        raise ClassError(_("There is no lab %(lab)s.") % {"lab": unknown[0]}, "labs")
    expires = timezone.now() + timedelta(hours=hours if hours is not None else settings.PODFLOW_CLASS_HOURS)
    opened = {lab: 0 for lab in labs} if pacing == Pacing.INSTRUCTOR_LED else {}
    for _attempt in range(50):
        try:
            with transaction.atomic():
                return Classroom.objects.create(
                    title=title, instructor=instructor, labs=labs, pacing=pacing, opened_step=opened, code=new_code(), expires_at=expires,
                )
        except IntegrityError:
            continue  # that code is taken: draw another
    raise ClassError(_("No free join code was found. Try again."))


def find_class(code: Any) -> Classroom | None:
    code = normalize_code(code)
    return Classroom.objects.filter(code=code).select_related("instructor").first() if code else None


def class_for_instructor(user, code: Any) -> Classroom | None:
    """The class if `user` runs it (or is staff); None otherwise: the caller says 404, as
    for a class that does not exist."""
    if not (user is not None and getattr(user, "is_authenticated", False) and user.is_active):
        return None
    found = find_class(code)
    if found is None or not (found.instructor_id == user.pk or user.is_staff):
        return None
    return found


def classes_of(user) -> QuerySet[Classroom]:
    return Classroom.objects.filter(instructor=user).order_by("-created")


def state_of(classroom: Classroom, now: datetime | None = None) -> str:
    """"live" (learners may join), "expired" (its time passed; the instructor may still
    extend it) or "ended"."""
    if classroom.ended_at is not None:
        return "ended"
    return "expired" if classroom.has_ended(now) else "live"


# --- learners ----------------------------------------------------------------------------

def clean_name(text: Any) -> str:
    name = " ".join(str(text or "").split())
    if not name:
        raise ClassError(_("Type the name the class will know you by."), "name")
    if len(name) > NAME_MAX or any(ord(c) < 32 for c in name):
        raise ClassError(_("A name has at most %(n)s characters.") % {"n": NAME_MAX}, "name")
    return name


def member_for(classroom: Classroom, who: access.Principal) -> Membership | None:
    """This principal's membership of the class (an account's, or the anonymous learner's)."""
    user = who.user
    if getattr(user, "is_authenticated", False):
        mine = Q(user=user)
    elif who.learner:
        mine = Q(user__isnull=True, learner=who.learner)
    else:
        return None
    return classroom.members.filter(mine).select_related("cluster").first()


def join(classroom: Classroom, *, user, learner: str, display_name: str) -> Membership:
    """The learner's membership, made with a sandbox of their own (or found again, with a
    new sandbox if they deleted theirs). Raises ClassError (status 410 once the class is over)."""
    name = clean_name(display_name)
    if classroom.has_ended():
        raise ClassError(_("This class has ended."), status=410)
    who = access.Principal(user, learner)
    account = user if getattr(user, "is_authenticated", False) else None
    member = member_for(classroom, who)
    if member is None:
        member = Membership(classroom=classroom, user=account, learner="" if account else learner)
    member.display_name = name
    member.last_activity = timezone.now()
    made = None
    if member.cluster_id is None:
        try:
            made, _renamed = sandbox.create(user=user, learner=learner, name=f"{classroom.code.lower()}-{secrets.token_hex(3)}", quota=False)
        except sandbox.SandboxError as err:
            raise ClassError(str(err), err.field) from err
        _apply_class_clock(classroom, made)
        member.cluster = made
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:
        # The same learner joined twice at once: keep the first, drop this sandbox.
        if made is not None:
            sandbox.delete(made)
        member = member_for(classroom, who)
        if member is None:
            raise
    notify(classroom.pk)
    return member


def _apply_class_clock(classroom: Classroom, cluster: Cluster) -> None:
    """A learner who joins late gets what the instructor set for everyone."""
    if classroom.paused:
        cluster_clock.pause(cluster)
    for component in classroom.stopped_components or []:
        if component in cluster_clock.STOPPABLE:
            cluster_clock.stop(cluster, component)


def set_hand(member: Membership, raised: bool) -> None:
    now = timezone.now()
    Membership.objects.filter(pk=member.pk).update(hand_raised=raised, hand_raised_at=now if raised else None, last_activity=now)
    member.hand_raised, member.hand_raised_at, member.last_activity = raised, now if raised else None, now
    notify(member.classroom_id)


def adopt(user, learner: str) -> None:
    """Signing in gives the anonymous learner's memberships to the account, as
    sandbox.adopt gives it their sandboxes (web/accounts.py's signal does both)."""
    if not learner or user is None or not user.is_authenticated:
        return
    for member in Membership.objects.filter(user__isnull=True, learner=learner):
        try:
            with transaction.atomic():
                Membership.objects.filter(pk=member.pk).update(user=user, learner="")
        except IntegrityError:
            pass  # the account is in that class already, from another browser


# --- who may read, and what is read-only (registered with access.py in web/apps.py) ----

def instructor_reads(principal: access.Principal, cluster: Cluster) -> bool:
    """The instructor of the class a sandbox belongs to may read it."""
    user = principal.user
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    return Membership.objects.filter(cluster=cluster, classroom__instructor=user).exists()


def ended_class_sandbox(cluster: Cluster) -> bool:
    """The sandbox of a class that has ended: read-only for the week it is kept.

    Asked before every write to a sandbox (access.is_read_only): one statement, the ORM's
    `Membership.objects.filter(cluster=cluster).filter(Q(classroom__ended_at__isnull=False)
    | Q(classroom__expires_at__lte=now)).exists()` without building that query each time
    (a fifth of what the API spent on a pod's POST, before the store)."""
    connection = connections[router.db_for_read(Membership)]
    with connection.cursor() as cursor:
        cursor.execute(_ended_class_sql(), [cluster.pk, connection.ops.adapt_datetimefield_value(timezone.now())])
        return cursor.fetchone() is not None


@functools.cache
def _ended_class_sql() -> str:
    member, classroom = Membership._meta, Classroom._meta
    return (
        f"SELECT 1 FROM {member.db_table} m JOIN {classroom.db_table} c ON c.{classroom.pk.column} = m.{member.get_field('classroom').column}"
        f" WHERE m.{member.get_field('cluster').column} = %s"
        f" AND (c.{classroom.get_field('ended_at').column} IS NOT NULL OR c.{classroom.get_field('expires_at').column} <= %s) LIMIT 1"
    )


def personal_sandboxes(sandboxes: QuerySet[Cluster]) -> QuerySet[Cluster]:
    """A learner's quota (cluster/sandbox.py) leaves out the sandboxes their classes gave
    them, running or ended and read-only, and an instructor's projector clusters."""
    projectors = Classroom.objects.filter(instructor_cluster__isnull=False).values("instructor_cluster")
    return sandboxes.filter(class_membership__isnull=True).exclude(pk__in=projectors)


def keep_class_sandboxes(idle: QuerySet[Cluster]) -> QuerySet[Cluster]:
    """sandbox.expire leaves a class's sandboxes to the class's own expiry (expire below)."""
    return idle.filter(class_membership__isnull=True)


# --- pacing (the labs engine asks) --------------------------------------------------------

def may_advance(cluster: Cluster | int, lab: str, step_index: int) -> bool:
    """The labs engine's pacer (cluster.labs.register_pacer, in web/apps.py): whether the
    learner of this sandbox may move to step `step_index` (0-based; len(steps) completes
    the lab) of `lab`. Always, unless the sandbox is in an instructor-led class that takes
    the lab and the instructor has not opened that step yet; once the last step is open,
    the lab may be completed."""
    cluster_id = cluster.pk if isinstance(cluster, Cluster) else cluster
    member = Membership.objects.filter(cluster_id=cluster_id).select_related("classroom").first()
    if member is None:
        return True
    classroom = member.classroom
    if classroom.pacing != Pacing.INSTRUCTOR_LED or lab not in (classroom.labs or []):
        return True
    opened = opened_step(classroom, lab)
    if int(step_index) <= opened:
        return True
    found = lab_engine.get(lab)
    return found is not None and opened >= len(found.steps) - 1


def opened_step(classroom: Classroom, lab: str) -> int:
    try:
        return max(0, int((classroom.opened_step or {}).get(lab, 0)))
    except (TypeError, ValueError):
        return 0


# --- the labs' catalogue (the labs engine's: cluster/labs/) --------------------------------

def catalogue() -> dict[str, dict]:
    """The labs a class may take, by id: their titles and step ids."""
    return {
        lab.id: {"id": lab.id, "title": {"en": lab.title.en, "ko": lab.title.ko or lab.title.en}, "steps": [step.id for step in lab.steps], "number": lab.number}
        for lab in lab_engine.catalogue()
    }


def lab_title(lab: str, lang: str = "en") -> str:
    found = lab_engine.get(lab)
    if found is None:
        return lab
    return (found.title.ko if lang == "ko" else found.title.en) or found.title.en


# --- the roster --------------------------------------------------------------------------

def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _latest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def roster(classroom: Classroom, now: datetime | None = None) -> dict:
    """What the instructor's page shows: every learner, stuck ones first, and where the
    class is (each learner counted once, at the step they are on)."""
    now = now or timezone.now()
    members = list(classroom.members.select_related("cluster"))
    cluster_ids = [m.cluster_id for m in members if m.cluster_id]
    progress: dict[int, list[LabProgress]] = defaultdict(list)
    for row in LabProgress.objects.filter(cluster_id__in=cluster_ids):
        progress[row.cluster_id].append(row)
    labs = list(classroom.labs or [])
    learners = [_learner(m, progress.get(m.cluster_id, []) if m.cluster_id else [], labs, now) for m in members]
    learners.sort(key=lambda r: r.pop("_order"))
    return {
        "class": class_info(classroom, now),
        "now": iso(now),
        "stuck_seconds": settings.PODFLOW_CLASS_STUCK_SECONDS,
        "learners": learners,
        "heatmap": heatmap(labs, learners),
    }


def class_info(classroom: Classroom, now: datetime | None = None) -> dict:
    known = catalogue()
    return {
        "code": classroom.code,
        "title": classroom.title,
        "pacing": classroom.pacing,
        "labs": [
            {"id": lab, "title": (known.get(lab) or {}).get("title") or {"en": lab, "ko": lab}, "steps": (known.get(lab) or {}).get("steps") or [],
             "opened_step": opened_step(classroom, lab) if classroom.pacing == Pacing.INSTRUCTOR_LED else None}
            for lab in classroom.labs or []
        ],
        "state": state_of(classroom, now),
        "expires_at": iso(classroom.expires_at),
        "ended_at": iso(classroom.ended_at),
        "paused": classroom.paused,
        "stopped": list(classroom.stopped_components or []),
        "join_url": reverse("class-join-code", kwargs={"code": classroom.code}),
    }


def _learner(member: Membership, rows: list[LabProgress], labs: list[str], now: datetime) -> dict:
    in_class = [r for r in rows if not labs or r.lab in labs]
    current = max(in_class, key=lambda r: (r.updated or now, r.pk), default=None)
    cluster = member.cluster
    on_step = None
    if current is not None and not current.completed:
        on_step = max(0, int((now - (current.step_started or current.updated or now)).total_seconds()))
    activity = _latest(member.last_activity, cluster.last_active if cluster else None, _latest(*(r.updated for r in rows)))
    stuck = on_step is not None and on_step >= settings.PODFLOW_CLASS_STUCK_SECONDS
    if member.hand_raised:
        status = "hand"
    elif cluster is None:
        status = "no-sandbox"
    elif stuck:
        status = "stuck"
    elif current is None:
        status = "not-started"
    elif current.completed:
        status = "done"
    else:
        status = "working"
    position = (labs.index(current.lab) if current is not None and current.lab in labs else -1, current.step_index if current else -1, current.checks_passed if current else -1)
    order: tuple
    if status == "hand":
        order = (0, member.hand_raised_at or now, 0, ())
    elif status in ("stuck", "no-sandbox"):
        order = (1, now, -(on_step or 0), position)
    elif status == "done":
        order = (3, now, 0, position)
    else:
        order = (2, now, 0, position)
    return {
        "id": member.pk,
        "name": member.display_name,
        "cluster": cluster.name if cluster else None,
        "url": (reverse("cluster", kwargs={"cluster": cluster.name}) + "?readonly=1") if cluster else None,
        "lab": current.lab if current else None,
        "step_index": current.step_index if current else None,
        "step_id": current.step_id if current else None,
        "checks_passed": current.checks_passed if current else None,
        "checks_total": current.checks_total if current else None,
        "completed": bool(current and current.completed),
        "step_started": iso(current.step_started) if current else None,
        "seconds_on_step": on_step,
        "last_activity": iso(activity),
        "seconds_since_activity": max(0, int((now - activity).total_seconds())) if activity else None,
        "hand_raised": member.hand_raised,
        "hand_raised_at": iso(member.hand_raised_at),
        "stuck": stuck,
        "status": status,
        "joined_at": iso(member.joined_at),
        "_order": (*order, member.display_name.lower(), member.pk),
    }


def heatmap(labs: list[str], learners: list[dict]) -> list[dict]:
    """Per lab, how many learners are at each step (and done with it); a lab not in the
    catalogue shows as many steps as its learners have reached."""
    known = catalogue()
    seen = [lab for lab in dict.fromkeys(r["lab"] for r in learners if r["lab"]) if lab not in labs]
    out = []
    for lab in [*labs, *seen]:
        here = [r for r in learners if r["lab"] == lab]
        steps = list((known.get(lab) or {}).get("steps") or [])
        deepest = max((r["step_index"] for r in here if r["step_index"] is not None), default=-1)
        while len(steps) <= deepest:
            steps.append(f"step-{len(steps) + 1}")
        counts = [0] * len(steps)
        for r in here:
            if not r["completed"] and r["step_index"] is not None and 0 <= r["step_index"] < len(counts):
                counts[r["step_index"]] += 1
        out.append({
            "lab": lab,
            "title": (known.get(lab) or {}).get("title") or {"en": lab, "ko": lab},
            "steps": [{"index": i, "id": step, "learners": counts[i]} for i, step in enumerate(steps)],
            "completed": sum(1 for r in here if r["completed"]),
        })
    return out


# --- telling the pages -------------------------------------------------------------------

def group_name(classroom_id: int) -> str:
    return f"class.{classroom_id}"


def notify(classroom_id: int) -> None:
    """The roster changed: the instructor's open pages read it again."""
    broadcast.send(group_name(classroom_id), {"type": "class.changed"})


def progress_changed(sender, instance: LabProgress, **kwargs) -> None:
    """A learner's lab progress was saved (a check passed, a step begun): tell the class
    page once it is committed (a post_save/post_delete receiver, connected in web/apps.py)."""
    if not getattr(settings, "PODFLOW_BROADCAST", True):
        return
    cluster_id = instance.cluster_id
    transaction.on_commit(lambda: _notify_cluster(cluster_id))


def progress_announced(cluster_name: str, what: str, payload: Any) -> None:
    """The labs engine announces every change of a learner's progress (a check passed, a
    step begun, the lab completed) on the API server's audit (an audit listener,
    subscribed in web/apps.py): tell the class page."""
    if what != lab_engine.PROGRESS or not getattr(settings, "PODFLOW_BROADCAST", True):
        return
    classroom_id = Membership.objects.filter(cluster__name=cluster_name).values_list("classroom_id", flat=True).first()
    if classroom_id is not None:
        notify(classroom_id)


def _notify_cluster(cluster_id: int) -> None:
    classroom_id = Membership.objects.filter(cluster_id=cluster_id).values_list("classroom_id", flat=True).first()
    if classroom_id is not None:
        notify(classroom_id)


def _to_learners(classroom: Classroom, message: dict) -> int:
    names = [name for name in classroom.members.exclude(cluster__isnull=True).values_list("cluster__name", flat=True)]
    for name in names:
        broadcast.to_cluster(name, message)
    return len(names)


# --- what the instructor does --------------------------------------------------------------

def learner_clusters(classroom: Classroom, member_id: int | None = None) -> list[Cluster]:
    members = classroom.members.exclude(cluster__isnull=True).select_related("cluster")
    if member_id is not None:
        members = members.filter(pk=member_id)
    return [m.cluster for m in members]


def class_clusters(classroom: Classroom) -> list[Cluster]:
    """The learners' sandboxes and the instructor's own (projector) sandbox."""
    clusters = learner_clusters(classroom)
    if classroom.instructor_cluster_id:
        own = Cluster.objects.filter(pk=classroom.instructor_cluster_id).first()
        if own is not None:
            clusters.append(own)
    return clusters


def _must_be_running(classroom: Classroom) -> None:
    if classroom.has_ended():
        raise ClassError(_("This class has ended."), status=409)


def send_message(classroom: Classroom, text: Any, sender: str) -> ClassMessage:
    _must_be_running(classroom)
    text = str(text or "").strip()
    if not text:
        raise ClassError(_("Type a message first."), "text")
    if len(text) > MESSAGE_MAX:
        raise ClassError(_("A message has at most %(n)s characters.") % {"n": MESSAGE_MAX}, "text")
    message = ClassMessage.objects.create(classroom=classroom, text=text, sender=sender[:150])
    _to_learners(classroom, {"type": "class.broadcast", "kind": "message", "text": message.text, "from": message.sender, "sent": iso(message.sent_at), "class": classroom.title})
    notify(classroom.pk)
    return message


def set_pace(classroom: Classroom, lab: Any, step: Any) -> int:
    """Instructor-led pacing: learners may go as far as step `step` (0-based) of `lab`."""
    _must_be_running(classroom)
    if classroom.pacing != Pacing.INSTRUCTOR_LED:
        raise ClassError(_("This class is self-paced: each learner goes at their own pace."), "lab")
    lab = str(lab or "")
    if lab not in (classroom.labs or []):
        raise ClassError(_("This class does not take that lab."), "lab")
    try:
        step = int(step)
    except (TypeError, ValueError):
        raise ClassError(_("A step is a number."), "step") from None
    steps = (catalogue().get(lab) or {}).get("steps") or []
    step = max(0, min(step, len(steps) - 1)) if steps else max(0, step)
    with transaction.atomic():
        row = Classroom.objects.select_for_update().get(pk=classroom.pk)
        row.opened_step = {**(row.opened_step or {}), lab: step}
        row.save(update_fields=["opened_step"])
    classroom.opened_step = row.opened_step
    _to_learners(classroom, {"type": "class.pace", "lab": lab, "opened_step": step, "class": classroom.title})
    notify(classroom.pk)
    return step


def clock_all(classroom: Classroom, action: str) -> int:
    """Pause, step (one held action of each paused sandbox) or resume every sandbox of the class."""
    _must_be_running(classroom)
    if action not in CLOCK_ACTIONS:
        raise ClassError(_("Pause, step or resume."), "action")
    clusters = class_clusters(classroom)
    for cluster in clusters:
        if action == "pause":
            cluster_clock.pause(cluster)
        elif action == "resume":
            clock_api.resume(cluster)
        elif cluster_clock.is_paused(cluster):
            row = cluster_clock.step(cluster)
            if row is not None:
                wake.dispatch([(row.task, tuple(row.args))])
    if action != "step":
        Classroom.objects.filter(pk=classroom.pk).update(paused=action == "pause")
        classroom.paused = action == "pause"
    notify(classroom.pk)
    return len(clusters)


def fault_all(classroom: Classroom, component: str, action: str) -> int:
    """Stop or start a control-plane component (the scheduler, the controller manager) in
    every sandbox of the class."""
    _must_be_running(classroom)
    if component not in cluster_clock.STOPPABLE:
        raise ClassError(_("Choose the scheduler or the controller manager."), "component")
    if action not in FAULT_ACTIONS:
        raise ClassError(_("Stop or start."), "action")
    clusters = class_clusters(classroom)
    for cluster in clusters:
        if action == "stop":
            cluster_clock.stop(cluster, component)
        else:
            cluster_clock.start(cluster, component)
            clock_api.catch_up(cluster, component)
    with transaction.atomic():
        row = Classroom.objects.select_for_update().get(pk=classroom.pk)
        stopped = set(row.stopped_components or [])
        (stopped.add if action == "stop" else stopped.discard)(component)
        row.stopped_components = [c for c in cluster_clock.STOPPABLE if c in stopped]
        row.save(update_fields=["stopped_components"])
    classroom.stopped_components = row.stopped_components
    notify(classroom.pk)
    return len(clusters)


def reset(classroom: Classroom, member_id: int | None = None) -> int:
    """Back to its first state: one learner's sandbox, or every learner's."""
    _must_be_running(classroom)
    clusters = learner_clusters(classroom, member_id)
    if member_id is not None and not clusters:
        raise ClassError(_("There is no such learner in this class."), "member", status=404)
    for cluster in clusters:
        sandbox.reset(cluster)
    notify(classroom.pk)
    return len(clusters)


def extend(classroom: Classroom, hours: Any) -> datetime:
    if classroom.ended_at is not None:
        raise ClassError(_("This class has ended."), status=409)
    try:
        hours = float(hours)
    except (TypeError, ValueError):
        raise ClassError(_("Extend by 1 to 24 hours."), "hours") from None
    if not EXTEND_HOURS[0] <= hours <= EXTEND_HOURS[1]:
        raise ClassError(_("Extend by 1 to 24 hours."), "hours")
    with transaction.atomic():
        row = Classroom.objects.select_for_update().get(pk=classroom.pk)
        row.expires_at = max(row.expires_at, timezone.now()) + timedelta(hours=hours)
        row.save(update_fields=["expires_at"])
    classroom.expires_at = row.expires_at
    notify(classroom.pk)
    return row.expires_at


def end(classroom: Classroom, at: datetime | None = None) -> None:
    """The class ends: nobody joins any more, its learners' sandboxes are paused and
    read-only, and a week on they go (expire)."""
    if classroom.ended_at is not None:
        return
    moment = at or timezone.now()
    Classroom.objects.filter(pk=classroom.pk, ended_at__isnull=True).update(ended_at=moment, paused=True)
    classroom.ended_at, classroom.paused = moment, True
    for cluster in learner_clusters(classroom):
        cluster_clock.pause(cluster)
    _to_learners(classroom, {"type": "class.broadcast", "kind": "ended", "text": "", "from": classroom.instructor.get_username(), "sent": iso(moment), "class": classroom.title})
    notify(classroom.pk)


def instructor_sandbox(classroom: Classroom) -> Cluster:
    """The instructor's own sandbox for the class (projector mode), made on first use."""
    if classroom.instructor_cluster_id:
        own = Cluster.objects.filter(pk=classroom.instructor_cluster_id).first()
        if own is not None:
            return own
    try:
        made, _renamed = sandbox.create(user=classroom.instructor, name=f"{classroom.code.lower()}-projector-{secrets.token_hex(2)}", quota=False)
    except sandbox.SandboxError as err:
        raise ClassError(str(err), status=409) from err
    _apply_class_clock(classroom, made)
    Classroom.objects.filter(pk=classroom.pk).update(instructor_cluster=made)
    classroom.instructor_cluster = made
    return made


# --- the expiry job (web/tasks.py) ---------------------------------------------------------

def expire(now: datetime | None = None) -> tuple[list[str], list[str]]:
    """End the classes whose time has passed; remove the classes (with their learners'
    sandboxes and the projector sandbox) that ended PODFLOW_CLASS_KEEP_DAYS ago.
    Returns (codes ended, codes removed)."""
    now = now or timezone.now()
    ended = []
    for classroom in Classroom.objects.filter(ended_at__isnull=True, expires_at__lte=now).select_related("instructor"):
        end(classroom, at=classroom.expires_at)
        ended.append(classroom.code)
    cutoff = now - timedelta(days=settings.PODFLOW_CLASS_KEEP_DAYS)
    removed = []
    for classroom in Classroom.objects.filter(ended_at__lte=cutoff):
        clusters = learner_clusters(classroom)
        if classroom.instructor_cluster_id:
            clusters += list(Cluster.objects.filter(pk=classroom.instructor_cluster_id))
        for cluster in clusters:
            with transaction.atomic():
                sandbox.delete(cluster)
        classroom.delete()
        removed.append(classroom.code)
    if ended or removed:
        log.info("classes ended: %s; removed with their sandboxes: %s", ", ".join(ended) or "none", ", ".join(removed) or "none")
    return ended, removed


# --- the learner's page (web/views.py shows it) ----------------------------------------------

def page_context(request, cluster: Cluster) -> dict | None:
    """What the cluster page shows of the class its sandbox belongs to, for page_config:
    - its learner: {"role": "learner", "title", "code", "name", "handUrl", "handRaised",
      "pacing", "openedStep": {lab: step}, "state", "endsAt", "readOnly", "messages": [...]};
    - its instructor (reading): {"role": "instructor", "title", "code", "learner", "classUrl",
      "readOnly": true};
    None for a sandbox in no class (or anyone else, such as staff)."""
    member = Membership.objects.filter(cluster=cluster).select_related("classroom", "classroom__instructor").first()
    if member is None:
        return None
    classroom = member.classroom
    who = access.principal(request)
    user = who.user
    if access.owns(who, cluster) and not who.is_staff:
        messages = list(classroom.messages.order_by("-sent_at", "-id")[:5])
        return {
            "role": "learner",
            "title": classroom.title,
            "code": classroom.code,
            "name": member.display_name,
            "handUrl": reverse("class-hand", kwargs={"code": classroom.code}),
            "handRaised": member.hand_raised,
            "pacing": classroom.pacing,
            "openedStep": {lab: opened_step(classroom, lab) for lab in classroom.labs or []} if classroom.pacing == Pacing.INSTRUCTOR_LED else None,
            "state": state_of(classroom),
            "endsAt": iso(classroom.ends_at()),
            "readOnly": classroom.has_ended(),
            "messages": [{"text": m.text, "from": m.sender, "sent": iso(m.sent_at)} for m in reversed(messages)],
        }
    if getattr(user, "is_authenticated", False) and (classroom.instructor_id == user.pk):
        return {
            "role": "instructor",
            "title": classroom.title,
            "code": classroom.code,
            "learner": member.display_name,
            "classUrl": reverse("class", kwargs={"code": classroom.code}),
            "readOnly": True,
        }
    return None


def adopt_on_sign_in(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver (connected in web/apps.py)."""
    if request is None or not hasattr(request, "session"):
        return
    learner = request.session.get(access.LEARNER_KEY, "")
    if isinstance(learner, str) and learner:
        adopt(user, learner)


def recent_broadcasts(cluster_id: int, limit: int = 5) -> list[dict]:
    """The class messages a learner's stream sends again when it (re)connects: a message
    sent while the learner's socket was reconnecting would otherwise never reach them (the
    instructor's broadcasts are not in the cluster's change log). Oldest first."""
    return recent_broadcasts_of([cluster_id], limit)[cluster_id]


def recent_broadcasts_of(cluster_ids: list[int], limit: int = 5) -> dict[int, list[dict]]:
    """`recent_broadcasts` of many clusters (the streams' poll, for every cluster a daphne
    process follows): one read of their memberships, one of each class's messages."""
    found: dict[int, list[dict]] = {pk: [] for pk in cluster_ids}
    classes: dict[int, list[int]] = defaultdict(list)
    rooms: dict[int, Classroom] = {}
    # A sandbox is in one class at most (Membership.cluster is one to one).
    for membership in Membership.objects.filter(cluster_id__in=cluster_ids).select_related("classroom"):
        classes[membership.classroom_id].append(membership.cluster_id)
        rooms[membership.classroom_id] = membership.classroom
    for room_id, clusters in classes.items():
        room = rooms[room_id]
        messages = list(room.messages.order_by("-sent_at", "-id")[:limit])
        said = [
            {"kind": "message", "text": m.text, "from": m.sender, "sent": iso(m.sent_at), "class": room.title, "replay": True}
            for m in reversed(messages)
        ]
        for pk in clusters:
            found[pk] = said
    return found
