"""What every layer reads and writes of an object's metadata and status, written once.

- Time: the control plane's clock (`now`, which tests replace), `metav1.Time` (RFC 3339 to
  the second) and `metav1.MicroTime` (a Lease's renewTime), and their parsing.
- Conditions: `status.conditions` entries by type; the Ready condition of a pod or a node.
- Ownership: the controller ownerReference a controller puts on what it makes, and the
  reading of it.
"""
from __future__ import annotations

from datetime import datetime, timezone

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MICRO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


# --- time --------------------------------------------------------------------------------

def now() -> datetime:
    """The control plane's clock: every timestamp a component or the API server writes."""
    return datetime.now(timezone.utc)


def rfc3339(moment: datetime | None = None) -> str:
    """metav1.Time as it is written: UTC, to the second."""
    return (moment or now()).strftime(TIME_FORMAT)


def micro_time(moment: datetime | None = None) -> str:
    """metav1.MicroTime, as a Lease's renewTime is written."""
    return (moment or now()).strftime(MICRO_TIME_FORMAT)


def parse_time(value: str | None) -> datetime | None:
    """A metav1.Time or MicroTime as written (`...Z`), as an aware datetime; None for
    anything else (absent, empty, or not one of the two forms)."""
    if not value or not isinstance(value, str):
        return None
    for fmt in (TIME_FORMAT, MICRO_TIME_FORMAT):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


# --- conditions ----------------------------------------------------------------------------

def condition(doc: dict | None, type_: str) -> dict | None:
    for cond in ((doc or {}).get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == type_:
            return cond
    return None


def is_true(doc: dict | None, type_: str) -> bool:
    cond = condition(doc, type_)
    return bool(cond and cond.get("status") == "True")


def is_ready(doc: dict | None) -> bool:
    """The Ready condition of a pod or a node is True."""
    return is_true(doc, "Ready")


def set_condition(doc: dict, type_: str, status: str, reason: str = "", message: str = "") -> None:
    """Set a condition; its lastTransitionTime moves only when its status changes."""
    conditions = doc.setdefault("status", {}).setdefault("conditions", [])
    for cond in conditions:
        if cond.get("type") == type_:
            if cond.get("status") != status:
                cond["lastTransitionTime"] = rfc3339()
            cond["status"] = status
            _reason(cond, reason, message)
            return
    cond = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": rfc3339()}
    _reason(cond, reason, message)
    conditions.append(cond)


def _reason(cond: dict, reason: str, message: str) -> None:
    for key, value in (("reason", reason), ("message", message)):
        if value:
            cond[key] = value
        else:
            cond.pop(key, None)


# --- ownership -------------------------------------------------------------------------------

def owner_reference(owner: dict) -> dict:
    """The controller ownerReference a controller sets on what it makes (it blocks the
    owner's foreground deletion until the dependent is gone)."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_ref(doc: dict | None, kind: str | None = None) -> dict | None:
    """The ownerReference marked `controller: true` (metav1.GetControllerOf), if it is of
    `kind` when one is given."""
    for ref in ((doc or {}).get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref if kind is None or ref.get("kind") == kind else None
    return None


def controller_uid(doc: dict | None, kind: str | None = None) -> str:
    ref = controller_ref(doc, kind)
    return (ref or {}).get("uid", "") or ""
