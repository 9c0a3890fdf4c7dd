"""The endpoint and EndpointSlice controllers, one reconcile at a time: fixture → reconcile → what they wrote."""
from __future__ import annotations

from cluster.apimachinery import kinds, pods
from cluster.apiserver import store
from cluster.controllers import endpoints
from cluster.models import Change

from .manifests import changes_after, pod, revision


def service(name: str = "web", *, selector: dict | None = None, ports: list[dict] | None = None, **spec) -> dict:
    body = {"selector": {"app": name} if selector is None else selector, "ports": ports or [{"port": 80, "targetPort": 80}], **spec}
    if not body["selector"]:
        del body["selector"]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def running(cluster, name: str, ip: str, *, labels: dict | None = None, node: str = "node-1", ready: bool = True, ports: list[dict] | None = None) -> dict:
    """A pod as the scheduler and kubelet leave it: bound, with an IP, Ready or not."""
    manifest = pod(name, labels=labels or {"app": "web"})
    if ports:
        manifest["spec"]["containers"][0]["ports"] = ports
    store.create(cluster, manifest)

    def apply(doc: dict) -> None:
        doc["spec"]["nodeName"] = node
        doc["status"].update(phase="Running", podIP=ip, podIPs=[{"ip": ip}], hostIP="192.168.49.2")
        pods.set_condition(doc, "Ready", "True" if ready else "False")

    return store.mutate(cluster, kinds.POD, "default", name, apply, by=store.KUBELET)


def set_ready(cluster, name: str, ready: bool) -> None:
    store.mutate(cluster, kinds.POD, "default", name, lambda d: pods.set_condition(d, "Ready", "True" if ready else "False"), by=store.KUBELET)


def endpoints_of(cluster, name: str = "web") -> dict:
    return store.get(cluster, kinds.ENDPOINTS, "default", name)


def slices_of(cluster, name: str = "web") -> list[dict]:
    return endpoints.managed_slices(cluster, "default", name)


def ips(addresses: list[dict] | None) -> list[str]:
    return [a["ip"] for a in addresses or []]


def test_it_lists_the_ready_pods_and_keeps_the_not_ready_apart(cluster):
    store.create(cluster, service())
    a = running(cluster, "web-a", "10.244.1.5", node="node-1")
    running(cluster, "web-b", "10.244.2.7", node="node-2")
    running(cluster, "web-c", "10.244.3.9", node="node-3", ready=False)
    running(cluster, "other", "10.244.1.6", labels={"app": "other"})

    endpoints.reconcile(cluster, "default", "web")

    [subset] = endpoints_of(cluster)["subsets"]
    assert ips(subset["addresses"]) == ["10.244.1.5", "10.244.2.7"]
    assert ips(subset["notReadyAddresses"]) == ["10.244.3.9"]
    assert subset["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert subset["addresses"][0] == {
        "ip": "10.244.1.5",
        "nodeName": "node-1",
        "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-a", "uid": a["metadata"]["uid"]},
    }


