"""Rollouts with the real kubectl and real workers: scale, set image, status, history, undo,
pause and resume, Recreate and the progress deadline.

The bounds of a rolling update are checked where a learner would look for them: the change
log, replayed through the websocket stream, at every revision.
"""
from __future__ import annotations

import json

import pytest

from tests.livehelpers import Stream, deployment_manifest, http, is_ready, wait_until

pytestmark = pytest.mark.integration

REVISION = "deployment.kubernetes.io/revision"


# --- helpers ------------------------------------------------------------------------------------------

def cluster_revision(live_stack) -> int:
    status, body = http(live_stack.url, "GET", "/k8s/demo/api/v1/namespaces/default/pods")
    assert status == 200
    return int(body["metadata"]["resourceVersion"])


def apply(kubectl, doc: dict) -> str:
    return kubectl("apply", "-f", "-", input=json.dumps(doc)).stdout.strip()


def make(kubectl, name: str, replicas: int, image: str = "nginx:1.26", **spec) -> dict:
    doc = deployment_manifest(name, replicas, image)
    doc["spec"].update(spec)
    assert apply(kubectl, doc) == f"deployment.apps/{name} created"
    rolled_out(kubectl, name)
    return get(kubectl, "deployment", name)


def get(kubectl, kind: str, name: str) -> dict:
    return json.loads(kubectl("get", kind, name, "-o", "json").stdout)


def rolled_out(kubectl, name: str) -> list[str]:
    out = kubectl("rollout", "status", f"deployment/{name}", "--timeout=120s", timeout=150).stdout.splitlines()
    assert out[-1] == f'deployment "{name}" successfully rolled out', out
    return out


def pods_of(kubectl, name: str) -> list[dict]:
    return json.loads(kubectl("get", "pods", "-l", f"app={name}", "-o", "json").stdout)["items"]


def replicasets_of(kubectl, name: str) -> list[dict]:
    return json.loads(kubectl("get", "rs", "-l", f"app={name}", "-o", "json").stdout)["items"]


def settled(kubectl, name: str, replicas: int, image: str, timeout: float = 90) -> list[dict]:
    """Exactly `replicas` pods, all of `image`, all Ready, none terminating, old ones gone."""

    def check():
        found = pods_of(kubectl, name)
        done = len(found) == replicas and all(
            p["spec"]["containers"][0]["image"] == image and is_ready(p) and not p["metadata"].get("deletionTimestamp") for p in found
        )
        return found if done else None

    return wait_until(check, timeout, f"{name} to have {replicas} Ready pods of {image} and no others", interval=0.3)


def replay(live_stack, since: int, until: int) -> list[dict]:
    """The change log from `since` to `until`, as the stream replays it to a browser."""
    with Stream(live_stack.url, since=since) as stream:
        stream.receive_until(lambda m: m.get("type") == "change" and m["revision"] >= until, 60, f"revision {until}")
    assert not [m for m in stream.messages if m.get("type") == "snapshot"], "the stream could not replay the log"
    changes = stream.changes()
    revisions = [m["revision"] for m in changes]
    assert revisions == list(range(since + 1, revisions[-1] + 1)), "the replay has gaps or repeats"
    return changes


