"""The POSIX shell of a simulated container: podflow follows a container's script with it.

A script (`sh -c "..."`, a script file the run wrote, or one read from a pipe) is parsed
to nested tuples (see "parsing" below) and run command by command in Kubernetes seconds
from the container's start. What it prints goes to a Run, which turns it into the
container's (time, line) pairs; files it writes stay in the Run's memory.

What it follows:
- if/elif/else, while/until, for (over words or "$@"), { } groups, ( ) subshells, !,
  && and ||, pipelines (each command a subshell, all started at once; the last one's
  status), `&` jobs and `wait`;
- $VAR, ${VAR}, ${#VAR}, ${VAR:-w} and the like (-, =, +, and ? when VAR is set), $? $#
  $0 $1 … "$@" $*, $$ in the container's first process (it is 1), $(command) and
  `command`, $((arithmetic)) on integers, ~, and splitting at blanks (the default IFS);
- the redirections >, >>, >|, >&, < and `exec >file`, to the log, /dev/null,
  /dev/stdout … or a file;
- `set -e`, `-x`, `-u`; the builtins : true false echo printf test [ pwd exit export
  readonly unset set cd wait exec eval shift trap (ignored) . source; echo and SHLVL as ash
  (busybox's, alpine's), dash (Debian's) or bash do them;
- the programs whose output podflow knows: echo, printf, env, printenv, hostname, date,
  seq, cat, tee, head, tail, grep, basename, dirname, uname, pwd, true, false, test, [.
  Another shell (workload.SHELLS) runs a child shell. A server program the caller names
  (Run.servers) writes its lines until stopped. Any other program prints nothing and takes
  the time workload.simple_command gives it (`sleep N` takes N Kubernetes seconds); one
  that runs for ever stops the output.

What it does not do: there are no processes, no files but those the run wrote, the pod's
/etc/hostname and /dev/null, no terminal and no signals. A construct it cannot follow
raises Unknown and the output ends there rather than guess: a `case`, a function,
[[ … ]], here-documents (and <>), file patterns (* ?), ${x#pattern} ${x%pattern}
${x/a/b}, ++ += ?: && || in arithmetic, a division by zero, $RANDOM $SECONDS $LINENO
$PPID (unless set), $! $- (and $$ elsewhere), `cd -`, a file it does not have (read with
<, `.` or test), a printf conversion it does not format. Its programs answer their common
options only (with others they print nothing), `date` tells UTC only and `grep` matches
fixed strings only.

Limits: a read follows at most MAX_STEPS simple commands. A while loop whose condition
expands the same each time, which goes round at a steady pace and whose variables stay put
or step by a constant integer skips to its last rounds (as many as keep KEEP_LINES lines
and fit in what is left of MAX_STEPS), as a rotated container log keeps only its newest
file; a loop that would go round at one instant for ever is shown once. Stop ends a run
that goes on past what can be shown (the container ended, or the reader's now).

It knows nothing of pods: the caller gives the Run the pod's hostname and IP and its server
programs, and the first Shell its working directory and environment.
"""
from __future__ import annotations

import ast
import copy
import operator
import posixpath
import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable, Mapping

from cluster.kubelet import workload

KEEP_LINES = 1000  # the lines a long-running loop keeps
MAX_STEPS = 10000  # simple commands followed per read; the output stops after that many


# --- the shell: parsing -----------------------------------------------------------------------
#
# A script parses to nested tuples:
#   list      [(and_or, background), ...]
#   and_or    (pipeline, [("&&" | "||", pipeline), ...])
#   pipeline  (negated, [command, ...])
#   command   ("simple", [word], [redirect]) | ("while", until, list, list, [redirect])
#             | ("for", name, [word] | None, list, [redirect]) | ("if", [(list, list)], list | None, [redirect])
#             | ("group", list, [redirect]) | ("subshell", list, [redirect])
#   word      [part]: ("lit", text, quoted) | ("param", name, op, word | None, quoted)
#             | ("sub", list, quoted) | ("arith", text, quoted)
#   redirect  (fd | None, operator, word)

class Unknown(Exception):
    """Something podflow does not follow: the output stops there."""


class Stop(Exception):
    """The run goes on past what can be shown (the container ended, or the reader's now), or
    runs something that prints nothing podflow knows until it is stopped."""


