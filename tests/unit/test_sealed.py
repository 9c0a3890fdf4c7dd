"""Sealed sandboxes: every door that names a cluster opens only to its owner (and staff).

The walk over the URL conf tries every route that takes a cluster with learner A's
credentials against learner B's sandbox, so a new route cannot forget to ask.
"""
from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from cluster.models import Change, Cluster, Object
from config.asgi import application
from web.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

# A value for every URL parameter a route under a cluster may take. A new parameter name
# fails test_every_cluster_route_is_walked until it has one here.
EXAMPLES = {
    "plural": "pods",
    "namespace": "default",
    "name": "web",
    "sub": "status",
    "group": "apps",
    "version": "v1",
    "service": "web",
    "ingress": "web",
    "action": "stop",
    "component": "scheduler",
    "gv": "api/v1",
    "rest": "anything/at/all",
    "lab": "eight-steps",
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Public as on a real API server, and the same for every name (checked below).
PUBLIC = {"k8s/<slug:cluster>/version"}
DENIED = {401, 403, 404}


def _routes(patterns, prefix: str = "") -> list[str]:
    """Every route of the URL conf as text (path() routes and re_path() regexes)."""
    out = []
    for p in patterns:
        if isinstance(p, URLResolver):
            out += _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            out.append(prefix + str(p.pattern))
    return out


def _concrete(route: str, cluster: str) -> str:
    """A URL for the route, with the cluster and example values filled in."""
    def value(name: str) -> str:
        if name == "cluster":
            return cluster
        assert name in EXAMPLES, f"route {route!r} takes <{name}>: add an example value to EXAMPLES"
        return EXAMPLES[name]

    if route.startswith("^"):
        url = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: value(m.group(1)), route.strip("^$"))
    else:
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: value(m.group(1)), route)
    return "/" + url


def _cluster_routes() -> list[str]:
    return [r for r in _routes(get_resolver().url_patterns) if "cluster>" in r]


def learner() -> tuple[Client, Cluster]:
    """A new browser: it opens / and lands in a sandbox of its own."""
    client = Client()
    response = client.get("/")
    assert response.status_code == 302, response
    name = response["Location"].strip("/").split("/")[-1]
    return client, Cluster.objects.get(name=name)


def footprint(cluster: Cluster) -> tuple:
    cluster.refresh_from_db()
    return cluster.revision, Object.objects.filter(cluster=cluster).count(), Change.objects.filter(cluster=cluster).count(), cluster.speed


def test_it_gives_each_new_browser_a_sandbox_of_its_own_with_three_ready_nodes():
    a, sandbox_a = learner()
    b, sandbox_b = learner()

    assert sandbox_a.name != sandbox_b.name
    nodes = Object.objects.filter(cluster=sandbox_a, kind="Node")
    assert nodes.count() == 3
    assert all(any(c["type"] == "Ready" and c["status"] == "True" for c in n.doc["status"]["conditions"]) for n in nodes)
    # Opening / again returns to the same sandbox.
    assert a.get("/")["Location"] == f"/clusters/{sandbox_a.name}/"
    assert a.get(f"/clusters/{sandbox_a.name}/").status_code == 200


def test_every_cluster_route_is_walked():
    routes = _cluster_routes()
    assert any(r.startswith("clusters/") for r in routes)
    assert any(r.startswith("k8s/") or r.startswith("^k8s/") for r in routes)
    for route in routes:
        _concrete(route, "b")  # fails on a parameter without an example


