"""The Kubernetes-shaped HTTP API under /k8s/<cluster>/: what kubectl and client-go talk to.

Every answer is `application/json` (or a Table, or a watch stream); every error a
`Status`. The views only translate HTTP to the API-server layer (cluster/apiserver/store.py) and back.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from functools import wraps
from typing import Any, Callable, Iterator

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from cluster import metrics
from cluster.apimachinery import jsontext, kinds, pods, selectors
from cluster.apimachinery.errors import APIError, Cause, bad_request, conflict, invalid, not_found
from cluster.apiserver import audit, history, registry, store
from cluster.apiserver.handlers import watch
from cluster.apiserver.handlers.auth import resolve
from cluster.apiserver.registry import validation
from cluster.apiserver.serializers import patch, protobuf, tables
from cluster.apiserver.serializers.patch import BodyRefused, loads_json
from cluster.componentbase import narration
from cluster.kubelet import logs
from cluster.models import Cluster

log = logging.getLogger("podflow.api")

PROTOBUF = "application/vnd.kubernetes.protobuf"
PATCH_TYPES = (
    "application/strategic-merge-patch+json",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
)


def json_response(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(jsontext.ascii_text(body), status=status, content_type="application/json")


def status_response(err: APIError) -> HttpResponse:
    response = json_response(err.status(), err.code)
    for name, value in err.headers.items():  # Retry-After on a 429
        response[name] = value
    return response


def client_of(request: HttpRequest) -> str:
    """Who the diagram says asked (step 1): the page when the owner's session made the
    request, otherwise the client its User-Agent names (kubectl, the Python client, curl).
    No header of the caller's choosing can make a request pass for the page."""
    page = narration.client_name("podflow-page")
    if getattr(request, "podflow_via_session", False):
        return page
    agent = request.headers.get("User-Agent", "")
    named = narration.client_name(agent)
    return named if named != page else f"{agent.split(' ', 1)[0][:60]} (not the page)"


def flag(request: HttpRequest, name: str) -> bool:
    """A boolean query parameter, read as Go's strconv.ParseBool reads it (the Python client sends True)."""
    return request.GET.get(name, "") in ("1", "t", "T", "true", "TRUE", "True")


def _verb(request: HttpRequest, name: str | None) -> str:
    if request.method == "GET":
        if flag(request, "watch"):
            return "watch"
        return "get" if name else "list"
    if request.method == "DELETE" and not name:
        return "deletecollection"
    return _verb_of(request.method)


def allow_methods(request: HttpRequest, *allowed: str) -> None:
    """405 MethodNotAllowed, as the API server answers, for a method a route does not serve."""
    if request.method not in allowed:
        raise APIError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({request.method})")


def _verb_of(method: str | None) -> str:
    """The verb of a request on one object or subresource."""
    return {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method or "", (method or "").lower())


MUTATING = frozenset(("POST", "PUT", "PATCH", "DELETE"))
# How long a mutating request waits for a place in flight before it is answered 429.
INFLIGHT_WAIT_SECONDS = 10.0
_inflight: threading.BoundedSemaphore | None = None
_inflight_lock = threading.Lock()


def _mutating_slots() -> threading.BoundedSemaphore:
    """This process's places for mutating requests in flight (PODFLOW_MAX_MUTATING_INFLIGHT,
    as kube-apiserver's --max-mutating-requests-inflight)."""
    global _inflight
    with _inflight_lock:
        if _inflight is None:
            _inflight = threading.BoundedSemaphore(max(1, int(settings.PODFLOW_MAX_MUTATING_INFLIGHT)))
        return _inflight


@contextmanager
def _in_flight(request: HttpRequest) -> Iterator[None]:
    """A mutating request waits for one of the process's places; reads never do. Under ASGI
    every request is a thread of its own, and every write ends in the store's transaction:
    a burst of thirty writes made thirty threads that took the interpreter from the one
    holding the database's write lock (on SQLite that lock was held four times as long as
    its CPU work, and every component's writes waited behind it). A place that does not
    come within INFLIGHT_WAIT_SECONDS is answered 429 with Retry-After, which kubectl and
    client-go retry."""
    if request.method not in MUTATING:
        yield
        return
    slots = _mutating_slots()
    if not slots.acquire(timeout=INFLIGHT_WAIT_SECONDS):
        raise overloaded()
    try:
        yield
    finally:
        slots.release()


