"""The image catalogue the kubelet pulls from (cluster/kubelet/images.py): the tags the
registries really published pull, the rest fail as containerd fails them."""
from __future__ import annotations

import re

import pytest

from cluster.kubelet import images
from cluster.models import Cluster, Speed


def not_found(ref: str) -> str:
    return f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {ref}: not found'


# Every image and tag the kubernetes.io pages these tests reproduce use (tests/fixtures/k8s_examples/
# and the tutorials' commands), and others the docs have used.
DOCS_IMAGES = [
    "nginx:1.14.2",  # Pods, Deployments: the examples' image
    "nginx:1.16.1",  # Deployments: the update
    "nginx",  # Connecting Applications with Services: run-my-nginx.yaml
    "nginx:stable",  # Service: the named-port example
    "nginx:1.7.9",  # the examples' image until 2019
    "nginx:1.9.1",  # Deployments' update until 2019
    "registry.k8s.io/busybox:1.27.2",  # Configure a Pod to Use a ConfigMap
    "registry.k8s.io/busybox",  # … and its envFrom example
    "busybox:1.28",  # init containers, DNS debugging
    "busybox:1.36",
    "busybox:1.36.1",
    "busybox:1.35",
    "busybox",
    "alpine",  # ConfigMaps: configure-pod.yaml
    "alpine:3",
    "redis:5.0.4",  # Configuring Redis using a ConfigMap (its first versions)
    "redis:5",  # … and now
    "redis:7.2",
    "redis:8.0.2",
    "registry.k8s.io/pause:3.10",
    "registry.k8s.io/e2e-test-images/agnhost:2.39",  # Hello Minikube
    "registry.k8s.io/echoserver:1.4",
    "gcr.io/google-samples/hello-app:1.0",  # Use a Service to Access an Application in a Cluster
    "gcr.io/google-samples/hello-app:2.0",
    "us-docker.pkg.dev/google-samples/containers/gke/hello-app:2.0",
    "gcr.io/google-samples/kubernetes-bootcamp:v1",  # Learn Kubernetes Basics
    "docker.io/jocatalin/kubernetes-bootcamp:v2",
    "jocatalin/kubernetes-bootcamp:v2",
    "gcr.io/google-samples/hello-go-gke:1.0",  # Connect a Frontend to a Backend Using Services
    "gcr.io/google-samples/hello-frontend:1.0",
    "docker.io/curlimages/curl:8.18.0",  # Connecting Applications with Services: curlpod.yaml
    "radial/busyboxplus:curl",
    "hashicorp/http-echo",
    "hashicorp/http-echo:0.2.3",
    "mysql:5.6",  # Run a Single-Instance Stateful Application
    "mysql:5.7",  # Run a Replicated Stateful Application
    "mysql:8.0",  # WordPress and MySQL
    "httpd",
]


@pytest.mark.parametrize("image", DOCS_IMAGES)
def test_the_images_and_tags_the_kubernetes_docs_use_pull(image):
    size, error = images.lookup(image)
    assert error == "" and size > 0


# Real, published tags across the catalogue's repositories and their variants.
PUBLISHED = [
    "nginx:1.25.5", "nginx:1.26.3", "nginx:1.27.5", "nginx:1.28.0", "nginx:1.28.3", "nginx:1.29.7", "nginx:1.30.5", "nginx:1.31.6",
    "nginx:1.25", "nginx:1.26", "nginx:1.27", "nginx:1.28", "nginx:1", "nginx:latest", "nginx:mainline", "nginx:stable",
    "nginx:alpine", "nginx:perl", "nginx:alpine-slim", "nginx:alpine-perl", "nginx:mainline-alpine", "nginx:stable-alpine",
    "nginx:stable-perl", "nginx:1-alpine", "nginx:1.27-alpine", "nginx:1.14-alpine", "nginx:1.16.1-alpine",
    "nginx:1.27.3-alpine-perl", "nginx:1.28.0-alpine-slim", "nginx:1.26.2-otel", "nginx:1.27.4-alpine-otel",
    "nginx:1.25.3-bookworm", "nginx:1.28.0-bookworm-perl", "nginx:1.29.4-trixie", "nginx:1.24.0-bullseye",
    "nginx:bookworm", "nginx:trixie", "nginx:bullseye", "nginx:stable-bookworm", "nginx:mainline-trixie-otel",
    "nginx:1.28.0-alpine3.21", "nginx:1.29.0-alpine3.22-slim", "nginx:1.31-alpine3.24-perl", "nginx:1.30.4-alpine3.24-perl",
    "nginx:alpine3.17-slim", "nginx:stable-alpine3.17-slim", "nginx:1.22-alpine-slim",
    "busybox:1.37", "busybox:1.37.0", "busybox:1.36.1-musl", "busybox:1.28.4-uclibc", "busybox:glibc", "busybox:stable", "busybox:1",
    "redis:8.6.2", "redis:8.4", "redis:8", "redis:7.4.4", "redis:7.2.9-alpine", "redis:7.2-bookworm", "redis:6.2", "redis:alpine",
    "registry.k8s.io/busybox:1.24", "registry.k8s.io/busybox:1.27", "registry.k8s.io/busybox:latest",
    "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause:3.4.1",
    "python:3.12", "python:3.12.11-slim", "python:3.13-alpine", "python:3.12-slim-bookworm",
    "postgres:15", "postgres:17.6-alpine", "node:22", "node:lts-alpine", "mysql:8.4", "mysql:9", "mysql:lts",
    "httpd:2.4", "httpd:2.4.62-alpine", "alpine:3.20", "alpine:3.18.9", "ubuntu:24.04", "hello-world",
    "hashicorp/http-echo:1.0", "traefik/whoami:v1.10", "kicbase/echo-server:1.0",
    "nginx@sha256:" + "a" * 64,  # by digest: the tag is latest
]


