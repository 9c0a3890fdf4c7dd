"""The classroom without the live stack: instructors, classes and join codes, joining (and its
rate limit), the roster, the instructor's read-only access and actions, pacing, the end of a
class and its expiry, and the roster's websocket."""
from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from cluster import sandbox
from cluster.apiserver.handlers import access
from cluster.componentbase import clock as cluster_clock
from cluster.demo import ensure_cluster
from cluster.models import Cluster, LabProgress, Object
from config.asgi import application
from web import broadcast, bus, classroom
from web.models import ClassMessage, Classroom, Membership, Pacing

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a long enough password 1"
ORIGIN = (b"origin", b"http://testserver")
LAB = """\
id: class-test
title: {en: "A lab for the class", ko: "수업용 실습"}
level: beginner
minutes: 10
steps:
- id: first
  text: {en: "The first step.", ko: "첫 단계."}
- id: second
  text: {en: "The second step.", ko: "둘째 단계."}
- id: third
  text: {en: "The third step.", ko: "셋째 단계."}
"""


@pytest.fixture(autouse=True)
def labs_dir(settings, tmp_path):
    folder = tmp_path / "labs"
    folder.mkdir()
    (folder / "class-test.yaml").write_text(LAB)
    settings.PODFLOW_LABS_DIR = str(folder)
    return folder


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict]]:
    """What the classroom sends to Channels groups (the instructor's pages) and to learners'
    streams, as (group or stream(cluster), message) (PODFLOW_BROADCAST is off in unit tests)."""
    out: list[tuple[str, dict]] = []
    monkeypatch.setattr(broadcast, "send", lambda group, message: out.append((group, message)))
    monkeypatch.setattr(broadcast, "to_cluster", lambda name, message: out.append((stream_of(name), message)))
    return out


def stream_of(cluster_name: str) -> str:
    return f"the stream of {cluster_name}"


def instructor(name: str = "teacher") -> tuple[User, Client]:
    out = StringIO()
    call_command("createinstructor", name, "--password", PASSWORD, stdout=out)
    user = User.objects.get(username=name)
    client = Client()
    assert client.login(username=name, password=PASSWORD)
    return user, client


def make_class(client: Client, *, pacing: str = "self-paced", labs: tuple[str, ...] = ("class-test",)) -> Classroom:
    answer = client.post("/classes/", {"title": "Kubernetes 101", "labs": list(labs), "pacing": pacing})
    assert answer.status_code == 302, answer.content[:500]
    return Classroom.objects.latest("created")


def join(code: str, name: str, client: Client | None = None) -> tuple[Client, Cluster]:
    client = client or Client()
    answer = client.post(f"/join/{code}", {"name": name})
    assert answer.status_code == 302, answer.content[:500]
    cluster_name = answer["Location"].strip("/").split("/")[-1]
    assert client.get(answer["Location"]).status_code == 200  # as a browser follows it (and shows the message)
    return client, Cluster.objects.get(name=cluster_name)


def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


# --- instructors and classes ------------------------------------------------------------------

