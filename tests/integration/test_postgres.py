"""On PostgreSQL each cluster's write lock is its own row's lock (cluster/apiserver/store.py
`locked`: SELECT ... FOR UPDATE on the Cluster row): writers of different sandboxes go in
parallel, writers of one sandbox queue, and each cluster's revisions stay gapless. (On
SQLite one writer holds the whole database, so this runs only with PODFLOW_TEST_POSTGRES=1.)"""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings

from tests.conftest import POSTGRES
from tests.livehelpers import http, pod_manifest, token_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not POSTGRES, reason="PODFLOW_TEST_POSTGRES=1 runs it: on SQLite one writer holds the whole database"),
]

HOLD_SECONDS = 3.0


def shell(stack, code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code], env=stack._env(), cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs,
    )


def result_of(stack, code: str) -> dict:
    """What a script run in `manage.py shell` printed after "RESULT ", as JSON."""
    out, _ = shell(stack, code).communicate(timeout=120)
    found = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert found, out
    return json.loads(found[0][len("RESULT "):])


def lines_of(proc: subprocess.Popen) -> "queue.Queue[str]":
    out: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [out.put(line.strip()) for line in proc.stdout], daemon=True).start()
    return out


def create_pod(base: str, cluster: str, name: str) -> float:
    """The seconds the POST took (the cluster's token is read before: the first time, a
    `manage.py kubeconfig` of a second or two that is not the write's)."""
    token_for(base, cluster)
    started = time.monotonic()
    status, body = http(base, "POST", f"/k8s/{cluster}/api/v1/namespaces/default/pods", pod_manifest(name))
    assert status == 201, body
    return time.monotonic() - started


def test_two_sandboxes_write_in_parallel_and_each_keeps_its_revisions_gapless(live_stack):
    base = live_stack.url
    for name in ("pg-a", "pg-b"):
        live_stack.manage("democluster", "--name", name, "--speed", "instant")
        token_for(base, name)  # read now, not while pg-a's lock is held (it is a subprocess of its own)

    # Another process holds pg-a's write lock for a while, as a long reconcile would.
    holder = shell(live_stack, f"""
import time
from django.db import transaction
from cluster.models import Cluster
with transaction.atomic():
    Cluster.objects.select_for_update().get(name="pg-a")
    print("held", flush=True)
    time.sleep({HOLD_SECONDS})
print("released", flush=True)
""")
    said = lines_of(holder)
    try:
        line = said.get(timeout=60)
        assert line == "held", line
        # pg-b's writer does not wait for pg-a's lock ...
        assert create_pod(base, "pg-b", "b-during") < HOLD_SECONDS / 2
        # ... while pg-a's own writer queues behind it.
        assert create_pod(base, "pg-a", "a-during") > HOLD_SECONDS / 3
        assert said.get(timeout=30) == "released"
    finally:
        holder.wait(timeout=60)

    # Both sandboxes written at once from several threads: every revision of each is used
    # exactly once, in order, whatever the interleaving.
    errors: list[BaseException] = []

    def writer(cluster: str, index: int) -> None:
        try:
            for i in range(8):
                create_pod(base, cluster, f"w{index}-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(c, i)) for c in ("pg-a", "pg-b") for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    check = shell(live_stack, """
from cluster.models import Change, Cluster
for name in ("pg-a", "pg-b"):
    cluster = Cluster.objects.get(name=name)
    revisions = list(Change.objects.filter(cluster=cluster).order_by("revision").values_list("revision", flat=True))
    gaps = [r for a, r in zip(revisions, revisions[1:]) if r != a + 1]
    print(name, len(revisions), revisions[0], revisions[-1], cluster.revision, len(gaps))
""")
    out, _ = check.communicate(timeout=120)
    rows = [line.split() for line in out.splitlines() if line.startswith("pg-")]
    assert len(rows) == 2, out
    for name, count, first, last, current, gaps in rows:
        assert gaps == "0" and int(last) == int(current) and int(last) - int(first) + 1 == int(count), (name, out)


HELD_WRITES = r"""
import json
from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.componentbase import events, isolation
from cluster.models import Change, Cluster, Object, Step
from cluster.componentbase import narration

cluster = Cluster.objects.get(name="pg-held")
start = cluster.revision
published = []
store.on_commit(lambda c, changes: published.extend((x.type, x.kind, x.new["metadata"]["name"], [s.number for s in x.steps]) for x in changes if c.pk == cluster.pk))
pod = lambda name: {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
with store.locked(cluster):
    a = store.create(cluster, pod("a"), steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))
    store.mutate(cluster, kinds.POD, "default", "a", lambda d: d["metadata"].setdefault("labels", {}).update(x="1"), by=store.KUBELET)
    seen = store.get(cluster, kinds.POD, "default", "a")["metadata"]["labels"]  # read as written, before anything is sent
    with isolation.isolated(cluster, store.KUBELET, what="b"):  # a savepoint that fails before anything of it is sent
        store.create(cluster, pod("b"))
        raise RuntimeError("b fails")
    event = events.record(cluster, a, "Pulled", "first", by=store.KUBELET, component="kubelet")
    with isolation.isolated(cluster, store.KUBELET, what="clash"):  # a held write the database refuses
        clash = json.loads(json.dumps(event))
        store.create(cluster, {**clash, "metadata": {"name": clash["metadata"]["name"], "namespace": "default"}}, by=store.KUBELET)
        store.list_docs(cluster, kinds.POD)  # a read sends what is held: the clash fails here
    # the same step again in the same transaction: stored and published once
    store.mutate(cluster, kinds.POD, "default", "a", lambda d: d["metadata"]["labels"].update(y="2"), by=store.KUBELET,
                 steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))
