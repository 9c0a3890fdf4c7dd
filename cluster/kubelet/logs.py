"""The simulated output of a container, as `kubectl logs` reads it.

Nothing is stored: the output follows from the container's spec, its environment and its
status, so every reader — `kubectl logs`, `logs -f`, a second terminal — sees the same lines.

- A container given a command (or args) prints what that command prints. Its command and
  args first get Kubernetes' $(VAR) expansion from the container's environment. A shell
  script (`sh -c "..."`) is followed command by command, with the shell's own expansions
  ($VAR, ${VAR:-default}, $(command), $((arithmetic))), and the programs whose output
  podflow knows print it: echo, printf, env, printenv, hostname, date, seq, pwd, cat of a
  file the script wrote, and a few more. A program podflow does not know prints nothing; a
  construct it cannot follow (a `case`, a file pattern, `read` …) ends the output there
  rather than guess. The shell is cluster/kubelet/shell.py.
- An image run as it is: nginx, httpd and redis print their start-up lines, then a line every
  TICK_SECONDS; an image podflow does not know prints two generic lines and a line every
  TICK_SECONDS; busybox, alpine … with no command print nothing; postgres and mysql without a
  password print their entrypoint's error.
- The output ends when the container does (its finishedAt). A container that restarted shows
  its current run, or while it waits to start again (CrashLoopBackOff) the run that ended
  last; `previous` shows the run before (lastState.terminated), as the kubelet does.
- `sleep N` takes N seconds of Kubernetes time (cluster/componentbase/timing.py), so a
  `while true; do …; sleep 5; done` loop writes every 5 Kubernetes seconds. A loop that has
  gone round for long keeps only its latest shell.KEEP_LINES lines, as a rotated container
  log keeps only its newest file.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Iterator, Mapping

from cluster.apimachinery import kinds, metav1, quantity
from cluster.apiserver import store
from cluster.kubelet import envconfig, shell, workload
from cluster.models import Cluster

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
# How many of an image's start-up lines its entrypoint script prints: a command that runs
# the server itself (`nginx -g "daemon off;"`) skips them.
ENTRYPOINT_LINES = {"nginx": 5}
# Programs that are one of the servers above when a command runs them.
SERVER_PROGRAMS = {"nginx": "nginx", "nginx-debug": "nginx", "httpd": "httpd", "httpd-foreground": "httpd", "redis-server": "redis"}
TICK = {
    "nginx": '{ip_gw} - - [{time}] "GET / HTTP/1.1" 200 615 "-" "kube-probe/1.32" "-"',
    "httpd": '{ip_gw} - - [{time}] "GET / HTTP/1.1" 200 45',
    "redis": "1:M {time} * 1 changes in 3600 seconds. Saving...",
}
GENERIC_STARTUP = ["Starting {image} in container {container} (pid 1)", "{container} is up and running"]
GENERIC_TICK = "{time} {container}: still running (uptime {uptime}s)"
TICK_SECONDS = 10

# What the images' own programs print when they stop at once: the entrypoint scripts of
# postgres and mysql finding no password, and hello-world's program.
PASSWORD_ERRORS = {
    "postgres": [
        "Error: Database is uninitialized and superuser password is not specified.",
        "       You must specify POSTGRES_PASSWORD to a non-empty value for the",
        '       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".',
        "",
        '       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all',
        "       connections without a password. This is *not* recommended.",
        "",
        '       See PostgreSQL documentation about "trust":',
        "       https://www.postgresql.org/docs/current/auth-trust.html",
    ],
    "mysql": [
        "{date} [ERROR] [Entrypoint]: Database is uninitialized and password option is not specified",
        "    You need to specify one of the following as an environment variable:",
        "    - MYSQL_ROOT_PASSWORD",
        "    - MYSQL_ALLOW_EMPTY_PASSWORD",
        "    - MYSQL_RANDOM_ROOT_PASSWORD",
    ],
}
HELLO_WORLD = [
    "",
    "Hello from Docker!",
    "This message shows that your installation appears to be working correctly.",
    "",
    "To generate this message, Docker took the following steps:",
    " 1. The Docker client contacted the Docker daemon.",
    ' 2. The Docker daemon pulled the "hello-world" image from the Docker Hub.',
    "    (amd64)",
    " 3. The Docker daemon created a new container from that image which runs the",
    "    executable that produces the output you are currently reading.",
    " 4. The Docker daemon streamed that output to the Docker client, which sent it",
    "    to your terminal.",
    "",
    "To try something more ambitious, you can run an Ubuntu container with:",
    " $ docker run -it ubuntu bash",
    "",
    "Share images, automate workflows, and more with a free Docker ID:",
    " https://hub.docker.com/",
    "",
    "For more examples and ideas, visit:",
    " https://docs.docker.com/get-started/",
]

# The environment an image sets (its ENV), as far as podflow tells it: PATH.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGE_PATH = {"python": "/usr/local/bin:" + DEFAULT_PATH}
# Images whose /bin/sh is busybox's ash (the others' is dash, Debian's).
ASH_IMAGES = {"busybox", "alpine", "busyboxplus", "curl"}

DEFAULT_SCALE = 0.1  # real seconds per Kubernetes second at normal speed


def _repo(image: str) -> str:
    return image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]


def _spec(pod: dict, container: str) -> dict | None:
    return next((c for c in pod["spec"].get("containers") or [] if c.get("name") == container), None)


def _status(pod: dict, container: str) -> dict | None:
    return next((s for s in (pod.get("status") or {}).get("containerStatuses") or [] if s.get("name") == container), None)


# --- which run --------------------------------------------------------------------------------

def run_of(pod: dict, container: str, *, previous: bool = False) -> dict | None:
    """The container state whose output the kubelet reads: for `previous`, the run before
    (lastState.terminated); otherwise the current run or, while the container waits to
    start again, the run that ended last. None when there is none."""
    status = _status(pod, container) or {}
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated") or None
    if previous:
        return last
    return state.get("running") or state.get("terminated") or last


def unavailable(pod: dict, container: str, *, previous: bool = False) -> str:
    """Why there is no output to read, in the kubelet's words; "" when there is."""
    if run_of(pod, container, previous=previous) is not None:
        return ""
    name = pod["metadata"]["name"]
    if previous:
        return f'previous terminated container "{container}" in pod "{name}" not found'
    reason = (((_status(pod, container) or {}).get("state") or {}).get("waiting") or {}).get("reason") or "ContainerCreating"
    if reason == "ErrImagePull":
        reason = "image can't be pulled"
    elif reason == "ImagePullBackOff":
        reason = "trying and failing to pull image"
    return f'container "{container}" in pod "{name}" is waiting to start: {reason}'


