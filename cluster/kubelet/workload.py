"""What a simulated container does once started: run until stopped, or finish with a code.

The runtime follows the container's `command` and `args` (or its image's default command)
far enough to know that:

- a server (nginx, httpd, redis …, and any program podflow does not know) runs until it is
  stopped, and stops promptly on SIGTERM;
- `sh`, `busybox`, `alpine`, `ubuntu`, `python`, `node` with no command have no terminal
  to read from and exit 0 at once, as real ones do;
- `true`, `echo hi` finish with 0, `false` with 1, `sh -c "exit 3"` with 3;
- `sleep N` runs N seconds of Kubernetes time (see cluster/componentbase/timing.py) and, as process 1 of
  its container, ignores SIGTERM: deleting it waits the whole grace period;
- `sh -c "..."` runs its commands in order (`;`, `&&`, `||`, `while true`, `for … in`).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from cluster.kubelet import images

FOREVER = None


@dataclass(frozen=True)
class Behaviour:
    runs_for: float | None  # Kubernetes seconds until it exits; None: until it is stopped
    exit_code: int = 0
    stops_on_sigterm: bool = True  # False: killed at the end of the grace period (137)
    start_error: str = ""  # the runtime could not start it at all


SERVER = Behaviour(FOREVER, 0, True)

# What each image runs when the pod gives no command (its ENTRYPOINT and CMD).
SERVERS = {"nginx", "httpd", "redis", "postgres", "mysql", "pause", "echoserver", "echo-server", "hello-app", "whoami"}
EXITS_AT_ONCE = {"busybox", "alpine", "ubuntu", "python", "node", "hello-world"}
# Images whose entrypoint script runs the args as a command (`exec "$@"`).
NEEDS_PASSWORD = {
    "postgres": ("POSTGRES_PASSWORD", "POSTGRES_HOST_AUTH_METHOD"),
    "mysql": ("MYSQL_ROOT_PASSWORD", "MYSQL_ALLOW_EMPTY_PASSWORD", "MYSQL_RANDOM_ROOT_PASSWORD"),
}

SHELLS = {"sh", "bash", "ash", "dash", "zsh"}
QUICK = {
    "echo", "printf", "date", "env", "printenv", "hostname", "id", "whoami", "pwd", "uname", "ls", "cat",
    "wget", "curl", "nslookup", "seq", "test", "[", "true", ":", "touch", "mkdir", "rm", "cp", "mv", "ln",
    "chmod", "chown", "df", "du", "free", "ps", "head", "grep", "sed", "awk", "cut", "sort", "uniq", "wc",
    "dig", "ip", "ifconfig", "netstat", "mount", "stat", "basename", "dirname", "expr", "export", "set",
    "cd", "unset", "trap", "source", ".", "apt-get", "apk", "pip", "npm",
}
# Shell builtins: a container cannot exec them directly (there is no such file).
BUILTINS = {"exit", "cd", "export", "source", ".", "set", "unset", "trap", "[["}
FOREVER_PROGRAMS = {"yes", "top", "watch", "nginx", "httpd", "httpd-foreground", "redis-server", "postgres", "mysqld", "pause", "/pause"}
PROMPT_STOPPERS = {"nginx", "httpd", "httpd-foreground", "redis-server", "postgres", "mysqld", "pause", "/pause"}

DURATION_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def repo_of(image: str) -> str:
    ref = images.parse(image)
    return ref.repository.rsplit("/", 1)[-1] if ref else ""


def behaviour(container: dict, env: dict[str, str] | None = None) -> Behaviour:
    """What the container will do, from its command, args, image and environment."""
    command = [str(c) for c in container.get("command") or []]
    args = [str(a) for a in container.get("args") or []]
    repo = repo_of(container.get("image", ""))
    argv = command + args if command else args
    if not argv:
        return _image_default(repo, container, env)
    return _run(argv, repo)


def _image_default(repo: str, container: dict, env: dict[str, str] | None) -> Behaviour:
    if repo in NEEDS_PASSWORD:
        names = {e.get("name") for e in container.get("env") or [] if isinstance(e, dict)} | set(env or {})
        if not names & set(NEEDS_PASSWORD[repo]):
            return Behaviour(2, 1)  # "Database is uninitialized and superuser password is not specified."
    if repo in EXITS_AT_ONCE:
        return Behaviour(0, 0)
    return SERVER


def _run(argv: list[str], repo: str) -> Behaviour:
    program = argv[0].rsplit("/", 1)[-1] if argv[0] not in ("/pause",) else "pause"
    if program in SHELLS:
        if len(argv) >= 3 and argv[1] in ("-c", "-ec", "-ce", "-xc", "-cx", "-euc", "-exc"):
            return script(argv[2])
        if len(argv) == 1:
            return Behaviour(0, 0)  # a shell with no terminal reads EOF and exits
        return Behaviour(0, 2)  # sh: can't open 'file': No such file or directory
    if program in BUILTINS:
        return Behaviour(0, 128, True, f'exec: "{argv[0]}": executable file not found in $PATH')
    seconds, code, forever = _command(program, argv[1:])
    if forever:
        stops = program in PROMPT_STOPPERS or program not in ("sleep", "tail", "yes", "top", "watch", "ping")
        return Behaviour(FOREVER, 0, stops)
    return Behaviour(seconds, code, False)


def simple_command(program: str, args: list[str]) -> tuple[float, int, bool]:
    """(Kubernetes seconds, exit code, runs forever) of one program run with `args`, as the
    runtime times it (`program` is a file name without its directory)."""
    return _command(program, args)


def _command(program: str, args: list[str]) -> tuple[float, int, bool]:
    """(seconds, exit code, runs forever) of one simple command."""
    if program == "sleep":
        if not args:
            return 0, 1, False
        total = 0.0
        for arg in args:
            if arg in ("infinity", "inf"):
                return 0, 0, True
            match = DURATION_RE.match(arg)
            if not match:
                return 0, 1, False
            total += float(match.group(1)) * UNITS[match.group(2)]
        return total, 0, False
    if program == "false":
        return 0, 1, False
    if program == "tail":
        return (0, 0, True) if any(a in ("-f", "-F", "--follow") for a in args) else (0, 0, False)
    if program == "ping":
        if "-c" in args:
            i = args.index("-c")
            try:
                return float(args[i + 1]), 0, False
            except (IndexError, ValueError):
                return 0, 1, False
        return 0, 0, True
    if program in ("python", "python3") and args:
        if args[0] == "-c":
            return 0, 0, False
        if args[:2] == ["-m", "http.server"]:
            return 0, 0, True
        return 0, 2, False  # can't open file
    if program == "node" and args:
        return (0, 0, False) if args[0] in ("-e", "--eval", "-p") else (0, 1, False)  # Cannot find module
    if program in ("python", "python3", "node"):
        return 0, 0, False  # a REPL with no terminal
    if program in FOREVER_PROGRAMS:
        return 0, 0, True
    if program in QUICK:
        return 0, 0, False
    return 0, 0, True  # a program podflow does not know: taken for a server


# --- sh -c ----------------------------------------------------------------------------------

class _Unparsable(Exception):
    pass


def script(text: str) -> Behaviour:
    """Run a shell script far enough to know how long it takes and how it ends."""
    try:
        lexer = shlex.shlex(text.replace("\n", " ; "), posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return Behaviour(0, 2)  # sh: syntax error: unterminated quoted string
    traps = "trap" in tokens
    try:
        seconds, code, forever, _ = _sequence(tokens, 0, ())
    except _Unparsable:
        return SERVER  # something podflow cannot follow: it keeps running
    if forever:
        return Behaviour(FOREVER, 0, traps)
    return Behaviour(seconds, code, traps)


def _sequence(tokens: list[str], i: int, stop: tuple[str, ...]) -> tuple[float, int, bool, int]:
    """Run commands from tokens[i] until one of `stop` (or the end). Returns seconds, last
    exit code, whether it never ends, and where it stopped. `exit` ends everything."""
    seconds, code, skip = 0.0, 0, False
    while i < len(tokens) and tokens[i] not in stop:
        token = tokens[i]
        if token in (";", "&"):
            skip = False
            i += 1
            continue
        if token == "&&":
            skip = code != 0
            i += 1
            continue
        if token == "||":
            skip = code == 0
            i += 1
            continue
        if token in ("while", "until"):
            cond_s, cond_code, cond_forever, i = _sequence(tokens, i + 1, ("do",))
            body_s, body_code, body_forever, i = _sequence(tokens, _expect(tokens, i, "do"), ("done",))
            i = _expect(tokens, i, "done")
            if skip:
                continue
            looping = (cond_code == 0) if token == "while" else (cond_code != 0)
            if cond_forever or looping:  # nothing in a simulated container ever changes the condition
                return seconds + cond_s, 0, True, i
            seconds += cond_s
            code = 0
            continue
        if token == "for":
            if i + 2 >= len(tokens) or tokens[i + 2] != "in":
                raise _Unparsable
            j = i + 3
            items = []
            while j < len(tokens) and tokens[j] not in (";", "do"):
                items.append(tokens[j])
                j += 1
            if j < len(tokens) and tokens[j] == ";":
                j += 1
            body_s, body_code, body_forever, i = _sequence(tokens, _expect(tokens, j, "do"), ("done",))
            i = _expect(tokens, i, "done")
            if skip:
                continue
            if body_forever and items:
                return seconds + body_s, 0, True, i
            seconds += body_s * len(items)
            code = body_code if items else 0
            continue
        if token in ("if", "case", "function", "{", "(", "select"):
            raise _Unparsable
        # A simple command: words up to the next operator.
        words = []
        while i < len(tokens) and tokens[i] not in (";", "&", "&&", "||", "|") and tokens[i] not in stop:
            words.append(tokens[i])
            i += 1
        piped = False
        while i < len(tokens) and tokens[i] == "|":  # a pipeline: the last command's status
            piped = True
            i += 1
            words = []
            while i < len(tokens) and tokens[i] not in (";", "&", "&&", "||", "|") and tokens[i] not in stop:
                words.append(tokens[i])
                i += 1
        background = i < len(tokens) and tokens[i] == "&"
        if skip or not words:
            continue
        while words and "=" in words[0] and not words[0].startswith("="):
            words = words[1:]  # VAR=value before a command
        if not words:
            code = 0
            continue
        if words[0] == "exec":
            words = words[1:] or ["true"]
        name = words[0].rsplit("/", 1)[-1]
        if name == "exit":
            try:
                return seconds, int(words[1]) % 256 if len(words) > 1 else code, False, len(tokens)
            except ValueError:
                return seconds, 2, False, len(tokens)
        if name in SHELLS and len(words) >= 3 and words[1] == "-c":
            inner = script(words[2])
            cmd_s, cmd_code, forever = (inner.runs_for or 0), inner.exit_code, inner.runs_for is None
        elif name in BUILTINS or name in QUICK:
            cmd_s, cmd_code, forever = 0.0, 0, False
        else:
            cmd_s, cmd_code, forever = _command(name, words[1:])
        if background:
            code = 0
            continue
        if forever and not piped:
            return seconds, 0, True, i
        seconds += cmd_s
        code = cmd_code
    return seconds, code, False, i


def _expect(tokens: list[str], i: int, word: str) -> int:
    while i < len(tokens) and tokens[i] == ";":
        i += 1
    if i >= len(tokens) or tokens[i] != word:
        raise _Unparsable
    return i + 1

