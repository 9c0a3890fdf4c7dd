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


# Every component writes and reads these times many times a second (a pod's stages, every
# Lease's renewTime, every node's heartbeat): written with isoformat and read with
# fromisoformat, a tenth of strftime's and strptime's cost, where the text has exactly the
# shape they give; anything else goes the long way, with the same result.


def rfc3339(moment: datetime | None = None) -> str:
    """metav1.Time as it is written: UTC, to the second."""
    moment = moment or now()
    if moment.year >= 1000:
        return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"
    return moment.strftime(TIME_FORMAT)


def micro_time(moment: datetime | None = None) -> str:
    """metav1.MicroTime, as a Lease's renewTime is written."""
    moment = moment or now()
    if moment.year >= 1000:
        return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    return moment.strftime(MICRO_TIME_FORMAT)


def _written_shape(value: str) -> bool:
    """`2026-12-05T10:00:00Z` or `2026-12-05T10:00:00.123456Z`: ASCII digits where the
    digits go, and exactly these marks between them."""
    if len(value) == 20:
        digits = value[0:4] + value[5:7] + value[8:10] + value[11:13] + value[14:16] + value[17:19]
    elif len(value) == 27 and value[19] == ".":
        digits = value[0:4] + value[5:7] + value[8:10] + value[11:13] + value[14:16] + value[17:19] + value[20:26]
    else:
        return False
    return (
        value[-1] == "Z" and value[4] == "-" and value[7] == "-" and value[10] == "T" and value[13] == ":" and value[16] == ":"
        and digits.isascii() and digits.isdigit()
    )


def parse_time(value: str | None) -> datetime | None:
    """A metav1.Time or MicroTime as written (`...Z`), as an aware datetime; None for
    anything else (absent, empty, or not one of the two forms)."""
    if not value or not isinstance(value, str):
        return None
    if _written_shape(value):
        try:
            return datetime.fromisoformat(value[:-1]).replace(tzinfo=timezone.utc)
        except ValueError:
            pass  # digits out of range (month 13): the long way says so
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
