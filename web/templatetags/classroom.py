"""Words of the classroom's pages: a learner's status, and durations ("4 min 10 s")."""
from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def status_word(status: str) -> str:
    """A learner's status in words (never by colour alone)."""
    words = {
        "hand": _("✋ Hand raised"),
        "stuck": _("⚠ Stuck"),
        "working": _("Working"),
        "not-started": _("Not started"),
        "done": _("✓ Done"),
        "no-sandbox": _("No sandbox"),
    }
    return words.get(status, status)


@register.filter
def seconds_text(seconds) -> str:
    """A duration, rounded as a person says it: 45 s, 4 min 10 s, 1 h 5 min."""
    if seconds is None or seconds == "":
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return _("%(s)s s") % {"s": seconds}
    if seconds < 3600:
        return _("%(m)s min %(s)s s") % {"m": seconds // 60, "s": seconds % 60}
    return _("%(h)s h %(m)s min") % {"h": seconds // 3600, "m": seconds % 3600 // 60}


@register.simple_tag
def duration(seconds) -> str:
    return seconds_text(seconds)
