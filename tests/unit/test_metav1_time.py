"""metav1 times: written and read fast where they have the shape we write, and read exactly
as strptime reads them (the two forms, and nothing else) whatever comes in."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from cluster.apimachinery import metav1


def strptime_reading(value):
    for fmt in (metav1.TIME_FORMAT, metav1.MICRO_TIME_FORMAT):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def moments(count: int, seed: int = 7):
    rnd = random.Random(seed)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    for _ in range(count):
        yield epoch + timedelta(seconds=rnd.randrange(0, 4_000_000_000), microseconds=rnd.randrange(0, 1_000_000))


def test_times_are_written_as_strftime_writes_them():
    for moment in moments(3000):
        assert metav1.rfc3339(moment) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert metav1.micro_time(moment) == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert metav1.rfc3339(datetime(2026, 12, 5, 10, 0, 0, 999999, tzinfo=timezone.utc)) == "2026-12-05T10:00:00Z"


@pytest.mark.parametrize("text", [
    "2026-12-05T10:00:00Z", "2026-12-05T10:00:00.123456Z", "2026-12-05T10:00:00.1Z", "2026-12-05T10:00:00.12345Z",
    "2026-13-05T10:00:00Z", "2026-02-30T10:00:00Z", "2026-12-05T24:00:00Z", "2026-12-05T10:00:60Z", "2026-1-5T10:00:00Z",
    "2026-12-05 10:00:00Z", "2026-12-05T10:00:00", "2026-12-05T10:00:00+00:00", "2026-12-05T10:00:00.123-14Z",
    "2026-12-05T10:00:00.123456789Z", "２０２６-12-05T10:00:00Z", "2026-12-05T10:0a:00Z", "0999-01-01T00:00:00Z", "", "x",
])
def test_a_time_is_read_as_strptime_reads_it(text):
    assert metav1.parse_time(text) == strptime_reading(text)


def test_written_times_and_their_near_misses_are_read_as_strptime_reads_them():
    rnd = random.Random(11)
    for moment in moments(2000):
        for text in (metav1.rfc3339(moment), metav1.micro_time(moment)):
            assert metav1.parse_time(text) == strptime_reading(text) is not None
            broken = list(text)
            broken[rnd.randrange(len(broken))] = rnd.choice("0123456789-:.TZ x")
            broken = "".join(broken)
            assert metav1.parse_time(broken) == strptime_reading(broken), broken
