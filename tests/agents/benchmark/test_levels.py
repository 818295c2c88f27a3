"""``poser benchmark levels``: the level card, and its references shared with the runs' cache."""

import json

from poser_agents.benchmark.levels import level_card
from poser_agents.cli import main

LEVEL = "ImagePoser-Gen-v0"


def test_level_card_with_cached_references_equals_a_fresh_one(tmp_path, capsys):
    fresh = level_card(LEVEL, split="val", episodes=3, singles=False, verbose=False)
    assert (
        main(
            ["benchmark", "levels", "--env", LEVEL, "--episodes", "3", "--no-singles"]
            + ["--references", str(tmp_path), "--json"]
        )
        == 0
    )
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (cached,) = list((tmp_path / "references" / LEVEL).iterdir())
    assert cached.name == "val-e3-s0-hash.json"
    # A second card reads the cache (the oracle is not played again) and gives the same scores.
    second = level_card(LEVEL, split="val", episodes=3, singles=False, verbose=False, references=tmp_path)
    for card in (first, second):
        for name in ("random", "oracle", "heuristic"):
            drop = lambda c: {k: v for k, v in c.items() if k != "seconds"}  # noqa: E731
            assert drop(card["baselines"][name]) == drop(fresh["baselines"][name])
        assert card["criteria"] == fresh["criteria"]
