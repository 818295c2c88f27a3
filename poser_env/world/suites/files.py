"""The suite file format and loader: task lines to and from JSON, and reading suites.

Files: ``poser_env/data/suites/<suite>/<split>.jsonl``, one JSON object per line with the keys
``id, suite, category, split, prompt, target, source, edits`` (keys sorted, compact
separators, floats rounded by the ``to_dict`` methods): :func:`task_line` writes a line,
:func:`parse_task_line` reads and validates one. :func:`load_suite` reads a committed
(suite, split) file, :func:`load_heldout` the hand-written held-out prompts
(``poser_env/data/heldout/*.jsonl``); both cache per file. :func:`load_tasks` reads a user's
own task file (any suite and split per line).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from poser_env.types import Task
from poser_env.world import vocab
from poser_env.world.checks import SpecError, Target, checks_for
from poser_env.world.edits import EditError, validate_edit
from poser_env.world.scene import Scene, SceneError
from poser_env.world.suites.spec import (
    CATEGORIES,
    DEFAULT_DIR,
    FORMS_SUITES,
    LEVEL_SPLITS,
    LEVEL_SUITES,
    SPLITS,
    SUITES,
    TASK_KEYS,
    check_suite_split,
    suite_file,
)


class SuiteFormatError(ValueError):
    """A suite file holds a malformed line (the message names the file, the line and the fault)."""


def task_to_dict(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "suite": task.suite,
        "category": task.task_category,  # the file key of Task.task_category
        "split": task.split,
        "prompt": task.prompt,
        "target": task.target.to_dict(),
        "source": None if task.source is None else task.source.to_dict(),
        "edits": [dict(e) for e in task.edits],
    }


def task_line(task: Task) -> str:
    """One task as its file line (without the newline): sorted keys, compact separators."""
    return json.dumps(task_to_dict(task), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_task_line(line: str, where: str) -> Task:
    """One file line as a :class:`Task`; ``where`` ("file:line") goes into any error.

    Raises :class:`SuiteFormatError` naming ``where`` and the fault for bad JSON, missing or
    unknown keys, unknown suite / split / category, and an invalid target, source or edit
    (unknown colour, shape, style ...).
    """

    def fail(msg: str) -> SuiteFormatError:
        return SuiteFormatError(f"{where}: {msg}")

    try:
        d = json.loads(line)
    except json.JSONDecodeError as e:
        raise fail(f"not valid JSON ({e})") from e
    if not isinstance(d, dict):
        raise fail(f"a task line must be a JSON object, got {type(d).__name__}")
    missing = [k for k in TASK_KEYS if k not in d]
    if missing:
        raise fail(f"missing key(s) {missing}; a task line has {', '.join(TASK_KEYS)}")
    unknown = sorted(set(d) - set(TASK_KEYS))
    if unknown:
        raise fail(f"unknown key(s) {unknown}; a task line has {', '.join(TASK_KEYS)}")
    for k in ("id", "prompt"):
        if not isinstance(d[k], str) or not d[k].strip():
            raise fail(f"{k!r} must be a non-empty string, got {d[k]!r}")
    heldout = d["suite"] == "heldout"
    level = d["suite"] in LEVEL_SUITES
    if d["suite"] not in SUITES + FORMS_SUITES and not heldout and not level:
        raise fail(f"unknown suite {d['suite']!r}; allowed: {', '.join(SUITES + FORMS_SUITES + LEVEL_SUITES)}, heldout")
    if (
        d["split"] not in SPLITS
        and not (heldout and d["split"] == "heldout")
        and not (level and d["split"] in LEVEL_SPLITS)
    ):
        raise fail(f"unknown split {d['split']!r}; allowed: {', '.join(SPLITS)} (heldout tasks: heldout)")
    if d["category"] not in CATEGORIES[d["suite"]]:
        raise fail(
            f"unknown category {d['category']!r} for suite {d['suite']}; allowed: {', '.join(CATEGORIES[d['suite']])}"
        )
    try:
        if not isinstance(d["target"], dict):
            raise SpecError(f"target must be an object, got {type(d['target']).__name__}")
        target = Target.from_dict(d["target"])
        checks_for(target)
    except (SpecError, SceneError, vocab.VocabularyError, ValueError) as e:
        raise fail(f"bad target: {e}") from e
    source = None
    if d["source"] is not None:
        try:
            source = Scene.from_dict(d["source"])
        except (SceneError, vocab.VocabularyError, TypeError, ValueError) as e:
            raise fail(f"bad source: {e}") from e
    if not isinstance(d["edits"], list):
        raise fail(f"'edits' must be a list, got {type(d['edits']).__name__}")
    for k, e in enumerate(d["edits"]):
        try:
            validate_edit(e)
        except EditError as err:
            raise fail(f"bad edit {k}: {err}") from err
    editing = d["suite"] in ("editing", "hard_editing", "forms_editing")
    if editing and (source is None or not d["edits"]):
        raise fail("an editing task needs a source scene and at least one edit")
    if not editing and d["suite"] != "heldout" and (source is not None or d["edits"]):
        raise fail(f"a {d['suite']} task has no source and no edits")
    return Task(
        id=d["id"],
        prompt=d["prompt"],
        task_category=d["category"],
        suite=d["suite"],
        split=d["split"],
        target=target,
        source=source,
        edits=tuple(d["edits"]),
    )


@lru_cache(maxsize=64)
def _load(suite: str, split: str, path: str) -> tuple[Task, ...]:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"suite file {p} not found; regenerate with `python -m poser_env.world.suites`")
    tasks: list[Task] = []
    ids: set[str] = set()
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            where = f"{p}:{n}"
            if not line.strip():
                raise SuiteFormatError(f"{where}: empty line")
            task = parse_task_line(line, where)
            if task.suite != suite or task.split != split:
                raise SuiteFormatError(f"{where}: task is {task.suite}/{task.split} but the file holds {suite}/{split}")
            if task.id in ids:
                raise SuiteFormatError(f"{where}: duplicate task id {task.id!r}")
            ids.add(task.id)
            tasks.append(task)
    return tuple(tasks)


def load_suite(suite: str, split: str, path: str | Path | None = None) -> list[Task]:
    """The tasks of a suite's split.

    ``path`` is the suites root (holding ``<suite>/<split>.jsonl``; default: the package's
    data) or one ``.jsonl`` file. Results are cached per file; each call returns a new list.
    """
    check_suite_split(suite, split)
    p = Path(path) if path is not None else DEFAULT_DIR
    if not p.is_file():
        p = suite_file(suite, split, p)
    return list(_load(suite, split, str(p.resolve())))


#: The hand-written held-out files (``data/heldout/``): paraphrases of the generator's forms
#: (24 tasks) and the forms of issue 12 the generator does not write (sentences, relation
#: wordings, distributive attributes, edits).
HELDOUT_FILES: tuple[str, ...] = ("paraphrases.jsonl", "forms.jsonl")


def load_heldout(path: str | Path | None = None) -> list[Task]:
    """The hand-written held-out prompts, never trained on: every file of :data:`HELDOUT_FILES`
    (default), one of them by name, or a file at ``path``."""
    root = DEFAULT_DIR.parent / "heldout"
    if path is None:
        return [t for name in HELDOUT_FILES if (root / name).exists() for t in load_heldout(name)]
    p = root / str(path) if str(path) in HELDOUT_FILES else Path(path)
    return list(_load("heldout", "heldout", str(p.resolve())))


def load_tasks(path: str | Path) -> list[Task]:
    """A user's task file: lines in the suite line format (docs/suites.md), of any suite and split.

    Raises :class:`FileNotFoundError` for a missing file and :class:`SuiteFormatError` naming
    the file and line for a malformed line or a duplicate id; nothing in the file is executed.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"task file {p} not found; give a .jsonl file of task lines (docs/suites.md)")
    tasks: list[Task] = []
    ids: set[str] = set()
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            task = parse_task_line(line, f"{p}:{n}")
            if task.id in ids:
                raise SuiteFormatError(f"{p}:{n}: duplicate task id {task.id!r}")
            ids.add(task.id)
            tasks.append(task)
    if not tasks:
        raise SuiteFormatError(f"{p}: no task lines; each line is one JSON task (docs/suites.md)")
    return tasks
