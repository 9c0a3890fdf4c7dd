"""The learner's sandboxes on the page: list them, make a new one, reset or delete one.

Each answers a plain form post with a redirect (and a message), and a `fetch` that asks
for JSON with JSON. Every door that names a cluster asks cluster/apiserver/handlers/access.py first.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cluster import sandbox
from cluster.apiserver.handlers import access
from cluster.models import NODE_SIZES, Cluster, NodeSize


def page_context(request: HttpRequest, current: Cluster) -> dict:
    """What the page's "Your sandboxes" panel shows."""
    who = access.principal(request)
    mine = sandbox.owned_by(user=request.user, learner=who.learner).order_by("created")
    return {
        "sandboxes": [
            {
                "name": c.name,
                "url": reverse("cluster", kwargs={"cluster": c.name}),
                "nodes": c.node_count,
                "node_size": c.node_size,
                "created": c.created,
                "last_active": c.last_active,
                "current": c.pk == current.pk,
            }
            for c in mine
        ],
        # Staff may open a cluster that is not theirs (demo, a learner's): it is not listed.
        "current_is_mine": any(c.pk == current.pk for c in mine),
        "sandbox_limit": settings.PODFLOW_QUOTA_SANDBOXES,
        "sandbox_count": sandbox.personal(mine).count(),  # a class's sandboxes are not counted
        "max_nodes": sandbox.MAX_NODES,
        "node_sizes": [{"value": size.value, "cpu": cpu, "memory": memory} for size, (cpu, memory) in NODE_SIZES.items()],
        "new_sandbox_url": reverse("sandbox-new"),
        "reset_url": reverse("cluster-reset", kwargs={"cluster": current.name}),
        "delete_url": reverse("cluster-delete", kwargs={"cluster": current.name}),
        "login_url": reverse("login"),
        "logout_url": reverse("logout"),
        "signup_url": reverse("signup"),
    }


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _error(request: HttpRequest, message: str, field: str, back: str, status: int = 400) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": message, "fields": {field: message} if field else {}}, status=status)
    messages.error(request, message)
    return redirect(back)


@require_POST
def new(request: HttpRequest) -> HttpResponse:
    back = request.headers.get("Referer") or reverse("home")
    if not url_is_ours(request, back):
        back = reverse("home")
    try:
        nodes = int(request.POST.get("nodes", "3"))
    except ValueError:
        return _error(request, _("A sandbox has 1 to %(max)s nodes.") % {"max": sandbox.MAX_NODES}, "nodes", back)
    try:
        made, renamed = sandbox.create(
            user=request.user,
            learner=access.learner_id(request),
            name=request.POST.get("name", ""),
            nodes=nodes,
            node_size=request.POST.get("node_size", NodeSize.MEDIUM),
        )
    except sandbox.SandboxError as err:
        return _error(request, str(err), err.field, back)
    url = reverse("cluster", kwargs={"cluster": made.name})
    if renamed:
        text = _("Sandbox %(name)s is ready. The name you chose was taken, so it has a suffix.") % {"name": made.name}
    else:
        text = _("Sandbox %(name)s is ready.") % {"name": made.name}
    if _wants_json(request):
        return JsonResponse({"name": made.name, "url": url, "message": text}, status=201)
    messages.success(request, text)
    return redirect(url, permanent=False)


def _own(request: HttpRequest, cluster: str) -> Cluster | None:
    return access.cluster_for(request, cluster)


def _not_found(cluster: str) -> HttpResponse:
    return HttpResponse(f'cluster "{cluster}" not found\n', status=404, content_type="text/plain")


@require_POST
def reset(request: HttpRequest, cluster: str) -> HttpResponse:
    found = _own(request, cluster)
    if found is None:
        return _not_found(cluster)
    revision = sandbox.reset(found)
    text = _("Sandbox %(name)s is back to its first state.") % {"name": found.name}
    if _wants_json(request):
        return JsonResponse({"name": found.name, "revision": revision, "message": text})
    messages.success(request, text)
    return redirect("cluster", cluster=found.name)


@require_POST
def delete(request: HttpRequest, cluster: str) -> HttpResponse:
    found = _own(request, cluster)
    if found is None:
        return _not_found(cluster)
    name = found.name
    sandbox.delete(found)
    text = _("Sandbox %(name)s was deleted.") % {"name": name}
    if _wants_json(request):
        return JsonResponse({"deleted": name, "message": text})
    messages.success(request, text)
    return redirect("home")


def url_is_ours(request: HttpRequest, url: str) -> bool:
    return url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
