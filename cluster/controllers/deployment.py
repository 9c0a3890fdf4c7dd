"""The Deployment controller: a Deployment owns one ReplicaSet per pod template.

It follows kube-controller-manager's pkg/controller/deployment, function for function:
sync.go (revisions, proportional scaling, history clean-up, status), rolling.go
(maxSurge / maxUnavailable), recreate.go, and progress.go (the Progressing condition and
its deadline). A call is one level-triggered pass inside `store.locked`: read, take the
next step, write the status, return; run again, it has nothing more to do.

One deliberate difference: where Kubernetes counts pods through the ReplicaSets' status
(which lags), this pass counts the ReplicaSets' pods as stored now, under the same lock.
So the bounds of a rolling update (never more than replicas + maxSurge pods, never fewer
than replicas - maxUnavailable available) hold at every revision of the change log, not
only once the status has caught up.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from datetime import timedelta

from cluster.apimachinery import kinds, metav1, pods, selectors
from cluster.apimachinery.errors import APIError
from cluster.apiserver import rows, store
from cluster.apiserver.registry import validation
from cluster.componentbase import events
from cluster.controllers import replicaset
from cluster.models import Cluster

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
# Annotations of the Deployment that are not copied to its ReplicaSets (annotationsToSkip).
NOT_COPIED = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.daemonset.template.generation",
}
REVISION_HISTORY_CHARS = 2000

# Reasons of the Progressing condition, as Kubernetes spells them.
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# --- templates and hashes ---------------------------------------------------------------

def normalized_template(template: dict) -> dict:
    """The template as the API server would store it, without the pod-template-hash label.

    Two templates that normalise alike are the same template (EqualIgnoreHash): a template
    brought back by `kubectl rollout undo` (which sends `creationTimestamp: null`) finds
    its old ReplicaSet again.
    """
    clean = copy.deepcopy(template or {})
    meta = clean.get("metadata") if isinstance(clean.get("metadata"), dict) else {}
    meta = {k: v for k, v in meta.items() if v is not None}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HASH_LABEL}
    meta.pop("labels", None)
    if labels:
        meta["labels"] = labels
    if not meta.get("annotations"):
        meta.pop("annotations", None)
    clean["metadata"] = meta
    validation.default_pod_spec(clean.setdefault("spec", {}))
    return clean


def template_hash(template: dict, collision_count: int = 0) -> str:
    """A short, stable hash of a pod template, spelled as Kubernetes spells them."""
    data = json.dumps(normalized_template(template), sort_keys=True)
    if collision_count:
        data += f"#{collision_count}"
    digest = int.from_bytes(hashlib.sha256(data.encode()).digest()[:8], "big")
    out = []
    for _ in range(10):
        digest, rem = divmod(digest, len(_ALPHABET))
        out.append(_ALPHABET[rem])
    return "".join(out)


def same_template(a: dict, b: dict) -> bool:
    return normalized_template(a) == normalized_template(b)


def new_replicaset(deployment: dict, pod_hash: str, revision: int, replicas: int | None = None) -> dict:
    """The ReplicaSet for the Deployment's current template (getNewReplicaSet)."""
    meta, spec = deployment["metadata"], deployment["spec"]
    template = copy.deepcopy(spec["template"])
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
    template["metadata"].pop("creationTimestamp", None)
    selector = copy.deepcopy(spec["selector"])
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    want = int(spec.get("replicas", 1))
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in NOT_COPIED}
    annotations.update({REVISION: str(revision), DESIRED_REPLICAS: str(want), MAX_REPLICAS: str(want + max_surge(deployment))})
    rs_spec: dict = {"replicas": want if replicas is None else replicas, "selector": selector, "template": template}
    if spec.get("minReadySeconds"):
        rs_spec["minReadySeconds"] = spec["minReadySeconds"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta["namespace"],
            "labels": dict(template["metadata"]["labels"]),
            "annotations": annotations,
            "ownerReferences": [metav1.owner_reference(deployment)],
        },
        "spec": rs_spec,
    }


# --- maxSurge and maxUnavailable --------------------------------------------------------

