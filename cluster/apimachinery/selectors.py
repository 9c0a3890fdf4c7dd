"""Label and field selectors, as `?labelSelector=` and `?fieldSelector=` take them."""
from __future__ import annotations

import re
from typing import Callable

from cluster.apimachinery.errors import APIError

Predicate = Callable[[dict], bool]

_SET_RE = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _bad(kind: str, text: str, why: str) -> APIError:
    return APIError(400, "BadRequest", f'unable to parse requirement: {kind} selector "{text}": {why}')


def label_selector(text: str | None) -> Predicate:
    """`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-joined."""
    if not text:
        return lambda labels: True
    tests: list[Predicate] = []
    for part in _split(text):
        match = _SET_RE.match(part)
        if match:
            key, op, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",") if v.strip()}
            if op == "in":
                tests.append(lambda l, k=key, vs=values: l.get(k) in vs)
            else:
                tests.append(lambda l, k=key, vs=values: l.get(k) not in vs)
            continue
        for op in ("!=", "==", "="):
            if op in part:
                key, value = (s.strip() for s in part.split(op, 1))
                if not key or not re.match(r"^[A-Za-z0-9./_-]*$", value) or not re.match(r"^[A-Za-z0-9./_-]+$", key):
                    raise _bad("label", text, f"invalid requirement {part!r}")
                if op == "!=":
                    tests.append(lambda l, k=key, v=value: l.get(k) != v)
                else:
                    tests.append(lambda l, k=key, v=value: l.get(k) == v)
                break
        else:
            negate = part.startswith("!")
            key = part[1:].strip() if negate else part
            if not re.match(r"^[A-Za-z0-9./_-]+$", key):
                raise _bad("label", text, f"invalid requirement {part!r}")
            tests.append((lambda l, k=key: k not in l) if negate else (lambda l, k=key: k in l))
    return lambda labels: all(t(labels) for t in tests)


FIELD_PATHS = {
    "metadata.name": lambda d: d["metadata"].get("name", ""),
    "metadata.namespace": lambda d: d["metadata"].get("namespace", ""),
    "spec.nodeName": lambda d: (d.get("spec") or {}).get("nodeName") or "",
    "status.phase": lambda d: (d.get("status") or {}).get("phase") or "",
    "spec.unschedulable": lambda d: "true" if (d.get("spec") or {}).get("unschedulable") else "false",
    "involvedObject.kind": lambda d: (d.get("involvedObject") or {}).get("kind", ""),
    "involvedObject.name": lambda d: (d.get("involvedObject") or {}).get("name", ""),
    "involvedObject.namespace": lambda d: (d.get("involvedObject") or {}).get("namespace", ""),
    "involvedObject.uid": lambda d: (d.get("involvedObject") or {}).get("uid", ""),
    "reason": lambda d: d.get("reason", ""),
    "type": lambda d: d.get("type", ""),
}


def field_selector(text: str | None) -> Predicate:
    if not text:
        return lambda doc: True
    tests: list[Predicate] = []
    for part in _split(text):
        for op in ("!=", "==", "="):
            if op in part:
                path, value = (s.strip() for s in part.split(op, 1))
                getter = FIELD_PATHS.get(path)
                if getter is None:
                    raise APIError(400, "BadRequest", f'"{path}" is not a known field selector: only "{", ".join(sorted(FIELD_PATHS))}"')
                if op == "!=":
                    tests.append(lambda d, g=getter, v=value: g(d) != v)
                else:
                    tests.append(lambda d, g=getter, v=value: g(d) == v)
                break
        else:
            raise _bad("field", text, f"invalid field selector {part!r}: expected key=value")
    return lambda doc: all(t(doc) for t in tests)


def matches(selector: dict | None, labels: dict | None) -> bool:
    """A LabelSelector (matchLabels, matchExpressions) against labels, as Kubernetes reads it.

    No selector matches nothing; an empty one matches everything; an unknown operator
    matches nothing.
    """
    if selector is None:
        return False
    labels = labels or {}
    if not matches_map(selector.get("matchLabels") or {}, labels):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def matches_map(selector: dict, labels: dict | None) -> bool:
    """A plain map selector (a Service's, matchLabels): every pair is among the labels."""
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())
