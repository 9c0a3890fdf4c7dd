"""The registry the simulated container runtime pulls from: real images, real tags.

A closed world: an image podflow does not know (or a tag its repository never had) fails to
pull as it would from Docker Hub, with containerd's words:
`failed to resolve reference "docker.io/library/nginx:1.161": docker.io/library/nginx:1.161: not found`.

The catalogue is data. Each repository lists its release lines — a line ("1.27"), the
patches the registry published for it (1.27.0 … 1.27.5) and the variants each patch was
tagged with (-alpine, -perl, …) — and its floating tags (latest, stable, alpine, …). The
tags are the exact ones the registries published, newest releases included up to CHECKED;
a later release, like a typo, is not found until it is added here. Where a registry skipped
a release (nginx 1.21.2 never got an image), the catalogue skips it too.

Sizes are about what each image's amd64 layers weigh compressed; pull time follows them and
the cluster's speed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from cluster.models import Cluster

# The newest release the catalogue was checked against (nginx 1.31.6 / 1.30.5, 2026-09-15).
CHECKED = "2026-09-15"


@dataclass(frozen=True)
class Repository:
    name: str  # docker.io/library/nginx
    published: tuple[str, ...]  # every tag it has, floating ones first, then newest releases first
    size: int  # bytes of its usual tag
    small_size: int = 0  # bytes of its -alpine / -slim tags (its usual size if 0)
    tag_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tag_set", frozenset(self.published))
        object.__setattr__(self, "small_size", self.small_size or self.size)

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags as regular expressions: one alternation of the exact tags, in order."""
        return ("|".join(t.replace(".", r"\.") for t in self.published),)  # tags are [\w.-]: only "." is special

    def has(self, tag: str) -> bool:
        return tag in self.tag_set

    def size_of(self, tag: str) -> int:
        return self.small_size if any(word in tag for word in ("alpine", "slim")) else self.size


def _repo(name: str, tags: Iterable[str], size: int, small: int = 0) -> Repository:
    return Repository(name, tuple(dict.fromkeys(tags)), size, small)  # unique, first mention kept


# --- building the tag lists ------------------------------------------------------------------------

def _patches(spec: str) -> list[int]:
    """"0-5" → [0 … 5]; "0-1,3-6" → [0, 1, 3, 4, 5, 6] (a release the registry skipped)."""
    found: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        found += range(int(first), int(last or first) + 1)
    return found


def _versions(spans: str) -> set[str]:
    """"1.25.1-5 1.26.0-3 1.28.0" → {"1.25.1", …, "1.25.5", "1.26.0", …, "1.28.0"}."""
    found = set()
    for span in spans.split():
        line, _, spec = span.rpartition(".")
        found |= {f"{line}.{p}" for p in _patches(spec)}
    return found


def _lines(table: Iterable[tuple[str, str]], suffixes: Iterable[str] = ("",), majors: bool = True) -> list[str]:
    """Tags of release lines [(line, patches)]: each patch and each line, with each suffix;
    with `majors`, the major ("7", "7-alpine") of every line too. Newest lines first."""
    suffixes = tuple(suffixes)
    tags: list[str] = []
    for line, spec in reversed(list(table)):
        if majors:
            tags += [line.split(".")[0] + s for s in suffixes]
        tags += [line + s for s in suffixes]
        tags += [f"{line}.{p}{s}" for p in reversed(_patches(spec)) for s in suffixes]
    return tags


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# --- nginx -----------------------------------------------------------------------------------------
# Docker Hub's nginx since 1.14: every release of each line (mainline odd, stable even), as
# plain Debian, -perl, -alpine and -alpine-perl. Then -alpine-slim (mainline from 1.23.3,
# stable from 1.22.1), -otel and -alpine-otel (mainline from 1.25.5, stable from 1.26.0),
# and tags naming the distribution under the image (from 1.22.1 and 1.23.4: -bookworm,
# -alpine3.21, -bookworm-perl, -alpine3.21-slim …). Floating tags follow their channel:
# "mainline-…", "1-…" and the bare variant ("perl", "alpine-slim", "bookworm") the newest
# mainline; "stable-…" the newest stable. Floating tags the channel no longer updates stay
# published (nginx:bullseye is still there), so every one a channel ever had is listed.

