"""tools/sweep_levels.py: one level card per setting, written atomically, and its bad input."""

import json

import pytest

from tools.sweep_levels import main, sweep_rows

GRID = [{"drift_p": 1.0, "drift_fail": 1.0, "drift_modality": "all"}, {"drift_p": 0.0}]


def test_sweep_writes_one_card_per_setting(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    argv = ["--env", "ImagePoser-v0", "--grid", json.dumps(GRID), "--episodes", "3", "--no-singles"]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["schema"] == "poser-level-sweep" and result["split"] == "val" and result["grid"] == GRID
    broken, plain = result["cards"]
    assert [c["env_kwargs"] for c in result["cards"]] == GRID
    # Every call failing leaves nothing solved; without drift the oracle solves tasks again.
    assert broken["baselines"]["oracle"]["accuracy"] == 0.0 and plain["baselines"]["oracle"]["accuracy"] > 0
    printed = capsys.readouterr().out
    rows = sweep_rows(result)
    assert len(rows) == 2 and all(r in printed for r in rows)
    assert "| heuristic_memory (norm.) | memory gain |" in printed  # the memory columns, measured here
    assert rows[0].startswith('| `drift_fail=1.0, drift_modality="all", drift_p=1.0` | 0.000 |')
    # The same grid from a file gives the same cards (the episodes are seeded).
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps(GRID))
    again = tmp_path / "again.json"
    argv[argv.index("--grid") + 1] = str(grid_file)
    assert main([*argv, "--out", str(again)]) == 0
    assert _timeless(json.loads(again.read_text())) == _timeless(result)


def _timeless(result: dict) -> list:
    """The cards without their wall-clock ``seconds``."""
    return [
        {**c, "baselines": {n: {k: v for k, v in b.items() if k != "seconds"} for n, b in c["baselines"].items()}}
        for c in result["cards"]
    ]


@pytest.mark.parametrize(
    "grid, message",
    [
        ("[]", "non-empty JSON list"),
        ('[{"drift_p": 0.5}, {"drift_p": 0.5}]', "lists a setting twice"),
        ('[{"split": "test"}]', "may not set ['split']"),
        ("no-such-file.json", "neither a JSON list nor a file"),
        ('[{"nope": 1}]', "unknown ImagePoser option(s)"),
    ],
)
def test_bad_grid_one_line(tmp_path, capsys, grid, message):
    out = tmp_path / "s.json"
    argv = ["--env", "ImagePoser-v0", "--grid", grid, "--episodes", "1", "--no-singles", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and not out.exists()


def test_test_split_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["--env", "ImagePoser-v0", "--grid", "[{}]", "--split", "test", "--out", "x.json"])
    assert "invalid choice: 'test'" in capsys.readouterr().err
