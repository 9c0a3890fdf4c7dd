"""The scheduler, one attempt at a time: filter, score, bind, and the reasoning it leaves.

The cluster fixture has node-1, node-2 and node-3, each 4 CPU, 8Gi and 110 pods, Ready.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from cluster import scheduler
from cluster.apimachinery import kinds, metav1, pods
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.componentbase import events
from cluster.models import Change, Step
from cluster.scheduler import framework, nodeaffinity, nodename, noderesources, tainttoleration
from cluster.scheduler.cycle import FILTER_RESULT, FINAL_SCORE_RESULT, SCORE_RESULT, SELECTED_NODE
from cluster.scheduler.nodeinfo import NodeInfo, PodInfo, PodOnNode, pod_info

from .manifests import changes_after, pod, revision, steps_of

GI = 2**30
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
ALL_PASSED = {"NodeUnschedulable": "passed", "NodeName": "passed", "TaintToleration": "passed", "NodeAffinity": "passed", "NodeResourcesFit": "passed"}


# --- fixtures and helpers ------------------------------------------------------------------

def place(cluster, name: str, node: str, *, priority: int | None = None, **requests: str) -> dict:
    """A pod already running on `node`, taking room there."""
    doc = pod(name, **requests)
    doc["spec"]["nodeName"] = node
    if priority is not None:
        doc["spec"]["priority"] = priority
    return store.create(cluster, doc)


def waiting(cluster, name: str = "web", *, spec: dict | None = None, **requests: str) -> dict:
    doc = pod(name, **requests)
    doc["spec"].update(spec or {})
    return store.create(cluster, doc)


def attempt(cluster, name: str = "web", *, spec: dict | None = None, **requests: str) -> str | None:
    """Create a waiting pod and make one scheduling attempt for it."""
    return scheduler.schedule(cluster, waiting(cluster, name, spec=spec, **requests)["metadata"]["uid"])


def edit_node(cluster, name: str, change) -> None:
    store.mutate(cluster, kinds.NODE, "", name, change, by=store.API)


def cordon(cluster, name: str) -> None:
    edit_node(cluster, name, lambda d: d["spec"].update(unschedulable=True))


def taint(cluster, name: str, key: str, value: str = "", effect: str = "NoSchedule") -> None:
    def add(doc: dict) -> None:
        entry = {"key": key, "effect": effect}
        if value:
            entry["value"] = value
        doc["spec"].setdefault("taints", []).append(entry)

    edit_node(cluster, name, add)


def label(cluster, name: str, **labels: str) -> None:
    edit_node(cluster, name, lambda d: d["metadata"]["labels"].update(labels))


def not_ready(doc: dict) -> None:
    pods.set_condition(doc, "Ready", "False", "KubeletNotReady")


def current(cluster, name: str = "web") -> dict:
    return store.get(cluster, kinds.POD, "default", name)


def node_of(cluster, name: str = "web") -> str | None:
    return current(cluster, name)["spec"].get("nodeName")


def reasoning(cluster, name: str = "web") -> dict:
    """The scheduler's annotations, parsed."""
    annotations = current(cluster, name)["metadata"].get("annotations") or {}
    found = {}
    for key in (FILTER_RESULT, SCORE_RESULT, FINAL_SCORE_RESULT):
        if key in annotations:
            found[key.rsplit("/", 1)[1]] = json.loads(annotations[key])
    if SELECTED_NODE in annotations:
        found["selected-node"] = annotations[SELECTED_NODE]
    return found


def event_messages(cluster, uid: str, reason: str) -> list[str]:
    return [e["message"] for e in store.list_docs(cluster, kinds.EVENT, owner_uid=uid) if e["reason"] == reason]


def failed_scheduling(cluster, name: str = "web") -> list[str]:
    return event_messages(cluster, current(cluster, name)["metadata"]["uid"], "FailedScheduling")


def step_four_text(cluster, name: str = "web") -> str:
    return Step.objects.get(pod_uid=current(cluster, name)["metadata"]["uid"], number=4).text_en


def tolerations(*entries: dict) -> dict:
    return {"tolerations": list(entries)}


def required(*terms: dict) -> dict:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}}


def node(name: str = "node-1", *, labels: dict | None = None, taints: list | None = None, cpu: int = 4000, memory: int = 8 * GI, **kwargs) -> NodeInfo:
    """A NodeInfo for the plugin functions, without a store."""
    return NodeInfo(name=name, labels=labels or {}, taints=taints or [], unschedulable=False, cpu=cpu, memory=memory, max_pods=110, **kwargs)


def info(spec: dict | None = None, **requests: str) -> PodInfo:
    doc = pod("web", **requests)
    doc["spec"].update(spec or {})
    return pod_info(doc)


# --- binding --------------------------------------------------------------------------------

