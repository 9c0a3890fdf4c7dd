"""Kubernetes resource quantities ("500m", "128Mi", "1.5Gi", "2e3")."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# The grammar of k8s.io/apimachinery resource.Quantity: a signed decimal number, then
# an optional binary suffix (Ki..Ei), decimal suffix (n u m k M G T P E) or exponent.
QUANTITY_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
QUANTITY_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def is_quantity(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value >= 0
    return isinstance(value, str) and bool(QUANTITY_RE.match(value.strip()))


def parse(value: str | int | float) -> Decimal:
    """The quantity's value in base units (cores, bytes). Raises ValueError if malformed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    if not isinstance(value, str):
        raise ValueError(QUANTITY_MESSAGE)
    text = value.strip()
    match = QUANTITY_RE.match(text)
    if not match:
        raise ValueError(QUANTITY_MESSAGE)
    suffix = match.group(2) or ""
    number = text[: len(text) - len(suffix)] if suffix else text
    try:
        if suffix[:1] in ("e", "E") and suffix != "E":  # a lone "E" is exa, not an exponent
            return Decimal(number) * (Decimal(10) ** int(suffix[1:]))
        return Decimal(number) * _SUFFIX[suffix]
    except (InvalidOperation, KeyError) as exc:
        raise ValueError(QUANTITY_MESSAGE) from exc


def millicores(value: str | int | float) -> int:
    return int((parse(value) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def bytes_(value: str | int | float) -> int:
    return int(parse(value).to_integral_value(rounding="ROUND_CEILING"))


def format_millicores(m: int) -> str:
    return f"{m // 1000}" if m % 1000 == 0 else f"{m}m"


def format_bytes(b: int) -> str:
    for suffix, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if b and b % size == 0:
            return f"{b // size}{suffix}"
    return str(b)
