"""Resource quantities as Kubernetes writes them."""
from __future__ import annotations

from decimal import Decimal

import pytest

from cluster.apimachinery import quantity


@pytest.mark.parametrize(
    "text,value",
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("128Mi", Decimal(128 * 2**20)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("2e3", Decimal(2000)),
        ("1E-3", Decimal("0.001")),
        ("64M", Decimal(64_000_000)),
        ("1k", Decimal(1000)),
        ("1Ki", Decimal(1024)),
        (".5", Decimal("0.5")),
        ("5E", Decimal(5 * 10**18)),
        (3, Decimal(3)),
        (0.25, Decimal("0.25")),
    ],
)
def test_it_parses_a_quantity_to_base_units(text, value):
    assert quantity.is_quantity(text)
    assert quantity.parse(text) == value


@pytest.mark.parametrize("text", ["abc", "", "1.5.5", "5 Mi", "Mi", "1KI", "1e", "0x10", None, True, [], "--1"])
def test_it_refuses_what_is_not_a_quantity(text):
    assert not quantity.is_quantity(text)
    with pytest.raises(ValueError):
        quantity.parse(text)


def test_it_rounds_millicores_and_bytes_up():
    assert quantity.millicores("250m") == 250
    assert quantity.millicores("0.1") == 100
    assert quantity.millicores("1u") == 1
    assert quantity.bytes_("1.5Ki") == 1536
    assert quantity.bytes_("1m") == 1


def test_it_formats_millicores_and_bytes_as_kubectl_shows_them():
    assert [quantity.format_millicores(m) for m in (4000, 250, 1500)] == ["4", "250m", "1500m"]
    assert [quantity.format_bytes(b) for b in (8 * 2**30, 128 * 2**20, 1536, 1000, 0)] == ["8Gi", "128Mi", "1536", "1000", "0"]
