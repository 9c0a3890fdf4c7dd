"""The page in a real browser: Debian's chromium driven by Playwright, against the real stack.

Each test is a new learner in a sandbox of its own (tests/browser/pages.py), at instant
speed, so a pod goes through its eight steps in moments; every wait is on a condition with
a timeout.
"""
from __future__ import annotations

import re
import uuid

import pytest

from .pages import STEPS_TIMEOUT, api_of, close_page, needs_chromium, open_page, open_tab, page_config, sandbox_of

pytestmark = [pytest.mark.browser, needs_chromium]


def test_it_shows_the_eight_steps_of_a_pod_created_with_the_form(page):
    from playwright.sync_api import expect

    # A fresh anonymous learner's own sandbox: nobody signed in, no pod yet.
    expect(page.locator(".account")).to_contain_text("Sign in")
    expect(page.locator("#sandbox-list li.is-current")).to_have_attribute("data-sandbox", sandbox_of(page))
    open_tab(page, "pods")
    expect(page.locator("#pod-count")).to_have_text("0")
    open_tab(page, "create")

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
    # The note is shortened to "not needed" when the diagram has no room for the why.
    expect(page.locator('#diagram-svg .arrow[data-step="3"] .arrow-note')).to_have_text(re.compile(r"^not needed(: bare pod)?$"))

    # The pod sits inside a worker node, Running and ready, in words as well as shape.
    in_node = page.locator(f'#diagram-svg .node[data-node] .pod[data-pod-name="{name}"]')
    expect(in_node).to_have_attribute("data-phase", "Running", timeout=STEPS_TIMEOUT)
    expect(in_node).to_have_attribute("data-ready", "true")
    expect(in_node).to_contain_text("Running · 1/1")
    node = page.locator(f'#diagram-svg .node:has(.pod[data-pod-name="{name}"])').get_attribute("data-node")
    assert node in {"node-1", "node-2", "node-3"}
    expect(page.locator("#selected-hint")).to_contain_text(f"on {node}")
    open_tab(page, "pods")
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
    from tests.livehelpers import http

    assert page_config(page)["apiBase"] == api_of(page)
    assert "token" not in page_config(page)  # the page's calls go with its session cookie
    status, body = http(live_stack.url, "GET", f"{api_of(page)}/api/v1/namespaces/default/pods/Bad_Name")
    assert status == 404, body


def test_deleting_a_pod_with_its_button_removes_it(page):
    from playwright.sync_api import expect

    name = f"gone-{uuid.uuid4().hex[:6]}"
    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill(name)
    form.get_by_role("button", name="Create pod").click()
    chip = page.locator(f'#diagram-svg .node .pod[data-pod-name="{name}"][data-phase="Running"]')
    expect(chip).to_have_count(1, timeout=STEPS_TIMEOUT)

    open_tab(page, "pods")
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
    expect(page.locator("#controls-heading")).to_have_text("조작: 시계, 속도, 고장, 타임라인")
    expect(page.get_by_role("tab", name="만들기", exact=True)).to_be_visible()
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
    expect(page.locator("#controls-heading")).to_have_text("Controls: clock, speed, faults, timeline")


