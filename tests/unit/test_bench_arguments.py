"""`manage.py bench` refuses counts it cannot run with a readable error, not a traceback."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


@pytest.mark.parametrize(
    "argument, value",
    [("--replicas", "0"), ("--pods", "0"), ("--pods", "x"), ("--rounds", "0"), ("--sandboxes", "-1"), ("--followers", "-5"), ("--warmup", "-1")],
)
def test_a_count_it_cannot_run_with_is_refused_before_anything_starts(argument, value):
    with pytest.raises(CommandError) as refused:
        call_command("bench", argument, value)
    assert f"argument {argument}: '{value}' is not a whole number of at least" in str(refused.value)