revisions = list(Change.objects.filter(cluster=cluster, revision__gt=start).order_by("revision").values_list("revision", flat=True))
print("RESULT " + json.dumps({
    "seen": seen,
    "names": sorted(Object.objects.filter(cluster=cluster, kind__in=["Pod", "Event"]).values_list("kind", "name")),
    "labels": store.get(cluster, kinds.POD, "default", "a")["metadata"]["labels"],
    "revisions": revisions, "start": start,
    "steps": list(Step.objects.filter(pod_uid=a["metadata"]["uid"]).values_list("number", flat=True)),
    "published": published, "event": event["metadata"]["name"],
}))
"""


def test_held_writes_are_read_as_written_and_a_failing_part_is_undone_alone(live_stack):
    """rows.py holds a transaction's writes back on PostgreSQL and sends them with the next
    statement that needs an answer: reads see them, a savepoint's writes go with it when it
    fails, a refused write fails its own part only, a step recorded twice is published once."""
    live_stack.manage("democluster", "--name", "pg-held", "--speed", "instant", "--nodes", "1")
    result = result_of(live_stack, HELD_WRITES)
    assert result["seen"] == {"x": "1"}
    names = [tuple(n) for n in result["names"]]
    assert ("Pod", "a") in names and ("Pod", "b") not in names
    assert [n for k, n in names if k == "Event" and n == result["event"]] == [result["event"]]
    assert result["labels"] == {"x": "1", "y": "2"}
    # create, label, the Event, the second label: four revisions, then the workers' — gapless
    assert result["revisions"] == list(range(result["start"] + 1, result["start"] + 1 + len(result["revisions"])))
    assert len(result["revisions"]) >= 4
    assert result["steps"].count(1) == 1
    ours = [p for p in result["published"] if p[2] in ("a", "b", result["event"])]
    assert [(t, k, n) for t, k, n, _ in ours] == [("ADDED", "Pod", "a"), ("MODIFIED", "Pod", "a"), ("ADDED", "Event", result["event"]), ("MODIFIED", "Pod", "a")]
    assert [s for *_, s in ours] == [[1, 2, 3], [], [], []]  # steps 1-3 once: the second time they are not published


def test_a_sandbox_deleted_while_a_component_writes_leaves_no_row_behind(live_stack):
    """The store's rows have no foreign-key constraint (cluster/models.py STORE_ROWS): a
    sandbox's deletion takes the cluster's write lock as every write does, so a writer
    that holds it finishes first and its rows go with the cluster, and one that comes
    after finds the cluster gone and writes nothing."""
    live_stack.manage("democluster", "--name", "pg-del", "--speed", "instant")
    pod = 'lambda name: {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}'
    holder = shell(live_stack, f"""