def test_a_korean_browser_gets_the_korean_page(browser, live_stack):
    from playwright.sync_api import expect

    context, page = open_page(browser, live_stack.url, locale="ko-KR")
    try:
        expect(page.locator("html")).to_have_attribute("lang", "ko")
        expect(page.get_by_role("button", name="파드 만들기")).to_be_visible()
        expect(page.locator("#diagram-svg .workers-title")).to_have_text("워커 노드")
        assert not page.errors
    finally:
        close_page(context, page)


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
    open_tab(page, "requests")
    feed = page.locator("#requests-list")
    expect(feed).to_have_attribute("aria-live", "off")
    kubectl = "kubectl/v1.32.4 (linux/amd64)"
    status, _ = http(live_stack.url, "GET", f"{api_of(page)}/api/v1/namespaces/default/pods", agent=kubectl)
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
    status, _ = http(live_stack.url, "GET", f"{api_of(page)}/api/v1/namespaces/default/pods/no-such-pod", agent=kubectl)
    assert status == 404
    first = feed.locator("li").first
    expect(first).to_contain_text("kubectl · get pods/no-such-pod · ✕ error 404 NotFound")
    expect(first).to_have_attribute("data-code", "404")

    # Pausing holds the list still (it counts what arrives meanwhile); resuming shows it.
    pause = page.locator("#requests-pause")
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "true")
    status, _ = http(live_stack.url, "GET", f"{api_of(page)}/apis/apps/v1/namespaces/default/deployments", agent="OpenAPI-Generator/31.0.0/python")
    assert status == 200
    expect(pause).to_contain_text("1 new")
    expect(feed).not_to_contain_text("list deployments")
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "false")
    expect(feed.locator("li").first).to_contain_text("Python client (kubernetes) · list deployments · 200")
    # Never more than the last twenty, newest first.
    for i in range(22):
        http(live_stack.url, "GET", f"{api_of(page)}/api/v1/namespaces/default/pods/burst-{i}", agent=kubectl)
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
    import urllib.error
    import urllib.request
    from pathlib import Path

    from playwright.sync_api import expect

    open_tab(page, "kubectl")
    panel = page.locator("#use-kubectl")
    expect(panel.get_by_role("heading", name="Use kubectl")).to_be_visible()
    link = panel.get_by_role("link", name="Download kubeconfig")
    expect(link).to_have_attribute("download", "kubeconfig")
    with page.expect_download() as info:
        link.click()
    text = Path(info.value.path()).read_text()
    assert "kind: Config" in text
    cluster = sandbox_of(page)
    server = f"{live_stack.api_url}/k8s/{cluster}"
    assert f"server: {server}\n" in text
    # The page shows the same address, and the name the browser saves the file under.
    expect(panel.locator("#kubeconfig-server")).to_have_text(server)
    expect(panel).to_contain_text(info.value.suggested_filename)

    # The commands, each with a copy button that says what it copies.
    expect(panel.locator("#cmd-export")).to_have_text("export KUBECONFIG=$PWD/kubeconfig")
    expect(panel.locator("#cmd-get")).to_have_text("kubectl get pods")
    expect(panel.locator("#cmd-run")).to_have_text("kubectl run web --image=nginx")
    # The curl command carries a signed key, for a terminal that has no session; it expires.
    expect(panel.locator("#cmd-curl")).to_have_text(re.compile(rf"^curl -o kubeconfig {re.escape(live_stack.url)}/clusters/{cluster}/kubeconfig\?key=\S+$"))
    expect(panel.locator("#curl-expiry")).to_contain_text("works for 15 minutes")
    expect(panel.locator("#curl-expiry")).to_contain_text("reload the page for a new one")
    signed = panel.locator("#cmd-curl .tok-url").text_content()
    with urllib.request.urlopen(signed, timeout=10) as response:  # no cookie: the key opens it
        assert f"server: {server}\n" in response.read().decode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{live_stack.url}/clusters/{cluster}/kubeconfig", timeout=10)
    assert refused.value.code == 404
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
        open_tab(page, "kubectl")
        panel = page.locator("#use-kubectl")
        expect(panel.get_by_role("heading", name="kubectl 사용하기")).to_be_visible()
        expect(panel.get_by_role("link", name="kubeconfig 내려받기")).to_be_visible()
        open_tab(page, "requests")
        expect(page.get_by_role("heading", name="API 요청")).to_be_visible()
        status, _ = http(live_stack.url, "GET", f"{api_of(page)}/api/v1/namespaces/default/pods/nope-ko", agent="kubectl/v1.32.4 (linux/amd64)")
        assert status == 404
        expect(page.locator("#requests-list li").first).to_contain_text("kubectl · get pods/nope-ko · ✕ 오류 404 NotFound")
        expect(panel.locator("#curl-expiry")).to_contain_text("15분")
        assert not page.errors
    finally:
        close_page(context, page)


# --- issue 4's scenes ---------------------------------------------------------------------

