"""axe-core (its Playwright integration) on the page in the states the tests reach: a fresh
sandbox, a pod through its steps, the clock paused with actions held, the explain panel,
the terminal's output, the Korean page. No violation of any rule axe runs."""
from __future__ import annotations

import uuid

import pytest

from .pages import STEPS_TIMEOUT, close_page, needs_chromium, open_faults, open_page, open_tab

pytestmark = [pytest.mark.browser, needs_chromium]


def violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = results.response.get("violations", [])
    return [f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"]) for n in v["nodes"][:5]) for v in found]


def test_the_page_has_no_accessibility_violations_in_each_state(page):
    from playwright.sync_api import expect

    assert violations(page) == []

    page.locator("#clock-pause").click()
    name = f"axe-{uuid.uuid4().hex[:6]}"
    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill(name)
    form.get_by_role("button", name="Create pod").click()
    expect(page.locator("#clock-next li").first).to_be_visible(timeout=STEPS_TIMEOUT)
    expect(page.locator("#explain")).to_have_attribute("data-reason", "HeldByPausedClock", timeout=STEPS_TIMEOUT)
    assert violations(page) == []

    page.locator("#clock-pause").click()
    expect(page.locator('#steps li[data-step="8"]')).to_have_attribute("data-state", "done", timeout=STEPS_TIMEOUT)
    open_tab(page, "kubectl")
    field = page.get_by_label("kubectl command")
    field.fill("kubectl get pods")
    field.press("Enter")
    expect(page.locator("#terminal-output")).to_contain_text("[exit", timeout=30_000)
    assert violations(page) == []

    # The faults menu open, and each of the dock's other tabs.
    open_faults(page)
    assert violations(page) == []
    page.keyboard.press("Escape")
    for tab in ("pods", "nodes", "deployments", "services", "requests", "glossary"):
        open_tab(page, tab)
        assert violations(page) == [], tab
    open_tab(page, "etcd")
    expect(page.locator("#etcd-root table, #etcd-root .etcd-keys").first).to_be_visible(timeout=STEPS_TIMEOUT)
    assert violations(page) == []

    # A phone's width: the parts stacked, the jump bar on top.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator(".jump")).to_be_visible()
    assert violations(page) == []


def test_the_korean_page_has_no_accessibility_violations(browser, live_stack):
    context, page = open_page(browser, live_stack.url, locale="ko-KR")
    try:
        assert violations(page) == []
    finally:
        close_page(context, page)
