"""What a plugin answers, and the score helper several plugins share."""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_NODE_SCORE = 100


@dataclass
class Status:
    """A filter's refusal of one node: its reasons, in the scheduler's words.

    `resolvable` is kube-scheduler's Unschedulable (removing pods might make room) as
    against UnschedulableAndUnresolvable (no preemption can help: a label, a taint, a cordon,
    a request larger than the whole node).
    """

    plugin: str
    reasons: list[str] = field(default_factory=list)
    resolvable: bool = False

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)


def default_normalize_score(scores: dict[str, int], *, reverse: bool) -> dict[str, int]:
    """kube-scheduler's DefaultNormalizeScore: scale to 0–100 by the highest; `reverse` flips it."""
    highest = max(scores.values(), default=0)
    if highest == 0:
        return {name: MAX_NODE_SCORE if reverse else 0 for name in scores}
    normalized = {}
    for name, score in scores.items():
        scaled = MAX_NODE_SCORE * score // highest
        normalized[name] = MAX_NODE_SCORE - scaled if reverse else scaled
    return normalized