def make_deployment(live_stack, page, name: str, replicas: int, image: str = "nginx:1.27") -> None:
    from tests.livehelpers import deployment_manifest, http

    status, body = http(live_stack.url, "POST", f"{api_of(page)}/apis/apps/v1/namespaces/default/deployments", deployment_manifest(name, replicas, image))
    assert status == 201, body


def delete_deployment(live_stack, page, name: str) -> None:
    from tests.livehelpers import http

    http(live_stack.url, "DELETE", f"{api_of(page)}/apis/apps/v1/namespaces/default/deployments/{name}")


def test_a_service_made_with_the_expose_form_answers_requests_from_several_pods(page, live_stack):
    from playwright.sync_api import expect

    from tests.livehelpers import http

    name = f"svc-{uuid.uuid4().hex[:6]}"
    make_deployment(live_stack, page, name, 4)
    try:
        open_tab(page, "deployments")
        card = page.locator(f'.dep-card[data-deployment="default/{name}"]')
        expect(card.locator(".rollout-state")).to_have_attribute("data-state", "complete", timeout=STEPS_TIMEOUT)

        open_tab(page, "create")

        page.get_by_role("tab", name="Expose a deployment").click()
        form = page.locator("#expose-form")
        form.locator("select[name=deployment]").select_option(f"default/{name}")
        form.locator("select[name=type]").select_option("NodePort")
        form.get_by_role("button", name="Create Service").click()
        expect(form.locator(".form-status")).to_have_attribute("data-kind", "ok")
        expect(form.locator(".form-status")).to_contain_text("node port 3")

        # The Service is listed, chosen, and its four ready pods are its endpoints.
        open_tab(page, "services")
        row = page.locator(f'#services-body tr[data-service="default/{name}"]')
        expect(row).to_contain_text("NodePort")
        expect(row).to_contain_text("4 ready", timeout=STEPS_TIMEOUT)
        expect(page.locator("#service-detail-heading")).to_contain_text(f"default/{name}")
        expect(page.locator("#service-facts")).to_contain_text(f"{name}.default.svc.cluster.local")
        expect(page.locator("#service-endpoints li.endpoint:not(.is-notready)")).to_have_count(4)

        # Ten requests through node-2's node port, as curl node-2:<nodePort> would send them.
        request = page.locator("#request-form")
        request.locator("select[name=via]").select_option("nodePort")
        request.locator("select[name=node]").select_option("node-2")
        request.locator('label:has(input[name=count][value="10"])').click()
        expect(page.locator("#request-command")).to_contain_text("curl -s node-2:3")
        request.get_by_role("button", name="Send").click()
        answers = page.locator("#answers-list li")
        expect(answers).to_have_count(10)
        expect(page.locator("#request-status")).to_contain_text("10 requests sent")
        expect(answers.first).to_contain_text("nodePort")
        expect(answers.first).to_contain_text("on node-2")
        pods = set(answers.evaluate_all("items => items.map(li => li.dataset.pod)"))
        assert len(pods) >= 2 and all(p.startswith(name) for p in pods), pods
        expect(page.locator("#answers-summary")).to_contain_text("different pods")
        # The answering pods are marked in the diagram, in words.
        page.wait_for_function("document.querySelectorAll('#diagram-svg .pod[data-answered]').length >= 2")
        expect(page.locator("#diagram-svg .pod[data-answered] .pod-hit").first).to_contain_text("answered ×")

        # kube-proxy's rules for the Service on a node.
        page.locator("#proxy-rules summary").click()
        page.locator("#rules-node").select_option("node-1")
        expect(page.locator("#rules-text")).to_contain_text("KUBE-SVC-")
        expect(page.locator("#rules-text")).to_contain_text(f"default/{name}")
        expect(page.locator("#rules-text")).to_have_attribute("data-node", "node-1")
    finally:
        http(live_stack.url, "DELETE", f"{api_of(page)}/api/v1/namespaces/default/services/{name}")
        delete_deployment(live_stack, page, name)


