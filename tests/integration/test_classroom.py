"""The classroom on the real stack: an instructor (made with `manage.py createinstructor`)
and three learners over real HTTP and websockets — joining by code (wrong codes → 429, an
expired class → 410), the roster as JSON and over its websocket within 2 s of a learner's
check passing, a broadcast reaching every learner's stream, pause-all holding every
sandbox, reset-all emptying them, the end of the class, and the seals between them."""
from __future__ import annotations

import contextlib
import http.cookiejar
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.livehelpers import wait_until

pytestmark = pytest.mark.integration

PASSWORD = "a long enough password 1"


class Browser:
    """A browser without the page: cookies, CSRF, as the page's fetch calls send them."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        self.cluster = ""

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def request(self, method: str, path: str, body: dict | None = None, *, form: bool = False, accept: str = "application/json") -> tuple[int, dict, bytes]:
        """(status, headers, body); redirects are not followed."""
        headers = {"Accept": accept, "Referer": self.base + "/", "X-CSRFToken": self.cookie("csrftoken")}
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body, doseq=True).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def json(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        status, _, content = self.request(method, path, body)
        try:
            return status, json.loads(content or b"{}")
        except ValueError:
            return status, {"raw": content[:300].decode(errors="replace")}

    def sign_in(self, username: str, password: str) -> None:
        self.request("GET", "/accounts/login/", accept="text/html")
        status, headers, _ = self.request("POST", "/accounts/login/", {"username": username, "password": password}, form=True, accept="text/html")
        assert status == 302, status

    def join(self, code: str, name: str) -> str:
        assert self.request("GET", f"/join/{code}", accept="text/html")[0] == 200  # the form (and its CSRF cookie)
        status, headers, content = self.request("POST", f"/join/{code}", {"name": name}, form=True, accept="text/html")
        assert status == 302, (status, content[:300])
        self.cluster = headers["Location"].strip("/").split("/")[-1]
        assert self.request("GET", headers["Location"], accept="text/html")[0] == 200
        return self.cluster

    def websocket(self, path: str):
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        url = self.base.replace("http://", "ws://") + path
        return connect(url, origin=self.base, additional_headers={"Cookie": cookies}, max_size=None, open_timeout=10)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def shell(stack, code: str) -> str:
    """Python in a `manage.py shell` of the stack (its database, Redis and settings)."""
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], env=stack._env(), cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def receive_until(ws, check, timeout: float, what: str) -> tuple[dict, float]:
    """The first message that satisfies `check`, and when it arrived (time.time())."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        try:
            message = json.loads(ws.recv(timeout=remaining))
        except TimeoutError:
            continue
        if check(message):
            return message, time.time()


def first_frame(ws) -> tuple[str, object]:
    try:
        return "message", json.loads(ws.recv(timeout=10))
    except ConnectionClosed as closed:
        return "closed", closed.rcvd.code if closed.rcvd else None


@pytest.fixture(scope="module")
def classroom(live_stack):
    """An instructor's class with three learners who joined by its code."""
    teacher_name = f"teacher-{uuid.uuid4().hex[:6]}"
    live_stack.manage("createinstructor", teacher_name, "--password", PASSWORD)
    teacher = Browser(live_stack.url)
    teacher.sign_in(teacher_name, PASSWORD)
    status, made = teacher.json("POST", "/classes/", {"title": "Live class 101", "labs": [], "pacing": "self-paced"})
    assert status == 201, made
    code = made["code"]
    learners = []
    for name in ("Ada", "Grace", "Linus"):
        learner = Browser(live_stack.url)
        learner.join(code, name)
        learner.name = name
        learners.append(learner)
    yield {"teacher": teacher, "code": code, "learners": learners, "teacher_name": teacher_name}
    names = [b.cluster for b in learners]
    shell(live_stack, f"from cluster import sandbox\nfrom cluster.models import Cluster\nfor c in Cluster.objects.filter(name__in={names!r}): sandbox.delete(c)")


def test_three_learners_join_by_code_and_the_roster_lists_them(classroom):
    teacher, code = classroom["teacher"], classroom["code"]
    status, roster = teacher.json("GET", f"/classes/{code}/roster")
    assert status == 200
    assert sorted(r["name"] for r in roster["learners"]) == ["Ada", "Grace", "Linus"]
    clusters = {r["name"]: r["cluster"] for r in roster["learners"]}
    assert {b.name: b.cluster for b in classroom["learners"]} == clusters
    assert len(set(clusters.values())) == 3
    assert all(r["status"] == "not-started" and r["url"] == f"/clusters/{r['cluster']}/?readonly=1" for r in roster["learners"])
    # Each learner's sandbox is theirs: three Ready nodes, through their own session.
    for learner in classroom["learners"]:
        status, nodes = learner.json("GET", f"/k8s/{learner.cluster}/api/v1/nodes")
        assert status == 200 and len(nodes["items"]) == 3


