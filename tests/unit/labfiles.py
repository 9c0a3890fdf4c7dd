"""Lab files written in the tests, as an author writes them."""
from __future__ import annotations

import textwrap

from cluster.labs.schema import Lab, parse


def lab_source(steps: str, *, lab_id: str = "x", head: str = "") -> str:
    """A lab's YAML: its required keys, then `head` (more top-level keys), then `steps`
    (the items of the steps list, indented by two spaces)."""
    return f"id: {lab_id}\ntitle: {{en: X, ko: 엑스}}\nlevel: beginner\nminutes: 10\n" + head + "steps:" + steps


def one_step(checks: str = "- clock: {paused: true}", solve: str = '- "kubectl get pods"') -> Lab:
    """A lab of one step with these checks and this solve (YAML list items)."""
    def items(text: str) -> str:
        return textwrap.indent(textwrap.dedent(text).strip("\n"), " " * 6)

    steps = f"\n  - id: s\n    text: {{en: s, ko: 에스}}\n    checks:\n{items(checks)}\n    solve:\n{items(solve)}\n"
    return parse(lab_source(steps), "labs/x.yaml")
