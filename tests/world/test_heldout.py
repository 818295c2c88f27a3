"""The hand-written held-out prompts: valid, achievable, and never produced by the generator."""

import numpy as np

from poser_env.world.checks import score
from poser_env.world.sampling import realize
from poser_env.world.suites import SPLITS, SUITES, apply_edits, load_heldout, load_suite


def test_heldout_prompts_load_and_are_new_words():
    tasks = load_heldout()
    assert len(load_heldout("paraphrases.jsonl")) == 24 and len(load_heldout("forms.jsonl")) >= 150
    assert len(tasks) == 24 + len(load_heldout("forms.jsonl")) and len({t.id for t in tasks}) == len(tasks)
    forms = load_heldout("forms.jsonl")
    assert sum(t.task_category == "heldout_editing" for t in forms) >= 30
    generated = {t.prompt.lower() for s in SUITES for sp in SPLITS for t in load_suite(s, sp)}
    assert not {t.prompt.lower() for t in tasks} & generated


def test_every_heldout_target_is_achievable():
    rng = np.random.default_rng(0)
    for task in load_heldout():
        scene = apply_edits(task.source, task.edits, rng) if task.edits else realize(task.target, rng)
        results, frac = score(task.checks, scene)
        assert frac == 1.0, (task.id, [c.question for c, ok in zip(task.checks, results) if not ok])
