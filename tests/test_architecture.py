"""The shape of the code: no import circles, dependencies pointing one way, light commands.

Read from the source with ``ast``, not by importing it, so an import inside a function
(the lazy imports that keep ``gate check`` light) counts as much as one at the top: a
circle through a function-level import is still a circle, only a later one.

Rules (docs: DESIGN.md, "Layout"): nothing imports ``gate``; ``verifier`` imports none
of ``gate``, ``scanner``, ``hardware``, ``sync``, ``hub``; ``hardware`` and ``drivers``
import no ``verifier``; ``errors`` imports nothing of the project.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("errors", "drivers", "verifier", "scanner", "hardware", "sync", "gate", "hub")

Graph = dict[str, set[str]]


def project_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the packages present."""
    modules: dict[str, Path] = {}
    for package in packages:
        if not (root / package).is_dir():
            continue
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def import_graph(modules: Mapping[str, Path]) -> Graph:
    """Module -> the project modules it imports, anywhere in the file.

    ``import a.b`` is an edge to ``a.b``; ``from a import b`` to ``a.b`` when that is a
    module, else to ``a``; relative imports are resolved against the importing package.
    """

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: Graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(t for a in node.names if (t := known(a.name)))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    base = ".".join(
                        parts[: len(parts) - node.level + 1]
                        + ([node.module] if node.module else [])
                    )
                else:
                    base = node.module or ""
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    target = full if full in modules else known(base)
                    if target:
                        targets.add(target)
        targets.discard(name)
        graph[name] = targets
    return graph


def find_cycles(graph: Graph) -> list[list[str]]:
    """One circle (``[a, b, …, a]``) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(start: str) -> None:
        # Tarjan's algorithm, iteratively: the graph is deep enough for recursion limits.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_circle_in(graph, group) for group in groups]


def _circle_in(graph: Graph, group: set[str]) -> list[str]:
    """A shortest circle through the group's first module (breadth-first back to it)."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & group):
                if child == start:
                    return [*paths[node], start]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    following.append(child)
        frontier = following
    raise AssertionError(f"no circle in {group}")  # a strongly connected group has one


def test_no_import_cycles() -> None:
    graph = import_graph(project_modules(ROOT, PACKAGES))
    assert "gate.cli" in graph and "verifier.checkpoint" in graph  # the walk found them
    cycles = find_cycles(graph)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles(tmp_path: Path) -> None:
    """The check above is only worth something if it sees the circles it forbids: a
    package whose ``__init__`` imports a submodule that imports the package back, and a
    circle through an import inside a function."""
    files = {
        "pkg/__init__.py": "from .a import thing\n",
        "pkg/a.py": "from pkg import helper\nthing = 1\n",
        "pkg/helper.py": "def f():\n    from . import late\n",
        "pkg/late.py": "import pkg.helper\n",
        "pkg/free.py": "from pkg.a import thing\nimport os\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(project_modules(tmp_path, ["pkg"]))
    assert graph["pkg"] == {"pkg.a"} and graph["pkg.a"] == {"pkg.helper"}
    assert graph["pkg.free"] == {"pkg.a"}
    assert sorted(map(sorted, map(set, find_cycles(graph)))) == [["pkg.helper", "pkg.late"]]
    (tmp_path / "pkg/a.py").write_text("from pkg import thing2\n")  # a name: edge to pkg
    cycles = find_cycles(import_graph(project_modules(tmp_path, ["pkg"])))
    assert ["pkg", "pkg.a", "pkg"] in cycles


def _imports_of(graph: Graph, package: str) -> set[str]:
    """Top-level packages imported by the modules of ``package``, besides itself."""
    return {
        target.split(".")[0]
        for name, targets in graph.items()
        if name.split(".")[0] == package
        for target in targets
    } - {package}


def test_dependencies_point_one_way() -> None:
    graph = import_graph(project_modules(ROOT, PACKAGES))
    importers_of_gate = sorted(
        name
        for name, targets in graph.items()
        if not name.startswith("gate") and any(t.split(".")[0] == "gate" for t in targets)
    )
    assert importers_of_gate == [], "nothing imports gate"
    assert not _imports_of(graph, "verifier") & {"gate", "scanner", "hardware", "sync", "hub"}
    assert "verifier" not in _imports_of(graph, "hardware")
    assert "verifier" not in _imports_of(graph, "drivers")
    assert _imports_of(graph, "errors") == set(), "errors is the tree everyone imports"
