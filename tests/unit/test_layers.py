"""The import rules of ARCHITECTURE.md, checked on the source: no cycles, and no layer importing a higher one.

Every import counts, wherever it is written: at module level, inside a function, or under `TYPE_CHECKING` (a
typing-only import is still a dependency a reader has to follow). `from package import name` is an edge to the
submodule when `name` is one. A package's `__init__` importing its own modules is not an edge back from them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("connector", "sandbox")

# Lower numbers are lower layers; a module may import its own layer and the ones below it.
LAYERS: dict[str, int] = {
    "connector": 0,  # the package root holds only `__version__`
    "connector.runtime": 0,
    "connector.orders.model": 0,
    "connector.storage": 1,
    "connector.mapping": 1,
    "connector.platforms": 2,
    "connector.sync": 3,
    "connector.stock": 4,
    "connector.orders": 5,
    "connector.web": 6,
    "connector.app": 7,
    "connector.cli": 8,
    "connector.__main__": 9,
}
# Same-layer or lower imports that are still forbidden.
FORBIDDEN: list[tuple[str, str, str]] = [
    ("connector.storage", "connector.mapping", "storage knows no platform payloads"),
    ("connector.mapping", "connector.storage", "mapping is pure: no database"),
    ("connector.platforms", "connector.storage", "platform clients never touch the database"),
    ("connector.stock.allocation", "connector.storage", "allocation is a pure function"),
    ("connector.stock.movements", "connector.storage", "movement arithmetic is pure"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] in PACKAGES)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base


def graph() -> dict[str, set[str]]:
    found = sources()
    known = set(found)
    edges: dict[str, set[str]] = {}
    for name, path in found.items():
        targets = {t for t in imports(name, path, known) if t != name}
        # a package's __init__ re-exporting its own modules is how a package is built, not a dependency of them
        edges[name] = {t for t in targets if not (path.name == "__init__.py" and t.startswith(name + "."))}
    return edges


def layer_of(module: str) -> tuple[str, int] | None:
    matches = [(prefix, rank) for prefix, rank in LAYERS.items() if module == prefix or module.startswith(prefix + ".")]
    return max(matches, key=lambda m: len(m[0])) if matches else None


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


EDGES = graph()


def test_the_graph_is_read_from_the_source() -> None:
    assert "connector.sync.ingest" in EDGES["connector.sync.store_sync"]
    assert "connector.storage.db" in EDGES["connector.app.daemon"]
    assert len([m for m in EDGES if m.startswith("sandbox.")]) >= 20


def test_no_import_cycles() -> None:
    assert cycles(EDGES) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_layer_imports_a_higher_one() -> None:
    wrong = []
    for module, targets in EDGES.items():
        mine = layer_of(module)
        if mine is None or not module.startswith("connector"):
            continue
        for target in targets:
            theirs = layer_of(target)
            if theirs is not None and theirs[1] > mine[1]:
                wrong.append(f"{module} ({mine[0]}) imports {target} ({theirs[0]})")
    assert wrong == []


@pytest.mark.parametrize(("lower", "higher", "why"), FORBIDDEN)
def test_forbidden_imports(lower: str, higher: str, why: str) -> None:
    wrong = [f"{m} imports {t}" for m, ts in EDGES.items() if within(m, lower) for t in ts if within(t, higher)]
    assert wrong == [], why


def test_only_the_demo_imports_the_sandboxes() -> None:
    wrong = [
        f"{m} imports {t}"
        for m, ts in EDGES.items()
        if m.startswith("connector") and m != "connector.app.demo"
        for t in ts
        if within(t, "sandbox")
    ]
    assert wrong == []


def test_the_sandboxes_use_only_the_products_pure_values() -> None:
    wrong = [
        f"{m} imports {t}"
        for m, ts in EDGES.items()
        if within(m, "sandbox")
        for t in ts
        if within(t, "connector") and t != "connector.orders.model"
    ]
    assert wrong == []


def test_each_sandbox_imports_one_way_state_then_api_then_server() -> None:
    order = {"state": 0, "api": 1, "server": 2}
    wrong = []
    for module, targets in EDGES.items():
        parts = module.split(".")
        if len(parts) != 3 or parts[0] != "sandbox":
            continue
        for target in targets:
            tparts = target.split(".")
            if tparts[:2] != parts[:2] or len(tparts) != 3:
                continue
            mine, theirs = role(parts[2]), role(tparts[2])
            if order[theirs] > order[mine]:
                wrong.append(f"{module} ({mine}) imports {target} ({theirs})")
    assert wrong == []


def role(leaf: str) -> str:
    """A sandbox module's role by its name: the server, the API routes (`*api*`), or state (everything else)."""
    if leaf == "server":
        return "server"
    return "api" if "api" in leaf or leaf in {"resolvers"} else "state"


def test_importing_the_package_imports_no_sandbox() -> None:
    import subprocess
    import sys

    code = "import sys, connector; print(sorted(m for m in sys.modules if m.split('.')[0] == 'sandbox'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
