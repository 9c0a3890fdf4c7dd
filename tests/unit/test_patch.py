"""The four PATCH flavours: strategic merge, JSON merge (RFC 7386), JSON patch (RFC 6902)
and server-side apply, fed the bodies kubectl v1.32 actually sends."""
from __future__ import annotations

import copy
import json

import pytest

from cluster.apimachinery.errors import APIError
from cluster.apiserver.serializers import patch as patching
from cluster.apiserver.serializers.patch import apply_patch, json_merge_patch, parse_apply_body

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def nginx_container(**extra) -> dict:
    container = {
        "name": "nginx",
        "image": "nginx:1.25",
        "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP", "name": "https"}],
        "env": [{"name": "MODE", "value": "prod"}, {"name": "LOG", "value": "info"}],
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "command": ["nginx", "-g", "daemon off;"],
    }
    container.update(extra)
    return container


def a_pod(*containers: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "0b7c1c5e-0000-4000-8000-000000000001",
            "resourceVersion": "12",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"team": "blue"},
            "finalizers": ["example.com/keep"],
        },
        "spec": {
            "containers": list(containers) or [nginx_container()],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}],
            "restartPolicy": "Always",
        },
    }


def a_deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "0b7c1c5e-0000-4000-8000-000000000002",
            "resourceVersion": "40",
            "generation": 1,
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [nginx_container()], "restartPolicy": "Always"},
            },
        },
        "status": {"replicas": 3, "conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True"}]},
    }


def smp(current: dict, body, kind: str | None = None) -> dict:
    text = body if isinstance(body, str) else json.dumps(body)
    return apply_patch(current, text.encode(), SMP, kind=kind or current["kind"])


def refused(current: dict, body, content_type: str, kind: str = "Pod") -> APIError:
    text = body if isinstance(body, (str, bytes)) else json.dumps(body)
    with pytest.raises(APIError) as caught:
        apply_patch(current, text, content_type, kind=kind)
    return caught.value


def names(items: list[dict]) -> list[str]:
    return [item["name"] for item in items]


# ---------------------------------------------------------------------------------------
# Strategic merge patch


def test_it_merges_containers_by_name_so_a_patch_with_name_and_image_keeps_the_rest():
    pod = a_pod(nginx_container(), {"name": "sidecar", "image": "busybox"})

    patched = smp(pod, {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}})

    nginx = patched["spec"]["containers"][0]
    assert nginx == nginx_container(image="nginx:1.26")
    assert names(patched["spec"]["containers"]) == ["nginx", "sidecar"]
    assert patched["spec"]["volumes"] == pod["spec"]["volumes"]


def test_it_merges_env_by_name_and_ports_by_container_port():
    pod = a_pod()

    patched = smp(
        pod,
        {
            "spec": {
                "containers": [
                    {
                        "name": "nginx",
                        "env": [{"name": "LOG", "value": "debug"}],
                        "ports": [{"containerPort": 443, "name": "tls"}],
                    }
                ]
            }
        },
    )

    nginx = patched["spec"]["containers"][0]
    assert nginx["env"] == [{"name": "MODE", "value": "prod"}, {"name": "LOG", "value": "debug"}]
    assert nginx["ports"] == [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP", "name": "tls"}]
    assert nginx["resources"] == nginx_container()["resources"]


def test_it_puts_a_new_list_item_before_the_server_only_ones_as_the_apiserver_does():
    # Without $setElementOrder, the apiserver places items the server did not have ahead of
    # the server-only items (kubectl patch adding a container or an env var puts it first).
    pod = a_pod()

    patched = smp(pod, {"spec": {"containers": [{"name": "nginx", "env": [{"name": "NEW", "value": "1"}]}]}})

    assert names(patched["spec"]["containers"][0]["env"]) == ["NEW", "MODE", "LOG"]


def test_it_merges_service_ports_by_port_not_container_port():
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}, {"name": "https", "port": 443, "targetPort": 8443}],
        },
    }

    patched = smp(service, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})

    assert patched["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"},
        {"name": "https", "port": 443, "targetPort": 8443},
    ]


def test_it_deletes_a_key_whose_patch_value_is_null_and_ignores_nulls_for_absent_keys():
    pod = a_pod()

    patched = smp(pod, {"metadata": {"annotations": {"team": None, "never-there": None}}, "spec": {"restartPolicy": None}})

    assert patched["metadata"]["annotations"] == {}
    assert "restartPolicy" not in patched["spec"]


