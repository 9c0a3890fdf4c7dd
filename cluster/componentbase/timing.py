"""Kubernetes' clocks at the cluster's speed (invariant 6, cluster/__init__.py: time is a setting).

Kubernetes counts in seconds that are long for a learner watching: a 30 s grace period, a
40 s node-monitor grace period, 300 s before a pod leaves an unreachable node, back-offs of
10 s doubling to 300 s. podflow keeps those numbers — messages and manifests say what
Kubernetes says — and runs the clocks faster, in proportion to the cluster's stage time:

    one kubelet stage (1 s at normal speed, 3 s at slow) = 10 s of Kubernetes time

so at normal speed a 10 s back-off lasts 1 s and the 300 s toleration 30 s. At instant
speed (no stage time) the clocks run 100 times faster, with a floor where a wait of almost
nothing would make a component spin (back-offs) or mistake a late heartbeat for a dead
node (the node-monitor grace period).
"""
from __future__ import annotations

from cluster.models import Cluster, Speed

# Real seconds per Kubernetes second, per speed.
SCALE = {Speed.INSTANT: 0.01, Speed.NORMAL: 0.1, Speed.SLOW: 0.3}


def scale(cluster: Cluster) -> float:
    return SCALE[Speed(cluster.speed)]


def scaled(cluster: Cluster, seconds: float, floor: float = 0.0) -> float:
    """`seconds` of Kubernetes time in real seconds at the cluster's speed (at least `floor`)."""
    return max(float(seconds) * scale(cluster), floor)


# --- the clocks the kubelet and the node controller share ---------------------------------

NODE_MONITOR_GRACE = 40  # kube-controller-manager --node-monitor-grace-period
LEASE_DURATION = 40  # the kubelet's node Lease, leaseDurationSeconds
NODE_STATUS_REPORT = 300  # the kubelet's nodeStatusReportFrequency (5m)


def node_monitor_grace(cluster: Cluster) -> float:
    """How long a node may go without a heartbeat before it is Unknown (at least 8 s, so a
    heartbeat task that is late under load does not make a node look dead, and so the
    Lease renewals — a quarter of it apart, per node — stay a light, steady write load when
    a class runs thirty clusters)."""
    return scaled(cluster, NODE_MONITOR_GRACE, floor=8.0)


def lease_renew_interval(cluster: Cluster) -> float:
    """The kubelet renews its Lease a quarter of the grace period apart, as Kubernetes does
    (10 s of a 40 s lease)."""
    return node_monitor_grace(cluster) / 4


def node_status_interval(cluster: Cluster) -> float:
    """How often the kubelet rewrites its node status when nothing changed (the Lease is the
    heartbeat; the status only says the node is still Ready). At least 10 s, so status
    writes stay rare in the change log."""
    return scaled(cluster, NODE_STATUS_REPORT, floor=10.0)


def backoff(cluster: Cluster, failures: int) -> float:
    """The kubelet's back-off before retry number `failures` (1, 2, ...): 10 s, 20 s, 40 s …
    capped at 300 s, in real seconds (at least 0.5 s, so an instant cluster does not spin)."""
    return scaled(cluster, backoff_nominal(failures), floor=0.5)


def backoff_nominal(failures: int) -> int:
    """The back-off in Kubernetes seconds, as its messages state it."""
    return min(10 * 2 ** max(failures - 1, 0), 300)
