"""Lists at an exact past revision (`resourceVersionMatch=Exact`), rebuilt from the change
log as etcd reads its history; the validation of resourceVersionMatch; 410 Expired once
compaction has dropped the revision asked for."""
from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from cluster.apimachinery import kinds
from cluster.apiserver import history, store

from .manifests import deployment, revision

CONFIGMAPS = "/k8s/test/api/v1/namespaces/default/configmaps"
ALL_CONFIGMAPS = "/k8s/test/api/v1/configmaps"
NAMESPACES = "/k8s/test/api/v1/namespaces"
DEPLOYMENTS = "/k8s/test/apis/apps/v1/namespaces/default/deployments"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def configmap(name: str, *, labels: dict[str, str] | None = None, namespace: str = "default", **data: str) -> dict:
    meta: dict = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def set_data(key: str, value: str):
    return lambda doc: doc.setdefault("data", {}).__setitem__(key, value)


def at(api, path: str, rv: int | str, *, match: str = "Exact", query: str = "", **headers) -> dict:
    response = api.get(f"{path}?resourceVersion={rv}&resourceVersionMatch={match}{query}", **headers)
    assert response.status_code == 200, response.content
    return response.json()


def names(listed: dict) -> list[str]:
    return [doc["metadata"]["name"] for doc in listed["items"]]


def refused(api, query: str) -> dict:
    response = api.get(f"{CONFIGMAPS}?{query}")
    body = response.json()
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["code"] == response.status_code
    return body


# --- the collection at a revision -----------------------------------------------------------

def test_an_exact_list_leaves_out_what_was_created_after_it(api, cluster):
    store.create(cluster, configmap("before", a="1"))
    rv = revision(cluster)
    store.create(cluster, configmap("after", a="1"))

    listed = at(api, CONFIGMAPS, rv)

    assert names(listed) == ["before"]
    assert listed["metadata"]["resourceVersion"] == str(rv)
    assert listed["kind"] == "ConfigMapList"


def test_an_exact_list_shows_what_was_deleted_after_it_as_it_was(api, cluster):
    created = store.create(cluster, configmap("gone", a="1"))
    rv = revision(cluster)
    store.remove(cluster, kinds.CONFIGMAP, "default", "gone", by=store.API)

    assert at(api, CONFIGMAPS, rv)["items"] == [created]
    assert names(api.get(CONFIGMAPS).json()) == []


def test_each_object_is_at_its_last_write_at_or_before_the_revision(api, cluster):
    store.create(cluster, configmap("cm", v="1"))
    second = store.mutate(cluster, kinds.CONFIGMAP, "default", "cm", set_data("v", "2"), by=store.API)
    rv = revision(cluster)
    store.mutate(cluster, kinds.CONFIGMAP, "default", "cm", set_data("v", "3"), by=store.API)

    [shown] = at(api, CONFIGMAPS, rv)["items"]

    assert shown == second
    assert (shown["data"], shown["metadata"]["resourceVersion"]) == ({"v": "2"}, str(rv))


def test_an_exact_list_at_each_revision_replays_the_history(api, cluster):
    """Create, modify, create, delete: at every revision the list is what it was then."""
    seen: list[tuple[int, list[tuple[str, str]]]] = []

    def now() -> None:
        docs = api.get(CONFIGMAPS).json()["items"]
        seen.append((revision(cluster), [(d["metadata"]["name"], d["data"]["v"]) for d in docs]))

    store.create(cluster, configmap("a", v="1"))
    now()
    store.mutate(cluster, kinds.CONFIGMAP, "default", "a", set_data("v", "2"), by=store.API)
    now()
    store.create(cluster, configmap("b", v="1"))
    now()
    store.remove(cluster, kinds.CONFIGMAP, "default", "a", by=store.API)
    now()

    for rv, then in seen:
        assert [(d["metadata"]["name"], d["data"]["v"]) for d in at(api, CONFIGMAPS, rv)["items"]] == then


def test_a_name_deleted_and_created_again_shows_the_object_of_the_time(api, cluster):
    first = store.create(cluster, configmap("cm", v="old"))
    rv = revision(cluster)
    store.remove(cluster, kinds.CONFIGMAP, "default", "cm", by=store.API)
    second = store.create(cluster, configmap("cm", v="new"))

    assert at(api, CONFIGMAPS, rv)["items"] == [first]
    assert at(api, CONFIGMAPS, revision(cluster))["items"] == [second]