class Exit(Exception):
    """The shell exits (`exit`, `exec`, or a failure under `set -e`) with `code`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


_META = frozenset(" \t\n;&|()<>")
_OPERATORS = ("&&", "||", ";;", ";", "&", "|", "(", ")", "\n")
_RESERVED_RE = re.compile(r"(if|then|elif|else|fi|while|until|do|done|for|in|case|esac|function|select|\{|\}|!|\[\[)(?=[ \t\n;&|()<>]|$)")
_REDIRECT_RE = re.compile(r"(\d?)(>>|>&|<&|<<|<>|>\||>|<)")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL_RE = re.compile(r"\d+|[?$#@*!-]")
_ASSIGNMENT_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")


class _Parser:
    def __init__(self, text: str) -> None:
        self.s, self.i = text, 0

    def script(self) -> list:
        body = self.list(set())
        self.blank()
        if self.i < len(self.s):
            raise Unknown  # a stray `)`, `;;` …
        return body

    def blank(self) -> None:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t":
                self.i += 1
            elif c == "\\" and s.startswith("\n", self.i + 1):
                self.i += 2
            elif c == "#":
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            else:
                break

    def op(self) -> str:
        self.blank()
        return next((o for o in _OPERATORS if self.s.startswith(o, self.i)), "")

    def reserved(self) -> str:
        self.blank()
        match = _RESERVED_RE.match(self.s, self.i)
        return match.group(1) if match else ""

    def take(self, word: str) -> None:
        if self.reserved() != word:
            raise Unknown
        self.i += len(word)

    def newlines(self) -> None:
        while self.op() == "\n":
            self.i += 1

    def list(self, stop: set[str]) -> list:
        items = []
        while True:
            self.newlines()
            if self.i >= len(self.s) or (")" in stop and self.op() == ")") or self.reserved() in stop - {")"}:
                return items
            node = self.and_or()
            following = self.op()
            if following in (";", "\n", "&"):
                self.i += 1
                items.append((node, following == "&"))
            else:
                items.append((node, False))
                return items

    def and_or(self) -> tuple:
        first, rest = self.pipeline(), []
        while (following := self.op()) in ("&&", "||"):
            self.i += 2
            self.newlines()
            rest.append((following, self.pipeline()))
        return first, rest

    def pipeline(self) -> tuple:
        negated = self.reserved() == "!"
        if negated:
            self.i += 1
        commands = [self.command()]
        while self.op() == "|":
            self.i += 1
            self.newlines()
            commands.append(self.command())
        return negated, commands

    def command(self) -> tuple:
        word = self.reserved()
        if word in ("while", "until"):
            self.i += len(word)
            condition = self.list({"do"})
            self.take("do")
            body = self.list({"done"})
            self.take("done")
            return ("while", word == "until", condition, body, self.redirects())
        if word == "for":
            self.i += 3
            self.blank()
            name = _NAME_RE.match(self.s, self.i)
            if not name:
                raise Unknown
            self.i = name.end()
            self.newlines()
            items = None
            if self.reserved() == "in":
                self.i += 2
                items = []
                while True:
                    following = self.op()
                    if following in (";", "\n"):
                        self.i += 1
                        break
                    if following or self.i >= len(self.s):
                        raise Unknown
                    items.append(self.word())
            elif self.op() == ";":
                self.i += 1
            self.newlines()
            self.take("do")
            body = self.list({"done"})
            self.take("done")
            return ("for", name.group(0), items, body, self.redirects())
        if word == "if":
            self.i += 2
            branches, otherwise = [], None
            while True:
                condition = self.list({"then"})
                self.take("then")
                branches.append((condition, self.list({"elif", "else", "fi"})))
                following = self.reserved()
                if following == "elif":
                    self.i += 4
                    continue
                if following == "else":
                    self.i += 4
                    otherwise = self.list({"fi"})
                self.take("fi")
                return ("if", branches, otherwise, self.redirects())
        if word == "{":
            self.i += 1
            body = self.list({"}"})
            self.take("}")
            return ("group", body, self.redirects())
        if self.op() == "(":
            self.i += 1
            body = self.list({")"})
            if self.op() != ")":
                raise Unknown
            self.i += 1
            return ("subshell", body, self.redirects())
        if word:
            raise Unknown  # case, a function, [[ … ]], or a word out of place
        return self.simple()

    def redirect(self) -> tuple | None:
        self.blank()
        match = _REDIRECT_RE.match(self.s, self.i)
        if not match:
            return None
        if match.group(2) in ("<<", "<>"):
            raise Unknown  # here-documents
        self.i = match.end()
        self.blank()
        operator_ = ">" if match.group(2) == ">|" else match.group(2)
        return (int(match.group(1)) if match.group(1) else None, operator_, self.word())

    def redirects(self) -> list:
        found = []
        while (one := self.redirect()) is not None:
            found.append(one)
        return found

    def simple(self) -> tuple:
        words, redirects = [], []
        while True:
            one = self.redirect()
            if one is not None:
                redirects.append(one)
                continue
            if self.i >= len(self.s) or self.s[self.i] in _META:
                break
            words.append(self.word())
        if not words and not redirects:
            raise Unknown
        if words and len(words[0]) == 1 and words[0][0][0] == "lit" and not words[0][0][2] and self.s.startswith("()", self.i):
            raise Unknown  # a function definition
        return ("simple", words, redirects)

    def word(self) -> list:
        parts = self.parts(None, False)
        if not parts:
            raise Unknown
        return parts

    def parts(self, end: str | None, quoted: bool) -> list:
        """A word's parts up to an unquoted metacharacter (end None), the closing `"`, or `}`."""
        s, out, text = self.s, [], []

        def flush() -> None:
            if text:
                out.append(("lit", "".join(text), quoted))
                text.clear()

        while self.i < len(s):
            c = s[self.i]
            if (end is None and c in _META) or (end is not None and c == end):
                break
            if c == "\\":
                following = s[self.i + 1:self.i + 2]
                if following == "\n":
                    self.i += 2
                elif not following or (quoted and following not in '$`"\\'):
                    text.append("\\")
                    self.i += 1
                else:
                    flush()
                    out.append(("lit", following, True))
                    self.i += 2
            elif c == "'" and not quoted:
                close = s.find("'", self.i + 1)
                if close < 0:
                    raise Unknown
                flush()
                out.append(("lit", s[self.i + 1:close], True))
                self.i = close + 1
            elif c == '"' and not quoted:
                flush()
                self.i += 1
                inner = self.parts('"', True)
                if self.i >= len(s):
                    raise Unknown
                self.i += 1
                out.extend(inner or [("lit", "", True)])
            elif c == "$":
                node = self.dollar(quoted)
                if node is None:
                    text.append("$")
                    self.i += 1
                else:
                    flush()
                    out.append(node)
            elif c == "`":
                flush()
                out.append(self.backquote(quoted))
            else:
                text.append(c)
                self.i += 1
        flush()
        return out

    def dollar(self, quoted: bool) -> tuple | None:
        s, i = self.s, self.i
        following = s[i + 1:i + 2]
        if s.startswith("$((", i):
            depth, j = 0, i + 3
            while j < len(s):
                if s[j] == "(":
                    depth += 1
                elif s[j] == ")":
                    if depth == 0:
                        if not s.startswith("))", j):
                            raise Unknown
                        self.i = j + 2
                        return ("arith", s[i + 3:j], quoted)
                    depth -= 1
                j += 1
            raise Unknown
        if following == "(":
            self.i = i + 2
            body = self.list({")"})
            if self.op() != ")":
                raise Unknown
            self.i += 1
            return ("sub", body, quoted)
        if following == "{":
            return self.braced(quoted)
        name = _NAME_RE.match(s, i + 1)
        if name:
            self.i = name.end()
            return ("param", name.group(0), "", None, quoted)
        if following and (following.isdigit() or following in "?$#@*!-"):
            self.i = i + 2
            return ("param", following, "", None, quoted)
        return None

    def braced(self, quoted: bool) -> tuple:
        s, i = self.s, self.i + 2
        length = s.startswith("#", i) and not s.startswith("}", i + 1)
        if length:
            i += 1
        name = _NAME_RE.match(s, i) or _SPECIAL_RE.match(s, i)
        if not name:
            raise Unknown
        i = name.end()
        if s.startswith("}", i):
            self.i = i + 1
            return ("param", name.group(0), "#" if length else "", None, quoted)
        op = re.compile(r":?[-=+?]").match(s, i)
        if length or not op:
            raise Unknown  # ${x#pattern}, ${x%pattern}, ${x/a/b} …
        self.i = op.end()
        word = self.parts("}", quoted)
        if not s.startswith("}", self.i):
            raise Unknown
        self.i += 1
        return ("param", name.group(0), op.group(0), word, quoted)

    def backquote(self, quoted: bool) -> tuple:
        s, j, text = self.s, self.i + 1, []
        while j < len(s) and s[j] != "`":
            if s[j] == "\\" and j + 1 < len(s) and s[j + 1] in "`\\$":
                text.append(s[j + 1])
                j += 2
                continue
            text.append(s[j])
            j += 1
        if j >= len(s):
            raise Unknown
        self.i = j + 1
        return ("sub", _parse("".join(text)), quoted)


@lru_cache(maxsize=256)
def _parse(text: str) -> list:
    return _Parser(text).script()