def test_it_sets_and_clears_unschedulable_as_cordon_and_uncordon_send():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}}, "spec": {"podCIDR": "10.244.1.0/24"}}

    cordoned = smp(node, {"spec": {"unschedulable": True}})
    uncordoned = smp(cordoned, {"spec": {"unschedulable": None}})

    assert cordoned["spec"] == {"podCIDR": "10.244.1.0/24", "unschedulable": True}
    assert uncordoned["spec"] == {"podCIDR": "10.244.1.0/24"}


@pytest.mark.parametrize("content_type", [SMP, MERGE])
def test_it_adds_changes_and_removes_labels_as_kubectl_label_sends(content_type):
    pod = a_pod()

    added = apply_patch(pod, b'{"metadata":{"labels":{"env":"prod","tier":"back"}}}', content_type, kind="Pod")
    removed = apply_patch(added, b'{"metadata":{"labels":{"tier":null}}}', content_type, kind="Pod")
    annotated = apply_patch(removed, b'{"metadata":{"annotations":{"note":"hi","team":null}}}', content_type, kind="Pod")

    assert added["metadata"]["labels"] == {"app": "web", "tier": "back", "env": "prod"}
    assert removed["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert annotated["metadata"]["annotations"] == {"note": "hi"}


def test_it_honours_set_element_order_and_keeps_items_it_does_not_name_after_them():
    pod = a_pod(nginx_container(), {"name": "logger", "image": "fluentbit"}, {"name": "sidecar", "image": "busybox"})

    patched = smp(
        pod,
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "logger"}, {"name": "nginx"}],
                "containers": [{"name": "nginx", "image": "nginx:1.26"}],
            }
        },
    )

    assert names(patched["spec"]["containers"]) == ["logger", "nginx", "sidecar"]
    assert patched["spec"]["containers"][1] == nginx_container(image="nginx:1.26")
    assert "$setElementOrder/containers" not in patched["spec"]


def test_it_keeps_a_server_only_item_where_the_server_had_it_relative_to_ordered_items():
    pod = a_pod({"name": "istio-proxy", "image": "proxy"}, {"name": "a", "image": "a"}, {"name": "b", "image": "b"})

    patched = smp(pod, {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}})

    assert names(patched["spec"]["containers"]) == ["istio-proxy", "b", "a"]


def test_it_refuses_a_patch_list_out_of_step_with_its_set_element_order():
    pod = a_pod(nginx_container(), {"name": "sidecar", "image": "busybox"})
    body = {
        "spec": {
            "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
            "containers": [{"name": "sidecar", "image": "x"}, {"name": "nginx", "image": "y"}],
        }
    }

    assert refused(pod, body, SMP).code == 400


def test_it_deletes_a_list_item_marked_patch_delete():
    pod = a_pod(nginx_container(), {"name": "sidecar", "image": "busybox"})

    patched = smp(
        pod,
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"$patch": "delete", "name": "sidecar"}],
                "volumes": [{"$patch": "delete", "name": "data"}],
            }
        },
    )

    assert names(patched["spec"]["containers"]) == ["nginx"]
    assert patched["spec"]["containers"][0] == nginx_container()
    assert patched["spec"]["volumes"] == []


def test_it_replaces_a_map_or_a_list_marked_patch_replace():
    pod = a_pod(nginx_container(), {"name": "sidecar", "image": "busybox"})

    patched = smp(
        pod,
        {
            "metadata": {"labels": {"$patch": "replace", "only": "this"}},
            "spec": {"containers": [{"name": "solo", "image": "solo:1"}, {"$patch": "replace"}]},
        },
    )

    assert patched["metadata"]["labels"] == {"only": "this"}
    assert patched["spec"]["containers"] == [{"name": "solo", "image": "solo:1"}]


def test_it_drops_the_keys_retain_keys_does_not_list():
    deployment = a_deployment()

    patched = smp(deployment, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}})

    assert patched["spec"]["strategy"] == {"type": "Recreate"}


def test_it_refuses_retain_keys_that_leave_out_a_key_the_patch_sets():
    body = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}

    error = refused(a_deployment(), body, SMP, kind="Deployment")

    assert (error.code, error.reason, error.message) == (400, "BadRequest", "invalid patch format of retainKeys")


