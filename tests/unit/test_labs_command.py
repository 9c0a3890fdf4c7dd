"""`python manage.py lab`: the catalogue, and lab files checked with their lines before
anything is run. (Verifying needs the stack: tests/integration/test_labs_verify.py.)"""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("lab", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_list_shows_the_catalogue_in_order():
    out, _ = run("list")
    lines = out.splitlines()
    assert lines[0].split() == ["#", "id", "level", "min", "steps", "title"]
    assert lines[1].split()[:5] == ["1", "anatomy", "beginner", "25", "8"]
    assert lines[2].split()[:2] == ["2", "eight-steps"]


def test_validate_says_each_lab_is_valid():
    out, _ = run("validate")
    assert "labs/anatomy.yaml: anatomy · 8 steps · valid" in out


def test_a_lab_file_with_problems_is_refused_with_its_lines_before_any_stack_starts(tmp_path):
    lab = tmp_path / "typo.yaml"
    lab.write_text("id: typo\ntitle: {en: Typo, ko: 오타}\nlevel: beginner\nminutes: 5\nsteps:\n  - id: a\n    text: {en: a, ko: 가}\n    checks:\n      - objectExist: {kind: Pod, name: web}\n    solve: [kubectl run web --image=nginx]\n")
    err = StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("lab", "verify", "--file", str(lab), stdout=StringIO(), stderr=err)
    assert err.getvalue().strip() == f"{lab}:9: steps[0].checks[0]: unknown check 'objectExist' (did you mean 'objectExists'?)"
    with pytest.raises(CommandError, match="1 problem"):
        run("validate", str(lab))


def test_an_unknown_lab_id_is_refused():
    with pytest.raises(CommandError, match="no such lab: nope"):
        run("verify", "nope", "--url", "http://127.0.0.1:9")
