"""What the browser stream sends: the snapshot on connect and the entries since a revision.

Both read the change log and the step log, never Redis (invariant 7).
"""
from __future__ import annotations

import json
import threading
import zlib
from collections import OrderedDict, defaultdict

from cluster.apimachinery import jsontext, kinds, metav1
from cluster.apiserver import history, store
from cluster.componentbase import clock
from cluster.models import Change, Cluster, Step
from web import broadcast, classroom

STREAMED_KINDS = ("Node", "Pod", "Deployment", "ReplicaSet", "Event", "Namespace", "Service", "Endpoints", "ConfigMap", "Secret", "Ingress", "IngressClass")
# A client this far behind gets a fresh snapshot instead of a replay.
MAX_REPLAY = 20000


def cluster_info(cluster: Cluster) -> dict:
    return {"name": cluster.name, "speed": cluster.speed, "revision": cluster.revision, "paused": cluster.paused, "stopped": list(cluster.stopped_components or [])}


def clock_of(cluster_id: int) -> dict | None:
    """The clock as the page shows it: paused, stopped components, what happens next."""
    cluster = _find(cluster_id)
    return clock.state(cluster) if cluster else None


def _find(ref: str | int) -> Cluster | None:
    """A cluster by name, or by id: a follower holds the id it was allowed to open, so a
    sandbox deleted and made again under the same name is not followed by mistake."""
    return Cluster.objects.one("id" if isinstance(ref, int) else "name", ref)


SNAPSHOT_KINDS = (kinds.NODE, kinds.POD, kinds.DEPLOYMENT, kinds.REPLICASET, kinds.SERVICE, kinds.ENDPOINTS, kinds.CONFIGMAP, kinds.SECRET, kinds.INGRESS, kinds.INGRESSCLASS)


def snapshot(cluster_name: str | int, at: int | None = None) -> dict | None:
    """What the page draws: every object it shows, the steps of their pods, the last
    events. `at`: as the cluster was at that past revision (from the change log, as a list
    at an exact revision is; 410 Expired once compacted), for the page's timeline."""
    cluster = _find(cluster_name)
    if cluster is None:
        return None
    # Read the revision first: every object read after it is at least this new. Entries
    # after it that the snapshot already shows are harmless to apply again (by uid), and
    # the client keys steps by pod and number.
    revision = store.current_revision(cluster)
    if at is not None:
        revision = min(at, revision)

    def docs(kind: kinds.Kind) -> list[dict]:
        return history.list_at(cluster, kind, None, revision) if at is not None else store.list_docs(cluster, kind)

    objects: dict[str, list[dict]] = {}
    now = metav1.now()  # one moment for every "(45s ago)" the snapshot prints
    for kind in SNAPSHOT_KINDS:
        objects[kind.kind] = [broadcast.for_page(doc, now=now) for doc in docs(kind)]
    events = docs(kinds.EVENT)
    events.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
    pod_uids = [p["metadata"]["uid"] for p in objects["Pod"]]
    # Steps up to the snapshot's revision only: a later one reaches the follower with its
    # change (revision > the snapshot's), and must not arrive twice.
    step_rows = Step.objects.filter(cluster=cluster, pod_uid__in=pod_uids, revision__lte=revision)
    steps = [broadcast.step_payload(s) for s in step_rows.order_by("revision", "number")]
    cluster.revision = revision
    return {
        "type": "snapshot",
        "revision": revision,
        "cluster": cluster_info(cluster),
        "nodes": objects["Node"],
        "pods": objects["Pod"],
        "deployments": objects["Deployment"],
        "replicasets": objects["ReplicaSet"],
        "services": objects["Service"],
        "endpoints": objects["Endpoints"],
        "configmaps": objects["ConfigMap"],
        "secrets": objects["Secret"],
        "ingresses": objects["Ingress"],
        "ingressclasses": objects["IngressClass"],
        "events": events[-200:],
        "steps": steps,
    }


# A snapshot goes out in frames of at most about this many bytes: daphne refuses a frame
# over 1 MiB and closes the socket, so a cluster of 1,000 pods must not be one message.
FRAME_BYTES = 256 * 1024
SNAPSHOT_LISTS = ("nodes", "deployments", "replicasets", "services", "endpoints", "configmaps", "secrets", "ingresses", "ingressclasses", "pods", "events", "steps")


def snapshot_frames(cluster_name: str | int, frame_bytes: int = FRAME_BYTES) -> list[dict] | None:
    """The snapshot as the messages that carry it: a `snapshot` with the cluster and as many
    objects as fit, saying how many `snapshot-part` messages follow with the rest (each
    with its `part` number). The client applies the snapshot when it has every part."""
    snap = snapshot(cluster_name)
    return None if snap is None else split_snapshot(snap, frame_bytes)


# The snapshots this process built last, one per cluster: followers that open the same
# cluster at the same revision (a class loading the page together, a projector and an
# instructor) share one build instead of each reading every object again.
SHARED_SNAPSHOTS = 16
_shared: OrderedDict[int, tuple[str, list[dict]]] = OrderedDict()
_shared_lock = threading.Lock()
_build_locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)


