"""Rewrite mypy's per-module baseline in pyproject.toml from a mypy run without it.

The baseline is the ``ignore_errors`` list between the ``# mypy-baseline: begin`` and ``end``
markers in ``pyproject.toml``: the modules that do not pass yet, each with its error count. This
script runs mypy with that list emptied, then writes the list again: a module that passes now
leaves it, a module that fails (a new one too) joins it. It prints what changed. Baselining new
errors is a decision, not a fix: say so in the commit.

    python tools/mypy_baseline.py                   # run mypy, rewrite the list
    python tools/mypy_baseline.py --dry-run         # print what would change
    python tools/mypy_baseline.py --from-output F   # use a saved mypy output instead of running it
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "  # mypy-baseline: begin\n"
END = "  # mypy-baseline: end\n"
_ERROR = re.compile(r"^([\w/.-]+)\.py:\d+: error:", re.MULTILINE)
_ENTRY = re.compile(r'^\s*"([\w.]+)",\s*(?:#\s*(\d+))?\s*$')


class BaselineError(ValueError):
    """pyproject.toml has no baseline block (its markers) or a malformed line in it."""


def split_block(text: str) -> tuple[str, str, str]:
    """``(before, block, after)`` around the lines between the markers."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise BaselineError(
            "pyproject.toml must hold the lines '# mypy-baseline: begin' and '# mypy-baseline: end' once each, in order"
        )
    i = text.index(BEGIN) + len(BEGIN)
    j = text.index(END)
    return text[:i], text[i:j], text[j:]


def read_baseline(text: str) -> dict[str, int | None]:
    """The listed modules and their recorded error counts."""
    out: dict[str, int | None] = {}
    for line in split_block(text)[1].splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        m = _ENTRY.match(line)
        if m is None:
            raise BaselineError(f"malformed baseline line {line!r}; expected '  \"package.module\",  # N'")
        out[m.group(1)] = int(m.group(2)) if m.group(2) else None
    return out


def module_of(path: str) -> str:
    """``poser_env/world/scene.py`` -> ``poser_env.world.scene``; a package's ``__init__`` is the package."""
    parts = path.split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def errors_by_module(mypy_output: str) -> Counter[str]:
    return Counter(module_of(m.group(1)) for m in _ERROR.finditer(mypy_output))


def write_baseline(text: str, errors: Counter[str]) -> str:
    before, _, after = split_block(text)
    lines = "".join(f'  "{mod}",  # {n}\n' for mod, n in sorted(errors.items()))
    return before + lines + after


def run_mypy_without_baseline(root: Path = ROOT) -> str:
    """mypy's output with the baseline list emptied (a temporary copy of pyproject.toml)."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    emptied = write_baseline(text, Counter({"_mypy_baseline_placeholder": 0}))  # an empty list is not valid there
    fd, tmp = tempfile.mkstemp(suffix=".toml", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(emptied)
        r = subprocess.run(
            [sys.executable, "-m", "mypy", "--config-file", tmp], cwd=root, capture_output=True, text=True
        )
    finally:
        os.unlink(tmp)
    if r.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        raise RuntimeError(f"mypy failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Rewrite mypy's per-module baseline in pyproject.toml.")
    ap.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml", help="the file to rewrite")
    ap.add_argument("--from-output", type=Path, default=None, help="a saved mypy output to use instead of running mypy")
    ap.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    args = ap.parse_args(argv)
    text = args.pyproject.read_text(encoding="utf-8")
    try:
        old = read_baseline(text)
    except BaselineError as e:
        print(f"mypy_baseline: error: {args.pyproject}: {e}", file=sys.stderr)
        return 2
    output = (
        args.from_output.read_text(encoding="utf-8")
        if args.from_output
        else run_mypy_without_baseline(args.pyproject.parent)
    )
    new = errors_by_module(output)
    for mod in sorted(set(old) | set(new)):
        if mod not in new:
            print(f"- {mod} (passes now)")
        elif mod not in old:
            print(f"+ {mod} ({new[mod]} errors)")
        elif old[mod] != new[mod]:
            print(f"  {mod}: {old[mod]} -> {new[mod]} errors")
    print(f"{len(new)} modules, {sum(new.values())} errors in the baseline")
    if not args.dry_run:
        tmp = args.pyproject.with_suffix(".toml.tmp")
        tmp.write_text(write_baseline(text, new), encoding="utf-8")
        tmp.replace(args.pyproject)
    return 0


if __name__ == "__main__":
    sys.exit(main())
