"""The page, the health check and the page's small settings endpoint."""
from __future__ import annotations

import json

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from cluster import store
from cluster.models import Cluster, Speed

from .k8s import api_view, json_response
from cluster.errors import APIError, bad_request

ROLES = ("controller-manager", "scheduler", "kubelet")


@require_GET
@ensure_csrf_cookie
def page(request: HttpRequest, cluster: str = "demo") -> HttpResponse:
    """The live diagram. It sets the CSRF cookie: the speed control and the language switch
    POST with it."""
    found = Cluster.objects.filter(name=cluster).first()
    kubeconfig = _kubeconfig_info(request, cluster) if found else None
    page_config = {
        "cluster": cluster,
        "apiBase": f"/k8s/{cluster}",
        "speedUrl": reverse("cluster-speed", kwargs={"cluster": cluster}),
        "speed": found.speed if found else "",
        # The page is this cluster's own client: its forms call the API with the same
        # bearer token the cluster's kubeconfig (downloadable here) holds.
        "token": found.token if found else "",
    }
    return render(
        request,
        "podflow/cluster.html",
        {
            "cluster_name": cluster,
            "cluster": found,
            "speeds": [s.value for s in Speed],
            "page_config": page_config,
            "kubeconfig": kubeconfig,
        },
        status=200 if found else 404,
    )


def _kubeconfig_info(request: HttpRequest, cluster: str) -> dict:
    """What the page's "Use kubectl" panel shows: where to download the kubeconfig, the
    name the browser saves it under (kubeconfig_download's Content-Disposition, which wins
    over the link's `download` attribute) and the API server address it holds."""
    url = reverse("cluster-kubeconfig", kwargs={"cluster": cluster})
    # As kubeconfig_download builds it: this host, the API server's TLS port.
    host = request.get_host().rsplit(":", 1)[0] if not request.get_host().endswith("]") else request.get_host()
    return {
        "url": url,
        "absolute_url": request.build_absolute_uri(url),
        "filename": "kubeconfig",
        "server": f"https://{host}:{settings.PODFLOW_API_PORT}/k8s/{cluster}",
    }


@require_GET
def kubeconfig_download(request: HttpRequest, cluster: str) -> HttpResponse:
    """The cluster's kubeconfig as a file, for `KUBECONFIG=./kubeconfig kubectl get pods`."""
    from .auth import kubeconfig

    found = Cluster.objects.filter(name=cluster).first()
    if found is None:
        return HttpResponse(f'cluster "{cluster}" not found\n', status=404, content_type="text/plain")
    from cluster import tls

    host = request.get_host().rsplit(":", 1)[0] if not request.get_host().endswith("]") else request.get_host()
    server = f"https://{host}:{settings.PODFLOW_API_PORT}"
    response = HttpResponse(kubeconfig(found, server, tls.ca_pem()), content_type="application/yaml")
    # Saved under the very name the commands beside the link use: export KUBECONFIG=$PWD/kubeconfig
    response["Content-Disposition"] = 'attachment; filename="kubeconfig"'
    return response


@require_POST
@api_view
def set_speed(request: HttpRequest, cluster: str) -> HttpResponse:
    found = Cluster.objects.filter(name=cluster).first()
    if found is None:
        raise APIError(404, "NotFound", f'cluster "{cluster}" not found')
    try:
        speed = json.loads(request.body or b"{}").get("speed")
    except (ValueError, AttributeError) as exc:
        raise bad_request("send JSON like {\"speed\": \"normal\"}") from exc
    if speed not in Speed.values:
        raise bad_request(f"speed must be one of {', '.join(Speed.values)}")
    store.set_speed(found, speed)
    return json_response({"name": found.name, "speed": speed})


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
    parts: dict[str, dict] = {}
    db_error = _check_database()
    parts["database"] = {"ok": db_error is None, "vendor": connection.vendor, **({"error": db_error} if db_error else {})}
    redis_error = _check_redis()
    parts["redis"] = {"ok": redis_error is None, **({"error": redis_error} if redis_error else {})}
    workers: dict[str, list[str]] = {}
    if redis_error is None:
        try:
            workers = _worker_queues(float(request.GET.get("timeout", "1.0")))
        except Exception as exc:
            parts["redis"] = {"ok": False, "error": f"broker: {exc}"}
    for role in ROLES:
        serving = sorted(w for w, queues in workers.items() if role in queues)
        parts[role] = {"ok": bool(serving), "workers": serving}
    failing = sorted(name for name, part in parts.items() if not part["ok"])
    body = {"status": "ok" if not failing else "unavailable", "parts": parts, "failing": failing}
    return JsonResponse(body, status=200 if not failing else 503)
