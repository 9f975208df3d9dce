"""The package rules: two floors that depend one way, no import cycle, modules of one purpose."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kapman_assets", "kapman_resources", "dashboard")
MAX_LINES = 400  # above it, a module's docstring must say why (the word "lines" and a reason)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports (a `from package import name` may name a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n for n in names if n in modules}
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def test_the_lower_floor_never_imports_the_upper_one():
    upward = {m: sorted(d for d in deps if d.startswith("kapman_assets"))
              for m, deps in _graph().items() if m.startswith("kapman_resources")}  # fmt: skip
    assert {m: d for m, d in upward.items() if d} == {}


def test_the_dashboard_never_imports_dagster_code():
    graph = _graph()
    assert not {m for m, deps in graph.items() if m.startswith("dashboard")
                and any(d.startswith("kapman_assets") for d in deps)}  # fmt: skip


def test_no_import_cycle_between_modules():
    graph, state, cycles = _graph(), {}, []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_long_modules_say_why_in_their_docstring():
    unexplained = []
    for name, path in _modules().items():
        lines = len(path.read_text().splitlines())
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > MAX_LINES and "lines" not in doc:
            unexplained.append(f"{name} ({lines} lines)")
    assert unexplained == []
