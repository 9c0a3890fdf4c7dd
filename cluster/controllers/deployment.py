"""The Deployment controller: a Deployment owns one ReplicaSet per pod template.

This pass makes the ReplicaSet for the current template and keeps its replica count; a
ReplicaSet of an older template is scaled to zero (the rolling update comes later).
"""
from __future__ import annotations

import copy
import hashlib
import json

from .. import events, kinds, pods, store
from ..models import Cluster, Object
from .replicaset import owner_reference

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: dict) -> str:
    """A short, stable hash of a pod template, spelled as Kubernetes spells them."""
    clean = copy.deepcopy(template)
    (clean.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    digest = int.from_bytes(hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).digest()[:8], "big")
    out = []
    for _ in range(10):
        digest, rem = divmod(digest, len(_ALPHABET))
        out.append(_ALPHABET[rem])
    return "".join(out)


def new_replicaset(deployment: dict, pod_hash: str, revision: int) -> dict:
    meta = deployment["metadata"]
    template = copy.deepcopy(deployment["spec"]["template"])
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
    selector = copy.deepcopy(deployment["spec"]["selector"])
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta["namespace"],
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {
                REVISION: str(revision),
                "deployment.kubernetes.io/desired-replicas": str(deployment["spec"].get("replicas", 1)),
            },
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": {"replicas": deployment["spec"].get("replicas", 1), "selector": selector, "template": template},
    }


def _revision(rs: dict) -> int:
    return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0") or 0)


def reconcile(cluster: Cluster, uid: str) -> None:
    with store.locked(cluster):
        deployment = store.by_uid(cluster, uid)
        if deployment is None or deployment["kind"] != "Deployment" or deployment["metadata"].get("deletionTimestamp"):
            return
        ns = deployment["metadata"]["namespace"]
        want = int(deployment["spec"].get("replicas", 1))
        pod_hash = template_hash(deployment["spec"]["template"])
        owned = [rs for rs in store.list_docs(cluster, kinds.REPLICASET, ns, owner_uid=uid)]
        current = next((rs for rs in owned if rs["metadata"].get("labels", {}).get(HASH_LABEL) == pod_hash), None)
        # The current template's ReplicaSet is always the newest revision, also when a
        # rollback brings an older template back.
        newest = max((_revision(rs) for rs in owned if rs is not current), default=0) + 1
        if current is None:
            client = Object.objects.filter(uid=uid).values_list("client", flat=True).first() or ""
            current = store.create(cluster, new_replicaset(deployment, pod_hash, newest), by=store.DEPLOYMENT_CONTROLLER, client=client, namespace=ns)
            _scaled(cluster, deployment, current["metadata"]["name"], 0, want)
        else:
            before = int(current["spec"].get("replicas", 0))

            def scale_and_stamp(doc: dict) -> None:
                doc["spec"]["replicas"] = want
                annotations = doc["metadata"].setdefault("annotations", {})
                annotations["deployment.kubernetes.io/desired-replicas"] = str(want)
                if _revision(doc) < newest:
                    annotations[REVISION] = str(newest)

            current = store.mutate(cluster, kinds.REPLICASET, ns, current["metadata"]["name"], scale_and_stamp, by=store.DEPLOYMENT_CONTROLLER)
            if before != want:
                _scaled(cluster, deployment, current["metadata"]["name"], before, want)
        for old in owned:
            if old["metadata"]["uid"] != current["metadata"]["uid"] and old["spec"].get("replicas", 0) != 0:
                store.mutate(cluster, kinds.REPLICASET, ns, old["metadata"]["name"], lambda d: d["spec"].__setitem__("replicas", 0), by=store.DEPLOYMENT_CONTROLLER)
                _scaled(cluster, deployment, old["metadata"]["name"], int(old["spec"].get("replicas", 0)), 0)
        _write_status(cluster, deployment, current, [rs for rs in owned if rs["metadata"]["uid"] != current["metadata"]["uid"]])


def _scaled(cluster: Cluster, deployment: dict, rs_name: str, before: int, after: int) -> None:
    """The ScalingReplicaSet event `kubectl describe deployment` shows."""
    direction = "up" if after > before else "down"
    events.record(
        cluster, deployment, "ScalingReplicaSet", f"Scaled {direction} replica set {rs_name} from {before} to {after}",
        by=store.DEPLOYMENT_CONTROLLER, component="deployment-controller",
    )


def _write_status(cluster: Cluster, deployment: dict, current: dict, old: list[dict]) -> None:
    everyone = [current, *old]
    want = int(deployment["spec"].get("replicas", 1))
    replicas = sum((rs.get("status") or {}).get("replicas", 0) for rs in everyone)
    ready = sum((rs.get("status") or {}).get("readyReplicas", 0) for rs in everyone)
    available = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in everyone)
    updated = (current.get("status") or {}).get("replicas", 0)
    rs_name = current["metadata"]["name"]

    def apply(doc: dict) -> None:
        status = doc.setdefault("status", {})
        status.update(
            {
                "observedGeneration": doc["metadata"].get("generation", 1),
                "replicas": replicas,
                "updatedReplicas": updated,
                "readyReplicas": ready,
                "availableReplicas": available,
            }
        )
        unavailable = max(want - available, 0)
        if unavailable:
            status["unavailableReplicas"] = unavailable
        else:
            status.pop("unavailableReplicas", None)
        max_unavailable = want // 4  # the default 25%, rounded down as Kubernetes does
        if available >= want - max_unavailable:
            pods.set_condition(doc, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            pods.set_condition(doc, "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        if updated == want and available >= want and replicas == want:
            pods.set_condition(doc, "Progressing", "True", "NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.')
        else:
            pods.set_condition(doc, "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
        revision = current["metadata"].get("annotations", {}).get(REVISION)
        if revision:
            doc["metadata"].setdefault("annotations", {})[REVISION] = revision

    store.mutate(cluster, kinds.DEPLOYMENT, deployment["metadata"]["namespace"], deployment["metadata"]["name"], apply, by=store.DEPLOYMENT_CONTROLLER)
