"""The Deployment controller, one reconcile at a time: fixture → reconcile → the writes made.

The ReplicaSet controller and the kubelet are played by hand (`rs_sync`, `start`,
`finish_terminating`), so each test decides exactly what happened between two passes.
"""
from __future__ import annotations

import random
from datetime import timedelta

import pytest

from cluster.apimachinery import kinds, metav1, pods
from cluster.apiserver import store
from cluster.controllers import deployment, replicaset
from cluster.controllers.deployment import CHANGE_CAUSE, DESIRED_REPLICAS, HASH_LABEL, MAX_REPLICAS, REVISION, REVISION_HISTORY
from cluster.models import Change

from .manifests import changes_after
from .manifests import deployment as deployment_manifest
from .manifests import replicaset as replicaset_manifest
from .manifests import revision
from .test_replicaset import run_at_once, worker_database  # noqa: F401 - a fixture

# --- fixtures and hands ------------------------------------------------------------------------

def make(cluster, replicas: int = 3, *, strategy: dict | None = None, **spec) -> dict:
    doc = deployment_manifest("web", replicas=replicas)
    if strategy is not None:
        doc["spec"]["strategy"] = strategy
    doc["spec"].update(spec)
    return store.create(cluster, doc, client="kubectl")


def rolling(surge, unavailable) -> dict:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}


def owned(cluster, dep: dict) -> list[dict]:
    return store.list_docs(cluster, kinds.REPLICASET, owner_uid=dep["metadata"]["uid"])


def by_image(cluster, dep: dict) -> dict[str, dict]:
    return {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in owned(cluster, dep)}


def pods_of(cluster, dep: dict) -> list[dict]:
    found = []
    for rs in owned(cluster, dep):
        found += store.list_docs(cluster, kinds.POD, owner_uid=rs["metadata"]["uid"])
    return found


def get(cluster) -> dict:
    return store.get(cluster, kinds.DEPLOYMENT, "default", "web")


def edit(cluster, change) -> dict:
    return store.mutate(cluster, kinds.DEPLOYMENT, "default", "web", change, by=store.API, validate=True)


def set_image(name: str):
    return lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image=name)


def reconcile(cluster, dep: dict) -> None:
    deployment.reconcile(cluster, dep["metadata"]["uid"])


def rs_sync(cluster, dep: dict) -> None:
    """The ReplicaSet controller, once for each of the Deployment's ReplicaSets."""
    for rs in owned(cluster, dep):
        replicaset.reconcile(cluster, rs["metadata"]["uid"])


def start(cluster, pod: dict, ready: bool = True) -> None:
    """The scheduler and kubelet: bound, running, Ready (or not)."""

    def run(doc: dict) -> None:
        doc["spec"]["nodeName"] = "node-1"
        doc["status"].update(phase="Running", hostIP="192.168.49.2")
        pods.set_condition(doc, "Ready", "True" if ready else "False")

    store.mutate(cluster, kinds.POD, "default", pod["metadata"]["name"], run, by=store.KUBELET)


def start_all(cluster, dep: dict) -> None:
    for pod in pods_of(cluster, dep):
        if pods.is_active(pod) and not pods.is_ready(pod):
            start(cluster, pod)


def finish_terminating(cluster, dep: dict) -> None:
    for pod in pods_of(cluster, dep):
        if pod["metadata"].get("deletionTimestamp"):
            store.remove(cluster, kinds.POD, "default", pod["metadata"]["name"], by=store.KUBELET)


def settle(cluster, dep: dict, rounds: int = 20) -> None:
    """Every component until nothing changes: the Deployment is rolled out and Ready."""
    for _ in range(rounds):
        before = revision(cluster)
        reconcile(cluster, dep)
        rs_sync(cluster, dep)
        start_all(cluster, dep)
        finish_terminating(cluster, dep)
        rs_sync(cluster, dep)
        if revision(cluster) == before:
            return
    raise AssertionError("the deployment did not settle")


def counts(cluster, dep: dict) -> dict[str, tuple[int, int, int]]:
    """Per image: (spec.replicas, active pods, ready pods)."""
    out = {}
    for image, rs in by_image(cluster, dep).items():
        mine = [p for p in store.list_docs(cluster, kinds.POD, owner_uid=rs["metadata"]["uid"]) if pods.is_active(p)]
        out[image] = (rs["spec"]["replicas"], len(mine), sum(1 for p in mine if pods.is_ready(p)))
    return out


