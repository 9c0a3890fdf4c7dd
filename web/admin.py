"""The admin, for staff: every sandbox with its owner and when it was last used."""
from django.contrib import admin

from cluster.models import Cluster


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "learner_short", "node_count", "node_size", "speed", "revision", "created", "last_active")
    list_filter = ("speed", "node_size")
    search_fields = ("name", "owner__username")
    readonly_fields = ("token", "revision", "created", "last_active", "learner")
    ordering = ("-last_active",)

    @admin.display(description="anonymous learner")
    def learner_short(self, cluster: Cluster) -> str:
        return cluster.learner[:8] + "…" if cluster.learner else ""

    def has_add_permission(self, request) -> bool:
        # A cluster is made with its namespaces and nodes (the page, manage.py democluster).
        return False
