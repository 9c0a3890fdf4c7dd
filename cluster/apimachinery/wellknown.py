"""Labels, taints and condition types Kubernetes gives a fixed meaning (core/v1's
well-known labels and taints, discovery/v1's service-name label)."""
from __future__ import annotations

# The taints the node lifecycle controller puts on a node (TaintNodesByCondition).
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"

# The conditions a kubelet reports on its Node.
NODE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")

# The label tying an EndpointSlice to its Service.
LABEL_SERVICE_NAME = "kubernetes.io/service-name"

# Where the kubelets' node Leases (their heartbeats) live.
NODE_LEASE_NAMESPACE = "kube-node-lease"