def ended(pod: dict, container: str, *, previous: bool = False) -> bool:
    """The run shown has ended (or there is none): following it has nothing more to wait for."""
    run = run_of(pod, container, previous=previous)
    return run is None or bool(run.get("finishedAt"))


# --- the environment --------------------------------------------------------------------------

def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' expansion of command, args and env values: $(VAR) becomes VAR's value when
    VAR is defined and stays as written when it is not; $$ is a literal $."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 == n:
            out.append(c)
            i += 1
            continue
        following = text[i + 1]
        if following == "$":
            out.append("$")
            i += 2
        elif following == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2:close]
            out.append(env[name] if name in env else f"$({name})")
            i = close + 1
        else:
            out.append("$" + following)
            i += 2
    return "".join(out)


def environment(cluster: Cluster, pod: dict, container: str, *, previous: bool = False) -> dict[str, str]:
    """The variables the kubelet gives the container (see kubelet_env), its ConfigMaps,
    Secrets and Services read now."""
    spec = _spec(pod, container)
    if spec is None:
        return {}
    resolved, error = envconfig.resolve(cluster, pod, spec)
    started = metav1.parse_time((run_of(pod, container, previous=previous) or {}).get("startedAt"))
    return kubelet_env(pod, spec, None if error else resolved, _services(cluster, pod, started))


