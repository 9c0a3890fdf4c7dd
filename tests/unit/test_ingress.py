"""Ingress and IngressClass: validation, the default class, Tables, the ingress controller
one pass at a time, and simulated requests routed by host and path."""
from __future__ import annotations

import json
import random

import pytest
from django.test import Client

from cluster.apimachinery import kinds, pods
from cluster.apimachinery.errors import APIError
from cluster.apiserver import registry, store
from cluster.apiserver.registry import validation
from cluster.apiserver.serializers import tables
from cluster.componentbase import events
from cluster.controllers import endpoints, ingress

from .manifests import revision
from .test_endpoints import running, service

BASE = "/k8s/test/podflow/v1/namespaces/default/ingresses"
APIS = "/k8s/test/apis/networking.k8s.io/v1"


def backend(name: str, port: int | str = 80) -> dict:
    return {"service": {"name": name, "port": {"number": port} if isinstance(port, int) else {"name": port}}}


def path(value: str, service_name: str, path_type: str = "Prefix", port: int | str = 80) -> dict:
    return {"path": value, "pathType": path_type, "backend": backend(service_name, port)}


def manifest(name: str = "web", *, rules: list | None = None, **spec) -> dict:
    body: dict = dict(spec)
    if rules is not None:
        body["rules"] = rules
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name}, "spec": body}


def rule(host: str | None, *paths: dict) -> dict:
    found: dict = {"http": {"paths": list(paths)}}
    if host is not None:
        found["host"] = host
    return found


def causes(doc: dict) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in registry.strategy(doc["kind"]).validate(doc)]


@pytest.fixture
def api(cluster) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {cluster.token}")


# --- validation ---------------------------------------------------------------------------

def test_it_accepts_kubectls_simple_ingress():
    assert causes(manifest(rules=[rule("foo.com", path("/bar", "svc1", "Exact", 8080))])) == []


def test_it_refuses_an_ingress_with_neither_rules_nor_default_backend():
    assert causes(manifest()) == [("spec", "Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified")]


def test_it_accepts_a_default_backend_alone():
    assert causes(manifest(defaultBackend=backend("web"))) == []


def test_it_requires_a_path_type():
    doc = manifest(rules=[rule("foo.com", {"path": "/", "backend": backend("web")})])
    assert causes(doc) == [("spec.rules[0].http.paths[0].pathType", "Required value: pathType must be specified")]


def test_it_names_the_supported_path_types():
    doc = manifest(rules=[rule("foo.com", path("/", "web", "Regex"))])
    assert causes(doc) == [("spec.rules[0].http.paths[0].pathType", 'Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"')]


@pytest.mark.parametrize("path_type", ["Prefix", "Exact"])
def test_it_requires_an_absolute_path_for_prefix_and_exact(path_type):
    doc = manifest(rules=[rule(None, path("api", "web", path_type))])
    assert causes(doc) == [("spec.rules[0].http.paths[0].path", 'Invalid value: "api": must be an absolute path')]


def test_it_refuses_dot_segments_in_a_path():
    doc = manifest(rules=[rule(None, path("/a/../b", "web"), path("/a/.", "web"))])
    assert causes(doc) == [
        ("spec.rules[0].http.paths[0].path", "Invalid value: \"/a/../b\": must not contain '/../'"),
        ("spec.rules[0].http.paths[1].path", "Invalid value: \"/a/.\": cannot end with '/.'"),
    ]


def test_it_accepts_an_empty_implementation_specific_path():
    assert causes(manifest(rules=[rule(None, {"pathType": "ImplementationSpecific", "backend": backend("web")})])) == []


def test_it_requires_exactly_one_of_port_name_and_number():
    both = {"service": {"name": "web", "port": {"name": "http", "number": 80}}}
    neither = {"service": {"name": "web", "port": {}}}
    doc = manifest(rules=[rule(None, {"path": "/", "pathType": "Prefix", "backend": both}, {"path": "/x", "pathType": "Prefix", "backend": neither})])
    assert causes(doc) == [
        ("spec.rules[0].http.paths[0].backend", 'Invalid value: "": cannot set both port name & port number'),
        ("spec.rules[0].http.paths[1].backend", "Required value: port name or number is required"),
    ]


def test_it_checks_the_backend_service_name_and_port_number():
    doc = manifest(defaultBackend={"service": {"name": "Web", "port": {"number": 70000}}})
    assert [f for f, _ in causes(doc)] == ["spec.defaultBackend.service.name", "spec.defaultBackend.service.port.number"]
    assert causes(doc)[1][1] == "Invalid value: 70000: must be between 1 and 65535, inclusive"


