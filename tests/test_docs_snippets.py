"""Every code block of README.md and docs/ runs, or says in its first line why it cannot
(``# illustrative: ...``); how and with which budgets: tests/docs_snippets.py."""

import pytest

pytest.importorskip("sybil", reason="sybil is not installed (pip install -e .[test])")

from tests.docs_snippets import (  # noqa: E402
    LANGUAGES,
    MARK,
    PAGES,
    budget_args,
    commands,
    fence_count,
    parse,
    parse_only,
    run_command,
    run_page,
)


def _name(page):
    return page.relative_to(PAGES[0].parent).as_posix()


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_block_is_run_or_marked_illustrative(page):
    """Each fenced block has a language the tests handle: python and bash run (or are marked),
    json and toml parse, text is prose. A block without a language would be skipped silently."""
    found = len(list(parse(page)))
    assert found == fence_count(page), (
        f"{_name(page)}: {fence_count(page)} fenced blocks, {found} with one of the languages {LANGUAGES}; "
        f"give each block a language ('text' for prose, '{MARK} <why>' as first line if it cannot run)"
    )


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_page_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run_page(page, tmp_path)


def test_budgets_apply_to_the_flags_only():
    assert budget_args(["--steps", "100000", "--seeds", "0,1,2", "--episodes", "2", "--out", "100000"]) == [
        "--steps",
        "300",
        "--seeds",
        "0",
        "--episodes",
        "2",
        "--out",
        "100000",
    ]
    assert list(commands('poser a \\\n  --b 1   # note\npython -c "x = 1\nprint(x)"\n')) == [
        ["poser", "a", "--b", "1"],
        ["python", "-c", "x = 1\nprint(x)"],
    ]


def test_a_command_the_tests_cannot_run_must_be_marked_and_a_wrong_flag_fails():
    with pytest.raises(AssertionError, match="illustrative"):
        run_command(["pip", "install", "imageposer"])
    with pytest.raises(AssertionError, match="refuses"):
        parse_only(["poser", "eval", "--agent", "heuristic", "--no-such-flag"])
    with pytest.raises(AssertionError, match="refuses"):
        run_command(["python", "examples/train_dqn.py", "--no-such-flag", "1"])