def _constant(node) -> bool:
    """Whether a piece of script expands to the same words every time it runs."""
    if isinstance(node, tuple):
        if node and node[0] in ("param", "sub", "arith"):
            return False
        return all(_constant(x) for x in node)
    if isinstance(node, list):
        return all(_constant(x) for x in node)
    return True


def _literal(word: list) -> str | None:
    return word[0][1] if len(word) == 1 and word[0][0] == "lit" and not word[0][2] else None


def _assignment(word: list) -> str | None:
    first = word[0]
    if first[0] != "lit" or first[2]:
        return None
    match = _ASSIGNMENT_RE.match(first[1])
    return match.group(1) if match else None


def _split(segments: list) -> list[str]:
    """Fields from expanded segments — (text, split, quoted), or None between the words of
    "$@" — splitting the unquoted expansions at blanks, as the shell does with the default IFS."""
    fields, current, started = [], [], False
    for segment in segments:
        if segment is None:
            fields.append("".join(current))
            current, started = [], False
            continue
        text, splits, quoted = segment
        if not splits:
            current.append(text)
            started = started or quoted or bool(text)
            continue
        for index, piece in enumerate(re.split(r"[ \t\n]+", text)):
            if index and started:
                fields.append("".join(current))
                current, started = [], False
            if piece:
                current.append(piece)
                started = True
    if started:
        fields.append("".join(current))
    return fields


# --- the shell: running -------------------------------------------------------------------------

_LOG, _NULL = "log", "null"  # where a file descriptor writes: the container's log, nowhere,
# a list (a command substitution's capture) or ("file", path)
_NO_INPUT = object()


class Run:
    """One run of a container: what it writes, in Kubernetes seconds from its start (`limit`
    the last it can be followed to, `scale` the real seconds per Kubernetes second), and
    what its programs know of the pod: its `hostname` and `ip`, and the `servers` — the
    programs that write their own lines, from a time on, until stopped."""

    def __init__(
        self, started: datetime, limit: float, scale: float, *, hostname: str, ip: str,
        servers: Mapping[str, Callable[[Run, float], None]] | None = None,
    ) -> None:
        self.started, self.limit, self.scale = started, limit, scale
        self.hostname, self.ip, self.servers = hostname, ip, dict(servers or {})
        self.events: list[tuple[float, str]] = []
        self.files: dict[str, str] = {}
        self.steps = 0

    def moment(self, t: float) -> datetime:
        return self.started + timedelta(seconds=round(t * self.scale, 6))

    def log(self, t: float, text: str) -> None:
        if t > self.limit:
            raise Stop
        self.events.append((t, text))

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise Stop

    def forget(self, t: float) -> None:
        """Drop what was written up to `t`: the log rotated it away."""
        self.events = [e for e in self.events if e[0] > t]

    def cut(self, t: float) -> None:
        """Drop what was written after `t`: the container had ended."""
        self.events = [e for e in self.events if e[0] <= t]

    def newlines_since(self, index: int) -> int:
        return sum(text.count("\n") for _, text in self.events[index:])

    def lines(self) -> list[tuple[datetime, str]]:
        out, pending, last = [], "", 0.0
        for t, text in sorted(self.events, key=lambda e: e[0]):
            pieces = text.split("\n")
            for piece in pieces[:-1]:
                out.append((self.moment(t), pending + piece))
                pending = ""
            pending += pieces[-1]
            last = t
        if pending:
            out.append((self.moment(last), pending))
        return out


