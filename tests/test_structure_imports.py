"""Imports point down only, and no modules import each other in a circle. Every import of the project's own
modules is read from the source (ast; those inside functions too) and held against the layer order:

    0  errors, project                          the leaf: the user-error family and the project's shared facts
    1  settings, flags, */config.py             the one configuration tree, its sections and the shared flags
    2  engines                                  networks, checkpoints, runtimes
    3  recognisers                              frozen face recognisers
    4  stream                                   the live pipeline (its alignment and face tracking serve 5 too)
    5  calibration, training                    offline jobs over engines, recognisers and the stream's parts
    6  livel2l, run, scripts                    the command table and the tools around it

A module may import its own layer or any below it; an import that reaches a higher layer, or a circle of
imports (within one layer too), fails with the files named.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "project"),
    ("settings", "flags", "engines.config", "recognisers.config", "stream.config", "stream.control_config",
     "training.config", "calibration.config"),
    ("engines",),
    ("recognisers",),
    ("stream",),
    ("calibration", "training"),
    ("livel2l", "run", "scripts"),
)
PACKAGES = ("engines", "recognisers", "stream", "calibration", "training", "scripts")


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name → file, for the top-level modules and every file of the project's packages."""
    modules = {p.stem: p for p in root.glob("*.py")}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The project modules that one file imports, at its top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = project_modules(root)
    return {name: imports_of(path, set(modules)) - {name} for name, path in modules.items()}


def layer_of(module: str, layers: tuple[tuple[str, ...], ...] = LAYERS) -> int | None:
    """The layer of the longest entry that names the module or a package above it (None: on no layer)."""
    best, best_len = None, -1
    for index, entries in enumerate(layers):
        for entry in entries:
            if (module == entry or module.startswith(entry + ".")) and len(entry) > best_len:
                best, best_len = index, len(entry)
    return best


def upward_imports(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[str]:
    return sorted(f"{a} (layer {layer_of(a, layers)}) imports {b} (layer {layer_of(b, layers)})"
                  for a, targets in graph.items() for b in targets
                  if layer_of(b, layers) is not None and layer_of(a, layers) is not None
                  and layer_of(b, layers) > layer_of(a, layers))


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_every_module_sits_on_a_layer():
    assert [m for m in import_graph() if layer_of(m) is None] == []


def test_no_import_points_up():
    assert upward_imports(import_graph()) == []


def test_no_modules_import_each_other_in_a_circle():
    assert circles(import_graph()) == []


def test_the_checks_catch_an_upward_import_and_a_circle(tmp_path):
    """The same reading, on a small tree written here: an engine that imports the stream, and two stream
    modules that import each other."""
    for package in ("engines", "stream"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "engines/net.py").write_text("def f():\n    from stream.cli import main  # inside a function\n")
    (tmp_path / "stream/cli.py").write_text("import stream.stages\n\ndef main():\n    pass\n")
    (tmp_path / "stream/stages.py").write_text("from stream import cli\n")
    graph = import_graph(tmp_path)
    assert graph["engines.net"] == {"stream.cli"}
    assert upward_imports(graph) == ["engines.net (layer 2) imports stream.cli (layer 4)"]
    assert circles(graph) == [["stream.cli", "stream.stages"]]
