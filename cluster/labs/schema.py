"""Reading a lab file: YAML in, a checked `Lab` out, or every problem with its line.

The format is documented for instructors in labs/README.md. Everything a lab may say is
checked here, before a learner ever starts it: unknown keys and types (with the nearest
known name offered), texts missing their English or Korean, kubectl commands the page's
terminal would refuse, selectors, paths and patterns that do not parse. Each problem names
the file, the line and the place in the lab:

    labs/eight-steps.yaml:12: steps[2].checks[0]: unknown check 'objectExist' (did you mean 'objectExists'?)

The YAML is read with a SafeLoader that remembers the line of every key and list item.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cluster.apimachinery import kinds, selectors
from cluster.apimachinery.errors import APIError
from cluster.apiserver.handlers import terminal
from cluster.componentbase import clock as cluster_clock
from cluster.models import Speed

LANGUAGES = ("en", "ko")
LEVELS = ("beginner", "intermediate", "advanced")
SLUG = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
MAX_MINUTES = 240
MAX_WAIT_SECONDS = 300.0
DEFAULT_WAIT_FOR_SECONDS = 30.0
DEFAULT_VERIFY_SECONDS = 60.0
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
EVENT_TYPES = ("Normal", "Warning")
SINCE = ("step", "lab", "any")
CLIENTS = ("kubectl", "page", "python", "curl", "any")
VERBS = ("create", "get", "list", "watch", "update", "patch", "delete", "deletecollection")
# What a stop/start action or a component check may name besides kubelet@<node>.
COMPONENTS = cluster_clock.STOPPABLE
STEP_COMPONENTS = (*cluster_clock.COMPONENTS, "any")


# --- what a lab is, once read ------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    en: str
    ko: str

    def as_dict(self) -> dict[str, str]:
        return {"en": self.en, "ko": self.ko}


@dataclass
class Check:
    type: str
    args: dict[str, Any]  # as written, with defaults filled in
    text: Text | None  # the author's words for it, if given
    line: int
    where: str


@dataclass
class Action:
    type: str
    arg: Any
    line: int
    where: str


@dataclass
class Choice:
    id: str
    en: str
    ko: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "en": self.en, "ko": self.ko}


@dataclass
class Question:
    kind: str  # "predict" (answered before the cluster shows it) or "quiz"
    question: Text
    choices: list[Choice]
    answer: str
    explanation: Text
    reveal: list[Action] = field(default_factory=list)


@dataclass
class Step:
    id: str
    line: int
    title: Text | None = None
    text: Text | None = None
    setup: list[Action] = field(default_factory=list)
    suggest: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    hints: list[Text] = field(default_factory=list)
    solve: list[Action] = field(default_factory=list)
    solution: Text | None = None
    question: Question | None = None


@dataclass
class Lab:
    id: str
    title: Text
    level: str
    minutes: int
    steps: list[Step]
    path: str = ""  # as shown in messages: labs/x.yaml
    file: str = ""  # the file's absolute path
    number: int = 0
    summary: Text | None = None
    setup: list[Action] = field(default_factory=list)
    cleanup: list[Action] = field(default_factory=list)
    verify_timeout: float = DEFAULT_VERIFY_SECONDS

    def index_of(self, step_id: str) -> int:
        return next((i for i, s in enumerate(self.steps) if s.id == step_id), -1)


# --- problems ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        place = f" {self.where}:" if self.where else ""
        return f"{self.file}:{self.line}:{place} {self.message}"


class LabFileError(ValueError):
    """The file is not a valid lab: every problem found, in the order of the file."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(str(word), list(known), n=1, cutoff=0.6)
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [lowered[str(word).lower()]] if str(word).lower() in lowered else []
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- YAML with lines -----------------------------------------------------------------------


class Map(dict):
    """A YAML mapping that remembers where it and each of its keys are (1-based lines)."""

    line: int = 0
    key_lines: dict[Any, int]


class Seq(list):
    """A YAML sequence that remembers the line of each item."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, Any]] = []


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Map:
    loader.flatten_mapping(node)
    out = Map()
    out.line, out.key_lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, "a key must be a plain value", key_node.start_mark) from None
        if key in out:
            loader.duplicates.append((key_node.start_mark.line + 1, key))
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> Seq:
    out = Seq(loader.construct_object(item, deep=True) for item in node.value)
    out.line, out.item_lines = node.start_mark.line + 1, [item.start_mark.line + 1 for item in node.value]
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _sequence)


def plain(value: Any) -> Any:
    """The same data as plain dicts and lists (for manifests and JSON)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# --- reading ---------------------------------------------------------------------------------