def test_a_learner_opens_neither_a_classmates_sandbox_nor_the_roster(classroom):
    ada, grace, _ = classroom["learners"]
    code = classroom["code"]
    assert ada.request("GET", f"/clusters/{grace.cluster}/", accept="text/html")[0] == 404
    assert ada.request("GET", f"/k8s/{grace.cluster}/api/v1/namespaces/default/pods")[0] == 401
    assert ada.request("GET", f"/classes/{code}/roster")[0] == 404
    assert ada.request("GET", f"/classes/{code}/", accept="text/html")[0] == 404
    assert ada.request("POST", f"/classes/{code}/clock", {"action": "pause"})[0] == 404
    with ada.websocket(f"/ws/clusters/{grace.cluster}/") as ws:
        assert first_frame(ws) == ("closed", 4403)
    with ada.websocket(f"/ws/classes/{code}/") as ws:
        assert first_frame(ws) == ("closed", 4403)
    # The instructor reads Ada's sandbox (page, API, stream) and writes nothing.
    teacher = classroom["teacher"]
    assert teacher.request("GET", f"/clusters/{ada.cluster}/?readonly=1", accept="text/html")[0] == 200
    assert teacher.request("GET", f"/k8s/{ada.cluster}/api/v1/namespaces/default/pods")[0] == 200
    status, refused = teacher.json("POST", f"/k8s/{ada.cluster}/api/v1/namespaces/default/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}})
    assert status == 403 and "read-only" in refused["message"]
    with teacher.websocket(f"/ws/clusters/{ada.cluster}/") as ws:
        kind, first = first_frame(ws)
        assert kind == "message" and first["type"] == "snapshot"


def test_the_roster_shows_a_learners_step_within_2_s_of_a_check_passing(classroom, live_stack):
    """The lab progress is written as the labs engine writes it (the step's checks run, the
    row saved, then its PROGRESS announcement), from another process, and the roster's
    websocket shows it. The progress is the real checks' result: the workers' lab follower
    runs them again on any write in the sandbox (a Lease renewal is one) and saves what it
    finds, so a made-up count could be overwritten before the roster read it."""
    teacher, code = classroom["teacher"], classroom["code"]
    grace = classroom["learners"][1]
    with teacher.websocket(f"/ws/classes/{code}/") as ws:
        first, _ = receive_until(ws, lambda m: m.get("type") == "roster", 10, "the first roster")
        assert {r["name"] for r in first["learners"]} == {"Ada", "Grace", "Linus"}
        out = shell(live_stack, f"""
import time
from django.utils import timezone
from cluster import labs
from cluster.labs import follow
from cluster.models import Cluster, LabProgress
cluster = Cluster.objects.get(name={grace.cluster!r})
step = labs.get("eight-steps").steps[2]
LabProgress.objects.create(cluster=cluster, lab="eight-steps", step_index=2, step_id=step.id, checks_passed=0, checks_total=0, started=timezone.now(), step_started=timezone.now())
time.sleep(1.5)
follow.evaluate(cluster.pk)  # the step's checks run, the row saved and announced, as the follower does
row = LabProgress.objects.get(cluster=cluster, lab="eight-steps")
print("committed", time.time(), row.checks_passed, row.checks_total, len(step.checks), step.id)
time.sleep(1.0)  # the broadcast thread sends before the process ends
""")
        committed, passed, total, checks, step_id = out.split("committed", 1)[1].split()[:5]
        assert total == checks and int(total) > 0, out  # the step's checks were run
        committed, passed, total = float(committed), int(passed), int(total)
        message, arrived = receive_until(
            ws, lambda m: m.get("type") == "roster" and any(r["name"] == "Grace" and r["checks_total"] == total for r in m["learners"]), 10, "Grace's checks on the roster",
        )
        assert arrived - committed <= 2.0, f"the roster showed the checks {arrived - committed:.2f}s after they were saved"
    row = next(r for r in message["learners"] if r["name"] == "Grace")
    assert (row["lab"], row["step_index"], row["step_id"], row["checks_passed"], row["checks_total"]) == ("eight-steps", 2, step_id, passed, total)
    heat = next(h for h in message["heatmap"] if h["lab"] == "eight-steps")
    assert heat["steps"][2]["learners"] == 1


def test_a_broadcast_reaches_every_learners_stream(classroom):
    teacher, code, learners = classroom["teacher"], classroom["code"], classroom["learners"]
    with contextlib.ExitStack() as opened:
        streams = [opened.enter_context(learner.websocket(f"/ws/clusters/{learner.cluster}/")) for learner in learners]
        for ws in streams:
            receive_until(ws, lambda m: m.get("type") == "snapshot", 15, "the snapshot")
        status, answer = teacher.json("POST", f"/classes/{code}/broadcast", {"text": "Look at the scheduler now"})
        assert status == 200, answer
        for ws in streams:
            message, _ = receive_until(ws, lambda m: m.get("type") == "broadcast", 5, "the broadcast")
            assert message["kind"] == "message" and message["text"] == "Look at the scheduler now"
            assert message["from"] == classroom["teacher_name"] and message["class"] == "Live class 101"


def test_a_broadcast_sent_while_a_learner_was_away_is_replayed_once_when_they_come_back(classroom):
    """Broadcasts are in no change log: a learner whose page was closed (or reconnecting)
    gets the class's latest messages when the stream opens, marked as a replay; a socket
    that already has a message is not sent it again by the stream's poll."""
    teacher, code, learner = classroom["teacher"], classroom["code"], classroom["learners"][2]
    status, _ = teacher.json("POST", f"/classes/{code}/broadcast", {"text": "Sent while Linus was away"})
    assert status == 200
    with learner.websocket(f"/ws/clusters/{learner.cluster}/") as ws:
        message, _ = receive_until(ws, lambda m: m.get("type") == "broadcast" and m.get("text") == "Sent while Linus was away", 10, "the replayed broadcast")
        assert message["replay"] is True and message["from"] == classroom["teacher_name"]
        status, _ = teacher.json("POST", f"/classes/{code}/broadcast", {"text": "And one while he is here"})
        live, _ = receive_until(ws, lambda m: m.get("type") == "broadcast" and m.get("text") == "And one while he is here", 5, "the live broadcast")
        assert not live.get("replay")
        # Two polls' worth of time (the stream polls every 2 s): neither message comes again.
        again = []
        ends = time.monotonic() + 4.5
        while time.monotonic() < ends:
            try:
                frame = json.loads(ws.recv(timeout=max(0.05, ends - time.monotonic())))
            except TimeoutError:
                break
            if frame.get("type") == "broadcast":
                again.append(frame["text"])
        assert again == [], f"sent again on the same socket: {again}"


def _pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}