def test_createinstructor_makes_or_promotes_an_account_in_the_instructors_group(monkeypatch):
    out = StringIO()
    call_command("createinstructor", "ada", "--password", PASSWORD, stdout=out)
    assert "created" in out.getvalue()
    ada = User.objects.get(username="ada")
    assert ada.check_password(PASSWORD) and classroom.is_instructor(ada)
    assert Group.objects.filter(name="instructors", user=ada).exists()

    User.objects.create_user("bob", password="another long password 2")
    call_command("createinstructor", "bob", stdout=StringIO())  # an existing account keeps its password
    bob = User.objects.get(username="bob")
    assert classroom.is_instructor(bob) and bob.check_password("another long password 2")

    monkeypatch.setenv("PODFLOW_INSTRUCTOR_PASSWORD", "from the environment 3")
    call_command("createinstructor", "cy", stdout=StringIO())
    assert User.objects.get(username="cy").check_password("from the environment 3")
    monkeypatch.delenv("PODFLOW_INSTRUCTOR_PASSWORD")
    with pytest.raises(CommandError, match="needs a password"):
        call_command("createinstructor", "dee", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("createinstructor", "eve", "--password", "123", stdout=StringIO())


def test_only_instructors_make_classes_and_a_class_gets_an_unambiguous_code():
    assert Client().get("/classes/")["Location"].startswith("/accounts/login/")
    User.objects.create_user("learner", password=PASSWORD)
    someone = Client()
    someone.login(username="learner", password=PASSWORD)
    assert someone.get("/classes/").status_code == 403
    assert someone.post("/classes/", {"title": "x"}).status_code == 403

    _, teacher = instructor()
    assert teacher.get("/classes/").status_code == 200
    made = make_class(teacher)
    assert len(made.code) == classroom.CODE_LENGTH and set(made.code) <= set(classroom.ALPHABET)
    assert not set(made.code) & set("ILO01")
    assert made.labs == ["class-test"] and made.pacing == Pacing.SELF_PACED
    assert abs((made.expires_at - timezone.now()) - timedelta(hours=12)) < timedelta(minutes=1)
    page = teacher.get("/classes/")
    assert made.code.encode() in page.content

    bad = teacher.post("/classes/", {"title": "", "labs": ["class-test"]})
    assert bad.status_code == 400
    unknown = teacher.post("/classes/", {"title": "x", "labs": ["no-such-lab"]}, HTTP_ACCEPT="application/json")
    assert unknown.status_code == 400 and unknown.json()["fields"] == {"labs": "There is no lab no-such-lab."}


def test_codes_are_read_as_typed():
    assert classroom.normalize_code(" k7p-2qx ") == "K7P2QX"
    assert classroom.normalize_code("<script>") == ""
    assert classroom.normalize_code("") == ""


# --- joining -----------------------------------------------------------------------------------

def test_a_learner_joins_by_code_and_gets_a_sandbox_of_their_own(sent):
    _, teacher = instructor()
    made = make_class(teacher)

    form = Client().get(f"/join/{made.code.lower()}")
    assert form.status_code == 200 and b"Kubernetes 101" in form.content
    learner, cluster = join(made.code, "Ada")
    member = Membership.objects.get(classroom=made)
    assert member.display_name == "Ada" and member.cluster == cluster and member.user is None
    assert cluster.learner and member.learner == cluster.learner  # the session's learner id
    assert learner.get(f"/clusters/{cluster.name}/").status_code == 200
    assert Object.objects.filter(cluster=cluster, kind="Node").count() == 3
    assert ("class.%d" % made.pk, {"type": "class.changed"}) in sent

    # Joining again (the same browser) finds the same sandbox; another browser gets another.
    again = learner.post("/join", {"code": made.code, "name": "Ada L."})
    assert again["Location"] == f"/clusters/{cluster.name}/"
    assert Membership.objects.get(classroom=made).display_name == "Ada L."
    _, other = join(made.code, "Grace")
    assert other != cluster and Membership.objects.filter(classroom=made).count() == 2


def test_a_class_sandbox_is_not_counted_in_the_learners_own_quota(settings, sent):
    settings.PODFLOW_QUOTA_SANDBOXES = 2
    _, teacher = instructor()
    made = make_class(teacher)
    learner, in_class = join(made.code, "Ada")
    who = in_class.learner
    # The class's sandbox leaves room for two of their own; a third is refused.
    sandbox.create(learner=who, name="mine-1")
    sandbox.create(learner=who, name="mine-2")
    with pytest.raises(sandbox.SandboxError):
        sandbox.create(learner=who, name="mine-3")
    assert b"2 of 2" in learner.get(f"/clusters/{in_class.name}/").content
    # And a learner at their limit still joins another class.
    other = make_class(teacher)
    _, second = join(other.code, "Ada", learner)
    assert second.learner == who and sandbox.owned_by(learner=who).count() == 4


def test_joining_needs_a_name_and_a_right_code():
    _, teacher = instructor()
    made = make_class(teacher)
    empty = Client().post(f"/join/{made.code}", {"name": "   "})
    assert empty.status_code == 400 and b"Type the name" in empty.content
    wrong = Client().post("/join", {"code": "ZZZZZZ", "name": "Ada"})
    assert wrong.status_code == 404 and b"No class has this code" in wrong.content
    assert Membership.objects.count() == 0


def test_wrong_codes_are_limited_per_address_with_429_and_retry_after(settings):
    settings.PODFLOW_JOIN_FAILURES_PER_IP = 3
    _, teacher = instructor()
    made = make_class(teacher)
    browser = Client()
    answers = [browser.post("/join", {"code": f"WRONG{i}", "name": "Mallory"}).status_code for i in range(3)]
    assert answers == [404, 404, 429]
    locked = browser.get(f"/join/{made.code}")  # even the right code, from this address, for the window
    assert locked.status_code == 429 and 0 < int(locked["Retry-After"]) <= settings.PODFLOW_JOIN_WINDOW_SECONDS
    assert b"Too many wrong codes" in locked.content
    assert Client(REMOTE_ADDR="10.0.0.9").get(f"/join/{made.code}").status_code == 200


def test_an_expired_or_ended_class_says_so_and_nobody_joins():
    _, teacher = instructor()
    made = make_class(teacher)
    Classroom.objects.filter(pk=made.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = Client().post(f"/join/{made.code}", {"name": "Ada"})
    assert expired.status_code == 410 and b"has expired" in expired.content

    other = make_class(teacher)
    assert teacher.post(f"/classes/{other.code}/end").status_code == 302
    ended = Client().get(f"/join/{other.code}")
    assert ended.status_code == 410 and b"has ended" in ended.content
    assert Membership.objects.count() == 0


# --- the roster ---------------------------------------------------------------------------------

def test_the_roster_shows_each_learners_step_with_the_stuck_first_and_a_heat_map(settings):
    settings.PODFLOW_CLASS_STUCK_SECONDS = 300
    _, teacher = instructor()
    made = make_class(teacher)
    _, ada = join(made.code, "Ada")
    _, grace = join(made.code, "Grace")
    _, linus = join(made.code, "Linus")
    _, ken = join(made.code, "Ken")
    now = timezone.now()
    LabProgress.objects.create(cluster=ada, lab="class-test", step_index=1, step_id="second", checks_passed=1, checks_total=2, step_started=now - timedelta(seconds=30))
    LabProgress.objects.create(cluster=grace, lab="class-test", step_index=0, step_id="first", checks_passed=0, checks_total=1, step_started=now - timedelta(minutes=12))
    LabProgress.objects.create(cluster=linus, lab="class-test", step_index=2, step_id="third", checks_passed=1, checks_total=1, step_started=now, completed=True)
    classroom.set_hand(Membership.objects.get(cluster=ken), True)

    data = teacher.get(f"/classes/{made.code}/roster").json()

    names = [r["name"] for r in data["learners"]]
    assert names == ["Ken", "Grace", "Ada", "Linus"]  # hand, stuck, working, done
    by_name = {r["name"]: r for r in data["learners"]}
    assert by_name["Ken"]["status"] == "hand" and by_name["Ken"]["hand_raised"]
    assert by_name["Grace"]["status"] == "stuck" and by_name["Grace"]["seconds_on_step"] >= 720
    assert by_name["Ada"].items() >= {"lab": "class-test", "step_index": 1, "step_id": "second", "checks_passed": 1, "checks_total": 2, "status": "working"}.items()
    assert by_name["Ada"]["url"] == f"/clusters/{ada.name}/?readonly=1"
    assert by_name["Linus"]["completed"] and by_name["Linus"]["status"] == "done"
    assert all(r["last_activity"] for r in data["learners"])
    [lab] = data["heatmap"]
    assert [s["id"] for s in lab["steps"]] == ["first", "second", "third"]
    assert [s["learners"] for s in lab["steps"]] == [1, 1, 0] and lab["completed"] == 1
    assert data["class"]["code"] == made.code and data["class"]["state"] == "live"

    # The page renders the same roster as a table.
    page = teacher.get(f"/classes/{made.code}/")
    assert page.status_code == 200
    assert b'<table class="roster" id="roster">' in page.content and b"Grace" in page.content


def test_the_class_pages_are_404_to_anyone_but_its_instructor():
    _, teacher = instructor()
    made = make_class(teacher)
    learner, _ = join(made.code, "Ada")
    _, rival = instructor("rival")
    for who in (learner, rival, Client()):
        for url in (f"/classes/{made.code}/", f"/classes/{made.code}/roster", f"/classes/{made.code}/projector"):
            theirs, nobody = who.get(url), who.get(url.replace(made.code, "ZZZZZZ"))
            assert theirs.status_code == nobody.status_code == 404, (url, theirs.status_code)
            assert b"Kubernetes 101" not in theirs.content
        assert who.post(f"/classes/{made.code}/clock", {"action": "pause"}).status_code == 404
    staff = User.objects.create_user("root", password=PASSWORD, is_staff=True)
    boss = Client()
    boss.force_login(staff)
    assert boss.get(f"/classes/{made.code}/roster").status_code == 200


# --- the instructor reads a learner's sandbox, never writes --------------------------------------

def test_the_instructor_may_read_a_learners_class_sandbox_and_write_nothing():
    _, teacher = instructor()
    made = make_class(teacher)
    _, cluster = join(made.code, "Ada")
    _, rival = instructor("rival")
    before = (cluster.revision, cluster.speed)
    teacher.get("/classes/")  # the csrftoken cookie
    csrf = {"HTTP_X_CSRFTOKEN": teacher.cookies["csrftoken"].value}

    assert teacher.get(f"/clusters/{cluster.name}/?readonly=1").status_code == 200
    assert teacher.get(f"/k8s/{cluster.name}/api/v1/namespaces/default/pods").status_code == 200
    assert teacher.get(f"/clusters/{cluster.name}/snapshot?at=1").status_code in (200, 410)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}}
    write = teacher.post(f"/k8s/{cluster.name}/api/v1/namespaces/default/pods", pod, content_type="application/json", **csrf)
    assert write.status_code == 403 and "read-only" in write.json()["message"]
    assert teacher.post(f"/k8s/{cluster.name}/podflow/v1/clock", {"paused": True}, content_type="application/json", **csrf).status_code == 403
    assert teacher.post(f"/clusters/{cluster.name}/speed", {"speed": "slow"}, content_type="application/json", **csrf).status_code == 404
    assert teacher.post(f"/clusters/{cluster.name}/reset", **csrf).status_code == 404
    assert teacher.post(f"/clusters/{cluster.name}/delete", **csrf).status_code == 404
    assert teacher.get(f"/clusters/{cluster.name}/kubeconfig").status_code == 404  # it holds the token
    cluster.refresh_from_db()
    assert (cluster.revision, cluster.speed) == before
    # Another instructor may not even read it.
    assert rival.get(f"/clusters/{cluster.name}/").status_code == 404
    assert rival.get(f"/k8s/{cluster.name}/api/v1/namespaces/default/pods").status_code == 401
    # The rule itself.
    assert access.can_open(access.Principal(made.instructor), cluster, write=False)
    assert not access.can_open(access.Principal(made.instructor), cluster)