def test_it_removes_values_named_by_delete_from_primitive_list():
    pod = a_pod()
    pod["metadata"]["finalizers"] = ["a.example.com/x", "b.example.com/y", "c.example.com/z"]

    patched = smp(
        pod,
        {
            "metadata": {
                "$deleteFromPrimitiveList/finalizers": ["b.example.com/y"],
                "$setElementOrder/finalizers": ["a.example.com/x", "c.example.com/z"],
            }
        },
    )

    assert patched["metadata"]["finalizers"] == ["a.example.com/x", "c.example.com/z"]


def test_it_honours_retain_keys_inside_a_volume_merged_by_name():
    pod = a_pod()

    patched = smp(pod, {"spec": {"volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "site"}, "name": "data"}]}})

    assert patched["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "site"}}]


def test_it_empties_a_map_marked_patch_delete():
    patched = smp(a_pod(), {"metadata": {"annotations": {"$patch": "delete"}}})

    assert patched["metadata"]["annotations"] == {}


def test_it_merges_finalizers_as_a_set():
    pod = a_pod()

    patched = smp(pod, {"metadata": {"finalizers": ["example.com/keep", "example.com/other"]}})

    assert sorted(patched["metadata"]["finalizers"]) == ["example.com/keep", "example.com/other"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("command", ["sh", "-c", "sleep 1"]),
        ("args", ["--verbose"]),
    ],
)
def test_it_replaces_container_lists_that_have_no_merge_key(field, value):
    pod = a_pod()

    patched = smp(pod, {"spec": {"containers": [{"name": "nginx", field: value}]}})

    assert patched["spec"]["containers"][0][field] == value


def test_it_replaces_tolerations_whole():
    pod = a_pod()
    tolerations = [{"key": "gpu", "operator": "Exists"}]

    patched = smp(pod, {"spec": {"tolerations": tolerations}})

    assert patched["spec"]["tolerations"] == tolerations


def test_it_merges_conditions_by_type_and_owner_references_by_uid():
    deployment = a_deployment()
    deployment["metadata"]["ownerReferences"] = [{"uid": "u1", "kind": "X", "name": "x"}]

    patched = smp(
        deployment,
        {
            "metadata": {"ownerReferences": [{"uid": "u1", "name": "renamed"}]},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}]},
        },
    )

    assert patched["metadata"]["ownerReferences"] == [{"uid": "u1", "kind": "X", "name": "renamed"}]
    assert patched["status"]["conditions"] == [
        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
        {"type": "Progressing", "status": "True"},
    ]


def test_it_applies_what_kubectl_client_side_apply_sends_for_a_deployment():
    deployment = a_deployment()
    last_applied = json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"annotations": {}, "name": "web", "namespace": "default"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": "nginx:1.26", "name": "nginx"}]}},
            },
        },
        separators=(",", ":"),
    ) + "\n"
    body = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied}},
        "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}], "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}},
    }

    patched = smp(deployment, body)

    assert patched["spec"]["template"]["spec"]["containers"] == [nginx_container(image="nginx:1.26")]
    assert patched["metadata"]["annotations"] == {
        "deployment.kubernetes.io/revision": "1",
        "kubectl.kubernetes.io/last-applied-configuration": last_applied,
    }
    assert patched["spec"]["strategy"] == deployment["spec"]["strategy"]
    assert patched["status"] == deployment["status"]
    assert "$setElementOrder/containers" not in json.dumps(patched)


def test_it_applies_what_kubectl_set_image_sends():
    patched = smp(
        a_deployment(),
        '{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"}],"containers":[{"image":"nginx:1.27","name":"nginx"}]}}}}',
    )

    assert patched["spec"]["template"]["spec"]["containers"] == [nginx_container(image="nginx:1.27")]


def test_it_leaves_the_current_object_untouched():
    for content_type, body in [
        (SMP, {"metadata": {"labels": {"app": None}}, "spec": {"containers": [{"name": "nginx", "env": [{"name": "MODE", "$patch": "delete"}]}]}}),
        (MERGE, {"metadata": {"labels": {"app": None}}, "spec": {"restartPolicy": "Never"}}),
        (JSON_PATCH, [{"op": "remove", "path": "/metadata/labels/app"}, {"op": "add", "path": "/spec/containers/0/env/-", "value": {"name": "X"}}]),
    ]:
        pod = a_pod()
        before = copy.deepcopy(pod)

        patched = apply_patch(pod, json.dumps(body), content_type, kind="Pod")
        patched["metadata"]["resourceVersion"] = "99"
        patched["spec"]["containers"][0]["image"] = "mutated"

        assert pod == before, content_type


