from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog

from web import k8s, views

K8S = "k8s/<slug:cluster>/"

urlpatterns = [
    path("", views.page, name="home"),
    path("clusters/<slug:cluster>/", views.page, name="cluster"),
    path("clusters/<slug:cluster>/speed", views.set_speed, name="cluster-speed"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["web"]), name="javascript-catalog"),
    # The Kubernetes-shaped API.
    path(K8S + "version", k8s.version),
    path(K8S + "api/v1/namespaces/<str:namespace>/<str:plural>/<str:name>", k8s.item),
    path(K8S + "api/v1/namespaces/<str:namespace>/<str:plural>", k8s.collection),
    path(K8S + "api/v1/<str:plural>/<str:name>", k8s.item),
    path(K8S + "api/v1/<str:plural>", k8s.collection),
    path(K8S + "apis/<str:group>/<str:version>/namespaces/<str:namespace>/<str:plural>/<str:name>", k8s.item),
    path(K8S + "apis/<str:group>/<str:version>/namespaces/<str:namespace>/<str:plural>", k8s.collection),
    path(K8S + "apis/<str:group>/<str:version>/<str:plural>/<str:name>", k8s.item),
    path(K8S + "apis/<str:group>/<str:version>/<str:plural>", k8s.collection),
    re_path(r"^k8s/(?P<cluster>[-a-zA-Z0-9_]+)/(?P<rest>.*)$", k8s.unknown),
]