def test_learners_may_not_open_each_others_class_sandboxes():
    _, teacher = instructor()
    made = make_class(teacher)
    ada, ada_cluster = join(made.code, "Ada")
    _, grace_cluster = join(made.code, "Grace")
    assert ada.get(f"/clusters/{grace_cluster.name}/").status_code == 404
    assert ada.get(f"/k8s/{grace_cluster.name}/api/v1/namespaces/default/pods").status_code == 401
    assert ada.get(f"/clusters/{ada_cluster.name}/").status_code == 200


def _follow(path: str, client: Client) -> dict:
    async def run() -> dict:
        cookie = (b"cookie", "; ".join(f"{k}={v.value}" for k, v in client.cookies.items()).encode())
        communicator = WebsocketCommunicator(application, path, headers=[ORIGIN, cookie])
        connected, _ = await communicator.connect(timeout=5)
        if not connected:
            return {"type": "websocket.close", "refused": True}
        try:
            return await communicator.receive_output(timeout=5)
        finally:
            await communicator.disconnect()

    return async_to_sync(run)()


def test_the_instructor_follows_a_learners_stream_and_the_roster_and_no_one_else_does():
    _, teacher = instructor()
    made = make_class(teacher)
    learner, cluster = join(made.code, "Ada")
    _, rival = instructor("rival")

    stream = _follow(f"/ws/clusters/{cluster.name}/", teacher)
    assert stream["type"] == "websocket.send" and '"snapshot"' in stream["text"]
    assert _follow(f"/ws/clusters/{cluster.name}/", rival) == {"type": "websocket.close", "code": 4403}

    first = _follow(f"/ws/classes/{made.code}/", teacher)
    roster = json.loads(first["text"])
    assert roster["type"] == "roster" and [r["name"] for r in roster["learners"]] == ["Ada"]
    for other in (learner, rival, Client()):
        assert _follow(f"/ws/classes/{made.code}/", other) == {"type": "websocket.close", "code": 4403}
    assert _follow("/ws/classes/ZZZZZZ/", teacher) == {"type": "websocket.close", "code": 4403}