def test_it_refuses_a_patch_that_renames_the_object():
    error = refused(a_pod(), {"metadata": {"name": "other"}}, SMP)

    assert (error.code, error.reason) == (400, "BadRequest")
    assert error.message == "the name of the object (other) does not match the name on the URL (web)"


def test_it_keeps_kind_and_api_version_whatever_the_patch_says():
    patched = apply_patch(a_pod(), b'{"kind":"Service","apiVersion":null}', MERGE, kind="Pod")

    assert (patched["kind"], patched["apiVersion"]) == ("Pod", "v1")


@pytest.mark.parametrize(
    "body",
    [
        {"spec": {"containers": [{"image": "no-name"}]}},  # no merge key
        {"spec": {"containers": [{"name": "nginx", "$patch": "sideways"}]}},
        {"spec": {"containers": [{"name": "nginx"}, "a string"]}},
        {"metadata": {"$bogus": 1}},
        {"spec": {"$setElementOrder/containers": "nginx"}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": "x"}},
        {"spec": {"strategy": {"$retainKeys": "type"}}},
    ],
)
def test_it_answers_400_to_a_malformed_strategic_merge_patch(body):
    error = refused(a_pod(), body, SMP)

    assert (error.code, error.reason) == (400, "BadRequest")


def test_it_answers_422_to_a_list_of_lists_in_a_merged_list():
    error = refused(a_pod(), {"spec": {"containers": [["nginx"]]}}, SMP)

    assert (error.code, error.reason) == (422, "Invalid")


# ---------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386)


# RFC 7386, Appendix A, every example: (target, patch, result)
RFC7386_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("target,body,expected", RFC7386_EXAMPLES)
def test_it_merges_every_rfc_7386_example(target, body, expected):
    assert json_merge_patch(copy.deepcopy(target), body) == expected


def test_it_replaces_lists_whole_in_a_merge_patch():
    pod = a_pod(nginx_container(), {"name": "sidecar", "image": "busybox"})

    patched = apply_patch(pod, b'{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}', MERGE, kind="Pod")

    assert patched["spec"]["containers"] == [{"name": "nginx", "image": "nginx:1.26"}]


def test_it_scales_as_kubectl_scale_sends():
    scale = {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "40"},
        "spec": {"replicas": 3},
        "status": {"replicas": 3, "selector": "app=web"},
    }

    patched = apply_patch(scale, b'{"spec":{"replicas":5}}', "application/merge-patch+json; charset=utf-8", kind="Scale")

    assert patched == {**scale, "spec": {"replicas": 5}}


@pytest.mark.parametrize("body", [b"garbage", b"", b"[1,2]", b"null", b"5", b'{"a":NaN}', b'{"a":1e999}', b"\xff\xfe"])
def test_it_answers_400_to_a_merge_patch_that_is_not_a_json_object(body):
    error = refused(a_pod(), body, MERGE)

    assert (error.code, error.reason) == (400, "BadRequest")


# ---------------------------------------------------------------------------------------
# JSON patch (RFC 6902)


def jp(document: dict, operations: list) -> dict:
    return apply_patch(document, json.dumps(operations), JSON_PATCH, kind="Pod")


def test_it_applies_each_json_patch_operation():
    doc = {"metadata": {"name": "web"}, "foo": ["bar", "baz"], "obj": {"a": 1}}

    patched = jp(
        doc,
        [
            {"op": "add", "path": "/foo/1", "value": "qux"},
            {"op": "add", "path": "/foo/-", "value": "last"},
            {"op": "remove", "path": "/foo/0"},
            {"op": "replace", "path": "/obj/a", "value": 2},
            {"op": "copy", "from": "/obj", "path": "/copied"},
            {"op": "move", "from": "/obj/a", "path": "/moved"},
            {"op": "test", "path": "/copied", "value": {"a": 2}},
            {"op": "add", "path": "/new", "value": {"nested": [1]}},
            {"op": "test", "path": "/absent", "value": None},  # the apiserver's library: absent equals null
        ],
    )

    assert patched == {
        "metadata": {"name": "web"},
        "foo": ["qux", "baz", "last"],
        "obj": {},
        "copied": {"a": 2},
        "moved": 2,
        "new": {"nested": [1]},
    }


def test_it_unescapes_json_pointers():
    doc = {"metadata": {"name": "web", "annotations": {"example.com/owner": "a", "tilde~key": "b"}}}

    patched = jp(
        doc,
        [
            {"op": "test", "path": "/metadata/annotations/example.com~1owner", "value": "a"},
            {"op": "replace", "path": "/metadata/annotations/example.com~1owner", "value": "z"},
            {"op": "remove", "path": "/metadata/annotations/tilde~0key"},
            {"op": "add", "path": "/metadata/annotations/~01", "value": "x"},
        ],
    )

    assert patched["metadata"]["annotations"] == {"example.com/owner": "z", "~1": "x"}