def test_learner_a_cannot_open_any_route_of_learner_bs_sandbox():
    a, sandbox_a = learner()
    _, sandbox_b = learner()
    before = footprint(sandbox_b)
    tried = 0
    for route in _cluster_routes():
        url = _concrete(route, sandbox_b.name)
        if route in PUBLIC:
            assert a.get(url).content == a.get(_concrete(route, "no-such-sandbox")).content
            continue
        for method in METHODS:
            # A's session (with A's CSRF token, so only ownership can refuse it) ...
            response = a.generic(method, url, b"{}", content_type="application/json", HTTP_X_CSRFTOKEN=a.cookies.get("csrftoken").value if a.cookies.get("csrftoken") else "")
            assert response.status_code in DENIED | {405}, (method, url, response.status_code, response.content[:300])
            assert sandbox_b.name.encode() not in response.content or response.status_code == 404, (method, url, response.content[:300])
            # ... and A's bearer token.
            response = Client().generic(method, url, b"{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {sandbox_a.token}")
            assert response.status_code in DENIED | {405}, (method, url, response.status_code, response.content[:300])
            tried += 1
    assert tried >= 5 * 20
    assert footprint(sandbox_b) == before


def test_the_page_and_kubeconfig_of_anothers_sandbox_are_404_as_if_it_did_not_exist():
    a, _ = learner()
    _, sandbox_b = learner()

    for url in (f"/clusters/{sandbox_b.name}/", f"/clusters/{sandbox_b.name}/kubeconfig"):
        theirs = a.get(url)
        nobody = a.get(url.replace(sandbox_b.name, "no-such-sandbox"))
        assert theirs.status_code == nobody.status_code == 404
        assert sandbox_b.token.encode() not in theirs.content


def test_the_page_holds_no_token_and_its_kubeconfig_does():
    a, sandbox_a = learner()

    page = a.get(f"/clusters/{sandbox_a.name}/")
    kubeconfig = a.get(f"/clusters/{sandbox_a.name}/kubeconfig")

    assert sandbox_a.token.encode() not in page.content
    assert kubeconfig.status_code == 200
    assert f"token: {sandbox_a.token}".encode() in kubeconfig.content


def test_the_signed_kubeconfig_link_opens_for_curl_but_not_for_another_sandbox():
    a, sandbox_a = learner()
    _, sandbox_b = learner()
    page = a.get(f"/clusters/{sandbox_a.name}/").content.decode()
    link = re.search(r"/clusters/[-\w]+/kubeconfig\?key=[^\"<\s]+", page).group(0).replace("&amp;", "&")

    assert Client().get(link).status_code == 200
    key = link.split("key=", 1)[1]
    assert Client().get(f"/clusters/{sandbox_b.name}/kubeconfig?key={key}").status_code == 404
    assert Client().get(f"/clusters/{sandbox_a.name}/kubeconfig?key=forged").status_code == 404


def test_staff_can_open_any_sandbox():
    _, sandbox_b = learner()
    User.objects.create_user("teacher", password="a long enough password", is_staff=True)
    staff = Client()
    assert staff.login(username="teacher", password="a long enough password")

    assert staff.get(f"/clusters/{sandbox_b.name}/").status_code == 200
    assert staff.get(f"/clusters/{sandbox_b.name}/kubeconfig").status_code == 200
    assert staff.get(f"/k8s/{sandbox_b.name}/api/v1/namespaces/default/pods").status_code == 200


