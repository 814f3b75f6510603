"""The import rules of the design, enforced on the source and at run time.

protocols <- schedules <- {controller, agent}; controller and agent never import each
other; the controller core never reaches Textual (only ``controller.tui`` may, and only
the CLI may reach the TUI); the agent imports no ORM and no web framework.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("protocols", "schedules", "controller", "agent")
AGENT_FORBIDDEN = ("sqlalchemy", "sqlmodel", "alembic", "fastapi", "starlette", "uvicorn",
                   "flask", "textual", "click", "pydantic", "httpx", "openpyxl", "apscheduler")


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def imports_of(name: str, path: Path) -> set[str]:
    """Every module a file imports, absolute, including function-level imports."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


GRAPH = {name: imports_of(name, path) for name, path in modules()}


def top(module: str) -> str:
    return module.split(".")[0]


def reachable(start: str) -> set[str]:
    """Internal modules reachable from ``start`` plus the external ones they import."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for target in GRAPH.get(current, ()):
            if target in GRAPH:
                stack.append(target)
            else:
                seen.add(target)
    return seen


ALLOWED = {"protocols": {"protocols"}, "schedules": {"protocols", "schedules"},
           "controller": {"protocols", "schedules", "controller"},
           "agent": {"protocols", "schedules", "agent"}}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_one_way(module: str) -> None:
    internal = {top(t) for t in GRAPH[module] if top(t) in PACKAGES}
    assert internal <= ALLOWED[top(module)], f"{module} imports {internal - ALLOWED[top(module)]}"


def is_tui(module: str) -> bool:
    return module == "controller.tui" or module.startswith("controller.tui.")


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if top(m) == "controller"
                                          and not is_tui(m) and not m.startswith("controller.cli")))
def test_controller_core_never_reaches_textual(module: str) -> None:
    bad = {m for m in reachable(module) if top(m) == "textual" or is_tui(m)}
    assert not bad, f"{module} reaches {sorted(bad)}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if top(m) == "agent"))
def test_agent_imports_no_orm_or_web_framework(module: str) -> None:
    bad = {m for m in reachable(module) if top(m) in AGENT_FORBIDDEN}
    assert not bad, f"{module} reaches {sorted(bad)}"


def test_agent_process_loads_no_forbidden_module() -> None:
    """At run time too: import every agent module and inspect ``sys.modules``."""
    agent_modules = sorted(m for m in GRAPH if top(m) == "agent" and m != "agent.__main__")
    code = ("import importlib, sys\n"
            f"for m in {agent_modules!r}: importlib.import_module(m)\n"
            "print('\\n'.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT).stdout.split()
    bad = sorted({m for m in loaded if top(m) in AGENT_FORBIDDEN or top(m) == "controller"})
    assert not bad, bad


def test_the_rules_would_catch_a_violation() -> None:
    """The checker itself works: a synthetic module importing Textual is reached."""
    GRAPH["controller._probe"] = {"textual.app"}
    GRAPH["controller._probe_user"] = {"controller._probe"}
    try:
        assert "textual.app" in reachable("controller._probe_user")
    finally:
        del GRAPH["controller._probe"], GRAPH["controller._probe_user"]
