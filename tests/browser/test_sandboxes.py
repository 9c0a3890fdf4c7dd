"""Sandboxes and accounts in a real browser: each browser gets a cluster of its own, sealed
to it; the "Your sandboxes" panel makes, resets and deletes them; an account keeps them.
"""
from __future__ import annotations

import re
import uuid

import pytest

from .pages import (
    STEPS_TIMEOUT,
    close_page,
    delete_sandbox,
    needs_chromium,
    new_context,
    open_page,
    open_tab,
    page_post,
    sandbox_of,
    wait_live,
)

pytestmark = [pytest.mark.browser, needs_chromium]

PASSWORD = "eight-Steps-of-a-pod-1"


def websocket_close_code(page, base_url: str, cluster: str) -> int:
    """Open the stream of `cluster` from this page's browser and return its close code."""
    ws = base_url.replace("http://", "ws://") + f"/ws/clusters/{cluster}/"
    return page.evaluate(
        """(url) => new Promise((resolve) => {
            const ws = new WebSocket(url);
            ws.addEventListener("close", (event) => resolve(event.code));
        })""",
        ws,
    )


def test_two_browsers_get_different_sandboxes_and_neither_may_open_the_others(browser, live_stack):
    from playwright.sync_api import expect

    a_context, a = open_page(browser, live_stack.url)
    b_context, b = open_page(browser, live_stack.url)
    try:
        mine, theirs = sandbox_of(a), sandbox_of(b)
        assert mine != theirs
        # Each lists its own sandbox only, marked as the open one in words.
        expect(a.locator("#sandbox-list li")).to_have_count(1)
        expect(a.locator("#sandbox-list li.is-current")).to_contain_text(f"{mine} open here")
        expect(a.locator("#sandbox-list a[aria-current=page]")).to_have_text(re.compile(rf"^{mine}"))
        expect(b.locator("#sandbox-list")).not_to_contain_text(mine)

        # B may not open A's page, its kubeconfig or its stream: to B it does not exist.
        b2 = b_context.new_page()
        response = b2.goto(f"{live_stack.url}/clusters/{mine}/")
        assert response.status == 404
        expect(b2.get_by_role("heading", level=1)).to_contain_text(f"There is no sandbox called “{mine}” that you may open.")
        expect(b2.get_by_role("link", name="Go to your sandbox")).to_have_attribute("href", "/")
        assert b_context.request.get(f"{live_stack.url}/clusters/{mine}/kubeconfig").status == 404
        assert websocket_close_code(b, live_stack.url, mine) == 4403
        # Nor write to it through the page's API with its session.
        answer = page_post(b, f"/k8s/{mine}/api/v1/namespaces/default/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "intruder"}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}})
        assert answer["status"] in (401, 403, 404), answer
        b2.close()
        # A still can.
        assert a.context.request.get(f"{live_stack.url}/clusters/{mine}/kubeconfig").status == 200
        assert not a.errors and not b.errors
    finally:
        close_page(a_context, a)
        close_page(b_context, b)


def test_the_panel_makes_a_sandbox_resets_it_live_and_deletes_it(learner, live_stack):
    from playwright.sync_api import expect

    page = learner.page
    first = learner.cluster
    panel = page.locator("#sandboxes")
    form = page.locator("#sandbox-form")

    # The form opens by keyboard and takes the focus to its first field.
    toggle = panel.get_by_role("button", name="New sandbox")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(form).to_be_hidden()
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(form.get_by_label("Name")).to_be_focused()
    # Node sizes say what they give.
    expect(form.locator("fieldset.f-sizes")).to_contain_text("2 CPU, 4Gi memory")

    # Errors stay beside the form: out of range (caught here), a bad name (the server's).
    form.get_by_label("Worker nodes").fill("9")
    form.get_by_role("button", name="Create sandbox").click()
    expect(page.locator("#sandbox-error-nodes")).to_contain_text("A sandbox has 1 to 5 nodes.")
    expect(form.get_by_label("Worker nodes")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Worker nodes")).to_be_focused()
    form.get_by_label("Worker nodes").fill("2")
    form.get_by_label("Name").fill("-Not_OK-")
    form.get_by_role("button", name="Create sandbox").click()
    expect(page.locator("#sandbox-error-name")).to_contain_text("lowercase letters, digits and dashes")
    expect(form.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#sandbox-form-status")).to_have_attribute("data-kind", "error")
    expect(page.locator("#sandbox-error-nodes")).to_be_hidden()
    assert sandbox_of(page) == first

    # A new sandbox, two small nodes: the browser goes there and the diagram shows two nodes.
    name = f"mine-{uuid.uuid4().hex[:6]}"
    form.get_by_label("Name").fill(name)
    form.get_by_label("Worker nodes").fill("2")
    form.locator("label.seg", has=page.locator('input[value="small"]')).click()
    form.get_by_role("button", name="Create sandbox").click()
    page.wait_for_url(f"**/clusters/{name}/")
    wait_live(page, nodes=("node-1", "node-2"))
    expect(page.locator("#diagram-svg .node[data-node]")).to_have_count(2)
    expect(page.locator("#sandbox-status")).to_contain_text(f"Sandbox {name} is ready.")
    items = page.locator("#sandbox-list li")
    expect(items).to_have_count(2)
    expect(page.locator(f'#sandbox-list li[data-sandbox="{name}"]')).to_contain_text("open here")
    expect(page.locator(f'#sandbox-list li[data-sandbox="{name}"]')).to_contain_text("2 nodes, small")
    expect(page.locator(f'#sandbox-list li[data-sandbox="{first}"] a')).not_to_have_attribute("aria-current", "page")
    expect(panel.locator("#sandbox-count")).to_have_text("2 of 5")
    page_post(page, f"/clusters/{name}/speed", {"speed": "instant"})

    # A pod, then Reset: the pod goes from the diagram live, without a reload.
    pod = f"doomed-{uuid.uuid4().hex[:6]}"
    page.locator("#pod-form input[name=name]").fill(pod)
    page.locator("#pod-form").get_by_role("button", name="Create pod").click()
    chip = page.locator(f'#diagram-svg .node .pod[data-pod-name="{pod}"]')
    expect(chip).to_have_count(1, timeout=STEPS_TIMEOUT)
    page.evaluate("window.__sameDocument = true")

    reset = panel.get_by_role("button", name="Reset this sandbox…")
    reset.click()
    dialog = page.get_by_role("dialog", name=f"Reset sandbox {name}?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice first
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(reset).to_be_focused()
    expect(chip).to_have_count(1)

    reset.click()
    dialog.get_by_role("button", name="Reset it").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#sandbox-status")).to_contain_text(f"Sandbox {name} is back to its first state.")
    expect(page.locator("#sandbox-status")).to_have_attribute("aria-live", "polite")
    expect(page.locator(f'#diagram-svg .pod[data-pod-name="{pod}"]')).to_have_count(0, timeout=STEPS_TIMEOUT)
    expect(page.locator("#pods-body")).not_to_contain_text(pod)
    expect(page.locator("#diagram-svg .node[data-node]")).to_have_count(2)
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"

    # A second tab on the same sandbox sees it deleted, says so, and stops reconnecting.
    other = learner.context.new_page()
    other.errors = []
    other.on("pageerror", lambda exc: other.errors.append(str(exc)))
    other.add_init_script("""(() => {
        const Original = window.WebSocket;
        window.__sockets = 0;
        window.WebSocket = function (...args) { window.__sockets += 1; return new Original(...args); };
        window.WebSocket.prototype = Original.prototype;
        Object.assign(window.WebSocket, { OPEN: 1, CLOSED: 3, CONNECTING: 0, CLOSING: 2 });
    })()""")
    other.goto(f"{live_stack.url}/clusters/{name}/")
    wait_live(other, nodes=("node-1",))

    # Delete, confirmed: the browser goes back to its remaining sandbox.
    panel.get_by_role("button", name="Delete this sandbox…").click()
    dialog = page.get_by_role("dialog", name=f"Delete sandbox {name}?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Delete it").click()
    page.wait_for_url(f"**/clusters/{first}/")
    wait_live(page)
    expect(page.locator("#sandbox-status")).to_contain_text(f"Sandbox {name} was deleted.")
    expect(page.locator("#sandbox-list li")).to_have_count(1)
    expect(page.locator("#sandbox-list")).not_to_contain_text(name)

    expect(other.locator("#connection")).to_have_attribute("data-state", "down", timeout=15_000)
    expect(other.locator("#connection")).to_contain_text("Sandbox deleted")
    expect(other.locator("#sandbox-status")).to_contain_text("This sandbox was deleted.")
    other.wait_for_timeout(2_500)  # longer than the first reconnection delay
    assert other.evaluate("window.__sockets") == 1
    expect(other.locator("#connection")).to_contain_text("Sandbox deleted")
    assert not other.errors, other.errors
    other.close()


def sign_up(page, base_url: str, username: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign up")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()


def test_an_account_keeps_the_anonymous_sandbox_and_opens_it_from_another_browser(browser, live_stack):
    from playwright.sync_api import expect

    username = f"learner-{uuid.uuid4().hex[:6]}"
    a_context, a = open_page(browser, live_stack.url)
    b_context, b = None, None
    try:
        made = sandbox_of(a)
        expect(a.locator(".account")).to_contain_text("Sign in")
        sign_up(a, live_stack.url, username)
        # Back in the sandbox made before signing up: now the account's.
        a.wait_for_url(f"**/clusters/{made}/")
        wait_live(a)
        expect(a.locator(".account")).to_contain_text(f"Signed in as {username}")
        expect(a.locator(f'#sandbox-list li[data-sandbox="{made}"]')).to_contain_text("open here")
        expect(a.locator(".sandbox-note")).to_contain_text("Your account keeps them")

        # Another browser: its own anonymous sandbox first; signing in brings the account's.
        b_context, b = open_page(browser, live_stack.url)
        assert sandbox_of(b) != made
        expect(b.locator("#sandbox-list")).not_to_contain_text(made)
        b.get_by_role("link", name="Sign in").click()
        expect(b.get_by_role("heading", level=1)).to_have_text("Sign in")
        b.get_by_label("Username").fill(username)
        b.get_by_label("Password").fill(PASSWORD)
        b.get_by_role("button", name="Sign in").click()
        wait_live(b)
        expect(b.locator(".account")).to_contain_text(f"Signed in as {username}")
        link = b.locator(f'#sandbox-list li[data-sandbox="{made}"] a')
        expect(link).to_be_visible()
        link.click()
        b.wait_for_url(f"**/clusters/{made}/")
        wait_live(b)

        # Signing out (a POST) leaves the account's sandboxes behind: a new anonymous one.
        a.locator(".account").get_by_role("button", name="Sign out").click()
        wait_live(a)
        assert sandbox_of(a) != made
        expect(a.locator(".account")).to_contain_text("Sign up")
        expect(a.locator("#sandbox-list")).not_to_contain_text(made)
        assert a.goto(f"{live_stack.url}/clusters/{made}/").status == 404
        a.goto(f"{live_stack.url}/")
        wait_live(a)
        assert not a.errors and not b.errors
    finally:
        if b is not None:
            # The account's sandboxes: the one made before signing up, and B's.
            for name in b.locator("#sandbox-list li").evaluate_all("items => items.map((li) => li.dataset.sandbox)"):
                page_post(b, f"/clusters/{name}/delete")
            b_context.close()
        close_page(a_context, a)


def test_the_sign_in_page_labels_its_fields_and_says_what_went_wrong(browser, live_stack):
    from playwright.sync_api import expect

    context, page = new_context(browser)
    try:
        page.goto(f"{live_stack.url}/accounts/login/")
        expect(page).to_have_title("Sign in · podflow")
        username, password = page.get_by_label("Username"), page.get_by_label("Password")
        expect(username).to_be_focused()
        expect(username).to_have_attribute("autocomplete", "username")
        expect(password).to_have_attribute("autocomplete", "current-password")
        expect(page.get_by_role("link", name="Sign up")).to_have_attribute("href", "/accounts/signup/")
        expect(page.get_by_role("button", name="한국어")).to_be_visible()

        # A wrong password: one message for both fields, which point at it.
        nobody = f"nobody-{uuid.uuid4().hex[:6]}"
        username.fill(nobody)
        password.fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Please enter a correct username and password")
        for field in (page.get_by_label("Username"), page.get_by_label("Password")):
            expect(field).to_have_attribute("aria-invalid", "true")
            expect(field).to_have_attribute("aria-describedby", re.compile(r"\bform-errors\b"))
        expect(page.get_by_label("Username")).to_have_value(nobody)

        # Too many attempts: told to wait, in minutes, without a word on whether it exists.
        status = 200
        for _ in range(6):
            page.get_by_label("Password").fill("wrong")
            with page.expect_response(lambda r: r.url.endswith("/accounts/login/") and r.request.method == "POST") as info:
                page.get_by_role("button", name="Sign in").click()
            status = info.value.status
            if status == 429:
                break
        assert status == 429
        expect(page.get_by_role("alert")).to_have_text(re.compile(r"Too many sign-in attempts\. Try again in \d+ minutes?\."))
        expect(page.get_by_role("alert")).not_to_contain_text("correct username")

        # Sign up says what is wrong, next to the field, and links back to sign in.
        page.goto(f"{live_stack.url}/accounts/signup/")
        expect(page).to_have_title("Sign up · podflow")
        page.get_by_label("Username").fill(f"someone-{uuid.uuid4().hex[:6]}")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password confirmation").fill(PASSWORD + "x")
        page.get_by_role("button", name="Create account").click()
        confirmation = page.get_by_label("Password confirmation")
        expect(confirmation).to_have_attribute("aria-invalid", "true")
        errors = page.locator("#" + confirmation.get_attribute("aria-describedby").split()[0])
        expect(errors).to_contain_text("didn’t match")
        expect(page.get_by_role("link", name="Sign in")).to_have_attribute("href", "/accounts/login/")
        assert not page.errors
    finally:
        context.close()


# --- Korean: nothing left in English ----------------------------------------------------------

# What may stay in Latin letters on a Korean page: names, units, commands and the brand.
LATIN_ALLOWED = {"podflow", "CPU", "Gi", "English", "kubectl", "kubeconfig", "curl"}


def english_words(text: str, also: set[str] = frozenset()) -> list[str]:
    """Words in Latin letters, once the learner's own words (`also`: names) are taken out."""
    for word in sorted(also, key=len, reverse=True):
        text = text.replace(word, " ")
    return [w for w in re.findall(r"[A-Za-z][A-Za-z'’]+", text) if w not in LATIN_ALLOWED]


def latin_free(locator, also: set[str] = frozenset()) -> list[str]:
    """Every word in Latin letters in what the element holds (hidden parts included)."""
    text = locator.evaluate("el => el.textContent + ' ' + [...el.querySelectorAll('[aria-label],[placeholder],[title]')].map((e) => (e.getAttribute('aria-label') || '') + ' ' + (e.getAttribute('placeholder') || '') + ' ' + (e.getAttribute('title') || '')).join(' ')")
    return english_words(text, also)


def names_in(text: str) -> set[str]:
    """Sandbox names (sandbox-1a2b3c, mine-…) are the learner's words, not ours."""
    return set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+", text))


def test_the_sandbox_panel_and_the_account_pages_in_korean(browser, live_stack):
    from playwright.sync_api import expect

    context, page = open_page(browser, live_stack.url, locale="ko-KR")
    try:
        name = sandbox_of(page)
        panel = page.locator("#sandboxes")
        expect(page.locator("#sandboxes-heading")).to_contain_text("내 샌드박스")
        expect(page.locator("#sandbox-list li.is-current")).to_contain_text("지금 여기")
        page.get_by_role("button", name="새 샌드박스").click()
        also = names_in(panel.text_content()) | {name}
        assert not latin_free(panel, also), latin_free(panel, also)
        assert not latin_free(page.locator(".account")), latin_free(page.locator(".account"))
        assert not latin_free(page.locator("#use-kubectl .link-expiry"))

        # Errors from the server and from the page, in Korean.
        page.locator("#sandbox-form input[name=nodes]").fill("0")
        page.locator("#sandbox-form").get_by_role("button", name="샌드박스 만들기").click()
        expect(page.locator("#sandbox-error-nodes")).to_contain_text("노드")
        page.locator("#sandbox-form input[name=nodes]").fill("1")
        page.locator("#sandbox-form input[name=name]").fill("-x-")
        page.locator("#sandbox-form").get_by_role("button", name="샌드박스 만들기").click()
        expect(page.locator("#sandbox-form-status")).to_have_attribute("data-kind", "error")
        assert not latin_free(panel, also | {"-x-"}), latin_free(panel, also | {"-x-"})

        # The dialogs.
        page.get_by_role("button", name="이 샌드박스 초기화…").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text(name)
        assert not latin_free(dialog, also), latin_free(dialog, also)
        page.keyboard.press("Escape")

        # A sandbox one may not open.
        assert page.goto(f"{live_stack.url}/clusters/not-{name}/").status == 404
        assert not latin_free(page.locator("body"), {f"not-{name}"}), latin_free(page.locator("body"), {f"not-{name}"})

        # Sign in and sign up, with their errors.
        for path, button in (("/accounts/login/", "로그인"), ("/accounts/signup/", "계정 만들기")):
            page.goto(live_stack.url + path)
            expect(page.locator("html")).to_have_attribute("lang", "ko")
            assert not latin_free(page.locator("body")), (path, latin_free(page.locator("body")))
            page.locator("input[name=username]").fill("nobody-ko")
            for number, field in enumerate(page.locator("input[type=password]").all()):
                field.fill(f"not-the-same-{number}")  # sign up: the two do not match
            page.get_by_role("button", name=button).click()
            expect(page.get_by_role("alert")).to_be_visible()
            assert not latin_free(page.locator("body"), {"nobody-ko"}), (path, latin_free(page.locator("body")))
        assert not page.errors
    finally:
        page.goto(f"{live_stack.url}/clusters/{name}/")
        delete_sandbox(page)
        context.close()


# --- how it looks -----------------------------------------------------------------------------

@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
def test_the_page_and_the_sign_in_page_fit_the_screen(browser, live_stack, locale, width):
    """Nothing wider than the screen; screenshots go to $PODFLOW_SCREENSHOTS if set."""
    import os
    from pathlib import Path

    shots = Path(os.environ["PODFLOW_SCREENSHOTS"]) if os.environ.get("PODFLOW_SCREENSHOTS") else None
    context, page = open_page(browser, live_stack.url, locale=locale, width=width, height=900)
    try:
        lang = locale[:2]
        page.locator("#sandbox-new-toggle").click()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if shots:
            shots.mkdir(parents=True, exist_ok=True)
            page.locator("#sandboxes").screenshot(path=str(shots / f"sandboxes-{lang}-{width}.png"))
            page.locator("#use-kubectl").screenshot(path=str(shots / f"kubectl-{lang}-{width}.png"))
            page.screenshot(path=str(shots / f"page-{lang}-{width}.png"))
            page.locator("#sandbox-reset").click()
            page.screenshot(path=str(shots / f"reset-dialog-{lang}-{width}.png"))
            page.keyboard.press("Escape")
        name = sandbox_of(page)
        page.goto(f"{live_stack.url}/accounts/login/")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if shots:
            page.screenshot(path=str(shots / f"login-{lang}-{width}.png"), full_page=True)
            page.goto(f"{live_stack.url}/accounts/signup/")
            page.screenshot(path=str(shots / f"signup-{lang}-{width}.png"), full_page=True)
        page.goto(f"{live_stack.url}/clusters/{name}/")
        assert not page.errors
    finally:
        close_page(context, page)


# Every element's right edge, save inside a table's own scroll box: a focusable region
# (tabindex 0) with a name, which a keyboard user can scroll. Closed <details> are opened
# first, so that what they hold is measured too.
PAST_THE_RIGHT_EDGE = """() => {
    for (const details of document.querySelectorAll("details")) details.open = true;
    const width = window.innerWidth;
    const named = (region) => {
        const ids = (region.getAttribute("aria-labelledby") || "").split(/\\s+/).filter(Boolean);
        const text = (region.getAttribute("aria-label") || "") + ids.map((id) => (document.getElementById(id) || {}).textContent || "").join("");
        return text.trim() !== "";
    };
    const scrollsIn = (el) => {
        const region = el.parentElement && el.parentElement.closest('[role="region"][tabindex="0"]');
        return region && named(region) && getComputedStyle(region).overflowX === "auto" ? region : null;
    };
    const out = [];
    for (const el of document.body.querySelectorAll("*")) {
        const box = el.getBoundingClientRect();
        if ((box.width || box.height) && box.right > width + 0.5 && !scrollsIn(el)) {
            out.push(`${el.tagName.toLowerCase()}.${el.getAttribute("class") || ""}#${el.id} right=${Math.round(box.right)}`);
        }
    }
    return { scrollWidth: document.documentElement.scrollWidth, past: out.slice(0, 20) };
}"""


def make_a_rollout_a_service_and_an_ingress(page, name: str) -> None:
    """A Deployment of three pods with a long image, rolled to a second image (two ReplicaSets,
    revisions 1 and 2), a NodePort Service for it and an Ingress to that Service."""
    from playwright.sync_api import expect

    from tests.livehelpers import deployment_manifest

    api = f"/k8s/{sandbox_of(page)}"
    answer = page_post(page, f"{api}/apis/apps/v1/namespaces/default/deployments", deployment_manifest(name, 3, "docker.io/library/nginx:1.27.3-alpine-perl"))
    assert answer["status"] == 201, answer
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 80}]}}
    answer = page_post(page, f"{api}/api/v1/namespaces/default/services", service)
    assert answer["status"] == 201, answer
    rule = {"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name}, "spec": {"rules": [rule]}}
    answer = page_post(page, f"{api}/apis/networking.k8s.io/v1/namespaces/default/ingresses", ingress)
    assert answer["status"] == 201, answer

    open_tab(page, "deployments")

    card = page.locator(f'.dep-card[data-deployment="default/{name}"]')
    expect(card.locator(".rollout-state")).to_have_attribute("data-state", "complete", timeout=STEPS_TIMEOUT)
    card.locator("input[name=image]").fill("docker.io/library/nginx:1.28.0-alpine-slim")
    card.locator("form.dep-image button[type=submit]").click()
    expect(card.locator(".rs-table tbody tr")).to_have_count(2, timeout=STEPS_TIMEOUT)
    expect(card.locator(".tag-revision")).to_have_attribute("data-revision", "2", timeout=STEPS_TIMEOUT)
    expect(card.locator(".rollout-state")).to_have_attribute("data-state", "complete", timeout=STEPS_TIMEOUT)
    open_tab(page, "services")
    expect(page.locator(f'#services-body tr[data-service="default/{name}"]')).to_contain_text(re.compile("3 ready|3개 준비됨"), timeout=STEPS_TIMEOUT)


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
def test_a_sandbox_with_a_rollout_a_service_and_an_ingress_fits_a_phone(browser, live_stack, locale):
    """At 390 and 320 px nothing passes the right edge: wide tables scroll in their own box.
    Screenshots at 390 go to $PODFLOW_SCREENSHOTS if set."""
    import os
    from pathlib import Path

    from playwright.sync_api import expect

    shots = Path(os.environ["PODFLOW_SCREENSHOTS"]) if os.environ.get("PODFLOW_SCREENSHOTS") else None
    context, page = open_page(browser, live_stack.url, locale=locale, width=390, height=900)
    try:
        name = f"storefront-frontend-{uuid.uuid4().hex[:6]}"
        make_a_rollout_a_service_and_an_ingress(page, name)
        # A pod selected, so that the scheduler's table is drawn too.
        open_tab(page, "pods")
        page.locator("#pods-body button.select-pod").first.click()
        expect(page.locator("#scheduling .sched-table")).to_be_visible()

        # Each of the dock's tabs in turn: the page and every panel in it stay inside the edge.
        for tab in ("deployments", "pods", "services", "kubectl", "nodes"):
            open_tab(page, tab)
            for width in (390, 320):
                page.set_viewport_size({"width": width, "height": 900})
                page.wait_for_function("(width) => window.innerWidth === width", arg=width)
                measured = page.evaluate(PAST_THE_RIGHT_EDGE)
                assert measured["scrollWidth"] <= width, (tab, width, measured)
                assert not measured["past"], (tab, width, measured["past"])
                if shots and width == 390:
                    shots.mkdir(parents=True, exist_ok=True)
                    lang = locale[:2]
                    page.screenshot(path=str(shots / f"rollout-{lang}-{width}-{tab}.png"), full_page=True)

        # Every table that scrolls is a named region the keyboard can reach.
        for region in page.locator(".table-wrap").all():
            expect(region).to_have_attribute("role", "region")
            expect(region).to_have_attribute("tabindex", "0")
            assert region.evaluate("(el) => el.getAttribute('aria-label') || (document.getElementById(el.getAttribute('aria-labelledby')) || {}).textContent || ''").strip()
        assert not page.errors
    finally:
        close_page(context, page)


def test_someone_elses_requests_to_a_service_are_said_in_the_services_live_region(browser, live_stack):
    """Answers that come only over the stream (a curl from elsewhere, not the page's form) are
    summed up in the panel's polite live region, at most every few seconds."""
    from playwright.sync_api import expect

    from tests.livehelpers import deployment_manifest

    context, page = open_page(browser, live_stack.url, locale="ko-KR")
    try:
        name = f"heard-{uuid.uuid4().hex[:6]}"
        api = f"/k8s/{sandbox_of(page)}"
        assert page_post(page, f"{api}/apis/apps/v1/namespaces/default/deployments", deployment_manifest(name, 2, "nginx:1.27"))["status"] == 201
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}
        assert page_post(page, f"{api}/api/v1/namespaces/default/services", service)["status"] == 201
        open_tab(page, "services")
        expect(page.locator(f'#services-body tr[data-service="default/{name}"]')).to_contain_text("2개 준비됨", timeout=STEPS_TIMEOUT)
        said = page.locator("#request-status")
        expect(said).to_have_attribute("aria-live", "polite")

        # Ten requests from outside the page's form: said once, in Korean.
        request = f"/k8s/{sandbox_of(page)}/podflow/v1/namespaces/default/services/{name}/request"
        assert page_post(page, request, {"count": 10})["status"] == 200
        expect(said).to_contain_text(f"서비스 {name}에 온 요청 10개: 파드", timeout=10_000)
        first = page.evaluate("Date.now()")
        # One more, at once: it waits its turn rather than cutting the first one short.
        page_post(page, request, {"count": 1})
        expect(said).to_contain_text(f"서비스 {name}에 온 요청 1개", timeout=15_000)
        assert page.evaluate("Date.now()") - first >= 4_000
        assert not page.errors
    finally:
        close_page(context, page)