def test_it_requires_a_service_or_resource_backend():
    assert causes(manifest(defaultBackend={})) == [("spec.defaultBackend", 'Invalid value: "": resource or service backend is required')]


def test_it_accepts_a_wildcard_host_and_refuses_other_stars_and_ips():
    assert causes(manifest(rules=[rule("*.foo.com", path("/", "web"))])) == []
    bad = manifest(rules=[rule("foo.*.com", path("/", "web")), rule("10.0.0.1", path("/", "web")), rule("Foo.com", path("/", "web"))])
    found = causes(bad)
    assert [f for f, _ in found] == ["spec.rules[0].host", "spec.rules[1].host", "spec.rules[2].host"]
    assert found[0][1].startswith('Invalid value: "foo.*.com": a wildcard DNS-1123 subdomain must start with \'*.\'')
    assert found[1][1] == 'Invalid value: "10.0.0.1": must be a DNS name, not an IP address'
    assert "a lowercase RFC 1123 subdomain" in found[2][1]


def test_it_requires_paths_in_an_http_rule():
    assert causes(manifest(rules=[{"host": "foo.com", "http": {"paths": []}}])) == [("spec.rules[0].http.paths", "Required value")]


def test_it_checks_tls_hosts_and_secret_names():
    doc = manifest(defaultBackend=backend("web"), tls=[{"hosts": ["*.foo.com", "bad_host"], "secretName": "Bad"}])
    assert [f for f, _ in causes(doc)] == ["spec.tls[0].hosts[1]", "spec.tls[0].secretName"]


def test_it_survives_any_json_shape_in_the_spec():
    for spec in ([], "x", {"rules": "x"}, {"rules": [1]}, {"rules": [{"http": 3}]}, {"defaultBackend": {"service": 4}}, {"tls": [{"hosts": [1]}]}):
        doc = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "x"}, "spec": spec}
        assert causes(doc), spec


def test_an_ingress_class_needs_a_domain_prefixed_controller():
    def klass(controller) -> dict:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "c"}, "spec": {"controller": controller}}

    assert causes(klass("acme.io/ingress")) == []
    assert causes(klass("")) == [("spec.controller", "Required value")]
    assert causes(klass("nginx")) == [("spec.controller", 'Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")')]


def test_an_ingress_class_keeps_its_controller(cluster):
    with pytest.raises(APIError) as err:
        store.mutate(cluster, kinds.INGRESSCLASS, "", "podflow", lambda d: d["spec"].update(controller="acme.io/other"), by=store.API, validate=True)
    assert err.value.code == 422 and err.value.causes[0].field == "spec.controller"
    assert "field is immutable" in err.value.causes[0].message


def test_an_invalid_ingress_is_a_422_status_and_writes_nothing(cluster, api):
    before = revision(cluster)

    response = api.post(APIS + "/namespaces/default/ingresses", data=json.dumps(manifest(rules=[rule("foo.com", path("bar", "web"))])), content_type="application/json")

    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith('Ingress.networking.k8s.io "web" is invalid: spec.rules[0].http.paths[0].path')
    assert body["details"]["causes"][0]["field"] == "spec.rules[0].http.paths[0].path"
    assert revision(cluster) == before


# --- defaulting: the DefaultIngressClass admission plugin ------------------------------------

def test_every_new_cluster_has_the_default_podflow_class(cluster):
    klass = store.get(cluster, kinds.INGRESSCLASS, "", "podflow")
    assert klass["spec"] == {"controller": "podflow.dev/ingress-controller"}
    assert klass["metadata"]["annotations"] == {"ingressclass.kubernetes.io/is-default-class": "true"}


def test_an_ingress_without_a_class_is_given_the_default_one(cluster):
    created = store.create(cluster, manifest(defaultBackend=backend("web")))

    assert created["spec"]["ingressClassName"] == "podflow"
    assert created["status"] == {"loadBalancer": {}}
    assert created["metadata"]["generation"] == 1


