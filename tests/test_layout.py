"""The package's shape: layers import only the layers below them, and no import cycle, lazy
imports (inside functions) included."""

from __future__ import annotations

import ast
from pathlib import Path

import a3c

PACKAGE = Path(a3c.__file__).parent
#: Each layer and the layers it may import. Leaves (errors, presets, pretrained) may be imported by all.
LAYERS = {
    "algorithm": {"algorithm"},
    "runtime": {"algorithm", "runtime"},
    "backends": {"algorithm", "runtime", "backends"},
    "cli": {"algorithm", "runtime", "backends", "cli"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Every a3c module and the a3c modules it imports, anywhere in its body."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from a3c.cli import plot` imports the submodule a3c.cli.plot
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module for alias in node.names]
            for target in targets:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None. A package's __init__ imported
    by its own submodules is a cycle too: Python half-initialises one of them."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_import():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    graph = import_graph()
    assert "a3c.runtime.policy" in graph["a3c.cli.evaluate"]  # imported inside a function


def test_no_import_cycle_in_the_package():
    assert find_cycle(import_graph()) is None


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    for module, imports in import_graph().items():
        layer = module.split(".")[1] if module.count(".") else None
        if layer not in LAYERS:
            continue
        for target in imports:
            other = target.split(".")[1] if target.count(".") else None
            if other in LAYERS and other not in LAYERS[layer]:
                wrong.append(f"{module} -> {target}")
    assert wrong == []