def _pods(learner) -> list[dict]:
    status, pods = learner.json("GET", f"/k8s/{learner.cluster}/api/v1/namespaces/default/pods")
    assert status == 200
    return pods["items"]


def test_pause_all_holds_every_sandbox_then_resume_all_lets_them_go_and_reset_all_empties_them(classroom):
    teacher, code, learners = classroom["teacher"], classroom["code"], classroom["learners"]
    status, answer = teacher.json("POST", f"/classes/{code}/clock", {"action": "pause"})
    assert status == 200 and answer["clusters"] == 3, answer
    for learner in learners:
        status, made = learner.json("POST", f"/k8s/{learner.cluster}/api/v1/namespaces/default/pods", _pod("held"))
        assert status == 201, made
    time.sleep(2)
    for learner in learners:
        [pod] = _pods(learner)
        assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName"), pod["spec"]
        status, clock = learner.json("GET", f"/k8s/{learner.cluster}/podflow/v1/clock")
        assert clock["paused"] and any(a["component"] == "scheduler" for a in clock["next"]), clock
    assert teacher.json("GET", f"/classes/{code}/roster")[1]["class"]["paused"] is True

    # One step for everyone: each sandbox lets exactly its first held action through.
    assert teacher.json("POST", f"/classes/{code}/clock", {"action": "step"})[0] == 200
    assert teacher.json("POST", f"/classes/{code}/clock", {"action": "resume"})[0] == 200
    for learner in learners:
        wait_until(lambda: (_pods(learner) or [{}])[0].get("status", {}).get("phase") == "Running", 60, f"{learner.name}'s pod running after resume-all")

    status, answer = teacher.json("POST", f"/classes/{code}/reset", {"member": "all"})
    assert status == 200 and answer["clusters"] == 3, answer
    for learner in learners:
        wait_until(lambda: not [p for p in _pods(learner) if not p["metadata"].get("deletionTimestamp")], 30, f"{learner.name}'s sandbox empty")
        status, nodes = learner.json("GET", f"/k8s/{learner.cluster}/api/v1/nodes")
        assert len(nodes["items"]) == 3


