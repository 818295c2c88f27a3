"""One small traced evaluation (random and heuristic, same tasks) shared by the report tests."""

import pytest

from poser_agents.evaluation.report import main as evaluation_main


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report-run")
    assert (
        evaluation_main(
            ["--agents", "random,heuristic", "--episodes", "8", "--seeds", "0", "--out", str(out), "--html", "--quiet"]
        )
        == 0
    )
    return out
