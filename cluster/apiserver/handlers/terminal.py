"""POST /k8s/<cluster>/podflow/v1/kubectl {"command": "kubectl get pods"}: the page's terminal.

The server runs the real `kubectl` binary, when it is installed, against the learner's own
cluster: argv only, never a shell; the cluster's own kubeconfig (its bearer token opens this
cluster and no other) in a directory of its own; a deadline. The output is streamed as it
comes (text/plain), so `kubectl get pods -w` and `kubectl logs -f` show lines as they
happen until the page stops them (closing the request kills kubectl) or the deadline.

kubectl runs on the server, so what it may touch there is bounded: only the subcommands a
learner needs, and none of the flags that would read or write the server's files, point it
at another server or identity, or run a plugin. Everything it does reaches the API through
the same door as any client: each request is a step 1 on the diagram.

A manifest comes as a shell here-document, as Kubernetes' own pages write it:

    kubectl apply -f - <<EOF          (or: cat <<EOF | kubectl apply -f -)
    apiVersion: v1
    ...
    EOF

The lines up to the delimiter are kubectl's standard input; `-f -` (and only `-`) is allowed
then. There is still no shell: the here-document is read here, never by a shell.
"""
from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from cluster.apimachinery.errors import APIError, bad_request
from cluster.apiserver import tls
from cluster.apiserver.handlers.auth import kubeconfig, resolve
from cluster.apiserver.handlers.k8s import allow_methods, api_view, json_object
from cluster.models import Cluster

SUBCOMMANDS = {
    "apply", "replace", "get", "describe", "create", "run", "delete", "scale", "rollout", "expose", "set", "label",
    "annotate", "logs", "explain", "api-resources", "api-versions", "version", "cluster-info",
    "patch", "wait", "events", "cordon", "uncordon", "drain", "taint", "autoscale",
}
# Flags that reach outside the learner's cluster (another server, identity or kubeconfig)
# or the server's own files (manifests, templates, caches, profiles).
FORBIDDEN_FLAGS = {
    "--kubeconfig", "--server", "--token", "--as", "--as-group", "--as-uid", "--user", "--cluster",
    "--context", "--certificate-authority", "--client-certificate", "--client-key",
    "--insecure-skip-tls-verify", "--tls-server-name", "--username", "--password", "--cache-dir",
    "--profile", "--profile-output", "--filename", "--kustomize", "--recursive", "--from-file",
    "--from-env-file", "--template-file", "--save-config-file", "--log-file", "--log-dir", "--edit",
}
FORBIDDEN_SHORT = {"s", "k", "R"}  # -s (server), -k (kustomize), -R (recursive)
MAX_COMMAND = 1000  # the command line
MAX_STDIN = 64 * 1024  # a here-document
STDIN_SUBCOMMANDS = {"apply", "create", "replace", "delete"}  # the ones that may read `-f -`
# `kubectl apply edit-last-applied` opens an editor on the server.
FORBIDDEN_WORDS = {"edit-last-applied"}
DEADLINE_SECONDS = 20.0  # a command
FOLLOW_SECONDS = 120.0  # `-w`, `--watch`, `logs -f`: until the page stops it, at most this


def kubectl_path() -> str | None:
    return shutil.which("kubectl")


HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
PIPED = re.compile(r"^\s*cat\s+(<<-?\s*(['\"]?)[A-Za-z_][A-Za-z0-9_]*\2)\s*\|\s*(.*)$")


