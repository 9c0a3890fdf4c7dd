"""Deletion as the API server does it: finalizers, propagation, preconditions, grace
periods, deletecollection, namespaces, and discovery that tells the truth about verbs."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from cluster.apimachinery import kinds, pods
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.controllers import namespace as namespace_controller
from cluster.informers import wake
from cluster.models import Change

from .manifests import changes_after, counts, deployment, pod, revision

HOLD = "podflow.dev/hold"


def configmap(name: str = "settings", *, namespace: str = "default", labels: dict | None = None, finalizers: list[str] | None = None) -> dict:
    meta: dict = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "1"}}


def namespace_doc(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def started(cluster, name: str, namespace: str = "default") -> dict:
    """A pod a kubelet has started: its deletion is graceful."""
    return store.mutate(
        cluster, kinds.POD, namespace, name,
        lambda d: d["spec"].update(nodeName="node-1") or d["status"].update(hostIP="192.168.49.2", phase="Running"),
        by=store.KUBELET,
    )


def without_finalizers(cluster, kind: kinds.Kind, namespace: str, name: str) -> dict:
    """What `kubectl patch --type=merge -p '{"metadata":{"finalizers":null}}'` does."""
    current = store.get(cluster, kind, namespace, name)
    current["metadata"].pop("finalizers", None)
    return store.update(cluster, current)


@pytest.fixture
def api(cluster) -> Client:
    return Client(HTTP_USER_AGENT="kubectl/v1.32.4 (linux/amd64) kubernetes/abc", HTTP_AUTHORIZATION=f"Bearer {cluster.token}")


# --- finalizers and propagation --------------------------------------------------------------

def test_it_removes_an_object_without_finalizers_at_once(cluster):
    store.create(cluster, configmap())
    before = revision(cluster)

    store.delete(cluster, kinds.CONFIGMAP, "default", "settings", by=store.API)

    assert store.find(cluster, kinds.CONFIGMAP, "default", "settings") is None
    assert [c.type for c in changes_after(cluster, before)] == [Change.DELETED]


def test_it_keeps_an_object_with_a_user_finalizer_terminating_until_an_update_removes_it(cluster):
    store.create(cluster, configmap(finalizers=[HOLD]))

    kept = store.delete(cluster, kinds.CONFIGMAP, "default", "settings", by=store.API)

    assert kept["metadata"]["deletionTimestamp"] and kept["metadata"]["deletionGracePeriodSeconds"] == 0
    assert store.get(cluster, kinds.CONFIGMAP, "default", "settings")["metadata"]["finalizers"] == [HOLD]
    before = revision(cluster)

    without_finalizers(cluster, kinds.CONFIGMAP, "default", "settings")

    assert store.find(cluster, kinds.CONFIGMAP, "default", "settings") is None
    [change] = changes_after(cluster, before)
    assert change.type == Change.DELETED and "finalizers" not in change.doc["metadata"]


def test_it_refuses_to_add_a_finalizer_to_an_object_being_deleted(cluster):
    store.create(cluster, configmap(finalizers=[HOLD]))
    store.delete(cluster, kinds.CONFIGMAP, "default", "settings", by=store.API)
    current = store.get(cluster, kinds.CONFIGMAP, "default", "settings")
    current["metadata"]["finalizers"] = [HOLD, "example.com/more"]
    before = counts(cluster)

    with pytest.raises(APIError) as caught:
        store.update(cluster, current)

    assert caught.value.code == 422
    assert 'no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/more"}' in caught.value.message
    assert counts(cluster) == before


def test_a_later_update_cannot_clear_the_deletion_timestamp(cluster):
    store.create(cluster, configmap(finalizers=[HOLD]))
    kept = store.delete(cluster, kinds.CONFIGMAP, "default", "settings", by=store.API)
    current = store.get(cluster, kinds.CONFIGMAP, "default", "settings")
    del current["metadata"]["deletionTimestamp"], current["metadata"]["deletionGracePeriodSeconds"]
    current["data"] = {"a": "2"}

    updated = store.update(cluster, current)

    assert updated["metadata"]["deletionTimestamp"] == kept["metadata"]["deletionTimestamp"]
    assert updated["metadata"]["deletionGracePeriodSeconds"] == 0


@pytest.mark.parametrize(
    ("options", "finalizers"),
    [
        (store.DeleteOptions(propagation="Orphan"), ["orphan"]),
        (store.DeleteOptions(orphan_dependents=True), ["orphan"]),
        (store.DeleteOptions(propagation="Foreground"), ["foregroundDeletion"]),
    ],
)
def test_it_turns_the_propagation_policy_into_a_finalizer(cluster, options, finalizers):
    store.create(cluster, deployment("web"))

    kept = store.delete(cluster, kinds.DEPLOYMENT, "default", "web", by=store.API, options=options)

    assert kept["metadata"]["finalizers"] == finalizers
    assert store.get(cluster, kinds.DEPLOYMENT, "default", "web")["metadata"]["deletionTimestamp"]


@pytest.mark.parametrize("options", [store.DeleteOptions(propagation="Background"), store.DeleteOptions(orphan_dependents=False), store.DeleteOptions()])
def test_a_background_deletion_needs_no_finalizer_and_removes_the_owner_at_once(cluster, options):
    store.create(cluster, deployment("web"))

    store.delete(cluster, kinds.DEPLOYMENT, "default", "web", by=store.API, options=options)

    assert store.find(cluster, kinds.DEPLOYMENT, "default", "web") is None


def test_a_second_delete_may_change_the_policy_of_an_object_still_held(cluster):
    store.create(cluster, configmap(finalizers=[HOLD]))
    store.delete(cluster, kinds.CONFIGMAP, "default", "settings", by=store.API, options=store.DeleteOptions(propagation="Orphan"))

    again = store.delete(cluster, kinds.CONFIGMAP, "default", "settings", by=store.API, options=store.DeleteOptions(propagation="Foreground"))

    assert again["metadata"]["finalizers"] == [HOLD, "foregroundDeletion"]


def test_a_dry_run_deletion_writes_nothing(cluster):
    store.create(cluster, configmap())
    before = counts(cluster)

    answer = store.delete(cluster, kinds.CONFIGMAP, "default", "settings", by=store.API, options=store.DeleteOptions(dry_run=True))

    assert answer["metadata"]["deletionTimestamp"]
    assert counts(cluster) == before


@pytest.mark.parametrize(
    ("finalizers", "message"),
    [
        ("hold", "must be a list of strings"),
        (["hold"], "name is neither a standard finalizer name nor is it fully qualified"),
        (["orphan", "foregroundDeletion"], "finalizer foregroundDeletion and orphan cannot be both set"),
    ],
)
def test_it_refuses_malformed_finalizers_and_writes_nothing(cluster, finalizers, message):
    before = counts(cluster)

    with pytest.raises(APIError) as caught:
        store.create(cluster, {**configmap(), "metadata": {"name": "settings", "finalizers": finalizers}})

    assert caught.value.code == 422 and message in caught.value.message
    assert counts(cluster) == before


# --- preconditions ---------------------------------------------------------------------------

def test_a_uid_precondition_that_does_not_match_is_a_409_and_writes_nothing(cluster):
    created = store.create(cluster, configmap())
    before = counts(cluster)

    with pytest.raises(APIError) as caught:
        store.delete(cluster, kinds.CONFIGMAP, "default", "settings", by=store.API, options=store.DeleteOptions(uid="not-it"))

    assert (caught.value.code, caught.value.reason) == (409, "Conflict")
    assert caught.value.message == (
        f'Operation cannot be fulfilled on configmaps "settings": Precondition failed: UID in precondition: not-it, UID in object meta: {created["metadata"]["uid"]}'
    )
    assert counts(cluster) == before


def test_a_resource_version_precondition_that_does_not_match_is_a_409(cluster):
    created = store.create(cluster, configmap())
    rv = created["metadata"]["resourceVersion"]

    with pytest.raises(APIError) as caught:
        store.delete(cluster, kinds.CONFIGMAP, "default", "settings", by=store.API, options=store.DeleteOptions(resource_version="1"))

    assert caught.value.code == 409
    assert f"Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: {rv}" in caught.value.message


def test_matching_preconditions_let_the_deletion_through(cluster):
    created = store.create(cluster, configmap())
    meta = created["metadata"]

    store.delete(cluster, kinds.CONFIGMAP, "default", "settings", by=store.API, options=store.DeleteOptions(uid=meta["uid"], resource_version=meta["resourceVersion"]))

    assert store.find(cluster, kinds.CONFIGMAP, "default", "settings") is None


# --- grace periods ---------------------------------------------------------------------------

def test_a_started_pod_goes_terminating_with_its_grace_period(cluster):
    store.create(cluster, pod("web"))
    started(cluster, "web")

    kept = store.delete_pod(cluster, "default", "web", by=store.API)

    assert kept["metadata"]["deletionTimestamp"] and kept["metadata"]["deletionGracePeriodSeconds"] == 30


def test_a_second_delete_never_lengthens_the_grace_period(cluster):
    store.create(cluster, pod("web"))
    started(cluster, "web")
    store.delete_pod(cluster, "default", "web", by=store.API, grace_seconds=20)
    before = counts(cluster)

    store.delete_pod(cluster, "default", "web", by=store.API, grace_seconds=60)
    store.delete_pod(cluster, "default", "web", by=store.API)

    assert counts(cluster) == before
    assert store.get(cluster, kinds.POD, "default", "web")["metadata"]["deletionGracePeriodSeconds"] == 20


def test_a_second_delete_shortens_the_grace_period(cluster):
    store.create(cluster, pod("web"))
    started(cluster, "web")
    first = store.delete_pod(cluster, "default", "web", by=store.API)

    second = store.delete_pod(cluster, "default", "web", by=store.API, grace_seconds=5)

    assert second["metadata"]["deletionGracePeriodSeconds"] == 5
    assert second["metadata"]["deletionTimestamp"] == first["metadata"]["deletionTimestamp"]


def test_a_second_delete_with_grace_zero_removes_a_terminating_pod(cluster):
    store.create(cluster, pod("web"))
    started(cluster, "web")
    store.delete_pod(cluster, "default", "web", by=store.API)

    store.delete_pod(cluster, "default", "web", by=store.API, grace_seconds=0)

    assert store.find(cluster, kinds.POD, "default", "web") is None


def test_a_forced_delete_removes_a_running_pod_at_once(cluster):
    store.create(cluster, pod("web"))
    started(cluster, "web")

    store.delete_pod(cluster, "default", "web", by=store.API, grace_seconds=0)

    assert store.find(cluster, kinds.POD, "default", "web") is None


def test_a_pod_with_a_finalizer_outlives_its_forced_delete_until_the_finalizer_goes(cluster):
    store.create(cluster, {**pod("web"), "metadata": {"name": "web", "finalizers": [HOLD]}})
    started(cluster, "web")

    kept = store.delete_pod(cluster, "default", "web", by=store.API, grace_seconds=0)

    assert kept["metadata"]["deletionGracePeriodSeconds"] == 0
    without_finalizers(cluster, kinds.POD, "default", "web")
    assert store.find(cluster, kinds.POD, "default", "web") is None


def test_a_terminating_pod_whose_finalizer_goes_still_waits_for_its_kubelet(cluster):
    store.create(cluster, {**pod("web"), "metadata": {"name": "web", "finalizers": [HOLD]}})
    started(cluster, "web")
    store.delete_pod(cluster, "default", "web", by=store.API)

    without_finalizers(cluster, kinds.POD, "default", "web")

    assert store.get(cluster, kinds.POD, "default", "web")["metadata"]["deletionGracePeriodSeconds"] == 30
    store.delete(cluster, kinds.POD, "default", "web", by=store.KUBELET, options=store.DeleteOptions(grace_seconds=0))  # its containers stopped
    assert store.find(cluster, kinds.POD, "default", "web") is None


# --- the HTTP API: DELETE and deletecollection -----------------------------------------------

CONFIGMAPS = "/k8s/test/api/v1/namespaces/default/configmaps"


def delete(api: Client, path: str, body: dict | None = None) -> tuple[int, dict]:
    response = api.delete(path, data=json.dumps(body) if body is not None else "", content_type="application/json")
    return response.status_code, response.json()


def test_the_api_reads_delete_options_from_the_body(api, cluster):
    store.create(cluster, deployment("web"))

    code, body = delete(api, "/k8s/test/apis/apps/v1/namespaces/default/deployments/web", {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"})

    assert code == 200
    assert body["metadata"]["finalizers"] == ["foregroundDeletion"]


def test_the_api_answers_a_failed_precondition_with_a_409_status(api, cluster):
    store.create(cluster, configmap())

    code, body = delete(api, f"{CONFIGMAPS}/settings", {"preconditions": {"uid": "nope"}})

    assert (code, body["kind"], body["reason"]) == (409, "Status", "Conflict")
    assert "Precondition failed: UID in precondition: nope, UID in object meta: " in body["message"]
    assert store.find(cluster, kinds.CONFIGMAP, "default", "settings") is not None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"propagationPolicy": "Orphan", "orphanDependents": True}, 422),
        ({"propagationPolicy": "Sideways"}, 422),
        ({"gracePeriodSeconds": "soon"}, 400),
        ({"gracePeriodSeconds": True}, 400),
        ({"orphanDependents": "maybe"}, 400),
        ({"preconditions": ["uid"]}, 400),
        ({"preconditions": {"uid": 7}}, 400),
    ],
)
def test_the_api_refuses_bad_delete_options_with_a_status_and_writes_nothing(api, cluster, body, code):
    store.create(cluster, configmap())
    before = counts(cluster)

    answer_code, answer = delete(api, f"{CONFIGMAPS}/settings", body)

    assert (answer_code, answer["kind"], answer["code"]) == (code, "Status", code)
    assert counts(cluster) == before


def test_deletecollection_deletes_what_the_label_selector_matches_and_answers_the_list(api, cluster):
    for name, app in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        store.create(cluster, configmap(name, labels={"app": app}))

    code, body = delete(api, f"{CONFIGMAPS}?labelSelector=app%3Da")

    assert code == 200
    assert body["kind"] == "ConfigMapList" and sorted(i["metadata"]["name"] for i in body["items"]) == ["a1", "a2"]
    assert [c["metadata"]["name"] for c in store.list_docs(cluster, kinds.CONFIGMAP, "default")] == ["b1"]


def test_deletecollection_honours_field_selectors(api, cluster):
    for name in ("one", "two"):
        store.create(cluster, configmap(name))

    code, _ = delete(api, f"{CONFIGMAPS}?fieldSelector=metadata.name%3Dtwo")

    assert code == 200
    assert [c["metadata"]["name"] for c in store.list_docs(cluster, kinds.CONFIGMAP, "default")] == ["one"]


def test_deletecollection_deletes_each_pod_as_a_single_delete_would(api, cluster):
    for name in ("fresh", "running"):
        store.create(cluster, pod(name, labels={"app": "web"}))
    started(cluster, "running")

    code, _ = delete(api, "/k8s/test/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")

    assert code == 200
    assert store.find(cluster, kinds.POD, "default", "fresh") is None
    assert store.get(cluster, kinds.POD, "default", "running")["metadata"]["deletionGracePeriodSeconds"] == 30


def test_deletecollection_that_fails_on_one_item_writes_nothing(api, cluster):
    for name in ("one", "two"):
        store.create(cluster, configmap(name))
    before = counts(cluster)

    code, body = delete(api, CONFIGMAPS, {"preconditions": {"resourceVersion": "1"}})

    assert (code, body["reason"]) == (409, "Conflict")
    assert counts(cluster) == before


@pytest.mark.parametrize("path", ["/k8s/test/api/v1/namespaces", "/k8s/test/api/v1/pods", "/k8s/test/api/v1/nodes"])
def test_deletecollection_is_refused_where_kubernetes_has_none(api, cluster, path):
    before = counts(cluster)

    code, body = delete(api, path)

    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    assert counts(cluster) == before


# --- namespaces ------------------------------------------------------------------------------

def test_a_new_namespace_is_active_and_held_by_the_kubernetes_finalizer(cluster):
    created = store.create(cluster, {**namespace_doc("shop"), "spec": {}})

    assert created["spec"]["finalizers"] == ["kubernetes"]
    assert created["status"] == {"phase": "Active"}


def test_a_deleted_namespace_is_terminating_until_its_controller_finalizes_it(cluster):
    store.create(cluster, namespace_doc("shop"))

    kept = store.delete(cluster, kinds.NAMESPACE, "", "shop", by=store.API)

    assert kept["metadata"]["deletionTimestamp"]
    assert kept["status"]["phase"] == "Terminating"
    assert store.get(cluster, kinds.NAMESPACE, "", "shop")["spec"]["finalizers"] == ["kubernetes"]


def test_the_namespace_controller_deletes_the_content_and_waits_for_stopping_pods(cluster):
    store.create(cluster, namespace_doc("shop"))
    store.create(cluster, configmap("settings", namespace="shop"))
    store.create(cluster, pod("web"), namespace="shop")
    started(cluster, "web", "shop")
    store.delete(cluster, kinds.NAMESPACE, "", "shop", by=store.API)

    finalized = namespace_controller.reconcile(cluster, "shop")

    assert not finalized
    assert store.find(cluster, kinds.CONFIGMAP, "shop", "settings") is None
    assert store.get(cluster, kinds.POD, "shop", "web")["metadata"]["deletionTimestamp"]
    assert store.get(cluster, kinds.NAMESPACE, "", "shop")["status"]["phase"] == "Terminating"


def test_the_namespace_controller_finalizes_an_empty_namespace_and_it_goes(cluster):
    store.create(cluster, namespace_doc("shop"))
    store.create(cluster, pod("web"), namespace="shop")
    started(cluster, "web", "shop")
    store.delete(cluster, kinds.NAMESPACE, "", "shop", by=store.API)
    namespace_controller.reconcile(cluster, "shop")
    store.delete(cluster, kinds.POD, "shop", "web", by=store.KUBELET, options=store.DeleteOptions(grace_seconds=0))  # its containers stopped

    finalized = namespace_controller.reconcile(cluster, "shop")

    assert finalized
    assert store.find(cluster, kinds.NAMESPACE, "", "shop") is None


def test_a_namespace_waits_for_an_object_held_by_a_finalizer(cluster):
    store.create(cluster, namespace_doc("shop"))
    store.create(cluster, configmap("held", namespace="shop", finalizers=[HOLD]))
    store.delete(cluster, kinds.NAMESPACE, "", "shop", by=store.API)

    assert not namespace_controller.reconcile(cluster, "shop")
    without_finalizers(cluster, kinds.CONFIGMAP, "shop", "held")
    assert namespace_controller.reconcile(cluster, "shop")
    assert store.find(cluster, kinds.NAMESPACE, "", "shop") is None


def test_the_namespace_controller_leaves_a_live_namespace_alone(cluster):
    store.create(cluster, namespace_doc("shop"))
    store.create(cluster, configmap("settings", namespace="shop"))
    before = revision(cluster)

    assert not namespace_controller.reconcile(cluster, "shop")
    assert not namespace_controller.reconcile(cluster, "gone")
    assert revision(cluster) == before


def test_creating_in_a_terminating_namespace_is_forbidden_as_kubernetes_words_it(api, cluster):
    store.create(cluster, namespace_doc("shop"))
    store.create(cluster, configmap("held", namespace="shop", finalizers=[HOLD]))
    store.delete(cluster, kinds.NAMESPACE, "", "shop", by=store.API)
    before = counts(cluster)

    response = api.post("/k8s/test/api/v1/namespaces/shop/pods", data=json.dumps(pod("web")), content_type="application/json")

    body = response.json()
    assert (response.status_code, body["reason"], body["code"]) == (403, "Forbidden", 403)
    assert body["message"] == 'pods "web" is forbidden: unable to create new content in namespace shop because it is being terminated'
    assert body["details"]["causes"] == [{"reason": "NamespaceTerminating", "message": "namespace shop is being terminated", "field": "metadata.namespace"}]
    assert counts(cluster) == before


def test_the_components_cannot_create_workloads_in_a_terminating_namespace_either(cluster):
    store.create(cluster, namespace_doc("shop"))
    store.create(cluster, configmap("held", namespace="shop", finalizers=[HOLD]))
    store.delete(cluster, kinds.NAMESPACE, "", "shop", by=store.API)

    with pytest.raises(APIError) as caught:
        store.create(cluster, pod("web"), by=store.REPLICASET_CONTROLLER, namespace="shop")

    assert caught.value.code == 403


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_the_immortal_namespaces_cannot_be_deleted(api, cluster, name):
    before = counts(cluster)

    code, body = delete(api, f"/k8s/test/api/v1/namespaces/{name}")

    assert (code, body["reason"]) == (403, "Forbidden")
    assert body["message"] == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
    assert counts(cluster) == before


def test_a_namespace_update_cannot_drop_its_finalizer(cluster):
    current = store.create(cluster, namespace_doc("shop"))
    current["spec"]["finalizers"] = []
    current["metadata"]["labels"] = {"team": "a"}

    updated = store.update(cluster, current)

    assert updated["spec"]["finalizers"] == ["kubernetes"] and updated["metadata"]["labels"] == {"team": "a"}


def test_emptying_spec_finalizers_through_finalize_lets_a_terminating_namespace_go(api, cluster):
    store.create(cluster, namespace_doc("shop"))
    store.delete(cluster, kinds.NAMESPACE, "", "shop", by=store.API)

    response = api.put("/k8s/test/api/v1/namespaces/shop/finalize", data=json.dumps({**namespace_doc("shop"), "spec": {"finalizers": []}}), content_type="application/json")

    assert response.status_code == 200
    assert store.find(cluster, kinds.NAMESPACE, "", "shop") is None


def test_the_status_of_a_namespace_is_served_at_its_subresource(api, cluster):
    response = api.get("/k8s/test/api/v1/namespaces/default/status")

    assert (response.status_code, response.json()["kind"], response.json()["metadata"]["name"]) == (200, "Namespace", "default")


# --- wake-ups --------------------------------------------------------------------------------

def test_a_namespace_being_deleted_wakes_its_controller_and_its_content_leaving_does_too():
    ns = {"kind": "Namespace", "metadata": {"name": "shop", "uid": "n1", "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    cm = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop", "uid": "c1"}}

    assert (wake.RECONCILE_NAMESPACE, (7, "shop")) in set(wake.for_change(7, "MODIFIED", ns, ns, store.API))
    assert (wake.RECONCILE_NAMESPACE, (7, "shop")) in set(wake.for_change(7, "DELETED", cm, cm, store.API))
    assert not any(name == wake.RECONCILE_NAMESPACE for name, _ in wake.for_change(7, "DELETED", {**cm, "metadata": {**cm["metadata"], "namespace": "default"}}, {**cm, "metadata": {**cm["metadata"], "namespace": "default"}}, store.API))


def test_an_owner_waiting_for_the_collector_wakes_it_and_so_does_a_blocking_dependent_that_goes():
    owner = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "default", "uid": "d1", "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["foregroundDeletion"]}}
    dependent = {"kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "default", "uid": "r1", "ownerReferences": [{"uid": "d1", "controller": True, "blockOwnerDeletion": True}]}}

    assert (wake.COLLECT_GARBAGE, (7, "d1")) in set(wake.for_change(7, "MODIFIED", owner, owner, store.API))
    assert (wake.COLLECT_GARBAGE, (7, "d1")) in set(wake.for_change(7, "DELETED", dependent, dependent, store.GARBAGE_COLLECTOR))


# --- discovery tells the truth ---------------------------------------------------------------

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


def _discovered(api: Client) -> list[tuple[str, dict]]:
    """(group-version path, resource) for every resource of the aggregated discovery."""
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    found = []
    for root, prefix in (("/k8s/test/api", "/k8s/test/api"), ("/k8s/test/apis", "/k8s/test/apis")):
        for group in api.get(root, HTTP_ACCEPT=accept).json()["items"]:
            for version in group["versions"]:
                gv = f"{prefix}/{version['version']}" if not group["metadata"]["name"] else f"{prefix}/{group['metadata']['name']}/{version['version']}"
                found += [(gv, resource) for resource in version["resources"]]
    return found


def _served(response) -> bool:
    """Not served: 405, or a 404 that is about the route rather than the object."""
    if response.status_code == 405:
        return False
    if response.status_code == 404 and not getattr(response, "streaming", False):
        return not response.json().get("message", "").startswith("the server could not find the requested resource")
    return True


def _try(api: Client, base: str, verb: str, sub: str = ""):
    item = f"{base}/nope" + (f"/{sub}" if sub else "")
    body = json.dumps({"metadata": {}})
    if verb == "list":
        return api.get(base)
    if verb == "watch":
        response = api.get(base + "?watch=true&timeoutSeconds=1")
        response.close()
        return response
    if verb == "create":
        return api.post(item if sub else base, data=body, content_type="application/json")
    if verb == "get":
        return api.get(item)
    if verb == "update":
        return api.put(item, data=body, content_type="application/json")
    if verb == "patch":
        return api.patch(item, data="{}", content_type="application/merge-patch+json")
    if verb == "delete":
        return api.delete(item)
    return api.delete(base + "?labelSelector=podflow.dev%2Fnothing%3Dmatches")  # deletecollection


def test_discovery_advertises_exactly_the_verbs_each_resource_serves(api, cluster):
    wrong = []
    for gv, resource in _discovered(api):
        base = f"{gv}/namespaces/default/{resource['resource']}" if resource["scope"] == "Namespaced" else f"{gv}/{resource['resource']}"
        for verb in ALL_VERBS:
            served = _served(_try(api, base, verb))
            if served != (verb in resource["verbs"]):
                wrong.append(f"{resource['resource']} {verb}: advertised={verb in resource['verbs']} served={served}")
        for sub in resource.get("subresources") or []:
            for verb in ("create", "get", "update", "patch"):
                served = _served(_try(api, base, verb, sub["subresource"]))
                if served != (verb in sub["verbs"]):
                    wrong.append(f"{resource['resource']}/{sub['subresource']} {verb}: advertised={verb in sub['verbs']} served={served}")

    assert wrong == [], "\n".join(wrong)
    assert store.find(cluster, kinds.NAMESPACE, "", "default") is not None