def api_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Errors become Status objects; nothing a client sends may cause a 500.

    Each request that reaches the API server is shown in the diagram as step 1 (a client
    asking the API server), so it is announced on the cluster's stream.
    """

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        started = time.perf_counter()
        try:
            check_body_size(request)
            with _in_flight(request):
                response = view(request, *args, **kwargs)
        except APIError as err:
            response = status_response(err)
        except RequestDataTooBig:  # check_body_size answers first; this is a safety net
            response = status_response(too_large())
        except SuspiciousOperation as exc:  # e.g. too many form fields: Django's own 400
            response = status_response(bad_request(f"the request was refused: {exc}"))
        except (OperationalError, sqlite3.OperationalError) as exc:
            if is_contention(exc):
                response = status_response(overloaded())
            else:
                log.exception("internal error serving %s %s", request.method, request.path)
                response = status_response(APIError(500, "InternalError", "an internal error occurred; see the server log"))
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.path)
            response = status_response(APIError(500, "InternalError", "an internal error occurred; see the server log"))
        # Announced only on the stream of a cluster the request was allowed to open: a
        # stranger's knocking is not shown to the owner's page (nor does it say who knocked).
        opened = getattr(request, "podflow_cluster", None)
        plural = kwargs.get("plural")
        if opened is not None and plural:
            audit.announce(
                opened.name,
                audit.REQUEST,
                {
                    "client": client_of(request),
                    "verb": _verb(request, kwargs.get("name")),
                    "resource": plural + (f"/{kwargs['sub']}" if kwargs.get("sub") else ""),
                    "namespace": kwargs.get("namespace") or "",
                    "name": kwargs.get("name") or "",
                    "code": response.status_code,
                    "reason": _reason(response),
                    audit.CLUSTER_ID: opened.pk,  # the request log's row, without looking the name up again
                },
            )
        # Timed by verb and resource; a request on no resource (discovery, podflow's endpoints)
        # by its HTTP method.
        verb = _verb(request, kwargs.get("name")) if plural else request.method or ""
        metrics.api_request(verb, plural, kwargs.get("sub"), response.status_code, time.perf_counter() - started)
        return response

    return wrapper


# How long a client told to come back waits: a write lock is held for one batch at most.
CONTENTION_RETRY_SECONDS = 1


def is_contention(exc: Exception) -> bool:
    """SQLite's answer when another writer held the database past the busy timeout."""
    return "database is locked" in str(exc) or "database table is locked" in str(exc)


def overloaded() -> APIError:
    """The store is busy: the answer the API server gives when it is overloaded (API
    Priority and Fairness), 429 with Retry-After, which kubectl and client-go retry."""
    seconds = CONTENTION_RETRY_SECONDS
    return APIError(
        429, "TooManyRequests", "Too many requests, please try again later.",
        retry_after_seconds=seconds, headers={"Retry-After": str(seconds)},
    )


def too_large() -> APIError:
    return APIError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE}")


def check_body_size(request: HttpRequest) -> None:
    """413 for a body over the limit (kube-apiserver's 3 MiB, DATA_UPLOAD_MAX_MEMORY_SIZE).

    The declared Content-Length is checked before anything is read; a chunked body has
    none, so the length of what arrived is checked as well (Django measures its buffered
    ASGI body before reading it, and raises RequestDataTooBig over the same limit).
    """
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return
    declared = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(declared)
    except ValueError:
        raise bad_request(f"invalid Content-Length {declared[:40]!r}") from None
    if length > limit:
        raise too_large()
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_large() from None
    if len(body) > limit:
        raise too_large()


def _reason(response: HttpResponse) -> str:
    """The Status reason of an error answer (NotFound, AlreadyExists, Conflict ...)."""
    if response.status_code < 400 or getattr(response, "streaming", False):
        return ""
    try:
        return str(json.loads(response.content).get("reason", ""))
    except (ValueError, AttributeError):
        return ""


