"""Sandboxes: made, listed, reset, deleted, adopted by an account, expired when idle."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.utils import timezone

from cluster import sandbox
from cluster.apiserver import audit, store
from cluster.componentbase import narration
from cluster.demo import ensure_cluster
from cluster.models import Change, Cluster, Object, Step

from .manifests import pod

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def open_home(client: Client) -> Cluster:
    response = client.get("/")
    assert response.status_code == 302
    return Cluster.objects.get(name=response["Location"].strip("/").split("/")[-1])


def new_sandbox(client: Client, **fields) -> tuple[int, dict]:
    response = client.post("/sandboxes/new", fields, HTTP_ACCEPT="application/json")
    return response.status_code, response.json()


def test_a_learner_makes_a_sandbox_of_two_small_nodes_and_it_is_listed_on_the_page():
    browser = Client()
    first = open_home(browser)

    status, body = new_sandbox(browser, name="shop", nodes="2", node_size="small")

    assert status == 201, body
    assert body["name"] == "shop" and body["url"] == "/clusters/shop/"
    nodes = [o.doc for o in Object.objects.filter(cluster__name="shop", kind="Node")]
    assert [n["status"]["allocatable"]["cpu"] for n in nodes] == ["2", "2"]
    listed = [s["name"] for s in browser.get("/clusters/shop/").context["sandboxes"]]
    assert listed == [first.name, "shop"]


def test_a_taken_name_gets_a_suffix_rather_than_saying_whose_it_is():
    new_sandbox(Client(), name="shop")

    status, body = new_sandbox(Client(), name="shop")

    assert status == 201
    assert body["name"].startswith("shop-") and "suffix" in body["message"]


@pytest.mark.parametrize(
    "fields, field",
    [({"nodes": "6"}, "nodes"), ({"nodes": "0"}, "nodes"), ({"nodes": "many"}, "nodes"), ({"node_size": "huge"}, "node_size"), ({"name": "Not A Name!"}, "name")],
)
def test_bad_sandbox_settings_are_refused_with_a_message_and_nothing_made(fields, field):
    before = Cluster.objects.count()

    status, body = new_sandbox(Client(), **fields)

    assert status == 400
    assert field in body["fields"] and body["error"]
    assert Cluster.objects.count() == before


@override_settings(PODFLOW_QUOTA_SANDBOXES=5)
def test_the_sixth_sandbox_of_a_person_is_refused():
    browser = Client()
    open_home(browser)
    for _ in range(4):
        assert new_sandbox(browser)[0] == 201

    status, body = new_sandbox(browser)

    assert status == 400
    assert "5 sandboxes" in body["error"]
    assert sandbox.owned_by(learner=browser.session["podflow_learner"]).count() == 5


def test_reset_empties_the_sandbox_brings_the_nodes_back_and_the_revision_keeps_rising():
    browser = Client()
    mine = open_home(browser)
    store.create(mine, pod("web"), steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))
    first_objects = set(Object.objects.filter(cluster=mine).exclude(kind__in=["Pod", "Event"]).values_list("kind", "name"))
    mine.refresh_from_db()
    before, token = mine.revision, mine.token

    response = browser.post(f"/clusters/{mine.name}/reset", HTTP_ACCEPT="application/json")

    mine.refresh_from_db()
    assert response.status_code == 200 and response.json()["revision"] == mine.revision > before
    assert not Object.objects.filter(cluster=mine, kind="Pod").exists()
    assert first_objects <= set(Object.objects.filter(cluster=mine).values_list("kind", "name"))
    deleted = Change.objects.filter(cluster=mine, revision__gt=before, type=Change.DELETED)
    assert deleted.filter(kind="Pod", name="web").exists()
    assert deleted.filter(kind="Node").count() == 3
    assert not Step.objects.filter(cluster=mine).exists()
    assert mine.token == token


def test_delete_removes_the_sandbox_with_its_change_log_and_home_makes_another():
    browser = Client()
    mine = open_home(browser)

    response = browser.post(f"/clusters/{mine.name}/delete")

    assert response.status_code == 302 and response["Location"] == "/"
    assert not Cluster.objects.filter(pk=mine.pk).exists()
    assert not Change.objects.filter(cluster_id=mine.pk).exists()
    assert open_home(browser).pk != mine.pk


def test_signing_up_adopts_the_anonymous_sandbox_and_signing_in_elsewhere_finds_it():
    browser = Client()
    mine = open_home(browser)

    response = browser.post("/accounts/signup/", {"username": "mina", "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.owner.username == "mina" and mine.learner == ""
    elsewhere = Client()
    assert elsewhere.post("/accounts/login/", {"username": "mina", "password": PASSWORD}).status_code == 302
    assert elsewhere.get("/")["Location"] == f"/clusters/{mine.name}/"
    assert elsewhere.get(f"/clusters/{mine.name}/").status_code == 200
    # Signed out, that browser is a stranger to it again.
    elsewhere.post("/accounts/logout/")
    assert elsewhere.get(f"/clusters/{mine.name}/").status_code == 404


def test_signing_in_adopts_the_sandboxes_made_before():
    User.objects.create_user("jun", password=PASSWORD)
    browser = Client()
    mine = open_home(browser)

    browser.post("/accounts/login/", {"username": "jun", "password": PASSWORD})

    mine.refresh_from_db()
    assert mine.owner.username == "jun"


@override_settings(PODFLOW_SIGNIN_FAILURES_PER_ACCOUNT=3, PODFLOW_SIGNIN_FAILURES_PER_IP=100)
def test_failed_sign_ins_lock_the_name_out_whether_or_not_the_account_exists():
    User.objects.create_user("jun", password=PASSWORD)
    answers = {}
    for name in ("jun", "nobody"):
        codes = [Client().post("/accounts/login/", {"username": name, "password": "wrong"}).status_code for _ in range(3)]
        refused = Client().post("/accounts/login/", {"username": name, "password": PASSWORD if name == "jun" else "x"})
        answers[name] = (codes, refused.status_code, refused.context["locked_out_seconds"] > 0, "Retry-After" in refused)

    assert answers["jun"] == answers["nobody"]
    assert answers["jun"][1] == 429 and answers["jun"][2] and answers["jun"][3]


@override_settings(PODFLOW_SIGNIN_FAILURES_PER_ACCOUNT=100, PODFLOW_SIGNIN_FAILURES_PER_IP=4)
def test_failed_sign_ins_from_one_address_are_limited_across_names():
    codes = [Client().post("/accounts/login/", {"username": f"user{i}", "password": "wrong"}, REMOTE_ADDR="10.0.0.9").status_code for i in range(5)]
    other_address = Client().post("/accounts/login/", {"username": "user9", "password": "wrong"}, REMOTE_ADDR="10.0.0.10")

    assert codes[-1] == 429
    assert other_address.status_code == 200


@override_settings(PODFLOW_SANDBOX_IDLE_HOURS=24)
def test_expiry_removes_idle_anonymous_sandboxes_and_nothing_else():
    idle = open_home(Client())
    recent = open_home(Client())
    owned = open_home(Client())
    owned.owner = User.objects.create_user("lee", password=PASSWORD)
    owned.save()
    demo, _ = ensure_cluster("demo")
    long_ago = timezone.now() - timedelta(hours=25)
    Cluster.objects.filter(pk__in=[idle.pk, owned.pk, demo.pk]).update(last_active=long_ago)

    removed = sandbox.expire()

    assert removed == [idle.name]
    assert set(Cluster.objects.values_list("name", flat=True)) == {recent.name, owned.name, "demo"}
    assert not Change.objects.filter(cluster_id=idle.pk).exists()


@override_settings(PODFLOW_SANDBOXES_PER_ADDRESS_PER_HOUR=3)
def test_a_client_that_keeps_no_cookie_cannot_make_sandboxes_without_end():
    codes = [Client().get("/", REMOTE_ADDR="10.1.1.1").status_code for _ in range(4)]
    elsewhere = Client().get("/", REMOTE_ADDR="10.1.1.2")

    assert codes == [302, 302, 302, 429]
    assert elsewhere.status_code == 302
    assert Cluster.objects.count() == 4


def test_staff_see_every_sandbox_in_the_admin_and_learners_do_not():
    mine = open_home(Client())
    User.objects.create_user("teacher", password=PASSWORD, is_staff=True, is_superuser=True)
    staff, learner = Client(), Client()
    staff.login(username="teacher", password=PASSWORD)
    User.objects.create_user("jun", password=PASSWORD)
    learner.login(username="jun", password=PASSWORD)

    listing = staff.get("/admin/cluster/cluster/")

    assert listing.status_code == 200 and mine.name in listing.content.decode()
    assert learner.get("/admin/cluster/cluster/").status_code == 302


@pytest.mark.parametrize("door", ["user", "users", "sandbox", "sandboxes"])
def test_deleting_in_the_admin_removes_a_sandbox_as_the_page_does(door, django_capture_on_commit_callbacks):
    """Whether staff delete the account (alone or selected with others) or the sandbox
    itself (alone or selected), the sandbox goes through the page's door: its rows go and
    its followers are told (an announcement the stream turns into "this sandbox is gone")."""
    owner = User.objects.create_user("mina", password=PASSWORD)
    mine, _ = ensure_cluster("mina-lab", nodes=1)
    Cluster.objects.filter(pk=mine.pk).update(owner=owner)
    store.create(mine, pod("web"), steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))
    User.objects.create_user("teacher", password=PASSWORD, is_staff=True, is_superuser=True)
    staff = Client()
    staff.login(username="teacher", password=PASSWORD)
    told: list[tuple[str, str]] = []
    listener = lambda name, what, payload: told.append((name, what))  # noqa: E731
    audit.subscribe(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            if door == "user":
                response = staff.post(f"/admin/auth/user/{owner.pk}/delete/", {"post": "yes"})
            elif door == "users":
                response = staff.post("/admin/auth/user/", {"action": "delete_selected", "_selected_action": [owner.pk], "post": "yes"})
            elif door == "sandbox":
                response = staff.post(f"/admin/cluster/cluster/{mine.pk}/delete/", {"post": "yes"})
            else:
                response = staff.post("/admin/cluster/cluster/", {"action": "delete_selected", "_selected_action": [mine.pk], "post": "yes"})
    finally:
        audit._listeners.remove(listener)

    assert response.status_code == 302
    assert not Cluster.objects.filter(pk=mine.pk).exists()
    assert User.objects.filter(username="mina").exists() == door.startswith("sandbox")
    assert not Object.objects.filter(cluster_id=mine.pk).exists()
    assert not Change.objects.filter(cluster_id=mine.pk).exists()
    assert not Step.objects.filter(cluster_id=mine.pk).exists()
    assert ("mina-lab", audit.CLUSTER) in told