def heredoc(command: str) -> tuple[str, str | None]:
    """Split a command into its command line and the here-document it feeds kubectl (None
    when it has none): `kubectl apply -f - <<EOF` or `cat <<EOF | kubectl apply -f -`, then
    the document's lines, then the delimiter alone on its line. A 400 when the document is
    not closed or something follows it."""
    if not isinstance(command, str) or "<<" not in command:
        return command, None
    first, _, rest = command.partition("\n")
    piped = PIPED.match(first)
    if piped:
        first = f"{piped.group(3)} {piped.group(1)}"
    found = HEREDOC.search(first)
    if found is None:
        raise bad_request("a here-document starts with <<EOF (a word) at the end of the command line")
    if first[found.end():].strip():
        raise bad_request("write the here-document's <<EOF at the end of the command line")
    strip_tabs, delimiter = found.group(1) == "-", found.group(3)
    lines = rest.split("\n")
    for i, line in enumerate(lines):
        if (line.lstrip("\t") if strip_tabs else line).rstrip("\r") == delimiter:
            if any(after.strip() for after in lines[i + 1:]):
                raise bad_request(f"nothing may follow the line {delimiter}: one command at a time")
            body = [(x.lstrip("\t") if strip_tabs else x).rstrip("\r") for x in lines[:i]]
            stdin = "\n".join(body) + "\n"
            if len(stdin) > MAX_STDIN:
                raise bad_request(f"a here-document is at most {MAX_STDIN // 1024} KiB")
            return first[: found.start()].rstrip(), stdin
    raise bad_request(f"the here-document is not closed: end it with a line that says {delimiter}")


def parse(command: str) -> list[str]:
    """The kubectl arguments of a command line (a here-document's lines aside: see
    `heredoc`), or a 400 saying what is not allowed."""
    if not isinstance(command, str) or not command.strip():
        raise bad_request('send {"command": "kubectl get pods"}')
    line, stdin = heredoc(command)
    if "\n" in line.strip():
        raise bad_request("one command at a time (a manifest goes in a here-document: kubectl apply -f - <<EOF)")
    if len(line) > MAX_COMMAND:
        raise bad_request(f"a command is at most {MAX_COMMAND} characters")
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise bad_request(f"the command could not be read: {exc}") from exc
    if words and words[0] == "kubectl":
        words = words[1:]
    subcommand = next((w for w in words if not w.startswith("-")), "")
    if subcommand not in SUBCOMMANDS:
        allowed = ", ".join(sorted(SUBCOMMANDS))
        raise bad_request(f'"kubectl {subcommand}" is not available in the page\'s terminal; these are: {allowed}' if subcommand else "name a kubectl command, e.g. kubectl get pods")
    if any(w in FORBIDDEN_WORDS for w in words):
        raise bad_request(f"kubectl {subcommand} {next(w for w in words if w in FORBIDDEN_WORDS)} is not available in the page's terminal (it opens an editor)")
    reads_stdin = _reads_stdin(words)
    if reads_stdin and (stdin is None or subcommand not in STDIN_SUBCOMMANDS):
        raise bad_request(
            "-f - reads a manifest from a here-document: kubectl apply -f - <<EOF, the manifest's lines, then EOF"
            if stdin is None else f"kubectl {subcommand} does not read a manifest; these do: {', '.join(sorted(STDIN_SUBCOMMANDS))}"
        )
    if stdin is not None and not reads_stdin:
        raise bad_request("a here-document is read by -f - (kubectl apply -f - <<EOF)")
    for word in words:
        if not word.startswith("-") or word == "-":
            continue
        if reads_stdin and (word in ("-f", "--filename") or word in ("-f=-", "-f-", "--filename=-")):
            continue
        name = word.split("=", 1)[0]
        if name.startswith("--"):
            if name in FORBIDDEN_FLAGS:
                raise bad_request(f"{name} is not available in the page's terminal (it reaches outside your cluster)")
        elif len(name) >= 2 and (name[1] in FORBIDDEN_SHORT or (name[1] == "f" and subcommand != "logs")):
            raise bad_request(f"{name[:2]} is not available in the page's terminal (it reads files on the server)")
    # An output format naming a template file (-o go-template-file=..., -o=jsonpath-file=...,
    # or the value in the next word) would read the server's files.
    for before, word in zip(["", *words], words):
        if "file=" in word and (word.startswith(("-o", "--output")) or before in ("-o", "--output")):
            raise bad_request("templates from files are not available in the page's terminal")
    return words


def _reads_stdin(words: list[str]) -> bool:
    """The words name the manifest file `-` (standard input) and no other file."""
    named = []
    for before, word in zip(["", *words], words):
        if before in ("-f", "--filename"):
            named.append(word)
        elif word.startswith(("-f=", "--filename=")):
            named.append(word.split("=", 1)[1])
        elif word.startswith("-f") and not word.startswith("--") and len(word) > 2:
            named.append(word[2:])
    return bool(named) and all(n == "-" for n in named)