def test_an_exact_list_honours_the_label_and_field_selectors(api, cluster):
    store.create(cluster, configmap("x1", labels={"app": "x"}))
    store.create(cluster, configmap("y1", labels={"app": "y"}))
    rv = revision(cluster)
    store.mutate(cluster, kinds.CONFIGMAP, "default", "x1", lambda d: d["metadata"]["labels"].__setitem__("app", "y"), by=store.API)
    store.create(cluster, configmap("x2", labels={"app": "x"}))

    assert names(at(api, CONFIGMAPS, rv, query="&labelSelector=app%3Dx")) == ["x1"]
    assert names(at(api, CONFIGMAPS, rv, query="&labelSelector=app%3Dy")) == ["y1"]
    assert names(at(api, CONFIGMAPS, rv, query="&fieldSelector=metadata.name%3Dx2")) == []
    assert names(api.get(CONFIGMAPS + "?labelSelector=app%3Dx").json()) == ["x2"]


def test_an_exact_list_keeps_to_its_namespace_and_lists_all_of_them_without_one(api, cluster):
    store.create(cluster, configmap("here", namespace="default"))
    store.create(cluster, configmap("there", namespace="kube-public"))
    rv = revision(cluster)
    store.create(cluster, configmap("later", namespace="kube-public"))

    assert names(at(api, CONFIGMAPS, rv)) == ["here"]
    everywhere = at(api, ALL_CONFIGMAPS, rv)["items"]
    assert [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in everywhere] == [("default", "here"), ("kube-public", "there")]


def test_an_exact_list_serves_cluster_scoped_kinds_and_other_groups(api, cluster):
    namespaces_before = names(api.get(NAMESPACES).json())
    store.create(cluster, deployment("old", replicas=1))
    rv = revision(cluster)
    store.create(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "newer"}})
    store.create(cluster, deployment("new", replicas=1))

    assert names(at(api, NAMESPACES, rv)) == namespaces_before
    listed = at(api, DEPLOYMENTS, rv)
    assert (names(listed), listed["kind"], listed["apiVersion"]) == (["old"], "DeploymentList", "apps/v1")


def test_an_exact_list_answers_a_table_of_the_revision(api, cluster):
    store.create(cluster, configmap("cm", one="1"))
    rv = revision(cluster)
    store.mutate(cluster, kinds.CONFIGMAP, "default", "cm", set_data("two", "2"), by=store.API)
    store.create(cluster, configmap("later", one="1"))

    table = at(api, CONFIGMAPS, rv, HTTP_ACCEPT=TABLE)

    assert (table["kind"], table["metadata"]["resourceVersion"]) == ("Table", str(rv))
    assert [row["cells"][:2] for row in table["rows"]] == [["cm", 1]]
    assert table["rows"][0]["object"]["metadata"]["resourceVersion"] == str(rv)


def test_not_older_than_lists_the_present_where_exact_lists_the_past(api, cluster):
    store.create(cluster, configmap("a"))
    rv = revision(cluster)
    store.create(cluster, configmap("b"))

    present = at(api, CONFIGMAPS, rv, match="NotOlderThan")
    past = at(api, CONFIGMAPS, rv, match="Exact")

    assert (names(present), present["metadata"]["resourceVersion"]) == (["a", "b"], str(revision(cluster)))
    assert (names(past), past["metadata"]["resourceVersion"]) == (["a"], str(rv))


def test_rebuilding_a_list_takes_the_same_few_queries_however_many_objects(cluster):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            history.list_at(cluster, kinds.CONFIGMAP, "default", revision(cluster) - 1)
        return len(captured)

    store.compact(cluster, keep=1)  # so that objects older than the log are looked for too
    for i in range(3):
        store.create(cluster, configmap(f"a{i}"))
        store.mutate(cluster, kinds.CONFIGMAP, "default", f"a{i}", set_data("v", "1"), by=store.API)
    few = queries()
    for i in range(30):
        store.create(cluster, configmap(f"b{i}"))
        store.mutate(cluster, kinds.CONFIGMAP, "default", f"b{i}", set_data("v", "1"), by=store.API)

    assert queries() == few <= 6


# --- compaction -----------------------------------------------------------------------------

def test_an_exact_list_from_before_the_compacted_log_is_expired(api, cluster):
    store.create(cluster, configmap("c0"))
    old = revision(cluster)
    store.create(cluster, configmap("c1"))
    store.create(cluster, configmap("c2"))
    store.compact(cluster, keep=1)
    compacted = revision(cluster) - 1  # the last revision compacted: the oldest still listable

    response = api.get(f"{CONFIGMAPS}?resourceVersion={old}&resourceVersionMatch=Exact")

    body = response.json()
    assert response.status_code == 410
    assert (body["kind"], body["status"], body["reason"], body["code"]) == ("Status", "Failure", "Expired", 410)
    assert body["message"] == f"too old resource version: {old} ({compacted})"
    assert names(at(api, CONFIGMAPS, compacted)) == ["c0", "c1"]