def test_the_roster_socket_sends_the_roster_again_when_the_class_changes():
    _, teacher = instructor()
    made = make_class(teacher)
    _, cluster = join(made.code, "Ada")

    async def run() -> dict:
        cookie = (b"cookie", "; ".join(f"{k}={v.value}" for k, v in teacher.cookies.items()).encode())
        communicator = WebsocketCommunicator(application, f"/ws/classes/{made.code}/", headers=[ORIGIN, cookie])
        await communicator.connect(timeout=5)
        try:
            await communicator.receive_json_from(timeout=5)
            await _save_progress(cluster)
            await get_channel_layer().group_send(classroom.group_name(made.pk), {"type": "class.changed"})
            return await communicator.receive_json_from(timeout=5)
        finally:
            await communicator.disconnect()

    again = async_to_sync(run)()
    assert again["type"] == "roster" and again["learners"][0]["step_index"] == 1


from channels.db import database_sync_to_async  # noqa: E402


@database_sync_to_async
def _save_progress(cluster: Cluster) -> None:
    LabProgress.objects.create(cluster=cluster, lab="class-test", step_index=1, step_id="second", checks_total=1, step_started=timezone.now())


def test_a_learners_progress_reaches_the_class_group_when_it_is_saved_or_announced(settings, sent):
    from cluster import labs
    from cluster.apiserver import audit

    settings.PODFLOW_BROADCAST = True
    _, teacher = instructor()
    made = make_class(teacher)
    _, cluster = join(made.code, "Ada")
    sent.clear()
    LabProgress.objects.create(cluster=cluster, lab="class-test", step_index=0, step_id="first", step_started=timezone.now())
    assert sent == [(f"class.{made.pk}", {"type": "class.changed"})]
    sent.clear()
    audit.announce(cluster.name, labs.PROGRESS, {"lab": "class-test", "step": 0, "passed": 1, "total": 1})
    assert sent == [(f"class.{made.pk}", {"type": "class.changed"})]
    sent.clear()
    audit.announce("not-in-a-class", labs.PROGRESS, {})
    assert sent == []


