"""The API-server layer: every write bumps the revision and lands in the change log."""
from __future__ import annotations

import pytest

from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.models import Change, Object, Step

from .manifests import changes_after, counts, deployment, pod, revision


def test_it_bumps_the_revision_and_stamps_the_resource_version_on_create(cluster):
    before = revision(cluster)

    created = store.create(cluster, pod("web"))

    assert revision(cluster) == before + 1
    assert created["metadata"]["resourceVersion"] == str(before + 1)
    assert created["metadata"]["uid"]
    assert created["metadata"]["namespace"] == "default"
    assert store.get(cluster, kinds.POD, "default", "web") == created


def test_it_appends_one_change_per_write_with_consecutive_revisions(cluster):
    before = revision(cluster)

    store.create(cluster, pod("web"))
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["metadata"].setdefault("labels", {}).update(tier="front"), by=store.API)
    store.remove(cluster, kinds.POD, "default", "web", by=store.API)

    log = changes_after(cluster, before)
    assert [(c.revision, c.type) for c in log] == [
        (before + 1, Change.ADDED),
        (before + 2, Change.MODIFIED),
        (before + 3, Change.DELETED),
    ]
    assert log[1].doc["metadata"]["labels"] == {"tier": "front"}
    assert log[2].doc["metadata"]["resourceVersion"] == str(before + 3)
    assert not Object.objects.filter(cluster=cluster, kind="Pod").exists()


def test_it_refuses_a_duplicate_name_with_409_already_exists(cluster):
    store.create(cluster, pod("web"))
    before = counts(cluster)

    with pytest.raises(APIError) as caught:
        store.create(cluster, pod("web"))

    status = caught.value.status()
    assert (status["code"], status["reason"]) == (409, "AlreadyExists")
    assert status["message"] == 'pods "web" already exists'
    assert counts(cluster) == before


def test_it_refuses_an_update_with_a_stale_resource_version_and_writes_nothing(cluster):
    first = store.create(cluster, pod("web"))
    store.mutate(cluster, kinds.POD, "default", "web", lambda d: d["metadata"].update(labels={"v": "2"}), by=store.API)
    before = counts(cluster)

    stale = {**first, "metadata": {**first["metadata"], "labels": {"v": "stale"}}}
    with pytest.raises(APIError) as caught:
        store.update(cluster, stale)

    assert (caught.value.code, caught.value.reason) == (409, "Conflict")
    assert "the object has been modified" in caught.value.message
    assert counts(cluster) == before
    assert store.get(cluster, kinds.POD, "default", "web")["metadata"]["labels"] == {"v": "2"}


def test_it_accepts_an_update_with_the_current_resource_version(cluster):
    current = store.create(cluster, pod("web"))
    current["metadata"]["labels"] = {"v": "2"}

    updated = store.update(cluster, current)

    assert updated["metadata"]["labels"] == {"v": "2"}
    assert int(updated["metadata"]["resourceVersion"]) == int(current["metadata"]["resourceVersion"]) + 1


def test_it_keeps_the_stored_status_when_the_main_resource_is_updated(cluster):
    current = store.create(cluster, pod("web"))
    current["status"] = {"phase": "Running"}

    updated = store.update(cluster, current)

    assert updated["status"]["phase"] == "Pending"


