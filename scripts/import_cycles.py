"""Fail when any two modules of the project import each other, directly or through others.

import-linter's contracts hold the layers and the cycles between sibling packages; this checks
the finer grain, module by module, counting every import the code names (inside functions too,
as import-linter does). Run by .ci/run: ``.venv/bin/python scripts/import_cycles.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "core", "providers", "ingestion", "qa", "evaluation", "ops", "bench")


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def main() -> int:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)
    found = cycles(graph)
    for component in found:
        print("import cycle: " + ", ".join(component))
        for module in component:
            for imported in sorted(graph.find_modules_directly_imported_by(module) & set(component)):
                print(f"  {module} -> {imported}")
    print(f"{len(graph.modules)} modules, {len(found)} import cycle(s)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