def _services(cluster: Cluster, pod: dict, started: datetime | None) -> list[dict]:
    """The Services whose variables a container started at `started` got: those of its
    namespace (unless enableServiceLinks is false) and the API server's `kubernetes`."""
    namespace = pod["metadata"].get("namespace", "default")
    found = store.list_docs(cluster, kinds.SERVICE, namespace) if pod["spec"].get("enableServiceLinks", True) is not False else []
    master = store.find(cluster, kinds.SERVICE, "default", "kubernetes")
    if master is not None and all(s["metadata"].get("uid") != master["metadata"].get("uid") for s in found):
        found.append(master)
    if started is not None:
        found = [s for s in found if (metav1.parse_time(s["metadata"].get("creationTimestamp")) or started) <= started]
    return sorted(found, key=lambda s: s["metadata"].get("name", ""))


def _service_env(services: list[dict]) -> dict[str, str]:
    """The kubelet's variables for each Service with a cluster IP: NAME_SERVICE_HOST,
    NAME_SERVICE_PORT (and one per named port), and the Docker-link NAME_PORT_* ones."""
    env: dict[str, str] = {}
    for service in services:
        spec = service.get("spec") or {}
        ip, ports = spec.get("clusterIP") or "", spec.get("ports") or []
        if ip in ("", "None") or not ports:
            continue
        prefix = str(service["metadata"]["name"]).replace("-", "_").upper()
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        for port in ports:
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{str(port['name']).replace('-', '_').upper()}"] = str(port.get("port"))
        host = f"[{ip}]" if ":" in ip else ip
        for index, port in enumerate(ports):
            protocol = str(port.get("protocol") or "TCP")
            url = f"{protocol.lower()}://{host}:{port.get('port')}"
            if index == 0:
                env[f"{prefix}_PORT"] = url
            each = f"{prefix}_PORT_{port.get('port')}_{protocol.upper()}"
            env[each] = url
            env[f"{each}_PROTO"] = protocol.lower()
            env[f"{each}_PORT"] = str(port.get("port"))
            env[f"{each}_ADDR"] = ip
    return env


def kubelet_env(pod: dict, spec: dict, resolved: dict[str, str] | None = None, services: list[dict] = ()) -> dict[str, str]:
    """The variables the kubelet sets for a container, in order: its envFrom's, then its
    env's — a literal value with its $(VAR) references expanded, a downward-API field read
    from the pod, a ConfigMap or Secret key from `resolved` (envconfig.resolve's answer;
    None: not read) — then each Service's that the container does not set itself."""
    service_env = _service_env(list(services))
    items = [i for i in spec.get("env") or [] if isinstance(i, dict) and i.get("name")]
    names = {str(i["name"]) for i in items}
    env = {k: v for k, v in (resolved or {}).items() if k not in names}
    for item in items:
        name = str(item["name"])
        source = item.get("valueFrom")
        if not isinstance(source, dict):
            value = "" if item.get("value") is None else str(item["value"])
            env[name] = expand(value, {**service_env, **env}) if value else ""
            continue
        field = _downward(pod, spec, source)
        if field is not None:
            env[name] = field
        elif resolved is not None and name in resolved:
            env[name] = resolved[name]
    for name, value in service_env.items():
        env.setdefault(name, value)
    return env


