"""The page in a real browser: Debian's chromium driven by Playwright, against the real stack.

The demo cluster runs at instant speed, so a pod goes through its eight steps in moments;
every wait is on a condition with a timeout.
"""
from __future__ import annotations

import json
import os
import uuid

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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def browser(live_stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, base_url: str, *, locale: str = "en-US"):
    from playwright.sync_api import expect

    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 800}, reduced_motion="reduce")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(base_url + "/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=15_000)
    # The snapshot has been drawn: the diagram shows the demo cluster's worker nodes.
    expect(page.locator('#diagram-svg .node[data-node="node-1"]')).to_be_visible(timeout=15_000)
    return context, page


@pytest.fixture
def page(browser, live_stack):
    context, page = open_page(browser, live_stack.url)
    yield page
    errors = list(page.errors)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def page_config(page) -> dict:
    return json.loads(page.locator("#podflow-config").text_content())


def test_it_shows_the_eight_steps_of_a_pod_created_with_the_form(page):
    from playwright.sync_api import expect

    name = f"browser-{uuid.uuid4().hex[:6]}"
    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=image]").fill("nginx:1.27")
    form.locator("input[name=cpu]").fill("100m")
    form.locator("input[name=memory]").fill("32Mi")
    form.get_by_role("button", name="Create pod").click()
    expect(page.locator("#pod-form-status")).to_have_attribute("data-kind", "ok")
    expect(page.locator("#pod-form-status")).to_contain_text(name)

    # Choose the pod by keyboard: focus it in the diagram and press Enter.
    chip = page.locator(f'#diagram-svg .pod[data-pod-name="{name}"]')
    expect(chip).to_have_count(1, timeout=STEPS_TIMEOUT)
    chip.focus()
    page.keyboard.press("Enter")
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#follow")).not_to_be_checked()
    expect(page.locator("#selected-pod")).to_contain_text(f"default/{name}")

    for number in range(1, 9):
        want = "not-needed" if number == 3 else "done"
        item = page.locator(f'#steps li[data-step="{number}"]')
        expect(item).to_have_attribute("data-state", want, timeout=STEPS_TIMEOUT)
        expect(item.locator(".step-state")).to_have_text("not needed" if number == 3 else "done")
        expect(item.locator(".step-text")).not_to_be_empty()
        # The diagram's arrow for the step carries the same state.
        expect(page.locator(f'#diagram-svg .arrow[data-step="{number}"]')).to_have_attribute("data-state", want)

    steps = page.locator("#steps")
    expect(steps.locator('li[data-step="1"] .step-text')).to_contain_text(f"podflow page asked the API server to create Pod default/{name}")
    expect(steps.locator('li[data-step="3"] .step-text')).to_contain_text("Not needed for a bare pod")
    expect(steps.locator('li[data-step="4"] .step-text')).to_contain_text("The scheduler chose node-")
    expect(steps.locator('li[data-step="8"] .step-text')).to_contain_text("Ready=True")
    expect(page.locator('#diagram-svg .arrow[data-step="3"] .arrow-note')).to_have_text("not needed: bare pod")

    # The pod sits inside a worker node, Running and ready, in words as well as shape.
    in_node = page.locator(f'#diagram-svg .node[data-node] .pod[data-pod-name="{name}"]')
    expect(in_node).to_have_attribute("data-phase", "Running", timeout=STEPS_TIMEOUT)
    expect(in_node).to_have_attribute("data-ready", "true")
    expect(in_node).to_contain_text("Running · 1/1")
    node = page.locator(f'#diagram-svg .node:has(.pod[data-pod-name="{name}"])').get_attribute("data-node")
    assert node in {"node-1", "node-2", "node-3"}
    expect(page.locator("#selected-hint")).to_contain_text(f"on {node}")
    row = page.locator("#pods-body tr", has_text=name)
    expect(row).to_contain_text("Running")
    expect(row).to_contain_text(node)


def test_a_bad_name_shows_the_api_servers_error_beside_the_form_and_creates_nothing(page, live_stack):
    from playwright.sync_api import expect

    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill("Bad_Name")
    form.get_by_role("button", name="Create pod").click()
    status = page.locator("#pod-form-status")
    expect(status).to_have_attribute("data-kind", "error")
    expect(status).to_be_visible()
    expect(status).to_contain_text("The API server refused it (422 Invalid)")
    expect(status.locator(".err-causes")).to_contain_text("metadata.name")
    expect(status.locator(".err-causes")).to_contain_text('Invalid value: "Bad_Name"')
    expect(status).to_have_attribute("aria-live", "polite")
    expect(form.locator("input[name=name]")).to_have_attribute("aria-invalid", "true")

    expect(page.locator('#diagram-svg .pod[data-pod-name="Bad_Name"]')).to_have_count(0)
    config = page_config(page)
    answer = page.request.get(
        f"{live_stack.url}{config['apiBase']}/api/v1/namespaces/default/pods/Bad_Name",
        headers={"Authorization": f"Bearer {config['token']}"},
    )
    assert answer.status == 404, answer.text()


