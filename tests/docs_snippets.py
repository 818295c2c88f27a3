"""Run the code blocks of README.md and docs/ (tests/test_docs_snippets.py), with Sybil.

Every fenced block has a language. ``python`` and ``bash`` blocks run, in order, one namespace per
page, in a scratch folder that holds links to the repository's code and a copy of docs/results (so a
command that writes ``--out docs/results/...`` cannot touch the committed files). A block whose first
line is ``# illustrative: <why>`` is not run (it needs a GPU, the model hub, a cluster, hours, or a
checkpoint the page does not make); its ``poser`` commands are still parsed by the CLI's own parser, so
a flag that does not exist fails. ``json`` blocks must parse, ``toml`` blocks too; ``text`` blocks are
prose.

The docs quote real budgets (``--steps 100000``, ``episodes=300``); the tests run the same commands
with the small budgets of BUDGETS, EXTRA and PY_BUDGETS below, the only change made to a block.
Commands that another test already runs at tiny budgets (CHECKED_ELSEWHERE: the examples, the
benchmark) are checked against their parser here, not run twice.
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
from collections.abc import Iterator
from pathlib import Path

import tomllib
from sybil import Document, Example
from sybil.parsers.markdown import CodeBlockParser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "docs" / "tutorials").glob("*.md")),
]
MARK = "# illustrative:"
LANGUAGES = ("python", "bash", "json", "toml", "text")

# Flag -> the value the tests use when the doc's value is larger (numbers) or a list (seeds).
BUDGETS: dict[str, str] = {
    "--steps": "300",
    "--episodes": "3",
    "--total-timesteps": "300",
    "--budget": "300",
    "--scenes": "8",
    "--eval-tasks": "3",
    "--iterations": "1",
    "--repeats": "1",
    "--seeds": "0",
    "--train-seeds": "0",
    "--eval-seeds": "0",
}
# Commands whose documented form has no budget flag to cut: the tests add these flags.
# Each flag is added (with its value) when the command does not give it.
EXTRA: dict[tuple[str, ...], list[tuple[str, ...]]] = {
    ("poser", "train", "grpo"): [("--quick",)],
    ("poser", "demo"): [("--quick",), ("--steps", "300")],
    ("poser", "eval"): [("--episodes", "3"), ("--seeds", "0")],
    ("poser", "calibrate"): [("--episodes", "3")],
}
# Commands whose flags are checked against their parser but not run here, because another test
# runs them at tiny budgets already.
CHECKED_ELSEWHERE: dict[tuple[str, ...], str] = {
    ("python", "examples"): "tests/test_examples.py",
    ("poser", "benchmark", "run"): "tests/agents/benchmark",
    ("poser", "bench"): "tests/agents/test_cli.py (bench --quick) and the benchmark scripts",
}
# Regex -> replacement on Python blocks: the same budgets for the API.
PY_BUDGETS: list[tuple[str, str]] = [
    (r"\.learn\(\s*[\d_]+", ".learn(300"),
    (r"\bepisodes=\d+", "episodes=12"),
    (r"\bseeds=\(0, 1, 2\)", "seeds=(0,)"),
    (r"\bfor s in \(0, 1, 2\)", "for s in (0,)"),
    (r"\blearning_starts=\d+", "learning_starts=50"),
    (r'^(.*PPO\("MultiInputPolicy", .*)\)$', r"\1, n_steps=64, batch_size=64)"),  # a rollout is 2048 steps
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
        source = re.sub(pattern, repl, source, flags=re.M)
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
        except ValueError:  # an open quote: the command goes on
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
    if prog == "python" and args and args[0].startswith("examples/"):
        return check_example_flags(args)
    if any((prog, *args[: len(head) - 1]) == head for head in CHECKED_ELSEWHERE if head[0] == "poser"):
        return parse_only(["poser", *args])
    for head, flags in EXTRA.items():
        if (prog, *args[: len(head) - 1]) == head:
            args += [t for flag in flags if flag[0] not in args for t in flag]
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


def check_example_flags(args: list[str]) -> None:
    """``python examples/X.py FLAGS``: the script's own parser accepts FLAGS (nothing runs)."""
    import dataclasses

    ns = runpy.run_path(args[0], run_name="docs_check")
    try:
        if "parse_args" in ns:
            with argv(args):
                try:
                    ns["parse_args"](args[1:])
                except TypeError:  # parse_args() reads sys.argv
                    ns["parse_args"]()
        else:
            known = {"--" + f.name.replace("_", "-") for f in dataclasses.fields(ns["Args"])}
            unknown = [a for a in args[1:] if a.startswith("--") and a not in known]
            assert not unknown, f"{args[0]} has no {unknown}"
    except SystemExit as e:
        raise AssertionError(f"{shlex.join(['python', *args])}: the script's parser refuses it") from e


def parse_only(tokens: list[str]) -> None:
    """An illustrative ``poser`` command still names real subcommands and flags."""
    if any(t in ("[", "...") or t.startswith("[") or t.endswith("]") for t in tokens):
        return
    if tokens[0].endswith("python") and tokens[1].startswith("examples/"):
        return check_example_flags(tokens[1:])
    if tokens[0] != "poser":
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


PARSERS = [
    CodeBlockParser("python", eval_python),
    CodeBlockParser("bash", eval_bash),
    CodeBlockParser("json", eval_json),
    CodeBlockParser("toml", eval_toml),
    CodeBlockParser("text", lambda example: None),
]
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
