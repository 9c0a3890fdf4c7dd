"""The Ingress panel and note 001's picture of the ways in, in a real browser on the real stack.

Each test is a new learner in a sandbox of its own (tests/browser/pages.py); the Deployments,
Services and the Ingress are made through that sandbox's API, as kubectl would make them.
"""
from __future__ import annotations

import re
import uuid

import pytest

from .pages import STEPS_TIMEOUT, api_of, close_page, needs_chromium, open_page, open_tab
from .test_sandboxes import english_words

pytestmark = [pytest.mark.browser, needs_chromium]

DEFAULT_BACKEND = "default backend - 404"
NGINX_BODY = "Welcome to nginx!"  # what the pods' nginx answers: their words, not the page's


def make_store(live_stack, page) -> dict:
    """Two Deployments (shop ×2, api ×1), a Service for each, and an Ingress `store` with two
    rules: shop.example.com / → shop:80 and api.example.com /v1 → api:80."""
    from tests.livehelpers import deployment_manifest, http

    open_tab(page, "services")  # Services and Ingress share the dock's tab

    suffix = uuid.uuid4().hex[:5]
    names = {"shop": f"shop-{suffix}", "api": f"api-{suffix}", "ingress": f"store-{suffix}"}
    api = api_of(page)
    for key, replicas in (("shop", 2), ("api", 1)):
        name = names[key]
        status, body = http(live_stack.url, "POST", f"{api}/apis/apps/v1/namespaces/default/deployments", deployment_manifest(name, replicas, "nginx:1.27"))
        assert status == 201, body
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                   "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 80}]}}
        status, body = http(live_stack.url, "POST", f"{api}/api/v1/namespaces/default/services", service)
        assert status == 201, body

    def path(host: str, rule_path: str, service: str) -> dict:
        return {"host": host, "http": {"paths": [{"path": rule_path, "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}

    ingress = {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": names["ingress"]},
        "spec": {"rules": [path("shop.example.com", "/", names["shop"]), path("api.example.com", "/v1", names["api"])]},
    }
    status, body = http(live_stack.url, "POST", f"{api}/apis/networking.k8s.io/v1/namespaces/default/ingresses", ingress)
    assert status == 201, body
    return names


def wait_ready(page, names: dict) -> None:
    from playwright.sync_api import expect

    expect(page.locator(f'#services-body tr[data-service="default/{names["shop"]}"]')).to_contain_text(re.compile("2 ready|2개 준비됨"), timeout=STEPS_TIMEOUT)
    expect(page.locator(f'#services-body tr[data-service="default/{names["api"]}"]')).to_contain_text(re.compile("1 ready|1개 준비됨"), timeout=STEPS_TIMEOUT)


def send(page, host: str, path: str, count: int = 1) -> None:
    form = page.locator("#ingress-form")
    form.locator("input[name=host]").fill(host)
    form.locator("input[name=path]").fill(path)
    form.locator(f'label:has(input[name=count][value="{count}"])').click()
    form.locator("button[type=submit]").click()


def test_an_ingress_is_listed_and_a_request_through_it_names_its_rule_service_and_pod(page, live_stack):
    from playwright.sync_api import expect

    names = make_store(live_stack, page)
    shop, api, store = names["shop"], names["api"], names["ingress"]

    # Listed with its class, its two host/path rules → Service:port, and its address.
    row = page.locator(f'#ingresses-body tr[data-ingress="default/{store}"]')
    expect(row).to_contain_text("podflow")
    expect(row.locator('li[data-rule="0"]')).to_contain_text(f"shop.example.com / (Prefix) → {shop}:80")
    expect(row.locator('li[data-rule="1"]')).to_contain_text(f"api.example.com /v1 (Prefix) → {api}:80")
    expect(row.locator(".ingress-address")).to_have_text(re.compile(r"^192\.168\.\d+\.\d+"), timeout=STEPS_TIMEOUT)
    address = row.locator(".ingress-address").text_content().split(",")[0].strip()
    wait_ready(page, names)

    # One request to api.example.com/v1/orders: the curl a learner would type, then the answer.
    form = page.locator("#ingress-form")
    expect(form.locator("select[name=ingress]")).to_have_value(f"default/{store}")
    form.locator("input[name=host]").fill("api.example.com")
    form.locator("input[name=path]").fill("/v1/orders")
    form.locator('label:has(input[name=count][value="1"])').click()
    expect(page.locator("#ingress-command")).to_contain_text(f'curl -H "Host: api.example.com" http://{address}/v1/orders')
    form.locator("button[type=submit]").click()

    answer = page.locator("#ingress-answers-list li")
    expect(answer).to_have_count(1)
    expect(answer).to_have_attribute("data-status", "200")
    expect(answer).to_have_attribute("data-service", api)
    expect(answer).to_contain_text("rule 2 matched (host api.example.com, path /v1, Prefix)")
    expect(answer).to_contain_text(f"Service {api}:80")
    expect(answer).to_contain_text(f"pod {api}-")
    pod = answer.get_attribute("data-pod")
    assert pod.startswith(f"{api}-"), pod
    status = page.locator("#ingress-request-status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_contain_text(f"1 request: rule 2 matched (host api.example.com, path /v1, Prefix) → Service {api}:80 → pod {pod} on node-")
    expect(page.locator("#ingress-answers-heading")).to_have_text(f"The last request through Ingress {store}")
    # The Services panel's answers are not given the Ingress's.
    expect(page.locator("#answers")).to_be_hidden()

    # The answering pod is marked in the diagram, in words.
    chip = page.locator(f'#diagram-svg .pod[data-pod-name="{pod}"]')
    expect(chip).to_have_attribute("data-answered", "1")
    expect(chip.locator(".pod-hit")).to_contain_text("answered ×1")
    expect(chip).to_have_attribute("aria-label", re.compile(f"through Ingress {store} \\(Service {api}\\)"))

    # The picture shows the Ingress way, lit hop by hop with what this request really took.
    tab = page.locator("#waysin-tab-ingress")
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(tab).to_contain_text("last request")
    picture = page.locator("#waysin-ingress")
    expect(picture).to_be_visible()
    for hop in ("client", "controller", "rules", "service", "pod"):
        expect(picture.locator(f'.hop[data-hop="{hop}"]')).to_have_attribute("data-lit", "true")
    expect(picture.locator('.hop[data-hop="client"]')).to_contain_text(f'curl -H "Host: api.example.com" http://')
    expect(picture.locator('.hop[data-hop="controller"] .hop-actual')).to_contain_text(re.compile(r"on node-\d \(192\.168\.\d+\.\d+:80\)"))
    expect(picture.locator('.hop[data-hop="rules"] li[data-matched="true"]')).to_contain_text(f"matched: api.example.com /v1 (Prefix) → {api}:80")
    expect(picture.locator('.hop[data-hop="rules"] .fan li')).to_have_count(2)  # one address, two Services
    expect(picture.locator('.hop[data-hop="service"] .hop-actual')).to_have_text(f"➜ {api}:80")
    expect(picture.locator('.hop[data-hop="pod"] .hop-actual')).to_contain_text(pod)
    expect(picture.locator(".waysin-last")).to_contain_text("The last request took this path: client → ingress controller on node-")
    expect(picture.locator(".waysin-last")).to_contain_text(pod)
    # The other ways are not lit.
    expect(page.locator("#waysin-tab-nodeport")).not_to_contain_text("last request")

    # Ten requests for shop.example.com: only shop's pods answer.
    send(page, "shop.example.com", "/cart", 10)
    answers = page.locator("#ingress-answers-list li")
    expect(answers).to_have_count(10)
    pods = set(answers.evaluate_all("items => items.map(li => li.dataset.pod)"))
    assert pods and all(p.startswith(f"{shop}-") for p in pods), pods
    expect(page.locator("#ingress-answers-summary")).to_contain_text(f"10 requests: rule 1 matched (host shop.example.com, path /, Prefix) → Service {shop}:80; answered by")


def test_a_path_no_rule_matches_gets_the_default_backends_404_in_words(page, live_stack):
    from playwright.sync_api import expect

    names = make_store(live_stack, page)
    store = names["ingress"]
    row = page.locator(f'#ingresses-body tr[data-ingress="default/{store}"]')
    expect(row.locator(".ingress-address")).to_have_text(re.compile(r"^192\.168\."), timeout=STEPS_TIMEOUT)

    send(page, "api.example.com", "/nowhere")
    answer = page.locator("#ingress-answers-list li")
    expect(answer).to_have_count(1)
    expect(answer).to_have_attribute("data-status", "404")
    expect(answer).to_have_attribute("data-rule", "none")
    expect(answer).to_contain_text("No rule matches host api.example.com and path /nowhere, and the Ingress has no defaultBackend: the ingress controller's own default backend answered 404.")
    expect(answer).to_contain_text(f"✕ 404 · {DEFAULT_BACKEND}")
    expect(answer).not_to_contain_text("undefined")
    status = page.locator("#ingress-request-status")
    expect(status).to_have_attribute("data-kind", "error")
    expect(status).to_contain_text("1 request: No rule matches host api.example.com and path /nowhere")
    expect(page.locator("#answers")).to_be_hidden()

    picture = page.locator("#waysin-ingress")
    expect(picture.locator('.hop[data-hop="controller"]')).to_have_attribute("data-lit", "true")
    expect(picture.locator('.hop[data-hop="rules"] .hop-actual')).to_contain_text("no rule matched: the controller's default backend answered 404")
    expect(picture.locator('.hop[data-hop="rules"] li[data-matched="true"]')).to_have_count(0)
    for hop in ("service", "pod"):
        item = picture.locator(f'.hop[data-hop="{hop}"]')
        expect(item).to_have_attribute("data-lit", "false")
        expect(item).to_contain_text("not reached")


def test_a_request_through_a_node_port_lights_the_nodeport_way(page, live_stack):
    from playwright.sync_api import expect

    from tests.livehelpers import deployment_manifest, http

    name = f"np-{uuid.uuid4().hex[:5]}"
    api = api_of(page)
    status, body = http(live_stack.url, "POST", f"{api}/apis/apps/v1/namespaces/default/deployments", deployment_manifest(name, 1, "nginx:1.27"))
    assert status == 201, body
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 80, "nodePort": 30081}]}}
    status, body = http(live_stack.url, "POST", f"{api}/api/v1/namespaces/default/services", service)
    assert status == 201, body
    open_tab(page, "services")
    expect(page.locator(f'#services-body tr[data-service="default/{name}"]')).to_contain_text("1 ready", timeout=STEPS_TIMEOUT)
    page.locator(f'#services-body button[data-service="default/{name}"]').click()
    request = page.locator("#request-form")
    request.locator("select[name=via]").select_option("nodePort")
    request.locator("select[name=node]").select_option("node-2")
    request.locator('label:has(input[name=count][value="1"])').click()
    request.get_by_role("button", name="Send").click()
    expect(page.locator("#answers-list li")).to_have_count(1)

    tab = page.locator("#waysin-tab-nodeport")
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(tab).to_contain_text("last request")
    picture = page.locator("#waysin-nodeport")
    expect(picture.locator('.hop[data-hop="nodeport"] .hop-actual')).to_have_text("➜ node-2:30081")
    expect(picture.locator('.hop[data-hop="kube-proxy"] .hop-actual')).to_contain_text("on node-2")
    expect(picture.locator('.hop[data-hop="pod"] .hop-actual')).to_contain_text(f"{name}-")
    expect(picture.locator(".waysin-last")).to_contain_text(f"client → node port 30081 on node-2 → kube-proxy on node-2 → Service {name} → pod {name}-")

    # Keyboard: the picture's tabs move with the arrow keys.
    tab.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#waysin-tab-loadbalancer")).to_be_focused()
    expect(page.locator("#waysin-loadbalancer")).to_be_visible()
    expect(picture).to_be_hidden()
    page.keyboard.press("End")
    expect(page.locator("#waysin-tab-ingress")).to_have_attribute("aria-selected", "true")


# --- Korean -------------------------------------------------------------------------------

# Kubernetes' own words a Korean page keeps as they are: types, fields, components, protocols.
K8S_WORDS = {"NodePort", "LoadBalancer", "kube", "proxy", "iptables", "HTTP", "Host", "Prefix", "Exact",
             "defaultBackend", "ingress", "nginx", "podflow", "kubectl", "curl", "IP"}


def korean_gaps(locator, also: set[str]) -> list[str]:
    """Words in Latin letters outside commands, code and names (which stay as typed)."""
    text = locator.evaluate(
        """el => {
            const copy = el.cloneNode(true);
            for (const c of copy.querySelectorAll("code, .mono, .cmd-text")) {
                const comments = [...c.querySelectorAll(".cmd-comment")].map((x) => x.textContent).join(" ");
                c.replaceWith(document.createTextNode(" " + comments + " "));
            }
            const attrs = [...el.querySelectorAll("[aria-label],[placeholder],[title]")]
                .map((e) => [e.getAttribute("aria-label"), e.getAttribute("placeholder"), e.getAttribute("title")].filter(Boolean).join(" "));
            return copy.textContent + " " + attrs.join(" ");
        }"""
    )
    return [w for w in english_words(text, also) if w not in K8S_WORDS]


def test_the_ingress_part_and_the_picture_in_korean(browser, live_stack):
    from playwright.sync_api import expect

    context, page = open_page(browser, live_stack.url, locale="ko-KR")
    try:
        names = make_store(live_stack, page)
        panel = page.locator("#ingress")
        expect(page.locator("#ingress-heading")).to_contain_text("인그레스")
        expect(page.locator("#waysin-tab-ingress")).to_contain_text("인그레스")
        row = page.locator(f'#ingresses-body tr[data-ingress="default/{names["ingress"]}"]')
        expect(row.locator(".ingress-address")).to_have_text(re.compile(r"^192\.168\."), timeout=STEPS_TIMEOUT)
        wait_ready(page, names)
        also = set(names.values()) | {"shop.example.com", "api.example.com", DEFAULT_BACKEND, NGINX_BODY, "node-1", "node-2", "node-3"}

        # The empty picture, every tab (hidden ones included: their text is in the page).
        assert not korean_gaps(panel, also), korean_gaps(panel, also)

        send(page, "api.example.com", "/v1/orders")
        expect(page.locator("#ingress-answers-list li")).to_have_attribute("data-status", "200")
        expect(page.locator("#waysin-tab-ingress")).to_contain_text("마지막 요청")
        also |= set(page.locator("#ingress-answers-list li").evaluate_all("items => items.map(li => li.dataset.pod)"))
        assert not korean_gaps(panel, also), korean_gaps(panel, also)

        send(page, "other.example.com", "/nowhere", 10)
        expect(page.locator("#ingress-answers-list li")).to_have_count(10)
        expect(page.locator("#ingress-answers-list li").first).to_have_attribute("data-status", "404")
        assert not korean_gaps(panel, also | {"other.example.com", "/nowhere"}), korean_gaps(panel, also | {"other.example.com", "/nowhere"})
        assert not page.errors
    finally:
        close_page(context, page)
