"""podflow settings: one file, driven by the environment.

DEBUG         1 (the default: development) or 0 (production: see the block at the end)
SECRET_KEY    required with DEBUG=0; ALLOWED_HOSTS too (comma-separated)
DATABASE_URL  sqlite:///path (default var/podflow.sqlite3) or postgres://user:pw@host:port/db
REDIS_URL     redis://127.0.0.1:6379/0 by default; broker, channel layer, streams, work-queue dedupe
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PODFLOW_VAR_DIR", BASE_DIR / "var"))

# Development by default, as Django's startproject: `make run`, `make test` and
# `manage.py kubeconfig demo` work with no setup. Production is DEBUG=0.
DEBUG = os.environ.get("DEBUG", "1") == "1"

_DEV_SECRET_KEY = "podflow-dev-only-not-secret"
_MAKE_A_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'
SECRET_KEY = os.environ.get("SECRET_KEY", "") or _DEV_SECRET_KEY
# With DEBUG=0 the key signs sessions and kubeconfig links for real: a missing, published
# or guessable one refuses to start rather than run insecurely (the bounds are Django's
# own security.W009 check).
if not DEBUG and (
    SECRET_KEY == _DEV_SECRET_KEY
    or SECRET_KEY.startswith("django-insecure-")
    or len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5
):
    raise ImproperlyConfigured(
        "DEBUG=0 needs SECRET_KEY in the environment: at least 50 characters, at least 5 "
        f"different ones, not the development default. Make one with: {_MAKE_A_KEY}"
    )


def _csv(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


ALLOWED_HOSTS = _csv("ALLOWED_HOSTS") or (["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else [])
if not ALLOWED_HOSTS:
    # No default in production: the names the site is reached by are the operator's to say.
    raise ImproperlyConfigured("DEBUG=0 needs ALLOWED_HOSTS in the environment, e.g. ALLOWED_HOSTS=podflow.example.org")
# Origins (scheme://host[:port]) allowed to POST the page's forms from elsewhere.
CSRF_TRUSTED_ORIGINS = _csv("CSRF_TRUSTED_ORIGINS")

# kube-apiserver refuses request bodies over 3 MiB with 413 (its MaxRequestBodyBytes);
# cluster/apiserver/handlers/k8s.py answers the same from this setting. It is also Django's own limit (2.5 MB
# by default, which would refuse a body a real API server accepts), so the page's forms
# are held to it too.
DATA_UPLOAD_MAX_MEMORY_SIZE = 3 * 1024 * 1024

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "cluster",
    "web",
]

MIDDLEWARE = [
    # First, so it times the whole request (web/metrics.py, served at /metrics).
    "web.metrics.timing",
    "django.middleware.security.SecurityMiddleware",
    # Static files (web/staticfiles.py): compressed, and under hashed names cached for good.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: every middleware above then runs in the request's thread (web/syncchain.py).
    "web.syncchain.sync_chain",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
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
        # Opening a connection (the file, the PRAGMAs, Django's SQL functions) costs about
        # a millisecond: the backend (config/sqlite) keeps the connections Django closes
        # and hands them out again, to whichever thread opens one next, and CONN_MAX_AGE 0
        # has Django close a request's when the request ends.
        return {
            "ENGINE": "config.sqlite",
            "NAME": unquote(parsed.path) if parsed.path not in ("", "/") else ":memory:",
            "CONN_MAX_AGE": 0,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                # The store's writers checkpoint the log themselves, outside their queue
                # (cluster/apiserver/store.py): SQLite's own, at 10,000 pages (40 MB) rather
                # than 1,000, is left for the writes made elsewhere.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=10000;",
            },
        }
    if parsed.scheme in ("postgres", "postgresql"):
        # A pool of connections per process (psycopg_pool): Django's connections belong to
        # a thread, and daphne serves requests on several threads (web/asgihttp.py). Each
        # request takes a connection from the pool and gives it back when it ends, so a
        # process holds as many server processes as it uses at once, whichever thread.
        pool_max = int(os.environ.get("PODFLOW_DB_POOL_MAX", "20"))
        pooled = {"CONN_MAX_AGE": 0, "OPTIONS": {"pool": {"min_size": 1, "max_size": pool_max, "timeout": 30}}} if pool_max > 0 else {"CONN_MAX_AGE": 60, "OPTIONS": {}}
        # The store's statements (cluster/apiserver/rows.py) are few and run thousands of
        # times: psycopg prepares one on its connection once it has run it this many times,
        # and the server then neither parses nor plans it again. Django turns that off
        # (for poolers in front of the database that hand a session's statements to other
        # server processes): set PODFLOW_DB_PREPARE_THRESHOLD=off behind such a pooler.
        prepare = os.environ.get("PODFLOW_DB_PREPARE_THRESHOLD", "5").strip().lower()
        pooled["OPTIONS"]["prepare_threshold"] = None if prepare in ("", "off", "none") else int(prepare)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parsed.path.lstrip("/"),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            **pooled,
        }
    raise ValueError(f"DATABASE_URL scheme {parsed.scheme!r} is not supported (sqlite, postgres)")


DATABASES = {"default": _database(os.environ.get("DATABASE_URL"))}

# Mutating Kubernetes API requests one server process serves at once (kube-apiserver's
# --max-mutating-requests-inflight); more wait for a place, up to 10 s, then get 429
# (cluster/apiserver/handlers/k8s.py). SQLite writes one transaction at a time: two in
# flight keep the next one ready. PostgreSQL writes different sandboxes side by side.
PODFLOW_MAX_MUTATING_INFLIGHT = int(
    os.environ.get("PODFLOW_MAX_MUTATING_INFLIGHT", "4" if DATABASES["default"]["ENGINE"].endswith("postgresql") else "2")
)
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
# Where a cluster's stream is published and subscribed to (Redis pub/sub, web/bus.py); the
# channel layer above carries the class pages' messages. Empty: within one process only.
PODFLOW_STREAM_REDIS_URL = REDIS_URL

# How many revisions of each cluster's change log to keep (etcd's compaction); watches
# from before that get 410 Expired.
PODFLOW_CHANGE_LOG_KEEP = int(os.environ.get("PODFLOW_CHANGE_LOG_KEEP", "100000"))

# Celery: one queue per control-plane role.
CELERY_BROKER_URL = REDIS_URL
# kombu's Redis transport with one client per channel, not one per command (cluster/broker.py).
CELERY_BROKER_TRANSPORT = "cluster.broker:Transport"
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
CELERY_DB_REUSE_MAX = int(os.environ.get("PODFLOW_DB_REUSE_MAX", "1000"))
_RESYNC_SECONDS = float(os.environ.get("PODFLOW_RESYNC_SECONDS", "5"))
CELERY_BEAT_SCHEDULE = {
    # A resync that waited in the queue for many periods is dropped (expires): when each takes
    # longer than its period (many clusters, a busy machine) they must not pile up in front of
    # the controllers' own work. Not sooner: on a busy worker every resync would expire before
    # it ran, and a lost wake-up would never be made good.
    "resync": {"task": "cluster.tasks.resync", "schedule": _RESYNC_SECONDS, "options": {"queue": "controller-manager", "expires": max(5 * _RESYNC_SECONDS, 30.0)}},
    # Kubelets renew their node Leases; the node controller watches them (cluster/componentbase/timing.py).
    "heartbeat": {"task": "cluster.tasks.heartbeat", "schedule": float(os.environ.get("PODFLOW_HEARTBEAT_SECONDS", "1")), "options": {"queue": "kubelet", "expires": 5}},
    "node-monitor": {"task": "cluster.tasks.monitor_nodes", "schedule": float(os.environ.get("PODFLOW_NODE_MONITOR_SECONDS", "1")), "options": {"queue": "controller-manager", "expires": 5}},
    "expire-sandboxes": {"task": "cluster.tasks.expire_sandboxes", "schedule": float(os.environ.get("PODFLOW_EXPIRE_SECONDS", "600")), "options": {"queue": "controller-manager", "expires": 60}},
    # Classes past their time end; a week after, their sandboxes go (web/tasks.py).
    "expire-classes": {"task": "web.tasks.expire_classes", "schedule": float(os.environ.get("PODFLOW_EXPIRE_SECONDS", "600")), "options": {"queue": "controller-manager", "expires": 60}},
}

# Sessions live in the database: an anonymous learner's sandbox belongs to the session,
# and signing out must end it (a signed-cookie session could be replayed).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = int(os.environ.get("PODFLOW_SESSION_SECONDS", str(14 * 24 * 3600)))
# Django's own password rules for sign-up (the form lists them).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Shared by every server process: sign-in attempt counters (web/accounts.py).
CACHES = {
    "default": {
        # Django's Redis cache, one client per pool (cluster/cache.py).
        "BACKEND": "cluster.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
    }
}

# --- Sandboxes: every learner a cluster of their own (cluster/sandbox.py, cluster/apiserver/handlers/access.py) ---
PODFLOW_QUOTA_SANDBOXES = int(os.environ.get("PODFLOW_QUOTA_SANDBOXES", "5"))
# Sandboxes made by visits to / per client address per hour (a class shares one address).
PODFLOW_SANDBOXES_PER_ADDRESS_PER_HOUR = int(os.environ.get("PODFLOW_SANDBOXES_PER_ADDRESS_PER_HOUR", "200"))
# Anonymous sandboxes nobody used for this long are removed by the periodic task.
PODFLOW_SANDBOX_IDLE_HOURS = float(os.environ.get("PODFLOW_SANDBOX_IDLE_HOURS", "24"))
# How long the signed kubeconfig link the page shows for curl stays valid.
PODFLOW_KUBECONFIG_LINK_SECONDS = int(os.environ.get("PODFLOW_KUBECONFIG_LINK_SECONDS", "900"))
# Failed sign-ins allowed per window, per account name and per client address.
PODFLOW_SIGNIN_FAILURES_PER_ACCOUNT = int(os.environ.get("PODFLOW_SIGNIN_FAILURES_PER_ACCOUNT", "5"))
PODFLOW_SIGNIN_FAILURES_PER_IP = int(os.environ.get("PODFLOW_SIGNIN_FAILURES_PER_IP", "20"))
PODFLOW_SIGNIN_WINDOW_SECONDS = int(os.environ.get("PODFLOW_SIGNIN_WINDOW_SECONDS", "900"))

# --- Metrics (/metrics, web/metrics.py) ---
# When set, /metrics answers only `Authorization: Bearer <this token>`; unset, only requests
# from this machine (loopback).
PODFLOW_METRICS_TOKEN = os.environ.get("PODFLOW_METRICS_TOKEN", "")
# A directory: every process records each hold of the store's write lock there
# (cluster/apiserver/locktrace.py; `manage.py bench --lock-profile` sets it for its stack).
PODFLOW_LOCK_TRACE = os.environ.get("PODFLOW_LOCK_TRACE", "")
# The request log's rows are written by a thread of each process, several in a transaction,
# a moment after the answer (cluster/apiserver/requestlog.py); 0: by the request, before it.
PODFLOW_REQUEST_LOG_THREAD = os.environ.get("PODFLOW_REQUEST_LOG_THREAD", "1") == "1"

# --- The classroom (web/classroom.py) ---
# How long a class's join code works (the instructor can extend it), and how long its
# sandboxes stay, read-only, after it ends.
PODFLOW_CLASS_HOURS = float(os.environ.get("PODFLOW_CLASS_HOURS", "12"))
PODFLOW_CLASS_KEEP_DAYS = float(os.environ.get("PODFLOW_CLASS_KEEP_DAYS", "7"))
# Wrong join codes allowed per client address per window (a class behind one router shares one).
PODFLOW_JOIN_FAILURES_PER_IP = int(os.environ.get("PODFLOW_JOIN_FAILURES_PER_IP", "30"))
PODFLOW_JOIN_WINDOW_SECONDS = int(os.environ.get("PODFLOW_JOIN_WINDOW_SECONDS", "600"))
# A learner this long on one step is shown as stuck on the roster.
PODFLOW_CLASS_STUCK_SECONDS = int(os.environ.get("PODFLOW_CLASS_STUCK_SECONDS", "300"))

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # `manage.py collectstatic` (run by cluster/stack.py with DEBUG=0, and by the image)
    # writes each file under a name with its content's hash, gzip and Brotli copies beside
    # it, and rewrites the page's module imports to the hashed names.
    "staticfiles": {"BACKEND": "web.staticfiles.HashedCompressedStaticFiles"},
}
# Development (DEBUG=1) serves static/ as it is edited, without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

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

# --- Sandbox quotas ---
# Per cluster (cluster/apiserver/admission/quota.py). Objects and pods are counted at create (Events are not:
# the components write them and Kubernetes expires them); over either, 403 Forbidden in
# ResourceQuota's words.
PODFLOW_QUOTA_OBJECTS = int(os.environ.get("PODFLOW_QUOTA_OBJECTS", "2000"))
PODFLOW_QUOTA_PODS = int(os.environ.get("PODFLOW_QUOTA_PODS", "300"))
# Clients' HTTP writes (POST, PUT, PATCH, DELETE), a token bucket per cluster: a burst of
# WRITE_BURST at once, refilled at WRITES_PER_SECOND; beyond it 429 with Retry-After.
PODFLOW_QUOTA_WRITES_PER_SECOND = float(os.environ.get("PODFLOW_QUOTA_WRITES_PER_SECOND", "50"))
PODFLOW_QUOTA_WRITE_BURST = int(os.environ.get("PODFLOW_QUOTA_WRITE_BURST", "50"))
# Where the buckets live: "redis" (REDIS_URL, shared by every server process) or "memory"
# (this process only: the unit tests).
PODFLOW_RATE_LIMIT_BACKEND = os.environ.get("PODFLOW_RATE_LIMIT_BACKEND", "redis")


# --- Production (DEBUG=0) ---
# SECRET_KEY and ALLOWED_HOSTS are checked at the top of the file. Each setting below can
# be turned by the environment variable of the same name (1 or 0, or seconds).
def _flag(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0") == "1"


# Both modes (Django's defaults, said out loud): no MIME sniffing, no framing at all (the
# page has no reason to be embedded), the Referer only to this site.
SECURE_CONTENT_TYPE_NOSNIFF = True
# The page's flash messages live in the session: the cookie store builds a signer for
# every request, the API's included, which was a twentieth of daphne's time in a busy class.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Plain-HTTP requests are redirected to HTTPS. The Kubernetes API's own TLS port
    # (daphne's ssl: endpoint, cluster/stack.py) is secure already: daphne reports
    # scope["scheme"] == "https" there, so kubectl is never redirected. /healthz stays
    # answerable over plain HTTP for load balancers' and orchestrators' probes.
    SECURE_SSL_REDIRECT = _flag("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    # /metrics too: Prometheus scrapes it as a probe reads /healthz (web/metrics.py decides who may).
    SECURE_REDIRECT_EXEMPT.append(r"^metrics$")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    # Preloading puts the domain into browsers' built-in HTTPS-only list, which is hard to
    # leave: a decision for the domain's owner, not a default. Opt in with
    # SECURE_HSTS_PRELOAD=1; until then Django's reminder (security.W021) is silenced.
    SECURE_HSTS_PRELOAD = _flag("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "security.W021"]
    # Behind a TLS-terminating proxy (which must set X-Forwarded-Proto and be the only way
    # to the plain-HTTP port), trust its word that the client used HTTPS. Off by default:
    # where clients reach the plain port themselves, they could claim HTTPS with the header.
    if _flag("PODFLOW_BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
