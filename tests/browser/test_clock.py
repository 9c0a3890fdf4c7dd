"""The cluster's clock in the page: pause, step one action, resume; a component switch.

Each test is a new learner in a sandbox of its own (tests/browser/pages.py)."""
from __future__ import annotations

import uuid

import pytest

from .pages import STEPS_TIMEOUT, close_page, needs_chromium, open_faults, open_page, open_tab

pytestmark = [pytest.mark.browser, needs_chromium]


def create_pod(page, name: str) -> None:
    from playwright.sync_api import expect

    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=image]").fill("nginx:1.27")
    form.get_by_role("button", name="Create pod").click()
    expect(page.locator("#pod-form-status")).to_have_attribute("data-kind", "ok")


def test_pause_step_and_resume_from_the_page(page):
    from playwright.sync_api import expect

    clock = page.locator("#clock")
    pause = page.get_by_role("button", name="Pause the clock")
    step = page.get_by_role("button", name="Step forward")
    expect(step).to_be_disabled()

    pause.focus()
    page.keyboard.press("Enter")  # by keyboard
    expect(pause).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#clock-status")).to_contain_text("Paused")

    name = f"held-{uuid.uuid4().hex[:6]}"
    create_pod(page, name)
    # The sandbox's own first wake-ups (made at normal speed, a stage apart) may be held
    # before the bind: "what happens next" lists them all, in order.
    bind = page.locator('#clock-next li[data-component="scheduler"]')
    expect(bind).to_contain_text(f"bind default/{name} to node-", timeout=STEPS_TIMEOUT)
    expect(bind).to_contain_text("step 4")
    expect(page.locator('#steps li[data-step="2"]')).to_have_attribute("data-state", "done")
    expect(page.locator('#steps li[data-step="4"]')).not_to_have_attribute("data-state", "done")
    # The explain panel beside the (newest, so selected) pod says why it waits, and who.
    explain = page.locator("#explain")
    expect(explain).to_have_attribute("data-reason", "HeldByPausedClock", timeout=STEPS_TIMEOUT)
    expect(explain.locator(".explain-summary")).not_to_be_empty()

    # Each step lets the first held action through: step until the step's answer says it
    # let the bind through. (Not until the list stops showing the bind: the list follows
    # the stream, and a click made before the stream showed the last step's effect would
    # let the next action through — the kubelet's admit, once the bind has run.)
    for _ in range(8):
        with page.expect_response(lambda r: r.url.endswith("/clock/step") and r.request.method == "POST") as answered:
            step.click()
        released = answered.value.json().get("released") or {}
        if released.get("component") == "scheduler" and f"default/{name}" in released.get("action", ""):
            break
    else:
        raise AssertionError("eight steps did not let the bind through")
    expect(page.locator('#steps li[data-step="4"]')).to_have_attribute("data-state", "done", timeout=STEPS_TIMEOUT)
    # The kubelet's admit is held next (other controllers' actions may be held too).
    expect(page.locator('#clock-next li[data-component="kubelet"][data-step="5"]')).to_be_visible(timeout=STEPS_TIMEOUT)
    expect(page.locator('#steps li[data-step="5"]')).not_to_have_attribute("data-state", "done")

    pause.click()  # resume: the rest goes ahead
    expect(pause).to_have_attribute("aria-pressed", "false")
    expect(page.locator('#steps li[data-step="8"]')).to_have_attribute("data-state", "done", timeout=STEPS_TIMEOUT)
    expect(page.locator("#clock-next li")).to_have_count(0)
    expect(clock).to_have_attribute("data-paused", "false")
    expect(explain).to_have_attribute("data-reason", "Healthy", timeout=STEPS_TIMEOUT)


def test_a_stopped_scheduler_in_korean(browser, live_stack):
    from playwright.sync_api import expect

    context, page = open_page(browser, live_stack.url, locale="ko-KR")
    try:
        open_faults(page)  # the switches live in the control bar's "Break something" menu
        switch = page.locator('.component-switch[data-component="scheduler"]')
        expect(switch).to_have_text("스케줄러 멈추기")
        switch.click()
        expect(switch).to_have_attribute("aria-pressed", "true")
        expect(switch).to_have_text("스케줄러 다시 시작")
        expect(page.locator("#clock-status")).to_contain_text("멈춘 컴포넌트: 스케줄러")
        # The diagram crosses the scheduler out and says what that means.
        crossed = page.locator('#diagram-svg .comp[data-component="scheduler"][data-stopped="true"]')
        expect(crossed).to_have_count(1)
        expect(crossed).to_contain_text("멈춤")
        switch.click()
        expect(crossed).to_have_count(0)
        expect(switch).to_have_text("스케줄러 멈추기")
        assert not page.errors
    finally:
        close_page(context, page)