def cond(doc: dict, type_: str) -> dict:
    return pods.condition(doc, type_) or {}


def scaling_events(cluster, after: int) -> list[str]:
    return [c.doc["message"] for c in changes_after(cluster, after) if c.kind == "Event" and c.doc["reason"] == "ScalingReplicaSet"]


def bounds_at_every_revision(cluster, dep: dict, after: int) -> list[tuple[int, int, int]]:
    """Replay the change log: (revision, pods not terminating, of those Ready) of the
    Deployment's pods, after every change past `after`."""
    rs_uids: set[str] = set()
    live: dict[str, dict] = {}
    seen = []
    for change in Change.objects.filter(cluster=cluster).order_by("revision"):
        doc = change.doc
        if change.kind == "ReplicaSet" and any(r.get("uid") == dep["metadata"]["uid"] for r in doc["metadata"].get("ownerReferences") or []):
            rs_uids.add(doc["metadata"]["uid"])
        if change.kind == "Pod":
            if change.type == Change.DELETED:
                live.pop(change.uid, None)
            else:
                live[change.uid] = doc
        if change.revision > after:
            mine = [
                p for p in live.values()
                if not p["metadata"].get("deletionTimestamp") and any(r.get("uid") in rs_uids for r in p["metadata"].get("ownerReferences") or [])
            ]
            seen.append((change.revision, len(mine), sum(1 for p in mine if pods.is_ready(p))))
    return seen


# --- one ReplicaSet per template ------------------------------------------------------------