# --- the instructor's actions ----------------------------------------------------------------------

def test_broadcast_goes_to_every_learners_stream(sent):
    _, teacher = instructor()
    made = make_class(teacher)
    _, a = join(made.code, "Ada")
    _, b = join(made.code, "Grace")
    sent.clear()
    answer = teacher.post(f"/classes/{made.code}/broadcast", {"text": "Look at step 4"}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200, answer.content
    groups = {group: message for group, message in sent}
    for cluster in (a, b):
        message = groups[stream_of(cluster.name)]
        assert message.items() >= {"type": "class.broadcast", "kind": "message", "text": "Look at step 4", "from": "teacher", "class": "Kubernetes 101"}.items()
    assert ClassMessage.objects.get(classroom=made).text == "Look at step 4"
    assert teacher.post(f"/classes/{made.code}/broadcast", {"text": " "}, HTTP_ACCEPT="application/json").status_code == 400


def test_the_stream_forwards_a_class_broadcast_to_the_learners_page():
    _, teacher = instructor()
    made = make_class(teacher)
    learner, cluster = join(made.code, "Ada")

    async def run() -> dict:
        cookie = (b"cookie", "; ".join(f"{k}={v.value}" for k, v in learner.cookies.items()).encode())
        communicator = WebsocketCommunicator(application, f"/ws/clusters/{cluster.name}/", headers=[ORIGIN, cookie])
        await communicator.connect(timeout=5)
        try:
            first = await communicator.receive_json_from(timeout=5)
            for _ in range(first.get("parts", 0)):
                await communicator.receive_json_from(timeout=5)
            bus.publish(cluster.name, bus.message_payload({"type": "class.broadcast", "kind": "message", "text": "hello", "from": "teacher", "sent": "2026-01-01T00:00:00Z", "class": "K"}))
            return await communicator.receive_json_from(timeout=5)
        finally:
            await communicator.disconnect()

    message = async_to_sync(run)()
    assert message.items() >= {"type": "broadcast", "kind": "message", "text": "hello", "from": "teacher", "class": "K"}.items()


def test_pause_step_and_resume_every_sandbox_of_the_class(monkeypatch):
    from cluster.informers import wake

    monkeypatch.setattr(wake, "dispatch", lambda tasks: None)
    _, teacher = instructor()
    made = make_class(teacher)
    clusters = [join(made.code, name)[1] for name in ("Ada", "Grace", "Linus")]

    assert teacher.post(f"/classes/{made.code}/clock", {"action": "pause"}).status_code == 302
    assert all(cluster_clock.is_paused(c) for c in clusters)
    made.refresh_from_db()
    assert made.paused
    # A learner who joins now is paused too.
    _, late = join(made.code, "Late")
    assert cluster_clock.is_paused(late)
    assert teacher.post(f"/classes/{made.code}/clock", {"action": "step"}, HTTP_ACCEPT="application/json").json()["clusters"] == 4
    answer = teacher.post(f"/classes/{made.code}/clock", {"action": "resume"}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200 and not any(cluster_clock.is_paused(c) for c in [*clusters, late])
    assert teacher.post(f"/classes/{made.code}/clock", {"action": "explode"}, HTTP_ACCEPT="application/json").status_code == 400


def test_a_fault_for_everyone_stops_and_starts_the_scheduler(monkeypatch):
    from cluster.informers import wake

    monkeypatch.setattr(wake, "dispatch", lambda tasks: None)
    _, teacher = instructor()
    made = make_class(teacher)
    clusters = [join(made.code, name)[1] for name in ("Ada", "Grace")]
    teacher.post(f"/classes/{made.code}/fault", {"component": "scheduler", "action": "stop"})
    assert all(cluster_clock.settings_of(c.pk)[1] == ["scheduler"] for c in clusters)
    teacher.post(f"/classes/{made.code}/fault", {"component": "scheduler", "action": "start"})
    assert all(cluster_clock.settings_of(c.pk)[1] == [] for c in clusters)
    assert teacher.post(f"/classes/{made.code}/fault", {"component": "kubelet", "action": "stop"}, HTTP_ACCEPT="application/json").status_code == 400


def test_reset_one_learner_or_all():
    from cluster.apiserver import store
    from cluster.models import Object
    from tests.unit.manifests import pod

    _, teacher = instructor()
    made = make_class(teacher)
    clusters = [join(made.code, name)[1] for name in ("Ada", "Grace")]
    for c in clusters:
        store.create(c, pod("web"))
    ada_member = Membership.objects.get(cluster=clusters[0])
    teacher.post(f"/classes/{made.code}/reset", {"member": str(ada_member.pk)})
    assert not Object.objects.filter(cluster=clusters[0], kind="Pod").exists()
    assert Object.objects.filter(cluster=clusters[1], kind="Pod").exists()
    teacher.post(f"/classes/{made.code}/reset", {"member": "all"})
    assert not Object.objects.filter(cluster__in=clusters, kind="Pod").exists()
    assert Object.objects.filter(cluster=clusters[1], kind="Node").count() == 3
    assert teacher.post(f"/classes/{made.code}/reset", {"member": "99999"}, HTTP_ACCEPT="application/json").status_code == 404


def test_instructor_led_pacing_holds_learners_at_the_opened_step(sent):
    from cluster import labs

    _, teacher = instructor()
    made = make_class(teacher, pacing="instructor-led")
    _, cluster = join(made.code, "Ada")
    assert made.opened_step == {"class-test": 0}
    assert labs.may_advance(cluster, "class-test", 0)
    assert not labs.may_advance(cluster, "class-test", 1)
    assert labs.may_advance(cluster, "another-lab", 5)  # not a lab of the class
    outside = sandbox.create(learner="someone-else")[0]
    assert labs.may_advance(outside, "class-test", 2)

    sent.clear()
    answer = teacher.post(f"/classes/{made.code}/pace", {"lab": "class-test", "step": "1"}, HTTP_ACCEPT="application/json")
    assert answer.json()["opened_step"] == 1
    assert labs.may_advance(cluster, "class-test", 1) and not labs.may_advance(cluster, "class-test", 2)
    assert (stream_of(cluster.name), {"type": "class.pace", "lab": "class-test", "opened_step": 1, "class": "Kubernetes 101"}) in sent
    # Opened to the last step, the lab may be completed (step_index == len(steps)).
    teacher.post(f"/classes/{made.code}/pace", {"lab": "class-test", "delta": "5"})
    made.refresh_from_db()
    assert made.opened_step == {"class-test": 2}
    assert labs.may_advance(cluster, "class-test", 3)

    self_paced = make_class(teacher)
    assert teacher.post(f"/classes/{self_paced.code}/pace", {"lab": "class-test", "step": "1"}, HTTP_ACCEPT="application/json").status_code == 400


def test_a_class_sandbox_is_read_only_exactly_while_its_class_has_ended_or_expired(sent):
    _, teacher = instructor()
    made, other = make_class(teacher), make_class(teacher)
    _, mine = join(made.code, "Ada")
    _, theirs = join(other.code, "Grace")
    solo, _ = ensure_cluster("solo-sandbox")

    def orm(cluster: Cluster) -> bool:  # the same question through the ORM
        return Membership.objects.filter(cluster=cluster).filter(Q(classroom__ended_at__isnull=False) | Q(classroom__expires_at__lte=timezone.now())).exists()

    def read_only() -> list[bool]:
        found = [classroom.ended_class_sandbox(c) for c in (mine, theirs, solo)]
        assert found == [orm(c) for c in (mine, theirs, solo)]
        return found

    assert read_only() == [False, False, False]
    Classroom.objects.filter(pk=made.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert read_only() == [True, False, False]
    Classroom.objects.filter(pk=made.pk).update(expires_at=timezone.now() + timedelta(hours=1), ended_at=timezone.now())
    assert read_only() == [True, False, False]
    Classroom.objects.filter(pk=made.pk).update(ended_at=None)
    assert read_only() == [False, False, False]
    assert access.is_read_only(theirs) is False
    Classroom.objects.filter(pk=other.pk).update(ended_at=timezone.now())
    assert read_only() == [False, True, False] and access.is_read_only(theirs) is True


def test_extend_and_end_the_class_whose_sandboxes_turn_read_only(sent):
    _, teacher = instructor()
    made = make_class(teacher)
    learner, cluster = join(made.code, "Ada")
    before = made.expires_at
    answer = teacher.post(f"/classes/{made.code}/extend", {"hours": "2"}, HTTP_ACCEPT="application/json")
    made.refresh_from_db()
    assert answer.status_code == 200 and made.expires_at - before == timedelta(hours=2)
    assert teacher.post(f"/classes/{made.code}/extend", {"hours": "99"}, HTTP_ACCEPT="application/json").status_code == 400

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}}
    learner.get(f"/clusters/{cluster.name}/")
    csrf = {"HTTP_X_CSRFTOKEN": learner.cookies["csrftoken"].value}
    assert learner.post(f"/k8s/{cluster.name}/api/v1/namespaces/default/pods", pod, content_type="application/json", **csrf).status_code == 201

    sent.clear()
    assert teacher.post(f"/classes/{made.code}/end", HTTP_ACCEPT="application/json").status_code == 200
    made.refresh_from_db()
    assert made.ended_at is not None and cluster_clock.is_paused(cluster)
    assert any(m.get("kind") == "ended" for g, m in sent if g == stream_of(cluster.name))
    # Read-only for the learner: the page and reads work, writes do not (session or token).
    assert learner.get(f"/clusters/{cluster.name}/").status_code == 200
    assert learner.get(f"/k8s/{cluster.name}/api/v1/namespaces/default/pods").status_code == 200
    pod["metadata"]["name"] = "web2"
    refused = learner.post(f"/k8s/{cluster.name}/api/v1/namespaces/default/pods", pod, content_type="application/json", **csrf)
    assert refused.status_code == 403 and "read-only" in refused.json()["message"]
    token = Client(HTTP_AUTHORIZATION=f"Bearer {cluster.token}")
    assert token.get(f"/k8s/{cluster.name}/api/v1/namespaces/default/pods").status_code == 200
    assert token.post(f"/k8s/{cluster.name}/api/v1/namespaces/default/pods", pod, content_type="application/json").status_code == 403
    assert learner.post(f"/clusters/{cluster.name}/reset", **csrf).status_code == 404
    # The ended class takes no more actions.
    for url, body in (("clock", {"action": "resume"}), ("broadcast", {"text": "hi"}), ("extend", {"hours": "1"}), ("end", {})):
        assert teacher.post(f"/classes/{made.code}/{url}", body, HTTP_ACCEPT="application/json").status_code == 409, url


def test_the_expiry_job_ends_classes_on_time_and_removes_them_a_week_later(settings):
    _, teacher = instructor()
    made = make_class(teacher)
    _, cluster = join(made.code, "Ada")
    Classroom.objects.filter(pk=made.pk).update(expires_at=timezone.now() - timedelta(minutes=5))

    ended, removed = classroom.expire()
    assert ended == [made.code] and removed == []
    made.refresh_from_db()
    assert made.ended_at is not None and cluster_clock.is_paused(cluster)
    # The anonymous sandbox idle for days is kept for the class's week (sandbox.expire skips it).
    Cluster.objects.filter(pk=cluster.pk).update(last_active=timezone.now() - timedelta(days=3))
    assert cluster.name not in sandbox.expire()

    ended, removed = classroom.expire(now=timezone.now() + timedelta(days=settings.PODFLOW_CLASS_KEEP_DAYS, minutes=1))
    assert removed == [made.code]
    assert not Cluster.objects.filter(pk=cluster.pk).exists() and not Classroom.objects.filter(pk=made.pk).exists()


def test_a_learner_raises_a_hand_and_only_a_learner_of_the_class_may(sent):
    _, teacher = instructor()
    made = make_class(teacher)
    learner, cluster = join(made.code, "Ada")
    learner.get(f"/clusters/{cluster.name}/")
    up = learner.post(f"/classes/{made.code}/hand", {"raised": True}, content_type="application/json", HTTP_ACCEPT="application/json")
    assert up.status_code == 200 and Membership.objects.get(cluster=cluster).hand_raised
    learner.post(f"/classes/{made.code}/hand", {"raised": "0"})
    assert not Membership.objects.get(cluster=cluster).hand_raised
    for other in (teacher, Client()):
        assert other.post(f"/classes/{made.code}/hand", {"raised": "1"}).status_code == 404


def test_the_cluster_page_context_tells_the_learner_and_the_instructor_about_the_class():
    from django.test import RequestFactory

    _, teacher = instructor()
    made = make_class(teacher, pacing="instructor-led")
    learner, cluster = join(made.code, "Ada")
    classroom.send_message(made, "Welcome", "teacher")
    request = RequestFactory().get("/")
    request.user = User.objects.get(username="teacher")
    request.session = {}
    seen = classroom.page_context(request, cluster)
    assert seen == {"role": "instructor", "title": "Kubernetes 101", "code": made.code, "learner": "Ada", "classUrl": f"/classes/{made.code}/", "readOnly": True}
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    request.session = {access.LEARNER_KEY: cluster.learner}
    mine = classroom.page_context(request, cluster)
    assert mine["role"] == "learner" and mine["name"] == "Ada" and mine["handUrl"] == f"/classes/{made.code}/hand"
    assert mine["openedStep"] == {"class-test": 0} and [m["text"] for m in mine["messages"]] == ["Welcome"]
    assert classroom.page_context(request, sandbox.create(learner="x")[0]) is None


def test_signing_in_takes_the_class_along():
    _, teacher = instructor()
    made = make_class(teacher)
    learner, cluster = join(made.code, "Ada")
    User.objects.create_user("ada", password=PASSWORD)
    assert learner.post("/accounts/login/", {"username": "ada", "password": PASSWORD}).status_code == 302
    member = Membership.objects.get(classroom=made)
    assert member.user.username == "ada" and member.learner == ""
    cluster.refresh_from_db()
    assert cluster.owner.username == "ada"
    assert learner.post(f"/classes/{made.code}/hand", {"raised": "1"}).status_code == 302


def test_projector_mode_is_the_instructors_own_sandbox_and_pause_all_holds_it_too(monkeypatch):
    from cluster.informers import wake

    monkeypatch.setattr(wake, "dispatch", lambda tasks: None)
    _, teacher = instructor()
    made = make_class(teacher)
    answer = teacher.get(f"/classes/{made.code}/projector")
    assert answer.status_code == 302 and answer["Location"].endswith("/?projector=1")
    own = Cluster.objects.get(name=answer["Location"].split("/")[2])
    assert own.owner.username == "teacher"
    assert teacher.get(answer["Location"]).status_code == 200
    assert teacher.get(f"/classes/{made.code}/projector")["Location"] == answer["Location"]  # the same one again
    teacher.post(f"/classes/{made.code}/clock", {"action": "pause"})
    assert cluster_clock.is_paused(own)


def test_the_admin_lists_classes_for_staff():
    _, teacher = instructor()
    make_class(teacher)
    staff = User.objects.create_superuser("root", password=PASSWORD)
    admin = Client()
    admin.force_login(staff)
    page = admin.get("/admin/web/classroom/")
    assert page.status_code == 200 and b"Kubernetes 101" in page.content


def test_the_streams_poll_reads_every_followed_sandbox_at_once_and_each_as_alone(sent):
    """The poll of a daphne process's streams (web/fanout.py) reads every cluster it follows
    in a few statements, however many: a class's pages at rest cost next to nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from web import stream

    _, teacher = instructor()
    made = make_class(teacher)
    sandboxes = [join(made.code, name)[1] for name in ("Ada", "Grace", "Alan")]
    outside, _ = ensure_cluster("outside", nodes=1)  # in no class
    classroom.send_message(made, "Look at step 4", "teacher")
    cluster_clock.pause(sandboxes[1])
    ids = [c.pk for c in [*sandboxes, outside]] + [987654]  # and one deleted

    with CaptureQueriesContext(connection) as few:
        found = stream.polled(ids[:2])
    with CaptureQueriesContext(connection) as more:
        found = stream.polled(ids)

    assert len(more.captured_queries) == len(few.captured_queries) <= 4
    assert set(found) == {c.pk for c in [*sandboxes, outside]}
    for c in [*sandboxes, outside]:
        assert found[c.pk] == (stream.current(c.pk), stream.clock_of(c.pk), classroom.recent_broadcasts(c.pk))
    assert [m["text"] for m in found[sandboxes[0].pk][2]] == ["Look at step 4"] and found[outside.pk][2] == []
    assert found[sandboxes[1].pk][1]["paused"] is True and found[sandboxes[0].pk][1]["paused"] is False
