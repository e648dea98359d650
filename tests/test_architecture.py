"""The map's rules of the house, read off the code itself (../shared/docs/ARCHITECTURE.md).

Every module of the project is parsed (never imported), and every import counts, at module
level or inside a function:

- no import cycle between project modules;
- a function-local import only for a heavy optional library, with a comment saying so
  (Django's `AppConfig.ready`, which registers signal receivers, is the one exception);
- `scoring/ml/` never imports Django or the apps;
- services never import tasks (they enqueue by task name through `scoring/queue.py`), and
  `scoring` never imports `applicants` services, views or APIs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("credscope_site", "applicants", "scoring", "audits")
#: Libraries worth importing only inside the function that needs them (seconds to import,
#: or needed only by one rarely used path).
HEAVY_OPTIONAL = frozenset(
    {"catboost", "lightgbm", "xgboost", "optuna", "fairlearn", "duckdb", "weasyprint",
     "matplotlib", "shap"}
)  # fmt: skip


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # the module imported (a project module, or a third-party top-level name)
    line: int
    local: bool  # inside a function
    commented: bool  # a comment on the line, or on the line before


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" not in path.parts:
                modules[module_name(path, root)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    local_nodes = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for sub in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            # `from scoring import queue` imports the module scoring.queue
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        line = lines[node.lineno - 1]
        before = lines[node.lineno - 2] if node.lineno > 1 else ""
        for target in dict.fromkeys(targets):
            found.append(
                Import(
                    importer=name,
                    target=_resolve(target, modules),
                    line=node.lineno,
                    local=id(node) in local_nodes,
                    commented="#" in line or before.strip().startswith("#"),
                )
            )
    return found


def _resolve(target: str, modules: dict[str, Path]) -> str:
    """The project module a dotted name points into, else its third-party top level."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return parts[0]


def all_imports(root: Path = REPO, packages: Iterable[str] = PACKAGES) -> list[Import]:
    modules = project_modules(root, packages)
    return [i for name, path in modules.items() for i in imports_of(name, path, modules)]


def import_cycles(imports: Iterable[Import], modules: Iterable[str]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a cycle path."""
    project = set(modules)
    graph: dict[str, set[str]] = {m: set() for m in project}
    for item in imports:
        if item.target in project and item.target != item.importer:
            graph[item.importer].add(item.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
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
                groups.append(_cycle_path(sorted(group), graph))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _cycle_path(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One closed walk through a strongly connected group, to name the cycle."""
    members = set(group)
    start, path, seen = group[0], [group[0]], {group[0]}
    node = start
    while True:
        following = sorted(graph[node] & members)
        nxt = start if start in following and len(path) > 1 else None
        nxt = nxt or next((n for n in following if n not in seen), start)
        path.append(nxt)
        if nxt == start:
            return path
        seen.add(nxt)
        node = nxt


def _is_app_ready(item: Import, modules: dict[str, Path]) -> bool:
    return item.importer.endswith(".apps") and "def ready" in modules[item.importer].read_text()


# --- the rules ---------------------------------------------------------------------------------


def test_no_import_cycle_between_project_modules() -> None:
    modules = project_modules(REPO, PACKAGES)
    cycles = import_cycles(all_imports(), modules)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_function_local_imports_are_only_heavy_optional_libraries_with_a_comment() -> None:
    modules = project_modules(REPO, PACKAGES)
    offenders = [
        f"{i.importer}:{i.line} imports {i.target}"
        + ("" if i.target in HEAVY_OPTIONAL else " (not a heavy optional library)")
        for i in all_imports()
        if i.local
        and not _is_app_ready(i, modules)
        and not (i.target in HEAVY_OPTIONAL and i.commented)
    ]
    assert offenders == []


def test_the_ml_core_imports_no_django_and_no_app() -> None:
    bad = [
        f"{i.importer}:{i.line} imports {i.target}"
        for i in all_imports()
        if i.importer.startswith("scoring.ml")
        and (i.target == "django" or i.target.split(".")[0] in PACKAGES)
        and not i.target.startswith("scoring.ml")
    ]
    assert bad == []


def test_imports_point_one_way() -> None:
    bad = []
    for i in all_imports():
        if ".services" in i.importer and i.target.endswith(".tasks"):
            bad.append(f"{i.importer}:{i.line}: a service imports tasks ({i.target})")
        if i.importer.startswith("scoring") and i.target.startswith(
            ("applicants.services", "applicants.views", "applicants.apis", "applicants.batch_")
        ):
            bad.append(f"{i.importer}:{i.line}: scoring imports {i.target}")
    assert bad == []


# --- the checks above can fail ----------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_an_injected_cycle_is_found_and_named(tmp_path: Path) -> None:
    """A temporary package whose cycle hides behind a function-local import."""
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/services.py": "from pkg import tasks\n",
            "pkg/tasks.py": "from pkg.batches import run\n",
            "pkg/batches.py": "def run():\n    from pkg.services import submit\n    submit()\n",
            "pkg/clean.py": "import json\n",
        },
    )
    modules = project_modules(tmp_path, ["pkg"])
    imports = all_imports(tmp_path, ["pkg"])
    assert import_cycles(imports, modules) == [
        ["pkg.batches", "pkg.services", "pkg.tasks", "pkg.batches"]
    ]
    (local,) = [i for i in imports if i.local]
    assert (local.importer, local.target, local.commented) == ("pkg.batches", "pkg.services", False)


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        ("def f():\n    import catboost  # heavy optional library\n", True),
        ("def f():\n    import catboost\n", False),
        ("def f():\n    import json  # light\n", False),
    ],
)
def test_the_local_import_rule_tells_apart_heavy_libraries(tmp_path, source, allowed) -> None:
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/mod.py": source})
    (item,) = all_imports(tmp_path, ["pkg"])
    assert item.local and (item.target in HEAVY_OPTIONAL and item.commented) == allowed