def scaled_value(value, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int, or a percent of `total`."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        try:
            percent = int(text[:-1])
        except ValueError:
            return 0
        exact = percent * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    try:
        return int(text)
    except ValueError:
        return 0


def is_rolling(deployment: dict) -> bool:
    return ((deployment["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def fenceposts(deployment: dict) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods: surge rounds up, unavailable down; never both 0."""
    replicas = int(deployment["spec"].get("replicas", 1))
    rolling = (deployment["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(deployment: dict) -> int:
    return fenceposts(deployment)[0] if is_rolling(deployment) else 0


def max_unavailable(deployment: dict) -> int:
    replicas = int(deployment["spec"].get("replicas", 1))
    if not is_rolling(deployment) or replicas == 0:
        return 0
    return min(fenceposts(deployment)[1], replicas)


# --- conditions (DeploymentCondition: lastUpdateTime and lastTransitionTime) -------------

def get_condition(conditions: list[dict], type_: str) -> dict | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def new_condition(type_: str, status: str, reason: str, message: str) -> dict:
    moment = metav1.rfc3339()
    return {"type": type_, "status": status, "lastUpdateTime": moment, "lastTransitionTime": moment, "reason": reason, "message": message}


def set_condition(conditions: list[dict], cond: dict) -> None:
    """SetDeploymentCondition: same status and reason is no change; a changed one goes last."""
    current = get_condition(conditions, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond["lastTransitionTime"] = current.get("lastTransitionTime", cond["lastTransitionTime"])
    conditions[:] = [c for c in conditions if c.get("type") != cond["type"]] + [cond]


def remove_condition(conditions: list[dict], type_: str) -> None:
    conditions[:] = [c for c in conditions if c.get("type") != type_]


def _round(x: float) -> int:
    """Go's math.Round: halves away from zero."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


# --- what the controller sees -------------------------------------------------------------

class Owned:
    """One ReplicaSet of the Deployment and its pods as stored now."""

    def __init__(self, doc: dict, pod_docs: list[dict]) -> None:
        self.doc = doc
        self.pods = pod_docs

    @property
    def name(self) -> str:
        return self.doc["metadata"]["name"]

    @property
    def uid(self) -> str:
        return self.doc["metadata"]["uid"]

    @property
    def replicas(self) -> int:
        return int(self.doc["spec"].get("replicas", 1))

    @property
    def revision(self) -> int:
        try:
            return int((self.doc["metadata"].get("annotations") or {}).get(REVISION, "0") or 0)
        except ValueError:
            return 0

    @property
    def created(self) -> tuple:
        return (self.doc["metadata"].get("creationTimestamp", ""), self.name)

    def annotation(self, key: str) -> int | None:
        try:
            return int((self.doc["metadata"].get("annotations") or {})[key])
        except (KeyError, ValueError):
            return None

    @property
    def active(self) -> int:
        """Pods neither finished nor being deleted: what the ReplicaSet's status counts."""
        return sum(1 for p in self.pods if pods.is_active(p))

    @property
    def ready(self) -> int:
        return sum(1 for p in self.pods if pods.is_active(p) and pods.is_ready(p))

    @property
    def alive(self) -> int:
        """Pods not finished, terminating ones included: Recreate waits for these to go."""
        return sum(1 for p in self.pods if not pods.is_terminal(p))

    @property
    def ceiling(self) -> int:
        """The most pods it can have: its spec, or more while a scale-down is pending."""
        return max(self.replicas, self.active)

    @property
    def kept_available(self) -> int:
        """Ready pods that stay when it converges to its spec (not-ready pods go first)."""
        return min(self.ready, self.replicas)


def _pods_of(cluster: Cluster, uids: list[str]) -> dict[str, list[dict]]:
    """Each ReplicaSet's pods, reduced to what counting them reads (the database extracts
    those fields: a Deployment of hundreds of pods is not decoded whole on every pass)."""
    found: dict[str, list[dict]] = {uid: [] for uid in uids}
    if not uids:  # a new Deployment's first pass: nothing to count, no query to build
        return found
    for _, owner, deleting, phase, conditions in rows.json_fields(cluster.pk, "Pod", replicaset.POD_COUNTED, owner_uids=uids):
        meta = {"deletionTimestamp": deleting} if deleting else {}
        found[owner].append({"metadata": meta, "status": {"phase": phase, "conditions": conditions or []}})
    return found


# --- the pass ---------------------------------------------------------------------------------

def reconcile(cluster: Cluster, uid: str) -> None:
    with store.locked(cluster):
        deployment = store.by_uid(cluster, uid)
        if deployment is None or deployment["kind"] != "Deployment" or deployment["metadata"].get("deletionTimestamp"):
            return
        Sync(cluster, deployment).run()


class Sync:
    """One syncDeployment: the Deployment, its ReplicaSets, and the writes of this pass."""

    def __init__(self, cluster: Cluster, deployment: dict) -> None:
        self.cluster = cluster
        self.d = deployment
        self.ns = deployment["metadata"]["namespace"]
        self.replicas = int(deployment["spec"].get("replicas", 1))
        self.stored_status = deployment.get("status") or {}
        self.conditions: list[dict] = copy.deepcopy(self.stored_status.get("conditions") or [])
        self.collision_count = int(self.stored_status.get("collisionCount") or 0)
        self.revision: str | None = None
        self.rss = self._replicasets()
        self.new = self._find_new()

    # -- reading --------------------------------------------------------------------

    def _replicasets(self) -> list[Owned]:
        uid = self.d["metadata"]["uid"]
        self._adopt_orphans()
        docs = store.list_docs(self.cluster, kinds.REPLICASET, self.ns, owner_uid=uid)
        by_rs = _pods_of(self.cluster, [rs["metadata"]["uid"] for rs in docs])
        owned = [Owned(rs, by_rs[rs["metadata"]["uid"]]) for rs in docs]
        owned.sort(key=lambda rs: rs.created)
        return owned

    def _adopt_orphans(self) -> None:
        """A ReplicaSet with no controller that the selector matches becomes this one's."""
        selector = self.d["spec"].get("selector")
        for rs in store.list_docs(self.cluster, kinds.REPLICASET, self.ns, owner_uid=""):
            if metav1.controller_ref(rs) is not None or rs["metadata"].get("deletionTimestamp"):
                continue
            if not selectors.matches(selector, rs["metadata"].get("labels")):
                continue

            def adopt(doc: dict) -> None:
                doc["metadata"]["ownerReferences"] = [*(doc["metadata"].get("ownerReferences") or []), metav1.owner_reference(self.d)]

            store.mutate(self.cluster, kinds.REPLICASET, self.ns, rs["metadata"]["name"], adopt, by=store.DEPLOYMENT_CONTROLLER, expected_uid=rs["metadata"]["uid"])

    def _find_new(self) -> Owned | None:
        """The oldest ReplicaSet whose template is the Deployment's (FindNewReplicaSet)."""
        template = self.d["spec"]["template"]
        return next((rs for rs in self.rss if same_template(rs.doc["spec"].get("template") or {}, template)), None)

    @property
    def old(self) -> list[Owned]:
        return [rs for rs in self.rss if rs is not self.new]

    @property
    def paused(self) -> bool:
        return bool(self.d["spec"].get("paused"))

    @property
    def has_deadline(self) -> bool:
        return self.d["spec"].get("progressDeadlineSeconds") is not None

    # -- syncDeployment ------------------------------------------------------------------

    def run(self) -> None:
        self.check_paused_conditions()
        if self.paused or self.is_scaling_event():
            return self.sync()
        if not is_rolling(self.d):
            return self.rollout_recreate()
        return self.rollout_rolling()

    def check_paused_conditions(self) -> None:
        """Progressing goes Unknown on pause and on resume, so a pause never times out."""
        if not self.has_deadline:
            return
        cond = get_condition(self.conditions, "Progressing")
        if cond is not None and cond.get("reason") == TIMED_OUT:
            return
        paused_before = cond is not None and cond.get("reason") == PAUSED
        if self.paused and not paused_before:
            set_condition(self.conditions, new_condition("Progressing", "Unknown", PAUSED, "Deployment is paused"))
        elif not self.paused and paused_before:
            set_condition(self.conditions, new_condition("Progressing", "Unknown", RESUMED, "Deployment is resumed"))
        else:
            return
        # Written at once, as Kubernetes does, so the change log shows the pause or resume.
        conditions = copy.deepcopy(self.conditions)

        def apply(doc: dict) -> None:
            doc.setdefault("status", {})["conditions"] = conditions

        store.mutate(self.cluster, kinds.DEPLOYMENT, self.ns, self.d["metadata"]["name"], apply, by=store.DEPLOYMENT_CONTROLLER, expected_uid=self.d["metadata"]["uid"])

    def is_scaling_event(self) -> bool:
        """An active ReplicaSet was sized for another replica count than the spec's."""
        self.sync_revision(create=False)
        for rs in self.rss:
            desired = rs.annotation(DESIRED_REPLICAS)
            if rs.replicas > 0 and desired is not None and desired != self.replicas:
                return True
        return False

    def sync(self) -> None:
        """Scaling (and anything while paused): resize, never roll out a new template."""
        self.sync_revision(create=False)
        self.scale()
        if self.paused:
            self.cleanup()
        self.write_status(self.calculate_status())

    # -- revisions and the new ReplicaSet ---------------------------------------------------

    def sync_revision(self, *, create: bool) -> None:
        """getAllReplicaSetsAndSyncRevision: stamp (or create) the new ReplicaSet."""
        new_revision = max((rs.revision for rs in self.old), default=0) + 1
        if self.new is not None:
            self._stamp_new(new_revision)
            self.revision = str(self.new.revision)
            if self.has_deadline and get_condition(self.conditions, "Progressing") is None:
                set_condition(self.conditions, new_condition("Progressing", "True", FOUND_NEW_RS, f'Found new replica set "{self.new.name}"'))
        elif create:
            self._create_new(new_revision)

    def _stamp_new(self, new_revision: int) -> None:
        """SetNewReplicaSetAnnotations: copy the Deployment's annotations, raise the revision."""
        source = self.d["metadata"].get("annotations") or {}
        min_ready = self.d["spec"].get("minReadySeconds")

        def stamp(doc: dict) -> None:
            annotations = doc["metadata"].setdefault("annotations", {})
            for key, value in source.items():
                if key not in NOT_COPIED:
                    annotations[key] = value
            old = annotations.get(REVISION)
            try:
                old_int = int(old or 0)
            except ValueError:
                old_int = 0
            if old_int < new_revision:
                annotations[REVISION] = str(new_revision)
                if old:  # rolled back to: keep the revisions it had
                    history = [r for r in annotations.get(REVISION_HISTORY, "").split(",") if r] + [old]
                    while len(",".join(history)) > REVISION_HISTORY_CHARS:
                        history.pop(0)
                    annotations[REVISION_HISTORY] = ",".join(history)
            if (doc["spec"].get("minReadySeconds") or 0) != (min_ready or 0):
                if min_ready:
                    doc["spec"]["minReadySeconds"] = min_ready
                else:
                    doc["spec"].pop("minReadySeconds", None)

        self.new.doc = store.mutate(self.cluster, kinds.REPLICASET, self.ns, self.new.name, stamp, by=store.DEPLOYMENT_CONTROLLER, expected_uid=self.new.uid)

    def _create_new(self, new_revision: int) -> None:
        placeholder = Owned({"metadata": {"name": "", "uid": ""}, "spec": {"replicas": 0}}, [])
        count = self.new_rs_new_replicas(placeholder, others=self.rss)
        client = rows.client_of(self.cluster.pk, self.d["metadata"]["uid"]) or ""
        for _ in range(20):
            doc = new_replicaset(self.d, template_hash(self.d["spec"]["template"], self.collision_count), new_revision, count)
            try:
                created = store.create(self.cluster, doc, by=store.DEPLOYMENT_CONTROLLER, client=client, namespace=self.ns)
                break
            except APIError as err:
                if err.reason != "AlreadyExists":
                    raise
                # A ReplicaSet of another template holds the name: a hash collision.
                self.collision_count += 1
        else:
            return
        self.new = Owned(created, [])
        self.rss.append(self.new)
        if count > 0:
            _scaled(self.cluster, self.d, self.new.name, 0, count)
        self.revision = str(new_revision)
        if self.has_deadline:
            set_condition(self.conditions, new_condition("Progressing", "True", NEW_RS_CREATED, f'Created new replica set "{self.new.name}"'))

    # -- scaling -----------------------------------------------------------------------------

    def scale_rs(self, rs: Owned, replicas: int, *, annotate_only_if_resized: bool = True) -> bool:
        """scaleReplicaSet(AndRecordEvent): set the size and the replicas annotations."""
        if annotate_only_if_resized and rs.replicas == replicas:
            return False
        desired, most = str(self.replicas), str(self.replicas + max_surge(self.d))
        before = rs.replicas
        annotations = rs.doc["metadata"].get("annotations") or {}
        if before == replicas and annotations.get(DESIRED_REPLICAS) == desired and annotations.get(MAX_REPLICAS) == most:
            return False

        def resize(doc: dict) -> None:
            doc["spec"]["replicas"] = replicas
            doc["metadata"].setdefault("annotations", {}).update({DESIRED_REPLICAS: desired, MAX_REPLICAS: most})

        rs.doc = store.mutate(self.cluster, kinds.REPLICASET, self.ns, rs.name, resize, by=store.DEPLOYMENT_CONTROLLER, expected_uid=rs.uid)
        if before != replicas:
            _scaled(self.cluster, self.d, rs.name, before, replicas)
            return True
        return False

    def scale(self) -> None:
        """Resize for a new replica count: one active ReplicaSet takes it all; several share it."""
        active = [rs for rs in self.rss if rs.replicas > 0]
        if len(active) <= 1:
            target = active[0] if active else (self.new or (max(self.old, key=lambda rs: rs.created) if self.old else None))
            if target is not None and target.replicas != self.replicas:
                self.scale_rs(target, self.replicas)
            return
        if self.new is not None and self._saturated(self.new):
            for rs in self.old:
                if rs.replicas > 0:
                    self.scale_rs(rs, 0)
            return
        if is_rolling(self.d):
            self._scale_proportionally(active)

    def _saturated(self, rs: Owned) -> bool:
        return rs.replicas == self.replicas and rs.annotation(DESIRED_REPLICAS) == self.replicas and rs.ready >= self.replicas

    def _scale_proportionally(self, active: list[Owned]) -> None:
        allowed = self.replicas + max_surge(self.d) if self.replicas > 0 else 0
        to_add = allowed - sum(rs.replicas for rs in active)
        if to_add > 0:  # bigger first; newer first among equals
            active.sort(key=lambda rs: rs.created, reverse=True)
            active.sort(key=lambda rs: rs.replicas, reverse=True)
        elif to_add < 0:  # bigger first; older first among equals
            active.sort(key=lambda rs: rs.created)
            active.sort(key=lambda rs: rs.replicas, reverse=True)
        added, sizes = 0, {}
        for rs in active:
            share = self._proportion(rs, to_add, added) if to_add else 0
            sizes[rs.uid] = rs.replicas + share
            added += share
        for i, rs in enumerate(active):
            if i == 0 and to_add:
                sizes[rs.uid] = max(sizes[rs.uid] + to_add - added, 0)
            self.scale_rs(rs, sizes[rs.uid], annotate_only_if_resized=False)

    def _proportion(self, rs: Owned, to_add: int, added: int) -> int:
        if rs.replicas == 0 or to_add == added:
            return 0
        if self.replicas == 0:
            fraction = -rs.replicas
        else:
            before = rs.annotation(MAX_REPLICAS) or int(self.stored_status.get("replicas") or 0)
            if before == 0:
                fraction = self.replicas
            else:
                fraction = _round(rs.replicas * (self.replicas + max_surge(self.d)) / before) - rs.replicas
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    # -- rolling update ----------------------------------------------------------------------

    def rollout_rolling(self) -> None:
        self.sync_revision(create=True)
        if self.new is None:
            return self.write_status(self.rollout_status())
        if not self.reconcile_new() and not self.reconcile_old():
            if self.complete(self.calculate_status()):
                self.cleanup()
        self.write_status(self.rollout_status())

    def new_rs_new_replicas(self, new: Owned, others: list[Owned]) -> int:
        """How big the new ReplicaSet may be now (NewRSNewReplicas)."""
        if not is_rolling(self.d):
            return self.replicas
        most = self.replicas + max_surge(self.d)
        current = sum(rs.ceiling for rs in others if rs is not new) + new.ceiling
        if current >= most:
            return new.replicas
        return new.replicas + min(most - current, self.replicas - new.replicas)

    def reconcile_new(self) -> bool:
        new = self.new
        if new.replicas == self.replicas:
            return False
        if new.replicas > self.replicas:
            return self.scale_rs(new, self.replicas)
        return self.scale_rs(new, self.new_rs_new_replicas(new, self.rss))

    def reconcile_old(self) -> bool:
        old = [rs for rs in self.old if rs.replicas > 0]
        if not old:
            return False
        min_available = self.replicas - max_unavailable(self.d)
        new_unavailable = self.new.replicas - self.new.kept_available
        most_down = sum(rs.replicas for rs in self.rss) - min_available - new_unavailable
        if most_down <= 0:
            return False
        cleaned = self._cleanup_unhealthy(old, most_down)
        return cleaned + self._scale_down_old(old, min_available) > 0

    def _cleanup_unhealthy(self, old: list[Owned], most: int) -> int:
        """Scale old ReplicaSets down by their unavailable pods first, oldest first."""
        done = 0
        for rs in old:
            if done >= most:
                break
            unhealthy = rs.replicas - rs.kept_available
            if rs.replicas == 0 or unhealthy == 0:
                continue
            step = min(most - done, unhealthy)
            self.scale_rs(rs, rs.replicas - step)
            done += step
        return done

    def _scale_down_old(self, old: list[Owned], min_available: int) -> int:
        """Then by as many available pods as keep `min_available` available, oldest first."""
        available = sum(rs.kept_available for rs in self.rss)
        if available <= min_available:
            return 0
        budget, done = available - min_available, 0
        for rs in old:
            if done >= budget:
                break
            if rs.replicas == 0:
                continue
            step = min(rs.replicas, budget - done)
            self.scale_rs(rs, rs.replicas - step)
            done += step
        return done

    # -- recreate ----------------------------------------------------------------------------

    def rollout_recreate(self) -> None:
        """All old pods go first (and are gone), then the new ReplicaSet gets them all."""
        self.sync_revision(create=False)
        scaled_down = False
        for rs in self.old:
            if rs.replicas > 0:
                scaled_down = self.scale_rs(rs, 0) or scaled_down
        if scaled_down or any(rs.alive for rs in self.old):
            return self.write_status(self.rollout_status())
        if self.new is None:
            self.sync_revision(create=True)
        if self.new is not None:
            self.scale_rs(self.new, self.replicas)
        if self.complete(self.calculate_status()):
            self.cleanup()
        self.write_status(self.rollout_status())

    # -- history -----------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Delete the oldest idle ReplicaSets beyond revisionHistoryLimit."""
        limit = self.d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in self.old if not rs.doc["metadata"].get("deletionTimestamp")]
        extra = len(alive) - int(limit)
        if extra <= 0:
            return
        for rs in sorted(alive, key=lambda rs: (rs.revision, rs.created))[:extra]:
            status = rs.doc.get("status") or {}
            generation = rs.doc["metadata"].get("generation", 1)
            if rs.replicas or status.get("replicas") or rs.alive or generation > status.get("observedGeneration", 0):
                continue
            try:
                store.remove(self.cluster, kinds.REPLICASET, self.ns, rs.name, by=store.DEPLOYMENT_CONTROLLER, expected_uid=rs.uid)
            except APIError:
                continue
            self.rss.remove(rs)

    # -- status --------------------------------------------------------------------------------

    def calculate_status(self) -> dict:
        available = sum(rs.ready for rs in self.rss)
        counts = {
            "replicas": sum(rs.active for rs in self.rss),
            "updatedReplicas": self.new.active if self.new is not None else 0,
            "readyReplicas": available,
            "availableReplicas": available,
            "unavailableReplicas": max(sum(rs.replicas for rs in self.rss) - available, 0),
        }
        status: dict = {"observedGeneration": self.d["metadata"].get("generation", 1)}
        status.update({k: v for k, v in counts.items() if v})  # omitempty, as Kubernetes writes them
        conditions = copy.deepcopy(self.conditions)
        if available >= self.replicas - max_unavailable(self.d):
            set_condition(conditions, new_condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."))
        else:
            set_condition(conditions, new_condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."))
        status["conditions"] = conditions
        if self.collision_count:
            status["collisionCount"] = self.collision_count
        return status

    def complete(self, status: dict) -> bool:
        return all(status.get(k, 0) == self.replicas for k in ("updatedReplicas", "replicas", "availableReplicas")) and status[
            "observedGeneration"
        ] >= self.d["metadata"].get("generation", 1)

    def progressing(self, status: dict) -> bool:
        old, new = self.stored_status, status
        return (
            new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
            or new.get("replicas", 0) - new.get("updatedReplicas", 0) < old.get("replicas", 0) - old.get("updatedReplicas", 0)
            or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or new.get("availableReplicas", 0) > old.get("availableReplicas", 0)
        )

    def timed_out(self, status: dict) -> bool:
        cond = get_condition(status["conditions"], "Progressing")
        if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
            return False
        if cond.get("reason") == TIMED_OUT:
            return True
        since = metav1.parse_time(cond.get("lastUpdateTime"))
        deadline = timedelta(seconds=int(self.d["spec"]["progressDeadlineSeconds"]))
        return since is not None and since + deadline < metav1.now()

    def rollout_status(self) -> dict:
        """syncRolloutStatus: the counts, Available, and Progressing with its deadline."""
        status = self.calculate_status()
        conditions = status["conditions"]
        if not self.has_deadline:
            remove_condition(conditions, "Progressing")
        current = get_condition(self.conditions, "Progressing")
        finished = status.get("replicas", 0) == status.get("updatedReplicas", 0) and current is not None and current.get("reason") == NEW_RS_AVAILABLE
        if self.has_deadline and not finished:
            name = f'ReplicaSet "{self.new.name}"' if self.new is not None else f'Deployment "{self.d["metadata"]["name"]}"'
            if self.complete(status):
                set_condition(conditions, new_condition("Progressing", "True", NEW_RS_AVAILABLE, f"{name} has successfully progressed."))
            elif self.progressing(status):
                cond = new_condition("Progressing", "True", RS_UPDATED, f"{name} is progressing.")
                if current is not None and current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime", cond["lastTransitionTime"])
                remove_condition(conditions, "Progressing")
                set_condition(conditions, cond)
            elif self.timed_out(status):
                set_condition(conditions, new_condition("Progressing", "False", TIMED_OUT, f"{name} has timed out progressing."))
        return status

    def write_status(self, status: dict) -> None:
        revision = self.revision

        def apply(doc: dict) -> None:
            doc["status"] = status
            if revision is not None:
                doc["metadata"].setdefault("annotations", {})[REVISION] = revision

        store.mutate(self.cluster, kinds.DEPLOYMENT, self.ns, self.d["metadata"]["name"], apply, by=store.DEPLOYMENT_CONTROLLER, expected_uid=self.d["metadata"]["uid"])


def _scaled(cluster: Cluster, deployment: dict, rs_name: str, before: int, after: int) -> None:
    """The ScalingReplicaSet event `kubectl describe deployment` shows."""
    direction = "up" if after > before else "down"
    events.record(
        cluster, deployment, "ScalingReplicaSet", f"Scaled {direction} replica set {rs_name} from {before} to {after}",
        by=store.DEPLOYMENT_CONTROLLER, component="deployment-controller",
    )


def unconverged(cluster: Cluster) -> list[str]:
    """Uids of the Deployments still rolling out, scaling, paused mid-way, or whose status
    does not add up to their ReplicaSets' (a lost wake-up): what the resync must wake."""
    from collections import defaultdict

    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for _, owner, status in rows.json_fields(cluster.pk, "ReplicaSet", (("status",),), owned=True):
        status = status or {}
        for i, key in enumerate(("replicas", "readyReplicas", "availableReplicas")):
            totals[owner][i] += int(status.get(key) or 0)
    out = []
    for uid, _, want, generation, status in rows.json_fields(cluster.pk, "Deployment", (("spec", "replicas"), ("metadata", "generation"), ("status",))):
        status = status or {}
        want = 1 if want is None else want
        have = [int(status.get(k) or 0) for k in ("replicas", "readyReplicas", "availableReplicas")]
        settled = (
            status.get("observedGeneration") == generation
            and have == totals[uid]
            and have[0] == want
            and int(status.get("updatedReplicas") or 0) == want
            and have[2] == want
        )
        if not settled:
            out.append(uid)
    return out
