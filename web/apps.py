from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "web"

    def ready(self) -> None:
        # Connects the receiver that gives anonymous sandboxes to the account signing in.
        from . import accounts  # noqa: F401
