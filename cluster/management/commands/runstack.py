import os
import signal
import time

from django.core.management.base import BaseCommand

from cluster.stack import Stack

# A child that exits is started again after 1 s, then 2, 4 … up to 30 s while it keeps
# failing; one that ran for a minute starts the count again.
FIRST_DELAY, MAX_DELAY, HEALTHY_AFTER = 1.0, 30.0, 60.0


class Supervisor:
    """Keeps every child of the stack running: a Redis restart, a worker killed by the
    kernel or a daphne crash is a pause, not the end of the product."""

    def __init__(self, stack: Stack, say) -> None:
        self.stack = stack
        self.say = say
        self.delay: dict[str, float] = {}
        self.due: dict[str, float] = {}
        self.started: dict[str, float] = {}

    def tick(self, now: float) -> None:
        for name, proc in list(self.stack.procs.items()):
            code = proc.poll()
            if code is None:
                if now - self.started.get(name, now) >= HEALTHY_AFTER:
                    self.delay.pop(name, None)
                continue
            if name not in self.due:
                delay = self.delay.get(name, FIRST_DELAY / 2) * 2
                self.delay[name] = min(delay, MAX_DELAY)
                self.due[name] = now + self.delay[name]
                self.say(f"{name} exited with code {code}; starting it again in {self.delay[name]:.0f} s")
            elif now >= self.due[name]:
                del self.due[name]
                self.stack.restart(name)
                self.started[name] = now
                self.say(f"{name} started again")


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
            supervisor = Supervisor(stack, self.stderr.write)
            while not stopping:
                supervisor.tick(time.monotonic())
                time.sleep(0.5)
        finally:
            self.stdout.write("stopping podflow ...")
            stack.stop()
