import os

from celery import Celery
from celery.signals import beat_init, worker_process_init, worker_ready

from cluster import beat, metrics
from config.startup import freeze_startup_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("podflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Every process that sends tasks stamps them, every worker times them (/metrics).
metrics.watch_celery()
# Beat schedules only while it holds the lease in Redis: one beat at a time (cluster/beat.py).
beat_init.connect(beat.on_beat_init, weak=False)
# What a worker holds once started is left out of the garbage collector's passes
# (config/startup.py): a solo worker's when it is ready, a prefork pool's child's when it starts.
worker_ready.connect(freeze_startup_objects, weak=False)
worker_process_init.connect(freeze_startup_objects, weak=False)