def _kind(group: str, version: str, plural: str) -> kinds.Kind:
    kind = kinds.BY_PLURAL.get((group, plural))
    if kind is None or kind.version != version:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        raise APIError(404, "NotFound", f"the server could not find the requested resource ({path}/{plural})")
    return kind


def _content_type(request: HttpRequest) -> str:
    return request.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()


def _body(request: HttpRequest) -> dict:
    """The request's object: JSON, or the protobuf that client-go's typed clients send."""
    if not request.body:
        return {}
    content_type = _content_type(request)
    if content_type == PROTOBUF:
        return protobuf.decode(request.body)
    if content_type in ("application/yaml", "application/apply-patch+yaml"):
        return patch.parse_apply_body(request.body)
    if content_type not in ("application/json", "", "*/*", "text/plain"):
        raise APIError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, {PROTOBUF}')
    return json_object(request.body)


def json_object(raw: bytes) -> dict:
    """A request body that must be one JSON object, or 400."""
    try:
        # UTF-8 only, as the API server reads JSON (json.loads would also guess UTF-16/32).
        body = loads_json(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise bad_request(f"the request body is not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    except BodyRefused as exc:
        raise bad_request(f"the request body is refused: {exc}") from None
    except ValueError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def _object_body(request: HttpRequest, kind: kinds.Kind) -> dict:
    body = _body(request)
    body.setdefault("kind", kind.kind)
    body.setdefault("apiVersion", kind.api_version)
    if body.get("kind") != kind.kind:
        raise bad_request(f"the kind in the body ({body.get('kind')}) does not match the URL ({kind.kind})")
    return body


def _ns_of(kind: kinds.Kind, namespace: str | None) -> str:
    return namespace or "" if kind.namespaced else ""


# --- /version ---------------------------------------------------------------------------

@api_view
def version(request: HttpRequest, cluster: str) -> HttpResponse:
    # Public, as on a real API server (system:public-info-viewer): the same answer for
    # every name, so it tells nobody whether a cluster exists.
    return json_response(
        {
            "major": "1",
            "minor": "32",
            "gitVersion": "v1.32.0",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.23.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
    )


# --- collections ------------------------------------------------------------------------

@api_view
def collection(request: HttpRequest, cluster: str, plural: str, namespace: str | None = None, group: str = "", version: str = "v1") -> HttpResponse:
    c = resolve(request, cluster)
    if not group and namespace is not None and plural in NAMESPACE_SUBRESOURCES:
        # /api/v1/namespaces/<name>/status has the shape of a namespaced collection's URL.
        return _subresource(request, c, kinds.NAMESPACE, "", namespace, plural)
    kind = _kind(group, version, plural)
    if namespace is not None and not kind.namespaced:
        raise APIError(404, "NotFound", f"the server could not find the requested resource ({plural} is not namespaced)")
    if request.method == "GET":
        if flag(request, "watch"):
            return _watch(request, c, kind, namespace)
        return _list(request, c, kind, namespace)
    if request.method == "POST":
        if not registry.strategy(kind).allows("create"):
            raise APIError(405, "MethodNotAllowed", f"create is not supported on {kind.plural} in podflow")
        if kind.namespaced and namespace is None:
            raise APIError(405, "MethodNotAllowed", f"create {kind.plural} in a namespace: POST .../namespaces/<ns>/{kind.plural}")
        return _create(request, c, kind, namespace or "", _object_body(request, kind))
    if request.method == "DELETE":
        if not registry.strategy(kind).allows("deletecollection") or (kind.namespaced and namespace is None):
            raise APIError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource (DELETE {kind.plural})")
        return _delete_collection(request, c, kind, namespace)
    raise APIError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({request.method})")


def _create(request: HttpRequest, cluster: Cluster, kind: kinds.Kind, namespace: str, body: dict) -> HttpResponse:
    client = client_of(request)
    steps = (lambda doc, rev: narration.bare_pod_created(doc, rev, client)) if kind.kind == "Pod" else None
    if request.GET.get("dryRun") == "All":
        return json_response(store.dry_run_create(cluster, body, namespace=namespace), 201)
    created = store.create(cluster, body, by=store.API, client=client, namespace=namespace, steps=steps)
    return json_response(created, 201)


def _matcher(request: HttpRequest) -> Callable[[dict], bool]:
    labels = selectors.label_selector(request.GET.get("labelSelector"))
    fields = selectors.field_selector(request.GET.get("fieldSelector"))
    return lambda doc: labels(doc["metadata"].get("labels") or {}) and fields(doc)


def _list(request: HttpRequest, cluster: Cluster, kind: kinds.Kind, namespace: str | None) -> HttpResponse:
    """A list of the present, or with `resourceVersionMatch=Exact` of the collection as it
    was at `resourceVersion` (cluster/apiserver/history.py). Without a match, or with
    NotOlderThan, the present is the answer: it is never older than what was asked."""
    matches = _matcher(request)
    exact = _exact_revision(request)
    revision = store.current_revision(cluster)
    _not_from_the_future(request, revision)
    if exact is None:
        docs = store.list_docs(cluster, kind, namespace)
    else:
        revision = exact
        docs = history.list_at(cluster, kind, namespace, exact)
    items = [doc for doc in docs if matches(doc)]
    if tables.wants_table(request.headers.get("Accept", "")):
        return json_response(tables.table(registry.strategy(kind), items, str(revision), include_object=request.GET.get("includeObject", "Metadata")))
    return json_response({"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": {"resourceVersion": str(revision)}, "items": items})


# The values of resourceVersionMatch (metav1.ResourceVersionMatch), as a list accepts them.
EXACT, NOT_OLDER_THAN = "Exact", "NotOlderThan"


def _exact_revision(request: HttpRequest) -> int | None:
    """The revision a list must be served at exactly, or None to serve the present.

    The API server's ValidateListOptions first: resourceVersionMatch needs a
    resourceVersion, no continue token, one of the two values, and Exact needs a revision
    other than 0. What it refuses is a 422 Invalid on ListOptions, naming each rule broken.
    """
    match = request.GET.get("resourceVersionMatch", "")
    if not match:
        return None
    raw = request.GET.get("resourceVersion", "")
    field = "resourceVersionMatch"
    causes: list[Cause] = []
    if not raw:
        causes.append(Cause(field, "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided", "FieldValueForbidden"))
    if request.GET.get("continue"):
        causes.append(Cause(field, "Forbidden: resourceVersionMatch is forbidden when continue is provided", "FieldValueForbidden"))
    if match not in (EXACT, NOT_OLDER_THAN):
        causes.append(Cause(field, f'Unsupported value: {json.dumps(match, ensure_ascii=False)}: supported values: "{EXACT}", "{NOT_OLDER_THAN}", ""', "FieldValueNotSupported"))
    if match == EXACT and raw == "0":
        causes.append(Cause(field, 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"', "FieldValueForbidden"))
    if causes:
        raise invalid("ListOptions", "meta.k8s.io", "", causes)
    if match != EXACT:
        return None
    # A revision is digits only, as etcd's are parsed (Python's int() would also take
    # "+5", " 5" and "5_0").
    if not (raw.isascii() and raw.isdigit()):
        raise bad_request(f"invalid resourceVersion: {raw!r}")
    return int(raw)


def _not_from_the_future(request: HttpRequest, current: int) -> None:
    """A list or watch from a resourceVersion this cluster has not reached is answered at
    once, as the API server's watch cache answers it: 504 "Too large resource version",
    with a cause clients recognise and a hint to retry."""
    raw = request.GET.get("resourceVersion", "")
    try:
        wanted = int(raw) if raw else 0
    except ValueError as exc:
        raise bad_request(f"invalid resourceVersion: {raw!r}") from exc
    if wanted > current:
        raise APIError(
            504,
            "Timeout",
            f"Too large resource version: {wanted}, current: {current}",
            causes=[Cause("", "Too large resource version", "ResourceVersionTooLarge")],
            retry_after_seconds=1,
            headers={"Retry-After": "1"},
        )


def _watch(request: HttpRequest, cluster: Cluster, kind: kinds.Kind, namespace: str | None) -> HttpResponse:
    matches = _matcher(request)
    as_table = tables.wants_table(request.headers.get("Accept", ""))
    include_object = request.GET.get("includeObject", "Metadata")
    raw_rv = request.GET.get("resourceVersion", "")
    try:
        timeout = float(request.GET["timeoutSeconds"]) if request.GET.get("timeoutSeconds") else None
        start = int(raw_rv) if raw_rv not in ("", "0") else None
    except ValueError as exc:
        raise bad_request(f"invalid resourceVersion or timeoutSeconds: {exc}") from exc
    _not_from_the_future(request, store.current_revision(cluster))
    initial: list[bytes] = []
    if start is None:
        # No resourceVersion (or 0): start with the current state as ADDED events.
        start = store.current_revision(cluster)
        for doc in store.list_docs(cluster, kind, namespace):
            if matches(doc):
                obj = tables.table(registry.strategy(kind), [doc], doc["metadata"]["resourceVersion"], include_object=include_object, columns=not initial) if as_table else doc
                initial.append((jsontext.ascii_text({"type": "ADDED", "object": obj}) + "\n").encode())

    async def body():
        if initial:
            yield b"".join(initial)
        async for chunk in watch.stream(
            cluster, kind, namespace, start, matches,
            as_table=as_table, include_object=include_object,
            bookmarks=flag(request, "allowWatchBookmarks"), timeout_seconds=timeout,
        ):
            yield chunk

    response = StreamingHttpResponse(body(), content_type="application/json")
    response["Cache-Control"] = "no-cache, private"
    response["X-Accel-Buffering"] = "no"
    return response


# --- single objects ---------------------------------------------------------------------

@api_view
def item(request: HttpRequest, cluster: str, plural: str, name: str, namespace: str | None = None, group: str = "", version: str = "v1") -> HttpResponse:
    c = resolve(request, cluster)
    kind = _kind(group, version, plural)
    if kind.namespaced and namespace is None:
        raise APIError(404, "NotFound", f"the server could not find the requested resource ({plural} is namespaced)")
    ns = _ns_of(kind, namespace)
    if request.method == "GET":
        doc = store.get(c, kind, ns, name)
        if tables.wants_table(request.headers.get("Accept", "")):
            return json_response(tables.table(registry.strategy(kind), [doc], doc["metadata"]["resourceVersion"], include_object=request.GET.get("includeObject", "Metadata")))
        return json_response(doc)
    if request.method == "PUT":
        return json_response(_replace(c, kind, ns, name, _object_body(request, kind), subresource=""))
    if request.method == "PATCH":
        return _patch(request, c, kind, ns, name, subresource="")
    if request.method == "DELETE":
        return _delete(request, c, kind, ns, name)
    raise APIError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({request.method})")


def _replace(cluster: Cluster, kind: kinds.Kind, ns: str, name: str, body: dict, *, subresource: str) -> dict:
    meta = body.setdefault("metadata", {})
    if not isinstance(meta, dict) or meta.get("name", name) != name:
        raise bad_request("the name of the object does not match the name on the URL")
    meta["name"] = name
    if kind.namespaced:
        meta["namespace"] = ns
    return store.update(cluster, body, by=store.API, subresource=subresource)


def _patch(request: HttpRequest, cluster: Cluster, kind: kinds.Kind, ns: str, name: str, *, subresource: str) -> HttpResponse:
    content_type = _content_type(request)
    if content_type not in PATCH_TYPES:
        raise APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: " + ", ".join(PATCH_TYPES))
    # Read, patch and write under the cluster's lock: a component writing the object in
    # between must not turn a patch without a resourceVersion into a 409 (the real API
    # server retries such a patch on the new version itself).
    with store.locked(cluster):
        current = store.find(cluster, kind, ns, name)
        if current is None:
            if content_type == "application/apply-patch+yaml" and not subresource:
                # Server-side apply creates what is missing.
                applied = patch.parse_apply_body(request.body)
                applied.setdefault("metadata", {})["name"] = name
                return _create(request, cluster, kind, ns, applied)
            raise not_found(kind.plural, kind.group, name)
        patched = patch.apply_patch(current, request.body, content_type, kind=kind.kind)
        meta = patched.get("metadata")
        if not isinstance(meta, dict):
            raise APIError(422, "Invalid", f'{kind.kind} "{name}" is invalid: metadata: Invalid value: the patch left metadata that is not an object', name=name, kind=kind.plural, group=kind.group)
        expected = meta.get("resourceVersion")
        if expected and str(expected) != current["metadata"]["resourceVersion"]:
            raise conflict(kind.plural, kind.group, name)
        patched.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        return json_response(_replace(cluster, kind, ns, name, patched, subresource=subresource))


def _delete(request: HttpRequest, cluster: Cluster, kind: kinds.Kind, ns: str, name: str) -> HttpResponse:
    if not registry.strategy(kind).allows("delete"):
        raise APIError(405, "MethodNotAllowed", f"delete is not supported on {kind.plural} in podflow")
    return json_response(store.delete(cluster, kind, ns, name, by=store.API, options=_delete_options(request)))


def _delete_collection(request: HttpRequest, cluster: Cluster, kind: kinds.Kind, namespace: str | None) -> HttpResponse:
    """DELETE on a collection: each matching object deleted as a single delete would be.

    One transaction: an item that refuses (a precondition) leaves every item as it was.
    The answer is the list of what was matched, as the API server's DeleteCollection
    returns it.
    """
    matches = _matcher(request)
    options = _delete_options(request)
    with store.locked(cluster):
        items = [doc for doc in store.list_docs(cluster, kind, namespace) if matches(doc)]
        for doc in items:
            meta = doc["metadata"]
            store.delete(cluster, kind, meta.get("namespace", ""), meta["name"], by=store.API, options=options, expected_uid=meta["uid"])
    revision = store.current_revision(cluster)
    return json_response({"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": {"resourceVersion": str(revision)}, "items": items})


def _delete_options(request: HttpRequest) -> store.DeleteOptions:
    """DeleteOptions from the body and the query (the query wins, as in the API server)."""
    body = _body(request) if request.body else {}

    def pick(key: str) -> Any:
        return request.GET[key] if key in request.GET else body.get(key)

    grace = pick("gracePeriodSeconds")
    if isinstance(grace, (bool, float)):  # JSON true or 1.5: Python's int() would take them
        raise bad_request(f"gracePeriodSeconds must be an integer, not {grace!r}")
    try:
        grace_seconds = None if grace is None else int(grace)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"gracePeriodSeconds must be an integer, not {grace!r}") from exc
    policy = pick("propagationPolicy")
    if policy is not None and policy not in store.PROPAGATION_POLICIES:
        raise APIError(422, "Invalid", f'propagationPolicy: Unsupported value: "{policy}": supported values: "Background", "Foreground", "Orphan"')
    orphan = pick("orphanDependents")
    if isinstance(orphan, str):
        orphan = {"true": True, "false": False}.get(orphan.lower(), orphan)
    if orphan is not None and not isinstance(orphan, bool):
        raise bad_request(f"orphanDependents must be a boolean, not {orphan!r}")
    if policy is not None and orphan is not None:
        raise APIError(422, "Invalid", f'propagationPolicy: Invalid value: "{policy}": orphanDependents and deletionPropagation cannot be both set')
    preconditions = body.get("preconditions") or {}
    if not isinstance(preconditions, dict) or any(v is not None and not isinstance(v, str) for v in preconditions.values()):
        raise bad_request("preconditions must be an object of strings (uid, resourceVersion)")
    dry_run = request.GET.get("dryRun") == "All" or body.get("dryRun") == ["All"]
    return store.DeleteOptions(
        grace_seconds=grace_seconds,
        propagation=policy,
        orphan_dependents=orphan,
        uid=preconditions.get("uid"),
        resource_version=preconditions.get("resourceVersion"),
        dry_run=dry_run,
    )


# --- subresources -------------------------------------------------------------------------

@api_view
def subresource(request: HttpRequest, cluster: str, plural: str, name: str, sub: str, namespace: str | None = None, group: str = "", version: str = "v1") -> HttpResponse:
    c = resolve(request, cluster)
    kind = _kind(group, version, plural)
    return _subresource(request, c, kind, _ns_of(kind, namespace), name, sub)


NAMESPACE_SUBRESOURCES = tuple(s.name for s in registry.strategy(kinds.NAMESPACE).subresources)


def _subresource(request: HttpRequest, c: Cluster, kind: kinds.Kind, ns: str, name: str, sub: str) -> HttpResponse:
    plural = kind.plural
    served = registry.strategy(kind).subresource(sub)
    if served is None:
        raise APIError(404, "NotFound", f"the server could not find the requested resource ({plural}/{sub})")
    if _verb_of(request.method) not in served.verbs:
        raise APIError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({request.method} {plural}/{sub})")
    if sub == "status":
        if request.method == "GET":
            return json_response(store.get(c, kind, ns, name))
        if request.method == "PUT":
            return json_response(_replace(c, kind, ns, name, _object_body(request, kind), subresource="status"))
        if request.method == "PATCH":
            return _patch(request, c, kind, ns, name, subresource="status")
    elif sub == "scale":
        return _scale(request, c, kind, ns, name)
    elif sub == "log":
        return _log(request, c, ns, name)
    elif sub == "binding":
        return _binding(request, c, ns, name)
    elif sub == "finalize":
        return _finalize(request, c, name)
    raise APIError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({request.method} {plural}/{sub})")


def scale_of(doc: dict) -> dict:
    match = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    meta = doc["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
        "spec": {"replicas": (doc.get("spec") or {}).get("replicas", 1)},
        "status": {"replicas": (doc.get("status") or {}).get("replicas", 0), "selector": ",".join(f"{k}={v}" for k, v in sorted(match.items()))},
    }


def _finalize(request: HttpRequest, cluster: Cluster, name: str) -> HttpResponse:
    """PUT namespaces/<name>/finalize: the one way to change a namespace's spec.finalizers.
    Emptied on a namespace being deleted, it lets the namespace go."""
    body = _object_body(request, kinds.NAMESPACE)
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    finalizers = spec.get("finalizers") or []
    if not isinstance(finalizers, list) or not all(isinstance(f, str) and f for f in finalizers):
        raise invalid("Namespace", "", name, [Cause("spec.finalizers", f"Invalid value: {json.dumps(finalizers)}: must be a list of names")])
    current = store.get(cluster, kinds.NAMESPACE, "", name)
    return json_response(
        store.mutate(cluster, kinds.NAMESPACE, "", name, lambda d: d.setdefault("spec", {}).__setitem__("finalizers", list(finalizers)), by=store.API, expected_uid=current["metadata"]["uid"])
    )


def _scale(request: HttpRequest, cluster: Cluster, kind: kinds.Kind, ns: str, name: str) -> HttpResponse:
    if request.method not in ("GET", "PUT", "PATCH"):
        raise APIError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({request.method} {kind.plural}/scale)")
    if request.method == "GET":
        return json_response(scale_of(store.get(cluster, kind, ns, name)))
    with store.locked(cluster):
        return _write_scale(request, cluster, kind, ns, name)


def _write_scale(request: HttpRequest, cluster: Cluster, kind: kinds.Kind, ns: str, name: str) -> HttpResponse:
    current = store.get(cluster, kind, ns, name)
    if request.method == "PUT":
        wanted = _body(request)
    elif request.method == "PATCH":
        content_type = _content_type(request)
        if content_type not in PATCH_TYPES:
            raise APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: " + ", ".join(PATCH_TYPES))
        wanted = patch.apply_patch(scale_of(current), request.body, content_type, kind="Scale")
    else:
        raise APIError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({request.method})")
    spec = wanted.get("spec") if isinstance(wanted, dict) else None
    replicas = spec.get("replicas") if isinstance(spec, dict) else None
    validation.check_int32(replicas, kind="Scale", go_field="ScaleSpec.spec.replicas")
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise invalid("Scale", "autoscaling", name, [Cause("spec.replicas", f"Invalid value: {json.dumps(replicas)}: must be greater than or equal to 0")])
    meta = wanted.get("metadata") if isinstance(wanted, dict) else None
    expected = meta.get("resourceVersion") if isinstance(meta, dict) else None
    if expected and str(expected) != current["metadata"]["resourceVersion"]:
        raise conflict(kind.plural, kind.group, name)
    updated = store.mutate(cluster, kind, ns, name, lambda d: d["spec"].__setitem__("replicas", replicas), by=store.API, expected_uid=current["metadata"]["uid"])
    return json_response(scale_of(updated))


def _binding(request: HttpRequest, cluster: Cluster, ns: str, name: str) -> HttpResponse:
    body = _body(request)
    target = (body.get("target") or {}) if isinstance(body, dict) else {}
    node = target.get("name")
    if not node or target.get("kind", "Node") != "Node":
        raise invalid("Binding", "", name, [Cause("target.name", "Required value")])
    if store.find(cluster, kinds.NODE, "", node) is None:
        raise not_found("nodes", "", node)
    client = client_of(request)
    pod = store.get(cluster, kinds.POD, ns, name)
    if pod["spec"].get("nodeName"):
        raise APIError(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"', name=name, kind="pods")

    def bind(doc: dict) -> None:
        doc["spec"]["nodeName"] = node
        pods.set_condition(doc, "PodScheduled", "True")

    store.mutate(
        cluster, kinds.POD, ns, name, bind, by=store.API, expected_uid=pod["metadata"]["uid"],
        steps=lambda doc, rev: [narration.bound_by_client(doc, node, client)],
    )
    return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)


def _log(request: HttpRequest, cluster: Cluster, ns: str, name: str) -> HttpResponse:
    from datetime import datetime, timedelta, timezone

    from cluster.componentbase import timing


    pod = store.find(cluster, kinds.POD, ns, name)
    if pod is None:
        raise not_found("pods", "", name)
    containers = [c["name"] for c in pod["spec"].get("containers", [])]
    container = request.GET.get("container") or (containers[0] if len(containers) == 1 else "")
    if not container:
        raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]")
    if container not in containers:
        raise bad_request(f"container {container} is not valid for pod {name}")
    previous = flag(request, "previous")
    problem = logs.unavailable(pod, container, previous=previous)
    if problem:
        raise bad_request(problem)
    timestamps = flag(request, "timestamps")
    try:
        tail = int(request.GET["tailLines"]) if request.GET.get("tailLines") else None
        since = datetime.now(timezone.utc) - timedelta(seconds=int(request.GET["sinceSeconds"])) if request.GET.get("sinceSeconds") else None
    except ValueError as exc:
        raise bad_request(f"invalid log option: {exc}") from exc
    now = datetime.now(timezone.utc)
    env, scale = logs.environment(cluster, pod, container, previous=previous), timing.scale(cluster)
    text = logs.render(logs.lines(pod, container, until=now, since=since, previous=previous, env=env, scale=scale), timestamps=timestamps, tail=tail)
    if not flag(request, "follow") or logs.ended(pod, container, previous=previous):
        return HttpResponse(text, content_type="text/plain")
    return StreamingHttpResponse(_follow(cluster, pod, container, text, now, timestamps, previous=previous, env=env, scale=scale), content_type="text/plain")


async def _follow(cluster: Cluster, pod: dict, container: str, first: str, since, timestamps: bool, *, previous: bool = False, env: dict | None = None, scale: float | None = None):
    """`logs -f`: what is there, then each new line as the container writes it, until the
    container ends or the pod goes."""
    import asyncio
    from datetime import datetime, timezone

    from channels.db import database_sync_to_async


    yield first.encode()
    uid = pod["metadata"]["uid"]
    while True:
        await asyncio.sleep(1.0)
        current = await database_sync_to_async(store.by_uid)(cluster, uid)
        if current is None or current["metadata"].get("deletionTimestamp"):
            return
        now = datetime.now(timezone.utc)
        read = logs.lines(current, container, until=now, since=since, previous=previous, env=env, scale=scale)
        text = await asyncio.to_thread(logs.render, read, timestamps=timestamps)
        since = now
        if text:
            yield text.encode()
        if logs.ended(current, container, previous=previous):
            return


@api_view
def unknown(request: HttpRequest, cluster: str, rest: str) -> HttpResponse:
    resolve(request, cluster)
    raise APIError(404, "NotFound", f"the server could not find the requested resource (/{rest})")
