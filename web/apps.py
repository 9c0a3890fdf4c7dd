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
