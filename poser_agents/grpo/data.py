"""Logged data: execute workflows in the env and keep (prompt, workflow, scores, images) records.

Sources: ``random`` (uniform expert per slot), ``heuristic`` (the command-type heuristic as a
retry list, which is exactly what the closed-loop heuristic does), ``oracle`` (the search
oracle run closed-loop; its executed experts become the retry lists, unreached slots filled as
the heuristic would), and ``policy`` (samples of a workflow policy). Tasks come from the env's
``train`` and ``val`` splits only: asking for ``test`` is refused.

Image accounting: a record's ``images_rendered`` counts every expert call executed for it,
including the oracle's search branches (each renders an image too).

File format (JSONL): a header line (``format``, ``version``, experts, attempts, suite), one line
per record, and a footer with the record count. :func:`read_records` refuses a file with a
wrong header, a malformed or truncated line, NaN, Infinity or an out-of-range score, a line
nested too deeply, an invalid workflow or a missing footer, naming the line; it never returns
part of a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from poser_agents.baselines import SYNTHETIC_HEURISTIC, OracleAgent
from poser_agents.grpo.context import PlanContext
from poser_agents.grpo.workflow_tokens import Workflow, WorkflowVocab
from poser_agents.rollout import pick_tasks
from poser_env.config import HELD_OUT_SPLITS
from poser_env.wrappers import final_summary

FORMAT = "imageposer-grpo-logs"
FORMAT_VERSION = 1
SOURCES = ("random", "heuristic", "oracle", "policy")
_FIELDS = {
    "task_id": str,
    "split": str,
    "suite": str,
    "prompt": str,
    "commands": list,
    "workflow": str,
    "source": str,
    "seed": int,
    "evaluator_alignment": float,
    "critic_score": float,
    "images_rendered": int,
    "steps": int,
}


#: Numeric fields' allowed ranges (scores are fractions; counts are non-negative).
_RANGES = {
    "evaluator_alignment": (0.0, 1.0),
    "critic_score": (0.0, 1.0),
    "images_rendered": (0, 10**9),
    "steps": (0, 10**6),
}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


class DataFileError(ValueError):
    """A logged-data file that is missing, corrupt, truncated or made for another expert set."""


@dataclass
class CollectConfig:
    """What :func:`collect` executes (one episode per record; about 30 to 50 episodes/s, the oracle 3/s)."""

    suite: str = "mixed"
    """Suite mix the tasks come from (``mixed``, ``longform``, ``editing``, ...)."""
    train_tasks: int = 600
    """Train-split tasks (spread evenly over the split)."""
    val_tasks: int = 150
    """Val-split tasks, held out for the reward models' calibration (never the test split)."""
    random_per_task: int = 3
    """Random workflows per task: the spread of scores the reward models learn from."""
    heuristic: bool = True
    """One heuristic workflow per task."""
    oracle_train_tasks: int = 50
    """Train tasks also solved by the search oracle (slow: about 0.35 s each)."""
    oracle_val_tasks: int = 20
    """Val tasks also solved by the oracle."""
    seed: int = 0
    """Seeds the task choice, the random workflows and every episode's reset seed."""

    def __post_init__(self) -> None:
        for name in ("train_tasks", "val_tasks", "random_per_task", "oracle_train_tasks", "oracle_val_tasks"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative int, got {v!r}")
        if self.train_tasks < 1:
            raise ValueError("train_tasks must be at least 1: phase 1 needs logged workflows")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_images(summary: dict[str, Any], expert_names: Sequence[str]) -> int:
    """Expert calls executed in an episode: one image each."""
    names = set(expert_names)
    return sum(1 for row in summary["log"] if row["expert"] in names)


def execute(env: gym.Env, task: Any, seed: int, workflow: Workflow) -> dict[str, Any]:
    """Run a workflow open-loop on ``task`` with ``reset(seed)``: the env's accept/retry picks
    which token is consumed (command ``info['command_index']``, slot ``info['attempts']``)."""
    _, info = env.reset(seed=int(seed), options={"task": task})
    if len(workflow.steps) != len(info["commands"]):
        raise ValueError(
            f"the workflow has {len(workflow.steps)} retry lists, task {task.id!r} has {len(info['commands'])} commands"
        )
    names = list(env.unwrapped.action_names)
    done = False
    while not done:
        name = workflow.steps[info["command_index"]][info["attempts"]]
        _, _, terminated, truncated, info = env.step(names.index(name))
        done = terminated or truncated
    return final_summary(env, info)


def heuristic_workflow(
    ctx: PlanContext, vocab: WorkflowVocab, preferences: dict[str, list[str]] | None = None
) -> Workflow:
    """The command-type heuristic as retry lists: its next untried specialist, else its first."""
    prefs = preferences or SYNTHETIC_HEURISTIC
    steps = []
    for _, kind in ctx.commands:
        order = list(prefs.get(kind, [])) or [vocab.experts[0]]
        tried: list[str] = []
        for _ in range(vocab.attempts):
            untried = [e for e in order if e not in tried]
            tried.append(untried[0] if untried else order[0])
        steps.append(tuple(tried))
    return Workflow(tuple(steps))


def random_workflow(ctx: PlanContext, vocab: WorkflowVocab, rng: np.random.Generator) -> Workflow:
    ids = rng.integers(vocab.n_experts, size=ctx.n_commands * vocab.attempts)
    return vocab.from_expert_ids(ids, ctx.n_commands)


def _oracle_episode(env: gym.Env, task: Any, seed: int, vocab: WorkflowVocab) -> tuple[Workflow, dict[str, Any], int]:
    """The oracle closed-loop; returns its workflow, the summary and every expert call it made
    (its search branches step the env too: each renders an image)."""
    base = env.unwrapped
    oracle = OracleAgent(env)
    obs, info = env.reset(seed=int(seed), options={"task": task})
    ctx = PlanContext.from_info(info)
    executed: list[list[str]] = [[] for _ in ctx.commands]
    calls_before = base.expert_calls  # the env's count: the search branches' expert actions too
    done = False
    while not done:
        i = info["command_index"]
        a, _ = oracle.predict(obs)
        obs, _, terminated, truncated, info = env.step(int(a))
        executed[i].append(info["expert"])
        done = terminated or truncated
    fill = heuristic_workflow(ctx, vocab)
    steps = tuple(tuple(ex + list(fill.steps[k][len(ex) :])) for k, ex in enumerate(executed))
    return Workflow(steps), info["episode_summary"], base.expert_calls - calls_before


def oracle_record(env: gym.Env, task: Any, seed: int, vocab: WorkflowVocab) -> dict[str, Any]:
    """The search oracle's episode on ``task`` with ``reset(seed)`` as a record (source ``oracle``);
    its ``images_rendered`` counts the search branches' expert calls too."""
    split = _check_split(env)
    wf, summary, calls = _oracle_episode(env, task, seed, vocab)
    ctx = PlanContext.from_info(env.unwrapped.episode_context())
    return _record(task, split, ctx, wf, "oracle", seed, summary, calls)


def _record(
    task: Any,
    split: str,
    ctx: PlanContext,
    workflow: Workflow,
    source: str,
    seed: int,
    summary: dict[str, Any],
    images: int,
) -> dict[str, Any]:
    ev = summary["evaluator"]
    return {
        "task_id": task.id,
        "split": split,
        "suite": summary.get("suite") or "",
        "category": summary.get("category") or "",
        "prompt": ctx.prompt,
        "commands": [list(c) for c in ctx.commands],
        "workflow": workflow.key(),
        "source": source,
        "seed": int(seed),
        "evaluator_alignment": float(ev.get("alignment", float("nan"))),
        "evaluator_accuracy": float(ev.get("accuracy", float("nan"))),
        "critic_score": float(summary["critic_score"]),
        "images_rendered": int(images),
        "steps": int(summary["steps"]),
        "cost": float(summary["cost"]),
    }


def _context(env: gym.Env, task: Any) -> PlanContext:
    _, info = env.reset(seed=0, options={"task": task})
    return PlanContext.from_info(info)


def _check_split(env: gym.Env) -> str:
    split = env.unwrapped.config.split
    if split in HELD_OUT_SPLITS:
        raise ValueError(
            f"logged data must never come from the {split} split (held out for evaluation): build the env with split='train' or 'val'"
        )
    return split


def run_workflows(env: gym.Env, items: Iterable[tuple[Any, Workflow, str, int]]) -> list[dict[str, Any]]:
    """Execute ``(task, workflow, source, seed)`` items; one record each."""
    split = _check_split(env)
    names = env.unwrapped.expert_names
    out = []
    for task, wf, source, seed in items:
        summary = execute(env, task, seed, wf)
        ctx = PlanContext.from_info(env.unwrapped.episode_context())
        out.append(_record(task, split, ctx, wf, source, seed, summary, count_images(summary, names)))
    return out


def collect_split(
    env: gym.Env,
    n_tasks: int,
    config: CollectConfig,
    vocab: WorkflowVocab,
    rng: np.random.Generator,
    n_oracle: int,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Random, heuristic and oracle records on ``n_tasks`` tasks of the env's split."""
    split = _check_split(env)
    tasks = pick_tasks(env, n_tasks)
    items = []
    for task in tasks:
        ctx = _context(env, task)
        if config.heuristic:
            items.append((task, heuristic_workflow(ctx, vocab), "heuristic", int(rng.integers(2**31))))
        for _ in range(config.random_per_task):
            items.append((task, random_workflow(ctx, vocab, rng), "random", int(rng.integers(2**31))))
    records = run_workflows(env, items)
    if progress:
        progress(f"{split}: {len(records)} random/heuristic episodes on {len(tasks)} tasks")
    for task in pick_tasks(env, min(n_oracle, len(tasks))) if n_oracle else []:
        records.append(oracle_record(env, task, int(rng.integers(2**31)), vocab))
    if progress and n_oracle:
        progress(f"{split}: {min(n_oracle, len(tasks))} oracle episodes")
    return records


def collect(
    train_env: gym.Env,
    val_env: gym.Env,
    config: CollectConfig,
    vocab: WorkflowVocab,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Records on the train and val splits (see :class:`CollectConfig`)."""
    rng = np.random.default_rng(config.seed)
    out = collect_split(train_env, config.train_tasks, config, vocab, rng, config.oracle_train_tasks, progress)
    if config.val_tasks:
        out += collect_split(val_env, config.val_tasks, config, vocab, rng, config.oracle_val_tasks, progress)
    return out


# ---------------------------------------------------------------------------------------
# Files


def write_records(
    path: str | Path, records: Sequence[dict[str, Any]], vocab: WorkflowVocab, meta: dict[str, Any] | None = None
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    """Write the JSONL file atomically (temporary file, fsync, rename); NaN or infinite values are refused."""
    from poser_agents.common.checkpoint import atomic_write_text

    header = {"format": FORMAT, "version": FORMAT_VERSION, **vocab.to_dict(), "meta": meta or {}}
    try:
        lines = [json.dumps(header, allow_nan=False)] + [
            json.dumps(r, sort_keys=True, allow_nan=False) for r in records
        ]
    except ValueError as e:
        raise DataFileError(
            f"cannot write {path}: a record holds NaN or an infinite number ({e}); nothing was written"
        ) from None
    lines.append(json.dumps({"end": True, "records": len(records)}))
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_records(path: str | Path, vocab: WorkflowVocab | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All records and the header; raises :class:`DataFileError` on any defect (nothing half-loaded)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(
            f"no logged-data file at {str(path)!r} (write one with poser train grpo or grpo.data.collect)"
        )
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError as e:
        raise DataFileError(f"{path} is not a text JSONL file ({e})") from None
    rows = []
    for n, line in enumerate(lines, start=1):
        try:
            rows.append(json.loads(line, parse_constant=_no_constant))
        except json.JSONDecodeError as e:
            raise DataFileError(
                f"{path}, line {n}: not valid JSON ({e}); the file is corrupt or truncated, collect it again"
            ) from None
        except RecursionError:
            raise DataFileError(
                f"{path}, line {n}: nested too deeply to be a record; the file is corrupt, collect it again"
            ) from None
        except ValueError as e:  # NaN / Infinity: Python's json reads them, JSON does not allow them
            raise DataFileError(
                f"{path}, line {n}: {e}; scores must be finite numbers, collect the data again"
            ) from None
    if not rows or not isinstance(rows[0], dict) or rows[0].get("format") != FORMAT:
        raise DataFileError(
            f"{path} is not a GRPO logged-data file (its first line must be a header with format {FORMAT!r})"
        )
    header = rows[0]
    if header.get("version", 0) > FORMAT_VERSION:
        raise DataFileError(f"{path} has format version {header['version']}; this code reads up to {FORMAT_VERSION}")
    try:
        file_vocab = WorkflowVocab.from_dict(header)
    except (KeyError, TypeError, ValueError) as e:
        raise DataFileError(f"{path}: invalid vocabulary in the header ({e})") from None
    if vocab is not None and (file_vocab.experts != vocab.experts or file_vocab.attempts != vocab.attempts):
        raise DataFileError(
            f"{path} was logged with experts {file_vocab.experts} x {file_vocab.attempts} attempts; this env has "
            f"{vocab.experts} x {vocab.attempts}: collect data with this env's experts"
        )
    footer = rows[-1] if len(rows) > 1 else {}
    if not isinstance(footer, dict) or footer.get("end") is not True or footer.get("records") != len(rows) - 2:
        raise DataFileError(
            f"{path} is truncated: no footer line with the record count (expected after {len(rows) - 1} lines)"
        )
    records = rows[1:-1]
    for n, r in enumerate(records, start=2):
        if not isinstance(r, dict):
            raise DataFileError(f"{path}, line {n}: a record must be a JSON object")
        for key, typ in _FIELDS.items():
            ok = (
                isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)
                if typ is float
                else isinstance(r.get(key), typ)
            )
            if not ok:
                raise DataFileError(f"{path}, line {n}: field {key!r} missing or not {typ.__name__}")
        for key, (low, high) in _RANGES.items():
            if not low <= r[key] <= high:
                raise DataFileError(f"{path}, line {n}: field {key!r} is {r[key]!r}, outside [{low}, {high}]")
        if r["split"] in HELD_OUT_SPLITS:
            raise DataFileError(
                f"{path}, line {n}: a {r['split']}-split record; logged data must never include a held-out split "
                f"({', '.join(HELD_OUT_SPLITS)})"
            )
        if r["source"] not in SOURCES:
            raise DataFileError(f"{path}, line {n}: unknown source {r['source']!r}; allowed: {', '.join(SOURCES)}")
        try:
            file_vocab.validate(Workflow.from_key(r["workflow"]), n_commands=len(r["commands"]))
            PlanContext.from_dict(r)
        except (ValueError, TypeError) as e:
            raise DataFileError(f"{path}, line {n}: {e}") from None
    return records, header


def context_of(record: dict[str, Any]) -> PlanContext:
    return PlanContext.from_dict(record)


def label_of(record: dict[str, Any], label: str) -> float:
    """The score a record is trained on: ``critic`` (the env's own signal) or ``evaluator``."""
    return float(record["critic_score" if label == "critic" else "evaluator_alignment"])