def test_it_creates_one_replicaset_for_the_template(cluster):
    dep = make(cluster)
    before = revision(cluster)

    reconcile(cluster, dep)

    [rs] = owned(cluster, dep)
    pod_hash = rs["metadata"]["labels"][HASH_LABEL]
    assert pod_hash == deployment.template_hash(dep["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["labels"] == {"app": "web", HASH_LABEL: pod_hash}
    assert rs["metadata"]["annotations"] == {REVISION: "1", DESIRED_REPLICAS: "3", MAX_REPLICAS: "4"}
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

    reconcile(cluster, dep)

    written = get(cluster)
    [rs] = owned(cluster, dep)
    # Zero counts are left out, as Kubernetes' omitempty leaves them out.
    assert {k: v for k, v in written["status"].items() if k != "conditions"} == {"observedGeneration": 1, "unavailableReplicas": 3}
    assert [c["type"] for c in written["status"]["conditions"]] == ["Progressing", "Available"]
    progressing = cond(written, "Progressing")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == ("True", "NewReplicaSetCreated", f'Created new replica set "{rs["metadata"]["name"]}"')
    assert set(progressing) == {"type", "status", "lastUpdateTime", "lastTransitionTime", "reason", "message"}
    assert (cond(written, "Available")["status"], cond(written, "Available")["reason"]) == ("False", "MinimumReplicasUnavailable")
    assert written["metadata"]["annotations"][REVISION] == "1"


def test_it_counts_the_pods_and_reports_available_once_they_are_ready(cluster):
    dep = make(cluster)
    reconcile(cluster, dep)
    rs_sync(cluster, dep)
    reconcile(cluster, dep)
    status = get(cluster)["status"]
    assert (status["replicas"], status["updatedReplicas"], status["unavailableReplicas"]) == (3, 3, 3)
    assert "readyReplicas" not in status and "availableReplicas" not in status

    start_all(cluster, dep)
    rs_sync(cluster, dep)
    reconcile(cluster, dep)

    written = get(cluster)
    status = written["status"]
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"], status["availableReplicas"]) == (3, 3, 3, 3)
    assert "unavailableReplicas" not in status
    assert cond(written, "Available")["status"] == "True"
    progressing = cond(written, "Progressing")
    assert (progressing["reason"], progressing["message"]) == ("NewReplicaSetAvailable", f'ReplicaSet "{owned(cluster, dep)[0]["metadata"]["name"]}" has successfully progressed.')


def test_it_does_nothing_when_converged(cluster):
    dep = make(cluster)
    settle(cluster, dep)
    before = revision(cluster)

    reconcile(cluster, dep)

    assert revision(cluster) == before


def test_a_duplicate_wake_up_writes_nothing_more(cluster):
    dep = make(cluster, 4)
    settle(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))
    reconcile(cluster, dep)
    before = revision(cluster)
    rs_before = {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in owned(cluster, dep)}

    reconcile(cluster, dep)

    assert revision(cluster) == before
    assert {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in owned(cluster, dep)} == rs_before


def test_it_leaves_replicasets_it_does_not_own_alone(cluster):
    other = store.create(cluster, replicaset_manifest("other", labels={"app": "web"}))
    store.mutate(cluster, kinds.REPLICASET, "default", "other", lambda d: d["metadata"].update(ownerReferences=[{"apiVersion": "apps/v1", "kind": "Deployment", "name": "x", "uid": "someone-else", "controller": True}]), by=store.API)
    other = store.get(cluster, kinds.REPLICASET, "default", "other")
    dep = make(cluster)

    settle(cluster, dep)

    assert store.get(cluster, kinds.REPLICASET, "default", "other") == other
    assert len(owned(cluster, dep)) == 1


def test_it_adopts_an_orphaned_replicaset_of_its_template(cluster):
    dep = make(cluster)
    settle(cluster, dep)
    [rs] = owned(cluster, dep)
    store.remove(cluster, kinds.DEPLOYMENT, "default", "web", by=store.API)  # as --cascade=orphan leaves it
    store.mutate(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"], lambda d: d["metadata"].pop("ownerReferences"), by=store.GARBAGE_COLLECTOR)
    again = make(cluster)

    reconcile(cluster, again)

    [adopted] = owned(cluster, again)
    assert adopted["metadata"]["uid"] == rs["metadata"]["uid"] and adopted["spec"]["replicas"] == 3
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == again["metadata"]["uid"]


def test_it_ignores_a_deployment_being_deleted(cluster):
    dep = make(cluster)
    store.mark_deleted(cluster, kinds.DEPLOYMENT, "default", "web", by=store.API, grace_seconds=0)
    before = revision(cluster)

    reconcile(cluster, dep)

    assert revision(cluster) == before


def test_it_spells_the_template_hash_the_same_way_every_time():
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    labelled = {"metadata": {"labels": {"app": "web", HASH_LABEL: "x"}, "creationTimestamp": None}, "spec": template["spec"]}

    assert deployment.template_hash(template) == deployment.template_hash(labelled)
    assert len(deployment.template_hash(template)) == 10
    assert deployment.template_hash(template) != deployment.template_hash({**template, "spec": {"containers": []}})
    assert deployment.template_hash(template, 1) != deployment.template_hash(template)


# --- maxSurge and maxUnavailable ----------------------------------------------------------------

@pytest.mark.parametrize(
    "replicas,surge,unavailable,expected",
    [
        (4, "25%", "25%", (1, 1)),
        (10, "25%", "25%", (3, 2)),  # surge rounds up, unavailable rounds down
        (3, "25%", "25%", (1, 0)),
        (1, "25%", "25%", (1, 0)),
        (5, 2, 1, (2, 1)),
        (5, "0%", "0%", (0, 1)),  # never both zero
        (5, 0, 0, (0, 1)),
        (10, "100%", "50%", (10, 5)),
        (4, 0, 9, (0, 4)),  # maxUnavailable is at most the replicas
    ],
)
def test_it_resolves_max_surge_and_max_unavailable_as_kubernetes_does(replicas, surge, unavailable, expected):
    doc = {"spec": {"replicas": replicas, "strategy": rolling(surge, unavailable)}}

    assert (deployment.max_surge(doc), deployment.max_unavailable(doc)) == expected


def test_recreate_has_no_surge_and_no_unavailable_budget():
    doc = {"spec": {"replicas": 4, "strategy": {"type": "Recreate"}}}

    assert (deployment.max_surge(doc), deployment.max_unavailable(doc)) == (0, 0)


# --- scaling --------------------------------------------------------------------------------------

def test_it_scales_its_replicaset(cluster):
    dep = make(cluster)
    settle(cluster, dep)
    before = revision(cluster)
    edit(cluster, lambda d: d["spec"].update(replicas=5))

    reconcile(cluster, dep)

    [rs] = owned(cluster, dep)
    assert rs["spec"]["replicas"] == 5
    assert rs["metadata"]["annotations"][DESIRED_REPLICAS] == "5"
    assert rs["metadata"]["annotations"][MAX_REPLICAS] == "7"
    assert get(cluster)["status"]["observedGeneration"] == 2
    assert scaling_events(cluster, before) == [f"Scaled up replica set {rs['metadata']['name']} from 3 to 5"]


def test_it_scales_2_to_5_to_1(cluster):
    dep = make(cluster, 2)
    settle(cluster, dep)
    for replicas in (5, 1):
        edit(cluster, lambda d, n=replicas: d["spec"].update(replicas=n))
        settle(cluster, dep)
        [(spec, active, ready)] = counts(cluster, dep).values()
        assert (spec, active, ready) == (replicas, replicas, replicas)
        status = get(cluster)["status"]
        assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (replicas, replicas, replicas)


def test_scaling_during_a_rollout_shares_the_new_count_in_proportion(cluster):
    dep = make(cluster, 10)
    settle(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))
    reconcile(cluster, dep)
    rs_sync(cluster, dep)
    assert {k: v[0] for k, v in counts(cluster, dep).items()} == {"nginx": 8, "nginx:1.27": 3}

    edit(cluster, lambda d: d["spec"].update(replicas=20))
    reconcile(cluster, dep)

    sizes = {k: v[0] for k, v in counts(cluster, dep).items()}
    # 10 + 3 surge became 20 + 5: each grew by its share, round(8*25/13) = 15 and
    # round(3*25/13) = 6, and the 4 left over went to the biggest, as Kubernetes does.
    assert sizes == {"nginx": 19, "nginx:1.27": 6}
    assert {rs["metadata"]["annotations"][DESIRED_REPLICAS] for rs in owned(cluster, dep)} == {"20"}


# --- rolling update, one step at a time -------------------------------------------------------------

def test_the_first_pass_after_set_image_surges_and_scales_the_old_down_within_the_bounds(cluster):
    dep = make(cluster, 4)  # the default 25%/25%: surge 1, unavailable 1
    settle(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))
    before = revision(cluster)

    reconcile(cluster, dep)

    assert {k: v[0] for k, v in counts(cluster, dep).items()} == {"nginx": 3, "nginx:1.27": 1}
    new, old = by_image(cluster, dep)["nginx:1.27"], by_image(cluster, dep)["nginx"]
    assert new["metadata"]["annotations"][REVISION] == "2" and old["metadata"]["annotations"][REVISION] == "1"
    assert scaling_events(cluster, before) == [
        f"Scaled up replica set {new['metadata']['name']} from 0 to 1",
        f"Scaled down replica set {old['metadata']['name']} from 4 to 3",
    ]
    written = get(cluster)
    assert written["metadata"]["annotations"][REVISION] == "2"
    assert written["status"]["observedGeneration"] == 2
    assert cond(written, "Progressing")["reason"] == "NewReplicaSetCreated"


