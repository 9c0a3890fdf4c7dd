"""The registry the simulated container runtime pulls from: real images, real tags.

A closed world: an image podflow does not know (or a tag its repository never had) fails to
pull as it would from Docker Hub, with containerd's words. Sizes are about what each
image's amd64 layers weigh compressed; pull time follows them and the cluster's speed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from cluster.models import Cluster

_PATCH = r"(\.\d{1,2})?"


@dataclass(frozen=True)
class Repository:
    name: str  # docker.io/library/nginx
    tags: tuple[str, ...]  # regular expressions of the tags it has
    size: int  # bytes of its usual tag
    small_size: int = 0  # bytes of its -alpine / -slim tags


def _repo(name: str, tags: list[str], size: int, small: int = 0) -> Repository:
    return Repository(name, tuple(tags), size, small or size)


CATALOGUE = {
    r.name: r
    for r in (
        _repo("docker.io/library/nginx", [
            r"latest|stable|mainline|perl|alpine|alpine-slim|alpine-perl|bookworm|alpine3\.2[01]",
            r"(stable|mainline)(-alpine|-perl|-bookworm|-alpine-slim)?",
            rf"1\.(1[5-9]|2[0-9]){_PATCH}(-alpine|-alpine-slim|-perl|-alpine-perl|-bookworm)?",
        ], 72_000_000, 20_000_000),
        _repo("docker.io/library/busybox", [
            r"latest|stable|musl|glibc|uclibc",
            rf"(stable-)?(1\.3[0-7]){_PATCH}(-musl|-glibc|-uclibc)?",
        ], 4_300_000),
        _repo("docker.io/library/redis", [
            r"latest|alpine|bookworm",
            rf"(6|7|8)(\.[0-4]{_PATCH})?(-alpine|-bookworm)?",
        ], 45_000_000, 17_000_000),
        _repo("docker.io/library/httpd", [r"latest|alpine|bookworm", rf"2(\.4(\.[5-6][0-9])?)?(-alpine|-bookworm)?"], 58_000_000, 22_000_000),
        _repo("docker.io/library/alpine", [r"latest|edge", rf"3(\.(1[5-9]|2[0-2]){_PATCH})?"], 3_500_000),
        _repo("docker.io/library/python", [
            r"latest|alpine|slim|bookworm|slim-bookworm",
            rf"3(\.([89]|1[0-3]){_PATCH})?(-slim|-alpine|-bookworm|-slim-bookworm)?",
        ], 370_000_000, 45_000_000),
        _repo("docker.io/library/postgres", [r"latest|alpine|bookworm", rf"1[2-7](\.\d{{1,2}})?(-alpine|-bookworm)?"], 150_000_000, 100_000_000),
        _repo("docker.io/library/node", [
            r"latest|lts|current|alpine|slim|bookworm|lts-alpine|lts-slim|current-alpine",
            rf"(18|20|22|23|24)(\.\d{{1,2}}{_PATCH})?(-alpine|-slim|-bookworm)?",
        ], 390_000_000, 50_000_000),
        _repo("docker.io/library/ubuntu", [r"latest|rolling|focal|jammy|noble|20\.04|22\.04|24\.04"], 29_000_000),
        _repo("docker.io/library/hello-world", [r"latest|linux"], 13_000),
        _repo("docker.io/library/mysql", [r"latest|lts|oracle", rf"(8|8\.0|8\.4|9|9\.[0-3]){_PATCH}(-oracle)?"], 170_000_000),
        _repo("registry.k8s.io/pause", [r"3\.(8|9|10)"], 320_000),
        _repo("registry.k8s.io/echoserver", [r"1\.(4|10)"], 46_000_000),
        _repo("docker.io/kicbase/echo-server", [r"latest|1\.0"], 2_200_000),
        _repo("gcr.io/google-samples/hello-app", [r"1\.0|2\.0"], 10_000_000),
        _repo("docker.io/traefik/whoami", [r"latest|v1\.(10|11)(\.\d)?"], 3_000_000),
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
    if not any(re.fullmatch(pattern, ref.tag) for pattern in repo.tags):
        return 0, f'rpc error: code = NotFound desc = failed to pull and unpack image "{shown}": failed to resolve reference "{shown}": {shown}: not found'
    small = any(word in ref.tag for word in ("alpine", "slim"))
    return (repo.small_size if small else repo.size), ""


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
