"""The memory soak (poser_agents.soak) runs end to end on a few steps: figures and samples as documented."""

from __future__ import annotations

import json

from poser_agents.soak import main, rss_mb


def test_soak_prints_the_rss_figures(capsys):
    assert main(["--steps", "60", "--sample-every", "20", "--reset-every", "7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 60 and [s for s, _ in out["samples"]] == [0, 20, 40, 60]
    assert out["episodes"] + out["forced_resets"] > 0
    assert (
        out["rss_start_mb"] > 0
        and abs(out["rss_growth_last_90pct_mb"] - (out["rss_env_end_mb"] - out["rss_after_warmup_mb"])) < 0.11
    )
    assert rss_mb() > 0
