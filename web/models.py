"""The classroom's rows: a class an instructor runs, its learners, what the instructor said.

A learner's progress in a lab is the labs engine's (`cluster.models.LabProgress`, one row per
cluster and lab); the classroom reads it by the learner's class sandbox at query time, so
nothing here depends on it (web/classroom.py).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cluster.models import Cluster


class Pacing(models.TextChoices):
    SELF_PACED = "self-paced", "self-paced"
    INSTRUCTOR_LED = "instructor-led", "instructor-led"


class Classroom(models.Model):
    """A class: its labs, its pacing and the join code its learners type.

    The code opens the class until `expires_at` (extendable); once the class has ended
    (`ended_at`, or its expiry passed) nobody joins, its learners' sandboxes are read-only,
    and a week on the expiry job removes them and the class.
    """

    title = models.CharField(max_length=120)
    instructor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="classes_taught")
    # Lab ids (the files in labs/), in the order the class takes them.
    labs = models.JSONField(default=list, blank=True)
    pacing = models.CharField(max_length=20, choices=Pacing.choices, default=Pacing.SELF_PACED)
    # Instructor-led pacing: per lab id, the last step (0-based) its learners may be on.
    opened_step = models.JSONField(default=dict, blank=True)
    # Short, from an alphabet without look-alikes (web/classroom.py); unique for good.
    code = models.CharField(max_length=12, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # What the instructor set for the whole class last (a learner who joins later gets it).
    paused = models.BooleanField(default=False)
    stopped_components = models.JSONField(default=list, blank=True)
    # The instructor's own sandbox for this class, shown in projector mode (made on first use).
    instructor_cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ("-created",)

    def __str__(self) -> str:
        return f"{self.title} ({self.code})"

    def ends_at(self):
        """When the class ended or will end: ended_at, else expires_at."""
        return self.ended_at or self.expires_at

    def has_ended(self, now=None) -> bool:
        return self.ends_at() <= (now or timezone.now())


class Membership(models.Model):
    """A learner in a class: the name they gave and their class sandbox.

    The learner is who the sandboxes know (cluster/sandbox.py): an account, or before
    anyone signs in the browser session's learner id. Signing in moves both the sandbox and
    this row to the account.
    """

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="members")
    display_name = models.CharField(max_length=40)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="class_memberships")
    learner = models.CharField(max_length=64, blank=True, default="", db_index=True)
    # Null once the learner deleted it (joining again makes another).
    cluster = models.OneToOneField(Cluster, null=True, blank=True, on_delete=models.SET_NULL, related_name="class_membership")
    hand_raised = models.BooleanField(default=False)
    hand_raised_at = models.DateTimeField(null=True, blank=True)
    last_activity = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("joined_at", "id")
        constraints = [
            models.UniqueConstraint(fields=["classroom", "user"], condition=Q(user__isnull=False), name="one_membership_per_account"),
            models.UniqueConstraint(fields=["classroom", "learner"], condition=Q(user__isnull=True) & ~Q(learner=""), name="one_membership_per_learner"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} in {self.classroom.code}"


class ClassMessage(models.Model):
    """A message the instructor broadcast to the class (a learner who reloads sees it again)."""

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="messages")
    text = models.CharField(max_length=500)
    sender = models.CharField(max_length=150)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("sent_at", "id")
