"""`manage.py bench`: counts it cannot run are refused readably; it says what the cores give."""
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


def test_the_bench_says_what_the_cores_give_now():
    import os
    import re

    from cluster.management.commands.bench import parallel_capacity

    said = parallel_capacity()
    cores = os.cpu_count() or 1
    found = re.fullmatch(rf"{cores} processes of pure-Python work at once ran at ([0-9.]+)× one alone \((\d+) ms alone, (\d+) ms at once\)", said)
    assert found, said
    ratio, alone, together = float(found[1]), int(found[2]), int(found[3])
    assert 0 < ratio <= cores + 0.5 and alone > 0 and together > 0
