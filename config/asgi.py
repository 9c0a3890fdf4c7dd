import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from web.asgihttp import get_asgi_application  # noqa: E402

# Django's request path in the request's thread in one go (web/asgihttp.py).
django_http = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from web.routing import websocket_urlpatterns

application = ProtocolTypeRouter(
    {
        # Static files are served by WhiteNoise's middleware (config/settings.py).
        "http": django_http,
        # A foreign Origin is refused before anything else (a browser on another site would
        # carry the learner's cookie); then the session and its user are read for the
        # consumer, which decides who may follow (cluster/apiserver/handlers/access.py).
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

from config.startup import freeze_startup_objects  # noqa: E402

# What daphne holds once the application is loaded is left out of the garbage collector's
# passes (config/startup.py).
freeze_startup_objects()