import time
from cluster.apiserver import store
from cluster.componentbase import narration
from cluster.models import Cluster
pod = {pod}
cluster = Cluster.objects.get(name="pg-del")
print(cluster.pk, flush=True)
with store.locked(cluster):
    store.create(cluster, pod("late"), steps=lambda doc, rev: narration.bare_pod_created(doc, rev, "kubectl"))
    print("held", flush=True)
    time.sleep({HOLD_SECONDS})
print("committed", flush=True)
""")
    said = lines_of(holder)
    try:
        cluster_id = int(said.get(timeout=60))
        assert said.get(timeout=60) == "held"
        deleter = shell(live_stack, """
import time
from cluster import sandbox
from cluster.models import Cluster
began = time.monotonic()
sandbox.delete(Cluster.objects.get(name="pg-del"))
print("deleted", time.monotonic() - began, flush=True)
""")
        out, _ = deleter.communicate(timeout=120)
        assert said.get(timeout=30) == "committed"
    finally:
        holder.wait(timeout=60)
    deleted = [line.split() for line in out.splitlines() if line.startswith("deleted")]
    assert deleted and float(deleted[0][1]) > HOLD_SECONDS / 3, out  # it waited for the writer
    check = shell(live_stack, f"""
from cluster.apiserver import store
from cluster.models import Change, Cluster, Object, Step
pod = {pod}
rows = lambda: (Object.objects.filter(cluster_id={cluster_id}).count(), Change.objects.filter(cluster_id={cluster_id}).count(), Step.objects.filter(cluster_id={cluster_id}).count())
print("left", *rows())
gone = Cluster(pk={cluster_id}, name="pg-del")
try:
    with store.locked(gone):
        store.create(gone, pod("after"))
    print("wrote")
except Cluster.DoesNotExist:
    print("refused")
print("left", *rows())
""")
    out, _ = check.communicate(timeout=120)
    lines = [line for line in out.splitlines() if line.startswith(("left", "wrote", "refused"))]
    assert lines == ["left 0 0 0", "refused", "left 0 0 0"], out


def test_a_request_is_logged_while_its_cluster_s_writer_holds_the_lock(live_stack):
    """The cluster's writers exclude each other with the row lock that a write of its
    revision takes (FOR NO KEY UPDATE), not the one a change of its key takes: a row that
    refers to the cluster (a request's log row; its foreign-key check shares the key) goes
    in while a writer holds the lock, rather than waiting for its transaction (the process's
    request-log writer writes a class's rows together: behind a busy writer they would all
    wait)."""
    live_stack.manage("democluster", "--name", "pg-log", "--speed", "instant")
    holder = shell(live_stack, f"""
import time
from cluster.apiserver import store
from cluster.models import Cluster
cluster = Cluster.objects.get(name="pg-log")
with store.locked(cluster):
    store.create(cluster, {{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "held"}}, "data": {{}}}})
    print("held", flush=True)
    time.sleep({HOLD_SECONDS})
print("committed", flush=True)
""")
    said = lines_of(holder)
    try:
        assert said.get(timeout=60) == "held"
        logger = shell(live_stack, """
import time
from cluster.apiserver import audit, requestlog
from cluster.models import RequestRecord
began = time.monotonic()
requestlog.record("pg-log", audit.REQUEST, {"client": "kubectl", "verb": "get", "resource": "pods", "code": 200})
# The row is written by the process's request-log writer, a moment later: until it is in.
rows = 0
while not rows and time.monotonic() - began < 10:
    rows = RequestRecord.objects.filter(cluster__name="pg-log", verb="get").count()
    time.sleep(0.01)