def test_it_applies_what_kubectl_rollout_undo_sends():
    deployment = a_deployment()
    old_template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.24"}], "restartPolicy": "Always"}}
    annotations = {"deployment.kubernetes.io/revision": "1", "kubernetes.io/change-cause": "rollback"}

    patched = jp(
        deployment,
        [
            {"op": "replace", "path": "/spec/template", "value": old_template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ],
    )

    assert patched["spec"]["template"] == old_template
    assert patched["metadata"]["annotations"] == annotations
    assert patched["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "test", "path": "/spec/restartPolicy", "value": "Never"}],
        [{"op": "test", "path": "/metadata/resourceVersion", "value": 12}],  # a string is not a number
        [{"op": "replace", "path": "/spec/nothing", "value": 1}],
        [{"op": "remove", "path": "/metadata/labels/absent"}],
        [{"op": "add", "path": "/no/such/parent", "value": 1}],
        [{"op": "add", "path": "/spec/containers/7", "value": {}}],
        [{"op": "add", "path": "/spec/containers/01", "value": {}}],
        [{"op": "move", "from": "/spec", "path": "/spec/inner"}],
        [{"op": "add", "path": "spec", "value": 1}],
        [{"op": "add", "path": "/metadata/annotations/a~2b", "value": 1}],
        [{"op": "add", "path": "/spec/x"}],
        [{"op": "frobnicate", "path": "/spec"}],
        [{"path": "/spec"}],
        [{"op": "replace", "path": "", "value": [1]}],
    ],
)
def test_it_answers_422_invalid_when_a_json_patch_operation_fails(operations):
    pod = a_pod()

    error = refused(pod, operations, JSON_PATCH)

    assert (error.code, error.reason) == (422, "Invalid")
    assert error.message == "the server rejected our request due to an error in our request"
    assert error.status()["code"] == 422


def test_it_applies_no_operation_of_a_json_patch_that_fails_part_way():
    pod = a_pod()
    before = copy.deepcopy(pod)

    refused(pod, [{"op": "add", "path": "/metadata/labels/x", "value": "1"}, {"op": "test", "path": "/spec/restartPolicy", "value": "Never"}], JSON_PATCH)

    assert pod == before


def test_it_names_the_failed_test_in_the_status_cause():
    error = refused(a_pod(), [{"op": "test", "path": "/spec/restartPolicy", "value": "Never"}], JSON_PATCH)

    assert [cause["message"] for cause in error.status()["details"]["causes"]] == ["testing value /spec/restartPolicy failed: test failed"]


@pytest.mark.parametrize("body", [b"not json", b'{"op":"add"}', b"[1]", b'[{"op":"add","path":"/a","value":1}'])
def test_it_answers_400_to_a_json_patch_body_that_does_not_decode(body):
    error = refused(a_pod(), body, JSON_PATCH)

    assert (error.code, error.reason) == (400, "BadRequest")


def test_it_answers_413_to_a_json_patch_with_too_many_operations():
    operations = [{"op": "test", "path": "/kind", "value": "Pod"}] * (patching.MAX_JSON_PATCH_OPERATIONS + 1)

    error = refused(a_pod(), operations, JSON_PATCH)

    assert (error.code, error.reason) == (413, "RequestEntityTooLarge")


# ---------------------------------------------------------------------------------------
# Server-side apply