def _info_key(info: dict) -> str:
    """What a snapshot must match to be reused: the revision and every setting it shows."""
    return json.dumps(info, sort_keys=True)


def deflate(text: str) -> bytes:
    """A frame for a follower that asked for `?compress=deflate`: the JSON text as a raw
    DEFLATE stream (RFC 1951), what the browser's DecompressionStream("deflate-raw") reads."""
    packer = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return packer.compress(text.encode()) + packer.flush()


class SnapshotFrames(list):
    """A snapshot's frames, shared by the followers that open the cluster at its revision,
    with their texts, and those texts deflated (`deflate`), each made once
    on first use: a class opening the page together costs one encoding, not thirty."""

    def __init__(self, frames: list[dict]) -> None:
        super().__init__(frames)
        self._encoded: dict[bool, list[str | bytes]] = {}
        self._lock = threading.Lock()

    def encoded(self, deflated: bool) -> list[str | bytes]:
        with self._lock:
            found = self._encoded.get(deflated)
            if found is None:
                texts = self._encoded.get(False) or [jsontext.ascii_text(frame) for frame in self]
                self._encoded[False] = texts
                found = self._encoded[deflated] = [deflate(t) for t in texts] if deflated else texts
            return found


def shared_snapshot_frames(cluster_id: int) -> SnapshotFrames | None:
    """`snapshot_frames` of a cluster, built once per revision (and speed) however many
    followers ask for it; the frames are shared and must not be changed."""
    info = current(cluster_id)
    if info is None:
        return None
    wanted = _info_key(info)
    with _build_locks[cluster_id]:  # one build at a time per cluster; the others then find it
        with _shared_lock:
            found = _shared.get(cluster_id)
            if found is not None and found[0] == wanted:
                _shared.move_to_end(cluster_id)
                return found[1]
        built = snapshot_frames(cluster_id)
        if built is None:
            return None
        frames = SnapshotFrames(built)
        with _shared_lock:
            _shared[cluster_id] = (_info_key(frames[0]["cluster"]), frames)
            _shared.move_to_end(cluster_id)
            while len(_shared) > SHARED_SNAPSHOTS:
                _shared.popitem(last=False)
        return frames


def split_snapshot(snap: dict, frame_bytes: int) -> list[dict]:
    first = {k: v for k, v in snap.items() if k not in SNAPSHOT_LISTS}
    first.update({k: [] for k in SNAPSHOT_LISTS})
    frames = [first]
    current, size = first, _bytes(first)
    for key in SNAPSHOT_LISTS:
        for item in snap.get(key, []):
            n = _bytes(item) + 2
            if size + n > frame_bytes and size > 200:
                current = {"type": "snapshot-part", "revision": snap["revision"], "part": len(frames)}
                frames.append(current)
                size = _bytes(current)
            current.setdefault(key, []).append(item)
            size += n
    first["parts"] = len(frames) - 1
    return frames


def _bytes(value: object) -> int:
    # As send_json writes it (json.dumps' default separators), in UTF-8.
    return len(json.dumps(value).encode())


def entries_since(cluster_name: str | int, since: int, limit: int = MAX_REPLAY) -> tuple[list[dict], bool]:
    """Entries after `since` in revision order, and whether they are complete."""
    cluster = _find(cluster_name)
    if cluster is None:
        return [], True
    changes = list(
        Change.objects.filter(cluster=cluster, revision__gt=since).order_by("revision").values("revision", "type", "kind", "doc", "time")[: limit + 1]
    )
    if len(changes) > limit:
        return [], False
    if changes and changes[0]["revision"] != since + 1 and since > 0:
        # The log was trimmed below what the client has: it must start again.
        oldest = Change.objects.filter(cluster=cluster).order_by("revision").values_list("revision", flat=True).first()
        if oldest is not None and oldest > since + 1:
            return [], False
    steps_by_rev: dict[int, list[dict]] = defaultdict(list)
    if changes:
        for step in Step.objects.filter(cluster=cluster, revision__gt=since, revision__lte=changes[-1]["revision"]).order_by("revision", "number"):
            steps_by_rev[step.revision].append(broadcast.step_payload(step))
    now = metav1.now()
    return [
        {"revision": c["revision"], "at": broadcast.commit_time(c["time"]), "change": c["type"], "kind": c["kind"], "object": broadcast.for_page(c["doc"], now=now), "steps": steps_by_rev.get(c["revision"], [])}
        for c in changes
    ], True


def current(cluster_name: str | int) -> dict | None:
    cluster = _find(cluster_name)
    return cluster_info(cluster) if cluster else None


def polled(cluster_ids: list[int]) -> dict[int, tuple[dict, dict, list[dict]]]:
    """What the streams' poll (web/fanout.py) reads of each cluster a daphne process
    follows: its info (as `current`), its clock (as `clock_of`) and its class's recent
    messages: three statements for all of them however many there are, and one per class
    among them. A cluster deleted is not in the answer."""
    clusters = list(Cluster.objects.filter(pk__in=cluster_ids))
    clocks = clock.states(clusters)
    said = classroom.recent_broadcasts_of([c.pk for c in clusters])
    return {c.pk: (cluster_info(c), clocks[c.pk], said[c.pk]) for c in clusters}