def test_new_pods_must_be_ready_before_more_old_ones_go(cluster):
    dep = make(cluster, 4, strategy=rolling(1, 0))
    settle(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))

    reconcile(cluster, dep)
    rs_sync(cluster, dep)
    assert counts(cluster, dep) == {"nginx": (4, 4, 4), "nginx:1.27": (1, 1, 0)}

    reconcile(cluster, dep)  # the new pod is not Ready: nothing may go
    assert counts(cluster, dep) == {"nginx": (4, 4, 4), "nginx:1.27": (1, 1, 0)}

    [new_pod] = [p for p in pods_of(cluster, dep) if not pods.is_ready(p)]
    start(cluster, new_pod)
    rs_sync(cluster, dep)
    reconcile(cluster, dep)
    assert {k: v[0] for k, v in counts(cluster, dep).items()} == {"nginx": 3, "nginx:1.27": 1}

    rs_sync(cluster, dep)  # one old pod terminating: room for one more new
    reconcile(cluster, dep)
    assert {k: v[0] for k, v in counts(cluster, dep).items()} == {"nginx": 3, "nginx:1.27": 2}


def test_a_scale_down_still_pending_leaves_no_room_to_surge(cluster):
    dep = make(cluster, 4, strategy=rolling(0, 1))
    settle(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))

    reconcile(cluster, dep)  # old 4 -> 3, but its 4th pod still runs
    assert {k: v[0] for k, v in counts(cluster, dep).items()} == {"nginx": 3, "nginx:1.27": 0}
    reconcile(cluster, dep)
    assert {k: v[0] for k, v in counts(cluster, dep).items()} == {"nginx": 3, "nginx:1.27": 0}

    rs_sync(cluster, dep)  # now it is terminating
    reconcile(cluster, dep)
    assert {k: v[0] for k, v in counts(cluster, dep).items()} == {"nginx": 3, "nginx:1.27": 1}


