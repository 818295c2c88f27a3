"""Write docs/cli.md, the command reference, from the ``poser`` CLI's own parser (and the parsers
of the ``python -m`` entry points in MODULES).

    python tools/cli_reference.py           # rewrite docs/cli.md
    python tools/cli_reference.py --check   # exit 1 if docs/cli.md differs from the parser

The parser (``poser_agents.cli.build_parser``) is the one source of ``poser --help`` and of this
page, so the two cannot disagree; tests/test_cli_reference.py runs ``--check``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cli.md"
HEADER = """# Command reference: `poser`

Generated from the CLI's parser by `python tools/cli_reference.py` (do not edit by hand;
`tests/test_cli_reference.py` fails when this page and `poser --help` disagree). Every command
and flag below is what `poser ... --help` prints. The guides show them at work:
[testbed](testbed.md), [DQN](dqn.md), [GRPO](grpo.md), [evaluation](evaluation.md),
[benchmark](benchmark.md), [real models](real-models.md). The last sections are the `python -m`
entry points that have their own parser.
"""


#: ``python -m`` entry points with their own parser: (command, module, parser factory).
MODULES: list[tuple[str, str, str]] = [
    ("python -m poser_agents.evaluation", "poser_agents.evaluation.report", "build_parser"),
]


def module_parsers() -> dict[str, argparse.ArgumentParser]:
    """The parser of every MODULES entry point, by command."""
    import importlib

    return {cmd: getattr(importlib.import_module(mod), factory)() for cmd, mod, factory in MODULES}


def subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("poser",)
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """Every (command path, parser, one-line help) under ``parser``, depth first, in definition order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*path, name), sub, helps.get(name, "")
                yield from subcommands(sub, (*path, name))


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, (argparse._SubParsersAction, argparse._HelpAction))]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _name(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest.upper()}`"
    flag = ", ".join(f"`{s}`" for s in action.option_strings)
    if action.nargs == 0:
        return flag
    meta = action.metavar or (
        ("{" + ",".join(map(str, action.choices)) + "}") if action.choices else action.dest.upper()
    )
    return f"{flag} `{meta}`" + (" (optional)" if action.nargs == "?" else "")


def _section(title: str, sub: argparse.ArgumentParser, help_: str) -> list[str]:
    out = [f"\n## `{title}`\n"]
    if help_:
        out.append(f"\n{help_[0].upper()}{help_[1:]}.\n")
    rows = options(sub)
    if rows:
        out.append("\n| argument | default | help |\n|---|---|---|\n")
        for a in rows:
            default = (
                "" if a.default is None or a.default is False or a.default == argparse.SUPPRESS else f"`{a.default}`"
            )
            if a.required and a.option_strings:
                default = "required"
            out.append(f"| {_name(a)} | {default} | {_cell(a.help or '')} |\n")
    return out


def render() -> str:
    from poser_agents.cli import build_parser

    out = [HEADER]
    for path, sub, help_ in subcommands(build_parser()):
        out += _section(" ".join(path), sub, help_)
    for cmd, parser in module_parsers().items():
        out += _section(cmd, parser, (parser.description or "").rstrip("."))
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not PAGE.is_file() or PAGE.read_text() != text:
            print(f"{PAGE.relative_to(ROOT)} differs from the CLI's parser: run python tools/cli_reference.py")
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
