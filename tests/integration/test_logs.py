"""`kubectl logs` against the live stack: a command's own output, with its ConfigMap's values."""
from __future__ import annotations

import json

import pytest

from tests.livehelpers import wait_until

pytestmark = pytest.mark.integration

# A pod that reads a ConfigMap key into its environment and runs `command` (restartPolicy
# Never: it runs once).
POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
    - name: test-container
      image: registry.k8s.io/busybox
      command: {command}
      env:
        - name: SPECIAL_LEVEL_KEY
          valueFrom:
            configMapKeyRef:
              name: logs-special-config
              key: special.how
  restartPolicy: Never
"""


def _finished(kubectl, name: str) -> dict:
    def check():
        pod = json.loads(kubectl("get", "pod", name, "-o", "json").stdout)
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

    return wait_until(check, 60, f"pod {name} to finish", interval=0.3)


def test_kubectl_logs_shows_what_the_command_printed_with_the_configmaps_value(kubectl):
    kubectl("create", "configmap", "logs-special-config", "--from-literal=special.how=very")
    kubectl("apply", "-f", "-", input=POD.format(name="logs-env", command='["/bin/sh", "-c", "env"]'))
    kubectl("apply", "-f", "-", input=POD.format(name="logs-echo", command='["/bin/echo", "$(SPECIAL_LEVEL_KEY)"]'))

    assert _finished(kubectl, "logs-env")["status"]["phase"] == "Succeeded"
    assert _finished(kubectl, "logs-echo")["status"]["phase"] == "Succeeded"

    env = kubectl("logs", "logs-env").stdout.splitlines()
    assert "SPECIAL_LEVEL_KEY=very" in env
    assert "HOSTNAME=logs-env" in env
    assert not any("up and running" in line or "still running" in line for line in env)
    assert kubectl("logs", "logs-echo").stdout == "very\n"
    previous = kubectl("logs", "logs-echo", "--previous", check=False)
    assert previous.returncode == 1
    assert 'previous terminated container "test-container" in pod "logs-echo" not found' in previous.stderr
