"""The house keeps its layers: no import circle and no upward or sideways import, anywhere.

Every module of every package is parsed (``ast``, so an import inside a function counts as much as
one at the top: a late import hides a dependency, it does not remove it). The rules:

- ``protocols`` imports nothing of ours; ``transport`` imports only ``protocols``;
- ``emulator`` (the probe) and ``groundstation`` import ``protocols`` and ``transport``, never
  each other;
- ``fuzzing`` (a tool) may import all of those; only the command line imports it;
- nothing imports ``paleblue`` (the command line).

And no two modules import each other, directly or round a longer circle (a strongly connected
component of the module graph with more than one module). An import under ``if TYPE_CHECKING:``
names a type for annotations only and never runs, so it obeys the layer rules but makes no circle
(a handler module may annotate the station that calls it).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("protocols", "transport", "emulator", "groundstation", "fuzzing", "paleblue")
ALLOWED = {
    "protocols": {"protocols"},
    "transport": {"protocols", "transport"},
    "emulator": {"protocols", "transport", "emulator"},
    "groundstation": {"protocols", "transport", "groundstation"},
    "fuzzing": {"protocols", "transport", "emulator", "groundstation", "fuzzing"},
    "paleblue": set(PACKAGES),
}


def module_files() -> dict[str, Path]:
    """Every module of our packages, by dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _type_checking_imports(tree: ast.AST) -> set[ast.AST]:
    """The import statements inside ``if TYPE_CHECKING:`` blocks."""
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                found.update(n for n in ast.walk(inner) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return found


def imports_of(
    name: str, path: Path, modules: dict[str, Path], runtime_only: bool = False
) -> Iterator[tuple[str, int]]:
    """The modules of ours that ``name`` imports, each with the line, wherever the import stands
    (``runtime_only``: leaving out the imports for type annotations only)."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    type_only = _type_checking_imports(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if node in type_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # `from a import b` imports the module a.b if there is one, else a name from a
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a name inside a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target, node.lineno


def import_graph(runtime_only: bool = False) -> tuple[dict[str, set[str]], dict[tuple[str, str], int]]:
    modules = module_files()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    lines: dict[tuple[str, str], int] = {}
    for name, path in modules.items():
        for target, line in imports_of(name, path, modules, runtime_only):
            graph[name].add(target)
            lines.setdefault((name, target), line)
    return graph, lines


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components, iteratively (no recursion limit on a deep import chain)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def test_the_walk_sees_every_package_and_late_imports() -> None:
    graph, _ = import_graph()
    assert {name.partition(".")[0] for name in graph} == set(PACKAGES)
    assert "transport.publisher" in graph["emulator.downlink"]
    assert "groundstation.receiver" in graph["fuzzing.stream_fuzz"]  # imported inside a function


def test_no_module_imports_across_or_up_the_layers() -> None:
    graph, lines = import_graph()
    wrong = [
        f"{name} (line {lines[name, target]}) imports {target}"
        for name, targets in sorted(graph.items())
        for target in sorted(targets)
        if target.partition(".")[0] not in ALLOWED[name.partition(".")[0]]
    ]
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_import_circle() -> None:
    graph, lines = import_graph(runtime_only=True)
    circles = []
    for component in strongly_connected(graph):
        if len(component) > 1:
            members = set(component)
            edges = [
                f"    {a} -> {b} (line {lines[a, b]})" for a in component for b in sorted(graph[a] & members)
            ]
            circles.append(" <-> ".join(component) + "\n" + "\n".join(edges))
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_type_checking_imports_are_told_apart() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nimport a\nif TYPE_CHECKING:\n    import b\n")
    assert [n.names[0].name for n in _type_checking_imports(tree)] == ["b"]


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert sorted(c for c in strongly_connected(graph) if len(c) > 1) == [["a", "b", "c"]]
