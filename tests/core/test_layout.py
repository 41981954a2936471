"""The layout holds: no import cycle in the core, the core never imports a front-end, and front-ends reach the
core only through its public seams (``mgdecision``, ``mgdecision.outputs``, ``mgdecision.palette``)."""

from __future__ import annotations

import ast
from pathlib import Path

import mgdecision as mg

ROOT = Path(mg.__file__).resolve().parent
PROJECT = ROOT.parent
FRONT_ENDS = {"batch": "batch", "widgets": "widgets", "excel": "excel_addin", "service": "service"}
SEAMS = {"mgdecision", "mgdecision.outputs", "mgdecision.palette"}  # the public API, the columns, the colours


def _runtime_imports(path: Path, module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) of every import not under ``if TYPE_CHECKING:``, resolved to full names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else base if node.level else node.module
            found.append((target or "", [a.name for a in node.names], node.lineno))
    return found


def _core_modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(PROJECT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _graph() -> dict[str, set[str]]:
    modules = _core_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, names, _line in _runtime_imports(path, name):
            for candidate in (target, *(f"{target}.{n}" for n in names)):
                if candidate in modules and candidate != name:
                    graph[name].add(candidate)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _is_package_init_edge(a: str, b: str) -> bool:
    """A package's ``__init__`` importing its own submodules is how a package is made, not a cycle."""
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_no_runtime_import_cycle_in_the_core():
    graph = _graph()
    pruned = {a: {b for b in targets if not _is_package_init_edge(a, b)} for a, targets in graph.items()}
    assert _cycles(pruned) == []


def test_the_core_never_imports_a_front_end():
    found = []
    for name, path in _core_modules().items():
        for target, _names, line in _runtime_imports(path, name):
            top = target.split(".")
            if top[0] in FRONT_ENDS.values() or (top[0] == "mgdecision" and len(top) > 1 and top[1] in FRONT_ENDS):
                found.append(f"{path.relative_to(PROJECT)}:{line} imports {target}")
    assert found == []


def test_front_ends_reach_the_core_only_through_its_seams():
    public = set(mg.__all__) | {"outputs", "palette", *FRONT_ENDS}
    found = []
    for package, folder in FRONT_ENDS.items():
        for path in sorted((PROJECT / folder).rglob("*.py")):
            parts = path.relative_to(PROJECT / folder).with_suffix("").parts
            module = ".".join(["mgdecision", package, *(parts[:-1] if parts[-1] == "__init__" else parts)])
            for target, names, line in _runtime_imports(path, module):
                top = target.split(".")
                if (
                    top[0] != "mgdecision"
                    or (len(top) > 2 and top[1] in FRONT_ENDS)
                    or (len(top) > 1 and top[1] in FRONT_ENDS)
                ):
                    continue
                if target not in SEAMS:
                    found.append(f"{path.relative_to(PROJECT)}:{line} imports {target}")
                elif target == "mgdecision" and not set(names) <= public:
                    found.append(f"{path.relative_to(PROJECT)}:{line} imports {sorted(set(names) - public)}")
    assert found == []
