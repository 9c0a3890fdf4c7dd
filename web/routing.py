from django.urls import path

from web.consumers import ClusterConsumer

websocket_urlpatterns = [
    path("ws/clusters/<slug:cluster>/", ClusterConsumer.as_asgi()),
]
