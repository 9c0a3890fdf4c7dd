"""The classroom's periodic job (Celery beat, config/settings.py: expire-classes)."""
from celery import shared_task

from web import classroom


@shared_task(name="web.tasks.expire_classes")
def expire_classes() -> None:
    """End the classes whose time has passed; a week after a class ended, remove it with
    its sandboxes."""
    classroom.expire()
