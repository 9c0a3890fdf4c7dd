"""API errors, shaped as Kubernetes `Status` objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Cause:
    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass
class APIError(Exception):
    code: int
    reason: str
    message: str
    name: str = ""
    kind: str = ""
    group: str = ""
    causes: list[Cause] = field(default_factory=list)
    # 429: how long the client should wait, in the Status and as the Retry-After header.
    retry_after_seconds: int = 0
    # HTTP headers the answer carries beside the Status body.
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.as_dict() for c in self.causes]
        if self.retry_after_seconds:
            details["retryAfterSeconds"] = self.retry_after_seconds
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            body["details"] = details
        return body


def resource_name(plural: str, group: str) -> str:
    """`pods` for the core group, `deployments.apps` for others, as the API server words it."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> APIError:
    return APIError(404, "NotFound", f'{resource_name(plural, group)} "{name}" not found', name=name, kind=plural, group=group)


def already_exists(plural: str, group: str, name: str) -> APIError:
    return APIError(409, "AlreadyExists", f'{resource_name(plural, group)} "{name}" already exists', name=name, kind=plural, group=group)


def conflict(plural: str, group: str, name: str) -> APIError:
    return APIError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource_name(plural, group)} "{name}": '
        "the object has been modified; please apply your changes to the latest version and try again",
        name=name,
        kind=plural,
        group=group,
    )


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> APIError:
    lines = "; ".join(f"{c.field}: {c.message}" for c in causes)
    shown = f"[{lines}]" if len(causes) > 1 else lines
    return APIError(422, "Invalid", f'{kind}.{group} "{name}" is invalid: {shown}' if group else f'{kind} "{name}" is invalid: {shown}', name=name, kind=kind, group=group, causes=causes)


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def conflict_because(plural: str, group: str, name: str, why: str) -> APIError:
    """409 Conflict with the storage layer's reason (a failed delete precondition)."""
    return APIError(409, "Conflict", f'Operation cannot be fulfilled on {resource_name(plural, group)} "{name}": {why}', name=name, kind=plural, group=group)


def forbidden(plural: str, group: str, name: str, why: str, causes: list[Cause] | None = None) -> APIError:
    """403 Forbidden as admission words it: `pods "web" is forbidden: <why>`."""
    return APIError(403, "Forbidden", f'{resource_name(plural, group)} "{name}" is forbidden: {why}', name=name, kind=plural, group=group, causes=causes or [])