def test_it_binds_a_pod_to_the_least_allocated_node(cluster):
    place(cluster, "busy-2", "node-2", cpu="1", memory="1Gi")
    place(cluster, "busy-3", "node-3", cpu="2", memory="2Gi")
    web = waiting(cluster, cpu="500m", memory="128Mi")
    before = revision(cluster)

    chosen = scheduler.schedule(cluster, web["metadata"]["uid"])

    bound = current(cluster)
    assert chosen == "node-1"
    assert bound["spec"]["nodeName"] == "node-1"
    assert pods.condition(bound, "PodScheduled")["status"] == "True"
    # One write of the pod (binding, condition and reasoning together), then the event.
    assert [(c.type, c.kind) for c in changes_after(cluster, before)] == [(Change.MODIFIED, "Pod"), (Change.ADDED, "Event")]
    assert "(3 of 3 nodes fit; node-1 is the least allocated)" in step_four_text(cluster)


def test_it_records_a_scheduled_event_and_step_four(cluster):
    web = waiting(cluster)

    node = scheduler.schedule(cluster, web["metadata"]["uid"])

    assert event_messages(cluster, web["metadata"]["uid"], "Scheduled") == [f"Successfully assigned default/web to {node}"]
    assert steps_of(web["metadata"]["uid"]) == [(4, "done")]


def test_it_spreads_pods_without_requests_over_empty_nodes_in_turn(cluster):
    placed = [attempt(cluster, f"spread-{i}") for i in range(4)]

    assert placed == ["node-1", "node-2", "node-3", "node-1"]
    # The first pod of an empty cluster: every score ties, and so do the pod counts.
    assert "(3 of 3 nodes fit; scores and pod counts tie, so node-1, the first by name)" in step_four_text(cluster, "spread-0")
    assert "(3 of 3 nodes fit; node-2 is the least allocated, tied and first by name)" in step_four_text(cluster, "spread-1")


def test_it_breaks_a_tie_in_favour_of_the_node_with_fewest_pods(cluster):
    place(cluster, "a", "node-1", cpu="0", memory="0")
    place(cluster, "b", "node-2", cpu="0", memory="0")

    assert attempt(cluster) == "node-3"
    assert "the scores tie and node-3 runs the fewest pods" in step_four_text(cluster)


def test_it_counts_pods_without_requests_when_it_scores(cluster):
    for i in range(3):
        place(cluster, f"small-{i}", "node-1")
    place(cluster, "small-3", "node-2")

    assert attempt(cluster) == "node-3"


def test_it_leaves_a_bound_a_deleted_or_another_schedulers_pod_alone(cluster):
    bound = place(cluster, "bound", "node-1")
    other = waiting(cluster, "other", spec={"schedulerName": "my-scheduler"})
    before = revision(cluster)

    assert scheduler.schedule(cluster, bound["metadata"]["uid"]) is None
    assert scheduler.schedule(cluster, other["metadata"]["uid"]) is None
    assert scheduler.schedule(cluster, "no-such-uid") is None
    assert revision(cluster) == before


def test_it_lists_pending_pods_by_priority_then_oldest_first(cluster, monkeypatch):
    place(cluster, "bound", "node-1")
    monkeypatch.setattr(metav1, "now", lambda: datetime(2026, 1, 1, 10, 0, 0, tzinfo=timezone.utc))
    first = waiting(cluster, "z-first")
    monkeypatch.setattr(metav1, "now", lambda: datetime(2026, 1, 1, 10, 0, 5, tzinfo=timezone.utc))
    second = waiting(cluster, "a-second")
    urgent = waiting(cluster, "urgent", spec={"priority": 1000})
    waiting(cluster, "elsewhere", spec={"schedulerName": "my-scheduler"})

    assert scheduler.pending_pods(cluster) == [urgent["metadata"]["uid"], first["metadata"]["uid"], second["metadata"]["uid"]]


# --- NodeUnschedulable -------------------------------------------------------------------------

def test_a_cordoned_node_is_refused(cluster):
    for name in ("node-1", "node-2", "node-3"):
        cordon(cluster, name)

    assert attempt(cluster) is None
    assert failed_scheduling(cluster) == [
        f"0/3 nodes are available: 3 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."
    ]


def test_a_pod_that_tolerates_the_unschedulable_taint_may_go_to_a_cordoned_node(cluster):
    for name in ("node-2", "node-3"):
        cordon(cluster, name)
    place(cluster, "busy", "node-1", cpu="1")
    spec = tolerations({"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"})

    assert attempt(cluster, spec=spec) == "node-2"


def test_it_goes_to_the_only_node_not_cordoned_and_says_so(cluster):
    cordon(cluster, "node-1")
    cordon(cluster, "node-3")

    assert attempt(cluster) == "node-2"
    assert "(1 of 3 nodes fit; the only node not cordoned)" in step_four_text(cluster)
    assert reasoning(cluster)["filter-result"]["node-1"] == {"NodeUnschedulable": "node(s) were unschedulable"}


# --- NodeName ------------------------------------------------------------------------------