def test_the_scheduler_table_shows_the_winning_node_and_why_a_pod_waits(page, live_stack):
    from playwright.sync_api import expect

    from tests.livehelpers import http, pod_manifest

    name = f"sched-{uuid.uuid4().hex[:6]}"
    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill(name)
    form.get_by_role("button", name="Create pod").click()
    chip = page.locator(f'#diagram-svg .node .pod[data-pod-name="{name}"]')
    expect(chip).to_have_count(1, timeout=STEPS_TIMEOUT)
    chip.click()
    node = page.locator(f'#diagram-svg .node:has(.pod[data-pod-name="{name}"])').get_attribute("data-node")
    verdict = page.locator("#scheduling .sched-verdict.is-chosen")
    expect(verdict).to_have_attribute("data-selected", node)
    expect(verdict).to_contain_text(f"Chosen: {node}.")
    table = page.locator("#scheduling .sched-table")
    expect(table.locator("thead th.is-chosen")).to_contain_text(node)
    expect(table.locator("tbody")).to_contain_text("NodeResourcesFit")
    expect(table.locator("tr.total td.is-chosen")).to_contain_text("★")
    expect(table.locator(f'tr.outcome td[data-node="{node}"]')).to_contain_text("chosen")

    # A pod no node accepts: Kubernetes' FailedScheduling words, and the refusing filter.
    waiting = f"nowhere-{uuid.uuid4().hex[:6]}"
    manifest = pod_manifest(waiting)
    manifest["spec"]["nodeSelector"] = {"disk": "floppy"}
    status, body = http(live_stack.url, "POST", f"{api_of(page)}/api/v1/namespaces/default/pods", manifest)
    assert status == 201, body
    try:
        page.locator(f'#diagram-svg .pod[data-pod-name="{waiting}"]').click()
        why = page.locator("#scheduling .sched-verdict.is-unschedulable")
        expect(why).to_contain_text("No node fits this pod", timeout=STEPS_TIMEOUT)
        expect(why.locator(".k8s-words")).to_contain_text("nodes are available")
        expect(why.locator(".k8s-words")).to_contain_text("didn't match Pod's node affinity/selector")
        expect(page.locator('#scheduling .sched-table td[data-result="failed"]').first).to_contain_text("didn't match")
    finally:
        http(live_stack.url, "DELETE", f"{api_of(page)}/api/v1/namespaces/default/pods/{waiting}")


def test_set_image_with_the_form_makes_a_new_replicaset_and_roll_back_returns(page, live_stack):
    from playwright.sync_api import expect

    name = f"roll-{uuid.uuid4().hex[:6]}"
    make_deployment(live_stack, page, name, 2, image="nginx:1.27")
    try:
        open_tab(page, "deployments")
        card = page.locator(f'.dep-card[data-deployment="default/{name}"]')
        expect(card.locator(".rollout-state")).to_have_attribute("data-state", "complete", timeout=STEPS_TIMEOUT)
        expect(card.locator(".tag-revision")).to_have_attribute("data-revision", "1")
        expect(card.locator(".rs-table tbody tr")).to_have_count(1)
        first_hash = card.locator(".rs-table tbody tr").first.get_attribute("data-hash")

        image = card.get_by_label(f"New image for container app of {name}")
        expect(image).to_have_value("nginx:1.27")
        image.fill("nginx:1.26")
        card.get_by_role("button", name="Set image").click()
        expect(card.locator(".form-status")).to_have_attribute("data-kind", "ok")
        # A new ReplicaSet, with its own pod-template-hash, is revision 2 and takes over.
        expect(card.locator(".rs-table tbody tr")).to_have_count(2, timeout=STEPS_TIMEOUT)
        expect(card.locator(".tag-revision")).to_have_attribute("data-revision", "2", timeout=STEPS_TIMEOUT)
        current = card.locator(".rs-table tbody tr.is-current")
        expect(current).to_have_attribute("data-revision", "2")
        expect(current).to_contain_text("nginx:1.26")
        assert current.get_attribute("data-hash") != first_hash
        expect(card.locator(".rollout-state")).to_have_attribute("data-state", "complete", timeout=STEPS_TIMEOUT)
        expect(current).to_contain_text("2 of 2 ready")

        # Roll back to revision 1: its ReplicaSet comes back as revision 3.
        card.get_by_role("button", name=f"Roll {name} back to revision 1 (nginx:1.27)").click()
        expect(card.locator(".tag-revision")).to_have_attribute("data-revision", "3", timeout=STEPS_TIMEOUT)
        expect(card.locator(".rs-table tbody tr.is-current")).to_have_attribute("data-hash", first_hash)
        expect(card.locator(".rollout-state")).to_have_attribute("data-state", "complete", timeout=STEPS_TIMEOUT)

        # Scale, as kubectl scale does.
        card.get_by_label(f"Replicas of {name}").fill("3")
        card.get_by_role("button", name="Scale").click()
        expect(card.locator(".dep-counts")).to_contain_text("ready 3", timeout=STEPS_TIMEOUT)
    finally:
        delete_deployment(live_stack, page, name)