@pytest.mark.parametrize("image", PUBLISHED)
def test_published_tags_pull(image):
    assert images.lookup(image)[1] == ""


# Tags those repositories never had: the docs' deliberate (and accidental) typos, releases the
# registry skipped, versions not released, variants a release was not tagged with.
UNPUBLISHED = [
    ("nginx:1.161", "docker.io/library/nginx:1.161"),  # Deployments: the typo for 1.16.1
    ("nginx:1.91", "docker.io/library/nginx:1.91"),  # … the typo for 1.9.1, until 2019
    ("nginx:11.14.2", "docker.io/library/nginx:11.14.2"),  # Service, until 2022 (kubernetes/website#33539)
    ("nginx:sometag", "docker.io/library/nginx:sometag"),  # Deployments: proportional scaling
    ("gcr.io/google-samples/kubernetes-bootcamp:v10", "gcr.io/google-samples/kubernetes-bootcamp:v10"),  # the rolling update tutorial
    ("nginx:1.21.2", "docker.io/library/nginx:1.21.2"),  # released by nginx, never an image
    ("nginx:1.16.2", "docker.io/library/nginx:1.16.2"),  # 1.16 ended at 1.16.1
    ("nginx:1.27.6", "docker.io/library/nginx:1.27.6"),
    ("nginx:1.32.0", "docker.io/library/nginx:1.32.0"),
    ("nginx:2", "docker.io/library/nginx:2"),
    ("nginx:1.27.99", "docker.io/library/nginx:1.27.99"),
    ("nginx:1.22.0-alpine-slim", "docker.io/library/nginx:1.22.0-alpine-slim"),  # slim came with 1.22.1 / 1.23.3
    ("nginx:1.24.0-otel", "docker.io/library/nginx:1.24.0-otel"),  # otel came with 1.25.5 / 1.26.0
    ("nginx:1.14.2-bookworm", "docker.io/library/nginx:1.14.2-bookworm"),  # 1.14 ran on stretch, untagged
    ("nginx:1.26.0-trixie", "docker.io/library/nginx:1.26.0-trixie"),
    ("nginx:stable-alpine3.18", "docker.io/library/nginx:stable-alpine3.18"),  # no stable release was on 3.18
    ("nginx:nope", "docker.io/library/nginx:nope"),
    ("busybox:1.38", "docker.io/library/busybox:1.38"),
    ("busybox:1.36.2", "docker.io/library/busybox:1.36.2"),
    ("busybox:1.36-ubuntu", "docker.io/library/busybox:1.36-ubuntu"),
    ("redis:7.5", "docker.io/library/redis:7.5"),
    ("redis:5.0.15", "docker.io/library/redis:5.0.15"),
    ("registry.k8s.io/busybox:1.36", "registry.k8s.io/busybox:1.36"),  # Kubernetes' busybox stopped at 1.27.2
    ("registry.k8s.io/pause:3.4", "registry.k8s.io/pause:3.4"),  # 3.4 was published as 3.4.1
    ("registry.k8s.io/pause:latest", "registry.k8s.io/pause:latest"),
    ("gcr.io/google-samples/hello-app:3.0", "gcr.io/google-samples/hello-app:3.0"),
    ("python:3.8.99", "docker.io/library/python:3.8.99"),
    ("alpine:3.14", "docker.io/library/alpine:3.14"),
]


@pytest.mark.parametrize("image,ref", UNPUBLISHED)
def test_unpublished_tags_fail_with_containerds_not_found(image, ref):
    assert images.lookup(image) == (0, not_found(ref))


