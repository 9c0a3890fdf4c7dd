from django.core.management.base import BaseCommand, CommandError

from cluster.apimachinery.errors import APIError
from cluster.kubelet import node as kubelet_node
from cluster.models import Cluster


class Command(BaseCommand):
    help = (
        "Stop or start a worker node of a cluster, as if its machine were switched off or on: "
        "a stopped node's kubelet stops heartbeating and running pods, and the node controller "
        "marks it NotReady, taints it and, after the pods' tolerations, evicts them."
    )

    def add_arguments(self, parser):
        parser.add_argument("cluster")
        parser.add_argument("node")
        parser.add_argument("action", choices=["stop", "start"])

    def handle(self, *args, cluster: str, node: str, action: str, **options):
        found = Cluster.objects.filter(name=cluster).first()
        if found is None:
            raise CommandError(f'cluster "{cluster}" not found')
        try:
            (kubelet_node.stop if action == "stop" else kubelet_node.start)(found, node)
        except APIError as err:
            raise CommandError(err.message) from err
        self.stdout.write(f"node {node} {'stopped' if action == 'stop' else 'started'}")