def _downward(pod: dict, spec: dict, source: dict) -> str | None:
    """The value of an env var's fieldRef or resourceFieldRef, or None if it has neither
    (or names something the pod does not say)."""
    ref = source.get("fieldRef")
    if isinstance(ref, dict):
        meta, status, pod_spec = pod["metadata"], pod.get("status") or {}, pod["spec"]
        path = str(ref.get("fieldPath", ""))
        simple = {
            "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"), "metadata.uid": meta.get("uid"),
            "spec.nodeName": pod_spec.get("nodeName"), "spec.serviceAccountName": pod_spec.get("serviceAccountName", "default"),
            "status.hostIP": status.get("hostIP"), "status.podIP": status.get("podIP"),
            "status.podIPs": ",".join(str(p.get("ip")) for p in status.get("podIPs") or []) or status.get("podIP"),
            "status.hostIPs": ",".join(str(p.get("ip")) for p in status.get("hostIPs") or []) or status.get("hostIP"),
        }
        if path in simple:
            return str(simple[path] or "")
        match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
        if match:
            return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
        return None
    ref = source.get("resourceFieldRef")
    if isinstance(ref, dict):
        target = _spec(pod, str(ref["containerName"])) if ref.get("containerName") else spec
        kind, _, resource = str(ref.get("resource", "")).partition(".")
        value = (((target or {}).get("resources") or {}).get(kind) or {}).get(resource)
        if value is None:
            return None
        try:
            if resource == "cpu":  # counted in millicores, as the kubelet counts them
                amount, divisor = Decimal(quantity.millicores(value)), Decimal(quantity.millicores(ref.get("divisor") or "1"))
            else:
                amount, divisor = quantity.parse(value), quantity.parse(ref.get("divisor") or "1")
        except ValueError:
            return None
        return str(math.ceil(amount / divisor)) if divisor else None
    return None


def hostname(pod: dict) -> str:
    return str(pod["spec"].get("hostname") or pod["metadata"]["name"][:63].rstrip("-."))


def process_env(pod: dict, spec: dict, kube: Mapping[str, str]) -> dict[str, str]:
    """What the container's first process sees: the image's PATH, HOSTNAME, the kubelet's
    variables, and HOME (the root user's, unless the container runs as another user)."""
    repo = workload.repo_of(spec.get("image", "")) or _repo(spec.get("image", ""))
    env = {"PATH": IMAGE_PATH.get(repo, DEFAULT_PATH), "HOSTNAME": hostname(pod)}
    env.update(kube)
    user = ((spec.get("securityContext") or {}).get("runAsUser"))
    if user is None:
        user = (pod["spec"].get("securityContext") or {}).get("runAsUser")
    env.setdefault("HOME", "/root" if not user else "/")
    return env


# --- the output -------------------------------------------------------------------------------

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


def lines(
    pod: dict, container: str, *, until: datetime | None = None, since: datetime | None = None, timestamps: bool = False,
    previous: bool = False, env: Mapping[str, str] | None = None, scale: float | None = None,
) -> Iterator[tuple[datetime, str]]:
    """(time, line) pairs the container has written up to `until` (after `since`).

    `env` is the kubelet's variables for it (environment(); without it, only the literal
    values of its env); `scale` the real seconds per Kubernetes second of its cluster."""
    spec = _spec(pod, container)
    run = run_of(pod, container, previous=previous)
    if spec is None or run is None or run.get("reason") == "StartError":
        return  # a container the runtime could not start wrote nothing
    started = metav1.parse_time(run.get("startedAt"))
    if started is None:
        return
    until = until or metav1.now()
    finished = metav1.parse_time(run.get("finishedAt"))
    # finishedAt is to the second (so is startedAt): the run ended within that second
    end = min(until, finished + timedelta(seconds=1, microseconds=-1)) if finished else until
    if end < started:
        return
    kube = dict(env) if env is not None else kubelet_env(pod, spec)
    for moment, line in _output(pod, spec, started, end, kube, scale or DEFAULT_SCALE):
        if moment > end:
            break
        if since is None or moment > since:
            yield moment, line


def _output(pod: dict, spec: dict, started: datetime, end: datetime, kube: dict[str, str], scale: float) -> Iterator[tuple[datetime, str]]:
    command = [str(c) for c in spec.get("command") or []]
    args = [str(a) for a in spec.get("args") or []]
    image = str(spec.get("image", ""))
    repo = workload.repo_of(image) or _repo(image)
    argv = [expand(a, kube) for a in (command + args if command else args)]
    if not argv or (not command and argv[0].startswith("-") and repo not in workload.EXITS_AT_ONCE):
        return _image_output(pod, spec, repo, started, end, kube)  # the image's own command (with these flags)
    return iter(_command_output(pod, spec, repo, argv, started, end, kube, scale, via_entrypoint=not command))