def test_a_fault_for_everyone_stops_the_scheduler_in_every_sandbox(classroom):
    teacher, code, learners = classroom["teacher"], classroom["code"], classroom["learners"]
    assert teacher.json("POST", f"/classes/{code}/fault", {"component": "scheduler", "action": "stop"})[0] == 200
    for learner in learners:
        assert learner.json("GET", f"/k8s/{learner.cluster}/podflow/v1/clock")[1]["stopped"] == ["scheduler"]
    assert teacher.json("POST", f"/classes/{code}/fault", {"component": "scheduler", "action": "start"})[0] == 200
    for learner in learners:
        assert learner.json("GET", f"/k8s/{learner.cluster}/podflow/v1/clock")[1]["stopped"] == []


def test_wrong_codes_get_429_with_retry_after_and_an_expired_class_a_clear_page(classroom, live_stack):
    import redis

    stranger = Browser(live_stack.url)
    stranger.request("GET", "/join", accept="text/html")  # the form, and its CSRF cookie
    try:
        statuses = [stranger.request("POST", "/join", {"code": f"WRONG{i:02d}", "name": "Mallory"}, form=True, accept="text/html")[0] for i in range(40)]
        assert statuses[0] == 404 and 429 in statuses, statuses
        locked = stranger.request("GET", f"/join/{classroom['code']}", accept="text/html")
        assert locked[0] == 429 and int(locked[1]["Retry-After"]) > 0
        assert b"Too many wrong codes" in locked[2]
    finally:
        # Every test of this stack comes from 127.0.0.1: let them join again.
        client = redis.Redis.from_url(live_stack.redis_url())
        for key in client.scan_iter("*podflow:join:ip:*"):
            client.delete(key)

    teacher = classroom["teacher"]
    status, made = teacher.json("POST", "/classes/", {"title": "Yesterday's class", "labs": []})
    assert status == 201
    shell(live_stack, f"from datetime import timedelta\nfrom django.utils import timezone\nfrom web.models import Classroom\nClassroom.objects.filter(code={made['code']!r}).update(expires_at=timezone.now() - timedelta(minutes=1))")
    status, _, page = stranger.request("GET", f"/join/{made['code']}", accept="text/html")
    assert status == 410 and b"has expired" in page
    status, _, page = stranger.request("POST", f"/join/{made['code']}", {"name": "Late"}, form=True, accept="text/html")
    assert status == 410 and b"has expired" in page


def test_ending_the_class_tells_the_learners_and_makes_their_sandboxes_read_only(classroom):
    """Last in this module: the class is over afterwards."""
    teacher, code, learners = classroom["teacher"], classroom["code"], classroom["learners"]
    ada = learners[0]
    with ada.websocket(f"/ws/clusters/{ada.cluster}/") as ws:
        receive_until(ws, lambda m: m.get("type") == "snapshot", 15, "the snapshot")
        status, answer = teacher.json("POST", f"/classes/{code}/end")
        assert status == 200, answer
        seen: dict[str, dict] = {}

        def both(m: dict) -> bool:
            # (Earlier messages are sent again on connect, marked "replay": not this one.)
            if (m.get("type") == "broadcast" and not m.get("replay")) or (m.get("type") == "clock" and m["clock"]["paused"]):
                seen[m["type"]] = m
            return len(seen) == 2

        receive_until(ws, both, 5, "the end of the class and the sandbox paused")
        assert seen["broadcast"]["kind"] == "ended"
    status, refused = ada.json("POST", f"/k8s/{ada.cluster}/api/v1/namespaces/default/pods", _pod("after"))
    assert status == 403 and "read-only" in refused["message"]
    assert ada.request("GET", f"/clusters/{ada.cluster}/", accept="text/html")[0] == 200
    assert ada.json("GET", f"/k8s/{ada.cluster}/api/v1/namespaces/default/pods")[0] == 200
    newcomer = Browser(ada.base)
    newcomer.request("GET", "/join", accept="text/html")
    status, _, page = newcomer.request("POST", f"/join/{code}", {"name": "Late"}, form=True, accept="text/html")
    assert status == 410 and b"has ended" in page
    assert teacher.json("GET", f"/classes/{code}/roster")[1]["class"]["state"] == "ended"
