"""Static files as a production podflow serves them (DEBUG=0): collected under hashed
names, the page's module imports rewritten to those names, gzip and Brotli copies, and
served by WhiteNoise compressed and cached for good."""
from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client

HASHED = re.compile(r"^app\.[0-9a-f]{12}\.js$")


@pytest.fixture
def collected(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "web.staticfiles.HashedCompressedStaticFiles"}}
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    call_command("collectstatic", "--noinput", "-v", "0")
    return settings.STATIC_ROOT


def test_collectstatic_writes_hashed_names_and_rewrites_module_imports(collected):
    podflow = collected / "podflow"
    [app] = [p for p in podflow.iterdir() if HASHED.match(p.name)]
    text = app.read_text()
    imports = re.findall(r'from "\./([^"]+)"', text)
    assert imports and all(re.match(r"^[a-z0-9]+\.[0-9a-f]{12}\.js$", name) for name in imports), imports
    assert (podflow / (app.name + ".gz")).exists()


def test_whitenoise_serves_a_hashed_file_compressed_and_immutable(collected):
    from django.contrib.staticfiles.storage import staticfiles_storage

    url = staticfiles_storage.url("podflow/app.js")
    assert HASHED.match(url.rsplit("/", 1)[-1])
    answer = Client().get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert answer.status_code == 200
    assert answer["Content-Encoding"] == "gzip"
    assert "immutable" in answer["Cache-Control"] and "max-age=315360000" in answer["Cache-Control"]
