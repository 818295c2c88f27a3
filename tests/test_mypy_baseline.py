"""tools/mypy_baseline.py rewrites the baseline list in pyproject.toml from mypy's output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "mypy_baseline.py"

PYPROJECT = """[tool.mypy]
files = ["pkg"]

[[tool.mypy.overrides]]
module = [
  # mypy-baseline: begin
  "pkg.clean_now",  # 2
  "pkg.still_bad",  # 1
  # mypy-baseline: end
]
ignore_errors = true
"""

MYPY_OUTPUT = """pkg/still_bad.py:3: error: Incompatible types in assignment  [assignment]
pkg/still_bad.py:9: note: a note is not an error
pkg/still_bad.py:9: error: Item "None" has no attribute "x"  [union-attr]
pkg/sub/__init__.py:1: error: Function is missing a return type annotation  [no-untyped-def]
Found 3 errors in 2 files (checked 4 source files)
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "out.txt").write_text(MYPY_OUTPUT, encoding="utf-8")
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--pyproject",
        str(tmp_path / "pyproject.toml"),
        "--from-output",
        str(tmp_path / "out.txt"),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_rewrites_the_list_between_the_markers(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    r = _run(tmp_path)
    assert r.returncode == 0, r.stderr
    assert "- pkg.clean_now (passes now)" in r.stdout
    assert "+ pkg.sub (1 errors)" in r.stdout
    assert "pkg.still_bad: 1 -> 2 errors" in r.stdout
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == PYPROJECT.replace(
        '  "pkg.clean_now",  # 2\n  "pkg.still_bad",  # 1\n', '  "pkg.still_bad",  # 2\n  "pkg.sub",  # 1\n'
    )


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    r = _run(tmp_path, "--dry-run")
    assert r.returncode == 0 and "+ pkg.sub" in r.stdout
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == PYPROJECT


def test_a_file_without_the_markers_is_refused(tmp_path: Path) -> None:
    text = PYPROJECT.replace("  # mypy-baseline: end\n", "")
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    r = _run(tmp_path)
    assert r.returncode == 2
    assert "mypy-baseline: begin" in r.stderr and "mypy-baseline: end" in r.stderr
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == text


def test_the_project_baseline_parses() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import mypy_baseline
    finally:
        sys.path.remove(str(SCRIPT.parent))
    listed = mypy_baseline.read_baseline((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert listed and all(n is not None and n > 0 for n in listed.values())