MAINLINE, STABLE = "mainline", "stable"

NGINX_LINES = (  # line, channel, patches with an image
    ("1.14", STABLE, "0-2"),
    ("1.15", MAINLINE, "0-12"),
    ("1.16", STABLE, "0-1"),
    ("1.17", MAINLINE, "0-10"),
    ("1.18", STABLE, "0"),
    ("1.19", MAINLINE, "0-10"),
    ("1.20", STABLE, "0-2"),
    ("1.21", MAINLINE, "0-1,3-6"),  # 1.21.2 had no image: 1.21.3 followed it within a week
    ("1.22", STABLE, "0-1"),
    ("1.23", MAINLINE, "0-4"),
    ("1.24", STABLE, "0"),
    ("1.25", MAINLINE, "0-5"),
    ("1.26", STABLE, "0-3"),
    ("1.27", MAINLINE, "0-5"),
    ("1.28", STABLE, "0-3"),
    ("1.29", MAINLINE, "0-7"),
    ("1.30", STABLE, "0-5"),
    ("1.31", MAINLINE, "0-6"),
)
NGINX_DEBIAN = {  # the Debian release named in the tags of each version
    "bullseye": _versions("1.22.1 1.23.4 1.24.0 1.25.0"),
    "bookworm": _versions("1.25.1-5 1.26.0-3 1.27.0-5 1.28.0 1.29.0-1"),
    "trixie": _versions("1.28.1-3 1.29.2-7 1.30.0-5 1.31.0-6"),
}
NGINX_ALPINE = {  # the Alpine release named in the tags (where it is known)
    "3.17": _versions("1.22.1 1.23.4 1.24.0 1.25.0-1"),
    "3.18": _versions("1.25.2-3"),
    "3.19": _versions("1.27.0"),
    "3.21": _versions("1.28.0"),
    "3.22": _versions("1.29.0-3"),
    "3.23": _versions("1.28.1-3 1.29.4-7 1.30.0-3 1.31.0-2"),
    "3.24": _versions("1.30.4-5 1.31.3-6"),
}
NGINX_SLIM_SINCE = {MAINLINE: "1.23.3", STABLE: "1.22.1"}
NGINX_OTEL_SINCE = {MAINLINE: "1.25.5", STABLE: "1.26.0"}
# Releases before 1.14 that Kubernetes' docs ran for years (nginx:1.7.9, nginx:1.9.1) and
# others the official-images builds name.
NGINX_OLDER = (
    "1.7.9", "1.8", "1.8.1", "1.8-alpine", "1.8.1-alpine",
    "1.9", "1.9.1", "1.9.8", "1.9.9", "1.9.14", "1.9-alpine", "1.9.14-alpine",
)


def nginx_suffixes(version: str, channel: str) -> list[str]:
    """The variants nginx `version` was tagged with: "", "-perl", "-alpine", … "-bookworm-otel"."""
    at = _key(version)
    slim = at >= _key(NGINX_SLIM_SINCE[channel])
    otel = at >= _key(NGINX_OTEL_SINCE[channel])
    found = ["", "-perl", "-alpine", "-alpine-perl"]
    found += ["-alpine-slim"] if slim else []
    found += ["-otel", "-alpine-otel"] if otel else []
    for codename, those in NGINX_DEBIAN.items():
        if version in those:
            found += [f"-{codename}", f"-{codename}-perl"] + ([f"-{codename}-otel"] if otel else [])
    for release, those in NGINX_ALPINE.items():
        if version in those:
            found += [f"-alpine{release}", f"-alpine{release}-perl"]
            found += [f"-alpine{release}-slim"] if slim else []
            found += [f"-alpine{release}-otel"] if otel else []
    return found