def test_the_node_name_filter_passes_only_the_named_node():
    named = info({"nodeName": "node-2"})

    assert nodename.filter(named, node("node-2")) is None
    assert nodename.filter(named, node("node-1")).reasons == ["node(s) didn't match the requested node name"]
    assert nodename.filter(info(), node("node-1")) is None


# --- TaintToleration (filter) -----------------------------------------------------------------

def test_a_node_with_an_untolerated_no_schedule_or_no_execute_taint_is_refused(cluster):
    taint(cluster, "node-1", "dedicated", "gpu")
    taint(cluster, "node-2", "maintenance", effect="NoExecute")

    assert attempt(cluster) == "node-3"
    assert reasoning(cluster)["filter-result"] == {
        "node-1": {"NodeUnschedulable": "passed", "NodeName": "passed", "TaintToleration": "node(s) had untolerated taint {dedicated: gpu}"},
        "node-2": {"NodeUnschedulable": "passed", "NodeName": "passed", "TaintToleration": "node(s) had untolerated taint {maintenance: }"},
        "node-3": ALL_PASSED,
    }
    assert "the only node whose taints the pod tolerates" in step_four_text(cluster)


def test_a_pod_that_tolerates_the_taint_may_go_there(cluster):
    for name in ("node-1", "node-2", "node-3"):
        taint(cluster, name, "dedicated", "gpu")
    place(cluster, "busy-1", "node-1", cpu="1")

    assert attempt(cluster, "plain") is None
    assert failed_scheduling(cluster, "plain") == [
        f"0/3 nodes are available: 3 node(s) had untolerated taint {{dedicated: gpu}}. preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."
    ]
    assert attempt(cluster, spec=tolerations({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"})) == "node-2"


def test_a_prefer_no_schedule_taint_does_not_refuse_a_node(cluster):
    for name in ("node-1", "node-2", "node-3"):
        taint(cluster, name, "spot", "true", effect="PreferNoSchedule")

    assert attempt(cluster) == "node-1"


@pytest.mark.parametrize(
    "toleration, tolerated",
    [
        ({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, True),
        ({"key": "dedicated", "value": "gpu"}, True),  # operator defaults to Equal, empty effect matches all
        ({"key": "dedicated", "operator": "Equal", "value": "cpu"}, False),
        ({"key": "dedicated", "operator": "Exists"}, True),
        ({"key": "other", "operator": "Exists"}, False),
        ({"operator": "Exists"}, True),  # empty key with Exists tolerates everything
        ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "dedicated", "operator": "Gt", "value": "gpu"}, False),
    ],
)
def test_a_toleration_matches_a_taint_as_kubernetes_does(toleration, tolerated):
    assert tainttoleration.tolerates(toleration, {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}) is tolerated


def test_a_not_ready_node_counts_as_tainted_not_ready(cluster):
    place(cluster, "busy-3", "node-3", cpu="2", memory="4Gi")
    cordon(cluster, "node-1")
    edit_node(cluster, "node-2", not_ready)

    assert attempt(cluster) == "node-3"
    assert reasoning(cluster)["filter-result"]["node-2"]["TaintToleration"] == "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"


def test_it_reports_not_ready_nodes_as_an_untolerated_taint(cluster):
    for name in ("node-1", "node-2", "node-3"):
        edit_node(cluster, name, not_ready)

    assert attempt(cluster) is None
    assert failed_scheduling(cluster) == [
        f"0/3 nodes are available: 3 node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}. preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."
    ]


def test_a_node_whose_kubelet_stopped_reporting_counts_as_unreachable(cluster):
    for name in ("node-1", "node-2"):
        edit_node(cluster, name, not_ready)
    edit_node(cluster, "node-3", lambda d: pods.set_condition(d, "Ready", "Unknown", "NodeStatusUnknown"))
    spec = tolerations({"key": "node.kubernetes.io/not-ready", "operator": "Exists"})

    assert attempt(cluster, spec=spec) == "node-1"
    assert reasoning(cluster)["filter-result"]["node-3"]["TaintToleration"] == "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"


# --- NodeAffinity (filter) --------------------------------------------------------------------

def test_a_pod_with_a_node_selector_goes_to_the_only_labelled_node(cluster):
    label(cluster, "node-2", disk="ssd")

    assert attempt(cluster, spec={"nodeSelector": {"disk": "ssd"}}) == "node-2"
    assert "(1 of 3 nodes fit; the only node matching nodeSelector disk=ssd)" in step_four_text(cluster)
    result = reasoning(cluster)
    assert result["filter-result"]["node-1"]["NodeAffinity"] == "node(s) didn't match Pod's node affinity/selector"
    assert result["filter-result"]["node-2"] == ALL_PASSED
    # Only one node left: kube-scheduler does not score.
    assert result["score-result"] == {} and result["finalscore-result"] == {}
    assert result["selected-node"] == "node-2"


def test_a_node_selector_matching_no_node_leaves_the_pod_pending(cluster):
    assert attempt(cluster, spec={"nodeSelector": {"disk": "ssd"}}) is None
    assert failed_scheduling(cluster) == [
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        f"preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."
    ]


def test_required_node_affinity_ors_its_terms_and_ands_their_expressions(cluster):
    label(cluster, "node-1", zone="a", disk="hdd")
    label(cluster, "node-2", zone="b", disk="hdd")
    label(cluster, "node-3", zone="a", disk="ssd")
    spec = required(
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}, {"key": "disk", "operator": "In", "values": ["ssd"]}]},
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["c"]}]},
    )

    assert attempt(cluster, spec=spec) == "node-3"
    assert "the only node matching its required node affinity" in step_four_text(cluster)


