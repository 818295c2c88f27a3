"""The main job end to end, at the smallest budget: every stage runs and the report holds together."""

import json

from poser_agents.cli import main
from poser_agents.dqn import DQNAgent


def test_quick_demo_trains_evaluates_and_reports(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--steps", "1500", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = (out / "report.md").read_text()
    # The headline names the DQN against the best non-oracle baseline, with a CI.
    assert "DQN alignment" in report and "95% CI" in report and "DQN alignment" in printed
    for agent in ("dqn", "random", "single:inpaint-i2i", "heuristic", "oracle"):
        assert f"| {agent} |" in report
    results = json.loads((out / "evaluation" / "results.json").read_text())
    assert set(results["agents"]) == {"dqn", "random", "single:inpaint-i2i", "heuristic", "oracle"}
    for png in ("category_accuracy.png", "expert_rewards.png", "training.png"):
        assert (out / "evaluation" / png).stat().st_size > 1000, png
        assert f"evaluation/{png}" in report
    assert list((out / "episodes").glob("*-dqn.png")) and list((out / "episodes").glob("*-heuristic.png"))
    # The checkpoint the report points to loads back.
    assert DQNAgent.load(out / "dqn" / "agent").num_timesteps == 1500
    # The HTML report: every evaluated episode traced, the page beside its data.
    assert (out / "report" / "index.html").is_file() and "report/index.html" in report
    assert len(list((out / "report").glob("episodes-*.js"))) == 5
