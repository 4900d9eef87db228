"""The house stays easy to live in: lint, format, strict types, small modules, no import cycles.

These run the real tools over the real tree, so a change that breaks the house fails the suite
(the same checks as the project's house tool), not only a separate script nobody runs.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kalshi_cli"
MAX_LINES = 400


def _tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    if found.exists():
        return str(found)
    which = shutil.which(name)
    if which is None:
        pytest.fail(f"{name} is not installed: it comes with the [test] extra")
    return which


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_check_and_format_are_clean() -> None:
    check = _run(_tool("ruff"), "check", ".")
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = _run(_tool("ruff"), "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run(_tool("mypy"), "--strict", "kalshi_cli")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_no_module_over_the_limit() -> None:
    big = {
        str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not big, big


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every kalshi_cli module -> the kalshi_cli modules it imports (lazy imports included)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".") if is_package else name.split(".")[:-1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target not in (name, "kalshi_cli"):
                    graph[name].add(target)
    return graph


def test_no_import_cycles() -> None:
    graph = _imports()
    cycles: list[tuple[str, ...]] = []

    def visit(node: str, path: list[str], done: set[str]) -> None:
        for nxt in graph[node]:
            if nxt in path:
                cycles.append(tuple(path[path.index(nxt) :]))
            elif nxt not in done:
                visit(nxt, [*path, nxt], done)
        done.add(node)

    done: set[str] = set()
    for start in graph:
        if start not in done:
            visit(start, [start], done)
    assert not cycles, sorted(set(cycles))[:5]


def test_tests_read_nothing_outside_the_repository() -> None:
    offenders = [
        p.name
        for p in (ROOT / "tests").glob("*.py")
        if p.name != "test_house.py" and ('"shared"' in (text := p.read_text()) or "/work/" in text)
    ]
    assert not offenders, offenders