@pytest.mark.parametrize(
    "expression, matches",
    [
        ({"key": "zone", "operator": "In", "values": ["a", "b"]}, True),
        ({"key": "zone", "operator": "In", "values": ["b"]}, False),
        ({"key": "zone", "operator": "NotIn", "values": ["b"]}, True),
        ({"key": "missing", "operator": "NotIn", "values": ["b"]}, True),
        ({"key": "zone", "operator": "NotIn", "values": ["a"]}, False),
        ({"key": "zone", "operator": "Exists"}, True),
        ({"key": "missing", "operator": "Exists"}, False),
        ({"key": "missing", "operator": "DoesNotExist"}, True),
        ({"key": "zone", "operator": "DoesNotExist"}, False),
        ({"key": "cores", "operator": "Gt", "values": ["7"]}, True),
        ({"key": "cores", "operator": "Gt", "values": ["8"]}, False),
        ({"key": "cores", "operator": "Lt", "values": ["9"]}, True),
        ({"key": "cores", "operator": "Lt", "values": ["8"]}, False),
        ({"key": "zone", "operator": "Gt", "values": ["1"]}, False),  # a label that is not a number
        ({"key": "missing", "operator": "Lt", "values": ["1"]}, False),
        ({"key": "cores", "operator": "Gt", "values": ["x"]}, False),  # unparsable: the term matches nothing
        ({"key": "zone", "operator": "Like", "values": ["a"]}, False),
    ],
)
def test_a_node_selector_requirement_reads_as_kubernetes_does(expression, matches):
    labelled = node(labels={"zone": "a", "cores": "8"})

    assert nodeaffinity.match_term({"matchExpressions": [expression]}, labelled) is matches


def test_an_empty_node_selector_term_matches_no_node():
    assert nodeaffinity.match_term({}, node()) is False
    assert nodeaffinity.match_term({"matchExpressions": []}, node()) is False


def test_match_fields_on_the_node_name_narrow_the_candidates_before_filtering(cluster):
    spec = required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-3"]}]})
    cordon(cluster, "node-3")

    assert attempt(cluster, spec=spec) is None
    assert failed_scheduling(cluster) == [
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
        f"preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."
    ]
    assert reasoning(cluster)["filter-result"]["node-1"] == {"NodeAffinity": "node(s) didn't satisfy plugin(s) [NodeAffinity]"}