def test_after_compaction_objects_untouched_since_are_still_listed(api, cluster):
    """Their writes were compacted away: the current rows hold them."""
    kept = store.create(cluster, configmap("kept", v="1"))
    store.create(cluster, configmap("gone", v="1"))
    store.create(cluster, configmap("changed", v="1"))
    store.remove(cluster, kinds.CONFIGMAP, "default", "gone", by=store.API)
    store.compact(cluster, keep=0)
    compacted = revision(cluster)
    changed = store.mutate(cluster, kinds.CONFIGMAP, "default", "changed", set_data("v", "2"), by=store.API)
    store.create(cluster, configmap("new", v="1"))

    assert at(api, CONFIGMAPS, compacted + 1)["items"] == [changed, kept]
    assert names(at(api, CONFIGMAPS, compacted + 2)) == ["changed", "kept", "new"]


def test_a_revision_whose_state_the_compaction_dropped_is_expired(api, cluster):
    """`changed` was written after the compaction: what it was before is no longer kept,
    so the list at the compaction revision cannot be rebuilt (etcd would have kept it)."""
    store.create(cluster, configmap("changed", v="1"))
    store.compact(cluster, keep=0)
    compacted = revision(cluster)
    store.mutate(cluster, kinds.CONFIGMAP, "default", "changed", set_data("v", "2"), by=store.API)

    response = api.get(f"{CONFIGMAPS}?resourceVersion={compacted}&resourceVersionMatch=Exact")

    assert (response.status_code, response.json()["reason"]) == (410, "Expired")
    assert response.json()["message"] == f"too old resource version: {compacted} ({compacted + 1})"
    assert history.available_from(cluster, kinds.CONFIGMAP, "default") == compacted + 1
    # Another collection, untouched since the compaction, is still served at that revision.
    assert names(at(api, "/k8s/test/api/v1/namespaces/kube-public/configmaps", compacted)) == []


# --- what resourceVersionMatch accepts --------------------------------------------------------

def test_resource_version_match_without_a_resource_version_is_invalid(api):
    body = refused(api, "resourceVersionMatch=Exact")

    assert (body["code"], body["reason"]) == (422, "Invalid")
    assert body["message"] == 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided'
    assert body["details"]["causes"] == [
        {"reason": "FieldValueForbidden", "message": "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided", "field": "resourceVersionMatch"}
    ]
    assert (body["details"]["kind"], body["details"]["group"]) == ("ListOptions", "meta.k8s.io")


def test_an_unknown_resource_version_match_is_invalid(api, cluster):
    body = refused(api, f"resourceVersion={revision(cluster)}&resourceVersionMatch=Newest")

    assert (body["code"], body["reason"]) == (422, "Invalid")
    assert body["message"] == 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""'
    assert body["details"]["causes"][0]["reason"] == "FieldValueNotSupported"


def test_exact_at_zero_or_with_a_continue_token_is_invalid(api):
    zero = refused(api, "resourceVersion=0&resourceVersionMatch=Exact")
    paging = refused(api, "resourceVersion=3&resourceVersionMatch=Exact&continue=abc")

    assert zero["code"] == paging["code"] == 422
    assert zero["details"]["causes"][0]["message"] == 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
    assert paging["details"]["causes"][0]["message"] == "Forbidden: resourceVersionMatch is forbidden when continue is provided"


def test_an_exact_resource_version_must_be_a_revision(api):
    for raw in ("abc", "-1", "+5", "1_0"):
        body = refused(api, f"resourceVersion={raw}&resourceVersionMatch=Exact")
        assert (body["code"], body["reason"]) == (400, "BadRequest"), raw


def test_options_are_checked_before_the_revision_and_a_future_one_times_out(api, cluster):
    future = revision(cluster) + 10

    assert refused(api, f"resourceVersion={future}&resourceVersionMatch=Later")["code"] == 422
    for match in ("Exact", "NotOlderThan"):
        body = refused(api, f"resourceVersion={future}&resourceVersionMatch={match}")
        assert (body["code"], body["reason"]) == (504, "Timeout")
        assert body["message"] == f"Too large resource version: {future}, current: {revision(cluster)}"