def test_it_writes_one_endpointslice_owned_by_the_service_with_each_pods_conditions(cluster):
    svc = store.create(cluster, service())
    running(cluster, "web-a", "10.244.1.5")
    running(cluster, "web-c", "10.244.3.9", node="node-3", ready=False)

    endpoints.reconcile(cluster, "default", "web")

    [es] = slices_of(cluster)
    assert es["metadata"]["name"].startswith("web-")
    assert es["metadata"]["labels"] == {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io", "kubernetes.io/service-name": "web"}
    assert es["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]
    assert es["addressType"] == "IPv4"
    assert es["ports"] == [{"name": "", "port": 80, "protocol": "TCP"}]
    assert [(e["addresses"], e["conditions"], e["nodeName"], e["targetRef"]["name"]) for e in es["endpoints"]] == [
        (["10.244.1.5"], {"ready": True, "serving": True, "terminating": False}, "node-1", "web-a"),
        (["10.244.3.9"], {"ready": False, "serving": False, "terminating": False}, "node-3", "web-c"),
    ]


def test_it_does_nothing_when_converged(cluster):
    store.create(cluster, service())
    running(cluster, "web-a", "10.244.1.5")
    endpoints.reconcile(cluster, "default", "web")
    before = revision(cluster)

    endpoints.reconcile(cluster, "default", "web")
    endpoints.reconcile_namespace(cluster, "default")

    assert revision(cluster) == before


def test_a_pod_that_becomes_ready_moves_to_addresses(cluster):
    store.create(cluster, service())
    running(cluster, "web-a", "10.244.1.5", ready=False)
    endpoints.reconcile(cluster, "default", "web")
    assert "addresses" not in endpoints_of(cluster)["subsets"][0]

    set_ready(cluster, "web-a", True)
    endpoints.reconcile(cluster, "default", "web")

    [subset] = endpoints_of(cluster)["subsets"]
    assert ips(subset["addresses"]) == ["10.244.1.5"] and "notReadyAddresses" not in subset
    assert slices_of(cluster)[0]["endpoints"][0]["conditions"]["ready"] is True


def test_a_pod_that_loses_its_label_drops_out(cluster):
    store.create(cluster, service())
    running(cluster, "web-a", "10.244.1.5")
    running(cluster, "web-b", "10.244.2.7")
    endpoints.reconcile(cluster, "default", "web")

    store.mutate(cluster, kinds.POD, "default", "web-b", lambda d: d["metadata"]["labels"].update(app="debug"), by=store.API)
    endpoints.reconcile(cluster, "default", "web")

    assert ips(endpoints_of(cluster)["subsets"][0]["addresses"]) == ["10.244.1.5"]
    assert [e["targetRef"]["name"] for e in slices_of(cluster)[0]["endpoints"]] == ["web-a"]


def test_a_terminating_pod_leaves_the_endpoints_but_stays_in_its_slice_as_terminating(cluster):
    store.create(cluster, service())
    running(cluster, "web-a", "10.244.1.5")
    running(cluster, "web-b", "10.244.2.7")
    store.mark_deleted(cluster, kinds.POD, "default", "web-b", by=store.API, grace_seconds=30)

    endpoints.reconcile(cluster, "default", "web")

    assert ips(endpoints_of(cluster)["subsets"][0]["addresses"]) == ["10.244.1.5"]
    conditions = {e["targetRef"]["name"]: e["conditions"] for e in slices_of(cluster)[0]["endpoints"]}
    assert conditions["web-b"] == {"ready": False, "serving": True, "terminating": True}


def test_a_deleted_pod_leaves_and_a_pod_without_an_ip_is_not_listed(cluster):
    store.create(cluster, service())
    running(cluster, "web-a", "10.244.1.5")
    running(cluster, "web-b", "10.244.2.7")
    endpoints.reconcile(cluster, "default", "web")
    store.remove(cluster, kinds.POD, "default", "web-b", by=store.KUBELET)
    store.create(cluster, pod("web-new", labels={"app": "web"}))

    endpoints.reconcile(cluster, "default", "web")

    assert ips(endpoints_of(cluster)["subsets"][0]["addresses"]) == ["10.244.1.5"]
    assert [e["targetRef"]["name"] for e in slices_of(cluster)[0]["endpoints"]] == ["web-a"]


def test_a_named_target_port_is_looked_up_in_each_pods_containers(cluster):
    store.create(cluster, service(ports=[{"name": "http", "port": 80, "targetPort": "web"}]))
    running(cluster, "web-a", "10.244.1.5", ports=[{"name": "web", "containerPort": 8080}])
    running(cluster, "web-b", "10.244.2.7", ports=[{"name": "web", "containerPort": 9090}])
    running(cluster, "web-c", "10.244.3.9")  # no port named "web": left out

    endpoints.reconcile(cluster, "default", "web")

    subsets = endpoints_of(cluster)["subsets"]
    assert sorted((ips(s["addresses"]), s["ports"][0]["port"]) for s in subsets) == [(["10.244.1.5"], 8080), (["10.244.2.7"], 9090)]
    assert all(s["ports"][0]["name"] == "http" for s in subsets)
    assert sorted(es["ports"][0]["port"] for es in slices_of(cluster)) == [8080, 9090]


def test_a_service_with_no_pods_has_empty_endpoints_and_one_empty_slice(cluster):
    store.create(cluster, service())

    endpoints.reconcile(cluster, "default", "web")

    assert "subsets" not in endpoints_of(cluster)
    [es] = slices_of(cluster)
    assert (es["endpoints"], es["ports"]) == ([], [])


def test_a_slice_holds_at_most_a_hundred_endpoints(cluster):
    store.create(cluster, service())
    for i in range(101):
        running(cluster, f"web-{i:03d}", f"10.244.{1 + i // 250}.{1 + i % 250}")

    endpoints.reconcile(cluster, "default", "web")

    assert sorted(len(es["endpoints"]) for es in slices_of(cluster)) == [1, 100]
    assert len(endpoints_of(cluster)["subsets"][0]["addresses"]) == 101


def test_deleting_the_service_removes_its_endpoints_and_slices(cluster):
    store.create(cluster, service())
    running(cluster, "web-a", "10.244.1.5")
    endpoints.reconcile(cluster, "default", "web")
    store.remove(cluster, kinds.SERVICE, "default", "web", by=store.API)
    before = revision(cluster)

    endpoints.reconcile(cluster, "default", "web")

    assert store.find(cluster, kinds.ENDPOINTS, "default", "web") is None
    assert slices_of(cluster) == []
    assert [(c.type, c.kind) for c in changes_after(cluster, before)] == [(Change.DELETED, "Endpoints"), (Change.DELETED, "EndpointSlice")]


def test_it_leaves_the_endpoints_of_a_service_without_a_selector_to_the_user(cluster):
    store.create(cluster, service("db", selector={}))
    store.create(cluster, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "db"}, "subsets": [{"addresses": [{"ip": "192.168.49.10"}], "ports": [{"port": 5432}]}]})
    before = revision(cluster)

    endpoints.reconcile(cluster, "default", "db")

    assert revision(cluster) == before
    assert ips(endpoints_of(cluster, "db")["subsets"][0]["addresses"]) == ["192.168.49.10"]