def test_match_fields_not_in_keeps_a_pod_off_a_node(cluster):
    spec = required({"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["node-1"]}]})

    assert attempt(cluster, spec=spec) == "node-2"


def test_terms_that_pin_conflicting_node_names_refuse_the_pod_at_once(cluster):
    spec = required({"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["node-1"]},
        {"key": "metadata.name", "operator": "In", "values": ["node-2"]},
    ]})

    assert attempt(cluster, spec=spec) is None
    assert failed_scheduling(cluster) == [
        f"0/3 nodes are available: pod affinity terms conflict. preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."
    ]


# --- NodeResourcesFit (filter) ----------------------------------------------------------------

def test_it_leaves_a_pod_pending_with_a_failed_scheduling_event_when_nothing_fits(cluster):
    web = waiting(cluster, cpu="3")
    for name in ("node-1", "node-2", "node-3"):
        place(cluster, f"big-{name}", name, cpu="2")

    chosen = scheduler.schedule(cluster, web["metadata"]["uid"])

    stuck = current(cluster)
    message = f"0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 {NO_VICTIMS}."
    assert chosen is None
    assert "nodeName" not in stuck["spec"]
    assert stuck["status"]["phase"] == "Pending"
    condition = pods.condition(stuck, "PodScheduled")
    assert (condition["status"], condition["reason"], condition["message"]) == ("False", "Unschedulable", message)
    assert failed_scheduling(cluster) == [message]
    assert steps_of(web["metadata"]["uid"]) == []


def test_a_request_larger_than_any_node_cannot_be_helped_by_preemption(cluster):
    assert attempt(cluster, cpu="5") is None
    assert failed_scheduling(cluster) == [f"0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."]


def test_it_counts_pods_against_a_nodes_pod_capacity(cluster):
    for name in ("node-1", "node-2", "node-3"):
        edit_node(cluster, name, lambda d: d["status"]["allocatable"].update(pods="1"))
        place(cluster, f"only-{name}", name)

    assert attempt(cluster) is None
    assert failed_scheduling(cluster) == [f"0/3 nodes are available: 3 Too many pods. preemption: 0/3 nodes are available: 3 {NO_VICTIMS}."]


def test_a_node_short_of_cpu_and_memory_gives_both_reasons(cluster):
    place(cluster, "big", "node-1", cpu="3", memory="7Gi")
    cordon(cluster, "node-2")
    cordon(cluster, "node-3")

    assert attempt(cluster, cpu="2", memory="2Gi") is None
    assert reasoning(cluster)["filter-result"]["node-1"]["NodeResourcesFit"] == "Insufficient cpu, Insufficient memory"
    assert failed_scheduling(cluster) == [
        "0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 2 node(s) were unschedulable. "
        f"preemption: 0/3 nodes are available: 1 {NO_VICTIMS}, 2 {NOT_HELPFUL}."
    ]


def test_it_goes_to_the_only_node_with_room_and_says_so(cluster):
    place(cluster, "big-1", "node-1", cpu="3")
    place(cluster, "big-3", "node-3", cpu="3")

    assert attempt(cluster, cpu="2") == "node-2"
    assert "(1 of 3 nodes fit; the only node with room for its requests)" in step_four_text(cluster)


def test_a_terminating_pod_still_holds_its_room_and_a_finished_one_does_not(cluster):
    place(cluster, "leaving", "node-1", cpu="3")
    store.mark_deleted(cluster, kinds.POD, "default", "leaving", by=store.API, grace_seconds=30)
    done = place(cluster, "done", "node-2", cpu="3")
    store.mutate(cluster, kinds.POD, "default", "done", lambda d: d["status"].update(phase="Succeeded"), by=store.KUBELET)
    cordon(cluster, "node-3")

    assert done["spec"]["nodeName"] == "node-2"
    assert attempt(cluster, cpu="2") == "node-2"


# --- the FailedScheduling message ------------------------------------------------------------

def test_it_says_why_each_node_was_refused_as_kubernetes_words_it(cluster):
    cordon(cluster, "node-1")
    taint(cluster, "node-2", "dedicated", "gpu")
    place(cluster, "big", "node-3", memory="6Gi")

    assert attempt(cluster, memory="4Gi") is None

    # kube-scheduler sorts the "<count> <reason>" strings themselves.
    assert failed_scheduling(cluster) == [
        "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable. "
        f"preemption: 0/3 nodes are available: 1 {NO_VICTIMS}, 2 {NOT_HELPFUL}."
    ]


def test_it_says_nothing_of_preemption_where_evicting_would_have_made_room(cluster):
    for name in ("node-1", "node-2", "node-3"):
        place(cluster, f"low-{name}", name, cpu="3", priority=0)

    assert attempt(cluster, cpu="2", spec={"priority": 1000}) is None
    # The real scheduler would evict a low-priority pod here; we do not preempt, so we do not claim it.
    assert failed_scheduling(cluster) == ["0/3 nodes are available: 3 Insufficient cpu."]


def test_evicting_every_lower_priority_pod_without_making_room_is_reported(cluster):
    for name in ("node-1", "node-2", "node-3"):
        place(cluster, f"high-{name}", name, cpu="3", priority=2000)
        place(cluster, f"low-{name}", name, cpu="500m", priority=0)

    assert attempt(cluster, cpu="2", spec={"priority": 1000}) is None
    assert failed_scheduling(cluster) == ["0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 Insufficient cpu."]


def test_a_pod_that_never_preempts_gets_no_preemption_sentence(cluster):
    for name in ("node-1", "node-2", "node-3"):
        place(cluster, f"big-{name}", name, cpu="3")

    assert attempt(cluster, cpu="2", spec={"preemptionPolicy": "Never"}) is None
    assert failed_scheduling(cluster) == ["0/3 nodes are available: 3 Insufficient cpu."]


def test_a_cluster_without_nodes_says_so(cluster):
    for name in ("node-1", "node-2", "node-3"):
        store.remove(cluster, kinds.NODE, "", name, by=store.API)

    assert attempt(cluster) is None
    assert failed_scheduling(cluster) == ["no nodes available to schedule pods"]


def test_it_writes_nothing_new_when_a_second_attempt_fails_the_same_way(cluster):
    web = waiting(cluster, cpu="5")
    scheduler.schedule(cluster, web["metadata"]["uid"])
    before = revision(cluster)

    scheduler.schedule(cluster, web["metadata"]["uid"])

    assert revision(cluster) == before


def test_a_new_reason_is_written_with_one_new_event(cluster):
    web = waiting(cluster, cpu="5")
    scheduler.schedule(cluster, web["metadata"]["uid"])
    cordon(cluster, "node-1")

    scheduler.schedule(cluster, web["metadata"]["uid"])

    assert len(failed_scheduling(cluster)) == 2
    assert pods.condition(current(cluster), "PodScheduled")["message"] == failed_scheduling(cluster)[-1]
    assert reasoning(cluster)["filter-result"]["node-1"] == {"NodeUnschedulable": "node(s) were unschedulable"}


def test_it_tries_again_and_binds_once_room_is_made(cluster):
    web = waiting(cluster, cpu="3")
    for name in ("node-1", "node-2", "node-3"):
        place(cluster, f"big-{name}", name, cpu="2")
    scheduler.schedule(cluster, web["metadata"]["uid"])
    store.remove(cluster, kinds.POD, "default", "big-node-2", by=store.API)

    assert scheduler.schedule(cluster, web["metadata"]["uid"]) == "node-2"
    assert events.reasons_for(cluster, web["metadata"]["uid"]) == ["FailedScheduling", "Scheduled"]
    assert pods.condition(current(cluster), "PodScheduled")["status"] == "True"


def test_a_pending_pod_is_bound_once_a_node_gets_its_label(cluster):
    web = waiting(cluster, spec={"nodeSelector": {"disk": "ssd"}})
    scheduler.schedule(cluster, web["metadata"]["uid"])
    label(cluster, "node-3", disk="ssd")

    assert scheduler.pending_pods(cluster) == [web["metadata"]["uid"]]
    assert scheduler.schedule(cluster, web["metadata"]["uid"]) == "node-3"


# --- scores ---------------------------------------------------------------------------------

def test_least_allocated_scores_the_free_share_of_cpu_and_memory():
    busy = node(pods=[PodOnNode("default/a", 0, 2000, 4 * GI, 2000, 4 * GI)])

    assert noderesources.least_allocated(info(cpu="1", memory="2Gi"), node()) == 75  # (75 + 75) / 2
    assert noderesources.least_allocated(info(cpu="1", memory="2Gi"), busy) == 25  # (25 + 25) / 2
    # A pod without requests counts as 100m and 200Mi: 97 for CPU, 97 for memory.
    assert noderesources.least_allocated(info(), node()) == 97
    assert noderesources.least_allocated(info(cpu="5", memory="0"), node()) == 50  # more than the node: 0 for CPU


def test_balanced_allocation_favours_equal_shares_of_cpu_and_memory():
    assert noderesources.balanced_allocation(info(cpu="2", memory="4Gi"), node()) == 100
    assert noderesources.balanced_allocation(info(cpu="2", memory="0"), node()) == 75  # |0.5 - 0| / 2 = 0.25
    assert noderesources.skip_balanced(info()) and not noderesources.skip_balanced(info(cpu="1"))


def test_balanced_allocation_decides_between_equally_free_nodes(cluster):
    place(cluster, "lopsided", "node-1", cpu="2", memory="2Gi")
    place(cluster, "even", "node-2", cpu="1500m", memory="3Gi")
    cordon(cluster, "node-3")

    assert attempt(cluster, cpu="1", memory="2Gi") == "node-2"
    result = reasoning(cluster)
    assert result["score-result"]["node-1"]["NodeResourcesFit"] == result["score-result"]["node-2"]["NodeResourcesFit"] == "37"
    assert (result["score-result"]["node-1"]["NodeResourcesBalancedAllocation"], result["score-result"]["node-2"]["NodeResourcesBalancedAllocation"]) == ("87", "100")
    assert "node-2 keeps CPU and memory use the most balanced" in step_four_text(cluster)


def test_prefer_no_schedule_taints_score_a_node_down(cluster):
    taint(cluster, "node-1", "spot", "true", effect="PreferNoSchedule")
    taint(cluster, "node-2", "spot", "true", effect="PreferNoSchedule")
    taint(cluster, "node-2", "old", "true", effect="PreferNoSchedule")
    place(cluster, "busy", "node-3", cpu="2", memory="4Gi")

    assert attempt(cluster, cpu="100m", memory="100Mi") == "node-3"
    result = reasoning(cluster)
    assert {n: s["TaintToleration"] for n, s in result["score-result"].items()} == {"node-1": "1", "node-2": "2", "node-3": "0"}
    # Normalized (reversed: fewer is better) and times the weight, 3.
    assert {n: s["TaintToleration"] for n, s in result["finalscore-result"].items()} == {"node-1": "150", "node-2": "0", "node-3": "300"}
    assert "node-3 has the fewest PreferNoSchedule taints the pod does not tolerate" in step_four_text(cluster)


def test_a_tolerated_prefer_no_schedule_taint_does_not_count(cluster):
    taint(cluster, "node-1", "spot", "true", effect="PreferNoSchedule")
    spec = tolerations({"key": "spot", "operator": "Exists", "effect": "PreferNoSchedule"})

    assert attempt(cluster, spec=spec) == "node-1"
    assert reasoning(cluster)["score-result"]["node-1"]["TaintToleration"] == "0"


def test_preferred_node_affinity_scores_the_matching_node_up(cluster):
    label(cluster, "node-2", zone="b")
    label(cluster, "node-3", zone="c")
    place(cluster, "busy", "node-2", cpu="1", memory="1Gi")
    spec = {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 80, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}},
        {"weight": 20, "preference": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}},
    ]}}}

    assert attempt(cluster, spec=spec) == "node-2"
    result = reasoning(cluster)
    assert {n: s["NodeAffinity"] for n, s in result["score-result"].items()} == {"node-1": "0", "node-2": "100", "node-3": "20"}
    # Normalized to the best (100) and times the weight, 2.
    assert {n: s["NodeAffinity"] for n, s in result["finalscore-result"].items()} == {"node-1": "0", "node-2": "200", "node-3": "40"}
    assert "node-2 best matches the pod's preferred node affinity" in step_four_text(cluster)


