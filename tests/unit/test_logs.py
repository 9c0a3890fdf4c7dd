"""What `kubectl logs` shows: the container's own output, for as long as it ran.

Most tests build a pod's status by hand and read cluster/kubelet/logs.py directly; the last
ones run pods through the kubelet and read them through the API, as kubectl does.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.kubelet import logs, shell

from .manifests import pod as pod_manifest

T0 = datetime(2026, 12, 3, 10, 0, 0, tzinfo=timezone.utc)
STARTED = "2026-12-03T10:00:00Z"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def stamp(seconds: float) -> str:
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def a_pod(*, command=None, args=None, image="busybox", env=None, env_from=None, state=None, last=None, restarts=0, name="web", **container) -> dict:
    spec = {"name": "app", "image": image, **container}
    if command is not None:
        spec["command"] = command
    if args is not None:
        spec["args"] = args
    if env is not None:
        spec["env"] = env
    if env_from is not None:
        spec["envFrom"] = env_from
    status = {"name": "app", "restartCount": restarts, "state": state or {"running": {"startedAt": STARTED}}, "lastState": {"terminated": last} if last else {}}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": "uid-1"},
        "spec": {"containers": [spec], "nodeName": "node-1"},
        "status": {"podIP": "10.244.1.7", "hostIP": "172.18.0.2", "containerStatuses": [status]},
    }


def terminated(started: float, finished: float, code: int = 0) -> dict:
    return {"exitCode": code, "reason": "Completed" if code == 0 else "Error", "startedAt": stamp(started), "finishedAt": stamp(finished), "containerID": "containerd://x"}


def output(pod: dict, *, until: float = 60, **kwargs) -> list[str]:
    return [line for _, line in logs.lines(pod, "app", until=at(until), **kwargs)]


def timed(pod: dict, *, until: float = 60, **kwargs) -> list[tuple[float, str]]:
    return [((moment - T0).total_seconds(), line) for moment, line in logs.lines(pod, "app", until=at(until), **kwargs)]


SPECIAL = [{"name": "SPECIAL_LEVEL_KEY", "value": "very"}, {"name": "SPECIAL_TYPE_KEY", "value": "charm"}]


# --- a command's own output ---------------------------------------------------------------------

def test_env_prints_the_environment_the_container_sees():
    pod = a_pod(command=["/bin/sh", "-c", "env"], env=SPECIAL)

    lines = output(pod)

    assert lines == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME=web",
        "SPECIAL_LEVEL_KEY=very",
        "SPECIAL_TYPE_KEY=charm",
        "HOME=/root",
        "PWD=/",
        "SHLVL=1",  # busybox's sh is ash, which counts shell levels
    ]


def test_env_run_directly_prints_no_shell_variables():
    assert output(a_pod(command=["env"], env=SPECIAL))[-1] == "HOME=/root"
    assert "SHLVL=1" not in output(a_pod(command=["sh", "-c", "env"], image="nginx"))  # Debian's sh is dash


def test_kubernetes_expands_variables_in_command_and_args_before_the_program_starts():
    pod = a_pod(command=["/bin/echo", "$(SPECIAL_LEVEL_KEY) $(SPECIAL_TYPE_KEY)"], env=SPECIAL)

    assert output(pod) == ["very charm"]


def test_an_undefined_reference_stays_as_written_and_a_double_dollar_escapes():
    pod = a_pod(command=["echo"], args=["$(NOPE)", "$$(SPECIAL_LEVEL_KEY)", "$(SPECIAL_LEVEL_KEY)x", "cost: $5"], env=SPECIAL)

    assert output(pod) == ["$(NOPE) $(SPECIAL_LEVEL_KEY) veryx cost: $5"]


def test_expansion_follows_kubernetes_rules():
    env = {"A": "x"}
    assert logs.expand("$(A)", env) == "x"
    assert logs.expand("$$(A)", env) == "$(A)"
    assert logs.expand("$$$(A)", env) == "$x"
    assert logs.expand("$(B)", env) == "$(B)"
    assert logs.expand("$(A", env) == "$(A"
    assert logs.expand("a$", env) == "a$"
    assert logs.expand("$A", env) == "$A"


def test_busybox_echo_and_sleep_prints_once_and_nothing_after():
    pod = a_pod(command=["sh", "-c", "echo The app is running! && sleep 3600"])

    assert output(pod, until=3 * 3600) == ["The app is running!"]


@pytest.mark.parametrize(("command", "expected"), [
    (["echo", "hello"], ["hello"]),
    (["printenv", "SPECIAL_TYPE_KEY"], ["charm"]),
    (["printenv", "SPECIAL_LEVEL_KEY", "NOPE"], ["very"]),
    (["hostname"], ["web"]),
    (["date"], ["Thu Dec  3 10:00:00 UTC 2026"]),
    (["date", "+%Y-%m-%d %H:%M"], ["2026-12-03 10:00"]),
    (["sh", "-c", "echo $SPECIAL_LEVEL_KEY ${SPECIAL_TYPE_KEY} '$SPECIAL_LEVEL_KEY' \"$NOPE\" ${NOPE:-default}"], ["very charm $SPECIAL_LEVEL_KEY  default"]),
    (["sh", "-c", "printf '%s=%d\\n' a 1 b 2; seq 3"], ["a=1", "b=2", "1", "2", "3"]),
    (["sh", "-c", "for i in one two; do echo item $i; done; echo $((6 * 7))"], ["item one", "item two", "42"]),
    (["sh", "-c", "echo saved > /tmp/f; cat /tmp/f; [ -f /tmp/f ] && echo yes || echo no"], ["saved", "yes"]),
    (["sh", "-c", "echo hidden >/dev/null; echo to-stderr >&2; echo \"$(hostname) says $(echo hi)\""], ["to-stderr", "web says hi"]),
    (["sh", "-c", "echo start; exit 3; echo never"], ["start"]),
    (["sh", "-c", "false; echo $?; x=$(false); echo $?; true; echo $?"], ["1", "1", "0"]),
    (["sh", "-c", "set -e; echo one; false; echo never"], ["one"]),
    (["sh", "-c", "set -x; echo traced"], ["+ echo traced", "traced"]),
    (["sh", "-c", "export NEW=1; X=2; env | grep -c NEW; echo $X"], ["1", "2"]),
])
def test_commands_print_what_their_programs_print(command, expected):
    assert output(a_pod(command=command, env=SPECIAL)) == expected


def test_echo_reads_backslashes_as_the_images_shell_does():
    script = ["sh", "-c", "echo 'a\\tb'"]
    assert output(a_pod(command=script, image="busybox")) == ["a\\tb"]  # ash's echo leaves them
    assert output(a_pod(command=script, image="nginx")) == ["a\tb"]  # dash's reads them


def test_programs_podflow_does_not_know_print_nothing():
    pod = a_pod(command=["sh", "-c", "echo before; ls /; wget -q -O- http://web; echo after; ./server; echo never"])

    assert output(pod) == ["before", "after"]  # ls and wget print nothing; ./server runs on, silent
    assert output(a_pod(command=["python", "-c", "print('hi')"], image="python")) == []
    assert output(a_pod(command=["/app/server"], image="busybox"), until=600) == []


def test_what_podflow_cannot_follow_ends_the_output_there():
    pod = a_pod(command=["sh", "-c", "echo first; case x in x) echo x;; esac; echo later"])

    assert output(pod) == []  # the script does not parse as far as podflow reads shell
    assert output(a_pod(command=["sh", "-c", "echo first; echo *; echo later"])) == ["first"]


def test_a_command_container_has_no_periodic_lines():
    pod = a_pod(command=["sleep", "infinity"])

    assert output(pod, until=3600) == []


def test_a_loop_prints_every_n_kubernetes_seconds():
    pod = a_pod(command=["sh", "-c", "while true; do echo tick; sleep 5; done"])

    assert timed(pod, until=2, scale=0.1) == [(0.0, "tick"), (0.5, "tick"), (1.0, "tick"), (1.5, "tick"), (2.0, "tick")]
    assert len(output(pod, until=20, scale=1.0)) == 5  # 20 s at a slow cluster: every 5 s


def test_a_loop_with_no_pause_prints_once():
    assert output(a_pod(command=["sh", "-c", "while true; do echo spin; done"])) == ["spin"]


def test_a_long_running_counter_keeps_its_latest_lines_and_counts_right():
    pod = a_pod(command=["sh", "-c", 'i=0; while true; do echo "$i: $(date)"; i=$((i+1)); sleep 1; done'])

    lines = timed(pod, until=86400, scale=0.1)  # a day: 864,000 rounds

    assert len(lines) == shell.KEEP_LINES + 1
    assert lines[-1] == (86400.0, "864000: Fri Dec  4 10:00:00 UTC 2026")
    assert lines[-2] == (86399.9, "863999: Fri Dec  4 09:59:59 UTC 2026")
    since = at(86399.85)
    assert [line for _, line in logs.lines(pod, "app", until=at(86400), since=since, scale=0.1)] == ["863999: Fri Dec  4 09:59:59 UTC 2026", "864000: Fri Dec  4 10:00:00 UTC 2026"]


def test_a_command_that_runs_a_server_prints_the_servers_own_lines():
    direct = output(a_pod(command=["nginx", "-g", "daemon off;"], image="nginx"), until=15)
    via_entrypoint = output(a_pod(args=["nginx", "-g", "daemon off;"], image="nginx"), until=15)

    assert direct[0] == '2026/12/03 10:00:00 [notice] 1#1: using the "epoll" event method' and len(direct) == 4
    assert via_entrypoint[0].startswith("/docker-entrypoint.sh:") and len(via_entrypoint) == 9


# --- the image's own command ----------------------------------------------------------------------

def test_a_server_image_keeps_its_start_up_and_tick_lines():
    lines = timed(a_pod(image="nginx"), until=25)

    assert lines[0] == (0.0, "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration")
    assert [t for t, _ in lines[8:]] == [10.0, 20.0]


def test_postgres_without_a_password_prints_its_entrypoints_error_then_nothing():
    pod = a_pod(image="postgres:17", state={"terminated": terminated(0, 2, 1)})

    lines = output(pod, until=600)

    assert lines[0] == "Error: Database is uninitialized and superuser password is not specified."
    assert lines[1] == "       You must specify POSTGRES_PASSWORD to a non-empty value for the"
    assert lines[-1] == "       https://www.postgresql.org/docs/current/auth-trust.html"
    assert len(lines) == 9 and not any("up and running" in line for line in lines)


def test_postgres_with_a_password_runs():
    pod = a_pod(image="postgres:17", env=[{"name": "POSTGRES_PASSWORD", "value": "secret"}])

    assert not output(pod)[0].startswith("Error:")


def test_mysql_without_a_password_prints_its_entrypoints_error():
    lines = output(a_pod(image="mysql:8.4", state={"terminated": terminated(0, 2, 1)}))

    assert lines == [
        "2026-12-03 10:00:00+00:00 [ERROR] [Entrypoint]: Database is uninitialized and password option is not specified",
        "    You need to specify one of the following as an environment variable:",
        "    - MYSQL_ROOT_PASSWORD",
        "    - MYSQL_ALLOW_EMPTY_PASSWORD",
        "    - MYSQL_RANDOM_ROOT_PASSWORD",
    ]


def test_busybox_with_no_command_prints_nothing_and_hello_world_its_message():
    assert output(a_pod(image="busybox")) == []
    assert output(a_pod(image="hello-world"))[1] == "Hello from Docker!"


# --- runs: when the output ends, which run is shown --------------------------------------------------

def test_a_terminated_container_writes_nothing_after_it_finished():
    pod = a_pod(image="nginx", state={"terminated": terminated(0, 25)})

    assert [t for t, _ in timed(pod, until=3600)][8:] == [10.0, 20.0]


def test_a_script_is_cut_where_the_container_was_stopped():
    pod = a_pod(command=["sh", "-c", "while true; do echo tick; sleep 10; done"], state={"terminated": terminated(0, 3, 137)})

    assert len(output(pod, until=3600, scale=0.1)) == 4  # at 0, 1, 2 and 3 s: it stopped within 10:00:03


def test_a_pod_in_crash_loop_back_off_shows_the_run_that_ended():
    last = terminated(0, 1, 1)
    pod = a_pod(command=["sh", "-c", "echo boom; exit 1"], state={"waiting": {"reason": "CrashLoopBackOff"}}, last=last, restarts=1)

    assert output(pod, until=3600) == ["boom"]
    assert output(pod, until=3600, previous=True) == ["boom"]
    assert logs.unavailable(pod, "app") == "" and logs.ended(pod, "app")


def test_a_restarted_container_shows_its_current_run_and_previous_the_one_before():
    pod = a_pod(
        command=["sh", "-c", "date; sleep 3600"],
        state={"running": {"startedAt": stamp(30)}}, last=terminated(0, 20, 137), restarts=1,
    )

    assert output(pod, until=40) == ["Thu Dec  3 10:00:30 UTC 2026"]
    assert output(pod, until=40, previous=True) == ["Thu Dec  3 10:00:00 UTC 2026"]
    assert not logs.ended(pod, "app") and logs.ended(pod, "app", previous=True)


def test_what_the_kubelet_says_when_there_is_nothing_to_read():
    fresh = a_pod(image="nginx")
    pulling = a_pod(image="nginx:nope", state={"waiting": {"reason": "ImagePullBackOff"}})
    creating = a_pod(image="nginx", state={"waiting": {"reason": "ContainerCreating"}})

    assert logs.unavailable(fresh, "app", previous=True) == 'previous terminated container "app" in pod "web" not found'
    assert logs.unavailable(pulling, "app") == 'container "app" in pod "web" is waiting to start: trying and failing to pull image'
    assert logs.unavailable(creating, "app") == 'container "app" in pod "web" is waiting to start: ContainerCreating'


def test_a_container_that_could_not_start_wrote_nothing():
    state = {"terminated": {"exitCode": 128, "reason": "StartError", "startedAt": "1970-01-01T00:00:00Z", "finishedAt": STARTED}}

    assert output(a_pod(command=["echo", "hi"], state=state)) == []


# --- the environment from the cluster ------------------------------------------------------------

def configmap(cluster, name: str, data: dict) -> None:
    store.create(cluster, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": data})


def test_env_from_configmaps_secrets_and_the_downward_api(cluster):
    configmap(cluster, "special-config", {"special.how": "very"})
    configmap(cluster, "env-config", {"log_level": "INFO"})
    store.create(cluster, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "default"}, "data": {"password": "czNjcjN0"}})
    pod = a_pod(
        command=["/bin/sh", "-c", "env"],
        env=[
            {"name": "SPECIAL_LEVEL_KEY", "valueFrom": {"configMapKeyRef": {"name": "special-config", "key": "special.how"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "MY_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "GREETING", "value": "level $(SPECIAL_LEVEL_KEY)"},
        ],
        env_from=[{"configMapRef": {"name": "env-config"}}],
        resources={"limits": {"memory": "64Mi"}},
    )
    pod["spec"]["containers"][0]["env"].append({"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}})

    env = logs.environment(cluster, pod, "app")
    lines = output(pod, env=env)

    assert list(env) == ["log_level", "SPECIAL_LEVEL_KEY", "PASSWORD", "MY_NODE_NAME", "MY_POD_IP", "GREETING", "MEM"]
    for expected in ("log_level=INFO", "SPECIAL_LEVEL_KEY=very", "PASSWORD=s3cr3t", "MY_NODE_NAME=node-1", "MY_POD_IP=10.244.1.7", "GREETING=level very", "MEM=64", "HOSTNAME=web"):
        assert expected in lines


def test_each_service_that_existed_when_the_container_started_has_its_variables(cluster):
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "redis-primary", "namespace": "default"},
        "spec": {"selector": {"app": "redis"}, "ports": [{"name": "redis", "port": 6379, "targetPort": 6379}]},
    }
    created = store.create(cluster, service)
    ip = created["spec"]["clusterIP"]
    pod = a_pod(command=["env"], state={"running": {"startedAt": created["metadata"]["creationTimestamp"]}})
    before = a_pod(command=["env"], state={"running": {"startedAt": "2020-01-01T00:00:00Z"}})
    headless = dict(service, metadata={"name": "db", "namespace": "default"}, spec={"clusterIP": "None", "ports": [{"port": 5432}]})
    store.create(cluster, headless)

    env = logs.environment(cluster, pod, "app")

    assert {k: v for k, v in env.items() if k.startswith("REDIS_PRIMARY")} == {
        "REDIS_PRIMARY_SERVICE_HOST": ip,
        "REDIS_PRIMARY_SERVICE_PORT": "6379",
        "REDIS_PRIMARY_SERVICE_PORT_REDIS": "6379",
        "REDIS_PRIMARY_PORT": f"tcp://{ip}:6379",
        "REDIS_PRIMARY_PORT_6379_TCP": f"tcp://{ip}:6379",
        "REDIS_PRIMARY_PORT_6379_TCP_PROTO": "tcp",
        "REDIS_PRIMARY_PORT_6379_TCP_PORT": "6379",
        "REDIS_PRIMARY_PORT_6379_TCP_ADDR": ip,
    }
    assert not any(k.startswith("DB_") for k in env)  # a headless Service has no address to give
    assert logs.environment(cluster, before, "app") == {}  # started before the Service was made
    no_links = a_pod(command=["env"], state=pod["status"]["containerStatuses"][0]["state"])
    no_links["spec"]["enableServiceLinks"] = False
    assert logs.environment(cluster, no_links, "app") == {}


# --- through the kubelet and the API, as kubectl reads it ------------------------------------------

LOG = "/k8s/test/api/v1/namespaces/default/pods/{}/log"


def run_pod(cluster, name: str, **container) -> dict:
    from cluster import kubelet

    doc = pod_manifest(name, image=container.pop("image", "busybox"))
    doc["spec"]["nodeName"] = "node-1"
    doc["spec"]["restartPolicy"] = container.pop("restart", "Never")
    doc["spec"]["containers"][0].update(container)
    uid = store.create(cluster, doc)["metadata"]["uid"]
    kubelet.run_due_stages(cluster, "node-1", uid)
    return store.get(cluster, kinds.POD, "default", name)


def test_the_api_serves_a_finished_commands_output_with_its_configmap(api, cluster):
    configmap(cluster, "special-config", {"special.how": "very", "special.type": "charm"})
    env = [
        {"name": "SPECIAL_LEVEL_KEY", "valueFrom": {"configMapKeyRef": {"name": "special-config", "key": "special.how"}}},
        {"name": "SPECIAL_TYPE_KEY", "valueFrom": {"configMapKeyRef": {"name": "special-config", "key": "special.type"}}},
    ]
    done = run_pod(cluster, "dapi-test-pod", command=["/bin/echo", "$(SPECIAL_LEVEL_KEY) $(SPECIAL_TYPE_KEY)"], env=env)
    assert done["status"]["phase"] == "Succeeded"

    response = api.get(LOG.format("dapi-test-pod"))

    assert response.status_code == 200
    assert response.content == b"very charm\n"
    following = api.get(LOG.format("dapi-test-pod") + "?follow=true")
    assert following.content == b"very charm\n"  # it has ended: nothing to wait for


def test_the_api_serves_the_previous_run_and_says_when_there_is_none(api, cluster):
    crashed = run_pod(cluster, "crasher", command=["sh", "-c", "echo boom; exit 1"], restart="Always")
    assert crashed["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    run_pod(cluster, "once", command=["echo", "hi"])

    assert api.get(LOG.format("crasher")).content == b"boom\n"
    assert api.get(LOG.format("crasher") + "?previous=true").content == b"boom\n"
    missing = api.get(LOG.format("once") + "?previous=true")
    assert missing.status_code == 400
    assert missing.json()["message"] == 'previous terminated container "app" in pod "once" not found'
