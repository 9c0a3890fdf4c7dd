"""GET /k8s/<cluster>/podflow/v1/namespaces/<ns>/pods/<name>/explain: why a pod is as it is.

Not a Kubernetes API: podflow's answer, for a learner, to "why is my pod Pending (or
CrashLoopBackOff, or not Ready)?" and "which component is responsible?". The reasoning
lives in cluster/explain.py; this view only opens the cluster, reads the pod and answers.
A cluster whose explain is switched off (`Cluster.explain`, a lab's troubleshooting step)
is answered 403 with what to use instead: a real cluster has no explain either.

    TOKEN=$(kubectl config view --raw -o jsonpath='{.users[0].user.token}')
    curl -k -H "Authorization: Bearer $TOKEN" $SERVER/podflow/v1/namespaces/default/pods/web/explain
"""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from cluster import explain as explanation
from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError, Cause
from cluster.apiserver import store
from cluster.apiserver.handlers.auth import resolve
from cluster.apiserver.handlers.k8s import allow_methods, api_view, json_response

SWITCHED_OFF = "ExplainSwitchedOff"


@api_view
def pod(request: HttpRequest, cluster: str, namespace: str, name: str) -> HttpResponse:
    allow_methods(request, "GET")
    found = resolve(request, cluster)
    if not found.explain:
        raise APIError(403, "Forbidden", "explain is switched off in this cluster while a lab asks you to find causes yourself: use kubectl get, kubectl describe and kubectl events", causes=[Cause("", "explain is switched off", reason=SWITCHED_OFF)])
    doc = store.get(found, kinds.POD, namespace, name)  # a missing pod is the API's 404 Status
    return json_response(explanation.explain_pod(found, doc))
