"""The code checks people run while developing, run by ``make test`` so CI enforces them.

ruff (lint rules and baseline in pyproject.toml), from the ``lint`` extra, which ``make test``
installs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        import ruff  # noqa: F401
    except ImportError as e:  # a clear failure, not a skip: CI must run these checks
        raise AssertionError(f"{e.name} is not installed: `pip install -e '.[lint]'` (make test does it)") from e
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_passes() -> None:
    r = _run("ruff", "check", "--output-format", "concise", ".")
    assert r.returncode == 0, f"ruff check found problems (many are fixed by `ruff check --fix .`):\n{r.stdout}{r.stderr}"

