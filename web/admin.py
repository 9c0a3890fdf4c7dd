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
