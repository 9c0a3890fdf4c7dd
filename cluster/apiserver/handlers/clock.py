"""The cluster's clock and its components' switches, as podflow's own API.

    GET  /k8s/<c>/podflow/v1/clock            {"paused", "speed", "stopped", "next": [...]}
    POST /k8s/<c>/podflow/v1/clock            {"paused": true|false, "speed": "instant"|"normal"|"slow"}
    POST /k8s/<c>/podflow/v1/clock/step       {} or {"component": "scheduler"}: one held action goes
    POST /k8s/<c>/podflow/v1/components/<scheduler|controller-manager|kubelet@<node>>/<stop|start>

Not Kubernetes APIs: a real cluster has no clock to pause. They take the cluster's bearer
token (or its owner's session) like the rest of the API, so the page, the labs and
scripts use one mechanism. What the clock does is in cluster/componentbase/clock.py.
"""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from cluster import kubelet, tasks
from cluster.apimachinery.errors import APIError, bad_request
from cluster.apiserver import store
from cluster.apiserver.handlers.auth import resolve
from cluster.apiserver.handlers.k8s import allow_methods, api_view, json_object, json_response
from cluster.componentbase import clock as cluster_clock
from cluster.informers import wake
from cluster.kubelet import node as kubelet_node
from cluster.models import Cluster, Speed

ACTIONS = ("stop", "start")


def _body(request: HttpRequest) -> dict[str, Any]:
    return json_object(request.body) if request.body else {}


def clock_state(cluster: Cluster) -> dict[str, Any]:
    cluster.refresh_from_db(fields=["speed"])
    return {"kind": "Clock", "apiVersion": "podflow/v1", "cluster": cluster.name, "speed": cluster.speed, **cluster_clock.state(cluster)}


@api_view
def clock(request: HttpRequest, cluster: str) -> HttpResponse:
    allow_methods(request, "GET", "POST", "PUT")
    found = resolve(request, cluster)
    if request.method != "GET":
        body = _body(request)
        unknown = sorted(set(body) - {"paused", "speed"})
        if unknown:
            raise bad_request(f"unknown field(s) {', '.join(unknown)}: send paused and/or speed")
        paused, speed = body.get("paused"), body.get("speed")
        if paused is not None and not isinstance(paused, bool):
            raise bad_request("paused must be true or false")
        if speed is not None and speed not in Speed.values:
            raise bad_request(f"speed must be one of {', '.join(Speed.values)}")
        if speed is not None:
            store.set_speed(found, speed)
        if paused is True:
            cluster_clock.pause(found)
        elif paused is False:
            resume(found)
    return json_response(clock_state(found))


def resume(cluster: Cluster) -> None:
    """Let every held action through, in order. The kubelets beat first: while paused no
    heartbeat was due, and the node controller must not take a frozen moment for silence."""
    kubelet.heartbeat(cluster)
    released = cluster_clock.resume(cluster)
    wake.dispatch([(name, tuple(args)) for name, args in released])


@api_view
def step(request: HttpRequest, cluster: str) -> HttpResponse:
    allow_methods(request, "POST")
    found = resolve(request, cluster)
    body = _body(request)
    component = body.get("component") or None
    if component is not None and component not in cluster_clock.COMPONENTS:
        raise bad_request(f"component must be one of {', '.join(cluster_clock.COMPONENTS)}")
    if not cluster_clock.is_paused(found):
        raise APIError(409, "Conflict", "the clock is not paused: pause it first, then step")
    row = cluster_clock.step(found, component)
    released = None
    if row is not None:
        wake.dispatch([(row.task, tuple(row.args))])
        released = {"component": row.component, "action": row.action, "action_ko": row.action_ko, "step": row.step, "object": row.object_ref}
    return json_response({**clock_state(found), "released": released})


@api_view
def switch(request: HttpRequest, cluster: str, component: str, action: str) -> HttpResponse:
    allow_methods(request, "POST")
    found = resolve(request, cluster)
    if action not in ACTIONS:
        raise APIError(404, "NotFound", f'unknown action "{action}": use stop or start')
    if component.startswith("kubelet@"):
        # A kubelet is stopped with its node: the node's power switch.
        node = component.split("@", 1)[1]
        (kubelet_node.stop if action == "stop" else kubelet_node.start)(found, node)
        return json_response(clock_state(found))
    if component not in cluster_clock.STOPPABLE:
        raise APIError(404, "NotFound", f'unknown component "{component}": use scheduler, controller-manager or kubelet@<node>')
    if action == "stop":
        cluster_clock.stop(found, component)
    else:
        cluster_clock.start(found, component)
        catch_up(found, component)
    return json_response(clock_state(found))


def catch_up(cluster: Cluster, component: str) -> None:
    """A component started again looks at everything at once (level-triggered), rather than
    waiting for the next periodic resync."""
    if component == cluster_clock.SCHEDULER:
        wake.dispatch([(wake.SCHEDULE_PENDING, (cluster.pk,))])
        return
    found: list[wake.Task] = []
    for _what, part in tasks.resync_parts(cluster):
        found.extend(t for t in part() if wake.QUEUES.get(t[0]) == component)
    wake.dispatch(found)
