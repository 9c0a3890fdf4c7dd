import os
import signal
import time

from django.core.management.base import BaseCommand

from cluster.stack import Stack


class Command(BaseCommand):
    help = "Start podflow in the foreground: Redis, daphne, a Celery worker per role and beat."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--one-worker", action="store_true", help="one Celery worker consuming all three queues")

    def handle(self, *args, port: int, host: str, one_worker: bool, **options):
        stack = Stack(port=port, host=host, worker_per_role=not one_worker)
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            stack.start()
            self.stdout.write(self.style.SUCCESS(f"podflow is running at {stack.url}/  (Ctrl-C stops it)"))
            self.stdout.write(f"  health: {stack.url}/healthz")
            self.stdout.write("  each browser that opens the page gets a sandbox cluster of its own, and its kubeconfig from the page")
            self.stdout.write("  kubectl on the shared demo cluster: python manage.py kubeconfig demo > kubeconfig && export KUBECONFIG=$PWD/kubeconfig")
            self.stdout.write(f"  the Kubernetes API (TLS, bearer token): {stack.api_url}/k8s/<cluster>")
            while not stopping:
                dead = stack.failed()
                if dead:
                    self.stderr.write(f"stopping: {', '.join(dead)} exited")
                    break
                time.sleep(0.5)
        finally:
            self.stdout.write("stopping podflow ...")
            stack.stop()
