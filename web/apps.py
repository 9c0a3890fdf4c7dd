from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "web"

    def ready(self) -> None:
        from cluster.apiserver import audit, store
        from web import accounts, broadcast  # noqa: F401 — accounts connects its user_logged_in receiver

        # Every process that writes (daphne, each Celery worker) streams what it commits,
        # and what the API server announces (requests, traffic, cluster settings).
        store.on_commit(broadcast.publish_committed)
        audit.subscribe(broadcast.publish_announced)

        # The classroom (web/classroom.py): its instructor may read a learner's class sandbox,
        # an ended class's sandboxes are read-only and kept for their week, and a learner's
        # lab progress reaches the instructor's roster.
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_delete, post_save

        from cluster import labs, sandbox
        from cluster.apiserver.handlers import access
        from cluster.models import LabProgress
        from web import classroom

        access.allow_reader(classroom.instructor_reads)
        access.read_only_when(classroom.ended_class_sandbox)
        sandbox.keep_when(classroom.keep_class_sandboxes)
        sandbox.personal_when(classroom.personal_sandboxes)
        labs.register_pacer(classroom.may_advance)
        audit.subscribe(classroom.progress_announced)
        post_save.connect(classroom.progress_changed, sender=LabProgress, dispatch_uid="classroom-progress-saved")
        post_delete.connect(classroom.progress_changed, sender=LabProgress, dispatch_uid="classroom-progress-deleted")
        user_logged_in.connect(classroom.adopt_on_sign_in, dispatch_uid="classroom-adopt")