def _image_output(pod: dict, spec: dict, repo: str, started: datetime, end: datetime, kube: dict[str, str]) -> Iterator[tuple[datetime, str]]:
    if repo in workload.NEEDS_PASSWORD and not spec.get("args") and workload.behaviour(spec, kube).exit_code != 0:
        date = started.strftime("%Y-%m-%d %H:%M:%S+00:00")
        return iter([(started, line.format(date=date)) for line in PASSWORD_ERRORS[repo]])
    if repo == "hello-world":
        return iter([(started, line) for line in HELLO_WORLD])
    if repo in workload.EXITS_AT_ONCE:
        return iter(())  # a shell or interpreter with no terminal: it reads nothing and exits
    return _server(pod, spec, started, started, end, STARTUP.get(repo, GENERIC_STARTUP), TICK.get(repo, GENERIC_TICK))


def _server(pod: dict, spec: dict, started: datetime, at: datetime, end: datetime, startup: list[str], tick: str) -> Iterator[tuple[datetime, str]]:
    """A server's start-up lines at `at`, then a line every TICK_SECONDS until `end`."""
    kw = {"pod": pod, "image": spec["image"], "container": spec["name"], "started": started}
    for template in startup:
        yield at, _fill(template, moment=at, **kw)
    moment = at + timedelta(seconds=TICK_SECONDS)
    while moment <= end:
        yield moment, _fill(tick, moment=moment, **kw)
        moment += timedelta(seconds=TICK_SECONDS)


def _command_output(pod, spec, repo, argv, started, end, kube, scale, *, via_entrypoint: bool) -> list[tuple[datetime, str]]:
    """What the command prints, as the shell (cluster/kubelet/shell.py) follows it."""
    servers = {name: partial(_serve, pod=pod, spec=spec, kind=kind, entrypoint=False) for name, kind in SERVER_PROGRAMS.items()}
    ip = str((pod.get("status") or {}).get("podIP", ""))
    run = shell.Run(started, (end - started).total_seconds() / scale, scale, hostname=hostname(pod), ip=ip, servers=servers)
    program = argv[0].rsplit("/", 1)[-1]
    flavour = "ash" if repo in ASH_IMAGES else "dash"
    process = shell.Shell(run, process_env(pod, spec, kube), flavour=flavour, cwd=str(spec.get("workingDir") or "/"), pid1=True)
    try:
        if via_entrypoint and SERVER_PROGRAMS.get(program) == repo:
            _serve(run, process.t, pod=pod, spec=spec, kind=repo, entrypoint=True)  # the image's entrypoint script, then its server
            return run.lines()  # until stopped
        try:
            process.program(argv, process.environ(), None)
        except shell.Exit:
            pass
        run.cut(process.t)  # the container ends with its first process: what it left running stops
    except (shell.Stop, shell.Unknown, RecursionError, ArithmeticError, ValueError):
        pass  # the output stops here
    return run.lines()


def _serve(run: shell.Run, t: float, *, pod: dict, spec: dict, kind: str, entrypoint: bool) -> None:
    """A server's start-up lines at `t`, then its line every TICK_SECONDS (of real time, as
    for an image run as it is) until the end of what `run` can show."""
    kw = {"pod": pod, "image": spec["image"], "container": spec["name"], "started": run.started}
    for template in STARTUP[kind][0 if entrypoint else ENTRYPOINT_LINES.get(kind, 0):]:
        run.log(t, _fill(template, moment=run.moment(t), **kw) + "\n")
    every, count = TICK_SECONDS / run.scale, 1
    while t + count * every <= run.limit:
        at = t + count * every
        run.log(at, _fill(TICK[kind], moment=run.moment(at), **kw) + "\n")
        count += 1


def render(pairs: Iterator[tuple[datetime, str]], *, timestamps: bool = False, tail: int | None = None) -> str:
    rows = [(f"{t.strftime('%Y-%m-%dT%H:%M:%S.000000000Z')} {line}" if timestamps else line) for t, line in pairs]
    if tail is not None and tail >= 0:
        rows = rows[-tail:] if tail else []
    return "".join(row + "\n" for row in rows)
