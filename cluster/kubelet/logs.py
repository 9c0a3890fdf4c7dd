"""The simulated output of a container: its start-up lines, then lines as it runs.

Nothing is stored: the lines follow from the container's image and start time, so every
reader — `kubectl logs`, `logs -f`, a second terminal — sees the same output.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator

from cluster.apimachinery import metav1

STARTUP = {
    "nginx": [
        "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
        "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
        "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
        "10-listen-on-ipv6-by-default.sh: info: Enabled listen on IPv6 in /etc/nginx/conf.d/default.conf",
        "/docker-entrypoint.sh: Configuration complete; ready for start up",
        "{time} [notice] 1#1: using the \"epoll\" event method",
        "{time} [notice] 1#1: nginx/1.27.3",
        "{time} [notice] 1#1: start worker processes",
    ],
    "httpd": [
        "AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using {ip}.",
        "[{time}] [mpm_event:notice] [pid 1:tid 1] AH00489: Apache/2.4.62 (Unix) configured -- resuming normal operations",
        "[{time}] [core:notice] [pid 1:tid 1] AH00094: Command line: 'httpd -D FOREGROUND'",
    ],
    "redis": [
        "1:C {time} * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
        "1:M {time} * Running mode=standalone, port=6379.",
        "1:M {time} * Server initialized",
        "1:M {time} * Ready to accept connections tcp",
    ],
}
TICK = {
    "nginx": '{ip_gw} - - [{time}] "GET / HTTP/1.1" 200 615 "-" "kube-probe/1.32" "-"',
    "httpd": '{ip_gw} - - [{time}] "GET / HTTP/1.1" 200 45',
    "redis": "1:M {time} * 1 changes in 3600 seconds. Saving...",
}
GENERIC_STARTUP = ["Starting {image} in container {container} (pid 1)", "{container} is up and running"]
GENERIC_TICK = "{time} {container}: still running (uptime {uptime}s)"
TICK_SECONDS = 10


def _repo(image: str) -> str:
    return image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]


def container_started(pod: dict, container: str) -> datetime | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            state = status.get("state") or {}
            running = state.get("running") or state.get("terminated") or {}
            return metav1.parse_time(running.get("startedAt"))
    return None


def _fill(template: str, *, moment: datetime, pod: dict, image: str, container: str, started: datetime) -> str:
    ip = (pod.get("status") or {}).get("podIP", "10.244.0.2")
    return template.format(
        time=moment.strftime("%Y/%m/%d %H:%M:%S"),
        ip=ip,
        ip_gw=ip.rsplit(".", 1)[0] + ".1",
        image=image,
        container=container,
        uptime=int((moment - started).total_seconds()),
    )


def lines(pod: dict, container: str, *, until: datetime | None = None, since: datetime | None = None, timestamps: bool = False) -> Iterator[tuple[datetime, str]]:
    """(time, line) pairs the container has written up to `until`."""
    spec = next((c for c in pod["spec"].get("containers", []) if c["name"] == container), None)
    started = container_started(pod, container)
    if spec is None or started is None:
        return
    until = until or datetime.now(timezone.utc)
    repo = _repo(spec["image"])
    kw = {"pod": pod, "image": spec["image"], "container": container, "started": started}
    for template in STARTUP.get(repo, GENERIC_STARTUP):
        if since is None or started > since:
            yield started, _fill(template, moment=started, **kw)
    tick = TICK.get(repo, GENERIC_TICK)
    moment = started + timedelta(seconds=TICK_SECONDS)
    while moment <= until:
        if since is None or moment > since:
            yield moment, _fill(tick, moment=moment, **kw)
        moment += timedelta(seconds=TICK_SECONDS)


def render(pairs: Iterator[tuple[datetime, str]], *, timestamps: bool = False, tail: int | None = None) -> str:
    rows = [(f"{t.strftime('%Y-%m-%dT%H:%M:%S.000000000Z')} {line}" if timestamps else line) for t, line in pairs]
    if tail is not None and tail >= 0:
        rows = rows[-tail:] if tail else []
    return "".join(row + "\n" for row in rows)