def test_the_page_writes_with_its_session_only_with_the_csrf_token():
    browser = Client(enforce_csrf_checks=True)
    name = browser.get("/")["Location"].strip("/").split("/")[-1]
    sandbox = Cluster.objects.get(name=name)
    browser.get(f"/clusters/{name}/")  # sets the csrftoken cookie
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    before = footprint(sandbox)

    refused = browser.post(f"/k8s/{name}/api/v1/namespaces/default/pods", pod, content_type="application/json")
    slow = browser.post(f"/clusters/{name}/speed", {"speed": "slow"}, content_type="application/json")

    assert refused.status_code == 403 and refused.json()["reason"] == "Forbidden"
    assert slow.status_code == 403
    assert footprint(sandbox) == before
    token = browser.cookies["csrftoken"].value
    made = browser.post(f"/k8s/{name}/api/v1/namespaces/default/pods", pod, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert made.status_code == 201, made.content
    assert browser.post(f"/clusters/{name}/speed", {"speed": "slow"}, content_type="application/json", HTTP_X_CSRFTOKEN=token).status_code == 200


def test_reads_with_the_session_need_no_csrf_token_and_strangers_get_401():
    a, sandbox_a = learner()

    assert a.get(f"/k8s/{sandbox_a.name}/api/v1/namespaces/default/pods").status_code == 200
    assert Client().get(f"/k8s/{sandbox_a.name}/api/v1/namespaces/default/pods").status_code == 401


# --- the websocket ----------------------------------------------------------------------

def _follow(path: str, headers: list[tuple[bytes, bytes]]) -> dict:
    """Connect and return the first thing the server sends (a message or a close)."""
    async def run() -> dict:
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        if not connected:
            return {"type": "websocket.close", "refused": True}
        try:
            return await communicator.receive_output(timeout=5)
        finally:
            await communicator.disconnect()

    return async_to_sync(run)()


def _cookie_header(client: Client) -> tuple[bytes, bytes]:
    return (b"cookie", "; ".join(f"{k}={v.value}" for k, v in client.cookies.items()).encode())


ORIGIN = (b"origin", b"http://testserver")


def test_the_stream_opens_to_its_owners_session_and_closes_4403_to_anyone_else():
    a, sandbox_a = learner()
    b, sandbox_b = learner()
    routes = [str(p.pattern) for p in websocket_urlpatterns if "cluster>" in str(p.pattern)]  # classes: below
    assert routes, "no websocket routes?"
    for route in routes:
        mine = _follow(_concrete(route, sandbox_a.name), [ORIGIN, _cookie_header(a)])
        theirs = _follow(_concrete(route, sandbox_b.name), [ORIGIN, _cookie_header(a)])
        token = _follow(_concrete(route, sandbox_b.name), [ORIGIN, (b"authorization", f"Bearer {sandbox_a.token}".encode())])
        nobody = _follow(_concrete(route, sandbox_b.name), [ORIGIN])

        assert mine["type"] == "websocket.send" and '"snapshot"' in mine["text"]
        for refused in (theirs, token, nobody):
            assert refused == {"type": "websocket.close", "code": 4403}


def test_the_stream_opens_to_the_clusters_bearer_token():
    _, sandbox = learner()

    first = _follow(f"/ws/clusters/{sandbox.name}/", [ORIGIN, (b"authorization", f"Bearer {sandbox.token}".encode())])

    assert first["type"] == "websocket.send" and '"snapshot"' in first["text"]


def test_a_foreign_origin_is_refused_even_with_the_owners_cookie():
    a, sandbox_a = learner()

    refused = _follow(f"/ws/clusters/{sandbox_a.name}/", [(b"origin", b"http://evil.example"), _cookie_header(a)])

    assert refused.get("refused") or refused.get("code") == 403


def test_only_the_owners_session_is_announced_as_the_page():
    from cluster.apiserver.handlers.k8s import client_of

    a, sandbox_a = learner()
    page = a.get(f"/k8s/{sandbox_a.name}/api/v1/namespaces/default/pods").wsgi_request
    pretending = Client().get(
        f"/k8s/{sandbox_a.name}/api/v1/namespaces/default/pods",
        HTTP_AUTHORIZATION=f"Bearer {sandbox_a.token}", HTTP_USER_AGENT="podflow-page", HTTP_X_PODFLOW_CLIENT="podflow-page",
    ).wsgi_request

    assert client_of(page) == "podflow page"
    assert client_of(pretending) == "podflow-page (not the page)"


# --- classes: every route under classes/<code>/ and its websocket (web/classes.py) -----------

# A learner's own door of their class (their hand); every other opens to the instructor only.
CLASS_MEMBER_ROUTES = {"classes/<slug:code>/hand"}
CLASS_PASSWORD = "a long enough password 1"


def _class_routes() -> list[str]:
    return [r for r in _routes(get_resolver().url_patterns) if "<slug:code>" in r and not r.startswith("join")]


def _signed_in(name: str, *, instructor: bool = False) -> Client:
    from web import classroom

    user = User.objects.create_user(name, password=CLASS_PASSWORD)
    if instructor:
        classroom.make_instructor(user)
    client = Client()
    assert client.login(username=name, password=CLASS_PASSWORD)
    client.get("/classes/")  # the csrftoken cookie
    return client


def a_class() -> dict:
    """An instructor's class with two learners in it, another instructor, a stranger."""
    from web import classroom

    teacher = _signed_in("teacher", instructor=True)
    made = classroom.create_class(User.objects.get(username="teacher"), title="Sealed class 101", labs=[])
    members = []
    for name in ("ada", "grace"):
        client = Client()
        answer = client.post(f"/join/{made.code}", {"name": name.title()})
        assert answer.status_code == 302, answer.content[:300]
        client.get(answer["Location"])
        members.append((client, Cluster.objects.get(name=answer["Location"].strip("/").split("/")[-1])))
    stranger, _ = learner()
    return {"teacher": teacher, "class": made, "members": members, "rival": _signed_in("rival", instructor=True), "stranger": stranger}


def class_footprint(made) -> tuple:
    from web.models import ClassMessage, Classroom, Membership

    row = Classroom.objects.get(pk=made.pk)
    return (row.paused, row.ended_at, row.expires_at, row.opened_step, row.stopped_components, row.instructor_cluster_id,
            ClassMessage.objects.filter(classroom=made).count(), list(Membership.objects.filter(classroom=made).values_list("hand_raised", flat=True)))


def _without_csrf_tokens(content: bytes) -> bytes:
    """A page with the form tokens blanked: a random token may spell "Ada" (1 page in ~4,000)."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b'name="csrfmiddlewaretoken" value=""', content)


def _csrf(client: Client) -> str:
    return client.cookies["csrftoken"].value if client.cookies.get("csrftoken") else ""


def test_every_class_route_is_walked():
    routes = _class_routes()
    assert {"classes/<slug:code>/", "classes/<slug:code>/roster", "classes/<slug:code>/hand"} <= set(routes)
    assert all(r.startswith("classes/<slug:code>/") for r in routes), routes


def test_no_one_but_its_instructor_opens_any_route_of_a_class():
    world = a_class()
    made = world["class"]
    (ada, ada_cluster), (grace, grace_cluster) = world["members"]
    before = class_footprint(made), footprint(ada_cluster), footprint(grace_cluster)
    tried = 0
    for route in _class_routes():
        url = "/" + route.replace("<slug:code>", made.code)
        nowhere = "/" + route.replace("<slug:code>", "ZZZZZZ")
        for who in ("member", "stranger", "rival", "nobody"):
            client = {"member": ada, "stranger": world["stranger"], "rival": world["rival"], "nobody": Client()}[who]
            if who == "member" and route in CLASS_MEMBER_ROUTES:
                continue  # a learner's own hand: below
            for method in METHODS:
                kwargs = {"content_type": "application/json", "HTTP_X_CSRFTOKEN": _csrf(client)}
                theirs = client.generic(method, url, b'{"action": "pause", "member": "all", "text": "x", "hours": 1}', **kwargs)
                missing = client.generic(method, nowhere, b"{}", **kwargs)
                assert theirs.status_code in (404, 405), (who, method, url, theirs.status_code, theirs.content[:300])
                assert theirs.status_code == missing.status_code, (who, method, url)
                shown = _without_csrf_tokens(theirs.content)
                assert b"Sealed class 101" not in shown and b"Ada" not in shown, (who, method, url)
                tried += 1
    assert tried >= 10 * 4 * len(METHODS) - len(METHODS)
    assert (class_footprint(made), footprint(ada_cluster), footprint(grace_cluster)) == before
    # The hand is the learner's own: Grace's post raises Grace's hand, nobody else's.
    assert grace.post(f"/classes/{made.code}/hand", {"raised": "1"}, HTTP_X_CSRFTOKEN=_csrf(grace)).status_code == 302
    from web.models import Membership

    assert dict(Membership.objects.filter(classroom=made).values_list("display_name", "hand_raised")) == {"Ada": False, "Grace": True}
    # The instructor opens every page of the class.
    assert world["teacher"].get(f"/classes/{made.code}/").status_code == 200
    assert world["teacher"].get(f"/classes/{made.code}/roster").status_code == 200


def test_a_classmate_and_another_instructor_open_no_route_of_a_learners_class_sandbox():
    world = a_class()
    (ada, _), (_, grace_cluster) = world["members"]
    before = footprint(grace_cluster)
    for client in (ada, world["rival"]):
        for route in _cluster_routes():
            if route in PUBLIC:
                continue
            url = _concrete(route, grace_cluster.name)
            for method in METHODS:
                response = client.generic(method, url, b"{}", content_type="application/json", HTTP_X_CSRFTOKEN=_csrf(client))
                assert response.status_code in DENIED | {405}, (method, url, response.status_code, response.content[:300])
    assert footprint(grace_cluster) == before


def test_the_instructor_reads_a_learners_class_sandbox_and_writes_through_no_route():
    world = a_class()
    teacher = world["teacher"]
    (_, ada_cluster), _ = world["members"]
    before = footprint(ada_cluster)
    for route in _cluster_routes():
        if route in PUBLIC:
            continue
        url = _concrete(route, ada_cluster.name)
        for method in METHODS:
            response = teacher.generic(method, url, b'{"speed": "slow", "paused": true}', content_type="application/json", HTTP_X_CSRFTOKEN=_csrf(teacher))
            if method == "GET":
                assert response.status_code < 500, (url, response.status_code)
                if route.endswith("kubeconfig"):
                    assert response.status_code == 404  # it holds the cluster's token
            else:
                assert response.status_code in DENIED | {405}, (method, url, response.status_code, response.content[:300])
            assert ada_cluster.token.encode() not in response.content, (method, url)
    assert footprint(ada_cluster) == before
    assert teacher.get(f"/clusters/{ada_cluster.name}/?readonly=1").status_code == 200


def test_the_roster_stream_opens_to_the_instructor_only():
    world = a_class()
    made = world["class"]
    (ada, ada_cluster), _ = world["members"]
    routes = [str(p.pattern) for p in websocket_urlpatterns if "<slug:code>" in str(p.pattern)]
    assert routes
    for route in routes:
        path = "/" + route.replace("<slug:code>", made.code)
        mine = _follow(path, [ORIGIN, _cookie_header(world["teacher"])])
        assert mine["type"] == "websocket.send" and '"roster"' in mine["text"]
        for client in (ada, world["rival"], world["stranger"]):
            assert _follow(path, [ORIGIN, _cookie_header(client)]) == {"type": "websocket.close", "code": 4403}
        assert _follow(path, [ORIGIN]) == {"type": "websocket.close", "code": 4403}
        assert _follow(path, [ORIGIN, (b"authorization", f"Bearer {ada_cluster.token}".encode())]) == {"type": "websocket.close", "code": 4403}
        assert _follow("/" + route.replace("<slug:code>", "ZZZZZZ"), [ORIGIN, _cookie_header(world["teacher"])]) == {"type": "websocket.close", "code": 4403}
        refused = _follow(path, [(b"origin", b"http://evil.example"), _cookie_header(world["teacher"])])
        assert refused.get("refused") or refused.get("code") == 403
    # The instructor follows a learner's stream (read-only); the rival does not.
    assert '"snapshot"' in _follow(f"/ws/clusters/{ada_cluster.name}/", [ORIGIN, _cookie_header(world["teacher"])]).get("text", "")
    assert _follow(f"/ws/clusters/{ada_cluster.name}/", [ORIGIN, _cookie_header(world["rival"])]) == {"type": "websocket.close", "code": 4403}
