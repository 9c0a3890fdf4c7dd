"""The admin, for staff: every sandbox with its owner and when it was last used.

A sandbox deleted here, or with the account that owns it, goes through `sandbox.delete`
as from the page: under the cluster's write lock (a component writing meanwhile finishes
first, or writes nothing after), and its followers are told.
"""
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from cluster import sandbox
from cluster.models import Cluster


def _delete_sandboxes(clusters) -> None:
    for cluster in clusters:
        sandbox.delete(cluster)


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

    def delete_model(self, request, obj: Cluster) -> None:
        sandbox.delete(obj)

    def delete_queryset(self, request, queryset) -> None:
        _delete_sandboxes(queryset)


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class PodflowUserAdmin(UserAdmin):
    """Django's user admin; an account's sandboxes are deleted first, each as above (the
    deletion of the account would otherwise take them with it, row by row)."""

    def delete_model(self, request, obj) -> None:
        _delete_sandboxes(Cluster.objects.filter(owner=obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        _delete_sandboxes(Cluster.objects.filter(owner__in=queryset))
        super().delete_queryset(request, queryset)


# --- the classroom (web/classroom.py) ---------------------------------------------------------
from web.models import ClassMessage, Classroom, Membership  # noqa: E402


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("display_name", "cluster", "user", "hand_raised", "last_activity", "joined_at")
    readonly_fields = ("cluster", "user", "last_activity", "joined_at")
    can_delete = False


class ClassMessageInline(admin.TabularInline):
    model = ClassMessage
    extra = 0
    fields = ("sent_at", "sender", "text")
    readonly_fields = ("sent_at", "sender", "text")
    can_delete = False


@admin.register(Classroom)
class ClassroomAdmin(admin.ModelAdmin):
    """Every class, its instructor and learners. Instructors are the users of the
    `instructors` group (Users → a user → Groups, or manage.py createinstructor)."""

    list_display = ("title", "code", "instructor", "pacing", "learner_count", "created", "expires_at", "ended_at")
    list_filter = ("pacing",)
    search_fields = ("title", "code", "instructor__username")
    readonly_fields = ("code", "created", "instructor_cluster")
    ordering = ("-created",)
    inlines = (MembershipInline, ClassMessageInline)

    @admin.display(description="learners")
    def learner_count(self, classroom: Classroom) -> int:
        return classroom.members.count()

    def has_add_permission(self, request) -> bool:
        # A class is made by its instructor at /classes/ (with its join code).
        return False
