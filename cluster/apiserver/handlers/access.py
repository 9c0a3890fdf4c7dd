"""Who may open a cluster: the one rule every door asks (invariant 8, see cluster/__init__.py).

The page, its kubeconfig download, the websocket, the Kubernetes API and podflow's own
endpoints all decide through `can_open`. A cluster opens to:
- its account owner, signed in;
- before anyone signs in, the browser session whose learner id made it;
- staff;
- to read only (the page, its snapshots, the stream, the API's GETs; never a write, nor the
  kubeconfig, which holds the token): the instructor of the class it belongs to.
A cluster of a class that has ended is read-only, to its owner too, for the week it is kept.
Both classroom rules are the web app's (web/classroom.py), registered at startup in
web/apps.py: this layer cannot import it.
The Kubernetes API also opens to the cluster's bearer token (cluster/apiserver/handlers/auth.py), as a real API
server opens to a kubeconfig's credentials.

Anyone else is told nothing: the page and kubeconfig answer 404 as for a cluster that does
not exist, the websocket closes with 4403.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.http import HttpRequest

from cluster.models import Cluster

# The anonymous learner's id in the session. It survives signing in (Django keeps the
# session's data when it cycles the key), so the sandboxes can be adopted then.
LEARNER_KEY = "podflow_learner"
KUBECONFIG_LINK_SALT = "podflow.kubeconfig-link"


@dataclass(frozen=True)
class Principal:
    """Who is asking: an account (or AnonymousUser) and the session's learner id."""

    user: Any
    learner: str = ""

    @property
    def is_staff(self) -> bool:
        return bool(getattr(self.user, "is_authenticated", False) and self.user.is_staff and self.user.is_active)


_readers: list[Callable[[Principal, Cluster], bool]] = []
_read_only: list[Callable[[Cluster], bool]] = []


def allow_reader(rule: Callable[[Principal, Cluster], bool]) -> None:
    """`rule(principal, cluster)` names someone else who may read (never write) a cluster."""
    if rule not in _readers:
        _readers.append(rule)


def read_only_when(rule: Callable[[Cluster], bool]) -> None:
    """`rule(cluster)` says the cluster is read-only for now, to its owner too."""
    if rule not in _read_only:
        _read_only.append(rule)


def is_read_only(cluster: Cluster) -> bool:
    return any(rule(cluster) for rule in _read_only)


def can_open(principal: Principal, cluster: Cluster, *, write: bool = True) -> bool:
    """Whether `principal` may open the cluster: to change it (`write`, the default, and
    what every door that is not a plain read asks), or only to read it."""
    if principal.is_staff:
        return True
    if owns(principal, cluster):
        return not write or not is_read_only(cluster)
    return not write and any(rule(principal, cluster) for rule in _readers)


def owns(principal: Principal, cluster: Cluster) -> bool:
    """The cluster is the principal's own sandbox (or the principal is staff)."""
    if principal.is_staff:
        return True
    user = principal.user
    if cluster.owner_id is not None:
        return bool(user.is_authenticated and user.is_active and cluster.owner_id == user.pk)
    return bool(cluster.learner and principal.learner and _same(cluster.learner, principal.learner))


def _same(a: str, b: str) -> bool:
    """Constant-time comparison that also takes text no ASCII rule vouches for."""
    return secrets.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


# --- HTTP -------------------------------------------------------------------------------

def principal(request: HttpRequest) -> Principal:
    session = getattr(request, "session", None)
    learner = session.get(LEARNER_KEY, "") if session is not None else ""
    return Principal(getattr(request, "user", None) or AnonymousUser(), learner if isinstance(learner, str) else "")


def learner_id(request: HttpRequest) -> str:
    """This browser's learner id, made on first use."""
    current = request.session.get(LEARNER_KEY)
    if not isinstance(current, str) or not current:
        current = secrets.token_urlsafe(24)
        request.session[LEARNER_KEY] = current
    return current


READS = ("GET", "HEAD", "OPTIONS")


def cluster_for(request: HttpRequest, name: str, *, write: bool | None = None) -> Cluster | None:
    """The named cluster if this request may open it; None otherwise (the caller says 404).
    A GET reads; any other method writes (unless `write` says otherwise)."""
    cluster = Cluster.objects.filter(name=name).first()
    if write is None:
        write = request.method not in READS
    if cluster is None or not can_open(principal(request), cluster, write=write):
        return None
    return cluster


def kubeconfig_key(cluster: Cluster) -> str:
    """A signed key that downloads this cluster's kubeconfig for a while without a session
    (for `curl -o kubeconfig <link>` in a terminal). It names the cluster's row, so a
    sandbox deleted and made again under the same name does not open with an old key."""
    return signing.TimestampSigner(salt=KUBECONFIG_LINK_SALT).sign_object({"c": cluster.pk, "n": cluster.name})


def kubeconfig_key_opens(key: str, cluster: Cluster) -> bool:
    try:
        value = signing.TimestampSigner(salt=KUBECONFIG_LINK_SALT).unsign_object(key, max_age=settings.PODFLOW_KUBECONFIG_LINK_SECONDS)
    except (signing.BadSignature, ValueError, TypeError):
        return False
    return isinstance(value, dict) and value.get("c") == cluster.pk and value.get("n") == cluster.name


# --- websockets -------------------------------------------------------------------------

def scope_principal(scope: dict) -> Principal:
    session = scope.get("session")
    learner = ""
    if session is not None:
        value = session.get(LEARNER_KEY, "")
        learner = value if isinstance(value, str) else ""
    return Principal(scope.get("user") or AnonymousUser(), learner)


def scope_bearer_token(scope: dict) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


def cluster_for_scope(scope: dict, name: str) -> Cluster | None:
    """The named cluster if the websocket may follow it: by its bearer token (scripts, the
    benchmark, tests) or by the session (the page)."""
    cluster = Cluster.objects.filter(name=name).first()
    if cluster is None:
        return None
    token = scope_bearer_token(scope)
    if token:
        return cluster if _same(cluster.token, token) else None
    return cluster if can_open(scope_principal(scope), cluster, write=False) else None
