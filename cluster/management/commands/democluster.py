from django.core.management.base import BaseCommand

from cluster.demo import ensure_cluster


class Command(BaseCommand):
    help = "Create the demo cluster (three Ready worker nodes) if it does not exist."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="demo")
        parser.add_argument("--nodes", type=int, default=3)
        parser.add_argument("--speed", default="normal", choices=["instant", "normal", "slow"])

    def handle(self, *args, name: str, nodes: int, speed: str, **options):
        cluster, created = ensure_cluster(name, nodes=nodes, speed=speed)
        self.stdout.write(f"cluster {cluster.name}: {'created' if created else 'already there'}")