def test_unhealthy_old_pods_are_scaled_away_first(cluster):
    dep = make(cluster, 4, strategy=rolling(0, 1))
    reconcile(cluster, dep)
    rs_sync(cluster, dep)
    for i, pod in enumerate(pods_of(cluster, dep)):
        start(cluster, pod, ready=i < 2)  # two of four old pods never get Ready
    rs_sync(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))

    reconcile(cluster, dep)  # min available is 3 and only 2 are: only unready pods may go
    assert counts(cluster, dep)["nginx"][0] == 3
    rs_sync(cluster, dep)
    assert counts(cluster, dep)["nginx"] == (3, 3, 2)

    reconcile(cluster, dep)
    rs_sync(cluster, dep)
    [new_pod] = store.list_docs(cluster, kinds.POD, owner_uid=by_image(cluster, dep)["nginx:1.27"]["metadata"]["uid"])
    start(cluster, new_pod)
    rs_sync(cluster, dep)
    reconcile(cluster, dep)
    rs_sync(cluster, dep)

    assert counts(cluster, dep)["nginx"] == (2, 2, 2)


@pytest.mark.parametrize(
    "replicas,strategy",
    [
        (4, None),
        (10, rolling("25%", "25%")),
        (5, rolling(2, 0)),
        (5, rolling(0, 2)),
        (6, rolling("50%", "30%")),
        (3, rolling(0, "10%")),
    ],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_rolling_update_never_exceeds_the_surge_nor_drops_below_the_unavailable_bound(cluster, replicas, strategy, seed):
    """Every component in a random order (the seed), checked at every revision of the log."""
    dep = make(cluster, replicas, strategy=strategy)
    settle(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))
    after = revision(cluster)
    surge, unavailable = deployment.max_surge(get(cluster)), deployment.max_unavailable(get(cluster))
    rng = random.Random(seed)

    def ready_one():
        waiting = [p for p in pods_of(cluster, dep) if pods.is_active(p) and not pods.is_ready(p)]
        if waiting:
            start(cluster, rng.choice(waiting))

    def remove_one():
        going = [p for p in pods_of(cluster, dep) if p["metadata"].get("deletionTimestamp")]
        if going:
            store.remove(cluster, kinds.POD, "default", rng.choice(going)["metadata"]["name"], by=store.KUBELET)

    def one_rs():
        rss = owned(cluster, dep)
        replicaset.reconcile(cluster, rng.choice(rss)["metadata"]["uid"])

    for _ in range(3000):
        rng.choice([lambda: reconcile(cluster, dep), one_rs, one_rs, ready_one, remove_one])()
        if counts(cluster, dep) == {"nginx": (0, 0, 0), "nginx:1.27": (replicas, replicas, replicas)}:
            break
    else:
        raise AssertionError(f"no convergence: {counts(cluster, dep)}")
    reconcile(cluster, dep)

    seen = bounds_at_every_revision(cluster, dep, after)
    assert seen, "the rollout wrote nothing"
    assert max(total for _, total, _ in seen) <= replicas + surge
    assert min(ready for _, _, ready in seen) >= replicas - unavailable
    status = get(cluster)["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (replicas, replicas, replicas)
    assert cond(get(cluster), "Progressing")["reason"] == "NewReplicaSetAvailable"


# --- Recreate ----------------------------------------------------------------------------------------

def test_recreate_removes_every_old_pod_before_it_makes_new_ones(cluster):
    dep = make(cluster, 3, strategy={"type": "Recreate"})
    settle(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))

    reconcile(cluster, dep)
    assert counts(cluster, dep) == {"nginx": (0, 3, 3)}
    rs_sync(cluster, dep)  # the old pods are terminating, not gone
    reconcile(cluster, dep)
    assert set(by_image(cluster, dep)) == {"nginx"}

    finish_terminating(cluster, dep)
    reconcile(cluster, dep)

    assert {k: v[0] for k, v in counts(cluster, dep).items()} == {"nginx": 0, "nginx:1.27": 3}
    settle(cluster, dep)
    assert counts(cluster, dep) == {"nginx": (0, 0, 0), "nginx:1.27": (3, 3, 3)}
    assert get(cluster)["metadata"]["annotations"][REVISION] == "2"


