"""Credentials for the Kubernetes API: a cluster's bearer token opens that cluster only; the
owner's browser session opens it for the page."""
from __future__ import annotations

import hmac
from functools import wraps
from typing import Any, Callable

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware

from cluster import sandbox
from cluster.apimachinery.errors import APIError
from cluster.apiserver.admission import quota
from cluster.apiserver.handlers import access
from cluster.models import Cluster


def bearer_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def resolve(request: HttpRequest, cluster_name: str) -> Cluster:
    """The cluster named in the URL, if the request may use it.

    Two credentials open a cluster's API: its bearer token (kubectl, the Python client,
    scripts), or the owner's browser session (the page, cluster/apiserver/handlers/access.py decides), whose
    writes must carry the CSRF token. 401 without a valid credential (as a real API server
    answers an anonymous request it does not allow); 403 with a token that belongs to
    another cluster. A session that may not open the cluster counts as no credential, so
    nothing says whether a cluster of that name exists.
    """
    cluster = _open(request, cluster_name)
    request.podflow_cluster = cluster
    if not getattr(request, "podflow_reader", False):  # an instructor looking on is not the learner's activity
        sandbox.touch(cluster)
    # A client's write past the sandbox's rate is refused here, before the view writes.
    if request.method not in SAFE_METHODS:
        quota.admit_write(cluster)
    return cluster


def _open(request: HttpRequest, cluster_name: str) -> Cluster:
    token = bearer_token(request)
    if not token:
        request.podflow_via_session = True
        return _by_session(request, cluster_name)
    cluster = Cluster.objects.one("name", cluster_name)
    if cluster is not None and hmac.compare_digest(cluster.token.encode(), token.encode("utf-8", "surrogateescape")):
        if request.method not in SAFE_METHODS and access.is_read_only(cluster):
            raise _read_only(cluster_name)
        return cluster
    owner = Cluster.objects.filter(token=token).values_list("name", flat=True).first()
    if owner is None:
        raise APIError(401, "Unauthorized", "Unauthorized")
    if cluster is None:
        raise APIError(404, "NotFound", f'cluster "{cluster_name}" not found')
    raise APIError(
        403,
        "Forbidden",
        f'forbidden: User "podflow:{owner}" cannot access cluster "{cluster_name}": its token opens cluster "{owner}" only',
    )


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _by_session(request: HttpRequest, cluster_name: str) -> Cluster:
    cluster = access.cluster_for(request, cluster_name)
    if cluster is None:
        if request.method not in SAFE_METHODS and access.cluster_for(request, cluster_name, write=False) is not None:
            raise _read_only(cluster_name)  # who may read it may know it exists
        raise APIError(401, "Unauthorized", "Unauthorized")
    request.podflow_reader = not access.owns(access.principal(request), cluster)
    if request.method not in SAFE_METHODS:
        # The API views are CSRF-exempt for bearer tokens, as the Kubernetes API is; a
        # cookie is sent by the browser on its own, so a cookie-borne write must prove it
        # comes from our page.
        rejected = CsrfViewMiddleware(_no_response).process_view(request, _csrf_protected, (), {})
        if rejected is not None:
            raise APIError(403, "Forbidden", "forbidden: CSRF verification failed: send the csrftoken cookie's value in the X-CSRFToken header")
    return cluster


def _read_only(cluster_name: str) -> APIError:
    return APIError(403, "Forbidden", f'forbidden: cluster "{cluster_name}" is open to you read-only')


def _no_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


def _csrf_protected(request: HttpRequest) -> HttpResponse:
    """A stand-in view that is not CSRF-exempt, so the middleware checks the request."""
    return HttpResponse()


def authenticated(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Replace the `cluster` URL argument by the Cluster the request may use."""

    @wraps(view)
    def wrapper(request: HttpRequest, cluster: str, *args: Any, **kwargs: Any) -> HttpResponse:
        return view(request, resolve(request, cluster), *args, **kwargs)

    return wrapper


def kubeconfig(cluster: Cluster, server: str, ca_pem: bytes | None = None) -> str:
    """A kubeconfig whose server is this cluster's API and whose user holds its token."""
    import base64

    name = f"podflow-{cluster.name}"
    trust = f"    certificate-authority-data: {base64.b64encode(ca_pem).decode()}\n" if ca_pem else ""
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: {name}\n"
        "  cluster:\n"
        + trust
        + f"    server: {server.rstrip('/')}/k8s/{cluster.name}\n"
        "contexts:\n"
        f"- name: {name}\n"
        "  context:\n"
        f"    cluster: {name}\n"
        f"    user: {name}\n"
        "    namespace: default\n"
        f"current-context: {name}\n"
        "users:\n"
        f"- name: {name}\n"
        "  user:\n"
        f"    token: {cluster.token}\n"
        "preferences: {}\n"
    )
