"""Bearer tokens for the Kubernetes API: each cluster's kubeconfig opens that cluster only."""
from __future__ import annotations

import hmac
from functools import wraps
from typing import Any, Callable

from django.http import HttpRequest, HttpResponse

from cluster.errors import APIError
from cluster.models import Cluster


def bearer_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def resolve(request: HttpRequest, cluster_name: str) -> Cluster:
    """The cluster named in the URL, if the request's token opens it.

    401 without a valid token (as a real API server answers an anonymous request it does
    not allow), 403 with a token that belongs to another cluster.
    """
    token = bearer_token(request)
    if not token:
        raise APIError(401, "Unauthorized", "Unauthorized")
    cluster = Cluster.objects.filter(name=cluster_name).first()
    if cluster is not None and hmac.compare_digest(cluster.token, token):
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
