"""The Korean catalogues: every string the code translates is there, translated, not fuzzy,
with the same placeholders as its msgid, and compiled into the .mo the server reads.

Read with the standard library only (a .po file is a simple format); the strings the code
uses are found as makemessages finds them: gettext calls in the scripts and Python code,
and Django's own templatize() for the templates.
"""
from __future__ import annotations

import ast
import gettext as stdlib_gettext
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "locale" / "ko" / "LC_MESSAGES"
# Python packages of the product (not its tests, not the virtualenv).
PYTHON_DIRS = ("web", "cluster", "config")

# %(name)s, %(n)d … and a bare %s / %d; %% is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\((?P<name>[A-Za-z_][A-Za-z0-9_]*)\))?[-#0 +]*\d*(?:\.\d+)?(?P<conv>[sdifr%])")


def placeholders(text: str) -> Counter:
    found: Counter = Counter()
    for m in PLACEHOLDER.finditer(text):
        if m.group("conv") == "%":
            continue
        found[m.group("name") or f"%{m.group('conv')}"] += 1
    return found


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)


def parse_po(path: Path) -> list[Entry]:
    """The catalogue's live entries (obsolete "#~" ones are left out), header included."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int | None] | None = None  # the field continuation lines extend

    def finish() -> None:
        nonlocal current, target
        if current is not None and (current.msgid or current.msgstr):
            entries.append(current)
        current, target = None, None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue
        keyword = line.split(" ", 1)[0]
        starts_entry = line.startswith("#") or keyword in ("msgctxt", "msgid")
        if starts_entry and current is not None and current.msgstr:
            finish()  # the next entry, with no blank line before it
        current = current or Entry(line=number)
        if line.startswith("#,"):
            current.flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
        elif line.startswith("#"):
            pass
        elif line.startswith('"'):
            assert target is not None, f"{path.name}:{number}: a string outside an entry"
            append(current, target, unquote(line, path, number))
        else:
            match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr"):
                target = (keyword, 0 if keyword == "msgstr" else None)
            elif match:
                target = ("msgstr", int(match.group(1)))
            else:
                raise AssertionError(f"{path.name}:{number}: cannot read {raw!r}")
            set_field(current, target, "")
            append(current, target, unquote(line[len(keyword):].strip(), path, number))
    finish()
    return entries


def unquote(text: str, path: Path, number: int) -> str:
    assert text.startswith('"') and text.endswith('"'), f"{path.name}:{number}: not a quoted string: {text!r}"
    return ast.literal_eval(text)


def set_field(entry: Entry, target: tuple[str, int | None], value: str) -> None:
    name, index = target
    if name == "msgstr":
        entry.msgstr[index or 0] = value
    else:
        setattr(entry, name, value)


def append(entry: Entry, target: tuple[str, int | None], value: str) -> None:
    name, index = target
    if name == "msgstr":
        entry.msgstr[index or 0] = entry.msgstr.get(index or 0, "") + value
    else:
        setattr(entry, name, (getattr(entry, name) or "") + value)


def catalogue(domain: str) -> dict[tuple[str | None, str], Entry]:
    return {e.key: e for e in parse_po(LOCALE / f"{domain}.po") if e.msgid}


# --- the strings the code uses ---------------------------------------------------------

JS_STRING = r'"(?:[^"\\]|\\.)*"'
JS_CALL = re.compile(rf"\b(?P<fn>n?gettext)\(\s*(?P<one>{JS_STRING})(?:\s*,\s*(?P<many>{JS_STRING}))?", re.S)


def js_literal(text: str) -> str:
    return json.loads(text.replace("\\'", "'"))


def used_by_scripts() -> set[tuple[str, str | None]]:
    used = set()
    for path in sorted((ROOT / "static").rglob("*.js")):
        for m in JS_CALL.finditer(path.read_text(encoding="utf-8")):
            many = js_literal(m.group("many")) if m.group("fn") == "ngettext" and m.group("many") else None
            used.add((js_literal(m.group("one")), many))
    return used


PY_CALLS = {"gettext", "gettext_lazy", "_", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}


def python_calls(source: str) -> set[tuple[str | None, str, str | None]]:
    """(context, msgid, msgid_plural) of every gettext-family call with literal arguments."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else ""
        if fn not in PY_CALLS:
            continue
        args = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None for a in node.args]
        context = None
        if fn.startswith("pgettext"):
            context, args = (args[0] if args else None), args[1:]
        if not args or args[0] is None:
            continue
        plural = args[1] if fn.startswith("ngettext") and len(args) > 1 else None
        found.add((context, args[0], plural))
    return found


