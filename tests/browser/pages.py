"""Helpers of the browser tests: a real browser on the real stack, Debian's chromium
driven by Playwright.

Every test's page is a fresh browser context that opens `/` and lands in a sandbox of its
own (made for it on that first visit), as a new learner does. The sandbox is switched to
instant speed, so a pod goes through its eight steps in moments, and deleted at the end.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STEPS_TIMEOUT = 30_000  # ms: the whole pod lifecycle, Celery hops included
SANDBOX_URL = re.compile(r"/clusters/(?P<name>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)/$")

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium")


@dataclass
class Learner:
    """One browser (its own cookies, so its own session and sandboxes) and its page."""

    context: object
    page: object
    base: str

    @property
    def cluster(self) -> str:
        return sandbox_of(self.page)

    @property
    def api(self) -> str:
        return f"/k8s/{self.cluster}"


def api_of(page) -> str:
    """The Kubernetes API of the sandbox a page shows."""
    return f"/k8s/{sandbox_of(page)}"


def sandbox_of(page) -> str:
    """The sandbox a page shows, from its URL."""
    match = SANDBOX_URL.search(page.url)
    assert match, f"not a sandbox's page: {page.url}"
    return match.group("name")


def new_context(browser, *, locale: str = "en-US", width: int = 1280, height: int = 800):
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height}, reduced_motion="reduce")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return context, page


def wait_live(page, nodes: tuple[str, ...] = ("node-1",)) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=15_000)
    # The snapshot has been drawn: the diagram shows the sandbox's worker nodes.
    for node in nodes:
        expect(page.locator(f'#diagram-svg .node[data-node="{node}"]')).to_be_visible(timeout=15_000)


def page_post(page, url: str, body: dict | None = None, *, form: bool = False) -> dict:
    """A POST from the page itself, as its scripts make them: session cookie, CSRF header."""
    return page.evaluate(
        """async ([url, body, form]) => {
            const csrf = (document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("csrftoken=")) || "").slice(10);
            const init = { method: "POST", credentials: "same-origin", headers: { Accept: "application/json", "X-CSRFToken": decodeURIComponent(csrf) } };
            if (form) {
                init.body = new URLSearchParams(body || {});
            } else if (body) {
                init.headers["Content-Type"] = "application/json";
                init.body = JSON.stringify(body);
            }
            const response = await fetch(url, init);
            let data = null;
            try { data = await response.json(); } catch (err) { data = null; }
            return { status: response.status, body: data };
        }""",
        [url, body, form],
    )


def make_instant(page) -> None:
    from playwright.sync_api import expect

    config = page_config(page)
    if config.get("speed") != "instant":
        answer = page_post(page, config["speedUrl"], {"speed": "instant"})
        assert answer["status"] == 200, answer
    expect(page.locator("#speed-form")).to_have_attribute("data-speed", "instant", timeout=10_000)


def open_page(browser, base_url: str, *, locale: str = "en-US", width: int = 1280, height: int = 800):
    """A new learner: a fresh browser opens `/` and is sent to a sandbox of its own."""
    context, page = new_context(browser, locale=locale, width=width, height=height)
    response = page.goto(base_url + "/")
    assert response is not None and response.ok, response and response.status
    sandbox_of(page)
    wait_live(page)
    make_instant(page)
    return context, page


def delete_sandbox(page) -> None:
    """Leave the stack as we found it: a sandbox's nodes renew Leases for as long as it lives."""
    try:
        url = page.locator("#delete-dialog form").get_attribute("action", timeout=2_000)
        if url:
            page_post(page, url)
    except Exception:  # the page moved on (signed out, deleted it already): nothing to do
        pass


def close_page(context, page) -> None:
    delete_sandbox(page)
    context.close()


def page_config(page) -> dict:
    return json.loads(page.locator("#podflow-config").text_content())


def open_tab(page, key: str) -> None:
    """Show one of the dock's tabs (Create, kubectl, Pods, Nodes, Deployments, Services,
    Ingress, etcd, API requests, Glossary), as a learner clicks it."""
    from playwright.sync_api import expect

    page.locator(f"#dock-tab-{key}").click()
    expect(page.locator(f"#dock-{key}")).to_be_visible()


def open_faults(page) -> None:
    """Open the control bar's "Break something" menu (the component switches live there)."""
    from playwright.sync_api import expect

    if page.locator("#faults-menu").is_hidden():
        page.locator("#faults-toggle").click()
    expect(page.locator("#faults-menu")).to_be_visible()