print("logged", time.monotonic() - began, rows, flush=True)
""")
        out, _ = logger.communicate(timeout=120)
        assert said.get(timeout=30) == "committed"
    finally:
        holder.wait(timeout=60)
    logged = [line.split() for line in out.splitlines() if line.startswith("logged")]
    assert logged, out
    seconds, rows = float(logged[0][1]), int(logged[0][2])
    assert rows == 1, out
    assert seconds < HOLD_SECONDS / 3, f"the request's log row waited {seconds:.2f} s for the cluster's writer"


JSON_FIELDS = """
import json
from cluster.apimachinery import kinds
from cluster.apiserver import rows, store
from cluster.models import Cluster
cluster = Cluster.objects.get(name="pg-fields")
d = store.create(cluster, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}})
ref = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d["metadata"]["uid"], "controller": True}]
text = 'ünïcode "quoted" \\\\ back'
store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned", "namespace": "default", "ownerReferences": ref, "labels": {"a": "b"}}, "data": {"text": text}})
store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "alone", "namespace": "default"}})
store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "namespace": "default", "finalizers": ["example.com/hold"]}})
store.mark_deleted(cluster, kinds.CONFIGMAP, "default", "held", by=store.API, grace_seconds=0)
held = store.get(cluster, kinds.CONFIGMAP, "default", "held")
owned = store.get(cluster, kinds.CONFIGMAP, "default", "owned")
paths = (("data", "text"), ("metadata", "labels"), ("metadata", "ownerReferences"), ("metadata", "nowhere"))
print("RESULT " + json.dumps({
    "owned": rows.json_fields(cluster.pk, "ConfigMap", paths, owner_uids=[d["metadata"]["uid"]]),
    "any_owned": rows.json_fields(cluster.pk, "ConfigMap", paths, owned=True),
    "expected": [owned["metadata"]["uid"], d["metadata"]["uid"], text, {"a": "b"}, owned["metadata"]["ownerReferences"], None],
    "numbers": rows.json_fields(cluster.pk, "Deployment", (("spec", "replicas"), ("metadata", "generation"), ("spec", "selector"))),
    "deleting": rows.json_fields(cluster.pk, None, (("metadata", "finalizers"),), having=("metadata", "deletionTimestamp")),
    "held": held["metadata"]["uid"],
}))
"""


def test_the_database_extracts_a_document_s_fields_as_on_sqlite(live_stack):
    """rows.json_fields (the controllers' counts and the resync) on PostgreSQL's jsonb:
    strings, numbers, lists and objects as the document holds them, a missing field None."""
    live_stack.manage("democluster", "--name", "pg-fields", "--speed", "instant", "--nodes", "1")
    result = result_of(live_stack, JSON_FIELDS)
    assert result["owned"] == result["any_owned"] == [result["expected"]]
    assert result["expected"][2] == 'ünïcode "quoted" \\ back'
    assert result["numbers"] == [[result["expected"][1], "", 2, 1, {"matchLabels": {"app": "web"}}]]
    assert result["deleting"] == [[result["held"], "", ["example.com/hold"]]]  # any kind, being deleted


PREPARED = """
import json
from django.db import connection
from cluster.apiserver import store
from cluster.models import Cluster
cluster = Cluster.objects.get(name="pg-prepared")
for i in range(8):
    store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}", "namespace": "default"}, "data": {"i": str(i)}})
with connection.cursor() as cursor:
    cursor.execute("SELECT statement FROM pg_prepared_statements")
    print("RESULT " + json.dumps({"prepared": [row[0] for row in cursor.fetchall()]}))
"""


def test_the_store_s_statements_are_prepared_once_per_connection(live_stack):
    """The store's writes run thousands of times: after a few runs on a connection the
    server keeps each one parsed and planned (Django's default would parse and plan every
    one again: it measured as a third of PostgreSQL's CPU in a class's burst)."""
    live_stack.manage("democluster", "--name", "pg-prepared", "--speed", "instant", "--nodes", "1")
    prepared = result_of(live_stack, PREPARED)["prepared"]
    assert any(s.startswith("INSERT INTO cluster_object ") for s in prepared), prepared
    assert any(s.startswith("INSERT INTO cluster_change ") for s in prepared), prepared


STORED = """
import json
from django.db import connection
from cluster.apiserver import store
from cluster.models import Cluster
cluster = Cluster.objects.get(name="pg-stored")
doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "notes", "namespace": "default"}, "data": {"text": "a line of notes\\n" * 200}}
store.create(cluster, doc)
with connection.cursor() as cursor:
    cursor.execute("SELECT octet_length(doc::text), pg_column_size(doc) FROM cluster_object WHERE cluster_id = %s AND name = 'notes'", [cluster.pk])
    text, stored = cursor.fetchone()
    cursor.execute("SELECT pg_column_size(doc) FROM cluster_change WHERE cluster_id = %s AND name = 'notes'", [cluster.pk])
    logged = cursor.fetchone()[0]
