"""The page, its kubeconfig, the health check and the page's small settings endpoint."""
from __future__ import annotations

import math
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from cluster import sandbox
from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError, bad_request
from cluster.apiserver import history, store, tls
from cluster.apiserver.handlers import access
from cluster.apiserver.handlers.auth import kubeconfig, resolve
from cluster.apiserver.handlers.k8s import allow_methods, api_view, check_body_size, json_object, json_response, status_response
from cluster.models import Cluster, Speed
from web import classroom, limits, sandboxes, stream

ROLES = ("controller-manager", "scheduler", "kubelet")
MIN_HEALTH_TIMEOUT, MAX_HEALTH_TIMEOUT = 1.0, 10.0


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """`/`: this browser's (or account's) sandbox, made on the first visit."""
    who = access.principal(request)
    mine = sandbox.owned_by(user=request.user, learner=who.learner).order_by("-last_active", "-created").first()
    if mine is None:
        # A client that keeps no cookie would make a sandbox at every visit: new sandboxes
        # are counted per address (a class behind one router shares one).
        key = f"podflow:sandboxes:ip:{limits.client_address(request)}"
        wait = limits.wait_seconds(key, settings.PODFLOW_SANDBOXES_PER_ADDRESS_PER_HOUR)
        if wait:
            response = render(request, "podflow/cluster.html", {"cluster_name": "", "cluster": None, "too_many_sandboxes": True}, status=429)
            response["Retry-After"] = str(wait)
            return response
        mine, _ = sandbox.create(user=request.user, learner=access.learner_id(request))
        limits.count(key, 3600)
    return redirect("cluster", cluster=mine.name)


@require_GET
@ensure_csrf_cookie
def page(request: HttpRequest, cluster: str) -> HttpResponse:
    """The live diagram of one cluster, for those who may open it (cluster/apiserver/handlers/access.py); 404 to
    anyone else, as for a cluster that does not exist. It sets the CSRF cookie: the page's
    forms and its API calls POST with it."""
    found = access.cluster_for(request, cluster)
    if found is None:
        return render(request, "podflow/cluster.html", {"cluster_name": cluster, "cluster": None}, status=404)
    who = access.principal(request)
    if access.owns(who, found):
        sandbox.touch(found)  # the instructor looking in is not the learner's activity
    # Open only to read (a class's instructor, or the learner once the class has ended): the
    # page hides what would write, and the API refuses it anyway.
    read_only = not access.can_open(who, found)
    page_config = {
        "cluster": found.name,
        "apiBase": f"/k8s/{found.name}",
        "speedUrl": reverse("cluster-speed", kwargs={"cluster": found.name}),
        "snapshotUrl": reverse("cluster-snapshot", kwargs={"cluster": found.name}),
        "speed": found.speed,
        "readOnly": read_only,
        "classroom": classroom.page_context(request, found),
    }
    return render(
        request,
        "podflow/cluster.html",
        {
            "cluster_name": found.name,
            "cluster": found,
            "speeds": [s.value for s in Speed],
            "page_config": page_config,
            "read_only": read_only,
            "projector": request.GET.get("projector") == "1",
            "kubeconfig": _kubeconfig_info(request, found),
            **sandboxes.page_context(request, found),
        },
    )


def _api_host(request: HttpRequest) -> str:
    """This host without its port: the API server's TLS port is another."""
    host = request.get_host()
    return host if host.endswith("]") else host.rsplit(":", 1)[0]


def _kubeconfig_info(request: HttpRequest, cluster: Cluster) -> dict:
    """What the page's "Use kubectl" panel shows: where to download the kubeconfig (the
    link opens with the session; the curl command carries a signed key that expires), the
    name the browser saves it under (kubeconfig_download's Content-Disposition, which wins
    over the link's `download` attribute) and the API server address it holds."""
    url = reverse("cluster-kubeconfig", kwargs={"cluster": cluster.name})
    signed = f"{url}?{urlencode({'key': access.kubeconfig_key(cluster)})}"
    return {
        "url": url,
        "absolute_url": request.build_absolute_uri(signed),
        "link_minutes": settings.PODFLOW_KUBECONFIG_LINK_SECONDS // 60,
        "filename": "kubeconfig",
        "server": f"https://{_api_host(request)}:{settings.PODFLOW_API_PORT}/k8s/{cluster.name}",
    }


@require_GET
def kubeconfig_download(request: HttpRequest, cluster: str) -> HttpResponse:
    """The cluster's kubeconfig as a file, for `KUBECONFIG=./kubeconfig kubectl get pods`:
    to its owner's session, or with the page's signed key (for curl). 404 to anyone else."""
    found = Cluster.objects.filter(name=cluster).first()
    key = request.GET.get("key", "")
    if found is not None and not access.can_open(access.principal(request), found) and not (key and access.kubeconfig_key_opens(key, found)):
        found = None
    if found is None:
        return HttpResponse(f'cluster "{cluster}" not found\n', status=404, content_type="text/plain")
    server = f"https://{_api_host(request)}:{settings.PODFLOW_API_PORT}"
    # The CA that daphne serves the TLS port with (made here if this process is first).
    response = HttpResponse(kubeconfig(found, server, tls.ensure()[0].read_bytes()), content_type="application/yaml")
    # Saved under the very name the commands beside the link use: export KUBECONFIG=$PWD/kubeconfig
    response["Content-Disposition"] = 'attachment; filename="kubeconfig"'
    response["Cache-Control"] = "no-store"
    return response


