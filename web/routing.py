from django.urls import path

from web.classroom_consumer import ClassConsumer
from web.consumers import ClusterConsumer

websocket_urlpatterns = [
    path("ws/clusters/<slug:cluster>/", ClusterConsumer.as_asgi()),
    path("ws/classes/<slug:code>/", ClassConsumer.as_asgi()),
]
