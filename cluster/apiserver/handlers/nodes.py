"""podflow's power switch for worker nodes: /k8s/<cluster>/podflow/v1/nodes/<name>/stop|start.

Not a Kubernetes API (a real cluster has no such thing: a machine dies, or is switched
off). It takes the cluster's bearer token like the rest of the API and answers the Node.

    TOKEN=$(kubectl config view --raw -o jsonpath='{.users[0].user.token}')
    curl -k -X POST -H "Authorization: Bearer $TOKEN" $SERVER/podflow/v1/nodes/node-2/stop
"""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from cluster.apimachinery.errors import APIError
from cluster.apiserver.handlers.auth import resolve
from cluster.apiserver.handlers.k8s import allow_methods, api_view, json_response
from cluster.kubelet import node as kubelet_node

ACTIONS = {"stop": kubelet_node.stop, "start": kubelet_node.start}


@api_view
def power(request: HttpRequest, cluster: str, name: str, action: str) -> HttpResponse:
    allow_methods(request, "POST")
    target = resolve(request, cluster)
    if action not in ACTIONS:
        raise APIError(404, "NotFound", f'unknown action "{action}": use stop or start')
    return json_response(ACTIONS[action](target, name))