def test_a_silent_stream_is_noticed_and_reopened(browser, live_stack):
    """The socket stays open but nothing comes through (the network went away): within
    about 10 s the header stops saying Live, and the page connects again."""
    from playwright.sync_api import expect

    context, page = open_page(browser, live_stack.url)
    try:
        silent = {"on": False}

        def handler(ws):
            server = ws.connect_to_server()
            ws.on_message(lambda message: server.send(message))
            server.on_message(lambda message: None if silent["on"] else ws.send(message))

        page.route_web_socket("**/ws/clusters/**", handler)
        page.reload()
        expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=15_000)
        silent["on"] = True
        expect(page.locator("#connection")).to_have_attribute("data-state", "down", timeout=20_000)
        expect(page.locator("#connection")).to_contain_text("No word from the server")
        silent["on"] = False
        expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=20_000)
        assert not page.errors
    finally:
        close_page(context, page)


def test_after_a_form_is_sent_the_focus_stays_on_its_button(page):
    from playwright.sync_api import expect

    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill(f"focus-{uuid.uuid4().hex[:6]}")
    button = form.get_by_role("button", name="Create pod")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#pod-form-status")).to_have_attribute("data-kind", "ok")
    expect(button).to_be_focused()


def test_the_terminal_runs_kubectl_get_and_run(page):
    from playwright.sync_api import expect

    name = f"typed-{uuid.uuid4().hex[:6]}"
    open_tab(page, "kubectl")
    field = page.get_by_label("kubectl command")
    output = page.locator("#terminal-output")
    field.fill(f"kubectl run {name} --image=nginx:1.27")
    field.press("Enter")
    expect(output).to_contain_text(f"pod/{name} created", timeout=30_000)
    expect(output).to_contain_text("[exit 0]")
    # Its requests reach the API server as kubectl's: the pod goes through its steps.
    expect(page.locator(f'#diagram-svg .pod[data-pod-name="{name}"]')).to_have_count(1, timeout=STEPS_TIMEOUT)

    field.fill("kubectl get pods")
    field.press("Enter")
    expect(output).to_contain_text("NAME", timeout=30_000)
    expect(output).to_contain_text(name)
    field.press("ArrowUp")
    field.press("ArrowUp")
    expect(field).to_have_value(f"kubectl run {name} --image=nginx:1.27")


def test_the_timeline_shows_an_earlier_revision_and_live_returns(page, live_stack):
    from playwright.sync_api import expect

    from tests.livehelpers import http, pod_manifest

    from .pages import api_of

    before, after = f"before-{uuid.uuid4().hex[:5]}", f"after-{uuid.uuid4().hex[:5]}"
    pods = f"{api_of(page)}/api/v1/namespaces/default/pods"
    open_tab(page, "pods")
    assert http(live_stack.url, "POST", pods, pod_manifest(before))[0] == 201
    expect(page.locator("#pods-body tr", has_text=before)).to_have_count(1, timeout=STEPS_TIMEOUT)
    at = int(http(live_stack.url, "GET", f"{pods}/{before}")[1]["metadata"]["resourceVersion"])
    assert http(live_stack.url, "POST", pods, pod_manifest(after))[0] == 201
    expect(page.locator("#pods-body tr", has_text=after)).to_have_count(1, timeout=STEPS_TIMEOUT)

    slider = page.locator("#timeline-range")
    slider.evaluate("(el, at) => { el.value = String(at); el.dispatchEvent(new Event('input', { bubbles: true })); }", at)
    expect(page.locator("#timeline")).to_have_attribute("data-live", "false")
    expect(page.locator("#timeline-status")).to_contain_text(f"revision {at}")
    expect(page.locator("#pods-body tr", has_text=after)).to_have_count(0)
    expect(page.locator("#pods-body tr", has_text=before)).to_have_count(1)
    expect(page.locator("#revision")).to_have_text(str(at))

    page.get_by_role("button", name="Live", exact=True).click()
    expect(page.locator("#timeline")).to_have_attribute("data-live", "true")
    expect(page.locator("#pods-body tr", has_text=after)).to_have_count(1, timeout=STEPS_TIMEOUT)
