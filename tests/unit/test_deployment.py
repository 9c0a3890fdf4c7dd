"""The Deployment controller, one reconcile at a time."""
from __future__ import annotations

from cluster import kinds, pods, store
from cluster.controllers import deployment
from cluster.controllers.deployment import HASH_LABEL, REVISION
from cluster.models import Change

from .manifests import changes_after, deployment as deployment_manifest, revision


def make(cluster, replicas: int = 3) -> dict:
    return store.create(cluster, deployment_manifest("web", replicas=replicas), client="kubectl")


def owned(cluster, dep: dict) -> list[dict]:
    return store.list_docs(cluster, kinds.REPLICASET, owner_uid=dep["metadata"]["uid"])


def edit(cluster, change) -> dict:
    return store.mutate(cluster, kinds.DEPLOYMENT, "default", "web", change, by=store.API)


def test_it_creates_one_replicaset_for_the_template(cluster):
    dep = make(cluster)
    before = revision(cluster)

    deployment.reconcile(cluster, dep["metadata"]["uid"])

    [rs] = owned(cluster, dep)
    pod_hash = rs["metadata"]["labels"][HASH_LABEL]
    assert pod_hash == deployment.template_hash(dep["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["labels"] == {"app": "web", HASH_LABEL: pod_hash}
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert rs["metadata"]["ownerReferences"] == [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": dep["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    ]
    assert rs["spec"]["replicas"] == 3
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "web", HASH_LABEL: pod_hash}}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", HASH_LABEL: pod_hash}
    log = changes_after(cluster, before)
    assert [(c.type, c.kind) for c in log] == [(Change.ADDED, "ReplicaSet"), (Change.ADDED, "Event"), (Change.MODIFIED, "Deployment")]
    assert (log[1].doc["reason"], log[1].doc["message"]) == ("ScalingReplicaSet", f"Scaled up replica set web-{pod_hash} from 0 to 3")


def test_it_writes_the_deployment_status_and_revision(cluster):
    dep = make(cluster)

    deployment.reconcile(cluster, dep["metadata"]["uid"])

    written = store.get(cluster, kinds.DEPLOYMENT, "default", "web")
    status = written["status"]
    assert (status["observedGeneration"], status["replicas"], status["availableReplicas"], status["unavailableReplicas"]) == (1, 0, 0, 3)
    assert pods.condition(written, "Available")["status"] == "False"
    assert pods.condition(written, "Progressing")["reason"] == "ReplicaSetUpdated"
    assert written["metadata"]["annotations"][REVISION] == "1"


def test_it_reports_available_once_the_replicaset_is(cluster):
    dep = make(cluster)
    deployment.reconcile(cluster, dep["metadata"]["uid"])
    [rs] = owned(cluster, dep)
    full = {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3}
    store.mutate(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"], lambda d: d.update(status=full), by=store.REPLICASET_CONTROLLER)

    deployment.reconcile(cluster, dep["metadata"]["uid"])

    written = store.get(cluster, kinds.DEPLOYMENT, "default", "web")
    assert (written["status"]["updatedReplicas"], written["status"]["readyReplicas"]) == (3, 3)
    assert "unavailableReplicas" not in written["status"]
    assert pods.condition(written, "Available")["status"] == "True"
    assert pods.condition(written, "Progressing")["reason"] == "NewReplicaSetAvailable"


def test_it_does_nothing_when_converged(cluster):
    dep = make(cluster)
    deployment.reconcile(cluster, dep["metadata"]["uid"])
    before = revision(cluster)

    deployment.reconcile(cluster, dep["metadata"]["uid"])

    assert revision(cluster) == before


def test_it_scales_its_replicaset(cluster):
    dep = make(cluster)
    deployment.reconcile(cluster, dep["metadata"]["uid"])
    edit(cluster, lambda d: d["spec"].update(replicas=5))

    deployment.reconcile(cluster, dep["metadata"]["uid"])

    [rs] = owned(cluster, dep)
    assert rs["spec"]["replicas"] == 5
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"
    assert store.get(cluster, kinds.DEPLOYMENT, "default", "web")["status"]["observedGeneration"] == 2


def test_it_makes_a_new_replicaset_for_a_new_template_and_scales_the_old_one_to_zero(cluster):
    dep = make(cluster)
    deployment.reconcile(cluster, dep["metadata"]["uid"])
    [first] = owned(cluster, dep)
    edit(cluster, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:1.27"))

    deployment.reconcile(cluster, dep["metadata"]["uid"])

    by_revision = {rs["metadata"]["annotations"][REVISION]: rs for rs in owned(cluster, dep)}
    assert set(by_revision) == {"1", "2"}
    assert by_revision["1"]["metadata"]["uid"] == first["metadata"]["uid"]
    assert by_revision["1"]["spec"]["replicas"] == 0
    assert by_revision["2"]["spec"]["replicas"] == 3
    assert by_revision["2"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert store.get(cluster, kinds.DEPLOYMENT, "default", "web")["metadata"]["annotations"][REVISION] == "2"


def test_it_spells_the_template_hash_the_same_way_every_time():
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    labelled = {"metadata": {"labels": {"app": "web", HASH_LABEL: "x"}}, "spec": template["spec"]}

    assert deployment.template_hash(template) == deployment.template_hash(labelled)
    assert len(deployment.template_hash(template)) == 10
    assert deployment.template_hash(template) != deployment.template_hash({**template, "spec": {"containers": []}})


def test_it_ignores_a_deployment_being_deleted(cluster):
    dep = make(cluster)
    store.mark_deleted(cluster, kinds.DEPLOYMENT, "default", "web", by=store.API, grace_seconds=0)
    before = revision(cluster)

    deployment.reconcile(cluster, dep["metadata"]["uid"])

    assert revision(cluster) == before


def test_it_gives_a_template_rolled_back_to_the_next_revision(cluster):
    dep = make(cluster)
    deployment.reconcile(cluster, dep["metadata"]["uid"])
    image = lambda name: lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image=name)  # noqa: E731
    edit(cluster, image("nginx:1.27"))
    deployment.reconcile(cluster, dep["metadata"]["uid"])
    edit(cluster, image("nginx"))  # kubectl rollout undo

    deployment.reconcile(cluster, dep["metadata"]["uid"])

    by_image = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in owned(cluster, dep)}
    assert len(by_image) == 2
    assert (by_image["nginx"]["metadata"]["annotations"][REVISION], by_image["nginx"]["spec"]["replicas"]) == ("3", 3)
    assert (by_image["nginx:1.27"]["metadata"]["annotations"][REVISION], by_image["nginx:1.27"]["spec"]["replicas"]) == ("2", 0)
    assert store.get(cluster, kinds.DEPLOYMENT, "default", "web")["metadata"]["annotations"][REVISION] == "3"
