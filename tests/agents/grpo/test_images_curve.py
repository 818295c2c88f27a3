"""The images curve (``python -m poser_agents.grpo.experiments images``) end to end at a tiny size,
and the subset and crossing rules it rests on."""

import contextlib
import io
import json

import pytest

from poser_agents.grpo.experiments import main as experiments
from poser_agents.grpo.images_curve import first_crossing, format_tables, nested_subset, task_order


def _records(images_per_task):
    """One record per (split, task) with the given images (enough fields for the subset rules)."""
    return [
        {"split": "val" if i % 4 == 3 else "train", "task_id": f"t{i}", "images_rendered": n}
        for i, n in enumerate(images_per_task)
    ]


def test_subsets_are_nested_whole_task_prefixes_within_their_image_budget():
    records = _records([3, 40, 5, 7, 9, 2, 11, 6, 4, 8, 1, 30])
    records += [dict(records[0], images_rendered=2)]  # a second record of task t0: stays with it
    order = task_order(records)
    assert order == task_order(records) and len(order) == 12
    total = sum(r["images_rendered"] for r in records)
    previous: list = []
    for budget in (0, 10, 30, 60, total):
        subset = nested_subset(records, order, budget)
        assert sum(r["images_rendered"] for r in subset) <= budget
        assert all(r in subset for r in previous)  # nested
        tasks = {r["task_id"] for r in subset}
        assert all(r in subset for r in records if r["task_id"] in tasks)  # whole tasks
        previous = subset
    assert previous == records


def test_first_crossing_is_the_fewest_images_reaching_the_bar():
    curve = [{"images": x, "alignment": {"mean": a}} for x, a in ((900, 0.95), (100, 0.80), (400, 0.93))]
    assert first_crossing(curve, 0.90) == 400
    assert first_crossing(curve, 0.945) == 900
    assert first_crossing(curve, 0.99) is None


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    base = tmp_path_factory.mktemp("images")
    args = ["images", "--quick", "--seeds", "0,1", "--episodes", "9", "--out", str(base / "out")]
    args += ["--work", str(base / "work"), "--fractions", "1/4,1", "--env-starts", "1/4", "--env-checkpoints", "0,2,3"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        assert experiments(args) == 0
    printed = json.loads(buf.getvalue().strip().splitlines()[-1])
    return json.loads((base / "out" / "images_curve.json").read_text()), printed


def test_images_curve_end_to_end_counts_images_as_the_pipeline_does(quick):
    result, printed = quick
    assert printed["thresholds"] == result["thresholds"] and result["seeds"] == [0, 1]
    assert result["grpo_prompts"] == "all"  # phase 2 draws from every train prompt (text renders nothing)
    small, full = result["ensemble"]
    assert full["logged_images"] == result["logged_images_total"] and small["logged_images"] < full["logged_images"]
    for p in result["ensemble"]:
        assert p["phase2_images"] == [0, 0]  # the ensemble renders nothing in phase 2
        assert all(s > 0 for s in p["policy_sample_images"])  # the reward models' phase-1 samples are counted
        assert p["images_per_seed"] == [p["logged_images"] + s for s in p["policy_sample_images"]]
        assert len(p["alignment"]["per_seed"]) == 2 and p["alignment"]["n"] == 18
    env = result["env"]["0.25"]
    assert [p["step"] for p in env] == [0, 2, 3]
    assert env[0]["phase2_images"] == [0, 0] and env[0]["logged_images"] == small["logged_images"]
    for a, b in zip(env, env[1:]):
        assert all(x < y for x, y in zip(a["phase2_images"], b["phase2_images"]))  # the env renders every sample
    for p in env:
        assert p["images_per_seed"] == [p["logged_images"] + s for s in p["phase2_images"]]
    rows = {c["fraction"]: c for c in result["comparison"]}
    assert rows[0.25]["env_best_images"] <= small["images"]
    assert rows[0.25]["leads"] == (small["alignment"]["mean"] > rows[0.25]["env_best_alignment"])
    table = format_tables(result)
    assert f"| 1/4 | 0 | {small['logged_images']:,} | 0 |" in table
    alone = {
        **result,
        "env": {},
        "thresholds": {b: {"ensemble": r["ensemble"]} for b, r in result["thresholds"].items()},
    }
    assert "No env-reward runs" in format_tables(alone) and "best env point" not in format_tables(alone)


def test_bad_fractions_are_refused_with_one_line(tmp_path):
    with pytest.raises(SystemExit, match="--fractions must be comma-separated fractions"):
        experiments(["images", "--quick", "--fractions", "1/0,2", "--work", str(tmp_path), "--out", str(tmp_path)])


def test_a_result_name_that_is_a_path_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="--result must be a file name ending in .json"):
        experiments(["images", "--quick", "--result", "../x.json", "--work", str(tmp_path), "--out", str(tmp_path)])