def test_a_failing_readiness_probe_set_on_the_page_makes_the_pod_not_ready(page):
    from playwright.sync_api import expect

    name = f"probe-{uuid.uuid4().hex[:6]}"
    form = page.locator("#pod-form")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=probes]").check()
    form.get_by_role("button", name="Create pod").click()
    chip = page.locator(f'#diagram-svg .node .pod[data-pod-name="{name}"]')
    expect(chip).to_have_attribute("data-ready", "true", timeout=STEPS_TIMEOUT)
    chip.click()
    readiness = page.locator('#containers .probe[data-probe="readiness"]')
    expect(readiness).to_contain_text("httpGet :80/")
    readiness.get_by_label("fails").check()
    expect(page.locator("#probe-status")).to_contain_text(f"The readiness probe of {name} now fails")
    expect(readiness).to_have_attribute("data-setting", "fail", timeout=STEPS_TIMEOUT)
    expect(readiness).to_contain_text(f"kubectl annotate pod {name} podflow.dev/readiness=fail --overwrite")
    expect(chip).to_have_attribute("data-ready", "false", timeout=STEPS_TIMEOUT)
    expect(chip).to_have_attribute("data-phase", "Running")
    readiness.get_by_label("passes").check()
    expect(chip).to_have_attribute("data-ready", "true", timeout=STEPS_TIMEOUT)


def test_a_pod_that_cannot_pull_its_image_says_so_in_words(page, live_stack):
    from playwright.sync_api import expect

    from tests.livehelpers import http, pod_manifest

    name = f"nope-{uuid.uuid4().hex[:6]}"
    status, body = http(live_stack.url, "POST", f"{api_of(page)}/api/v1/namespaces/default/pods", pod_manifest(name, image="nginx:nope"))
    assert status == 201, body
    try:
        chip = page.locator(f'#diagram-svg .node .pod[data-pod-name="{name}"]')
        expect(chip).to_have_attribute("data-phase", re.compile("ErrImagePull|ImagePullBackOff"), timeout=STEPS_TIMEOUT)
        chip.click()
        state = page.locator("#containers .c-state")
        expect(state).to_contain_text(re.compile("Waiting: (ErrImagePull|ImagePullBackOff)"))
        expect(page.locator("#containers")).to_contain_text("nginx:nope")
        open_tab(page, "pods")
        expect(page.locator(f'#pods-body tr:has-text("{name}")')).to_contain_text(re.compile("ErrImagePull|ImagePullBackOff"))
        # The step panel says it where the learner looks: step 7 is failing, in words.
        expect(page.locator('#steps li[data-step="7"]')).to_have_attribute("data-state", "failed")
        expect(page.locator('#steps li[data-step="7"] .step-now')).to_contain_text("nginx:nope")
    finally:
        http(live_stack.url, "DELETE", f"{api_of(page)}/api/v1/namespaces/default/pods/{name}")


