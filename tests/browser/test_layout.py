"""The page as a whole: one screen for the core lesson at 1440×900, a phone's jump bar,
the faults menu, the step panel's live states and the per-pod waterfall.

Each test is a new learner in a sandbox of its own (tests/browser/pages.py)."""
from __future__ import annotations

import os
import uuid

import pytest

from .pages import STEPS_TIMEOUT, close_page, needs_chromium, open_faults, open_page, open_tab

pytestmark = [pytest.mark.browser, needs_chromium]

SHOTS = os.environ.get("PODFLOW_SCREENSHOTS", "")


def create_pod(page, name: str, image: str = "nginx:1.27") -> None:
    from playwright.sync_api import expect

    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=image]").fill(image)
    form.locator("button[type=submit]").click()
    expect(page.locator("#pod-form-status")).to_have_attribute("data-kind", "ok")


def inside(box: dict, width: int, height: int) -> bool:
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width + 0.5 and box["y"] + box["height"] <= height + 0.5


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
def test_one_screen_at_1440_by_900(browser, live_stack, locale):
    """Diagram, steps and every control are on the screen at once; the page does not scroll."""
    from playwright.sync_api import expect

    context, page = open_page(browser, live_stack.url, locale=locale, width=1440, height=900)
    try:
        create_pod(page, f"web-{uuid.uuid4().hex[:5]}")
        expect(page.locator('#steps li[data-step="8"]')).to_have_attribute("data-state", "done", timeout=STEPS_TIMEOUT)
        assert page.evaluate("document.documentElement.scrollHeight") <= 900
        for selector in ("#diagram-svg", "#steps-panel", "#clock-pause", "#clock-step", "#speed-form",
                         "#faults-toggle", "#timeline-range", "#timeline-live", "#dock-tab-create", "#pod-form"):
            box = page.locator(selector).bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0, selector
            assert inside(box, 1440, 900), (selector, box)
        # The diagram is drawn large enough to read: a node at least 120 px wide. Read in one
        # task of the page: the diagram is drawn again (its SVG replaced) as the stream
        # brings changes, and a node found by one call could be gone by the next.
        svg = page.evaluate("""() => {
            const node = document.querySelector("#diagram-svg .node");
            const r = node && node.getBoundingClientRect();
            return r ? {width: r.width, height: r.height} : null;
        }""")
        assert svg and svg["width"] > 120, svg
        if SHOTS:
            page.screenshot(path=os.path.join(SHOTS, f"one-screen-{locale}.png"))
    finally:
        close_page(context, page)


def test_a_phone_reaches_the_steps_from_the_create_button(browser, live_stack):
    from playwright.sync_api import expect

    context, page = open_page(browser, live_stack.url, width=390, height=844)
    try:
        name = f"phone-{uuid.uuid4().hex[:5]}"
        create_pod(page, name)
        page.locator("#pod-form-status .to-steps").click()
        expect(page.locator("#steps-panel")).to_be_in_viewport()
        page.locator(".jump a[href='#dock']").click()
        expect(page.locator("#dock-tabs, #dock .dock-tabs").first).to_be_in_viewport()
        page.locator(".jump a[href='#stage-diagram']").click()
        expect(page.locator("#diagram-svg")).to_be_in_viewport()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        close_page(context, page)


def test_a_bad_image_fails_step_7_and_is_said_once(page):
    from playwright.sync_api import expect

    open_faults(page)
    menu = page.locator("#faults-menu")
    expect(menu.locator("#fault-image .fault-what")).to_contain_text("nginx:no-such-tag")
    menu.get_by_role("button", name="Run a pod with a bad image").click()
    expect(page.locator("#faults-status")).to_have_attribute("data-kind", "ok")
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(page.locator("#faults-toggle")).to_be_focused()
    step7 = page.locator('#steps li[data-step="7"]')
    expect(step7).to_have_attribute("data-state", "failed", timeout=STEPS_TIMEOUT)
    expect(step7.locator(".step-state")).to_have_text("failing")
    expect(step7.locator(".step-now")).to_contain_text("nginx:no-such-tag")
    # Said once to screen readers, not on every retry of the pull.
    said = page.evaluate("""() => new Promise((resolve) => {
        const seen = [];
        const announcer = document.getElementById("announcer");
        new MutationObserver(() => seen.push(announcer.textContent)).observe(announcer, { childList: true, characterData: true, subtree: true });
        setTimeout(() => resolve(seen), 6000);
    })""")
    assert sum("Step 7" in text for text in said) <= 1, said


def test_a_pull_in_progress_says_so(page):
    from playwright.sync_api import expect

    # Slow speed: the pull takes seconds, and step 7 says what is happening meanwhile.
    page.locator("#speed-form label.seg", has_text="Slow").click()
    expect(page.locator("#speed-form")).to_have_attribute("data-speed", "slow", timeout=10_000)
    create_pod(page, f"slow-{uuid.uuid4().hex[:5]}")
    step7 = page.locator('#steps li[data-step="7"]')
    expect(step7).to_have_attribute("data-state", "active", timeout=STEPS_TIMEOUT)
    expect(step7.locator(".step-state")).to_have_text("in progress")
    expect(step7.locator(".step-now")).to_contain_text("In progress")


def test_the_waterfall_shows_when_each_step_happened(page):
    from playwright.sync_api import expect

    create_pod(page, f"wf-{uuid.uuid4().hex[:5]}")
    expect(page.locator('#steps li[data-step="8"]')).to_have_attribute("data-state", "done", timeout=STEPS_TIMEOUT)
    rows = page.locator("#waterfall-body tbody tr")
    expect(rows).to_have_count(8)
    expect(rows.nth(0)).to_have_attribute("data-state", "done")
    expect(rows.nth(0).locator("td").first).to_have_text("+0 ms")
    expect(rows.nth(2)).to_have_attribute("data-state", "not-needed")  # a bare pod: no controller
    expect(rows.nth(7)).to_have_attribute("data-state", "done")
    assert rows.nth(7).locator(".wf-bar").count() == 1


def test_the_dock_folds_and_a_tab_unfolds_it(page):
    from playwright.sync_api import expect

    fold = page.locator("#dock-fold")
    fold.click()
    expect(fold).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#dock-create")).to_be_hidden()
    open_tab(page, "pods")
    expect(fold).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#pods-body")).to_be_visible()


def test_the_etcd_tab_shows_the_pods_key_and_the_watch_events(page):
    from playwright.sync_api import expect

    name = f"key-{uuid.uuid4().hex[:5]}"
    create_pod(page, name)
    expect(page.locator('#steps li[data-step="8"]')).to_have_attribute("data-state", "done", timeout=STEPS_TIMEOUT)
    open_tab(page, "etcd")
    root = page.locator("#etcd-root")
    expect(root).to_contain_text(f"/registry/pods/default/{name}", timeout=STEPS_TIMEOUT)
    # The watch events: the pod's ADDED woke the scheduler, in words.
    expect(root).to_contain_text("ADDED")
    expect(root).to_contain_text("scheduler")
