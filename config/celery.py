import os

from celery import Celery
from celery.signals import beat_init

from cluster import beat, metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("podflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Every process that sends tasks stamps them, every worker times them (/metrics).
metrics.watch_celery()
# Beat schedules only while it holds the lease in Redis: one beat at a time (cluster/beat.py).
beat_init.connect(beat.on_beat_init, weak=False)
