"""Run the code blocks of README.md and docs/ (tests/test_docs_snippets.py), with Sybil.

Every fenced block has a language. ``python`` and ``bash`` blocks run, in order, one namespace per
page, in a scratch folder that holds links to the repository's code and a copy of docs/results (so a
command that writes ``--out docs/results/...`` cannot touch the committed files). A block whose first
line is ``# illustrative: <why>`` is not run (it needs a GPU, the model hub, a cluster, hours, or a
checkpoint the page does not make); its ``poser`` commands are still parsed by the CLI's own parser, so
a flag that does not exist fails. ``json`` blocks must parse, ``toml`` blocks too; ``text`` blocks are
prose.

The docs quote real budgets (``--steps 100000``, ``episodes=300``); the tests run the same commands
with the small budgets of BUDGETS and PY_BUDGETS below, the only change made to a block.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import runpy
import shlex
import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

from sybil import Document, Example
from sybil.parsers.markdown import CodeBlockParser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "tutorials").glob("*.md"))]
MARK = "# illustrative:"
LANGUAGES = ("python", "bash", "json", "toml", "text")

# Flag -> the value the tests use when the doc's value is larger (numbers) or a list (seeds).
BUDGETS: dict[str, str] = {
    "--steps": "300", "--episodes": "3", "--total-timesteps": "300", "--budget": "300", "--scenes": "8",
    "--eval-tasks": "3", "--iterations": "1", "--repeats": "1",
    "--seeds": "0", "--train-seeds": "0", "--eval-seeds": "0",
}
# Commands whose documented form has no budget flag to cut: the tests add these flags.
EXTRA: dict[tuple[str, ...], list[str]] = {
    ("poser", "train", "grpo"): ["--quick"],
    ("poser", "demo"): ["--quick", "--steps", "300"],
    ("python", "examples/train_dqn.py"): ["--total-timesteps", "300"],
    ("python", "examples/train_grpo.py"): ["--train-tasks", "16", "--val-tasks", "8", "--members", "2", "--grpo-steps", "2",
                                           "--test-tasks", "4"],
}
# Regex -> replacement on Python blocks: the same budgets for the API.
PY_BUDGETS: list[tuple[str, str]] = [
    (r"\.learn\(\s*[\d_]+", ".learn(300"),
    (r"\bepisodes=\d+", "episodes=12"),
    (r"\bseeds=\(0, 1, 2\)", "seeds=(0,)"),
    (r"\bfor s in \(0, 1, 2\)", "for s in (0,)"),
    (r"\blearning_starts=\d+", "learning_starts=50"),
]


def budget_args(args: list[str]) -> list[str]:
    """The command's arguments with each budget flag's value cut to BUDGETS."""
    out = list(args)
    for i, tok in enumerate(out[:-1]):
        small = BUDGETS.get(tok)
        if small is None:
            continue
        value = out[i + 1]
        if tok.endswith("seeds") or (value.replace("_", "").isdigit() and int(value.replace("_", "")) > int(small)):
            out[i + 1] = small
    return out


def budget_python(source: str) -> str:
    for pattern, repl in PY_BUDGETS:
        source = re.sub(pattern, repl, source)
    return source


def commands(block: str) -> Iterator[list[str]]:
    """The shell commands of a block, one token list each (continuations and quoted newlines joined)."""
    pending = ""
    for line in block.splitlines():
        pending += line + "\n"
        if pending.rstrip().endswith("\\"):
            pending = pending.rstrip()[:-1] + " "
            continue
        try:
            tokens = shlex.split(pending, comments=True)
        except ValueError:          # an open quote: the command goes on
            continue
        pending = ""
        if tokens:
            yield tokens
    assert not pending.strip(), f"unterminated command: {pending!r}"


def is_illustrative(source: str) -> bool:
    return source.lstrip().startswith(MARK)


@contextlib.contextmanager
def argv(args: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = args
    try:
        yield
    finally:
        sys.argv = saved


def _exit_code(fn) -> int:
    try:
        rc = fn()
    except SystemExit as e:
        rc = e.code
    return 0 if rc is None else rc if isinstance(rc, int) else 1


def run_command(tokens: list[str]) -> None:
    """Run one documented command in this process (poser, python -m, python file.py, python -c)."""
    from poser_agents.cli import main

    prog = "python" if tokens[0].endswith("/python") else tokens[0]
    args = budget_args(tokens[1:])
    for head, flags in EXTRA.items():
        if (prog, *args[: len(head) - 1]) == head and flags[0] not in args:
            args = [*args, *flags]
    if prog == "poser":
        rc = _exit_code(lambda: main(args))
    elif prog == "python" or prog.endswith("/python"):
        if args[0] == "-m":
            with argv([args[1], *args[2:]]):
                rc = _exit_code(lambda: runpy.run_module(args[1], run_name="__main__", alter_sys=True))
        elif args[0] == "-c":
            rc = _exit_code(lambda: exec(compile(args[1], "<python -c>", "exec"), {"__name__": "__main__"}))
        elif args[0].endswith(".py"):
            with argv(args):
                rc = _exit_code(lambda: runpy.run_path(args[0], run_name="__main__"))
        else:
            raise AssertionError(f"unsupported python invocation {tokens}")
    else:
        raise AssertionError(f"{prog!r} is not run by the docs tests: start the block with '{MARK} <why>'")
    assert rc == 0, f"{shlex.join(tokens)} exited {rc} (run as {shlex.join([prog, *args])})"


def parse_only(tokens: list[str]) -> None:
    """An illustrative ``poser`` command still names real subcommands and flags."""
    if tokens[0] != "poser" or any(t in ("[", "...") or t.startswith("[") or t.endswith("]") for t in tokens):
        return
    from poser_agents.cli import build_parser

    try:
        build_parser().parse_args(tokens[1:])
    except SystemExit as e:
        raise AssertionError(f"{shlex.join(tokens)}: the CLI's parser refuses it") from e


def eval_python(example: Example) -> None:
    if is_illustrative(example.parsed):
        return
    source = "\n" * (example.line + example.parsed.line_offset) + budget_python(example.parsed)
    exec(compile(source, example.path, "exec"), example.namespace)


def eval_bash(example: Example) -> None:
    illustrative = is_illustrative(example.parsed)
    for tokens in commands(example.parsed):
        if illustrative:
            parse_only(tokens)
        else:
            run_command(tokens)


def eval_json(example: Example) -> None:
    for line in example.parsed.splitlines():
        if line.strip():
            json.loads(line)


def eval_toml(example: Example) -> None:
    tomllib.loads(example.parsed)


PARSERS = [CodeBlockParser("python", eval_python), CodeBlockParser("bash", eval_bash),
           CodeBlockParser("json", eval_json), CodeBlockParser("toml", eval_toml),
           CodeBlockParser("text", lambda example: None)]
FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)


def parse(page: Path) -> Document:
    return Document.parse(str(page), *PARSERS)


def fence_count(page: Path) -> int:
    """Opening fences in the page (every second fence line closes a block)."""
    return len(FENCE.findall(page.read_text())) // 2


def scratch(folder: Path) -> None:
    """A folder to run a page's blocks in: links to the code, a copy of docs/results."""
    for name in ("examples", "poser_env", "poser_agents", "tests", "zoo", "tools", "pyproject.toml"):
        (folder / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "docs" / "results", folder / "docs" / "results")


def run_page(page: Path, folder: Path) -> None:
    scratch(folder)
    here = os.getcwd()
    os.chdir(folder)
    try:
        for example in parse(page):
            example.evaluate()
    finally:
        os.chdir(here)
