"""The suite package's layers: the env loads suites without importing their generator, and the
old import paths keep working (deprecated where they moved)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import warnings

import pytest

GENERATOR = (
    "poser_env.world.suites.generate",
    "poser_env.world.suites.levels",
    "poser_env.world.suites.prompts",
    "poser_env.world.suites.cli",
)

PROBE = """
import json, sys
import gymnasium as gym
import poser_env
env = gym.make("ImagePoser-v0")
env.reset(seed=0)
env.step(0)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("poser_env.world.suite"))))
"""


def test_reset_and_step_do_not_import_the_generator():
    # A fresh interpreter: this test process has imported the generator already.
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "poser_env.world.suites.files" in loaded  # the loader did run
    assert not set(GENERATOR) & set(loaded), loaded


def test_generator_names_resolve_from_the_package():
    from poser_env.world import suites

    assert suites.generate_split is importlib.import_module("poser_env.world.suites.generate").generate_split
    assert suites.suite_stats is importlib.import_module("poser_env.world.suites.cli").suite_stats
    assert set(suites.__all__) <= set(dir(suites))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        suites.nope  # noqa: B018


def test_old_level_path_warns_and_reexports():
    from poser_env.world.suites import levels

    sys.modules.pop("poser_env.world.suite_levels", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("poser_env.world.suite_levels")
    assert any(issubclass(w.category, DeprecationWarning) and "suites.levels" in str(w.message) for w in caught)
    assert old.check_level_files is levels.check_level_files and old.HELDOUT_PAIRS == levels.HELDOUT_PAIRS


def test_task_category_is_the_attribute_and_category_the_file_key():
    from poser_env.types import Task
    from poser_env.world.suites import load_suite, task_to_dict

    task = load_suite("geneval", "val")[0]
    assert task.task_category in {"single_object", "two_object", "counting", "colors", "position", "color_attr"}
    assert task_to_dict(task)["category"] == task.task_category and "task_category" not in task_to_dict(task)
    with pytest.warns(DeprecationWarning, match="Task.category is deprecated"):
        assert task.category == task.task_category
    with pytest.warns(DeprecationWarning, match=r"Task\(category=...\) is deprecated"):
        old = Task(id="t", prompt="a red circle", category="counting")
    assert old == Task(id="t", prompt="a red circle", task_category="counting")
    with pytest.raises(TypeError, match="pass task_category= only"):
        Task(id="t", prompt="p", task_category="colors", category="counting")