print("RESULT " + json.dumps({"text": text, "stored": stored, "logged": logged}))
"""


def test_a_document_of_a_few_kilobytes_is_stored_uncompressed(live_stack):
    """A document under a page is kept whole in its row (migration 0010): the fields the
    controllers read out of it are not decompressed again for each one, and a write does
    not compress it. (PostgreSQL would compress this repetitive one to a fraction.)"""
    live_stack.manage("democluster", "--name", "pg-stored", "--speed", "instant", "--nodes", "1")
    result = result_of(live_stack, STORED)
    assert 3000 < result["text"] < 8000, result
    # Compressed, its repeated line would take a few hundred bytes; whole, about its text.
    assert result["stored"] > 0.8 * result["text"] and result["logged"] > 0.8 * result["text"], result


FOLDED = """
import json
from django.db import connection
from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.componentbase import isolation
from cluster.models import Change, Cluster, Object

cluster = Cluster.objects.get(name="pg-folded")
start = cluster.revision
pod = lambda name: {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
label = lambda key, value: lambda d: d["metadata"].setdefault("labels", {}).update({key: value})
held = lambda: [w.statement.split(" ")[0] for w in getattr(connection, "podflow_held", [])]
with store.locked(cluster):
    store.create(cluster, pod("a"))
    store.mutate(cluster, kinds.POD, "default", "a", label("stage", "1"), by=store.KUBELET)
    store.mutate(cluster, kinds.POD, "default", "a", label("stage", "2"), by=store.KUBELET)
    after_folding = held()  # the two updates folded into the insert
    with isolation.isolated(cluster, store.KUBELET, what="undone"):
        store.mutate(cluster, kinds.POD, "default", "a", label("stage", "3"), by=store.KUBELET)
        store.mutate(cluster, kinds.POD, "default", "a", label("stage", "4"), by=store.KUBELET)
        raise RuntimeError("the part after the savepoint fails")
    after_undone = held()
    with isolation.isolated(cluster, store.KUBELET, what="kept"):
        store.mutate(cluster, kinds.POD, "default", "a", label("stage", "5"), by=store.KUBELET)
        store.mutate(cluster, kinds.POD, "default", "a", label("stage", "6"), by=store.KUBELET)
    after_kept = held()
    store.remove(cluster, kinds.POD, "default", "a", by=store.KUBELET)
    store.create(cluster, pod("a"))
    store.mutate(cluster, kinds.POD, "default", "a", label("stage", "again"), by=store.KUBELET)
    at_end = held()
end = cluster.revision  # the workers write the pod after (the scheduler binds it)
logged = [(c.type, (c.doc["metadata"].get("labels") or {}).get("stage")) for c in Change.objects.filter(cluster=cluster, revision__gt=start, revision__lte=end, name="a").order_by("revision")]
row = Object.objects.get(cluster=cluster, kind="Pod", name="a")
print("RESULT " + json.dumps({
    "after_folding": after_folding, "after_undone": after_undone, "after_kept": after_kept, "at_end": at_end,
    "logged": logged, "row": [row.doc["metadata"].get("labels"), row.resource_version, row.doc["metadata"]["resourceVersion"]],
}))
"""


def test_a_row_written_again_in_its_transaction_is_sent_once_and_every_revision_is_logged(live_stack):
    """rows.py folds a held write of an object row into the held write of that row before
    it: the row gets its last state in one statement, the change log keeps every revision,
    and a savepoint rolled back undoes its own writes only (nothing folds across one)."""
    live_stack.manage("democluster", "--name", "pg-folded", "--speed", "instant", "--nodes", "1")
    result = result_of(live_stack, FOLDED)
    assert result["after_folding"] == ["INSERT"]
    assert result["after_undone"] == ["INSERT"]  # the failed part's savepoint and writes forgotten
    # The rollback forgot what was read: reading the pod again sent what was held before
    # it (the insert, the savepoint); 5 and 6 are one update.
    assert result["after_kept"] == ["UPDATE", "RELEASE"]
    assert result["at_end"] == ["INSERT"]  # the removal read first; "again" folded into the new insert
    assert result["logged"] == [
        ["ADDED", None], ["MODIFIED", "1"], ["MODIFIED", "2"], ["MODIFIED", "5"], ["MODIFIED", "6"],
        ["DELETED", "6"], ["ADDED", None], ["MODIFIED", "again"],
    ]
    labels, stored_version, doc_version = result["row"]
    assert labels == {"stage": "again"} and str(stored_version) == doc_version


ROUND_TRIPS = """
import json, os, tempfile
from django.db import connection
from psycopg import pq
from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.models import Change, Cluster, Object

cluster = Cluster.objects.get(name="pg-trips")
config = lambda name: {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"a": "1"}}
store.create(cluster, config("warm"))  # the connection open, its statements prepared
with tempfile.TemporaryFile() as trace:
    pgconn = connection.connection.pgconn
    pgconn.trace(trace.fileno())  # libpq's own trace of the protocol messages
    pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
    marks = []
    mark = lambda: marks.append(os.lseek(trace.fileno(), 0, os.SEEK_CUR))  # libpq writes to the file itself
    with store.locked(cluster):
        store.create(cluster, config("one"))
        store.mutate(cluster, kinds.CONFIGMAP, "default", "one", lambda d: d["data"].update(a="2"), by=store.API)
    mark()
    store.create(cluster, config("two"))  # a transaction of its own, as a client's create
    mark()
    store.mutate(cluster, kinds.CONFIGMAP, "default", "two", lambda d: d["data"].update(a="3"), by=store.API)
    pgconn.untrace()
    os.lseek(trace.fileno(), 0, os.SEEK_SET)
    text = os.read(trace.fileno(), 1 << 20).decode()


