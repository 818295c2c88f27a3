"""No silent success: over every suite file and held-out file, no episode where the critic
reports full success, the evaluator finds a constraint unmet and nothing was reported as not
understood (a sample per file; the full sweep is ``python -m poser_agents.evaluation.honesty``)."""

from poser_agents.evaluation.honesty import (
    format_table,
    is_silent_success,
    main,
    silent_successes,
    task_files,
)


def test_no_silent_success_on_a_sample_of_every_file():
    files = task_files()
    assert {"geneval/test", "longform/train", "editing/val", "heldout/paraphrases", "heldout/forms"} <= set(files)
    result = silent_successes("heuristic", per_file=2, seed=0, files=files)
    print("\n" + format_table(result))
    assert result["total"]["episodes"] == 2 * len(files)
    assert result["total"]["silent"] == 0, {k: r["silent_ids"] for k, r in result["files"].items() if r["silent"]}


def test_the_definition():
    full_unmet = {"critic_score": 1.0, "evaluator": {"judged": True, "accuracy": 0.0}, "not_understood": []}
    assert is_silent_success(full_unmet)
    assert not is_silent_success({**full_unmet, "not_understood": ["next to"]})
    assert not is_silent_success({**full_unmet, "critic_score": 0.9})
    assert not is_silent_success({**full_unmet, "evaluator": {"judged": True, "accuracy": 1.0}})


def test_script(capsys):
    assert main(["--per-file", "1", "--agent", "random"]) == 0
    assert "silent successes in" in capsys.readouterr().out


def test_the_v1_files_are_swept_and_files_selects_them(capsys):
    assert {f"{s}/{p}" for s in ("forms", "forms_editing") for p in ("train", "val", "test")} <= set(task_files())
    assert main(["--per-file", "1", "--files", "forms_editing"]) == 0
    out = capsys.readouterr().out
    assert "| forms_editing/test | 1 |" in out and "geneval" not in out and "0 silent successes in 3 episodes" in out