def nginx_tags() -> list[str]:
    channel_suffixes: dict[str, list[str]] = {MAINLINE: [], STABLE: []}
    released: list[str] = []
    for line, channel, spec in reversed(NGINX_LINES):
        line_suffixes: list[str] = []
        for patch in reversed(_patches(spec)):
            version = f"{line}.{patch}"
            suffixes = nginx_suffixes(version, channel)
            released += [version + s for s in suffixes]
            line_suffixes += [s for s in suffixes if s not in line_suffixes]
        released += [line + s for s in line_suffixes]
        channel_suffixes[channel] += [s for s in line_suffixes if s not in channel_suffixes[channel]]
    floating = ["latest"] + [s[1:] for s in channel_suffixes[MAINLINE] if s]
    floating += [f"{MAINLINE}{s}" for s in channel_suffixes[MAINLINE]] + [f"1{s}" for s in channel_suffixes[MAINLINE]]
    floating += [f"{STABLE}{s}" for s in channel_suffixes[STABLE]]
    return floating + released + list(NGINX_OLDER)


# --- busybox ---------------------------------------------------------------------------------------
# Docker Hub's busybox: every release since 1.27 in three builds (glibc, musl, uclibc; the
# plain tag is glibc). "stable" follows the newest x.y.1+ release, "unstable" the newest x.y.0.
BUSYBOX_LINES = (
    ("1.27", "0-2"), ("1.28", "0-4"), ("1.29", "0-3"), ("1.30", "0-1"), ("1.31", "0-1"), ("1.32", "0-1"),
    ("1.33", "0-1"), ("1.34", "0-1"), ("1.35", "0"), ("1.36", "0-1"), ("1.37", "0"),
)
BUSYBOX_BUILDS = ("", "-glibc", "-musl", "-uclibc")


def busybox_tags() -> list[str]:
    floating = ["latest"] + [b[1:] for b in BUSYBOX_BUILDS if b]
    floating += [f"{channel}{b}" for channel in ("stable", "unstable") for b in BUSYBOX_BUILDS]
    return floating + _lines(BUSYBOX_LINES, BUSYBOX_BUILDS)


# --- redis -----------------------------------------------------------------------------------------
REDIS_LINES = (
    ("5.0", "0-14"), ("6.0", "0-20"), ("6.2", "0-14"), ("7.0", "0-15"), ("7.2", "0-9"), ("7.4", "0-4"),
    ("8.0", "0-2"), ("8.2", "0-4"), ("8.4", "0-1"), ("8.6", "0-2"), ("8.8", "0"),
)
REDIS_BOOKWORM = (("7.2", "0-9"), ("7.4", "0-4"), ("8.0", "0-2"))  # the releases tagged -bookworm


def redis_tags() -> list[str]:
    return ["latest", "alpine", "bookworm"] + _lines(REDIS_LINES, ("", "-alpine")) + _lines(REDIS_BOOKWORM, ("-bookworm",))


# --- the others ----------------------------------------------------------------------------------
# Each line up to its last patch known at CHECKED; variants on every patch only where every
# patch has them (-alpine, -slim), the distribution-named ones on lines and floating tags.
# node's releases are too many to list: its majors, floating tags and the last release of
# the lines that ended.