def test_the_new_panels_in_korean(browser, live_stack):
    from playwright.sync_api import expect

    context, page = open_page(browser, live_stack.url, locale="ko-KR")
    try:
        open_tab(page, "services")
        expect(page.get_by_role("heading", name="서비스", exact=False).first).to_be_visible()
        open_tab(page, "deployments")
        expect(page.locator("#deployments-heading")).to_contain_text("디플로이먼트와 롤아웃")
        expect(page.locator("#scheduling-heading")).to_have_text("왜 이 노드일까? 스케줄러의 판단")
        open_tab(page, "nodes")
        expect(page.get_by_role("button", name="node-1 끄기")).to_be_visible()
        open_tab(page, "create")
        expect(page.get_by_role("tab", name="디플로이먼트 노출하기")).to_be_visible()
        assert not page.errors
    finally:
        close_page(context, page)


def test_stopping_a_node_makes_it_notready_and_its_pods_move(page, live_stack):
    """node-3 of this test's own sandbox is down for a while; it is started again."""
    from playwright.sync_api import expect

    from tests.livehelpers import http

    name = f"move-{uuid.uuid4().hex[:6]}"
    make_deployment(live_stack, page, name, 6)
    node3 = page.locator('#diagram-svg .node[data-node="node-3"]')
    try:
        open_tab(page, "deployments")
        card = page.locator(f'.dep-card[data-deployment="default/{name}"]')
        expect(card.locator(".rollout-state")).to_have_attribute("data-state", "complete", timeout=STEPS_TIMEOUT)
        # The scheduler spreads six pods over three empty-enough nodes.
        on_node3 = node3.locator(f'.pod[data-pod-name^="{name}-"]')
        expect(on_node3.first).to_be_visible()
        moving = on_node3.first.get_attribute("data-pod-name")

        open_tab(page, "nodes")
        page.get_by_role("button", name="Stop node-3").click()
        expect(page.locator("#nodes-status")).to_contain_text("node-3 is switched off")
        row = page.locator('#nodes-body tr[data-node="node-3"]')
        expect(row).to_have_attribute("data-stopped", "true")
        # After the grace period: NotReady in words and shape, tainted unreachable.
        expect(node3).to_have_attribute("data-status", "NotReady", timeout=60_000)
        expect(node3).to_have_class(re.compile("node-notready"))
        expect(node3.locator(".node-state")).to_contain_text("NotReady")
        expect(node3.locator(".node-note")).to_contain_text("machine stopped")
        expect(node3.locator(".node-taint").first).to_contain_text("unreachable")
        expect(row).to_contain_text("node.kubernetes.io/unreachable")
        expect(row).to_contain_text("NotReady")
        # After the pods' toleration: evicted, and the ReplicaSet makes new ones elsewhere.
        expect(page.locator(f'#diagram-svg .pod[data-pod-name="{moving}"]')).to_contain_text("evicted", timeout=60_000)
        elsewhere = page.locator(f'#diagram-svg .node:not([data-node="node-3"]) .pod[data-pod-name^="{name}-"][data-ready="true"]')
        expect(elsewhere).to_have_count(6, timeout=60_000)

        page.get_by_role("button", name="Start node-3").click()
        expect(node3).to_have_attribute("data-status", "Ready", timeout=60_000)
        expect(row).not_to_have_attribute("data-stopped", "true")
        # The old pods end once its kubelet is back.
        expect(page.locator(f'#diagram-svg .pod[data-pod-name="{moving}"]')).to_have_count(0, timeout=60_000)
    finally:
        http(live_stack.url, "POST", f"{api_of(page)}/podflow/v1/nodes/node-3/start")
        delete_deployment(live_stack, page, name)
        expect(node3).to_have_attribute("data-status", "Ready", timeout=60_000)


