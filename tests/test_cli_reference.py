"""docs/cli.md is generated from the CLI's parser, and every `poser ...` the docs quote inline
names a real command and real flags (the code blocks are parsed by tests/test_docs_snippets.py)."""

import re

from tests.docs_snippets import PAGES
from tools.cli_reference import main as cli_reference
from tools.cli_reference import module_parsers, subcommands


def test_the_command_reference_is_the_parsers():
    assert cli_reference(["--check"]) == 0, "docs/cli.md is stale: run python tools/cli_reference.py"


def _parsers():
    from poser_agents.cli import build_parser

    parser = build_parser()
    return {(): parser} | {path[1:]: sub for path, sub, _ in subcommands(parser)}


def test_every_inline_poser_command_names_real_flags():
    parsers = _parsers()
    seen = 0
    for page in PAGES:
        for span in re.findall(r"`(poser [^`]+)`", page.read_text()):
            words = [w.rstrip(":,.;") for w in span.split()[1:]]
            path = max((p for p in parsers if tuple(words[: len(p)]) == p), key=len)
            options = {s for a in parsers[path]._actions for s in a.option_strings}
            for flag in re.findall(r"(?<![\w-])--[a-z][\w-]*", span):
                assert flag in options, f"{page.name}: `{span}`: poser {' '.join(path)} has no {flag}"
            seen += 1
    assert seen > 30


def test_the_reference_lists_every_command_and_flag():
    text = (PAGES[0].parent / "docs" / "cli.md").read_text()
    for path, sub in _parsers().items():
        if not path:
            continue
        section = text.split(f"## `poser {' '.join(path)}`\n", 1)[1].split("\n## ", 1)[0]
        for action in sub._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}`" in section, (path, flag)


def test_the_reference_lists_every_python_m_entry_point_and_flag():
    text = (PAGES[0].parent / "docs" / "cli.md").read_text()
    assert "python -m poser_agents.evaluation" in module_parsers()
    for cmd, parser in module_parsers().items():
        assert f"## `{cmd}`\n" in text, cmd
        section = text.split(f"## `{cmd}`\n", 1)[1].split("\n## ", 1)[0]
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}`" in section, (cmd, flag)


def test_every_inline_python_m_command_names_real_flags():
    parsers = module_parsers()
    seen = 0
    for page in PAGES:
        for span in re.findall(r"`(python -m [\w.]+[^`]*)`", page.read_text()):
            cmd = " ".join(span.split()[:3])
            if cmd not in parsers:
                continue
            options = {s for a in parsers[cmd]._actions for s in a.option_strings}
            for flag in re.findall(r"(?<![\w-])--[a-z][\w-]*", span):
                assert flag in options, f"{page.name}: `{span}`: {cmd} has no {flag}"
            seen += 1
    assert seen >= 1