def test_it_writes_nothing_when_a_mutate_changes_nothing(cluster):
    created = store.create(cluster, pod("web"))
    before = counts(cluster)

    result = store.mutate(cluster, kinds.POD, "default", "web", lambda d: None, by=store.API)

    assert counts(cluster) == before
    assert result["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_it_does_not_let_a_mutate_change_identity_or_server_owned_metadata(cluster):
    created = store.create(cluster, pod("web"))

    def tamper(doc: dict) -> None:
        doc["metadata"]["uid"] = "forged"
        doc["metadata"]["name"] = "other"

    result = store.mutate(cluster, kinds.POD, "default", "web", tamper, by=store.API)

    assert result == created  # nothing left to change, so nothing was written
    assert revision(cluster) == int(created["metadata"]["resourceVersion"])


def test_it_round_trips_fields_it_does_not_know(cluster):
    doc = pod("web")
    doc["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "protocol": "TCP"}]
    doc["spec"]["futureField"] = {"nested": [1, 2, 3]}
    doc["metadata"]["annotations"] = {"example.com/note": "keep me"}

    store.create(cluster, doc)
    stored = store.get(cluster, kinds.POD, "default", "web")

    assert stored["spec"]["futureField"] == {"nested": [1, 2, 3]}
    assert stored["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert stored["metadata"]["annotations"] == {"example.com/note": "keep me"}


def test_it_generates_a_name_from_generate_name(cluster):
    doc = pod("ignored")
    doc["metadata"] = {"generateName": "web-"}

    first = store.create(cluster, doc)
    second = store.create(cluster, doc)

    assert first["metadata"]["name"].startswith("web-")
    assert len(first["metadata"]["name"]) == len("web-") + 5
    assert first["metadata"]["name"] != second["metadata"]["name"]


def test_a_generated_name_skips_the_names_taken_before_and_during_its_transaction(cluster, monkeypatch):
    candidates = iter(["web-aaaaa", "web-bbbbb", "web-bbbbb", "web-ccccc", "web-aaaaa", "web-ddddd"])
    monkeypatch.setattr(store, "generate_name", lambda prefix: next(candidates))
    doc = pod("ignored")
    doc["metadata"] = {"generateName": "web-"}
    store.create(cluster, pod("web-aaaaa"))

    with store.locked(cluster):
        taken_before = store.create(cluster, doc)["metadata"]["name"]  # web-aaaaa is stored: the next candidate
        taken_here = store.create(cluster, doc)["metadata"]["name"]  # web-bbbbb was named in this transaction
        store.remove(cluster, kinds.POD, "default", "web-aaaaa", by=store.API)
        freed_here = store.create(cluster, doc)["metadata"]["name"]  # web-aaaaa was removed in it

    assert (taken_before, taken_here, freed_here) == ("web-bbbbb", "web-ccccc", "web-aaaaa")
    assert sorted(o.name for o in Object.objects.filter(cluster=cluster, kind="Pod")) == ["web-aaaaa", "web-bbbbb", "web-ccccc"]


def test_it_refuses_a_namespace_that_does_not_exist_with_404(cluster):
    before = counts(cluster)

    with pytest.raises(APIError) as caught:
        store.create(cluster, pod("web"), namespace="nowhere")

    assert (caught.value.code, caught.value.reason) == (404, "NotFound")
    assert caught.value.message == 'namespaces "nowhere" not found'
    assert counts(cluster) == before


def test_it_refuses_a_body_namespace_that_differs_from_the_request(cluster):
    doc = pod("web")
    doc["metadata"]["namespace"] = "kube-system"
    before = counts(cluster)

    with pytest.raises(APIError) as caught:
        store.create(cluster, doc, namespace="default")

    assert caught.value.code == 400
    assert counts(cluster) == before


@pytest.mark.parametrize(
    "bad",
    [
        "not an object",
        {"kind": "Gadget", "metadata": {"name": "x"}},
        {"kind": ["Pod"], "metadata": {"name": "x"}},
        {"kind": "Pod", "metadata": "x"},
        {"kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": []}},
    ],
)
def test_it_writes_nothing_for_bad_input(cluster, bad):
    before = counts(cluster)

    with pytest.raises(APIError) as caught:
        store.create(cluster, bad)

    assert caught.value.code in (400, 422)
    assert counts(cluster) == before


def test_it_ignores_server_owned_metadata_sent_by_the_client(cluster):
    doc = pod("web")
    doc["metadata"].update(uid="mine", resourceVersion="999", creationTimestamp="2000-01-01T00:00:00Z")

    created = store.create(cluster, doc)

    assert created["metadata"]["uid"] != "mine"
    assert created["metadata"]["resourceVersion"] == str(revision(cluster))
    assert created["metadata"]["creationTimestamp"] != "2000-01-01T00:00:00Z"


def test_it_rolls_back_every_write_of_a_transaction_that_fails(cluster):
    before = counts(cluster)

    with pytest.raises(APIError):
        with store.locked(cluster):
            store.create(cluster, pod("one"))
            store.create(cluster, pod("one"))

    assert counts(cluster) == before


def test_it_bumps_the_generation_of_a_deployment_only_when_its_spec_changes(cluster):
    store.create(cluster, deployment("web", replicas=1))

    labelled = store.mutate(cluster, kinds.DEPLOYMENT, "default", "web", lambda d: d["metadata"].update(labels={"a": "b"}), by=store.API)
    scaled = store.mutate(cluster, kinds.DEPLOYMENT, "default", "web", lambda d: d["spec"].update(replicas=2), by=store.API)

    assert labelled["metadata"]["generation"] == 1
    assert scaled["metadata"]["generation"] == 2


def test_it_starts_a_graceful_deletion_once(cluster):
    store.create(cluster, pod("web"))

    first = store.mark_deleted(cluster, kinds.POD, "default", "web", by=store.API, grace_seconds=30)
    at = revision(cluster)
    second = store.mark_deleted(cluster, kinds.POD, "default", "web", by=store.API, grace_seconds=30)

    assert first["metadata"]["deletionTimestamp"]
    assert first["metadata"]["deletionGracePeriodSeconds"] == 30
    assert second == first
    assert revision(cluster) == at


def test_it_reports_a_missing_object_as_not_found(cluster):
    with pytest.raises(APIError) as caught:
        store.remove(cluster, kinds.DEPLOYMENT, "default", "x", by=store.API)

    assert caught.value.code == 404
    assert caught.value.message == 'deployments.apps "x" not found'


def test_it_validates_and_names_a_dry_run_but_stores_nothing(cluster):
    doc = pod("ignored")
    doc["metadata"] = {"generateName": "web-"}
    before = counts(cluster)

    would = store.dry_run_create(cluster, doc)

    assert would["metadata"]["name"].startswith("web-")
    assert counts(cluster) == before
    assert cluster.revision == before[0]


def test_it_writes_nothing_when_an_update_resends_the_manifest_as_applied(cluster):
    store.create(cluster, deployment("web"))
    before = counts(cluster)
    again = deployment("web")
    again["metadata"]["namespace"] = "default"

    unchanged = store.update(cluster, again)

    assert counts(cluster) == before
    assert unchanged["metadata"]["generation"] == 1


def test_it_compacts_the_change_log_to_the_last_revisions_and_keeps_live_pods_steps(cluster):
    from cluster.componentbase import narration
    from cluster.models import Step

    live = store.create(cluster, pod("live"), steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))
    gone = store.create(cluster, pod("gone"), steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))
    store.remove(cluster, kinds.POD, "default", "gone", by=store.API)
    current = store.current_revision(cluster)

    removed = store.compact(cluster, keep=1)

    assert removed == current - 1
    assert list(Change.objects.filter(cluster=cluster).values_list("revision", flat=True)) == [current]
    assert Step.objects.filter(pod_uid=live["metadata"]["uid"]).count() == 3
    assert not Step.objects.filter(pod_uid=gone["metadata"]["uid"]).exists()