def test_the_deployment_pages_typo_fails_in_the_words_of_a_real_cluster():
    size, error = images.lookup("nginx:1.161")
    assert size == 0
    assert error.endswith('failed to resolve reference "docker.io/library/nginx:1.161": docker.io/library/nginx:1.161: not found')


def test_a_repository_docker_hub_does_not_have_is_denied_and_a_malformed_name_is_refused():
    _, error = images.lookup("ngnix:1.14.2")
    assert error == (
        'rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/ngnix:1.14.2": '
        'failed to resolve reference "docker.io/library/ngnix:1.14.2": pull access denied, repository does not exist '
        "or may require authorization: server message: insufficient_scope: authorization failed"
    )
    assert images.lookup("k8s.gcr.io/busybox")[1] == not_found("k8s.gcr.io/busybox:latest")  # not a name the docs use now
    assert images.lookup("Nginx:1.14.2") == (0, "invalid reference format: repository name must be lowercase")
    assert images.lookup("nginx:1.14.2:") == (0, "invalid reference format")


def test_a_tag_is_matched_exactly_not_as_a_pattern():
    assert images.lookup("nginx:1x27x5")[1] and images.lookup("nginx:1.27.5")[1] == ""
    for repo in images.CATALOGUE.values():
        for pattern in repo.tags:
            assert re.fullmatch(pattern, repo.published[0])
            assert not re.fullmatch(pattern, repo.published[0] + "x")


def test_every_published_tag_is_a_valid_reference_of_its_repository():
    for repo in images.CATALOGUE.values():
        assert repo.published and len(set(repo.published)) == len(repo.published), repo.name
        for tag in repo.published:
            ref = images.parse(f"{repo.name}:{tag}")
            assert ref is not None and (ref.repository, ref.tag) == (repo.name, tag), (repo.name, tag)


def test_the_nginx_lines_hold_each_release_and_no_other():
    tags = set(images.CATALOGUE["docker.io/library/nginx"].published)
    versions = {t for t in tags if re.fullmatch(r"1\.(1[4-9]|[23]\d)\.\d+", t)}
    by_line: dict[str, list[int]] = {}
    for version in versions:
        line, _, patch = version.rpartition(".")
        by_line.setdefault(line, []).append(int(patch))
    last = {line: max(p) for line, p in by_line.items()}
    assert last == {
        "1.14": 2, "1.15": 12, "1.16": 1, "1.17": 10, "1.18": 0, "1.19": 10, "1.20": 2, "1.21": 6, "1.22": 1,
        "1.23": 4, "1.24": 0, "1.25": 5, "1.26": 3, "1.27": 5, "1.28": 3, "1.29": 7, "1.30": 5, "1.31": 6,
    }
    assert sorted(by_line["1.21"]) == [0, 1, 3, 4, 5, 6]
    for version in versions:  # every release has the four variants every release had
        assert {version + s for s in ("-perl", "-alpine", "-alpine-perl")} <= tags, version


def test_sizes_follow_the_variant_and_unknown_images_weigh_the_default():
    assert images.lookup("nginx:1.14.2") == (72_000_000, "")
    assert images.lookup("nginx:1.27-alpine") == (20_000_000, "")
    assert images.lookup("registry.k8s.io/busybox:1.27.2")[0] < 1_000_000
    assert images.image_size("nginx:1.161") == images.DEFAULT_SIZE


def test_pull_time_follows_size_and_speed():
    normal = Cluster(speed=Speed.NORMAL)
    assert images.pull_seconds(normal, "busybox:1.28") == normal.stage_seconds  # at least a stage
    assert images.pull_seconds(normal, "nginx:1.14.2") == pytest.approx(normal.stage_seconds * 72 / 40)
    assert images.pull_seconds(Cluster(speed=Speed.SLOW), "nginx:1.14.2") == pytest.approx(3 * images.pull_seconds(normal, "nginx:1.14.2"))
    assert images.pull_seconds(Cluster(speed=Speed.INSTANT), "python:3.12") == 0


def test_names_and_pull_policy_as_containerd_and_the_api_server_give_them():
    assert images.image_ref("nginx:1.14.2") == "docker.io/library/nginx:1.14.2"
    assert images.image_ref("jocatalin/kubernetes-bootcamp:v2") == "docker.io/jocatalin/kubernetes-bootcamp:v2"
    assert images.image_ref("registry.k8s.io/busybox") == "registry.k8s.io/busybox:latest"
    assert images.policy({"image": "registry.k8s.io/busybox"}) == "Always"
    assert images.policy({"image": "nginx:1.14.2"}) == "IfNotPresent"
    assert images.policy({"image": "nginx:1.14.2", "imagePullPolicy": "Always"}) == "Always"
