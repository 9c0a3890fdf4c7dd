"""podflow settings: one file, driven by the environment.

DATABASE_URL  sqlite:///path (default var/podflow.sqlite3) or postgres://user:pw@host:port/db
REDIS_URL     redis://127.0.0.1:6379/0 by default; broker, channel layer and work-queue dedupe
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PODFLOW_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("SECRET_KEY", "podflow-dev-only-not-secret")
DEBUG = os.environ.get("DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "channels",
    "cluster",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Kubernetes paths have no trailing slash and must never be redirected.
APPEND_SLASH = False

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
            ],
        },
    },
]


def _database(url: str | None) -> dict:
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'podflow.sqlite3'}"
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # WAL + synchronous=NORMAL + IMMEDIATE transactions: fast, and writers queue
        # on the lock instead of failing with "database is locked" mid-transaction.
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parsed.path) if parsed.path not in ("", "/") else ":memory:",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if parsed.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parsed.path.lstrip("/"),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 60,
        }
    raise ValueError(f"DATABASE_URL scheme {parsed.scheme!r} is not supported (sqlite, postgres)")


DATABASES = {"default": _database(os.environ.get("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# The Kubernetes API is also served over TLS on this port (kubectl sends its bearer token
# only over TLS); kubeconfigs point there.
PODFLOW_API_PORT = int(os.environ.get("PODFLOW_API_PORT", "6443"))

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 defaults socket_timeout to 5 s, which races the layer's 5 s
            # blocking pop and kills idle consumers; and caps pools at 100 connections.
            "hosts": [{"address": REDIS_URL, "socket_timeout": None, "max_connections": 10000}],
            # Over capacity the layer drops silently; the stream backfills from the
            # change log anyway, but a roomy channel keeps that rare.
            "capacity": 5000,
            "expiry": 60,
            "group_expiry": 86400,
        },
    }
}

# How many revisions of each cluster's change log to keep (etcd's compaction); watches
# from before that get 410 Expired.
PODFLOW_CHANGE_LOG_KEEP = int(os.environ.get("PODFLOW_CHANGE_LOG_KEEP", "100000"))

# Celery: one queue per control-plane role.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # every task is an idempotent reconcile
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
# Longer than any countdown we use, so a killed worker's delayed task is redelivered
# only after its countdown would have fired anyway; the resync covers the rest.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
CELERY_TASK_DEFAULT_QUEUE = "controller-manager"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery closes Django's connection after every task unless told to reuse it.
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULE = {
    "resync": {"task": "cluster.tasks.resync", "schedule": float(os.environ.get("PODFLOW_RESYNC_SECONDS", "5")), "options": {"queue": "controller-manager"}},
    # Kubelets renew their node Leases; the node controller watches them (cluster/timing.py).
    "heartbeat": {"task": "cluster.tasks.heartbeat", "schedule": float(os.environ.get("PODFLOW_HEARTBEAT_SECONDS", "1")), "options": {"queue": "kubelet", "expires": 5}},
    "node-monitor": {"task": "cluster.tasks.monitor_nodes", "schedule": float(os.environ.get("PODFLOW_NODE_MONITOR_SECONDS", "1")), "options": {"queue": "controller-manager", "expires": 5}},
}

SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {
        "podflow": {"level": os.environ.get("PODFLOW_LOG_LEVEL", "INFO")},
        # channels-redis reports dropped messages at INFO; we want to see them.
        "channels_redis": {"level": "INFO"},
    },
}