def display_path(path: Path) -> str:
    """`labs/x.yaml` for a file of the project, the path as given otherwise."""
    from django.conf import settings

    try:
        return str(Path(path).resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


def load_file(path: Path | str) -> Lab:
    """The lab in `path`; LabFileError naming every problem otherwise."""
    path = Path(path)
    shown = display_path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabFileError([Problem(shown, 1, "", f"cannot read the file: {exc}")]) from None
    lab = parse(source, shown, expected_id=path.stem if path.suffix in (".yaml", ".yml") else None)
    lab.file = str(path.resolve())
    return lab


def parse(source: str, shown: str = "<lab>", *, expected_id: str | None = None) -> Lab:
    loader = _Loader(source)
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None and context_mark.line + 1 != line:
            problem += f" ({context} that starts on line {context_mark.line + 1})"
        raise LabFileError([Problem(shown, line, "", f"not valid YAML: {problem}")]) from None
    finally:
        loader.dispose()
    reader = _Reader(shown)
    for line, key in loader.duplicates:
        reader.problem(line, "", f"the key '{key}' is given twice (the second would silently win)")
    lab = reader.lab(document, expected_id)
    if reader.problems or lab is None:
        raise LabFileError(reader.problems or [Problem(shown, 1, "", "not a lab")])
    return lab


# --- checking ----------------------------------------------------------------------------------


class _Reader:
    """Walks a lab document, building the Lab and collecting problems (never stopping at the first)."""

    def __init__(self, shown: str) -> None:
        self.file = shown
        self.problems: list[Problem] = []

    def problem(self, line: int, where: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, where, message))

    # -- small helpers

    @staticmethod
    def line_of(container: Any, key: Any, default: int) -> int:
        if isinstance(container, Map):
            return container.key_lines.get(key, container.line or default)
        if isinstance(container, Seq) and isinstance(key, int) and 0 <= key < len(container.item_lines):
            return container.item_lines[key]
        return default

    def mapping(self, value: Any, where: str, line: int, what: str = "a mapping") -> Map | None:
        if isinstance(value, dict):
            return value if isinstance(value, Map) else _as_map(value, line)
        self.problem(line, where, f"must be {what}, not {_shown(value)}")
        return None

    def keys(self, value: Map, where: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
        for key in value:
            if key not in allowed:
                self.problem(self.line_of(value, key, value.line), where, f"unknown key '{key}'{did_you_mean(key, allowed)}; known: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.problem(value.line, where, f"missing '{key}'")

    def text(self, value: Any, where: str, line: int) -> Text | None:
        if isinstance(value, str):
            self.problem(line, where, "a text needs both languages: {en: \"...\", ko: \"...\"}")
            return None
        found = self.mapping(value, where, line, "a text {en: ..., ko: ...}")
        if found is None:
            return None
        ok = True
        for key in found:
            if key not in LANGUAGES:
                self.problem(self.line_of(found, key, line), where, f"unknown language '{key}'{did_you_mean(key, LANGUAGES)}: a text has en and ko")
                ok = False
        for lang in LANGUAGES:
            if lang not in found:
                self.problem(found.line or line, where, f"missing '{lang}' ({'English' if lang == 'en' else 'Korean'} text)")
                ok = False
            elif not isinstance(found[lang], str) or not found[lang].strip():
                self.problem(self.line_of(found, lang, line), f"{where}.{lang}", "must be a non-empty string")
                ok = False
        return Text(found["en"].strip(), found["ko"].strip()) if ok else None

    def string(self, value: Any, where: str, line: int, *, pattern: re.Pattern | None = None, what: str = "") -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.problem(line, where, f"must be a non-empty string, not {_shown(value)}")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(line, where, f"'{value}' is not {what or 'valid'}")
            return None
        return value

    def choice(self, value: Any, where: str, line: int, allowed: tuple[str, ...]) -> str | None:
        if not isinstance(value, str) or value not in allowed:
            self.problem(line, where, f"'{value}' is not one of {', '.join(allowed)}{did_you_mean(value, allowed) if isinstance(value, str) else ''}")
            return None
        return value

    def boolean(self, value: Any, where: str, line: int) -> bool | None:
        if not isinstance(value, bool):
            self.problem(line, where, f"must be true or false, not {_shown(value)}")
            return None
        return value

    def integer(self, value: Any, where: str, line: int, least: int = 0, most: int | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < least or (most is not None and value > most):
            bounds = f"between {least} and {most}" if most is not None else f"at least {least}"
            self.problem(line, where, f"must be a whole number {bounds}, not {_shown(value)}")
            return None
        return value

    def duration(self, value: Any, where: str, line: int, most: float = MAX_WAIT_SECONDS) -> float | None:
        seconds = parse_duration(value)
        if seconds is None or seconds < 0 or seconds > most:
            self.problem(line, where, f"must be a duration such as 5s, 1.5s or 2m (at most {most:.0f}s), not {_shown(value)}")
            return None
        return seconds

    def kind(self, value: Any, where: str, line: int) -> str | None:
        if not isinstance(value, str) or value not in kinds.BY_KIND:
            self.problem(line, where, f"unknown kind '{value}'{did_you_mean(value, tuple(kinds.BY_KIND)) if isinstance(value, str) else ''}; known: {', '.join(kinds.BY_KIND)}")
            return None
        return value

    def kubectl(self, value: Any, where: str, line: int, *, follow_allowed: bool) -> list[str] | None:
        command = self.string(value, where, line)
        if command is None:
            return None
        try:
            words = terminal.parse(command)
        except APIError as exc:
            self.problem(line, where, f"the page's terminal would refuse it: {exc.message}")
            return None
        if not follow_allowed and terminal.follows(words):
            self.problem(line, where, "a command that follows (-w, --watch, -f) never ends: it cannot be an action")
            return None
        return words

    # -- the lab

    def lab(self, document: Any, expected_id: str | None) -> Lab | None:
        top = self.mapping(document, "", 1, "a mapping (id, title, level, minutes, steps ...)")
        if top is None:
            return None
        self.keys(top, "", ("id", "number", "title", "summary", "level", "minutes", "setup", "cleanup", "steps", "verify"), ("id", "title", "level", "minutes", "steps"))
        at = lambda key: self.line_of(top, key, 1)  # noqa: E731
        lab_id = self.string(top.get("id"), "id", at("id"), pattern=SLUG, what="an id (lowercase letters, digits and dashes)") if "id" in top else None
        if lab_id and len(lab_id) > 63:
            self.problem(at("id"), "id", "at most 63 characters")
        if lab_id and expected_id is not None and lab_id != expected_id:
            self.problem(at("id"), "id", f"'{lab_id}' is not the file's name: name the file {lab_id}.yaml (or the id {expected_id})")
        title = self.text(top.get("title"), "title", at("title")) if "title" in top else None
        summary = self.text(top["summary"], "summary", at("summary")) if "summary" in top else None
        level = self.choice(top.get("level"), "level", at("level"), LEVELS) if "level" in top else None
        minutes = self.integer(top.get("minutes"), "minutes", at("minutes"), 1, MAX_MINUTES) if "minutes" in top else None
        number = self.integer(top["number"], "number", at("number"), 1, 999) if "number" in top else 0
        verify_timeout = DEFAULT_VERIFY_SECONDS
        if "verify" in top:
            options = self.mapping(top["verify"], "verify", at("verify"))
            if options is not None:
                self.keys(options, "verify", ("timeout",))
                if "timeout" in options:
                    verify_timeout = self.duration(options["timeout"], "verify.timeout", self.line_of(options, "timeout", at("verify"))) or DEFAULT_VERIFY_SECONDS
        setup = self.actions(top["setup"], "setup", at("setup"), "setup") if "setup" in top else []
        cleanup = self.actions(top["cleanup"], "cleanup", at("cleanup"), "cleanup") if "cleanup" in top else []
        steps: list[Step] = []
        if "steps" in top:
            raw = top["steps"]
            if not isinstance(raw, list) or not raw:
                self.problem(at("steps"), "steps", "must be a list of at least one step")
            else:
                seen: dict[str, int] = {}
                for i, item in enumerate(raw):
                    step = self.step(item, f"steps[{i}]", self.line_of(raw, i, at("steps")))
                    if step is None:
                        continue
                    if step.id in seen:
                        self.problem(step.line, f"steps[{i}].id", f"'{step.id}' is already the id of steps[{seen[step.id]}]")
                    seen.setdefault(step.id, i)
                    steps.append(step)
        if self.problems or None in (lab_id, title, level, minutes):
            return None
        return Lab(
            id=lab_id, title=title, level=level, minutes=minutes, steps=steps, path=self.file, number=number or 0,
            summary=summary, setup=setup, cleanup=cleanup, verify_timeout=verify_timeout,
        )

    def step(self, value: Any, where: str, line: int) -> Step | None:
        raw = self.mapping(value, where, line, "a step (a mapping with id, text, checks ...)")
        if raw is None:
            return None
        allowed = ("id", "title", "text", "setup", "suggest", "checks", "hints", "solve", "solution", "predict", "quiz")
        self.keys(raw, where, allowed, ("id",))
        at = lambda key: self.line_of(raw, key, line)  # noqa: E731
        before = len(self.problems)
        step_id = self.string(raw.get("id"), f"{where}.id", at("id"), pattern=SLUG, what="a step id (lowercase letters, digits and dashes)") if "id" in raw else None
        step = Step(id=step_id or "", line=raw.line or line)
        if "title" in raw:
            step.title = self.text(raw["title"], f"{where}.title", at("title"))
        if "text" in raw:
            step.text = self.text(raw["text"], f"{where}.text", at("text"))
        if "predict" in raw and "quiz" in raw:
            self.problem(at("quiz"), where, "a step asks one question: predict or quiz, not both")
        for kind in ("predict", "quiz"):
            if kind in raw:
                step.question = self.question(raw[kind], f"{where}.{kind}", at(kind), kind)
        if "text" not in raw and "predict" not in raw and "quiz" not in raw:
            self.problem(step.line, where, "a step needs a text (or a predict or quiz question)")
        if "setup" in raw:
            step.setup = self.actions(raw["setup"], f"{where}.setup", at("setup"), "setup")
        if "suggest" in raw:
            step.suggest = self.commands(raw["suggest"], f"{where}.suggest", at("suggest"))
        if "checks" in raw:
            step.checks = self.checks(raw["checks"], f"{where}.checks", at("checks"))
        if "hints" in raw:
            hints = raw["hints"]
            if not isinstance(hints, list):
                self.problem(at("hints"), f"{where}.hints", "must be a list of texts {en, ko}, the gentlest first")
            else:
                step.hints = [h for i, item in enumerate(hints) if (h := self.text(item, f"{where}.hints[{i}]", self.line_of(hints, i, at("hints")))) is not None]
        if "solve" in raw:
            step.solve = self.actions(raw["solve"], f"{where}.solve", at("solve"), "solve")
        if "solution" in raw:
            step.solution = self.text(raw["solution"], f"{where}.solution", at("solution"))
        # Judged on what was written, so that a check or action with a problem of its own
        # does not also make these complain.
        asked = raw.get("predict", raw.get("quiz"))
        reveals = isinstance(asked, dict) and bool(asked.get("reveal"))
        if raw.get("checks") and "solve" not in raw and not reveals:
            self.problem(at("checks"), where, "a step with checks needs a solve (the actions that make them pass: `lab verify` runs them, and the learner may ask for them)")
        if "solve" in raw and not raw.get("checks") and "predict" not in raw and "quiz" not in raw:
            self.problem(at("solve"), where, "a solve without checks proves nothing: add the checks it makes pass")
        return step if len(self.problems) == before and step_id else None

    def commands(self, value: Any, where: str, line: int) -> list[str]:
        items = value if isinstance(value, list) else [value]
        out = []
        for i, item in enumerate(items):
            item_line = self.line_of(value, i, line)
            if self.kubectl(item, f"{where}[{i}]" if isinstance(value, list) else where, item_line, follow_allowed=True) is not None:
                out.append(item.strip())
        return out

    def question(self, value: Any, where: str, line: int, kind: str) -> Question | None:
        raw = self.mapping(value, where, line, "a question (question, choices, answer, explanation)")
        if raw is None:
            return None
        self.keys(raw, where, ("question", "choices", "answer", "explanation", "reveal"), ("question", "choices", "answer", "explanation"))
        at = lambda key: self.line_of(raw, key, line)  # noqa: E731
        question = self.text(raw["question"], f"{where}.question", at("question")) if "question" in raw else None
        explanation = self.text(raw["explanation"], f"{where}.explanation", at("explanation")) if "explanation" in raw else None
        choices: list[Choice] = []
        raw_choices = raw.get("choices")
        if "choices" in raw:
            if not isinstance(raw_choices, list) or len(raw_choices) < 2:
                self.problem(at("choices"), f"{where}.choices", "must be a list of at least two choices")
            else:
                for i, item in enumerate(raw_choices):
                    choice = self.choice_item(item, f"{where}.choices[{i}]", self.line_of(raw_choices, i, at("choices")))
                    if choice is None:
                        continue
                    if any(c.id == choice.id for c in choices):
                        self.problem(self.line_of(raw_choices, i, at("choices")), f"{where}.choices[{i}]", f"the choice '{choice.id}' is given twice")
                    choices.append(choice)
        answer = raw.get("answer")
        if isinstance(answer, int) and not isinstance(answer, bool):
            answer = str(answer)  # choices: [1, 2, 3] are ids "1", "2", "3"
        if "answer" in raw and choices and (not isinstance(answer, str) or answer not in [c.id for c in choices]):
            ids = [c.id for c in choices]
            self.problem(at("answer"), f"{where}.answer", f"'{answer}' is not one of the choices ({', '.join(ids)}){did_you_mean(str(answer), ids)}")
            answer = None
        reveal = self.actions(raw["reveal"], f"{where}.reveal", at("reveal"), "reveal") if "reveal" in raw else []
        if question is None or explanation is None or not choices or not isinstance(answer, str):
            return None
        return Question(kind, question, choices, answer, explanation, reveal)

    def choice_item(self, value: Any, where: str, line: int) -> Choice | None:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            # An identifier (scheduler, etcd, Pending): the same in both languages.
            return Choice(str(value), str(value), str(value))
        raw = self.mapping(value, where, line, "a choice: an identifier, or {id, en, ko}")
        if raw is None:
            return None
        self.keys(raw, where, ("id", "en", "ko"), ("id", "en", "ko"))
        choice_id = self.string(raw.get("id"), f"{where}.id", self.line_of(raw, "id", line)) if "id" in raw else None
        text = self.text({k: raw[k] for k in LANGUAGES if k in raw}, where, line) if all(k in raw for k in LANGUAGES) else None
        if choice_id is None or text is None:
            return None
        return Choice(choice_id, text.en, text.ko)

    # -- checks

    def checks(self, value: Any, where: str, line: int) -> list[Check]:
        if not isinstance(value, list):
            self.problem(line, where, "must be a list of checks")
            return []
        out = []
        for i, item in enumerate(value):
            check = self.check(item, f"{where}[{i}]", self.line_of(value, i, line))
            if check is not None:
                out.append(check)
        return out

    def check(self, value: Any, where: str, line: int, extra: tuple[str, ...] = ("text",)) -> Check | None:
        raw = self.mapping(value, where, line, "a check, e.g. {objectExists: {kind: Pod, name: web}}")
        if raw is None:
            return None
        types = [k for k in raw if k not in extra]
        if len(types) != 1:
            if not types:
                self.problem(raw.line or line, where, f"name one check: {', '.join(CHECKS)}")
            else:
                self.problem(raw.line or line, where, f"one check per item, not {len(types)} ({', '.join(map(str, types))}): make them separate items")
            return None
        kind = types[0]
        if kind not in CHECKS:
            self.problem(self.line_of(raw, kind, line), where, f"unknown check '{kind}'{did_you_mean(kind, tuple(CHECKS))}")
            return None
        text = self.text(raw["text"], f"{where}.text", self.line_of(raw, "text", line)) if "text" in raw and "text" in extra else None
        arg_line = self.line_of(raw, kind, line)
        args = self.mapping(raw[kind], f"{where}.{kind}", arg_line, f"the {kind} check's fields (a mapping)")
        if args is None:
            return None
        before = len(self.problems)
        checked = CHECKS[kind](self, args, f"{where}.{kind}", arg_line)
        if len(self.problems) != before or checked is None:
            return None
        return Check(kind, checked, text, arg_line, where)

    # -- actions

    def actions(self, value: Any, where: str, line: int, phase: str) -> list[Action]:
        """A list of actions, or one action: a `kubectl ...` string, or a mapping of one or
        more actions (run in the order written)."""
        items = value if isinstance(value, list) else [value]
        out: list[Action] = []
        for i, item in enumerate(items):
            item_where = f"{where}[{i}]" if isinstance(value, list) else where
            item_line = self.line_of(value, i, line) if isinstance(value, list) else line
            if isinstance(item, str):
                if not item.strip().startswith("kubectl "):
                    self.problem(item_line, item_where, f"an action written as a string is a kubectl command (\"kubectl get pods\"), not '{item}'")
                    continue
                words = self.kubectl(item, item_where, item_line, follow_allowed=False)
                if words is not None:
                    out.append(Action("kubectl", {"command": item.strip(), "words": words, "mayFail": False}, item_line, item_where))
                continue
            raw = self.mapping(item, item_where, item_line, "an action: a kubectl command or a mapping such as {clock: pause}")
            if raw is None:
                continue
            if not raw:
                self.problem(item_line, item_where, f"an empty action: name one of {', '.join(ACTIONS)}")
            for name in raw:
                key_line = self.line_of(raw, name, item_line)
                if name not in ACTIONS:
                    self.problem(key_line, item_where, f"unknown action '{name}'{did_you_mean(name, tuple(ACTIONS))}")
                    continue
                if name == "wait" and phase != "solve":
                    self.problem(key_line, f"{item_where}.wait", "wait is only for a solve (elsewhere, waitFor a check: it ends as soon as the cluster is ready)")
                    continue
                before = len(self.problems)
                arg = ACTIONS[name](self, raw[name], f"{item_where}.{name}", key_line)
                if len(self.problems) == before:
                    out.append(Action(name, arg, key_line, f"{item_where}.{name}"))
        return out


def _as_map(value: dict, line: int) -> Map:
    out = Map(value)
    out.line, out.key_lines = line, {}
    return out


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")


def parse_duration(value: Any) -> float | None:
    """Seconds from 5, 5s, 1.5s, 500ms or 2m; None if it is none of those."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    if match is None:
        return None
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number / 1000 if unit == "ms" else number * 60 if unit == "m" else number


# --- field paths ---------------------------------------------------------------------------------

_PATH_TOKEN = re.compile(
    r"""(?:
        \.?(?P<key>[A-Za-z0-9_-]+)                      # .name
      | \[(?P<index>-?\d+)\]                              # [0]
      | \[(?P<quote>["'])(?P<quoted>[^"']+)(?P=quote)\]  # ["podflow.dev/readiness"]
      | \[(?P<mkey>[A-Za-z0-9_.-]+)=(?P<mvalue>[^\]]*)\] # [type=Ready]
    )""",
    re.VERBOSE,
)


def parse_path(text: str) -> list[tuple]:
    """`status.conditions[type=Ready].status` as tokens: ("key", k), ("index", i), ("match", k, v).
    ValueError if it does not parse."""
    tokens: list[tuple] = []
    position = 0
    while position < len(text):
        match = _PATH_TOKEN.match(text, position)
        if match is None or match.end() == position or (position == 0 and text.startswith(".")):
            raise ValueError(f"cannot read the path at '{text[position:]}': write it as status.phase, spec.containers[0].image, metadata.labels[\"app\"] or status.conditions[type=Ready].status")
        if match.group("key") is not None:
            if position > 0 and text[position] != ".":
                raise ValueError(f"a '.' is missing before '{match.group('key')}'")
            tokens.append(("key", match.group("key")))
        elif match.group("index") is not None:
            tokens.append(("index", int(match.group("index"))))
        elif match.group("quoted") is not None:
            tokens.append(("key", match.group("quoted")))
        else:
            tokens.append(("match", match.group("mkey"), match.group("mvalue").strip("\"'")))
        position = match.end()
    if not tokens:
        raise ValueError("the path is empty")
    return tokens


_MISSING = object()


def resolve_path(doc: Any, tokens: list[tuple]) -> Any:
    """The value at the path, or MISSING."""
    current = doc
    for token in tokens:
        if token[0] == "key":
            if not isinstance(current, dict) or token[1] not in current:
                return _MISSING
            current = current[token[1]]
        elif token[0] == "index":
            if not isinstance(current, list) or not -len(current) <= token[1] < len(current):
                return _MISSING
            current = current[token[1]]
        else:
            if not isinstance(current, list):
                return _MISSING
            current = next((item for item in current if isinstance(item, dict) and str(item.get(token[1])) == token[2]), _MISSING)
            if current is _MISSING:
                return _MISSING
    return current


MISSING = _MISSING


def check_selector(text: str) -> str | None:
    """None if the label selector parses, the reason otherwise."""
    try:
        selectors.label_selector(text)
    except APIError as exc:
        return exc.message
    return None


def speed_values() -> tuple[str, ...]:
    return tuple(Speed.values)


# --- the fields of each check ------------------------------------------------------------------
# Each reader takes the check's mapping and returns its arguments with defaults filled in
# (or reports problems). cluster/labs/checks.py evaluates them, one function per type.

EXPLAIN_COMPONENTS = ("scheduler", "controller-manager", "kubelet", "container-runtime", "api-server", "node-controller", "clock", "")


def _at(raw: Map, key: str, line: int) -> int:
    return _Reader.line_of(raw, key, line)


def _object(r: _Reader, a: Map, where: str, line: int, extra: tuple[str, ...] = (), *, kind_default: str | None = None) -> dict | None:
    required = ("name",) if kind_default else ("kind", "name")
    r.keys(a, where, ("kind", "name", "namespace", *extra), required)
    kind = r.kind(a.get("kind", kind_default), f"{where}.kind", _at(a, "kind", line)) if ("kind" in a or kind_default) else None
    name = r.string(a.get("name"), f"{where}.name", _at(a, "name", line)) if "name" in a else None
    namespace = "default"
    if "namespace" in a:
        namespace = r.string(a["namespace"], f"{where}.namespace", _at(a, "namespace", line), pattern=SLUG, what="a namespace name") or "default"
        if kind and not kinds.BY_KIND[kind].namespaced:
            r.problem(_at(a, "namespace", line), f"{where}.namespace", f"a {kind} is in no namespace")
    if kind and not kinds.BY_KIND[kind].namespaced:
        namespace = ""
    if kind is None or name is None:
        return None
    return {"kind": kind, "name": name, "namespace": namespace}


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _read_object_exists(r: _Reader, a: Map, where: str, line: int) -> dict | None:
    return _object(r, a, where, line)


CONDITIONS = ("equals", "notEquals", "in", "exists", "matches")


def _read_field(r: _Reader, a: Map, where: str, line: int) -> dict | None:
    found = _object(r, a, where, line, ("path", *CONDITIONS, "forAtLeast"))
    out: dict[str, Any] = dict(found or {})
    if "path" not in a:
        r.problem(a.line or line, where, "missing 'path' (e.g. status.phase)")
    else:
        path = r.string(a["path"], f"{where}.path", _at(a, "path", line))
        if path is not None:
            try:
                out["tokens"] = parse_path(path)
                out["path"] = path
            except ValueError as exc:
                r.problem(_at(a, "path", line), f"{where}.path", str(exc))
    given = [c for c in CONDITIONS if c in a]
    if len(given) != 1:
        r.problem(a.line or line, where, f"say what the field must be with exactly one of {', '.join(CONDITIONS)}" + (f" (not {', '.join(given)})" if given else ""))
        return None
    condition = given[0]
    value = a[condition]
    at = _at(a, condition, line)
    if condition in ("equals", "notEquals") and not _scalar(value):
        r.problem(at, f"{where}.{condition}", f"must be a single value, not {_shown(value)}")
    elif condition == "in" and (not isinstance(value, list) or not value or not all(_scalar(v) for v in value)):
        r.problem(at, f"{where}.in", "must be a list of values")
    elif condition == "exists":
        r.boolean(value, f"{where}.exists", at)
    elif condition == "matches":
        if r.string(value, f"{where}.matches", at) is not None:
            try:
                re.compile(value)
            except re.error as exc:
                r.problem(at, f"{where}.matches", f"not a regular expression: {exc}")
    out["condition"], out["value"] = condition, plain(value)
    if "forAtLeast" in a:
        out["forAtLeast"] = r.duration(a["forAtLeast"], f"{where}.forAtLeast", _at(a, "forAtLeast", line))
    return out if found else None


def _read_count(r: _Reader, a: Map, where: str, line: int) -> dict | None:
    r.keys(a, where, ("kind", "namespace", "selector", "phase", "ready", "equals", "atLeast", "atMost", "terminating"))
    kind = r.kind(a.get("kind", "Pod"), f"{where}.kind", _at(a, "kind", line))
    out: dict[str, Any] = {"kind": kind, "namespace": "default", "selector": "", "phase": None, "ready": None, "terminating": False}
    if "terminating" in a:
        out["terminating"] = r.boolean(a["terminating"], f"{where}.terminating", _at(a, "terminating", line))
    if "namespace" in a:
        out["namespace"] = r.string(a["namespace"], f"{where}.namespace", _at(a, "namespace", line), pattern=SLUG, what="a namespace name")
    if kind and not kinds.BY_KIND[kind].namespaced:
        out["namespace"] = ""
    if "selector" in a:
        selector = r.string(a["selector"], f"{where}.selector", _at(a, "selector", line))
        if selector is not None:
            why = check_selector(selector)
            if why:
                r.problem(_at(a, "selector", line), f"{where}.selector", why)
            out["selector"] = selector
    for key in ("phase", "ready"):
        if key in a and kind != "Pod":
            r.problem(_at(a, key, line), f"{where}.{key}", f"only pods have a {key}")
    if "phase" in a:
        out["phase"] = r.choice(a["phase"], f"{where}.phase", _at(a, "phase", line), PHASES)
    if "ready" in a:
        out["ready"] = r.boolean(a["ready"], f"{where}.ready", _at(a, "ready", line))
    bounds = [k for k in ("equals", "atLeast", "atMost") if k in a]
    if not bounds:
        r.problem(a.line or line, where, "say how many with equals, atLeast and/or atMost")
    if "equals" in a and len(bounds) > 1:
        r.problem(_at(a, "equals", line), where, "equals cannot go with atLeast or atMost")
    for key in bounds:
        out[key] = r.integer(a[key], f"{where}.{key}", _at(a, key, line), 0, 10000)
    return out


def _read_event(r: _Reader, a: Map, where: str, line: int) -> dict | None:
    r.keys(a, where, ("reason", "kind", "name", "namespace", "type", "since"), ("reason",))
    out: dict[str, Any] = {"reason": None, "kind": None, "name": None, "namespace": "default", "type": None, "since": "step"}
    if "reason" in a:
        out["reason"] = r.string(a["reason"], f"{where}.reason", _at(a, "reason", line))
    if "kind" in a:
        out["kind"] = r.kind(a["kind"], f"{where}.kind", _at(a, "kind", line))
    if "name" in a:
        out["name"] = r.string(a["name"], f"{where}.name", _at(a, "name", line))
    if "namespace" in a:
        out["namespace"] = r.string(a["namespace"], f"{where}.namespace", _at(a, "namespace", line), pattern=SLUG, what="a namespace name")
    if "type" in a:
        out["type"] = r.choice(a["type"], f"{where}.type", _at(a, "type", line), EVENT_TYPES)
    if "since" in a:
        out["since"] = r.choice(a["since"], f"{where}.since", _at(a, "since", line), SINCE)
    return out


def _step_numbers(r: _Reader, value: Any, where: str, line: int) -> list[int]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        number = r.integer(item, where, line, 1, 8)
        if number is not None:
            out.append(number)
    return out


def _read_steps(r: _Reader, a: Map, where: str, line: int) -> dict | None:
    r.keys(a, where, ("pod", "namespace", "done", "notNeeded", "missing", "since"), ("pod",))
    out: dict[str, Any] = {"pod": None, "namespace": "default", "done": [], "notNeeded": [], "missing": [], "since": "any"}
    if "pod" in a:
        out["pod"] = r.string(a["pod"], f"{where}.pod", _at(a, "pod", line))
    if "since" in a:
        out["since"] = r.choice(a["since"], f"{where}.since", _at(a, "since", line), SINCE)
    if "namespace" in a:
        out["namespace"] = r.string(a["namespace"], f"{where}.namespace", _at(a, "namespace", line), pattern=SLUG, what="a namespace name")
    for key in ("done", "notNeeded", "missing"):
        if key in a:
            out[key] = _step_numbers(r, a[key], f"{where}.{key}", _at(a, key, line))
    if not (out["done"] or out["notNeeded"] or out["missing"]):
        r.problem(a.line or line, where, "say which of the eight steps with done, notNeeded and/or missing")
    lists = [set(out["done"]), set(out["notNeeded"]), set(out["missing"])]
    if (lists[0] & lists[1]) or (lists[0] & lists[2]) or (lists[1] & lists[2]):
        r.problem(a.line or line, where, "a step number is in more than one of done, notNeeded and missing")
    return out


def _read_explain(r: _Reader, a: Map, where: str, line: int) -> dict | None:
    r.keys(a, where, ("pod", "namespace", "reason", "component"), ("pod",))
    out: dict[str, Any] = {"pod": None, "namespace": "default", "reason": [], "component": None}
    if "pod" in a:
        out["pod"] = r.string(a["pod"], f"{where}.pod", _at(a, "pod", line))
    if "namespace" in a:
        out["namespace"] = r.string(a["namespace"], f"{where}.namespace", _at(a, "namespace", line), pattern=SLUG, what="a namespace name")
    if "reason" in a:
        reasons = a["reason"] if isinstance(a["reason"], list) else [a["reason"]]
        out["reason"] = [x for x in (r.string(v, f"{where}.reason", _at(a, "reason", line)) for v in reasons) if x]
    if "component" in a:
        out["component"] = r.choice(a["component"], f"{where}.component", _at(a, "component", line), EXPLAIN_COMPONENTS)
    if "reason" not in a and "component" not in a:
        r.problem(a.line or line, where, "say what explain must answer: reason and/or component")
    return out


def _read_request(r: _Reader, a: Map, where: str, line: int) -> dict | None:
    r.keys(a, where, ("client", "verb", "resource", "namespace", "name", "code", "since"), ("verb", "resource"))
    out: dict[str, Any] = {"client": "any", "verb": None, "resource": None, "namespace": None, "name": None, "code": None, "since": "step"}
    if "client" in a:
        out["client"] = r.choice(a["client"], f"{where}.client", _at(a, "client", line), CLIENTS)
    if "verb" in a:
        out["verb"] = r.choice(a["verb"], f"{where}.verb", _at(a, "verb", line), VERBS)
    if "resource" in a:
        resource = r.string(a["resource"], f"{where}.resource", _at(a, "resource", line))
        plurals = {k.plural for k in kinds.ALL}
        if resource is not None and resource.split("/", 1)[0] not in plurals:
            r.problem(_at(a, "resource", line), f"{where}.resource", f"unknown resource '{resource}'{did_you_mean(resource, sorted(plurals))}: use the plural, as in the URL (pods, deployments, pods/log)")
        out["resource"] = resource
    for key in ("namespace", "name"):
        if key in a:
            out[key] = r.string(a[key], f"{where}.{key}", _at(a, key, line))
    if "code" in a:
        out["code"] = r.integer(a["code"], f"{where}.code", _at(a, "code", line), 100, 599)
    if "since" in a:
        out["since"] = r.choice(a["since"], f"{where}.since", _at(a, "since", line), SINCE)
    return out


def _traffic_target(r: _Reader, a: Any, where: str, line: int, out: dict) -> None:
    """`service: name` or `ingress: name` (one of them), and `namespace`."""
    targets = [k for k in ("service", "ingress") if k in a]
    if len(targets) != 1:
        r.problem(getattr(a, "line", None) or line, where, "name one Service (service: web) or one Ingress (ingress: web)")
    else:
        out["kind"] = "Service" if targets[0] == "service" else "Ingress"
        out["name"] = r.string(a[targets[0]], f"{where}.{targets[0]}", _at(a, targets[0], line))
    if "namespace" in a:
        out["namespace"] = r.string(a["namespace"], f"{where}.namespace", _at(a, "namespace", line), pattern=SLUG, what="a namespace name")


def _read_traffic(r: _Reader, a: Map, where: str, line: int) -> dict | None:
    r.keys(a, where, ("service", "ingress", "namespace", "atLeast", "pods", "status", "since"))
    out: dict[str, Any] = {"kind": None, "name": None, "namespace": "default", "atLeast": 1, "pods": None, "status": 200, "since": "step"}
    _traffic_target(r, a, where, line, out)
    if "atLeast" in a:
        out["atLeast"] = r.integer(a["atLeast"], f"{where}.atLeast", _at(a, "atLeast", line), 1, 500)
    if "pods" in a:
        out["pods"] = r.integer(a["pods"], f"{where}.pods", _at(a, "pods", line), 1, 100)
    if "status" in a:
        out["status"] = r.integer(a["status"], f"{where}.status", _at(a, "status", line), 100, 599)
    if "since" in a:
        out["since"] = r.choice(a["since"], f"{where}.since", _at(a, "since", line), SINCE)
    return out


def _read_held(r: _Reader, a: Map, where: str, line: int) -> dict | None:
    r.keys(a, where, ("component", "step"))
    out: dict[str, Any] = {"component": None, "step": None}
    if "component" in a:
        out["component"] = r.choice(a["component"], f"{where}.component", _at(a, "component", line), cluster_clock.COMPONENTS)
    if "step" in a:
        out["step"] = r.integer(a["step"], f"{where}.step", _at(a, "step", line), 1, 8)
    return out


def _read_clock(r: _Reader, a: Map, where: str, line: int) -> dict | None:
    r.keys(a, where, ("paused",), ("paused",))
    return {"paused": r.boolean(a.get("paused"), f"{where}.paused", _at(a, "paused", line))}


def component_name(r: _Reader, value: Any, where: str, line: int) -> str | None:
    """scheduler, controller-manager or kubelet@<node> (a node's kubelet: the node's power)."""
    if isinstance(value, str) and value.startswith("kubelet@"):
        node = value.split("@", 1)[1]
        if not NODE_NAME.match(node):
            r.problem(line, where, f"'{node}' is not a node name (kubelet@node-1)")
            return None
        return value
    known = (*COMPONENTS, "kubelet@<node>")
    if not isinstance(value, str) or value not in COMPONENTS:
        r.problem(line, where, f"unknown component '{value}'{did_you_mean(str(value), known)}: use {', '.join(known)}")
        return None
    return value


def _read_component(r: _Reader, a: Map, where: str, line: int) -> dict | None:
    r.keys(a, where, ("name", "stopped"), ("name", "stopped"))
    name = component_name(r, a.get("name"), f"{where}.name", _at(a, "name", line)) if "name" in a else None
    stopped = r.boolean(a.get("stopped"), f"{where}.stopped", _at(a, "stopped", line)) if "stopped" in a else None
    return {"name": name, "stopped": stopped}


CHECKS = {
    "objectExists": _read_object_exists,
    "objectAbsent": _read_object_exists,
    "field": _read_field,
    "count": _read_count,
    "event": _read_event,
    "steps": _read_steps,
    "explain": _read_explain,
    "request": _read_request,
    "traffic": _read_traffic,
    "held": _read_held,
    "clock": _read_clock,
    "component": _read_component,
}


# --- the argument of each action ---------------------------------------------------------------
# cluster/labs/actions.py runs them, one function per type.


def _read_apply(r: _Reader, value: Any, where: str, line: int) -> list[dict]:
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        item_where = f"{where}[{i}]" if isinstance(value, list) else where
        item_line = _Reader.line_of(value, i, line) if isinstance(value, list) else line
        manifest = r.mapping(item, item_where, item_line, "a manifest (apiVersion, kind, metadata, spec)")
        if manifest is None:
            continue
        kind = r.kind(manifest.get("kind"), f"{item_where}.kind", _at(manifest, "kind", item_line))
        if kind and "apiVersion" in manifest and manifest["apiVersion"] != kinds.BY_KIND[kind].api_version:
            r.problem(_at(manifest, "apiVersion", item_line), f"{item_where}.apiVersion", f"a {kind} is {kinds.BY_KIND[kind].api_version}, not {manifest['apiVersion']}")
        meta = manifest.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta.get("name"):
            r.problem(_at(manifest, "metadata", item_line), f"{item_where}.metadata", "a manifest needs metadata.name")
            continue
        if kind:
            out.append(plain(manifest))
    return out


def _read_kubectl(r: _Reader, value: Any, where: str, line: int) -> dict | None:
    may_fail = False
    if isinstance(value, dict):
        raw = r.mapping(value, where, line)
        r.keys(raw, where, ("command", "mayFail"), ("command",))
        if "mayFail" in raw:
            may_fail = bool(r.boolean(raw["mayFail"], f"{where}.mayFail", _at(raw, "mayFail", line)))
        value = raw.get("command")
        line = _at(raw, "command", line)
    words = r.kubectl(value, where, line, follow_allowed=False)
    if words is None:
        return None
    command = value.strip()
    return {"command": command if command.startswith("kubectl") else f"kubectl {command}", "words": words, "mayFail": may_fail}


def _read_clock_action(r: _Reader, value: Any, where: str, line: int) -> dict | None:
    if isinstance(value, str):
        if value in ("pause", "resume"):
            return {"do": value}
        if value == "step":
            return {"do": "step", "component": "any"}
        r.problem(line, where, f"'{value}' is not a clock action: pause, resume, step or {{step: scheduler}}{did_you_mean(value, ('pause', 'resume', 'step'))}")
        return None
    raw = r.mapping(value, where, line, "pause, resume, step or {step: <component>}")
    if raw is None:
        return None
    r.keys(raw, where, ("step",), ("step",))
    component = r.choice(raw.get("step"), f"{where}.step", _at(raw, "step", line), STEP_COMPONENTS) if "step" in raw else None
    return {"do": "step", "component": component} if component else None


def _read_speed(r: _Reader, value: Any, where: str, line: int) -> str | None:
    return r.choice(value, where, line, speed_values())


TRAFFIC_VIA = ("clusterIP", "dns", "nodePort", "loadBalancer")


def _read_traffic_action(r: _Reader, value: Any, where: str, line: int) -> dict | None:
    raw = r.mapping(value, where, line, "{service: web, count: 20} or {ingress: web, host, path, count}")
    if raw is None:
        return None
    r.keys(raw, where, ("service", "ingress", "namespace", "count", "via", "node", "port", "host", "path"))
    out: dict[str, Any] = {"kind": None, "name": None, "namespace": "default", "count": 10, "via": None, "node": None, "port": None, "host": None, "path": None}
    _traffic_target(r, raw, where, line, out)
    if "count" in raw:
        out["count"] = r.integer(raw["count"], f"{where}.count", _at(raw, "count", line), 1, 100)
    if "via" in raw:
        out["via"] = r.choice(raw["via"], f"{where}.via", _at(raw, "via", line), TRAFFIC_VIA)
    for key in ("node", "port", "host", "path"):
        if key in raw:
            value_ = raw[key]
            out[key] = r.string(str(value_) if isinstance(value_, int) and not isinstance(value_, bool) else value_, f"{where}.{key}", _at(raw, key, line))
    wrong = [k for k in (("via", "node", "port") if out["kind"] == "Ingress" else ("host", "path")) if k in raw]
    if out["kind"] and wrong:
        r.problem(_at(raw, wrong[0], line), f"{where}.{wrong[0]}", f"{wrong[0]} is not a setting of a request to {'an Ingress' if out['kind'] == 'Ingress' else 'a Service'}")
    return out


def _read_explain_switch(r: _Reader, value: Any, where: str, line: int) -> bool | None:
    # YAML reads a bare on/off as true/false; the words are accepted as well.
    if value in (True, False):
        return value
    if value in ("on", "off"):
        return value == "on"
    r.problem(line, where, "write explain: off (the explain API answers 403 until explain: on) or explain: on")
    return None


def _read_components(r: _Reader, value: Any, where: str, line: int) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [c for i, item in enumerate(items) if (c := component_name(r, item, f"{where}[{i}]" if isinstance(value, list) else where, _Reader.line_of(value, i, line) if isinstance(value, list) else line))]


def _read_annotate(r: _Reader, value: Any, where: str, line: int) -> dict | None:
    raw = r.mapping(value, where, line, "{name, annotations} (kind Pod unless given)")
    if raw is None:
        return None
    target = _object(r, raw, where, line, ("annotations",), kind_default="Pod")
    notes = raw.get("annotations")
    if not isinstance(notes, dict) or not notes or not all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in notes.items()):
        r.problem(_at(raw, "annotations", line), f"{where}.annotations", "must map annotation names to strings (quote \"true\"; null removes one)")
        return None
    return {**target, "annotations": plain(notes)} if target else None


def _read_delete(r: _Reader, value: Any, where: str, line: int) -> dict | None:
    raw = r.mapping(value, where, line, "{kind, name}")
    if raw is None:
        return None
    target = _object(r, raw, where, line, ("force",))
    force = bool(r.boolean(raw["force"], f"{where}.force", _at(raw, "force", line))) if "force" in raw else False
    return {**target, "force": force} if target else None


def _read_delete_all(r: _Reader, value: Any, where: str, line: int) -> dict | None:
    if isinstance(value, str):
        namespace = r.string(value, where, line, pattern=SLUG, what="a namespace name")
        return {"namespace": namespace} if namespace else None
    raw = r.mapping(value, where, line, "a namespace, or {namespace: default}")
    if raw is None:
        return None
    r.keys(raw, where, ("namespace",))
    namespace = r.string(raw.get("namespace", "default"), f"{where}.namespace", _at(raw, "namespace", line), pattern=SLUG, what="a namespace name")
    return {"namespace": namespace} if namespace else None


def _read_reset(r: _Reader, value: Any, where: str, line: int) -> bool | None:
    if value is not True:
        r.problem(line, where, "write reset: true (it empties the cluster as the Reset button does)")
        return None
    return True


def _read_wait(r: _Reader, value: Any, where: str, line: int) -> float | None:
    return r.duration(value, where, line, most=60.0)


def _read_wait_for(r: _Reader, value: Any, where: str, line: int) -> dict | None:
    raw = r.mapping(value, where, line, "a check and an optional timeout: {objectExists: {...}, timeout: 30s}")
    if raw is None:
        return None
    check = r.check(raw, where, line, extra=("timeout",))
    timeout = r.duration(raw["timeout"], f"{where}.timeout", _at(raw, "timeout", line)) if "timeout" in raw else DEFAULT_WAIT_FOR_SECONDS
    return {"check": check, "timeout": timeout} if check is not None and timeout is not None else None


ACTIONS = {
    "apply": _read_apply,
    "kubectl": _read_kubectl,
    "clock": _read_clock_action,
    "speed": _read_speed,
    "explain": _read_explain_switch,
    "traffic": _read_traffic_action,
    "stop": _read_components,
    "start": _read_components,
    "annotate": _read_annotate,
    "delete": _read_delete,
    "deleteAll": _read_delete_all,
    "reset": _read_reset,
    "wait": _read_wait,
    "waitFor": _read_wait_for,
}