def test_the_page_follows_its_cluster_in_deflated_frames_and_applies_patches(page, live_stack):
    """The page asks for `?compress=deflate`: its snapshot and frames of changes come binary,
    deflated, and a modified pod comes as a merge patch the page applies to the pod it holds."""
    import json
    import zlib

    from playwright.sync_api import expect

    from tests.livehelpers import http, pod_manifest

    from .pages import wait_live

    urls: list[str] = []
    frames: list[bytes] = []

    def on_socket(ws) -> None:
        urls.append(ws.url)
        ws.on("framereceived", lambda payload: frames.append(payload) if isinstance(payload, bytes) else None)

    page.on("websocket", on_socket)
    page.reload()
    wait_live(page)
    name = f"deflated-{uuid.uuid4().hex[:5]}"
    assert http(live_stack.url, "POST", f"{api_of(page)}/api/v1/namespaces/default/pods", pod_manifest(name))[0] == 201
    chip = page.locator(f'#diagram-svg .node[data-node] .pod[data-pod-name="{name}"]')
    expect(chip).to_have_attribute("data-phase", "Running", timeout=STEPS_TIMEOUT)
    expect(chip).to_have_attribute("data-ready", "true")

    assert urls and all("compress=deflate" in url for url in urls), urls
    messages = [json.loads(zlib.decompress(frame, -15)) for frame in frames]
    assert messages[0]["type"] == "snapshot"  # the snapshot comes deflated too
    entries = [e for m in messages if m["type"] == "changes" for e in m["entries"]]
    [uid] = {e["object"]["metadata"]["uid"] for e in entries if e["kind"] == "Pod" and "object" in e and e["object"]["metadata"]["name"] == name}
    assert any(e.get("uid") == uid and "patch" in e for e in entries), [sorted(e) for e in entries]
    assert not page.errors, page.errors


def test_the_pages_copy_applies_a_patch_only_to_the_version_it_names(page):
    """static/podflow/store.js as the page loaded it: a patch to the version the page holds
    is applied (lists replaced, null deletes), one the page's newer copy already has is
    skipped, and one to a version the page never had asks for a snapshot (MissingBase)."""
    outcome = page.evaluate(
        """async () => {
          const app = document.querySelector('script[type=module][src*="app"]').src;
          const path = (await (await fetch(app)).text()).match(/from\\s+"(\\.\\/store[^"]*\\.js)"/)[1];
          const { ClusterState, MissingBase } = await import(new URL(path, app).href);
          const state = new ClusterState("x");
          const pod = { metadata: { uid: "u", name: "web", resourceVersion: "4", labels: { a: "1", b: "2" } },
                        status: { phase: "Pending", conditions: [{ type: "PodScheduled" }] }, display: { status: "Pending" } };
          state.applySnapshot({ revision: 5, pods: [pod] });
          const change = (revision, base, patch, display) => ({ revision, kind: "Pod", change: "MODIFIED", uid: "u", base, patch, display, steps: [] });
          state.applyChange(change(6, "4", { metadata: { resourceVersion: "6", labels: { b: null } }, status: { phase: "Running", conditions: [] } }, { status: "Running" }));
          const applied = state.pods.get("u");
          // A snapshot read its pod after its revision: the pod is newer than a change that follows.
          const newer = new ClusterState("y");
          newer.applySnapshot({ revision: 5, pods: [{ ...pod, metadata: { ...pod.metadata, resourceVersion: "8" } }] });
          newer.applyChange(change(6, "4", { status: { phase: "Failed" } }));
          const skipped = newer.pods.get("u").status.phase;
          let missing = "";
          try {
            state.applyChange(change(9, "8", { status: { phase: "Failed" } }));
          } catch (err) {
            missing = err instanceof MissingBase ? "MissingBase" : String(err);
          }
          return { applied, skipped, untouched: pod.metadata.resourceVersion, missing, revision: state.revision };
        }"""
    )
    assert outcome["applied"] == {
        "metadata": {"uid": "u", "name": "web", "resourceVersion": "6", "labels": {"a": "1"}},
        "status": {"phase": "Running", "conditions": []},
        "display": {"status": "Running"},
    }
    assert outcome["skipped"] == "Pending"  # version 8 already has what revision 6 did
    assert outcome["untouched"] == "4"  # the snapshot's object was not changed in place
    assert outcome["missing"] == "MissingBase" and outcome["revision"] == 6
