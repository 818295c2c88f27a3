"""The code checks people run while developing, run by ``make test`` so CI enforces them.

ruff (lint rules and baseline in pyproject.toml) and mypy (the type checker, with its per-module
baseline there too). Both come from the ``lint`` extra, which ``make test`` installs. How to run them
by hand and how to clear a baseline entry: CONTRIBUTING.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        import mypy  # noqa: F401
        import ruff  # noqa: F401
    except ImportError as e:  # a clear failure, not a skip: CI must run these checks
        raise AssertionError(f"{e.name} is not installed: `pip install -e '.[lint]'` (make test does it)") from e
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_passes() -> None:
    r = _run("ruff", "check", "--output-format", "concise", ".")
    assert r.returncode == 0, (
        f"ruff check found problems (many are fixed by `ruff check --fix .`):\n{r.stdout}{r.stderr}"
    )


def test_ruff_format_is_applied() -> None:
    r = _run("ruff", "format", "--check", ".")
    assert r.returncode == 0, f"files not formatted (run `ruff format .`):\n{r.stdout}{r.stderr}"


def test_mypy_passes() -> None:
    # Configured in pyproject.toml ([tool.mypy]: files, settings, baseline); the cache in
    # .mypy_cache makes re-runs take about a second.
    r = _run("mypy")
    assert r.returncode == 0, f"mypy found type errors:\n{r.stdout}{r.stderr}"


#: A module longer than this states why in its docstring (issue 11: one job per module).
MAX_LINES = 520


def test_long_modules_say_why_in_their_docstring() -> None:
    import ast
    import re

    unexplained = []
    for package in ("poser_env", "poser_agents"):
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            n = text.count("\n") + 1
            if n <= MAX_LINES:
                continue
            doc = ast.get_docstring(ast.parse(text)) or ""
            if not re.search(r"\b500 lines\b", doc):
                unexplained.append(f"{path.relative_to(ROOT)} ({n} lines)")
    assert not unexplained, (
        f"modules over {MAX_LINES} lines without a reason in their docstring (split them by job, or say "
        f"'Over 500 lines on purpose: ...' and why): {', '.join(unexplained)}"
    )
