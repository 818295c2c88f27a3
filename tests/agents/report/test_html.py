"""The HTML report's files: complete, self-contained, faithful to the evaluation, and safe to read."""

import json
import re

import pytest

from poser_agents.cli import main
from poser_agents.evaluation import evaluate
from poser_agents.report import read_traces, write_html_report, write_traces


def _js_object(path, name):
    text = path.read_text()
    return json.loads(text.split(f"window.{name} = ", 1)[1].rstrip().rstrip(";"))


def test_report_folder_is_self_contained(run_dir):
    report = run_dir / "report"
    for name in ("index.html", "app.js", "style.css", "data.js", "episodes-0.js", "episodes-1.js"):
        assert (report / name).is_file(), name
    for path in report.rglob("*"):
        if path.suffix in (".html", ".js", ".css"):
            # No server, no network: nothing is fetched from elsewhere (data URIs only for images).
            assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", path.read_text()), path
            assert "@import" not in path.read_text() and "@font-face" not in path.read_text()
    data = _js_object(report / "data.js", "POSER_REPORT")
    assert data["agents"] == ["heuristic", "random"]  # best first, as in results.md
    assert {f["file"] for f in data["figures"]} == {"figures/category_accuracy.png", "figures/expert_rewards.png"}
    assert all((report / f["file"]).stat().st_size > 1000 for f in data["figures"])
    overall = data["results"]["heuristic"]["overall"]["alignment"]
    assert overall["ci_low"] <= overall["mean"] <= overall["ci_high"]


def test_traces_match_the_records(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    for agent, name in results["traces"].items():
        who, episodes = read_traces(run_dir / "traces" / name)
        records = results["agents"][agent]["records"]
        assert who == agent and len(episodes) == len(records) == 8
        for ep, rec in zip(episodes, records):
            assert (ep["task_id"], ep["episode_seed"]) == (rec["task_id"], rec["episode_seed"])
            assert [s["expert"] for s in ep["steps"]] == [s["expert"] for s in rec["log"]]
            assert [s["reward"] for s in ep["steps"]] == pytest.approx([s["reward"] for s in rec["log"]], abs=1e-4)
            assert ep["evaluator"]["alignment"] == pytest.approx(rec["alignment"])
            # The evaluator's judgement per task check, and the critic's verdict per check at every step.
            assert sum(p for *_, p in ep["evaluator"]["checks"]) / len(ep["evaluator"]["checks"]) == pytest.approx(
                rec["alignment"]
            )
            for step in ep["steps"]:
                assert len(step["verdict"]["p"]) == len(step["verdict"]["i"]) > 0
            assert ep["frame_width"] == 128 and "not_understood" not in ep or ep["not_understood"]["spans"]


def test_tracing_changes_no_episode():
    plain = evaluate("heuristic", episodes=4, seeds=[1], n_resamples=200)
    traced = evaluate("heuristic", episodes=4, seeds=[1], n_resamples=200, trace=True)
    assert plain.records == traced.records and plain.traces is None and len(traced.traces) == 4


def test_poser_report_cli_rebuilds_and_refuses_bad_folders(run_dir, tmp_path, capsys):
    out = tmp_path / "again"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    assert "MB); open it in a browser" in capsys.readouterr().out
    assert (out / "episodes-1.js").read_text() == (run_dir / "report" / "episodes-1.js").read_text()
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "no results.json" in capsys.readouterr().err


def test_a_trace_file_from_a_stranger_is_checked(run_dir, tmp_path):
    good = next((run_dir / "traces").glob("*.jsonl"))
    agent, episodes = read_traces(good)
    bad = dict(episodes[0], image='data:image/png;base64,AAAA");background:url("https://example.com/x')
    write_traces(tmp_path / "traces" / "x.jsonl", agent, [bad])
    with pytest.raises(ValueError, match="not a base64 PNG or JPEG"):
        read_traces(tmp_path / "traces" / "x.jsonl")
    (tmp_path / "other.jsonl").write_text('{"format": "something-else"}\n')
    with pytest.raises(ValueError, match="not a trace file"):
        read_traces(tmp_path / "other.jsonl")


def test_not_understood_spans_travel_when_the_env_reports_them(run_dir, tmp_path):
    """The extractor may report spans it did not understand (issue 12): shown as given, never invented."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    name = next((run / "traces").glob("*heuristic*.jsonl"))
    agent, episodes = read_traces(name)
    episodes[0]["not_understood"] = {"spans": ["made of glass"], "coverage": 0.8}
    write_traces(name, agent, episodes)
    index = write_html_report(run)
    shown = _js_object(index.parent / "episodes-0.js", 'POSER_EPISODES["heuristic"]')
    assert shown[0]["not_understood"]["spans"] == ["made of glass"]
    assert all("not_understood" not in e for e in shown[1:])


def test_thumbnails_png_for_flat_shapes_jpeg_for_photographs_and_at_most_128_pixels():
    import base64
    import io

    import numpy as np
    from PIL import Image

    from poser_agents.report.trace import encode_strip

    flat = np.zeros((128, 128, 3), np.uint8)
    flat[30:60, 30:60] = (200, 30, 30)
    uri, width = encode_strip([flat, flat[::-1]])
    assert uri.startswith("data:image/png;base64,") and width == 128
    noisy = np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)  # a real model's 512-pixel image
    uri, width = encode_strip([noisy, noisy])
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert uri.startswith("data:image/jpeg;base64,") and width == 128 and image.size == (256, 128)


def test_poser_eval_out_writes_the_report(tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["eval", "--agent", "heuristic", "--episodes", "3", "--seeds", "0", "--out", str(out)]) == 0
    assert str(out / "report" / "index.html") in capsys.readouterr().out
    _, episodes = read_traces(next((out / "traces").glob("*.jsonl")))
    assert len(episodes) == 3 and (out / "report" / "episodes-0.js").is_file()
