"""The scheduler: filter the nodes a pod fits on, score them, bind the pod to the best.

Laid out as kube-scheduler is: one module per plugin (nodeunschedulable, nodename,
tainttoleration, nodeaffinity, noderesources), the framework that runs them in order
(framework), the snapshot they read (nodeinfo), and the cycle that writes the outcome
through the API server (cycle).
"""
from cluster.scheduler.cycle import BATCH, batch, pending_pods, queue_order, resync_wanted, schedule
from cluster.scheduler.nodeinfo import NodeInfo, node_rooms

__all__ = ["BATCH", "NodeInfo", "batch", "node_rooms", "pending_pods", "queue_order", "resync_wanted", "schedule"]
