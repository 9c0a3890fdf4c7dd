"""A class in real browsers: one instructor and three learners, each a browser context of
its own. The learners join by code; the instructor's roster shows each learner's step within
2 s of a check passing; a broadcast reaches all three pages over their websockets (the page
shows it, and its frame on the socket is checked); pause-all holds all three sandboxes;
reset-all empties them; a learner opens neither a classmate's sandbox nor the roster.

The lab progress is written as the labs engine writes it (an update of LabProgress, then
its PROGRESS announcement) from a `manage.py shell` of the stack."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from tests.livehelpers import wait_until

from .pages import needs_chromium, new_context, page_post, sandbox_of, wait_live
from .test_accessibility import violations

pytestmark = [pytest.mark.browser, needs_chromium]

PASSWORD = "a long enough password 1"
NAMES = ("Ada", "Grace", "Linus")


def shell(stack, code: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], env=stack._env(), cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def close_code(page, url: str) -> int:
    return page.evaluate(
        """(url) => new Promise((resolve) => {
            const ws = new WebSocket(url);
            ws.addEventListener("close", (event) => resolve(event.code));
        })""",
        url,
    )


def frames_of(page) -> list[dict]:
    """Every message the page's websockets receive, from now on."""
    frames: list[dict] = []

    def on_socket(ws) -> None:
        def on_frame(payload) -> None:
            try:
                frames.append(json.loads(payload))
            except (TypeError, ValueError):
                pass

        ws.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    return frames