def test_deleting_a_pod_with_its_button_removes_it(page):
    from playwright.sync_api import expect

    name = f"gone-{uuid.uuid4().hex[:6]}"
    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill(name)
    form.get_by_role("button", name="Create pod").click()
    chip = page.locator(f'#diagram-svg .node .pod[data-pod-name="{name}"][data-phase="Running"]')
    expect(chip).to_have_count(1, timeout=STEPS_TIMEOUT)

    page.get_by_role("button", name=f"Delete pod {name}").click()
    expect(page.locator("#delete-form-status")).to_contain_text(name)
    expect(page.locator(f'#diagram-svg .pod[data-pod-name="{name}"]')).to_have_count(0, timeout=STEPS_TIMEOUT)
    expect(page.locator("#pods-body tr", has_text=name)).to_have_count(0)


def test_the_speed_control_posts_the_speed_and_shows_the_clusters_answer(page):
    from playwright.sync_api import expect

    speed = page.locator("#speed-form")
    before = speed.get_attribute("data-speed")
    assert before in {"instant", "normal", "slow"}
    other = "normal" if before != "normal" else "slow"
    try:
        speed.locator(f'input[value="{other}"]').check()
        # The cluster's answer comes back (the POST's reply, then the websocket's message).
        expect(speed).to_have_attribute("data-speed", other, timeout=10_000)
        expect(speed.locator(f'input[value="{other}"]')).to_be_checked()
        expect(speed.locator(".form-status")).to_be_hidden()
    finally:
        speed.locator(f'input[value="{before}"]').check()
        expect(speed).to_have_attribute("data-speed", before, timeout=10_000)


def test_switching_to_korean_shows_korean_labels_and_narration(page):
    from playwright.sync_api import expect

    name = f"hangul-{uuid.uuid4().hex[:6]}"
    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill(name)
    form.get_by_role("button", name="Create pod").click()
    expect(page.locator('#steps li[data-step="8"]')).to_have_attribute("data-state", "done", timeout=STEPS_TIMEOUT)

    page.get_by_role("button", name="한국어").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=15_000)
    expect(page.locator("#controls-heading")).to_have_text("직접 해 보기")
    expect(page.get_by_role("tab", name="파드 만들기")).to_be_visible()
    expect(page.locator("#steps-heading")).to_have_text("여덟 단계")
    expect(page.locator('#steps li[data-step="1"] .step-route')).to_have_text("kubectl → API 서버")
    # Labels drawn by the script come from the JavaScript catalog.
    expect(page.locator("#diagram-svg .plane-title")).to_have_text("마스터 노드 · 컨트롤 플레인")
    expect(page.locator('#diagram-svg [data-component="scheduler"]')).to_contain_text("스케줄러")
    # The server's narration, in Korean, for the pod just created.
    page.locator(f'#diagram-svg .pod[data-pod-name="{name}"]').click()
    expect(page.locator("#selected-pod")).to_contain_text(name)
    expect(page.locator('#steps li[data-step="1"] .step-text')).to_contain_text(f"API 서버로 파드 default/{name} 생성을 요청했습니다")
    expect(page.locator('#steps li[data-step="3"] .step-state')).to_have_text("필요 없음")

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#controls-heading")).to_have_text("Try it")


def test_a_korean_browser_gets_the_korean_page(browser, live_stack):
    from playwright.sync_api import expect

    context, page = open_page(browser, live_stack.url, locale="ko-KR")
    try:
        expect(page.locator("html")).to_have_attribute("lang", "ko")
        expect(page.get_by_role("button", name="파드 만들기")).to_be_visible()
        expect(page.locator("#diagram-svg .workers-title")).to_have_text("워커 노드")
        assert not page.errors
    finally:
        context.close()


