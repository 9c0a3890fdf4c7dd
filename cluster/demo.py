"""Making clusters: the demo cluster has three worker nodes, node-1 to node-3, Ready.

Each node joins as a real one does: its kubelet registers the Node, creates its Lease in
kube-node-lease (the heartbeat the node controller watches) and reports Ready.
"""
from __future__ import annotations

import hashlib
import uuid

from django.db import IntegrityError

from cluster.apimachinery import metav1
from cluster.apiserver import store
from cluster.componentbase import events
from cluster.controllers import ingress
from cluster.kubelet import node as kubelet_node
from cluster.models import NODE_SIZES, Cluster, NodeSize, Speed

NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def node_doc(index: int, *, cpu: str = "4", memory: str = "8Gi", pods: str = "110") -> dict:
    name = f"node-{index}"
    now = metav1.rfc3339()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now},
            ],
            "addresses": [{"type": "InternalIP", "address": f"192.168.49.{index + 1}"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "kubeProxyVersion": "v1.32.0",
                "containerRuntimeVersion": "containerd://1.7.24",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0",
                "machineID": hashlib.md5(name.encode()).hexdigest(),
                "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                "bootID": str(uuid.uuid4()),
            },
            "images": [],
        },
    }


def ensure_cluster(name: str, *, nodes: int = 3, speed: str = Speed.NORMAL) -> tuple[Cluster, bool]:
    """Create the cluster with its namespaces and nodes if it does not exist yet."""
    cluster = Cluster.objects.filter(name=name).first()
    if cluster is not None:
        return cluster, False
    try:
        cluster = Cluster.objects.create(name=name, speed=speed, node_count=nodes)
    except IntegrityError:
        return Cluster.objects.get(name=name), False
    populate(cluster)
    return cluster, True


def populate(cluster: Cluster) -> None:
    """What a new cluster holds: its namespaces, the default IngressClass, and `node_count`
    nodes of `node_size` that join as real ones do. A sandbox's reset calls this again after
    emptying it."""
    cpu, memory = NODE_SIZES[NodeSize(cluster.node_size)]
    with store.locked(cluster):
        for ns in NAMESPACES:
            store.create(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, by="podflow")
        # The class of podflow's ingress controller, the default (as an ingress-nginx install makes it).
        store.create(cluster, ingress.default_class(), by="podflow")
        for i in range(1, cluster.node_count + 1):
            node = store.create(cluster, node_doc(i, cpu=cpu, memory=memory), by="podflow")
            name = node["metadata"]["name"]
            store.create(cluster, kubelet_node.lease_doc(node, metav1.now()), by=store.KUBELET, namespace=kubelet_node.LEASE_NAMESPACE)
            # What a joining node's kubelet and the node controller report about it.
            for reason, message, component in (
                ("Starting", "Starting kubelet.", "kubelet"),
                ("NodeHasSufficientMemory", f"Node {name} status is now: NodeHasSufficientMemory", "kubelet"),
                ("NodeReady", f"Node {name} status is now: NodeReady", "kubelet"),
                ("RegisteredNode", f"Node {name} event: Registered Node {name} in Controller", "node-controller"),
            ):
                events.record(cluster, node, reason, message, by="podflow", component=component, host=name if component == "kubelet" else "")
