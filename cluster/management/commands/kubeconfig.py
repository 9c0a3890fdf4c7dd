from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cluster.apiserver import tls
from cluster.apiserver.handlers.auth import kubeconfig
from cluster.models import Cluster


class Command(BaseCommand):
    help = "Print a kubeconfig for a cluster: python manage.py kubeconfig demo > kubeconfig; KUBECONFIG=kubeconfig kubectl get pods"

    def add_arguments(self, parser):
        parser.add_argument("cluster", nargs="?", default="demo")
        parser.add_argument("--server", default=None, help="the API's base URL (default https://127.0.0.1:$PODFLOW_API_PORT, 6443)")

    def handle(self, *args, cluster: str, server: str | None, **options):
        found = Cluster.objects.filter(name=cluster).first()
        if found is None:
            raise CommandError(f'cluster "{cluster}" does not exist (python manage.py democluster --name {cluster})')
        ca_path = tls.ensure()[0]
        server = server or f"https://127.0.0.1:{settings.PODFLOW_API_PORT}"
        self.stdout.write(kubeconfig(found, server, ca_path.read_bytes() if server.startswith("https") else None), ending="")
