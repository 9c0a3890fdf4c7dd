"""Labs that check themselves: guided exercises on a learner's own cluster.

A lab is a YAML file in labs/ (the format: labs/README.md). The engine, by job:

    schema.py   read a lab file into a Lab, or name every problem with its line
    checks.py   evaluate a check against a cluster (never code a learner or author wrote)
    actions.py  do what setup, solve, reveal and cleanup say, through the usual doors
    runner.py   a learner's progress (LabProgress): start, checks, answer, hint,
                solution, next, cleanup — what the API (apiserver/handlers/labs.py) calls
    verify.py   run a lab end to end on a fresh cluster: every check fails before its
                solution and passes after it (`python manage.py lab verify`)

This module holds the catalogue (the labs in PODFLOW_LABS_DIR, default <project>/labs/)
and the pacing hook a classroom uses to hold learners at the step its instructor opened.

Pacing: before a learner moves to another step, `may_advance(cluster, lab_id,
step_index)` is asked, where `step_index` is the index (from 0) of the step the learner
would move to — `len(lab.steps)` when the move would complete the lab. It answers True
unless a pacer says no. A pacer is any callable with that signature: register it with
`register_pacer(callable)` (e.g. in an AppConfig.ready), or name it in the setting
PODFLOW_LAB_MAY_ADVANCE ("package.module.function"). Every pacer must agree.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.utils.module_loading import import_string

from cluster.labs.schema import SLUG, Lab, LabFileError, load_file
from cluster.models import Cluster

log = logging.getLogger("podflow.labs")

# The announcement (cluster/apiserver/audit.py) made whenever a learner's progress in a lab
# changes; its payload is {"lab", "step", "stepId", "passed", "total", "completed"}.
PROGRESS = "lab"

Pacer = Callable[[Cluster, str, int], bool]
_pacers: list[Pacer] = []


def register_pacer(pacer: Pacer) -> None:
    """Ask `pacer(cluster, lab_id, step_index)` before every move to another step."""
    if pacer not in _pacers:
        _pacers.append(pacer)


def unregister_pacer(pacer: Pacer) -> None:
    if pacer in _pacers:
        _pacers.remove(pacer)


def may_advance(cluster: Cluster, lab: str, step_index: int) -> bool:
    """Whether the learner of `cluster` may move to step `step_index` of lab `lab` (True
    unless a registered pacer, or the one PODFLOW_LAB_MAY_ADVANCE names, says no)."""
    pacers = list(_pacers)
    named = getattr(settings, "PODFLOW_LAB_MAY_ADVANCE", "")
    if named:
        pacers.append(import_string(named))
    return all(pacer(cluster, lab, step_index) for pacer in pacers)


# --- the catalogue ----------------------------------------------------------------------------


def labs_dir() -> Path:
    """Where the lab files are: the setting PODFLOW_LABS_DIR, else the environment's, else labs/."""
    return Path(getattr(settings, "PODFLOW_LABS_DIR", "") or os.environ.get("PODFLOW_LABS_DIR") or Path(settings.BASE_DIR) / "labs")


def lab_files() -> list[Path]:
    folder = labs_dir()
    return sorted(p for p in folder.glob("*.yaml") if p.is_file()) if folder.is_dir() else []


_cache: dict[Path, tuple[float, Lab | None]] = {}


def _load(path: Path) -> Lab | None:
    """The lab in `path`, read again only when the file changed; None (logged) if invalid."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _cache.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        lab: Lab | None = load_file(path)
    except LabFileError as exc:
        log.error("lab file %s is not valid and is left out of the catalogue:\n%s", path, exc)
        lab = None
    _cache[path] = (mtime, lab)
    return lab


def catalogue() -> list[Lab]:
    """Every valid lab, in the order of their numbers (then ids)."""
    labs = [lab for lab in (_load(p) for p in lab_files()) if lab is not None]
    return sorted(labs, key=lambda lab: (lab.number or 999, lab.id))


def get(lab_id: str) -> Lab | None:
    if not isinstance(lab_id, str) or not SLUG.match(lab_id):
        return None
    path = labs_dir() / f"{lab_id}.yaml"
    return _load(path) if path.is_file() else None
