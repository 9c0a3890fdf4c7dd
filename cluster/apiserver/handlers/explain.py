"""GET /k8s/<cluster>/podflow/v1/namespaces/<ns>/pods/<name>/explain: why a pod is as it is.

Not a Kubernetes API: podflow's answer, for a learner, to "why is my pod Pending (or
CrashLoopBackOff, or not Ready)?" and "which component is responsible?". The reasoning
lives in cluster/explain.py; this view only opens the cluster, reads the pod and answers.

    TOKEN=$(kubectl config view --raw -o jsonpath='{.users[0].user.token}')
    curl -k -H "Authorization: Bearer $TOKEN" $SERVER/podflow/v1/namespaces/default/pods/web/explain
"""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from cluster import explain as explanation
from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.apiserver.handlers.auth import resolve
from cluster.apiserver.handlers.k8s import allow_methods, api_view, json_response


@api_view
def pod(request: HttpRequest, cluster: str, namespace: str, name: str) -> HttpResponse:
    allow_methods(request, "GET")
    found = resolve(request, cluster)
    doc = store.get(found, kinds.POD, namespace, name)  # a missing pod is the API's 404 Status
    return json_response(explanation.explain_pod(found, doc))