def pods_at_every_revision(changes: list[dict], deployment_uid: str):
    """After each change: (revision, {rs uid: [pods not finished]}) of the Deployment's pods."""
    rs_uids: set[str] = set()
    pods: dict[str, dict] = {}
    for change in changes:
        doc = change["object"]
        if change["kind"] == "ReplicaSet" and any(r.get("uid") == deployment_uid for r in doc["metadata"].get("ownerReferences") or []):
            rs_uids.add(doc["metadata"]["uid"])
        if change["kind"] == "Pod":
            if change["change"] == "DELETED":
                pods.pop(doc["metadata"]["uid"], None)
            else:
                pods[doc["metadata"]["uid"]] = doc
        by_rs: dict[str, list[dict]] = {}
        for pod in pods.values():
            owner = next((r["uid"] for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
            if owner in rs_uids:
                by_rs.setdefault(owner, []).append(pod)
        yield change["revision"], by_rs


# --- scaling ---------------------------------------------------------------------------------------------

def test_it_scales_2_to_5_to_1(kubectl):
    make(kubectl, "scaler", 2)
    for replicas in (5, 1):
        assert kubectl("scale", "deployment/scaler", f"--replicas={replicas}").stdout.strip() == "deployment.apps/scaler scaled"
        rolled_out(kubectl, "scaler")
        settled(kubectl, "scaler", replicas, "nginx:1.26")
        status = get(kubectl, "deployment", "scaler")["status"]
        assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"], status["availableReplicas"]) == (replicas,) * 4
        [rs] = replicasets_of(kubectl, "scaler")
        assert (rs["spec"]["replicas"], rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"]) == (replicas, str(replicas))


# --- rolling update within its bounds ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "name,replicas,strategy,surge,unavailable",
    [
        ("roll-default", 4, None, 1, 1),  # 25% of 4: surge rounds up, unavailable down
        ("roll-nosurge", 4, {"maxSurge": 0, "maxUnavailable": 1}, 0, 1),
        ("roll-percent", 6, {"maxSurge": "50%", "maxUnavailable": "0%"}, 3, 0),
    ],
)
def test_set_image_rolls_out_within_the_surge_and_unavailable_bounds_at_every_revision(live_stack, kubectl, name, replicas, strategy, surge, unavailable):
    start = cluster_revision(live_stack)
    spec = {"strategy": {"type": "RollingUpdate", "rollingUpdate": strategy}} if strategy else {}
    dep = make(kubectl, name, replicas, **spec)
    settled(kubectl, name, replicas, "nginx:1.26")
    before = cluster_revision(live_stack)

    out = kubectl("set", "image", f"deployment/{name}", "app=nginx:1.27")
    assert out.stdout.strip() == f"deployment.apps/{name} image updated"
    status_lines = rolled_out(kubectl, name)
    settled(kubectl, name, replicas, "nginx:1.27")
    until = cluster_revision(live_stack)

    changes = replay(live_stack, start, until)
    seen = []
    for rev, by_rs in pods_at_every_revision(changes, dep["metadata"]["uid"]):
        if rev <= before:
            continue
        live = [p for pods in by_rs.values() for p in pods if not p["metadata"].get("deletionTimestamp")]
        seen.append((rev, len(live), sum(1 for p in live if is_ready(p)), len(by_rs)))
    assert max(total for _, total, _, _ in seen) <= replicas + surge, [s for s in seen if s[1] > replicas + surge]
    assert min(ready for _, _, ready, _ in seen) >= replicas - unavailable, [s for s in seen if s[2] < replicas - unavailable]
    assert max(rss for _, _, _, rss in seen) == 2, "old and new pods were never up together: not a rolling update"
    assert all(line.startswith(f'Waiting for deployment "{name}" rollout to finish: ') or line.startswith("Waiting for deployment spec update") for line in status_lines[:-1])

    written = get(kubectl, "deployment", name)
    assert written["metadata"]["annotations"][REVISION] == "2"
    conditions = {c["type"]: (c["status"], c["reason"]) for c in written["status"]["conditions"]}
    assert conditions == {"Available": ("True", "MinimumReplicasAvailable"), "Progressing": ("True", "NewReplicaSetAvailable")}
    by_revision = {rs["metadata"]["annotations"][REVISION]: rs["spec"]["replicas"] for rs in replicasets_of(kubectl, name)}
    assert by_revision == {"1": 0, "2": replicas}


def test_recreate_starts_new_pods_only_when_every_old_one_is_gone(live_stack, kubectl):
    start = cluster_revision(live_stack)
    dep = make(kubectl, "recreated", 3, strategy={"type": "Recreate"})
    settled(kubectl, "recreated", 3, "nginx:1.26")
    before = cluster_revision(live_stack)

    assert kubectl("set", "image", "deployment/recreated", "app=nginx:1.27").stdout.strip() == "deployment.apps/recreated image updated"
    rolled_out(kubectl, "recreated")
    settled(kubectl, "recreated", 3, "nginx:1.27")

    changes = replay(live_stack, start, cluster_revision(live_stack))
    both = [rev for rev, by_rs in pods_at_every_revision(changes, dep["metadata"]["uid"]) if rev > before and len(by_rs) > 1]
    assert both == [], f"old and new pods existed together at revisions {both}"


# --- status, history, undo ------------------------------------------------------------------------------------

def test_rollout_history_lists_each_revision_with_its_change_cause(kubectl):
    make(kubectl, "historic", 2)
    kubectl("annotate", "deployment/historic", "kubernetes.io/change-cause=first release")
    wait_until(
        lambda: any(rs["metadata"]["annotations"].get("kubernetes.io/change-cause") == "first release" for rs in replicasets_of(kubectl, "historic")),
        30, "the change-cause to reach the ReplicaSet",
    )
    kubectl("set", "image", "deployment/historic", "app=nginx:1.27")
    kubectl("annotate", "deployment/historic", "--overwrite", "kubernetes.io/change-cause=nginx 1.27")
    rolled_out(kubectl, "historic")

    def history():
        out = kubectl("rollout", "history", "deployment/historic").stdout.splitlines()
        return out if [line.split(None, 1) for line in out[2:] if line.strip()] == [["1", "first release"], ["2", "nginx 1.27"]] else None

    out = wait_until(history, 30, "both revisions in the history")
    assert out[0].strip() == "deployment.apps/historic"
    assert out[1].split() == ["REVISION", "CHANGE-CAUSE"]
    detail = kubectl("rollout", "history", "deployment/historic", "--revision=2").stdout
    assert "deployment.apps/historic with revision #2" in detail and "nginx:1.27" in detail


def test_rollout_undo_returns_to_the_previous_template_and_to_a_chosen_revision(kubectl):
    make(kubectl, "undone", 3)
    none_yet = kubectl("rollout", "undo", "deployment/undone", check=False)
    assert none_yet.returncode == 1 and "no rollout history found" in none_yet.stderr
    for image in ("nginx:1.27", "nginx:1.28"):
        kubectl("set", "image", "deployment/undone", f"app={image}")
        rolled_out(kubectl, "undone")

    assert kubectl("rollout", "undo", "deployment/undone").stdout.strip() == "deployment.apps/undone rolled back"
    rolled_out(kubectl, "undone")
    settled(kubectl, "undone", 3, "nginx:1.27")
    dep = get(kubectl, "deployment", "undone")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert dep["metadata"]["annotations"][REVISION] == "4"
    assert len(replicasets_of(kubectl, "undone")) == 3, "the undo reused the ReplicaSet of revision 2"
    history = [line.split()[0] for line in kubectl("rollout", "history", "deployment/undone").stdout.splitlines()[2:] if line.strip()]
    assert history == ["1", "3", "4"]

    assert kubectl("rollout", "undo", "deployment/undone", "--to-revision=1").stdout.strip() == "deployment.apps/undone rolled back"
    rolled_out(kubectl, "undone")
    settled(kubectl, "undone", 3, "nginx:1.26")
    skipped = kubectl("rollout", "undo", "deployment/undone", "--to-revision=5").stdout.strip()
    assert skipped == "deployment.apps/undone skipped rollback (current template already matches revision 5)"
    missing = kubectl("rollout", "undo", "deployment/undone", "--to-revision=42", check=False)
    assert missing.returncode == 1 and "unable to find specified revision 42 in history" in missing.stderr


def test_pause_holds_the_template_but_not_the_scale_and_resume_rolls_out(kubectl):
    make(kubectl, "paused", 2)
    kubectl("set", "image", "deployment/paused", "app=nginx:1.27")
    rolled_out(kubectl, "paused")
    assert kubectl("rollout", "pause", "deployment/paused").stdout.strip() == "deployment.apps/paused paused"
    again = kubectl("rollout", "pause", "deployment/paused", check=False)
    assert again.returncode == 1 and 'deployments.apps "paused" is already paused' in again.stderr

    kubectl("set", "image", "deployment/paused", "app=nginx:1.28")
    kubectl("scale", "deployment/paused", "--replicas=3")

    def observed():
        dep = get(kubectl, "deployment", "paused")
        progressing = next((c for c in dep["status"].get("conditions", []) if c["type"] == "Progressing"), {})
        seen = dep["status"].get("observedGeneration") == dep["metadata"]["generation"] and progressing.get("reason") == "DeploymentPaused"
        return dep if seen and dep["status"].get("readyReplicas") == 3 else None

    dep = wait_until(observed, 60, "the paused deployment to scale to 3 and report DeploymentPaused")
    assert next(c for c in dep["status"]["conditions"] if c["type"] == "Progressing")["status"] == "Unknown"
    assert dep["metadata"]["annotations"][REVISION] == "2"
    assert len(replicasets_of(kubectl, "paused")) == 2
    settled(kubectl, "paused", 3, "nginx:1.27")
    refused = kubectl("rollout", "undo", "deployment/paused", check=False)
    assert refused.returncode == 1 and "you cannot rollback a paused deployment" in refused.stderr

    assert kubectl("rollout", "resume", "deployment/paused").stdout.strip() == "deployment.apps/paused resumed"
    rolled_out(kubectl, "paused")
    settled(kubectl, "paused", 3, "nginx:1.28")
    assert get(kubectl, "deployment", "paused")["metadata"]["annotations"][REVISION] == "3"
    not_paused = kubectl("rollout", "resume", "deployment/paused", check=False)
    assert not_paused.returncode == 1 and 'deployments.apps "paused" is not paused' in not_paused.stderr


def test_a_rollout_that_cannot_progress_exceeds_its_deadline_and_rollout_status_says_so(kubectl):
    make(kubectl, "stuck", 2, progressDeadlineSeconds=3)
    # A node label no node has: the new pods stay Pending, the rollout makes no progress.
    patch = {"spec": {"template": {"spec": {"nodeSelector": {"podflow-test": "nowhere"}}}}}
    kubectl("patch", "deployment/stuck", "-p", json.dumps(patch))

    status = kubectl("rollout", "status", "deployment/stuck", "--timeout=90s", check=False, timeout=120)

    assert status.returncode == 1
    assert 'error: deployment "stuck" exceeded its progress deadline' in status.stderr
    dep = get(kubectl, "deployment", "stuck")
    progressing = next(c for c in dep["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"].endswith("has timed out progressing.")
    # The old pods still serve; undo brings the rollout back.
    assert sum(1 for p in pods_of(kubectl, "stuck") if is_ready(p)) >= 1
    kubectl("rollout", "undo", "deployment/stuck")
    rolled_out(kubectl, "stuck")
    settled(kubectl, "stuck", 2, "nginx:1.26")