def test_a_request_made_outside_the_page_appears_in_the_feed_and_lights_arrow_1(page, live_stack):
    from playwright.sync_api import expect

    from tests.livehelpers import http

    # Arrow 1 lights up only briefly: note every time it does.
    page.evaluate(
        """() => {
            window.__arrow1Lit = 0;
            new MutationObserver(() => {
                if (document.querySelector('#diagram-svg .arrow[data-step="1"][data-asking="true"]')) window.__arrow1Lit += 1;
            }).observe(document.getElementById("diagram-svg"), { childList: true, subtree: true, attributes: true });
        }"""
    )
    feed = page.locator("#requests-list")
    expect(feed).to_have_attribute("aria-live", "off")
    kubectl = "kubectl/v1.32.4 (linux/amd64)"
    status, _ = http(live_stack.url, "GET", "/k8s/demo/api/v1/namespaces/default/pods", agent=kubectl)
    assert status == 200

    row = feed.locator('li[data-client="kubectl"][data-verb="list"]').first
    expect(row).to_contain_text("kubectl · list pods · 200")
    expect(row).not_to_contain_text("error")
    page.wait_for_function("window.__arrow1Lit > 0")
    # The client box names who asked, and what.
    client = page.locator('#diagram-svg [data-component="client"]')
    expect(client).to_contain_text("kubectl")
    expect(client).to_contain_text("list pods · 200")

    # An error is marked in words, not by colour alone; the newest request comes first.
    status, _ = http(live_stack.url, "GET", "/k8s/demo/api/v1/namespaces/default/pods/no-such-pod", agent=kubectl)
    assert status == 404
    first = feed.locator("li").first
    expect(first).to_contain_text("kubectl · get pods/no-such-pod · ✕ error 404 NotFound")
    expect(first).to_have_attribute("data-code", "404")

    # Pausing holds the list still (it counts what arrives meanwhile); resuming shows it.
    pause = page.locator("#requests-pause")
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "true")
    status, _ = http(live_stack.url, "GET", "/k8s/demo/apis/apps/v1/namespaces/default/deployments", agent="OpenAPI-Generator/31.0.0/python")
    assert status == 200
    expect(pause).to_contain_text("1 new")
    expect(feed).not_to_contain_text("list deployments")
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "false")
    expect(feed.locator("li").first).to_contain_text("Python client (kubernetes) · list deployments · 200")
    # Never more than the last twenty, newest first.
    for i in range(22):
        http(live_stack.url, "GET", f"/k8s/demo/api/v1/namespaces/default/pods/burst-{i}", agent=kubectl)
    expect(feed.locator("li").first).to_contain_text("get pods/burst-21 · ✕ error 404 NotFound")
    expect(feed.locator("li")).to_have_count(20)
    expect(feed.locator("li").last).to_contain_text("get pods/burst-2 ·")


def test_the_pages_own_requests_are_in_the_feed_too(page):
    from playwright.sync_api import expect

    name = f"feed-{uuid.uuid4().hex[:6]}"
    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill(name)
    form.get_by_role("button", name="Create pod").click()
    expect(page.locator("#requests-list")).to_contain_text(f"podflow page · create pods · 201")


def test_the_kubeconfig_link_downloads_this_clusters_kubeconfig(page, live_stack):
    from pathlib import Path

    from playwright.sync_api import expect

    panel = page.locator("#use-kubectl")
    expect(panel.get_by_role("heading", name="Use kubectl")).to_be_visible()
    link = panel.get_by_role("link", name="Download kubeconfig")
    expect(link).to_have_attribute("download", "kubeconfig")
    with page.expect_download() as info:
        link.click()
    text = Path(info.value.path()).read_text()
    assert "kind: Config" in text
    server = f"{live_stack.api_url}/k8s/demo"
    assert f"server: {server}\n" in text
    # The page shows the same address, and the name the browser saves the file under.
    expect(panel.locator("#kubeconfig-server")).to_have_text(server)
    expect(panel).to_contain_text(info.value.suggested_filename)

    # The commands, each with a copy button that says what it copies.
    expect(panel.locator("#cmd-export")).to_have_text("export KUBECONFIG=$PWD/kubeconfig")
    expect(panel.locator("#cmd-get")).to_have_text("kubectl get pods")
    expect(panel.locator("#cmd-run")).to_have_text("kubectl run web --image=nginx")
    expect(panel.locator("#cmd-curl")).to_have_text(f"curl -o kubeconfig {live_stack.url}/clusters/demo/kubeconfig")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    expect(panel.get_by_role("button", name="Copy export KUBECONFIG=$PWD/kubeconfig")).to_have_count(1)
    copy = panel.locator('button[data-copy="cmd-export"]')  # its name changes to "Copied …"
    copy.click()
    expect(copy).to_contain_text("Copied")
    expect(copy).to_be_focused()
    assert page.evaluate("navigator.clipboard.readText()") == "export KUBECONFIG=$PWD/kubeconfig"


def test_the_kubectl_panel_and_the_feed_in_korean(browser, live_stack):
    from playwright.sync_api import expect

    from tests.livehelpers import http

    context, page = open_page(browser, live_stack.url, locale="ko-KR")
    try:
        panel = page.locator("#use-kubectl")
        expect(panel.get_by_role("heading", name="kubectl 사용하기")).to_be_visible()
        expect(panel.get_by_role("link", name="kubeconfig 내려받기")).to_be_visible()
        expect(page.get_by_role("heading", name="API 요청")).to_be_visible()
        status, _ = http(live_stack.url, "GET", "/k8s/demo/api/v1/namespaces/default/pods/nope-ko", agent="kubectl/v1.32.4 (linux/amd64)")
        assert status == 404
        expect(page.locator("#requests-list li").first).to_contain_text("kubectl · get pods/nope-ko · ✕ 오류 404 NotFound")
        assert not page.errors
    finally:
        context.close()