class Shell:
    """A shell (or, with pid1 and no script, the container's first process): its variables,
    its position in time, where its output goes."""

    def __init__(
        self, run: Run, env: Mapping[str, str], *, flavour: str, arg0: str = "sh", args: list[str] | tuple = (), t: float = 0.0, cwd: str = "/", pid1: bool = False,
    ) -> None:
        self.run = run
        self.vars = dict(env)
        self.exported = set(env)
        self.arg0, self.args = arg0, list(args)
        self.flavour = flavour  # "ash", "dash" or "bash": what echo does with backslashes, SHLVL
        self.t = t
        self.status = 0
        self.cwd = cwd
        self.errexit = self.xtrace = self.nounset = False
        self.fds: dict[int, object] = {1: _LOG, 2: _LOG}
        self.pid1 = pid1  # $$ is 1: the container's first process, or a shell it is
        self.scripted = False  # a shell running a script (not the container's first process)
        self.guarded = 0  # inside a condition: `set -e` does not apply
        self.substitutions = 0
        self.jobs_end, self.jobs_forever = t, False

    def fork(self) -> Shell:
        other = copy.copy(self)
        other.vars, other.exported, other.args, other.fds = dict(self.vars), set(self.exported), list(self.args), dict(self.fds)
        return other

    def environ(self) -> dict[str, str]:
        return {k: v for k, v in self.vars.items() if k in self.exported}

    def assign(self, name: str, value: str) -> None:
        self.vars[name] = value

    def advance(self, seconds: float) -> None:
        self.t += seconds
        if self.t > self.run.limit:
            raise Stop

    def write(self, fd: int, text: str) -> None:
        if not text:
            return
        target = self.fds.get(fd, _LOG)
        if target == _LOG:
            self.run.log(self.t, text)
        elif isinstance(target, list):
            target.append(text)
        elif isinstance(target, tuple):
            self.run.files[target[1]] = self.run.files.get(target[1], "") + text

    def path(self, name: str) -> str:
        return posixpath.normpath(posixpath.join(self.cwd, name))

    def read_file(self, name: str) -> str | None:
        """A file's text, if podflow knows it: one the run wrote, or the pod's /etc/hostname."""
        path = self.path(name)
        if path in self.run.files:
            return self.run.files[path]
        if path == "/etc/hostname":
            return self.run.hostname + "\n"
        return None

    # expansion

    def lookup(self, name: str) -> str | None:
        if name == "?":
            return str(self.status)
        if name == "#":
            return str(len(self.args))
        if name == "0":
            return self.arg0
        if name.isdigit():
            index = int(name)
            return self.args[index - 1] if index <= len(self.args) else None
        if name == "$" and self.pid1:
            return "1"
        if name in ("$", "!", "-") or (name in ("RANDOM", "SECONDS", "LINENO", "PPID") and name not in self.vars):
            raise Unknown
        return self.vars.get(name)

    def expand(self, word: list, split: bool = True) -> list[str]:
        segments: list = []
        for index, part in enumerate(word):
            kind = part[0]
            if kind == "lit":
                text, quoted = part[1], part[2]
                if not quoted:
                    if index == 0 and (text == "~" or text.startswith("~/")):
                        text = self.vars.get("HOME", "/") + text[1:]
                    if "*" in text or "?" in text:
                        raise Unknown  # a pattern the shell matches against files
                segments.append((text, False, quoted))
            elif kind == "param":
                self.parameter(part, segments)
            elif kind == "sub":
                segments.append((self.substitute(part[1]), not part[2], part[2]))
            else:
                segments.append((str(self.arithmetic(part[1])), not part[2], part[2]))
        if not split:
            return [" ".join("".join(s[0] for s in group if s) for group in _groups(segments))]
        return _split(segments)

    def parameter(self, part: tuple, segments: list) -> None:
        _, name, op, arg, quoted = part
        if name in ("@", "*") and not op:
            if quoted and name == "@":
                for index, value in enumerate(self.args):
                    if index:
                        segments.append(None)
                    segments.append((value, False, True))
            else:
                segments.append((" ".join(self.args), not quoted, quoted))
            return
        value = self.lookup(name)
        if op == "#":
            value = str(len(value or ""))
        elif op:
            missing = value is None or (op.startswith(":") and value == "")
            kind = op[-1]
            if kind == "?" and missing:
                raise Unknown
            if kind in "-=" and missing:
                value = self.expand(arg, split=False)[0]
                if kind == "=":
                    self.assign(name, value)
            elif kind == "+":
                value = "" if missing else self.expand(arg, split=False)[0]
        if value is None:
            if self.nounset:
                raise Unknown
            value = ""
        segments.append((value, not quoted, quoted))

    def substitute(self, body: list) -> str:
        sub = self.fork()
        captured: list[str] = []
        sub.fds[1] = captured
        try:
            sub.run_list(body)
        except Exit as done:
            sub.status = done.code
        self.t, self.status = sub.t, sub.status
        self.substitutions += 1
        return "".join(captured).rstrip("\n")

    def arithmetic(self, text: str) -> int:
        text = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*|\d|[?#])\}?", lambda m: self.lookup(m.group(1)) or "0", text)
        if "$" in text or "`" in text:
            raise Unknown
        return _arith(text.strip() or "0", self.vars)

    # commands

    def run_list(self, items: list) -> int:
        for node, background in items:
            if background:
                self.background(node)
            else:
                self.run_and_or(node)
        return self.status

    def run_and_or(self, node: tuple) -> int:
        first, rest = node
        status = self.run_pipeline(first, checked=not rest)
        for index, (op, pipeline) in enumerate(rest):
            if (op == "&&") == (status == 0):
                status = self.run_pipeline(pipeline, checked=index == len(rest) - 1)
        self.status = status
        return status

    def run_pipeline(self, node: tuple, *, checked: bool) -> int:
        negated, commands = node
        if len(commands) == 1:
            status = self.run_command(commands[0], _NO_INPUT)
        else:  # each command in a subshell, all started at once; the last one's status
            start, end, data, status = self.t, self.t, _NO_INPUT, 0
            for index, command in enumerate(commands):
                part = self.fork()
                part.t = start
                captured: list[str] = []
                if index < len(commands) - 1:
                    part.fds[1] = captured
                try:
                    status = part.run_command(command, data)
                except Exit as done:
                    status = done.code
                end = max(end, part.t)
                data = "".join(captured)
            self.t = end
        if negated:
            status = int(status == 0)
        self.status = status
        if checked and not negated and status and self.errexit and not self.guarded:
            raise Exit(status)
        return status

    def condition(self, body: list) -> int:
        self.guarded += 1
        try:
            return self.run_list(body)
        finally:
            self.guarded -= 1

    def run_command(self, command: tuple, stdin) -> int:
        kind = command[0]
        if kind == "simple":
            return self.run_simple(command[1], command[2], stdin)
        saved = self.fds
        if command[-1]:
            self.fds, _ = self.redirect(command[-1])
        try:
            if kind == "while":
                status = self.run_while(command)
            elif kind == "for":
                status = 0
                values = self.fields(command[2]) if command[2] is not None else list(self.args)
                for value in values:
                    self.assign(command[1], value)
                    status = self.run_list(command[3])
            elif kind == "if":
                status = 0
                for condition, body in command[1]:
                    if self.condition(condition) == 0:
                        status = self.run_list(body)
                        break
                else:
                    if command[2] is not None:
                        status = self.run_list(command[2])
            elif kind == "group":
                status = self.run_list(command[1])
            else:
                sub = self.fork()
                try:
                    sub.run_list(command[1])
                except Exit as done:
                    sub.status = done.code
                self.t, status = sub.t, sub.status
        finally:
            self.fds = saved
        self.status = status
        return status

    def run_while(self, command: tuple) -> int:
        _, until, condition, body, _ = command
        constant = _constant(condition)
        history: list[tuple[float, dict[str, str], int, int]] = []
        status = 0
        while True:
            start, before = self.t, dict(self.vars)
            if (self.condition(condition) == 0) == until:
                return status
            written, steps = len(self.run.events), self.run.steps
            status = self.run_list(body)
            if self.t == start and self.vars == before:
                raise Stop  # it would go round at one instant for ever: one round is shown
            if constant and self.t > start:
                history.append((self.t - start, dict(self.vars), self.run.newlines_since(written), self.run.steps - steps))
                if len(history) >= 3:
                    self.fast_forward(history[-3:])

    def fast_forward(self, rounds: list[tuple[float, dict[str, str], int, int]]) -> None:
        """Skip to the last rounds before the end of what can be shown (as many as keep
        KEEP_LINES lines and fit in what is left of MAX_STEPS), when the loop goes round at a
        steady pace and its variables stay put or step by a constant integer."""
        (_, first, _, _), (took, second, _, _), (duration, third, written, cost) = rounds
        if abs(took - duration) > 1e-9:
            return
        steps = {}
        for name in set(first) | set(second) | set(third):
            values = (first.get(name), second.get(name), third.get(name))
            if values[0] == values[1] == values[2]:
                continue
            if any(v is None or not re.fullmatch(r"-?\d+", v) or str(int(v)) != v for v in values):
                return
            a, b, c = (int(v) for v in values)
            if b - a != c - b:
                return
            steps[name] = c - b
        keep = max(1, min(KEEP_LINES // max(1, written), (MAX_STEPS - self.run.steps) // (2 * max(1, cost))))
        skip = int((self.run.limit - self.t) // duration) - keep
        if skip <= 0:
            return
        self.t += skip * duration
        for name, step in steps.items():
            self.vars[name] = str(int(self.vars[name]) + skip * step)
        self.run.forget(self.t)

    def background(self, node: tuple) -> None:
        job = self.fork()
        try:
            job.run_and_or(node)
        except Exit:
            pass
        except (Stop, Unknown):
            self.jobs_forever = True  # it runs on (or past what can be shown)
        else:
            self.jobs_end = max(self.jobs_end, job.t)
        self.status = 0

    def fields(self, words: list) -> list[str]:
        out: list[str] = []
        for word in words:
            out.extend(self.expand(word))
        return out

    def redirect(self, redirects: list) -> tuple[dict, object]:
        fds, stdin = dict(self.fds), _NO_INPUT
        for fd, op, word in redirects:
            target = self.expand(word, split=False)[0]
            if op in (">", ">>"):
                fds[1 if fd is None else fd] = self.sink(target, op == ">>", fds)
            elif op == ">&":
                fd = 1 if fd is None else fd
                if target == "-":
                    fds[fd] = _NULL
                elif target.isdigit():
                    fds[fd] = fds.get(int(target), _NULL)
                else:
                    fds[fd] = self.sink(target, False, fds)
            elif op == "<" and (fd or 0) == 0:
                text = "" if self.path(target) == "/dev/null" else self.read_file(target)
                if text is None:
                    raise Unknown
                stdin = text
        return fds, stdin

    def sink(self, name: str, append: bool, fds: dict) -> object:
        path = self.path(name)
        if path == "/dev/null":
            return _NULL
        if path in ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"):
            return fds.get(1, _LOG)
        if path in ("/dev/stderr", "/dev/fd/2", "/proc/self/fd/2"):
            return fds.get(2, _LOG)
        if path in ("/proc/1/fd/1", "/proc/1/fd/2"):
            return _LOG
        if path.startswith(("/dev/", "/proc/", "/sys/")):
            return _NULL  # /dev/termination-log and the like: not the log
        if append:
            self.run.files.setdefault(path, "")
        else:
            self.run.files[path] = ""
        return ("file", path)

    def run_simple(self, words: list, redirects: list, stdin) -> int:
        self.run.step()
        substituted = self.substitutions
        index, assigned = 0, []
        while index < len(words) and _assignment(words[index]):
            name = _assignment(words[index])
            first = words[index][0]
            value_word = [("lit", first[1][len(name) + 1:], False)] + words[index][1:]
            assigned.append((name, self.expand(value_word, split=False)[0]))
            index += 1
        rest = words[index:]
        declaring = bool(rest) and _literal(rest[0]) in ("export", "readonly")
        argv: list[str] = []
        for word in rest:
            name = _assignment(word) if declaring and argv else None
            if name:
                value_word = [("lit", word[0][1][len(name) + 1:], False)] + word[1:]
                argv.append(f"{name}={self.expand(value_word, split=False)[0]}")
            else:
                argv.extend(self.expand(word))
        fds, redirected = self.redirect(redirects) if redirects else (self.fds, _NO_INPUT)
        if redirected is not _NO_INPUT:
            stdin = redirected
        if self.xtrace:
            self.write(2, "+ " + " ".join([f"{n}={_quote(v)}" for n, v in assigned] + [_quote(x) for x in argv]) + "\n")
        if not argv:
            for name, value in assigned:
                self.assign(name, value)
            if self.substitutions == substituted:
                self.status = 0  # else: the last command substitution's status
            return self.status
        if argv == ["exec"]:
            self.fds = fds  # `exec >file`: for the rest of the script
            return 0
        saved, self.fds = self.fds, fds
        try:
            builtin = _BUILTINS.get(argv[0])
            if builtin is not None:
                status = builtin(self, argv, stdin)
            else:
                env = self.environ()
                env.update(assigned)
                status = self.program(argv, env, stdin)
        finally:
            self.fds = saved
        self.status = status
        return status

    def program(self, argv: list[str], env: dict[str, str], stdin) -> int:
        """Run a program (not a shell builtin): its output, its time, its exit code."""
        name = argv[0].rsplit("/", 1)[-1]
        args = argv[1:]
        if name in workload.SHELLS:
            return self.shell(name, args, env, stdin)
        handler = _PROGRAMS.get(name)
        if handler is not None:
            return handler(self, args, env, stdin)
        serve = self.run.servers.get(name)
        if serve is not None:
            serve(self.run, self.t)
            raise Stop  # it serves until stopped
        seconds, code, forever = workload.simple_command(name, args)
        if forever:
            raise Stop  # it runs until stopped, printing nothing podflow knows
        self.advance(seconds)
        return code

    def shell(self, name: str, args: list[str], env: dict[str, str], stdin) -> int:
        flavour = {"bash": "bash", "dash": "dash", "ash": "ash"}.get(name, self.flavour)
        options, index = "", 0
        while index < len(args) and args[index][:1] in ("-", "+") and args[index] not in ("-", "--"):
            if args[index] == "-o":
                index += 1
            elif args[index].startswith("--"):
                pass  # --login, --norc …: nothing that changes what it prints
            elif args[index][0] == "-":
                options += args[index][1:]
            index += 1
        if index < len(args) and args[index] == "--":
            index += 1
        if "c" in options:
            if index >= len(args):
                return 2
            body, arg0, rest = _parse(args[index]), (args[index + 1] if index + 1 < len(args) else name), args[index + 2:]
        elif index < len(args):
            text = self.read_file(args[index])
            if text is None:
                return 2  # a script podflow does not have
            body, arg0, rest = _parse(text), args[index], args[index + 1:]
        elif isinstance(stdin, str):
            body, arg0, rest = _parse(stdin), name, []
        else:
            return 0  # no script and no terminal: it reads nothing and exits
        env = dict(env)
        env.setdefault("PWD", self.cwd)
        if flavour in ("ash", "bash"):
            env["SHLVL"] = str(int(env["SHLVL"]) + 1 if env.get("SHLVL", "").isdigit() else 1)
        child = Shell(self.run, env, flavour=flavour, arg0=arg0, args=rest, t=self.t, pid1=self.pid1 and not self.scripted)
        child.scripted = True
        child.cwd, child.fds = self.cwd, dict(self.fds)
        child.errexit, child.xtrace, child.nounset = "e" in options, "x" in options, "u" in options
        try:
            child.run_list(body)
            status = child.status
        except Exit as done:
            status = done.code
        self.t = child.t
        return status


def _groups(segments: list) -> list[list]:
    groups: list[list] = [[]]
    for segment in segments:
        if segment is None:
            groups.append([])
        else:
            groups[-1].append(segment)
    return groups


def _quote(text: str) -> str:
    """A word as `set -x` shows it."""
    return text if text and re.fullmatch(r"[\w@%+=:,./-]+", text) else "'" + text.replace("'", "'\\''") + "'"


# --- arithmetic ---------------------------------------------------------------------------------

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.LShift: operator.lshift,
    ast.RShift: operator.rshift, ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}


def _arith(text: str, variables: Mapping[str, str]) -> int:
    """$(( … )) on integers: + - * / % and comparisons, with variables by name."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise Unknown from None  # ++, +=, ?:, &&, || …

    def value(node) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name):
            raw = (variables.get(node.id) or "0").strip()
            if not re.fullmatch(r"-?\d+", raw):
                raise Unknown
            return int(raw)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
            inner = value(node.operand)
            return -inner if isinstance(node.op, ast.USub) else (~inner if isinstance(node.op, ast.Invert) else inner)
        if isinstance(node, ast.BinOp):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
                if right == 0:
                    raise Unknown  # division by zero: the shell stops with an error
                quotient = abs(left) // abs(right) * (1 if (left >= 0) == (right >= 0) else -1)  # towards zero, as C
                return left - right * quotient if isinstance(node.op, ast.Mod) else quotient
            if type(node.op) in _BINARY:
                return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            return int(_COMPARE[type(node.ops[0])](value(node.left), value(node.comparators[0])))
        raise Unknown

    return value(tree.body)


# --- the programs podflow knows -----------------------------------------------------------------

_ESCAPES = {"\\": "\\", "a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"'}


def _unescape(text: str, *, echo: bool) -> tuple[str, bool]:
    """Backslash escapes as echo -e (\\0NNN) or printf (\\NNN) reads them; True when \\c
    ended the output."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 == len(text):
            out.append(c)
            i += 1
            continue
        following = text[i + 1]
        if following == "c":
            return "".join(out), True
        if following in _ESCAPES and (following != '"' or not echo):
            out.append(_ESCAPES[following])
            i += 2
        elif following.isdigit() and following < "8" and (following == "0" or not echo):
            start = i + 2 if echo else i + 1
            digits = re.match(r"[0-7]{0,3}", text[start:start + 3]).group(0)
            out.append(chr(int(digits or "0", 8) & 0xFF))
            i = start + len(digits)
        else:
            out.append("\\" + following)
            i += 2
    return "".join(out), False


def _echo(sh: Shell, args: list[str], *, builtin: bool) -> int:
    newline, escapes, index = True, builtin and sh.flavour == "dash", 0
    if builtin and sh.flavour == "dash":
        if args[:1] == ["-n"]:
            newline, index = False, 1
    else:
        while index < len(args) and re.fullmatch(r"-[neE]+", args[index]):
            for flag in args[index][1:]:
                if flag == "n":
                    newline = False
                else:
                    escapes = flag == "e"
            index += 1
    text = " ".join(args[index:])
    if escapes:
        text, stopped = _unescape(text, echo=True)
        newline = newline and not stopped
    sh.write(1, text + ("\n" if newline else ""))
    return 0


_CONVERSION_RE = re.compile(r"%([-+ #0]*)(\d+|\*)?(?:\.(\d*|\*))?([diouxXcsbeEfgG%])")


def _printf(sh: Shell, args: list[str]) -> int:
    if not args:
        return 1
    form, rest, out = args[0], list(args[1:]), []
    while True:
        used = 0
        pieces, position, stopped = [], 0, False

        def take() -> str:
            nonlocal used
            used += 1
            return rest[used - 1] if used <= len(rest) else ""

        for match in _CONVERSION_RE.finditer(form):
            text, stopped = _unescape(form[position:match.start()], echo=False)
            pieces.append(text)
            position = match.end()
            if stopped:
                break
            flags, width, precision, conversion = match.groups()
            if conversion == "%":
                pieces.append("%")
                continue
            width = take() if width == "*" else (width or "")
            precision = take() if precision == "*" else precision
            spec = "%" + flags + width + ("." + precision if precision is not None else "")
            argument = take()
            if conversion in "sb":
                if conversion == "b":
                    argument, stopped = _unescape(argument, echo=True)
                pieces.append((spec + "s") % argument)
                if stopped:
                    break
            elif conversion == "c":
                pieces.append((spec + "s") % argument[:1])
            elif conversion in "diouxX":
                pieces.append((spec + ("d" if conversion in "diu" else conversion)) % _integer(argument))
            else:
                pieces.append((spec + conversion) % float(argument or 0))
        if not stopped:
            text, stopped = _unescape(form[position:], echo=False)
            if "%" in text:
                raise Unknown  # a conversion podflow does not format
            pieces.append(text)
        out.append("".join(pieces))
        rest = rest[used:]
        if stopped or not used or not rest:
            break
    sh.write(1, "".join(out))
    return 0


def _integer(text: str) -> int:
    text = text.strip()
    if not text:
        return 0
    if text[0] in "'\"":
        return ord(text[1]) if len(text) > 1 else 0
    try:
        return int(text, 0) if not re.fullmatch(r"-?0\d+", text) else int(text, 8)
    except ValueError:
        return 0


def _test(args: list[str], sh: Shell) -> int:
    """test / [: 0 true, 1 false, 2 an error."""
    position = 0

    def at(offset: int = 0) -> str | None:
        return args[position + offset] if position + offset < len(args) else None

    def either() -> bool:
        nonlocal position
        result = both()
        while at() == "-o":
            position += 1
            result = both() or result
        return result

    def both() -> bool:
        nonlocal position
        result = negation()
        while at() == "-a":
            position += 1
            result = negation() and result
        return result

    def negation() -> bool:
        nonlocal position
        if at() == "!" and at(1) is not None:
            position += 1
            return not negation()
        return primary()

    def primary() -> bool:
        nonlocal position
        first = at()
        if first is None:
            raise ValueError("argument expected")
        if first == "(" and at(2) == ")":
            position += 1
            result = either()
            position += 1
            return result
        if at(1) in ("=", "==", "!=", "<", ">", "-eq", "-ne", "-lt", "-le", "-gt", "-ge") and at(2) is not None:
            left, op, right = first, at(1), at(2)
            position += 3
            if op in ("=", "=="):
                return left == right
            if op == "!=":
                return left != right
            if op in ("<", ">"):
                return left < right if op == "<" else left > right
            if not re.fullmatch(r"\s*[-+]?\d+\s*", left) or not re.fullmatch(r"\s*[-+]?\d+\s*", right):
                raise ValueError("integer expression expected")
            a, b = int(left), int(right)
            return {"-eq": a == b, "-ne": a != b, "-lt": a < b, "-le": a <= b, "-gt": a > b, "-ge": a >= b}[op]
        if first in ("-z", "-n") and at(1) is not None:
            position += 2
            return (at(-1) == "") == (first == "-z")
        if re.fullmatch(r"-[efsdrwxLhpSbcgukt]", first) and at(1) is not None:
            name = at(1)
            position += 2
            if first == "-t":
                return False  # no terminal
            path = sh.path(name)
            if path in sh.run.files:
                return first in ("-e", "-f", "-r", "-w") or (first == "-s" and bool(sh.run.files[path]))
            if path == "/" and first in ("-e", "-d", "-r", "-x"):
                return True
            raise Unknown  # a file podflow does not know
        position += 1
        return first != ""

    try:
        result = either()
    except ValueError:
        return 2
    return 0 if result and position >= len(args) else (1 if position >= len(args) else 2)


def _lines_of(sh: Shell, files: list[str], stdin) -> str | None:
    if not files:
        return stdin if isinstance(stdin, str) else ""
    texts = [(stdin if isinstance(stdin, str) else "") if f == "-" else sh.read_file(f) for f in files]
    return None if any(t is None for t in texts) else "".join(texts)


def _count_option(args: list[str]) -> tuple[int, list[str]] | None:
    """head/tail's -n N, -nN or -N, and the files after it."""
    count, files, index = 10, [], 0
    while index < len(args):
        arg = args[index]
        if arg == "-n" and index + 1 < len(args):
            arg = "-n" + args[index + 1]
            index += 1
        if re.fullmatch(r"-n?\d+", arg):
            count = int(arg.lstrip("-n"))
        elif arg.startswith("-") and arg != "-":
            return None
        else:
            files.append(arg)
        index += 1
    return count, files


def _head_tail(sh: Shell, args: list[str], stdin, *, head: bool) -> int:
    parsed = _count_option(args)
    if parsed is None:
        return 0
    count, files = parsed
    text = _lines_of(sh, files, stdin)
    if text is None or len(files) > 1:
        return 0
    rows = text.splitlines(keepends=True)
    sh.write(1, "".join(rows[:count] if head else (rows[-count:] if count else [])))
    return 0


def _tail(sh: Shell, args: list[str], env: dict, stdin) -> int:
    if any(a in ("-f", "-F", "--follow") or a.startswith("--follow") for a in args):
        raise Stop  # it follows the file until stopped
    return _head_tail(sh, args, stdin, head=False)


def _grep(sh: Shell, args: list[str], env: dict, stdin) -> int:
    flags, rest = set(), []
    for arg in args:
        if re.fullmatch(r"-[viqcFE]+", arg):
            flags.update(arg[1:])
        elif arg.startswith("-") and arg != "-":
            return 0
        else:
            rest.append(arg)
    if not rest or len(rest) > 2 or (re.search(r"[.*^$\[\]\\+?(){}|]", rest[0]) and "F" not in flags):
        return 0  # a regular expression podflow does not match
    text = _lines_of(sh, rest[1:], stdin)
    if text is None:
        return 0
    pattern = rest[0].lower() if "i" in flags else rest[0]
    chosen = [row for row in text.splitlines(keepends=True) if ((pattern in row.lower()) if "i" in flags else (pattern in row)) != ("v" in flags)]
    if "c" in flags:
        sh.write(1, f"{len(chosen)}\n")
    elif "q" not in flags:
        sh.write(1, "".join(row if row.endswith("\n") else row + "\n" for row in chosen))
    return 0 if chosen else 1


def _cat(sh: Shell, args: list[str], env: dict, stdin) -> int:
    if any(a.startswith("-") and a != "-" for a in args):
        return 0
    for name in args or ["-"]:
        text = (stdin if isinstance(stdin, str) else "") if name == "-" else sh.read_file(name)
        if text is not None:
            sh.write(1, text)
    return 0


def _tee(sh: Shell, args: list[str], env: dict, stdin) -> int:
    text = stdin if isinstance(stdin, str) else ""
    append = "-a" in args
    for name in (a for a in args if not a.startswith("-")):
        target = sh.sink(name, append, sh.fds)
        if isinstance(target, tuple):
            sh.run.files[target[1]] += text
        elif target == _LOG:
            sh.run.log(sh.t, text)
    sh.write(1, text)
    return 0


def _env(sh: Shell, args: list[str], env: dict, stdin) -> int:
    env, index = dict(env), 0
    while index < len(args):
        arg = args[index]
        if arg in ("-i", "-", "--ignore-environment"):
            env = {}
        elif arg == "-u" and index + 1 < len(args):
            env.pop(args[index + 1], None)
            index += 1
        elif arg == "--":
            index += 1
            break
        elif arg.startswith("-"):
            return 0
        elif "=" in arg:
            name, value = arg.split("=", 1)
            env[name] = value
        else:
            break
        index += 1
    if index < len(args):
        return sh.program(args[index:], env, stdin)
    sh.write(1, "".join(f"{name}={value}\n" for name, value in env.items()))
    return 0


def _printenv(sh: Shell, args: list[str], env: dict, stdin) -> int:
    if any(a.startswith("-") for a in args):
        return 0
    if not args:
        sh.write(1, "".join(f"{name}={value}\n" for name, value in env.items()))
        return 0
    for name in args:
        if name in env:
            sh.write(1, env[name] + "\n")
    return 0 if all(name in env for name in args) else 1


def _hostname(sh: Shell, args: list[str], env: dict, stdin) -> int:
    name = sh.run.hostname
    if not args:
        sh.write(1, name + "\n")
    elif args == ["-s"]:
        sh.write(1, name.split(".", 1)[0] + "\n")
    elif args == ["-i"]:
        sh.write(1, sh.run.ip + "\n")
    return 0


_DATE_FORMATS = {
    "-R": "%a, %d %b %Y %H:%M:%S +0000", "--rfc-email": "%a, %d %b %Y %H:%M:%S +0000", "--rfc-2822": "%a, %d %b %Y %H:%M:%S +0000",
    "-I": "%Y-%m-%d", "-Idate": "%Y-%m-%d", "--iso-8601": "%Y-%m-%d", "--iso-8601=date": "%Y-%m-%d",
    "-Iseconds": "%Y-%m-%dT%H:%M:%S+00:00", "--iso-8601=seconds": "%Y-%m-%dT%H:%M:%S+00:00",
    "--rfc-3339=seconds": "%Y-%m-%d %H:%M:%S+00:00",
}


def _date(sh: Shell, args: list[str], env: dict, stdin) -> int:
    form = "%a %b %e %H:%M:%S %Z %Y"
    for arg in args:
        if arg in ("-u", "--utc", "--universal"):
            continue
        if arg.startswith("+"):
            form = arg[1:]
        elif arg in _DATE_FORMATS:
            form = _DATE_FORMATS[arg]
        else:
            return 0  # a date podflow does not compute (-d, -r …)
    if env.get("TZ", "UTC") not in ("", "UTC", "UTC0", "Etc/UTC"):
        return 0  # podflow's containers tell the time in UTC only
    text = _strftime(sh.run.moment(sh.t), form)
    if text is not None:
        sh.write(1, text + "\n")
    return 0


def _strftime(moment: datetime, form: str) -> str | None:
    unknown = False

    def one(match: re.Match) -> str:
        nonlocal unknown
        c = match.group(1)
        fixed = {"%": "%", "n": "\n", "t": "\t", "Z": "UTC", "z": "+0000", "e": f"{moment.day:2d}", "k": f"{moment.hour:2d}",
                 "s": str(int(moment.timestamp())), "N": f"{moment.microsecond * 1000:09d}"}
        if c in fixed:
            return fixed[c]
        if c in "aAbBhdHIjmMpSuwyYFTDRCgGVUWc":
            return moment.strftime("%" + c)
        unknown = True
        return ""

    text = re.sub(r"%(.)", one, form)
    return None if unknown else text


def _seq(sh: Shell, args: list[str], env: dict, stdin) -> int:
    if not args or len(args) > 3 or not all(re.fullmatch(r"-?\d+", a) for a in args):
        return 0  # options, or numbers podflow does not count
    numbers = [int(a) for a in args]
    first, step, last = (1, 1, numbers[0]) if len(numbers) == 1 else ((numbers[0], 1, numbers[1]) if len(numbers) == 2 else tuple(numbers))
    if step == 0:
        return 1
    values = range(first, last + (1 if step > 0 else -1), step)
    if len(values) > MAX_STEPS:
        raise Stop
    sh.write(1, "".join(f"{v}\n" for v in values))
    return 0


def _basename(sh: Shell, args: list[str], env: dict, stdin) -> int:
    if not args or len(args) > 2 or args[0].startswith("-"):
        return 0
    name = args[0].rstrip("/") or "/"
    base = name if name == "/" else name.rsplit("/", 1)[-1]
    if len(args) == 2 and base.endswith(args[1]) and base != args[1]:
        base = base[: -len(args[1])]
    sh.write(1, base + "\n")
    return 0


def _dirname(sh: Shell, args: list[str], env: dict, stdin) -> int:
    if len(args) != 1:
        return 0
    name = args[0].rstrip("/")
    if not name:
        parent = "/" if args[0] else "."
    elif "/" not in name:
        parent = "."
    else:
        parent = name.rsplit("/", 1)[0].rstrip("/") or "/"
    sh.write(1, parent + "\n")
    return 0


def _uname(sh: Shell, args: list[str], env: dict, stdin) -> int:
    if args in ([], ["-s"]):
        sh.write(1, "Linux\n")
    return 0


def _pwd(sh: Shell, argv: list[str], stdin) -> int:
    sh.write(1, sh.cwd + "\n")
    return 0


_PROGRAMS: dict[str, Callable[[Shell, list[str], dict, object], int]] = {
    "echo": lambda sh, args, env, stdin: _echo(sh, args, builtin=False),
    "printf": lambda sh, args, env, stdin: _printf(sh, args),
    "env": _env,
    "printenv": _printenv,
    "hostname": _hostname,
    "date": _date,
    "seq": _seq,
    "cat": _cat,
    "tee": _tee,
    "head": lambda sh, args, env, stdin: _head_tail(sh, args, stdin, head=True),
    "tail": _tail,
    "grep": _grep,
    "basename": _basename,
    "dirname": _dirname,
    "uname": _uname,
    "pwd": lambda sh, args, env, stdin: _pwd(sh, args, stdin),
    "true": lambda sh, args, env, stdin: 0,
    "false": lambda sh, args, env, stdin: 1,
    "test": lambda sh, args, env, stdin: _test(args, sh),
    "[": lambda sh, args, env, stdin: _test(args[:-1], sh) if args[-1:] == ["]"] else 2,
}


# --- shell builtins -------------------------------------------------------------------------------

def _exit(sh: Shell, argv: list[str], stdin) -> int:
    if len(argv) > 1:
        raise Exit(int(argv[1]) % 256 if re.fullmatch(r"-?\d+", argv[1]) else 2)
    raise Exit(sh.status)


def _export(sh: Shell, argv: list[str], stdin) -> int:
    for arg in argv[1:]:
        if arg.startswith("-"):
            continue
        name, has_value, value = arg.partition("=")
        if has_value:
            sh.assign(name, value)
        if argv[0] == "export":
            sh.exported.add(name)
    return 0


def _unset(sh: Shell, argv: list[str], stdin) -> int:
    for name in argv[1:]:
        if not name.startswith("-"):
            sh.vars.pop(name, None)
            sh.exported.discard(name)
    return 0


def _set(sh: Shell, argv: list[str], stdin) -> int:
    args = argv[1:]
    while args and args[0][:1] in ("-", "+") and args[0] != "--":
        on, letters = args[0][0] == "-", args[0][1:]
        if letters == "o" and len(args) > 1:
            letters = {"errexit": "e", "xtrace": "x", "nounset": "u"}.get(args[1], "")
            args = args[1:]
        for letter in letters:
            if letter == "e":
                sh.errexit = on
            elif letter == "x":
                sh.xtrace = on
            elif letter == "u":
                sh.nounset = on
        args = args[1:]
    if args and args[0] == "--":
        sh.args = args[1:]
    elif args:
        sh.args = args
    return 0


def _cd(sh: Shell, argv: list[str], stdin) -> int:
    target = argv[1] if len(argv) > 1 else sh.vars.get("HOME", "/")
    if target == "-":
        raise Unknown
    old, sh.cwd = sh.cwd, sh.path(target)
    if "PWD" in sh.vars:
        sh.vars["OLDPWD"], sh.vars["PWD"] = old, sh.cwd
    return 0


def _wait(sh: Shell, argv: list[str], stdin) -> int:
    if sh.jobs_forever:
        raise Stop  # it waits for a job that does not end
    if sh.jobs_end > sh.t:
        sh.advance(sh.jobs_end - sh.t)
    return 0


def _exec(sh: Shell, argv: list[str], stdin) -> int:
    env = sh.environ()
    raise Exit(sh.program(argv[1:], env, stdin))


def _eval(sh: Shell, argv: list[str], stdin) -> int:
    return sh.run_list(_parse(" ".join(argv[1:])))


def _shift(sh: Shell, argv: list[str], stdin) -> int:
    count = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 1
    if count > len(sh.args):
        return 1
    sh.args = sh.args[count:]
    return 0


def _source(sh: Shell, argv: list[str], stdin) -> int:
    text = sh.read_file(argv[1]) if len(argv) > 1 else None
    if text is None:
        raise Unknown
    return sh.run_list(_parse(text))


_BUILTINS: dict[str, Callable[[Shell, list[str], object], int]] = {
    ":": lambda sh, argv, stdin: 0,
    "true": lambda sh, argv, stdin: 0,
    "false": lambda sh, argv, stdin: 1,
    "echo": lambda sh, argv, stdin: _echo(sh, argv[1:], builtin=True),
    "printf": lambda sh, argv, stdin: _printf(sh, argv[1:]),
    "test": lambda sh, argv, stdin: _test(argv[1:], sh),
    "[": lambda sh, argv, stdin: _test(argv[1:-1], sh) if argv[-1] == "]" else 2,
    "pwd": _pwd,
    "exit": _exit,
    "export": _export,
    "readonly": _export,
    "unset": _unset,
    "set": _set,
    "cd": _cd,
    "wait": _wait,
    "exec": _exec,
    "eval": _eval,
    "shift": _shift,
    "trap": lambda sh, argv, stdin: 0,
    ".": _source,
    "source": _source,
}
