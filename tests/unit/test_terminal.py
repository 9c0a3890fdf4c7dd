"""The page's terminal: which kubectl command lines the server will run (argv, never a
shell), and the answers to those it will not."""
from __future__ import annotations

import json

import pytest

from cluster.apimachinery.errors import APIError
from cluster.apiserver.handlers import terminal

URL = "/k8s/test/podflow/v1/kubectl"


@pytest.mark.parametrize(
    "command,argv",
    [
        ("kubectl get pods", ["get", "pods"]),
        ("get pods -o wide", ["get", "pods", "-o", "wide"]),
        ("kubectl run web --image=nginx --overrides='{\"spec\": {}}'", ["run", "web", "--image=nginx", '--overrides={"spec": {}}']),
        ("kubectl logs web -f", ["logs", "web", "-f"]),
        ("kubectl get pods; rm -rf /", ["get", "pods;", "rm", "-rf", "/"]),  # no shell: just words kubectl refuses
    ],
)
def test_it_reads_a_command_line_as_argv(command, argv):
    assert terminal.parse(command) == argv


@pytest.mark.parametrize(
    "command,why",
    [
        ("kubectl create -f /etc/passwd", "-f"),
        ("kubectl create -f=/etc/hosts", "-f"),
        ("kubectl get pods --kubeconfig=/root/.kube/config", "--kubeconfig"),
        ("kubectl get pods -s https://10.0.0.1", "-s"),
        ("kubectl get pods --server https://10.0.0.1", "--server"),
        ("kubectl get pods --token abc", "--token"),
        ("kubectl get pods -o go-template-file=/etc/passwd", "files"),
        ("kubectl get pods -o=jsonpath-file=/etc/passwd", "files"),
        ("kubectl create configmap x --from-file=/etc/passwd", "--from-file"),
        ("kubectl proxy", "not available"),
        ("kubectl exec web -- sh", "not available"),
        ("kubectl cp web:/x /tmp/x", "not available"),
        ("kubectl config view --raw", "not available"),
        ("kubectl my-plugin", "not available"),
        ("kubectl 'unclosed", "could not be read"),
        ("", "kubectl get pods"),
    ],
)
def test_it_refuses_what_reaches_outside_the_cluster(command, why):
    with pytest.raises(APIError) as refused:
        terminal.parse(command)
    assert refused.value.code == 400 and why in refused.value.message


def test_watching_commands_get_the_longer_deadline():
    assert terminal.follows(["get", "pods", "-w"]) and terminal.follows(["logs", "web", "-f"])
    assert not terminal.follows(["get", "pods", "-o", "wide"])
    assert not terminal.follows(["apply", "-f", "-"])  # there -f names the manifest


MANIFEST = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: nginx:1.27\n"


@pytest.mark.parametrize(
    "command",
    [
        f"kubectl apply -f - <<EOF\n{MANIFEST}EOF",
        f"kubectl apply -f - <<'EOF'\n{MANIFEST}EOF\n",
        f"cat <<EOF | kubectl apply -f -\n{MANIFEST}EOF",
        f"kubectl create --filename=- << YAML\n{MANIFEST}YAML",
    ],
)
def test_a_here_document_is_kubectls_standard_input(command):
    words = terminal.parse(command)
    line, stdin = terminal.heredoc(command)
    assert words[0] in ("apply", "create") and "<<" not in " ".join(words)
    assert stdin == MANIFEST and "\n" not in line


def test_tabs_are_stripped_from_a_dash_here_document():
    assert terminal.heredoc("kubectl apply -f - <<-EOF\n\tkind: Pod\n\tEOF")[1] == "kind: Pod\n"


@pytest.mark.parametrize(
    "command,why",
    [
        (f"kubectl apply -f - <<EOF\n{MANIFEST}", "not closed"),
        (f"kubectl apply -f - <<EOF\n{MANIFEST}EOF\nkubectl delete pods --all", "one command at a time"),
        ("kubectl apply -f -", "here-document"),
        (f"kubectl get pods <<EOF\n{MANIFEST}EOF", "read by -f -"),
        (f"kubectl apply -f /etc/passwd <<EOF\n{MANIFEST}EOF", "read by -f -"),
        (f"kubectl apply -f - -f /etc/passwd <<EOF\n{MANIFEST}EOF", "-f"),
        (f"kubectl logs -f - <<EOF\n{MANIFEST}EOF", "does not read a manifest"),
        (f"kubectl apply -f - <<EOF x\n{MANIFEST}EOF", "end of the command line"),
        ("kubectl apply edit-last-applied deployment/web", "editor"),
        ("kubectl get pods\nkubectl delete pods --all", "one command at a time"),
        ("kubectl apply -f - <<EOF\n" + "x" * (terminal.MAX_STDIN + 1) + "\nEOF", "KiB"),
    ],
)
def test_it_refuses_a_here_document_that_is_not_one(command, why):
    with pytest.raises(APIError) as refused:
        terminal.parse(command)
    assert refused.value.code == 400 and why in refused.value.message


def test_the_endpoint_answers_a_refused_command_with_a_status(api):
    answer = api.post(URL, data=json.dumps({"command": "kubectl exec web -- sh"}), content_type="application/json")
    assert answer.status_code == 400 and answer.json()["kind"] == "Status"
    assert api.get(URL).status_code == 405


def test_without_kubectl_it_says_how_to_get_it(api, monkeypatch):
    monkeypatch.setattr(terminal, "kubectl_path", lambda: None)
    answer = api.post(URL, data=json.dumps({"command": "kubectl get pods"}), content_type="application/json")
    assert answer.status_code == 503 and "install kubectl" in answer.json()["message"]
