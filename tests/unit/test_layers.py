"""The house's import rule: a lower layer never imports a higher one.

The layers, lowest first, are those of cluster/__init__.py's map. Every import of a
podflow module in cluster/, web/ and config/ is read from the source (at any depth: an
import inside a function counts, it is not a way round a cycle) and checked against them.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    ("cluster.apimachinery",),
    ("cluster.models", "cluster.apiserver.tls"),
    ("cluster.apiserver.registry", "cluster.apiserver.admission", "cluster.apiserver.serializers"),
    ("cluster.apiserver.store", "cluster.apiserver"),
    ("cluster.componentbase",),
    ("cluster.informers",),
    ("cluster.controllers", "cluster.scheduler", "cluster.kubelet", "cluster.proxy"),
    # The doors and the entry points: HTTP handlers, Celery tasks, sandboxes, commands.
    ("cluster.apiserver.handlers", "cluster.tasks", "cluster.actions", "cluster.explain", "cluster.demo", "cluster.sandbox", "cluster.stack", "cluster.labs", "cluster.apps", "cluster.admin", "cluster.management", "cluster"),
    ("web", "config"),
]

# The components are one layer; each may use another's published helpers only through
# these imports (the node controller and the ingress controller do what their Kubernetes
# counterparts do with the same knowledge).
COMPONENTS = ("cluster.controllers", "cluster.scheduler", "cluster.kubelet", "cluster.proxy")
CROSS_COMPONENT = {
    ("cluster.controllers", "cluster.proxy"),  # the ingress controller forwards as kube-proxy does
}


def layer_of(module: str) -> tuple[int, str]:
    best = (-1, "")
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best[1]):
                best = (index, prefix)
    return best


def component_of(module: str) -> str:
    return next((c for c in COMPONENTS if module == c or module.startswith(c + ".")), "")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every podflow module the file imports, at any depth."""
    me = module_name(path)
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = me.split(".") if is_package(path) else me.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                is_sub = (ROOT / Path(*sub.split("."))).with_suffix(".py").exists() or (ROOT / Path(*sub.split(".")) / "__init__.py").exists()
                out.append((node.lineno, sub if is_sub else base))
    return [(line, m) for line, m in out if m.split(".")[0] in ("cluster", "web", "config")]


def sources() -> list[Path]:
    found = []
    for top in ("cluster", "web", "config"):
        found += [p for p in (ROOT / top).rglob("*.py") if "migrations" not in p.parts]
    return sorted(found)


def violations() -> list[str]:
    bad = []
    for path in sources():
        me = module_name(path)
        mine, my_prefix = layer_of(me)
        assert mine >= 0, f"{me} is in no layer: add it to LAYERS"
        for line, target in imported(path):
            theirs, _ = layer_of(target)
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if theirs > mine:
                bad.append(f"{where} (layer {theirs} above its own {mine})")
            elif theirs == mine and component_of(me) and component_of(target) and component_of(me) != component_of(target):
                if (component_of(me), component_of(target)) not in CROSS_COMPONENT:
                    bad.append(f"{where} (another component)")
    return bad


def test_no_layer_imports_a_higher_one():
    assert violations() == []


def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch):
    """The check itself can fail: the store importing the informers is reported."""
    fake_root = tmp_path
    (fake_root / "cluster" / "apiserver").mkdir(parents=True)
    (fake_root / "cluster" / "informers").mkdir(parents=True)
    for d in ("cluster", "cluster/apiserver", "cluster/informers"):
        (fake_root / d / "__init__.py").write_text("")
    (fake_root / "cluster" / "informers" / "wake.py").write_text("")
    (fake_root / "cluster" / "apiserver" / "store.py").write_text("def flush():\n    from cluster.informers import wake\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    (fake_root / "web").mkdir()
    (fake_root / "config").mkdir()
    assert [v.split(" (")[0] for v in violations()] == ["cluster/apiserver/store.py:2 imports cluster.informers.wake"]


@pytest.mark.parametrize("module,layer", [("cluster.apiserver.store", 3), ("cluster.apiserver.handlers.k8s", 7), ("cluster.apimachinery.kinds", 0), ("web.stream", 8)])
def test_layer_of(module, layer):
    assert layer_of(module)[0] == layer