def test_a_named_class_is_kept_and_the_old_annotation_gets_no_class(cluster):
    named = store.create(cluster, manifest("named", defaultBackend=backend("web"), ingressClassName="other"))
    annotated = manifest("annotated", defaultBackend=backend("web"))
    annotated["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}

    assert named["spec"]["ingressClassName"] == "other"
    assert "ingressClassName" not in store.create(cluster, annotated)["spec"]


def test_the_old_annotation_and_the_class_field_together_are_refused(cluster):
    doc = manifest(defaultBackend=backend("web"), ingressClassName="podflow")
    doc["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}

    with pytest.raises(APIError) as err:
        store.create(cluster, doc)

    assert err.value.causes[0].field == "annotations.kubernetes.io/ingress.class"
    assert err.value.causes[0].message == 'Invalid value: "nginx": can not be set when the class field is also set'


def test_without_a_default_class_an_ingress_gets_none(cluster):
    store.remove(cluster, kinds.INGRESSCLASS, "", "podflow", by=store.API)

    assert "ingressClassName" not in store.create(cluster, manifest(defaultBackend=backend("web")))["spec"]


# --- Tables -------------------------------------------------------------------------------

def test_the_table_has_kubernetes_columns():
    assert [c["name"] for c in tables.INGRESS_COLUMNS] == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    assert [c["name"] for c in tables.INGRESSCLASS_COLUMNS] == ["Name", "Controller", "Parameters", "Age"]


def test_the_row_shows_hosts_address_and_ports():
    doc = manifest(rules=[rule("foo.com", path("/", "a")), rule("bar.com", path("/", "b"))], ingressClassName="podflow", tls=[{"hosts": ["foo.com"]}])
    doc["metadata"]["creationTimestamp"] = None
    doc["status"] = {"loadBalancer": {"ingress": [{"ip": "192.168.49.3"}, {"ip": "192.168.49.2"}]}}

    assert tables.ingress_row(doc)[:5] == ["web", "podflow", "foo.com,bar.com", "192.168.49.2,192.168.49.3", "80, 443"]
    assert tables.ingress_address(doc) == "192.168.49.2,..."  # what the printer would clip to, were it not wide


def test_the_row_shows_a_star_without_hosts_and_counts_more_than_three():
    no_host = manifest(rules=[rule(None, path("/", "a"))])
    many = manifest(rules=[rule(f"h{i}.com", path("/", "a")) for i in range(5)])

    assert tables.ingress_row(no_host)[1:5] == ["<none>", "*", "", "80"]
    assert tables.ingress_hosts(many) == "h0.com,h1.com,h2.com + 2 more..."


def test_the_default_class_is_marked_in_its_row(cluster):
    assert tables.ingressclass_row(store.get(cluster, kinds.INGRESSCLASS, "", "podflow"))[:3] == ["podflow (default)", "podflow.dev/ingress-controller", "<none>"]


def test_kubectl_get_ing_gets_a_table(cluster, api):
    store.create(cluster, manifest(rules=[rule("foo.com", path("/", "web"))]))

    table = api.get(APIS + "/namespaces/default/ingresses", HTTP_ACCEPT="application/json;as=Table;v=v1;g=meta.k8s.io").json()

    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    assert table["rows"][0]["cells"][:5] == ["web", "podflow", "foo.com", "", "80"]


def test_discovery_serves_the_networking_group_with_the_short_name(api):
    listed = api.get("/k8s/test/apis/networking.k8s.io/v1").json()
    by_name = {r["name"]: r for r in listed["resources"]}

    assert by_name["ingresses"]["shortNames"] == ["ing"] and by_name["ingresses"]["namespaced"] is True
    assert by_name["ingressclasses"]["namespaced"] is False
    assert "ingresses/status" in by_name


# --- the controller, one pass at a time -----------------------------------------------------

def addresses(cluster, name: str = "web") -> list[dict]:
    return store.get(cluster, kinds.INGRESS, "default", name)["status"]["loadBalancer"].get("ingress", [])


def test_it_gives_an_ingress_the_ready_nodes_addresses_and_says_sync(cluster):
    created = store.create(cluster, manifest(defaultBackend=backend("web")))

    ingress.reconcile(cluster, "default", "web")

    assert addresses(cluster) == [{"ip": "192.168.49.2"}, {"ip": "192.168.49.3"}, {"ip": "192.168.49.4"}]
    assert events.reasons_for(cluster, created["metadata"]["uid"]) == ["Sync"]


def test_a_second_pass_writes_nothing(cluster):
    store.create(cluster, manifest(defaultBackend=backend("web")))
    ingress.reconcile(cluster, "default", "web")
    before = revision(cluster)

    ingress.reconcile(cluster, "default", "web")

    assert revision(cluster) == before
    assert ingress.ingresses_to_resync(cluster) == []


def test_a_changed_spec_is_synced_again(cluster):
    created = store.create(cluster, manifest(defaultBackend=backend("web")))
    ingress.reconcile(cluster, "default", "web")
    store.mutate(cluster, kinds.INGRESS, "default", "web", lambda d: d["spec"].update(rules=[rule("foo.com", path("/", "web"))]), by=store.API, validate=True)

    ingress.reconcile(cluster, "default", "web")

    assert events.reasons_for(cluster, created["metadata"]["uid"]) == ["Sync", "Sync"]


def test_it_leaves_another_controllers_ingress_alone(cluster):
    store.create(cluster, manifest(defaultBackend=backend("web"), ingressClassName="nginx"))
    before = revision(cluster)

    ingress.reconcile(cluster, "default", "web")

    assert revision(cluster) == before and addresses(cluster) == []


def test_a_node_that_is_not_ready_leaves_the_address_list(cluster):
    store.create(cluster, manifest(defaultBackend=backend("web")))
    ingress.reconcile(cluster, "default", "web")
    store.mutate(cluster, kinds.NODE, "", "node-2", lambda d: pods.set_condition(d, "Ready", "Unknown"), by="node-controller")

    assert ingress.ingresses_to_resync(cluster) == [("default", "web")]
    ingress.sync_all(cluster)

    assert addresses(cluster) == [{"ip": "192.168.49.2"}, {"ip": "192.168.49.4"}]


def test_sync_all_for_a_service_passes_only_over_the_ingresses_naming_it(cluster):
    store.create(cluster, manifest("a", defaultBackend=backend("web")))
    store.create(cluster, manifest("b", defaultBackend=backend("api")))

    ingress.sync_all(cluster, "default", "api")

    assert addresses(cluster, "a") == [] and len(addresses(cluster, "b")) == 3


# --- routing --------------------------------------------------------------------------------

def test_an_exact_host_wins_over_a_wildcard_and_the_wildcard_over_no_host():
    doc = manifest(rules=[rule(None, path("/", "any")), rule("*.foo.com", path("/", "wild")), rule("a.foo.com", path("/", "exact"))])

    assert ingress.route(doc, "a.foo.com", "/").backend == backend("exact")
    assert ingress.route(doc, "b.foo.com", "/").backend == backend("wild")
    assert ingress.route(doc, "x.b.foo.com", "/").backend == backend("any")  # a wildcard covers one label
    assert ingress.route(doc, "foo.com", "/").backend == backend("any")


@pytest.mark.parametrize("request_path,matches", [("/foo", True), ("/foo/", True), ("/foo/bar", True), ("/foobar", False), ("/", False)])
def test_a_prefix_matches_by_path_elements(request_path, matches):
    assert ingress.path_matches("Prefix", "/foo", request_path) is matches


def test_exact_matches_only_the_same_path():
    assert ingress.path_matches("Exact", "/foo", "/foo")
    assert not ingress.path_matches("Exact", "/foo", "/foo/")


def test_the_longest_path_wins_and_exact_wins_a_tie():
    doc = manifest(rules=[rule("foo.com", path("/", "root"), path("/api", "api-prefix"), path("/api", "api-exact", "Exact"), path("/api/v2", "v2", "ImplementationSpecific"))])

    assert ingress.route(doc, "foo.com", "/api").backend == backend("api-exact")
    assert ingress.route(doc, "foo.com", "/api/users").backend == backend("api-prefix")
    assert ingress.route(doc, "foo.com", "/api/v2/users").backend == backend("v2")
    assert ingress.route(doc, "foo.com", "/other").backend == backend("root")


def test_nothing_matched_goes_to_the_default_backend_or_nowhere():
    rules = [rule("foo.com", path("/app", "app"))]

    assert ingress.route(manifest(rules=rules, defaultBackend=backend("fallback")), "foo.com", "/x") == ingress.Route(backend("fallback"))
    assert ingress.route(manifest(rules=rules), "foo.com", "/x") is None
    assert ingress.route(manifest(rules=rules), "bar.com", "/app") is None


def two_services(cluster) -> None:
    """Services web and api, each with one ready pod; an Ingress routing foo.com/ and foo.com/api."""
    store.create(cluster, service("web"))
    store.create(cluster, service("api"))
    running(cluster, "web-1", "10.244.1.10", labels={"app": "web"})
    running(cluster, "api-1", "10.244.2.10", labels={"app": "api"}, node="node-2")
    endpoints.reconcile(cluster, "default", "web")
    endpoints.reconcile(cluster, "default", "api")
    store.create(cluster, manifest(rules=[rule("foo.com", path("/", "web"), path("/api", "api"))]))
    ingress.reconcile(cluster, "default", "web")


def test_a_request_names_the_rule_the_service_and_the_pod(cluster):
    two_services(cluster)

    answer = ingress.request(cluster, store.get(cluster, kinds.INGRESS, "default", "web"), host="foo.com:80", path="/api/users?x=1", rng=random.Random(1))

    assert answer.status == 200
    body = answer.body
    assert body["rule"] == {"index": 0, "host": "foo.com", "path": "/api", "pathType": "Prefix", "pathIndex": 1}
    assert (body["service"], body["servicePort"], body["pod"], body["podIP"], body["body"]) == ("api", 80, "api-1", "10.244.2.10", "Welcome to nginx!")
    assert (body["host"], body["path"]) == ("foo.com", "/api/users")
    assert body["address"] in {"192.168.49.2", "192.168.49.3", "192.168.49.4"}


def test_an_unmatched_request_is_the_default_backends_404(cluster):
    two_services(cluster)

    answer = ingress.request(cluster, store.get(cluster, kinds.INGRESS, "default", "web"), host="bar.com", path="/")

    assert answer.status == 404
    assert answer.body["body"] == "default backend - 404" and answer.body["rule"] is None


def test_a_service_without_ready_endpoints_is_a_503(cluster):
    two_services(cluster)
    store.mutate(cluster, kinds.POD, "default", "api-1", lambda d: pods.set_condition(d, "Ready", "False"), by=store.KUBELET)
    endpoints.reconcile(cluster, "default", "api")

    answer = ingress.request(cluster, store.get(cluster, kinds.INGRESS, "default", "web"), host="foo.com", path="/api")

    assert answer.status == 503
    assert "has no ready endpoints" in answer.body["error"] and answer.body["service"] == "api"


def test_a_missing_service_is_a_503_too(cluster):
    store.create(cluster, manifest(defaultBackend=backend("gone")))
    ingress.reconcile(cluster, "default", "web")

    answer = ingress.request(cluster, store.get(cluster, kinds.INGRESS, "default", "web"))

    assert answer.status == 503 and 'services "gone" not found' in answer.body["error"]


def test_the_request_endpoint_answers_json_and_counts(cluster, api):
    two_services(cluster)

    one = api.get(BASE + "/web/request?host=foo.com&path=/api")
    many = api.post(BASE + "/web/request", data={"host": "foo.com", "path": "/nope/..", "count": 5}, content_type="application/json")
    missing = api.get(BASE + "/nope/request")

    assert (one.status_code, one["Content-Type"], one.json()["pod"]) == (200, "application/json", "api-1")
    assert many.status_code == 200 and many.json()["byPod"] == {"web-1": 5} and many.json()["byStatus"] == {"200": 5}
    assert missing.status_code == 404 and missing.json()["message"] == 'ingresses.networking.k8s.io "nope" not found'


def test_bad_request_options_are_400_not_500(cluster, api):
    two_services(cluster)
    before = revision(cluster)

    for query in ("?count=0", "?count=x", "?count=101"):
        assert api.get(BASE + "/web/request" + query).status_code == 400
    assert api.post(BASE + "/web/request", data={"host": ["a"]}, content_type="application/json").status_code == 400
    assert api.put(BASE + "/web/request").status_code == 405
    assert revision(cluster) == before


# --- what wakes the controller ----------------------------------------------------------------

def test_a_users_write_wakes_the_controller_and_its_own_status_write_does_not(cluster):
    from cluster.informers import wake

    doc = store.create(cluster, manifest(defaultBackend=backend("web")))

    assert list(wake.for_change(cluster.pk, "ADDED", None, doc, store.API)) == [(wake.RECONCILE_INGRESS, (cluster.pk, "default", "web"))]
    assert list(wake.for_change(cluster.pk, "MODIFIED", doc, doc, store.INGRESS_CONTROLLER)) == []


def test_a_node_readiness_flip_and_a_backend_service_wake_the_ingresses(cluster):
    from cluster.informers import wake

    node = store.get(cluster, kinds.NODE, "", "node-1")
    not_ready = json.loads(json.dumps(node))
    pods.set_condition(not_ready, "Ready", "Unknown")
    svc = store.create(cluster, service("web"))

    assert (wake.SYNC_INGRESSES, (cluster.pk, "", "")) in list(wake.for_change(cluster.pk, "MODIFIED", node, not_ready, "node-controller"))
    assert (wake.SYNC_INGRESSES, (cluster.pk, "default", "web")) in list(wake.for_change(cluster.pk, "ADDED", None, svc, store.API))
    assert (wake.SYNC_INGRESSES, (cluster.pk, "", "")) not in list(wake.for_change(cluster.pk, "MODIFIED", node, node, store.KUBELET))


def test_openapi_v3_lists_the_networking_group_for_apply(api):
    index = api.get("/k8s/test/openapi/v3").json()
    document = api.get(index["paths"]["apis/networking.k8s.io/v1"]["serverRelativeURL"]).json()

    patch = document["paths"]["/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"}
    assert "/apis/networking.k8s.io/v1/ingressclasses/{name}" in document["paths"]