def test_the_total_is_the_sum_of_the_weighted_scores(cluster):
    label(cluster, "node-1", zone="a")
    spec = {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 5, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
    ]}}}

    attempt(cluster, spec=spec, cpu="1", memory="1Gi")

    for scores in reasoning(cluster)["finalscore-result"].values():
        assert int(scores.pop("total")) == sum(int(v) for v in scores.values())


# --- the reasoning annotations ----------------------------------------------------------------

def test_it_keeps_its_reasoning_on_the_pod_as_the_simulator_does(cluster):
    place(cluster, "busy-2", "node-2", cpu="1", memory="1Gi")
    place(cluster, "busy-3", "node-3", cpu="2", memory="2Gi")

    attempt(cluster, cpu="500m", memory="128Mi")

    annotations = current(cluster)["metadata"]["annotations"]
    assert annotations[SELECTED_NODE] == "node-1"
    # Compact JSON in strings; plugins in the order they ran; scores as strings.
    assert annotations[FILTER_RESULT] == json.dumps({n: ALL_PASSED for n in ("node-1", "node-2", "node-3")}, separators=(",", ":"))
    assert json.loads(annotations[SCORE_RESULT]) == {
        "node-1": {"TaintToleration": "0", "NodeResourcesFit": "92", "NodeResourcesBalancedAllocation": "94"},
        "node-2": {"TaintToleration": "0", "NodeResourcesFit": "73", "NodeResourcesBalancedAllocation": "88"},
        "node-3": {"TaintToleration": "0", "NodeResourcesFit": "55", "NodeResourcesBalancedAllocation": "82"},
    }
    assert json.loads(annotations[FINAL_SCORE_RESULT]) == {
        "node-1": {"TaintToleration": "300", "NodeResourcesFit": "92", "NodeResourcesBalancedAllocation": "94", "total": "486"},
        "node-2": {"TaintToleration": "300", "NodeResourcesFit": "73", "NodeResourcesBalancedAllocation": "88", "total": "461"},
        "node-3": {"TaintToleration": "300", "NodeResourcesFit": "55", "NodeResourcesBalancedAllocation": "82", "total": "437"},
    }
    assert " " not in annotations[FILTER_RESULT].replace("node(s) ", "")