def test_a_class_of_three_learners_and_its_instructor(browser, live_stack):
    from playwright.sync_api import expect

    base = live_stack.url
    teacher_name = f"teacher-{uuid.uuid4().hex[:6]}"
    live_stack.manage("createinstructor", teacher_name, "--password", PASSWORD)
    contexts = []
    learners: list[dict] = []
    try:
        # The instructor signs in and opens a class.
        t_context, teacher = new_context(browser)
        contexts.append(t_context)
        teacher.goto(f"{base}/accounts/login/?next=/classes/")
        teacher.get_by_label("Username").fill(teacher_name)
        teacher.get_by_label("Password").fill(PASSWORD)
        teacher.get_by_role("button", name="Sign in").click()
        teacher.wait_for_url("**/classes/")
        assert violations(teacher) == []
        teacher.get_by_label("Title").fill("Browser class 101")
        teacher.get_by_role("radio", name=re.compile("Instructor-led")).check()
        teacher.get_by_role("button", name="Open the class").click()
        teacher.wait_for_url(re.compile(r"/classes/[A-Z0-9]{6}/$"))
        code = teacher.locator("#class-code").text_content().strip()
        expect(teacher.locator("#connection")).to_have_attribute("data-state", "live", timeout=15_000)
        expect(teacher.locator("#roster-body")).to_contain_text("Nobody has joined yet")

        # Three learners join by code, each in a browser of their own.
        for name in NAMES:
            context, page = new_context(browser)
            contexts.append(context)
            frames = frames_of(page)
            page.goto(f"{base}/join")
            if name == NAMES[0]:
                assert violations(page) == []
            page.get_by_label("Join code").fill(code.lower())
            page.get_by_label("Your name in the class").fill(name)
            page.get_by_role("button", name="Join the class").click()
            page.wait_for_url(re.compile(r"/clusters/[-a-z0-9]+/$"))
            wait_live(page)
            learners.append({"name": name, "page": page, "frames": frames, "cluster": sandbox_of(page)})
        rows = teacher.locator("#roster-body tr[data-learner]")
        expect(rows).to_have_count(3, timeout=5_000)
        for name in NAMES:
            expect(teacher.locator("#roster-body")).to_contain_text(name)
        assert len({learner["cluster"] for learner in learners}) == 3

        # Each learner moves on a step and the server runs that step's checks: the roster
        # shows their step and its checks within 2 s. (The progress is the real checks'
        # result, as the workers' lab follower saves it: the follower may run them again on
        # any write in the sandbox, a Lease renewal included, and finds the same.)
        for index, learner in enumerate(learners):
            out = shell(live_stack, f"""
import time
from django.utils import timezone
from cluster import labs
from cluster.labs import follow
from cluster.models import Cluster, LabProgress
cluster = Cluster.objects.get(name={learner["cluster"]!r})
step = labs.get("eight-steps").steps[{index + 1}]
LabProgress.objects.update_or_create(cluster=cluster, lab="eight-steps", defaults=dict(step_index={index + 1}, step_id=step.id, checks_passed=0, checks_total=0, started=timezone.now(), step_started=timezone.now()))
follow.evaluate(cluster.pk)  # saved and announced, as the follower does
row = LabProgress.objects.get(cluster=cluster, lab="eight-steps")
print("committed", time.time(), row.checks_passed, row.checks_total, len(step.checks))
time.sleep(1.0)
""")
            committed, passed, total, checks = out.split("committed", 1)[1].split()[:4]
            assert total == checks, out  # the step's checks were run
            committed = float(committed)
            row = teacher.locator(f'#roster-body tr:has(th:text-is("{learner["name"]}"))')
            expect(row.locator(".learner-checks")).to_have_text(f"{passed} / {total}", timeout=5_000)
            shown = time.time()
            expect(row.locator(".learner-step")).to_contain_text(f"step {index + 2}")
            assert shown - committed <= 2.0, f"{learner['name']}'s progress reached the roster {shown - committed:.2f}s after it was saved"
        heat = teacher.locator('#heatmap table[data-lab="eight-steps"] td[data-count="1"]')
        expect(heat).to_have_count(3)
        assert violations(teacher) == []

        # A broadcast reaches all three pages.
        teacher.get_by_label("Message").fill("Everyone: look at the scheduler")
        teacher.get_by_role("button", name="Send to everyone").click()
        expect(teacher.locator("#sent-list")).to_contain_text("Everyone: look at the scheduler")
        # Asserted on what each learner sees: Playwright's sync API hands a page's websocket
        # frames to the listener only while one of its calls runs (an `expect`), never while
        # the test sleeps, so a loop over `frames` alone misses a frame that came in late.
        for learner in learners:
            banner = learner["page"].locator("#broadcast")
            expect(banner.locator(".broadcast-text")).to_have_text("Everyone: look at the scheduler", timeout=5_000)
            expect(banner.locator(".broadcast-from")).to_contain_text(teacher_name)
            said = [f for f in learner["frames"] if f.get("type") == "broadcast" and f.get("text") == "Everyone: look at the scheduler"]
            assert said and said[0].get("from") == teacher_name, (learner["name"], said)

        # Pause all: every learner's clock holds; a pod each stays Pending with no node.
        teacher.get_by_role("button", name="Pause all").click()
        expect(teacher.locator("#clock-state")).to_contain_text("Paused", timeout=10_000)
        for learner in learners:
            expect(learner["page"].locator("#clock")).to_have_attribute("data-paused", "true", timeout=5_000)
            made = page_post(learner["page"], f"/k8s/{learner['cluster']}/api/v1/namespaces/default/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "held"}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}})
            assert made["status"] == 201, made
        time.sleep(2)
        for learner in learners:
            pod = learner["page"].evaluate("async (url) => (await fetch(url)).json()", f"/k8s/{learner['cluster']}/api/v1/namespaces/default/pods/held")
            assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName"), (learner["name"], pod["spec"])
            expect(learner["page"].locator("#clock-next li").first).to_be_visible()

        # Reset all: every sandbox empties (the pages see the pods go), then resume all.
        teacher.locator("summary", has_text="Reset every sandbox").click()
        teacher.get_by_role("button", name="Reset every learner's sandbox").click()
        expect(teacher.locator("#class-status")).to_contain_text("first state", timeout=30_000)
        for learner in learners:
            wait_until(
                lambda: learner["page"].evaluate("async (url) => (await fetch(url)).json()", f"/k8s/{learner['cluster']}/api/v1/namespaces/default/pods")["items"] == [],
                30, f"{learner['name']}'s sandbox empty",
            )
        teacher.get_by_role("button", name="Resume all").click()
        for learner in learners:
            expect(learner["page"].locator("#clock")).to_have_attribute("data-paused", "false", timeout=10_000)

        # A learner opens neither a classmate's sandbox nor the roster.
        ada, grace = learners[0]["page"], learners[1]
        ws_base = base.replace("http://", "ws://")
        other = ada.context.new_page()
        assert other.goto(f"{base}/clusters/{grace['cluster']}/").status == 404
        assert other.goto(f"{base}/classes/{code}/").status == 404
        assert other.goto(f"{base}/classes/{code}/roster").status == 404
        other.close()
        assert close_code(ada, f"{ws_base}/ws/clusters/{grace['cluster']}/") == 4403
        assert close_code(ada, f"{ws_base}/ws/classes/{code}/") == 4403

        # The instructor opens a learner's sandbox read-only from the roster.
        with teacher.context.expect_page() as opened:
            teacher.get_by_role("link", name="Open Grace's sandbox (read-only)").click()
        readonly = opened.value
        readonly.wait_for_load_state()
        assert readonly.url.endswith(f"/clusters/{grace['cluster']}/?readonly=1")
        expect(readonly.locator("#connection")).to_have_attribute("data-state", "live", timeout=15_000)
        readonly.close()

        errors = [e for learner in learners for e in learner["page"].errors] + teacher.errors
        assert not errors, errors
    finally:
        names = [learner["cluster"] for learner in learners]
        if names:
            shell(live_stack, f"from cluster import sandbox\nfrom cluster.models import Cluster\nfor c in Cluster.objects.filter(name__in={names!r}): sandbox.delete(c)")
        for context in contexts:
            context.close()