def test_it_puts_back_what_someone_else_changed(cluster):
    store.create(cluster, service())
    running(cluster, "web-a", "10.244.1.5")
    endpoints.reconcile(cluster, "default", "web")
    store.remove(cluster, kinds.ENDPOINTS, "default", "web", by=store.API)
    [es] = slices_of(cluster)
    store.mutate(cluster, kinds.ENDPOINTSLICE, "default", es["metadata"]["name"], lambda d: d.update(endpoints=[]), by=store.API)

    endpoints.reconcile(cluster, "default", "web")

    assert ips(endpoints_of(cluster)["subsets"][0]["addresses"]) == ["10.244.1.5"]
    assert [s["metadata"]["name"] for s in slices_of(cluster)] == [es["metadata"]["name"]]
    assert slices_of(cluster)[0]["endpoints"][0]["addresses"] == ["10.244.1.5"]


def test_a_namespace_pass_reconciles_every_service_there(cluster):
    store.create(cluster, service("web"))
    store.create(cluster, service("all-apps", selector={"tier": "front"}))
    running(cluster, "web-a", "10.244.1.5", labels={"app": "web", "tier": "front"})

    endpoints.reconcile_namespace(cluster, "default")

    assert ips(endpoints_of(cluster, "web")["subsets"][0]["addresses"]) == ["10.244.1.5"]
    assert ips(endpoints_of(cluster, "all-apps")["subsets"][0]["addresses"]) == ["10.244.1.5"]


def test_the_resync_visits_each_namespace_with_services_and_the_service_of_an_orphan_slice(cluster):
    store.create(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    store.create(cluster, service("web"))
    store.create(cluster, {**service("cart"), "metadata": {"name": "cart", "namespace": "shop"}})
    store.create(cluster, service("gone"))
    endpoints.reconcile(cluster, "default", "gone")
    store.remove(cluster, kinds.SERVICE, "default", "gone", by=store.API)

    assert endpoints.namespaces_with_services(cluster) == ["default", "shop"]
    assert endpoints.orphaned_services(cluster) == [("default", "gone")]
