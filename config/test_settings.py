"""Settings for the unit tests: no Redis, no workers; writes are not published or woken.

The integration, browser and benchmark runs start the real stack with config.settings.
"""
from .settings import *  # noqa: F401,F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        "TEST": {"NAME": ":memory:"},
    }
}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
PODFLOW_STREAM_REDIS_URL = ""  # the stream within the test's process (web/bus.py MemoryBus)
PODFLOW_WAKE = False
PODFLOW_BROADCAST = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PODFLOW_RATE_LIMIT_BACKEND = "memory"
# The unit tests render pages without a collectstatic: plain names (tests/unit/test_static.py
# collects the hashed ones itself).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# Unit tests write their TLS files (the kubeconfig's CA) to a directory of their own.
import tempfile as _tempfile  # noqa: E402

VAR_DIR = Path(_tempfile.mkdtemp(prefix="podflow-unit-"))