# --- revisions and history ---------------------------------------------------------------------------

def test_it_gives_a_template_rolled_back_to_the_next_revision(cluster):
    dep = make(cluster)
    settle(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))
    settle(cluster, dep)
    old = by_image(cluster, dep)["nginx"]
    # kubectl rollout undo: the old ReplicaSet's template without the hash label, as Go prints it.
    template = old["spec"]["template"]
    template["metadata"]["labels"].pop(HASH_LABEL)
    template["metadata"]["creationTimestamp"] = None
    edit(cluster, lambda d: d["spec"].update(template=template))

    settle(cluster, dep)

    rss = by_image(cluster, dep)
    assert len(rss) == 2
    assert rss["nginx"]["metadata"]["uid"] == old["metadata"]["uid"]
    assert (rss["nginx"]["metadata"]["annotations"][REVISION], rss["nginx"]["spec"]["replicas"]) == ("3", 3)
    assert rss["nginx"]["metadata"]["annotations"][REVISION_HISTORY] == "1"
    assert (rss["nginx:1.27"]["metadata"]["annotations"][REVISION], rss["nginx:1.27"]["spec"]["replicas"]) == ("2", 0)
    assert get(cluster)["metadata"]["annotations"][REVISION] == "3"


def test_the_change_cause_goes_to_the_replicaset_and_last_applied_does_not(cluster):
    dep = make(cluster)
    edit(cluster, lambda d: d["metadata"].update(annotations={CHANGE_CAUSE: "first", "kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "a"}))

    reconcile(cluster, dep)

    [rs] = owned(cluster, dep)
    assert rs["metadata"]["annotations"][CHANGE_CAUSE] == "first"
    assert rs["metadata"]["annotations"]["team"] == "a"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in rs["metadata"]["annotations"]

    edit(cluster, lambda d: d["metadata"]["annotations"].update({CHANGE_CAUSE: "annotated later"}))
    reconcile(cluster, dep)
    assert owned(cluster, dep)[0]["metadata"]["annotations"][CHANGE_CAUSE] == "annotated later"


def test_old_replicasets_beyond_the_history_limit_are_deleted_oldest_first(cluster):
    dep = make(cluster, 2, revisionHistoryLimit=2)
    settle(cluster, dep)
    for tag in ("1.25", "1.26", "1.27", "1.28"):
        edit(cluster, set_image(f"nginx:{tag}"))
        settle(cluster, dep)

    left = {rs["metadata"]["annotations"][REVISION]: rs for rs in owned(cluster, dep)}
    assert set(left) == {"3", "4", "5"}  # the current one and two old ones
    assert left["5"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert all(left[r]["spec"]["replicas"] == 0 for r in ("3", "4"))


def test_a_history_limit_of_zero_keeps_only_the_current_replicaset(cluster):
    dep = make(cluster, 2, revisionHistoryLimit=0)
    settle(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))

    settle(cluster, dep)

    assert list(by_image(cluster, dep)) == ["nginx:1.27"]


# --- progress deadline -----------------------------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = metav1.now()

        def advance(self, seconds: float) -> None:
            self.now += timedelta(seconds=seconds)

    c = Clock()
    monkeypatch.setattr(metav1, "now", lambda: c.now)
    return c


def test_no_progress_for_progress_deadline_seconds_is_progress_deadline_exceeded(cluster, clock):
    dep = make(cluster, 2, progressDeadlineSeconds=30)
    settle(cluster, dep)
    edit(cluster, set_image("nginx:does-not-start"))
    reconcile(cluster, dep)
    rs_sync(cluster, dep)
    reconcile(cluster, dep)  # new pods exist, never Ready
    new_name = by_image(cluster, dep)["nginx:does-not-start"]["metadata"]["name"]

    clock.advance(29)
    reconcile(cluster, dep)
    assert cond(get(cluster), "Progressing")["status"] == "True"

    clock.advance(2)
    reconcile(cluster, dep)

    progressing = cond(get(cluster), "Progressing")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == ("False", "ProgressDeadlineExceeded", f'ReplicaSet "{new_name}" has timed out progressing.')
    before = revision(cluster)
    clock.advance(60)
    reconcile(cluster, dep)
    assert revision(cluster) == before


def test_progress_restarts_the_deadline(cluster, clock):
    dep = make(cluster, 2, progressDeadlineSeconds=30, strategy=rolling(2, 0))
    settle(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))
    reconcile(cluster, dep)
    rs_sync(cluster, dep)
    reconcile(cluster, dep)

    clock.advance(20)
    new_pods = [p for p in pods_of(cluster, dep) if not pods.is_ready(p)]
    start(cluster, new_pods[0])
    rs_sync(cluster, dep)
    reconcile(cluster, dep)
    assert cond(get(cluster), "Progressing")["lastUpdateTime"] == metav1.rfc3339()

    clock.advance(20)  # 40 s after the rollout began, 20 s after the last progress
    reconcile(cluster, dep)

    progressing = cond(get(cluster), "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("True", "ReplicaSetUpdated")


# --- pause and resume ------------------------------------------------------------------------------------

def test_a_paused_deployment_does_not_roll_out_but_still_scales(cluster):
    dep = make(cluster, 3)
    settle(cluster, dep)
    edit(cluster, lambda d: d["spec"].update(paused=True))
    reconcile(cluster, dep)
    progressing = cond(get(cluster), "Progressing")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")

    edit(cluster, set_image("nginx:1.27"))
    settle(cluster, dep)
    assert set(by_image(cluster, dep)) == {"nginx"}
    assert get(cluster)["metadata"]["annotations"][REVISION] == "1"

    edit(cluster, lambda d: d["spec"].update(replicas=5))
    settle(cluster, dep)
    assert counts(cluster, dep) == {"nginx": (5, 5, 5)}
    assert cond(get(cluster), "Progressing")["reason"] == "DeploymentPaused"

    edit(cluster, lambda d: d["spec"].update(paused=False))
    reconcile(cluster, dep)
    progressing = cond(get(cluster), "Progressing")
    assert progressing["status"] in ("Unknown", "True")
    assert "nginx:1.27" in by_image(cluster, dep)

    settle(cluster, dep)
    assert counts(cluster, dep) == {"nginx": (0, 0, 0), "nginx:1.27": (5, 5, 5)}
    assert cond(get(cluster), "Progressing")["reason"] == "NewReplicaSetAvailable"
    assert get(cluster)["metadata"]["annotations"][REVISION] == "2"


def test_pausing_and_resuming_are_written_as_kubernetes_writes_them(cluster):
    dep = make(cluster, 2)
    settle(cluster, dep)
    edit(cluster, lambda d: d["spec"].update(paused=True))
    reconcile(cluster, dep)
    edit(cluster, lambda d: d["spec"].update(paused=False))
    before = revision(cluster)

    reconcile(cluster, dep)

    written = [cond(c.doc, "Progressing") for c in changes_after(cluster, before) if c.kind == "Deployment"]
    assert [(c["status"], c["reason"], c["message"]) for c in written] == [
        ("Unknown", "DeploymentResumed", "Deployment is resumed"),
        ("True", "NewReplicaSetAvailable", f'ReplicaSet "{owned(cluster, dep)[0]["metadata"]["name"]}" has successfully progressed.'),
    ]


# --- two workers at once ---------------------------------------------------------------------------

def test_workers_reconciling_at_once_take_each_step_once(worker_database):
    from cluster.demo import ensure_cluster
    from cluster.models import Speed

    cluster, _ = ensure_cluster("workers", nodes=1, speed=Speed.INSTANT)
    dep = make(cluster, 4)

    assert run_at_once(worker_database, 3, lambda: reconcile(cluster, dep)) == []
    assert [rs["spec"]["replicas"] for rs in owned(cluster, dep)] == [4]

    settle(cluster, dep)
    edit(cluster, set_image("nginx:1.27"))
    before = revision(cluster)

    assert run_at_once(worker_database, 3, lambda: reconcile(cluster, dep)) == []

    assert {k: v[0] for k, v in counts(cluster, dep).items()} == {"nginx": 3, "nginx:1.27": 1}
    assert len(scaling_events(cluster, before)) == 2
    assert [c.kind for c in changes_after(cluster, before)].count("ReplicaSet") == 2
