"""config/settings.py in production (DEBUG=0) and development (DEBUG unset).

Settings are read from the environment once, at import, so each case runs Django in a
subprocess with its own environment and a temporary PODFLOW_VAR_DIR.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASE_URL", "PODFLOW_BEHIND_TLS_PROXY")


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in OURS and not k.startswith("SECURE_")}
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", PODFLOW_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/podflow.sqlite3")
    clean.update(env)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def production(**env: str) -> dict[str, str]:
    return {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "podflow.example.org", "CSRF_TRUSTED_ORIGINS": "https://podflow.example.org", **env}


def test_it_passes_djangos_deployment_checklist_in_production(tmp_path):
    result = run(tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING", **production())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


@pytest.mark.parametrize("key", [None, "podflow-dev-only-not-secret", "too-short", "ab" * 40, "django-insecure-" + "x1y2z3" * 10])
def test_it_refuses_to_start_in_production_without_a_real_secret_key(tmp_path, key):
    env = production()
    if key is None:
        del env["SECRET_KEY"]
    else:
        env["SECRET_KEY"] = key

    result = run(tmp_path, "manage.py", "check", **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: DEBUG=0 needs SECRET_KEY in the environment" in result.stderr
    assert 'python -c "import secrets; print(secrets.token_urlsafe(50))"' in result.stderr


def test_it_refuses_to_start_in_production_without_allowed_hosts(tmp_path):
    env = production()
    del env["ALLOWED_HOSTS"]

    result = run(tmp_path, "manage.py", "check", **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: DEBUG=0 needs ALLOWED_HOSTS in the environment" in result.stderr


SHOW = "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps([s.DEBUG, s.ALLOWED_HOSTS, s.SECRET_KEY]))"


def test_it_starts_in_development_when_debug_is_unset(tmp_path):
    checked = run(tmp_path, "manage.py", "check")
    shown = run(tmp_path, "-c", SHOW)

    assert checked.returncode == 0, checked.stderr
    assert json.loads(shown.stdout) == [True, ["127.0.0.1", "localhost", "[::1]", "testserver"], "podflow-dev-only-not-secret"]


# What SecurityMiddleware does to a request daphne hands over: scheme "https" on its TLS
# (ssl:) endpoint, "http" on the plain port.
PROBE = """
import json, django
django.setup()
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from django.middleware.security import SecurityMiddleware

def answer(scheme, path, headers):
    scope = {"type": "http", "scheme": scheme, "method": "GET", "path": path, "query_string": b"",
             "server": ("127.0.0.1", 6443), "headers": [(b"host", b"podflow.example.org")] + headers}
    response = SecurityMiddleware(lambda request: HttpResponse("ok"))(ASGIRequest(scope, None))
    return [response.status_code, response.get("Location", ""), "Strict-Transport-Security" in response]

print(json.dumps({
    "api over tls": answer("https", "/k8s/demo/api/v1/pods", []),
    "page over http": answer("http", "/clusters/demo/", []),
    "healthz over http": answer("http", "/healthz", []),
    "proxied https": answer("http", "/clusters/demo/", [(b"x-forwarded-proto", b"https")]),
}))
"""


def test_it_serves_the_tls_port_and_redirects_plain_http_in_production(tmp_path):
    result = run(tmp_path, "-c", PROBE, **production())

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "api over tls": [200, "", True],  # kubectl on the API's TLS port: served, with HSTS
        "page over http": [301, "https://podflow.example.org/clusters/demo/", False],
        "healthz over http": [200, "", False],  # probes
        "proxied https": [301, "https://podflow.example.org/clusters/demo/", False],  # X-Forwarded-Proto not trusted
    }


def test_it_trusts_x_forwarded_proto_only_behind_a_tls_proxy(tmp_path):
    result = run(tmp_path, "-c", PROBE, **production(PODFLOW_BEHIND_TLS_PROXY="1"))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["proxied https"] == [200, "", True]