HTTPD = ["latest", "alpine", "bookworm", "2", "2-alpine", "2.4", "2.4-alpine"] + [
    f"2.4.{p}{s}" for p in range(65, 56, -1) for s in ("", "-alpine")
]
ALPINE = ["latest", "edge", "3"] + _lines(
    (("3.15", "0-11"), ("3.16", "0-9"), ("3.17", "0-10"), ("3.18", "0-9"), ("3.19", "0-4"), ("3.20", "0-3"),
     ("3.21", "0-3"), ("3.22", "0"), ("3.23", "0"), ("3.24", "0")),
    majors=False,
)
PYTHON = ["latest", "alpine", "slim", "bookworm", "slim-bookworm"] + [
    f"3{s}" for s in ("", "-slim", "-alpine")
] + _lines(
    (("3.8", "0-20"), ("3.9", "0-23"), ("3.10", "0-18"), ("3.11", "0-13"), ("3.12", "0-11"), ("3.13", "0-5"), ("3.14", "0")),
    ("", "-slim", "-alpine"), majors=False,
) + [f"3.{minor}{s}" for minor in range(8, 15) for s in ("-bookworm", "-slim-bookworm")]
POSTGRES = ["latest", "alpine", "bookworm"] + _lines(
    (("12", "0-22"), ("13", "0-22"), ("14", "0-19"), ("15", "0-14"), ("16", "0-10"), ("17", "0-6"), ("18", "0")),
    ("", "-alpine"), majors=False,
)
NODE = [
    "latest", "lts", "current", "alpine", "slim", "bookworm", "lts-alpine", "lts-slim", "current-alpine", "current-slim",
] + [f"{major}{s}" for major in (24, 23, 22, 20, 18, 16) for s in ("", "-alpine", "-slim", "-bookworm")] + [
    "23.11.1", "18.20.8", "16.20.2",  # the last release of lines that ended
]
MYSQL = (
    ["latest", "lts", "innovation", "oracle", "9", "8", "8.4", "8.0", "5.7", "5.6", "5.7.44", "5.6.51"]
    + [f"9.{minor}" for minor in range(4, -1, -1)] + ["9.4.0", "9.3.0", "9.2.0", "9.1.0", "9.0.1"]
    + [f"8.4.{p}" for p in range(6, -1, -1)]
    + [f"{v}-oracle" for v in ("9", "8", "8.4", "8.0")]
)


CATALOGUE = {
    r.name: r
    for r in (
        _repo("docker.io/library/nginx", nginx_tags(), 72_000_000, 20_000_000),
        _repo("docker.io/library/busybox", busybox_tags(), 4_300_000),
        _repo("docker.io/library/redis", redis_tags(), 45_000_000, 17_000_000),
        _repo("docker.io/library/httpd", HTTPD, 58_000_000, 22_000_000),
        _repo("docker.io/library/alpine", ALPINE, 3_500_000),
        _repo("docker.io/library/python", PYTHON, 370_000_000, 45_000_000),
        _repo("docker.io/library/postgres", POSTGRES, 150_000_000, 100_000_000),
        _repo("docker.io/library/node", NODE, 390_000_000, 50_000_000),
        _repo("docker.io/library/ubuntu", ["latest", "rolling", "focal", "jammy", "noble", "20.04", "22.04", "24.04"], 29_000_000),
        _repo("docker.io/library/hello-world", ["latest", "linux"], 13_000),
        _repo("docker.io/library/mysql", MYSQL, 170_000_000),
        # Kubernetes' own images (registry.k8s.io): the docs' busybox (an old build: 1.24,
        # 1.27, 1.27.2 and latest are all it has), the sandbox's pause, the tutorials' servers.
        _repo("registry.k8s.io/busybox", ["latest", "1.27.2", "1.27", "1.24"], 700_000),
        _repo("registry.k8s.io/pause", ["3.10.1", "3.10", "3.9", "3.8", "3.7", "3.6", "3.5", "3.4.1", "3.2", "3.1"], 320_000),
        _repo("registry.k8s.io/e2e-test-images/agnhost", ["2.39"], 50_000_000),
        _repo("registry.k8s.io/echoserver", ["1.10", "1.4"], 46_000_000),
        # The samples the tutorials run (Google's sample registry, and its Artifact Registry copy).
        _repo("gcr.io/google-samples/hello-app", ["1.0", "2.0"], 10_000_000),
        _repo("us-docker.pkg.dev/google-samples/containers/gke/hello-app", ["1.0", "2.0"], 10_000_000),
        _repo("gcr.io/google-samples/kubernetes-bootcamp", ["v1"], 80_000_000),
        _repo("docker.io/jocatalin/kubernetes-bootcamp", ["v1", "v2"], 80_000_000),
        _repo("gcr.io/google-samples/hello-go-gke", ["1.0"], 5_000_000),
        _repo("gcr.io/google-samples/hello-frontend", ["1.0"], 20_000_000),
        _repo("gcr.io/google-samples/node-hello", ["1.0"], 250_000_000),
        _repo("docker.io/hashicorp/http-echo", ["latest", "1.0", "1.0.0", "0.2.3"], 3_500_000),
        _repo("docker.io/curlimages/curl", ["latest", "8.18.0"], 9_000_000),
        _repo("docker.io/radial/busyboxplus", ["latest", "curl", "git"], 4_500_000),
        _repo("docker.io/kicbase/echo-server", ["latest", "1.0"], 2_200_000),
        _repo("docker.io/traefik/whoami", ["latest", "v1.11", "v1.11.0", "v1.10", "v1.10.3", "v1.10.2", "v1.10.1", "v1.10.0"], 3_000_000),
    )
}