def test_a_pod_without_requests_is_not_scored_for_balance_or_preferred_affinity(cluster):
    attempt(cluster)

    assert set(reasoning(cluster)["score-result"]["node-1"]) == {"TaintToleration", "NodeResourcesFit"}


def test_a_failed_attempt_keeps_only_the_filter_result(cluster):
    cordon(cluster, "node-1")

    attempt(cluster, cpu="5")

    assert reasoning(cluster) == {"filter-result": {
        "node-1": {"NodeUnschedulable": "node(s) were unschedulable"},
        "node-2": {"NodeUnschedulable": "passed", "NodeName": "passed", "TaintToleration": "passed", "NodeAffinity": "passed", "NodeResourcesFit": "Insufficient cpu"},
        "node-3": {"NodeUnschedulable": "passed", "NodeName": "passed", "TaintToleration": "passed", "NodeAffinity": "passed", "NodeResourcesFit": "Insufficient cpu"},
    }}


def test_a_binding_after_a_failure_replaces_the_old_reasoning_and_keeps_other_annotations(cluster):
    doc = pod("web", cpu="3")
    doc["metadata"]["annotations"] = {"team": "blue"}
    web = store.create(cluster, doc)
    for name in ("node-1", "node-2", "node-3"):
        place(cluster, f"big-{name}", name, cpu="2")
    scheduler.schedule(cluster, web["metadata"]["uid"])
    store.remove(cluster, kinds.POD, "default", "big-node-3", by=store.API)

    scheduler.schedule(cluster, web["metadata"]["uid"])

    annotations = current(cluster)["metadata"]["annotations"]
    assert annotations["team"] == "blue"
    assert annotations[SELECTED_NODE] == "node-3"
    assert json.loads(annotations[FILTER_RESULT])["node-3"] == ALL_PASSED