APPLIED_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 5
  template:
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
"""


def test_it_applies_a_yaml_configuration_onto_the_live_object():
    deployment = a_deployment()

    patched = apply_patch(deployment, APPLIED_YAML.encode(), APPLY, kind="Deployment")

    assert patched["spec"]["replicas"] == 5
    assert patched["metadata"]["labels"] == {"app": "web"}
    assert patched["spec"]["template"]["spec"]["containers"] == [nginx_container(image="nginx:1.27")]
    assert patched["spec"]["strategy"] == deployment["spec"]["strategy"]  # absent from the config: kept
    assert patched["metadata"]["uid"] == deployment["metadata"]["uid"]


def test_it_applies_a_json_body_as_kubectl_apply_server_side_sends_it():
    body = json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}}},
        }
    )

    patched = apply_patch(a_deployment(), body.encode(), APPLY, kind="Deployment")

    assert patched["spec"]["replicas"] == 2
    assert patched["spec"]["template"]["spec"]["containers"] == [nginx_container(image="nginx:1.26")]


@pytest.mark.parametrize(
    "body,message",
    [
        (APPLIED_YAML.replace("apps/v1", "apps/v1beta1"), "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"),
        (APPLIED_YAML.replace("apiVersion: apps/v1\n", ""), "Incorrect version specified in apply patch. Specified patch version: , expected: apps/v1"),
        (APPLIED_YAML.replace("kind: Deployment", "kind: ReplicaSet"), "Incorrect kind specified in apply patch. Specified patch kind: ReplicaSet, expected: Deployment"),
        (APPLIED_YAML.replace("name: web", "name: other"), "the name of the object (other) does not match the name on the URL (web)"),
        (APPLIED_YAML.replace("  labels:", "  managedFields: [{manager: x}]\n  labels:"), "metadata.managedFields must be nil"),
    ],
)
def test_it_refuses_an_apply_configuration_for_another_object(body, message):
    error = refused(a_deployment(), body, APPLY, kind="Deployment")

    assert (error.code, error.reason, error.message) == (400, "BadRequest", message)


@pytest.mark.parametrize(
    "body",
    [
        "a: [unclosed",
        "- just\n- a list\n",
        "--- {a: 1}\n--- {b: 2}\n",
        "a: &x [*x]\n",
        "a: .nan\n",
        "a: !!python/object:os.system ls\n",
        b"\xff",
    ],
)
def test_it_answers_400_to_an_apply_body_that_is_not_one_yaml_object(body):
    error = refused(a_deployment(), body, APPLY, kind="Deployment")

    assert (error.code, error.reason) == (400, "BadRequest")


def test_it_refuses_a_yaml_alias_bomb_instead_of_expanding_it(monkeypatch):
    monkeypatch.setattr(patching, "MAX_APPLY_VALUES", 10_000)
    # Nine levels of ten aliases each: a billion strings once expanded.
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    body = "\n".join(lines) + "\n"

    error = refused(a_deployment(), body, APPLY, kind="Deployment")

    assert (error.code, error.reason) == (400, "BadRequest")
    assert "aliases" in error.message


def test_it_parses_an_apply_body_for_the_create_path():
    config = parse_apply_body(APPLIED_YAML.replace("  labels:", "  annotations:\n    when: 2024-01-02\n    gone: null\n  labels:").encode())

    assert config["kind"] == "Deployment"
    assert config["metadata"]["annotations"] == {"when": "2024-01-02"}
    assert config["spec"]["template"]["spec"]["containers"] == [{"name": "nginx", "image": "nginx:1.27"}]


def test_it_parses_a_json_apply_body_and_checks_it_against_the_url_when_asked():
    body = b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"i"}]}}'

    assert parse_apply_body(body, kind="Pod", api_version="v1", name="web")["metadata"] == {"name": "web"}
    with pytest.raises(APIError) as caught:
        parse_apply_body(body, kind="Pod", api_version="v1", name="other")
    assert caught.value.code == 400


# ---------------------------------------------------------------------------------------
# Content types and bodies


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "", "application/yaml", "application/merge-patch"])
def test_it_answers_415_to_another_content_type(content_type):
    error = refused(a_pod(), b"{}", content_type)

    assert (error.code, error.reason) == (415, "UnsupportedMediaType")
    assert error.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
    )


@pytest.mark.parametrize("body", [b"garbage", b"", b"[]", b'"text"', b"{", b"\xc3\x28", b'{"a":Infinity}', b"[" * 100000])
def test_it_answers_400_to_a_garbage_strategic_merge_patch_body(body):
    error = refused(a_pod(), body, SMP)

    assert (error.code, error.reason) == (400, "BadRequest")


def test_it_answers_400_not_a_crash_to_a_deeply_nested_patch():
    body = '{"metadata":{"labels":' + '{"a":' * 5000 + "1" + "}" * 5000 + "}}"

    for content_type in (SMP, MERGE):
        error = refused(a_pod(), body, content_type)
        assert (error.code, error.reason) == (400, "BadRequest")


def test_it_turns_lone_surrogates_into_replacement_characters():
    patched = apply_patch(a_pod(), b'{"metadata":{"annotations":{"note":"a\\ud800b"}}}', SMP, kind="Pod")

    assert patched["metadata"]["annotations"]["note"] == "a\ufffdb"
    json.dumps(patched).encode("utf-8")