# Docker's reference grammar, enough of it to refuse what containerd cannot parse.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
REFERENCE_RE = re.compile(rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@sha256:[a-f0-9]{{64}})?$")

# Bytes a pull moves per stage time: a 40 MB image takes one stage, python (370 MB) nine.
PULL_BYTES_PER_STAGE = 40_000_000
DEFAULT_SIZE = 50_000_000


@dataclass(frozen=True)
class Reference:
    repository: str  # docker.io/library/nginx
    tag: str  # "latest" when none is given
    digest: str = ""

    @property
    def name(self) -> str:
        """What the runtime lists the image as on the node: docker.io/library/nginx:latest."""
        return f"{self.repository}:{self.tag}"


def parse(image: str) -> Reference | None:
    """Normalise an image reference as containerd does; None if it is not one."""
    if not isinstance(image, str) or not REFERENCE_RE.match(image):
        return None
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first = name.split("/", 1)[0]
    if "/" not in name or ("." not in first and ":" not in first and first != "localhost"):
        name = "docker.io/" + (name if "/" in name else "library/" + name)
    return Reference(name, tag or "latest", digest)


def image_ref(image: str) -> str:
    """Where the runtime says an image came from: docker.io/library/nginx:latest."""
    ref = parse(image)
    if ref is not None:
        return ref.name
    return image  # not a reference: pulled it cannot be


def invalid_reason(image: str) -> str:
    """Why containerd cannot parse `image` ("" if it can)."""
    if parse(image) is not None:
        return ""
    if image != image.lower():
        return "invalid reference format: repository name must be lowercase"
    return "invalid reference format"


def lookup(image: str) -> tuple[int, str]:
    """(size in bytes, "") for an image the registry has, else (0, the pull error)."""
    ref = parse(image)
    if ref is None:
        return 0, invalid_reason(image)
    repo = CATALOGUE.get(ref.repository)
    shown = ref.name + (f"@{ref.digest}" if ref.digest else "")
    if repo is None:
        if ref.repository.startswith("docker.io/"):
            return 0, (
                f'rpc error: code = Unknown desc = failed to pull and unpack image "{shown}": failed to resolve reference "{shown}": '
                "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
            )
        return 0, f'rpc error: code = NotFound desc = failed to pull and unpack image "{shown}": failed to resolve reference "{shown}": {shown}: not found'
    if not repo.has(ref.tag):
        return 0, f'rpc error: code = NotFound desc = failed to pull and unpack image "{shown}": failed to resolve reference "{shown}": {shown}: not found'
    return repo.size_of(ref.tag), ""


def image_size(image: str) -> int:
    size, error = lookup(image)
    return size if not error else DEFAULT_SIZE


def pull_seconds(cluster: Cluster, image: str) -> float:
    """How long pulling `image` takes at the cluster's speed: a stage or more, by size."""
    return cluster.stage_seconds * max(1.0, image_size(image) / PULL_BYTES_PER_STAGE)


def on_node(node: dict, image: str) -> bool:
    ref = image_ref(image)
    return any(ref in i.get("names", []) for i in (node.get("status") or {}).get("images") or [])


def policy(container: dict) -> str:
    """imagePullPolicy as the API server defaults it (Always for :latest or no tag)."""
    value = container.get("imagePullPolicy")
    if value in ("Always", "IfNotPresent", "Never"):
        return value
    ref = parse(container.get("image", ""))
    return "Always" if ref is None or (ref.tag == "latest" and not ref.digest) else "IfNotPresent"
