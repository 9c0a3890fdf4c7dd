from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog

from cluster.apiserver.handlers import clock, discovery, etcd, explain, k8s, labs, nodes, podflow, terminal
from web import accounts, classes, metrics, sandboxes, views

K8S = "k8s/<slug:cluster>/"
NS = "namespaces/<str:namespace>/"
GV = "apis/<str:group>/<str:version>/"

urlpatterns = [
    path("", views.home, name="home"),
    # Every route under clusters/<cluster>/ asks cluster/apiserver/handlers/access.py who may open it
    # (tests/unit/test_sealed.py walks these patterns).
    path("clusters/<slug:cluster>/", views.page, name="cluster"),
    path("clusters/<slug:cluster>/speed", views.set_speed, name="cluster-speed"),
    path("clusters/<slug:cluster>/kubeconfig", views.kubeconfig_download, name="cluster-kubeconfig"),
    path("clusters/<slug:cluster>/snapshot", views.snapshot_at, name="cluster-snapshot"),
    path("clusters/<slug:cluster>/reset", sandboxes.reset, name="cluster-reset"),
    path("clusters/<slug:cluster>/delete", sandboxes.delete, name="cluster-delete"),
    path("sandboxes/new", sandboxes.new, name="sandbox-new"),
    # The classroom (web/classes.py): every route under classes/<code>/ opens only to the
    # class's instructor (hand: to its learners); tests/unit/test_sealed.py walks them too.
    path("classes/", classes.classes, name="classes"),
    path("classes/<slug:code>/", classes.class_page, name="class"),
    path("classes/<slug:code>/roster", classes.roster, name="class-roster"),
    path("classes/<slug:code>/broadcast", classes.send_broadcast, name="class-broadcast"),
    path("classes/<slug:code>/pace", classes.pace, name="class-pace"),
    path("classes/<slug:code>/clock", classes.clock, name="class-clock"),
    path("classes/<slug:code>/fault", classes.fault, name="class-fault"),
    path("classes/<slug:code>/reset", classes.reset, name="class-reset"),
    path("classes/<slug:code>/extend", classes.extend, name="class-extend"),
    path("classes/<slug:code>/end", classes.end, name="class-end"),
    path("classes/<slug:code>/projector", classes.projector, name="class-projector"),
    path("classes/<slug:code>/hand", classes.hand, name="class-hand"),
    path("join", classes.join, name="class-join"),
    path("join/<slug:code>", classes.join, name="class-join-code"),
    path("accounts/login/", accounts.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    # Every local process's metrics (web/metrics.py). It names no cluster: PODFLOW_METRICS_TOKEN's
    # bearer token opens it, or without one a request from this machine.
    path("metrics", metrics.serve, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["web"]), name="javascript-catalog"),
    # The Kubernetes-shaped API: discovery and OpenAPI ...
    path(K8S + "version", k8s.version),
    path(K8S + "api", discovery.api_root),
    path(K8S + "apis", discovery.apis_root),
    path(K8S + "api/v1", discovery.core_resources),
    path(K8S + "apis/<str:group>", discovery.api_group),
    path(K8S + "apis/<str:group>/<str:version>", discovery.group_resources),
    path(K8S + "openapi/v3", discovery.openapi_v3),
    re_path(r"^k8s/(?P<cluster>[-a-zA-Z0-9_]+)/openapi/v3/(?P<gv>apis?/.+)$", discovery.openapi_v3_gv),
    # ... the core group ...
    path(K8S + "api/v1/" + NS + "<str:plural>/<str:name>/<str:sub>", k8s.subresource),
    path(K8S + "api/v1/" + NS + "<str:plural>/<str:name>", k8s.item),
    path(K8S + "api/v1/" + NS + "<str:plural>", k8s.collection),
    path(K8S + "api/v1/<str:plural>/<str:name>/<str:sub>", k8s.subresource),
    path(K8S + "api/v1/<str:plural>/<str:name>", k8s.item),
    path(K8S + "api/v1/<str:plural>", k8s.collection),
    # ... and named groups (apps).
    path(K8S + GV + NS + "<str:plural>/<str:name>/<str:sub>", k8s.subresource),
    path(K8S + GV + NS + "<str:plural>/<str:name>", k8s.item),
    path(K8S + GV + NS + "<str:plural>", k8s.collection),
    path(K8S + GV + "<str:plural>/<str:name>/<str:sub>", k8s.subresource),
    path(K8S + GV + "<str:plural>/<str:name>", k8s.item),
    path(K8S + GV + "<str:plural>", k8s.collection),
    # podflow's own read endpoints (DNS names, kube-proxy's rules, simulated requests).
    path(K8S + "podflow/v1/" + NS + "services", podflow.services_list),
    path(K8S + "podflow/v1/" + NS + "services/<str:service>", podflow.service_detail),
    path(K8S + "podflow/v1/" + NS + "services/<str:service>/request", podflow.service_request),
    path(K8S + "podflow/v1/" + NS + "services/<str:service>/proxy-rules", podflow.proxy_rules),
    path(K8S + "podflow/v1/" + NS + "ingresses/<str:ingress>/request", podflow.ingress_request),
    # podflow's speed setting of the cluster (time is a setting).
    path(K8S + "podflow/v1/speed", views.api_speed, name="api-speed"),
    # podflow's power switch for a worker node (its kubelet stops heartbeating).
    path(K8S + "podflow/v1/nodes/<str:name>/<str:action>", nodes.power),
    # The cluster's clock (pause, step, resume) and its components' switches.
    path(K8S + "podflow/v1/clock", clock.clock, name="api-clock"),
    path(K8S + "podflow/v1/clock/step", clock.step, name="api-clock-step"),
    path(K8S + "podflow/v1/components/<str:component>/<str:action>", clock.switch, name="api-component"),
    # The page's terminal: the real kubectl, run on the server against this cluster.
    path(K8S + "podflow/v1/kubectl", terminal.run, name="api-kubectl"),
    # Why a pod is as it is, and who is responsible.
    path(K8S + "podflow/v1/" + NS + "pods/<str:name>/explain", explain.pod, name="api-explain"),
    # The labs: the catalogue, a lab with its progress, and what a learner does in it.
    path(K8S + "podflow/v1/labs", labs.catalogue, name="api-labs"),
    path(K8S + "podflow/v1/labs/<str:lab>", labs.detail, name="api-lab"),
    path(K8S + "podflow/v1/labs/<str:lab>/<str:action>", labs.act, name="api-lab-action"),
    # etcd's keys as kube-apiserver stores them, and the watch events each component received.
    path(K8S + "podflow/v1/etcd", etcd.keys, name="api-etcd"),
    path(K8S + "podflow/v1/watches", etcd.watches, name="api-watches"),
    re_path(r"^k8s/(?P<cluster>[-a-zA-Z0-9_]+)/(?P<rest>.*)$", k8s.unknown),
]