def used_by_python_and_templates() -> set[tuple[str | None, str, str | None]]:
    from django.utils.translation.template import templatize

    used = set()
    for directory in PYTHON_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            used |= python_calls(path.read_text(encoding="utf-8"))
    for path in sorted((ROOT / "templates").rglob("*.html")):
        used |= templatized_calls(templatize(path.read_text(encoding="utf-8"), origin=str(path)))
    return used


PY_STRING = r"u?'(?:[^'\\]|\\.)*'"
TEMPLATIZED_CALL = re.compile(rf"\b(?P<fn>n?p?gettext)\((?P<args>{PY_STRING}(?:\s*,\s*{PY_STRING})*)")


def templatized_calls(text: str) -> set[tuple[str | None, str, str | None]]:
    """templatize() turns a template into text that is not Python, but whose translated
    strings are gettext(u'...') calls, as xgettext reads them."""
    found = set()
    for m in TEMPLATIZED_CALL.finditer(text):
        args = [ast.literal_eval(a) for a in re.findall(PY_STRING, m.group("args"))]
        context = args.pop(0) if "p" in m.group("fn")[:2] else None
        plural = args[1] if m.group("fn").startswith(("ngettext", "npgettext")) and len(args) > 1 else None
        found.add((context, args[0], plural))
    return found


# --- the tests ---------------------------------------------------------------------------

@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_it_finds_no_placeholder_that_differs_between_msgid_and_msgstr(domain):
    wrong = []
    for entry in catalogue(domain).values():
        for index, text in entry.msgstr.items():
            if not text:
                continue
            # Korean has one plural form: it stands for the plural msgid's placeholders.
            source = entry.msgid_plural if entry.msgid_plural is not None else entry.msgid
            if set(placeholders(text)) != set(placeholders(source)):
                wrong.append(f"line {entry.line}: {source!r} has {sorted(placeholders(source))}, msgstr[{index}] {text!r} has {sorted(placeholders(text))}")
    assert not wrong, f"{domain}.po: placeholders differ:\n" + "\n".join(wrong)


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_it_finds_no_fuzzy_entry(domain):
    fuzzy = [f"line {e.line}: {e.msgid!r}" for e in catalogue(domain).values() if "fuzzy" in e.flags]
    assert not fuzzy, f"{domain}.po has fuzzy entries (Django ignores them):\n" + "\n".join(fuzzy)


def check_translated(domain: str, used: set[tuple[str | None, str, str | None]]) -> list[str]:
    entries = catalogue(domain)
    problems = []
    for context, msgid, plural in sorted(used, key=lambda u: (u[0] or "", u[1])):
        entry = entries.get((context, msgid))
        if entry is None:
            problems.append(f"missing: {msgid!r}")
        elif "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {msgid!r}")
        elif plural is not None and entry.msgid_plural != plural:
            problems.append(f"plural differs: {msgid!r} is {entry.msgid_plural!r} in the catalogue, {plural!r} in the code")
        elif not entry.msgstr or not all(entry.msgstr.values()):
            problems.append(f"empty: {msgid!r}")
    return problems


def test_every_string_the_scripts_translate_has_a_korean_translation():
    used = {(None, one, many) for one, many in used_by_scripts()}
    assert len(used) > 100  # the extraction works
    problems = check_translated("djangojs", used)
    assert not problems, "djangojs.po:\n" + "\n".join(problems)


def test_every_string_the_templates_and_python_code_translate_has_a_korean_translation():
    used = used_by_python_and_templates()
    assert len(used) > 50  # the extraction works
    problems = check_translated("django", used)
    assert not problems, "django.po:\n" + "\n".join(problems)


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_compiled_catalogue_matches_the_po_file(domain):
    """compilemessages was run after the last edit: the server reads the .mo, not the .po."""
    with open(LOCALE / f"{domain}.mo", "rb") as handle:
        compiled = stdlib_gettext.GNUTranslations(handle)
    stale = []
    for entry in catalogue(domain).values():
        if "fuzzy" in entry.flags or not all(entry.msgstr.values()):
            continue
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            got = compiled._catalog.get(msgid)
            want = entry.msgstr.get(0)
        else:
            got = compiled._catalog.get((msgid, 0))
            want = entry.msgstr.get(0)
        if got != want:
            stale.append(f"{entry.msgid!r}: .mo has {got!r}")
    assert not stale, f"{domain}.mo is older than {domain}.po; run manage.py compilemessages -l ko:\n" + "\n".join(stale[:20])
