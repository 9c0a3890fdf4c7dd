"""Talking to a live stack the way users do: HTTP with JSON, and the websocket stream."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Callable

from websockets.sync.client import connect

from web import delta

_tokens: dict[tuple[str, str], str] = {}
# How to get a cluster's kubeconfig for a stack at a base URL: the live_stack fixture
# registers its Stack.kubeconfig (manage.py kubeconfig, as a learner at the shell would).
kubeconfig_sources: dict[str, Callable[[str], str]] = {}


def token_for(base: str, cluster: str) -> str:
    """The cluster's bearer token, from its kubeconfig."""
    key = (base, cluster)
    if key not in _tokens:
        text = kubeconfig_sources[base](cluster)
        _tokens[key] = next(line.split()[-1] for line in text.splitlines() if line.strip().startswith("token:"))
    return _tokens[key]


def http(base: str, method: str, path: str, body: Any = None, *, agent: str = "podflow-tests") -> tuple[int, dict]:
    """A JSON request; paths under /k8s/<cluster>/ carry that cluster's bearer token."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "User-Agent": agent}
    if path.startswith("/k8s/"):
        headers["Authorization"] = "Bearer " + token_for(base, path.split("/")[2])
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def pod_manifest(name: str, image: str = "nginx", **requests: str) -> dict:
    container: dict = {"name": "app", "image": image}
    if requests:
        container["resources"] = {"requests": requests}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container]}}


def deployment_manifest(name: str, replicas: int, image: str = "nginx") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": image}]}},
        },
    }


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions", []))


def frame_messages(frame: dict) -> list[dict]:
    """A frame of the stream as messages: a `changes` frame is one `change` per entry (the
    stream sends a transaction's changes, or a backfill's, in one frame)."""
    if frame.get("type") == "changes":
        return [{"type": "change", **entry} for entry in frame["entries"]]
    return [frame]


class Stream:
    """A websocket client of /ws/clusters/<cluster>/ that keeps every message it receives
    (each change of a `changes` frame as a message of its own)."""

    def __init__(self, base: str, cluster: str = "demo", since: int | None = None) -> None:
        ws_url = base.replace("http://", "ws://") + f"/ws/clusters/{cluster}/" + (f"?since={since}" if since is not None else "")
        # Scripts follow a cluster with its bearer token, as kubectl sends it.
        headers = {"Authorization": "Bearer " + token_for(base, cluster)}
        self.ws = connect(ws_url, origin=base, additional_headers=headers, max_size=None, open_timeout=10).__enter__()
        self.messages: list[dict] = []
        self.objects: dict[str, dict] = {}  # by uid, as the page keeps them

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.ws.close()

    def receive_until(self, check: Callable[[dict], bool], timeout: float, what: str) -> dict:
        """Receive messages until one satisfies `check`; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; got {len(self.messages)} messages")
            try:
                raw = self.ws.recv(timeout=remaining)
            except TimeoutError:
                continue
            # Every message of the frame is kept, also those after the one awaited.
            messages = frame_messages(json.loads(raw))
            for message in messages:
                self._hold(message)
            self.messages.extend(messages)
            for message in messages:
                if check(message):
                    return message

    def _hold(self, message: dict) -> None:
        """Keep the objects as the page does, and give a change sent as a merge patch its
        whole `object` (web/delta.py): a patch to a version this client does not hold is a
        bug of the stream."""
        if message.get("type") in ("snapshot", "snapshot-part"):
            for value in message.values():
                if isinstance(value, list):
                    for item in value:
                        if isinstance(item, dict) and "uid" in (item.get("metadata") or {}):
                            self.objects[item["metadata"]["uid"]] = item
            return
        if message.get("type") != "change":
            return
        if "patch" in message:
            known = self.objects.get(message["uid"])
            version = (known or {}).get("metadata", {}).get("resourceVersion")
            if known is not None and version == message["base"]:
                whole = delta.apply({k: v for k, v in known.items() if k != "display"}, message["patch"])
                message["object"] = {**whole, "display": message["display"]} if "display" in message else whole
            elif known is not None and int(version) >= message["revision"]:
                message["object"] = known
            else:
                raise AssertionError(f"a patch to {message['kind']} {message['uid']} version {message['base']}, and this client holds {version}")
        uid = (message.get("object") or {}).get("metadata", {}).get("uid")
        if uid and message.get("change") == "DELETED":
            self.objects.pop(uid, None)
        elif uid:
            self.objects[uid] = message["object"]

    def changes(self) -> list[dict]:
        return [m for m in self.messages if m.get("type") == "change"]

    def steps_for(self, pod_name: str) -> list[dict]:
        found = []
        for m in self.messages:
            if m.get("type") in ("snapshot", "snapshot-part"):
                found += [s for s in m.get("steps", []) if s["pod"] == pod_name]
            elif m.get("type") == "change":
                found += [s for s in m["steps"] if s["pod"] == pod_name]
        return found


def step_done(pod_name: str, number: int) -> Callable[[dict], bool]:
    return lambda m: m.get("type") == "change" and any(s["pod"] == pod_name and s["number"] == number for s in m["steps"])