def _speed_in(body: bytes) -> str:
    """The speed a request body asks for, or 400."""
    try:
        speed = json_object(body or b"{}").get("speed")
    except APIError as exc:
        raise bad_request('send JSON like {"speed": "normal"}') from exc
    if speed not in Speed.values:
        raise bad_request(f"speed must be one of {', '.join(Speed.values)}")
    return speed


@require_POST
def set_speed(request: HttpRequest, cluster: str) -> HttpResponse:
    """The page's speed switch: the session's own cluster, CSRF-checked by the middleware."""
    found = access.cluster_for(request, cluster)
    if found is None:
        return json_response(APIError(404, "NotFound", f'cluster "{cluster}" not found').status(), 404)
    try:
        check_body_size(request)  # 413 as a Status, as the API answers, not Django's 400 page
        speed = _speed_in(request.body)
    except APIError as err:
        return json_response(err.status(), err.code)
    store.set_speed(found, speed)
    return json_response({"name": found.name, "speed": speed})


@api_view
def api_speed(request: HttpRequest, cluster: str) -> HttpResponse:
    """`/k8s/<cluster>/podflow/v1/speed`: the cluster's speed for scripts and the benchmark,
    with the bearer token (GET reads it; PUT or POST {"speed": ...} sets it)."""
    found = resolve(request, cluster)
    allow_methods(request, "GET", "PUT", "POST")
    if request.method in ("PUT", "POST"):
        store.set_speed(found, _speed_in(request.body))
    return json_response({"name": found.name, "speed": found.speed})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return None
    except Exception as exc:  # a health check reports, it does not raise
        return str(exc)


def _check_redis() -> str | None:
    try:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
        return None
    except Exception as exc:
        return str(exc)


def _worker_queues(timeout: float) -> dict[str, list[str]]:
    from config.celery import app

    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return {worker: [q["name"] for q in queues] for worker, queues in replies.items()}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    # How long to wait for the workers to answer: a number of seconds, kept between 1 (a
    # worker busy with a task answers the broadcast only after it; less reports live
    # workers as down) and 10.
    try:
        timeout = float(request.GET.get("timeout", "1.0"))
    except ValueError:
        timeout = float("nan")
    if not math.isfinite(timeout):
        return JsonResponse({"status": "bad request", "error": "timeout must be a number of seconds, e.g. ?timeout=1.5"}, status=400)
    timeout = min(max(timeout, MIN_HEALTH_TIMEOUT), MAX_HEALTH_TIMEOUT)
    parts: dict[str, dict] = {}
    db_error = _check_database()
    parts["database"] = {"ok": db_error is None, "vendor": connection.vendor, **({"error": db_error} if db_error else {})}
    redis_error = _check_redis()
    parts["redis"] = {"ok": redis_error is None, **({"error": redis_error} if redis_error else {})}
    workers: dict[str, list[str]] = {}
    if redis_error is None:
        try:
            workers = _worker_queues(timeout)
        except Exception as exc:
            parts["redis"] = {"ok": False, "error": f"broker: {exc}"}
    for role in ROLES:
        serving = sorted(w for w, queues in workers.items() if role in queues)
        parts[role] = {"ok": bool(serving), "workers": serving}
    failing = sorted(name for name, part in parts.items() if not part["ok"])
    body = {"status": "ok" if not failing else "unavailable", "parts": parts, "failing": failing}
    return JsonResponse(body, status=200 if not failing else 503)


def snapshot_at(request: HttpRequest, cluster: str) -> HttpResponse:
    """GET /clusters/<cluster>/snapshot?at=<revision>: the page's timeline. The cluster as it
    was at that revision (what the stream's snapshot says of the present), and the oldest
    revision the change log can still rebuild; 410 for one compacted away, 400 for one that
    is not a revision. The owner's session only, as the page."""
    found = access.cluster_for(request, cluster)
    if found is None:
        return HttpResponse(f'cluster "{cluster}" not found\n', status=404, content_type="text/plain")
    try:
        allow_methods(request, "GET")
        try:
            at = int(request.GET.get("at", ""))
        except ValueError:
            at = 0
        if at < 1:
            raise bad_request("at must be a revision: a whole number of at least 1")
        oldest = max(history.available_from(found, kind, None) for kind in (*stream.SNAPSHOT_KINDS, kinds.EVENT))
        if at < oldest:
            raise history.too_old(at, oldest)
        snap = stream.snapshot(found.pk, at=at)
    except APIError as exc:
        return status_response(exc)
    return json_response({**snap, "oldest": oldest, "live": found.revision})