def test_a_step_recorded_again_is_neither_stored_nor_published_twice(cluster):
    from cluster.componentbase import narration

    made = store.create(cluster, pod("twice"))
    published = []
    for attempt in range(2):  # Ready, then (after a spell of not Ready) Ready again
        with store.locked(cluster) as outbox:
            current = store.get(cluster, kinds.POD, "default", "twice")
            current["metadata"].setdefault("labels", {})["attempt"] = str(attempt)
            store.update(cluster, current, by=store.KUBELET, steps=lambda doc, rev: [narration.ready(doc, "node-1")])
        # What the transaction hands its listeners once it has committed.
        published.append([s.number for change in outbox.changes for s in change.steps])

    assert published == [[8], []]
    assert Step.objects.filter(pod_uid=made["metadata"]["uid"], number=8).count() == 1


def test_the_fields_the_database_extracts_are_the_documents_values(cluster):
    """rows.json_fields: what the controllers' counts and the resync read instead of whole
    documents — each field the value the document holds (strings, numbers, lists, objects),
    None where it is missing; narrowed to some owners, or to owned objects."""
    from cluster.apiserver import rows

    owner = store.create(cluster, deployment("web", replicas=2))
    owner_uid = owner["metadata"]["uid"]
    owned = pod("owned")
    owned["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": owner_uid, "controller": True}]
    store.create(cluster, owned)
    store.create(cluster, pod("alone"))
    conditions = [{"type": "Ready", "status": "True", "message": "ünïcode \"quoted\""}]
    store.mutate(cluster, kinds.POD, "default", "owned", lambda d: d.setdefault("status", {}).update(phase="Running", conditions=conditions), by=store.KUBELET)
    store.mark_deleted(cluster, kinds.POD, "default", "owned", by=store.API, grace_seconds=30)
    paths = (("metadata", "deletionTimestamp"), ("status", "phase"), ("status", "conditions"), ("spec", "containers"), ("metadata", "nowhere"))

    by_owner = rows.json_fields(cluster.pk, "Pod", paths, owner_uids=[owner_uid])
    any_owned = rows.json_fields(cluster.pk, "Pod", paths, owned=True)
    every = rows.json_fields(cluster.pk, "Pod", paths)
    numbers = rows.json_fields(cluster.pk, "Deployment", (("spec", "replicas"), ("metadata", "generation"), ("spec", "selector")))
    deleting = rows.json_fields(cluster.pk, None, (("kind",),), having=("metadata", "deletionTimestamp"))

    stored = store.get(cluster, kinds.POD, "default", "owned")
    expected = (stored["metadata"]["uid"], owner_uid, stored["metadata"]["deletionTimestamp"], "Running", conditions, stored["spec"]["containers"], None)
    assert by_owner == any_owned == [expected]
    assert sorted(row[0] for row in every) == sorted(p["metadata"]["uid"] for p in store.list_docs(cluster, kinds.POD))
    alone = store.get(cluster, kinds.POD, "default", "alone")
    assert [row[1:] for row in every if row[0] != expected[0]] == [("", None, "Pending", None, alone["spec"]["containers"], None)]
    assert numbers == [(owner_uid, "", 2, 1, {"matchLabels": {"app": "web"}})]
    assert deleting == [(expected[0], owner_uid, "Pod")]  # any kind, being deleted