def follows(words: list[str]) -> bool:
    """The command runs until stopped: a watch, or `logs -f` (elsewhere -f names a file)."""
    logs = next((w for w in words if not w.startswith("-")), "") == "logs"
    return any(w in ("-w", "--watch", "--watch-only", "--follow") or (logs and w == "-f") or w.startswith(("--watch=", "--follow=")) for w in words)


def _kubeconfig_text(cluster: Cluster) -> str:
    server = f"https://127.0.0.1:{settings.PODFLOW_API_PORT}"
    return kubeconfig(cluster, server, tls.ensure()[0].read_bytes())


def _binary() -> str:
    binary = kubectl_path()
    if binary is None:
        raise APIError(503, "ServiceUnavailable", "kubectl is not installed on this server: install kubectl 1.32 (it must be on PATH) and start podflow again")
    return binary


def _home(config: str) -> tuple[str, dict[str, str]]:
    """A directory of kubectl's own holding the cluster's kubeconfig, and kubectl's environment."""
    home = tempfile.mkdtemp(prefix="podflow-kubectl-")
    path = Path(home) / "kubeconfig"
    path.write_text(config)
    env = {"HOME": home, "KUBECONFIG": str(path), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    return home, env


def run_command(cluster: Cluster, words: list[str], deadline: float = DEADLINE_SECONDS, stdin: str | None = None) -> tuple[int | None, str]:
    """Run kubectl (`words` as `parse` returns them, `stdin` its here-document) against the
    cluster to the end, as the terminal does: argv only, the cluster's kubeconfig, a
    deadline. Returns its exit code (None when the deadline stopped it) and its output
    (stdout and stderr). The labs' own `kubectl` actions run here; a 503 APIError when
    kubectl is not installed."""
    binary = _binary()
    home, env = _home(_kubeconfig_text(cluster))
    try:
        done = subprocess.run(
            [binary, "--cache-dir", str(Path(home) / "cache"), *words],
            input=(stdin or "").encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=home,
            start_new_session=True, timeout=deadline,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else (exc.output or "")
        return None, output + f"\n[stopped after {deadline:.0f} s]\n"
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return done.returncode, done.stdout.decode(errors="replace")


@api_view
def run(request: HttpRequest, cluster: str) -> HttpResponse:
    allow_methods(request, "POST")
    found = resolve(request, cluster)
    body = json_object(request.body or b"{}")
    command = body.get("command")
    words = parse(command)
    stdin = heredoc(command)[1]
    binary = _binary()
    config = _kubeconfig_text(found)
    deadline = FOLLOW_SECONDS if follows(words) else DEADLINE_SECONDS
    response = StreamingHttpResponse(_stream(binary, config, words, deadline, stdin), content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(binary: str, config: str, words: list[str], deadline: float, stdin: str | None = None):
    """kubectl's output (stdout and stderr as they come), then a last line with its exit."""
    home, env = _home(config)
    process = await asyncio.create_subprocess_exec(
        binary, "--cache-dir", str(Path(home) / "cache"), *words,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=home,
        start_new_session=True,
    )
    if stdin is not None:
        assert process.stdin is not None
        # The stream buffers what the pipe does not take at once; closing sends EOF after it.
        process.stdin.write(stdin.encode())
        process.stdin.close()
    loop = asyncio.get_running_loop()
    ends = loop.time() + deadline
    timed_out = False
    try:
        assert process.stdout is not None
        while True:
            left = ends - loop.time()
            if left <= 0:
                timed_out = True
                break
            try:
                chunk = await asyncio.wait_for(process.stdout.read(4096), timeout=left)
            except asyncio.TimeoutError:
                timed_out = True
                break
            if not chunk:
                break
            yield chunk
        if timed_out:
            process.kill()
        code = await asyncio.wait_for(process.wait(), timeout=5)
        yield (f"\n[stopped after {deadline:.0f} s]\n" if timed_out else f"\n[exit {code}]\n").encode()
    finally:
        # The page stopped reading (its Stop button, or it went away): kubectl goes too.
        if process.returncode is None:
            process.kill()
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except asyncio.TimeoutError:
                pass
        shutil.rmtree(home, ignore_errors=True)
