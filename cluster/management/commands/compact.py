from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cluster.apiserver import store
from cluster.models import Cluster


class Command(BaseCommand):
    help = "Compact a cluster's change log to its last --keep revisions (as etcd compacts)."

    def add_arguments(self, parser):
        parser.add_argument("cluster", nargs="?", default="demo")
        parser.add_argument("--keep", type=int, default=settings.PODFLOW_CHANGE_LOG_KEEP)

    def handle(self, *args, cluster: str, keep: int, **options):
        found = Cluster.objects.filter(name=cluster).first()
        if found is None:
            raise CommandError(f'cluster "{cluster}" does not exist')
        removed = store.compact(found, keep)
        self.stdout.write(f"cluster {cluster}: removed {removed} change-log rows, kept the last {keep} revisions")