def asked(part):
    # Each simple Query, and each Sync that ends a run of extended-protocol messages, waits for its answer.
    sent = [line.split("\\t") for line in part.splitlines()]
    return [f[2] + (" " + f[3].strip() if f[2] == "Query" else "") for f in sent if len(f) > 2 and f[0] == "F" and f[2] in ("Query", "Sync")]


print("RESULT " + json.dumps({
    "asked": asked(text[:marks[0]]), "create": asked(text[marks[0]:marks[1]]), "mutate": asked(text[marks[1]:]),
    "stored": Object.objects.get(cluster=cluster, kind="ConfigMap", name="one").doc["data"],
    "logged": list(Change.objects.filter(cluster=cluster, name="one").order_by("revision").values_list("type", flat=True)),
}))
"""


def test_a_write_transaction_sends_its_writes_and_its_commit_together(live_stack):
    """The store's own transaction on PostgreSQL waits for the server at BEGIN, the
    cluster's row lock, the namespace and the name checks, then once for the held writes
    and the COMMIT together (a COMMIT of its own followed them before), and what it wrote
    is committed."""
    live_stack.manage("democluster", "--name", "pg-trips", "--speed", "instant", "--nodes", "1")
    result = result_of(live_stack, ROUND_TRIPS)
    assert result["stored"] == {"a": "2"} and result["logged"] == ["ADDED", "MODIFIED"]
    assert result["asked"] == ['Query "BEGIN"', "Sync", "Sync", "Sync", "Sync"], result["asked"]
    # Opening its own transaction, a create reads its namespace and its name with the lock:
    # BEGIN, then the lock and the two reads, then the writes and the COMMIT.
    assert result["create"] == ["Sync", "Sync", "Sync"], result["create"]
    assert result["mutate"] == ["Sync", "Sync", "Sync"], result["mutate"]


MANY_CHANGES = """
import json
from cluster.apiserver import rows, store
from cluster.models import Change, Cluster

cluster = Cluster.objects.get(name="pg-many")
start = cluster.revision
count = 2 * rows.CHANGES_AT_ONCE + 5
with store.locked(cluster):
    for i in range(count):
        store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}", "namespace": "default"}, "data": {"i": str(i)}})
logged = Change.objects.filter(cluster=cluster, revision__gt=start, revision__lte=cluster.revision).order_by("revision")
print("RESULT " + json.dumps({
    "count": count, "start": start,
    "logged": [(c.revision, c.type, c.name, c.doc["data"]["i"], c.doc["metadata"]["resourceVersion"]) for c in logged],
}))
"""


def test_a_transaction_s_many_revisions_are_logged_in_order_whole(live_stack):
    """On PostgreSQL the change log's rows of a transaction go several to a statement
    (rows.CHANGES_AT_ONCE): every revision is logged once, in order, with its document."""
    live_stack.manage("democluster", "--name", "pg-many", "--speed", "instant", "--nodes", "1")
    result = result_of(live_stack, MANY_CHANGES)
    start, count = result["start"], result["count"]
    assert result["logged"] == [[start + 1 + i, "ADDED", f"c{i}", str(i), str(start + 1 + i)] for i in range(count)]