def test_the_framework_stops_at_the_first_filter_that_refuses():
    tainted = node(taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}], labels={})

    results, status = framework.run_filters(info({"nodeSelector": {"disk": "ssd"}}, cpu="9"), tainted)

    assert results == {"NodeUnschedulable": "passed", "NodeName": "passed", "TaintToleration": "node(s) had untolerated taint {dedicated: gpu}"}
    assert status.plugin == "TaintToleration" and not status.resolvable


# --- what the API server refuses before the scheduler sees it --------------------------------

AFFINITY = "spec.affinity.nodeAffinity."
REQUIRED_TERMS = AFFINITY + "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
LABEL_VALUE = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"


@pytest.mark.parametrize(
    "spec, field, message",
    [
        ({"nodeSelector": {"disk": "s s d"}}, "spec.nodeSelector[disk]", f'Invalid value: "s s d": {LABEL_VALUE}'),
        (tolerations({"key": "dedicated", "operator": "Like"}), "spec.tolerations[0].operator", 'Unsupported value: "Like": supported values: "Equal", "Exists"'),
        (tolerations({"key": "dedicated", "effect": "Never"}), "spec.tolerations[0].effect", 'Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'),
        (tolerations({"value": "x"}), "spec.tolerations[0].operator", 'Invalid value: "": operator must be Exists when `key` is empty, which means "match all values and all keys"'),
        (tolerations({"key": "k", "value": "a b"}), "spec.tolerations[0].operator", f'Invalid value: "a b": {LABEL_VALUE}'),
        (tolerations({"key": "k", "effect": "NoSchedule", "tolerationSeconds": 30}), "spec.tolerations[0].effect", "Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set"),
        (required(), REQUIRED_TERMS, "Required value: must have at least one node selector term"),
        (required({"matchExpressions": [{"key": "zone", "operator": "Like", "values": ["a"]}]}), REQUIRED_TERMS + "[0].matchExpressions[0].operator", 'Invalid value: "Like": not a valid selector operator'),
        (required({"matchExpressions": [{"key": "zone", "operator": "In"}]}), REQUIRED_TERMS + "[0].matchExpressions[0].values", "Required value: must be specified when `operator` is 'In' or 'NotIn'"),
        (required({"matchExpressions": [{"key": "zone", "operator": "Exists", "values": ["a"]}]}), REQUIRED_TERMS + "[0].matchExpressions[0].values", "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
        (required({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["1", "2"]}]}), REQUIRED_TERMS + "[0].matchExpressions[0].values", "Required value: must be specified single value when `operator` is 'Lt' or 'Gt'"),
        (required({"matchFields": [{"key": "metadata.labels", "operator": "In", "values": ["a"]}]}), REQUIRED_TERMS + "[0].matchFields[0].key", 'Invalid value: "metadata.labels": not a valid field selector key'),
        (required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a", "b"]}]}), REQUIRED_TERMS + "[0].matchFields[0].values", "Required value: must be only one value when `operator` is 'In' or 'NotIn' for node field selector"),
        (
            {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 0, "preference": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}}]}}},
            AFFINITY + "preferredDuringSchedulingIgnoredDuringExecution[0].weight",
            "Invalid value: 0: must be in the range 1-100",
        ),
    ],
)
def test_the_api_server_refuses_malformed_scheduling_fields(cluster, spec, field, message):
    before = revision(cluster)
    with pytest.raises(APIError) as caught:
        waiting(cluster, spec=spec)

    status = caught.value.status()
    assert (status["code"], status["reason"]) == (422, "Invalid")
    assert [(c["field"], c["message"]) for c in status["details"]["causes"]] == [(field, message)]
    assert revision(cluster) == before


def test_the_api_server_accepts_the_scheduling_fields_kubernetes_accepts(cluster):
    spec = {
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [
            {"operator": "Exists"},
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ],
        **required(
            {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}, {"key": "cores", "operator": "Gt", "values": ["2"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]},
        ),
    }

    assert waiting(cluster, spec=spec)["spec"]["tolerations"][0] == {"operator": "Exists"}


def test_the_resync_retries_unschedulable_pods_once_a_minute_and_untried_ones_at_once(cluster):
    from cluster.scheduler import cycle

    nowhere = pod("nowhere")
    nowhere["spec"]["nodeSelector"] = {"disk": "floppy"}
    store.create(cluster, nowhere)
    assert cycle.resync_wanted(cluster, now=1000.0)  # never tried: a lost wake-up

    cycle.schedule(cluster, store.get(cluster, kinds.POD, "default", "nowhere")["metadata"]["uid"])

    assert cycle.resync_wanted(cluster, now=1000.0)  # the first flush of this cluster
    assert not cycle.resync_wanted(cluster, now=1030.0)
    assert cycle.resync_wanted(cluster, now=1000.0 + cycle.UNSCHEDULABLE_RETRY_SECONDS)