@pytest.mark.django_db
def test_no_index_of_the_store_s_tables_is_served_by_another():
    """Every revision writes these tables and each of their indexes, under the lock: an
    index whose columns begin another one (a foreign key's own index, a second one for
    LIKE queries) costs every write and serves no query the other does not."""
    from django.db import connection

    from cluster.models import STORE_ROWS, Cluster

    with connection.cursor() as cursor:
        for model in STORE_ROWS:
            table = Cluster._meta.apps.get_model("cluster", model)._meta.db_table
            found = connection.introspection.get_constraints(cursor, table)
            indexes = sorted({tuple(c["columns"]) for c in found.values() if (c["index"] or c["unique"]) and not c["primary_key"]})
            served = [(a, b) for a in indexes for b in indexes if a != b and b[: len(a)] == a]
            assert served == [], f"{table}: {served}"


def test_a_cluster_read_by_id_or_name_is_the_orm_s_row_field_for_field(cluster, django_user_model):
    """Cluster.objects.one: what every API request and component task reads first, in
    plain SQL; every field converted as the ORM converts it (booleans, times, JSON), in
    value and type."""
    from cluster.models import Cluster

    owner = django_user_model.objects.create_user("ada", password="x" * 12)
    Cluster.objects.filter(pk=cluster.pk).update(paused=True, stopped_components=["scheduler"], owner=owner)
    expected = Cluster.objects.get(pk=cluster.pk)
    fields = [f.attname for f in Cluster._meta.concrete_fields]

    for found in (Cluster.objects.one("id", cluster.pk), Cluster.objects.one("name", cluster.name)):
        assert [getattr(found, f) for f in fields] == [getattr(expected, f) for f in fields]
        assert [type(getattr(found, f)) for f in fields] == [type(getattr(expected, f)) for f in fields]
        assert not found._state.adding and found._state.db == "default"
        assert found.created.tzinfo is not None and found.owner.username == "ada"
    assert found.paused is True and found.stopped_components == ["scheduler"]
    assert Cluster.objects.one("name", "no-such-cluster") is None
    assert Cluster.objects.one("name", "x' OR '1'='1") is None
    with pytest.raises(ValueError):
        Cluster.objects.one("token", cluster.token)

