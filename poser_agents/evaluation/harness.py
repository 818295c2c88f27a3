"""Run any agent on a split over several seeds and collect per-episode records.

``evaluate`` plays the same tasks (``rollout.pick_tasks``) for every seed, episode ``i`` of
seed ``s`` with ``reset(seed=s * 100000 + i, options={"task": tasks[i]})`` (the strided scheme
of :func:`poser_agents.rollout.episode_seed`, played by :func:`poser_agents.rollout.run_episode`), so two agents
evaluated with the same arguments meet the same tasks under the same expert luck and can be
compared episode by episode (:func:`paired`). The agent is anything with SB3's
``predict(obs, deterministic=True) -> (action, state)``, given as

- an agent object (reused for every seed),
- a factory ``Callable[[env], agent]`` or ``Callable[[env, seed], agent]``, called once per
  seed on the live env the agent acts in (the oracle needs it), or
- a string for :func:`poser_agents.factory.load_agent`: a baseline spec (``random``,
  ``heuristic``, ``heuristic_memory``, ``oracle``, ``single:<expert>``) or a saved agent's folder.
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from poser_agents.evaluation.stats import DEFAULT_RESAMPLES, paired_difference
from poser_agents.evaluation.summary import CATEGORY_ORDER, record_from_summary, summarize
from poser_agents.rollout import SEED_STRIDE, episode_seed, pick_tasks, run_episode
from poser_env.deprecation import ImagePoserDeprecationWarning
from poser_env.wrappers import adopt_time_limit


@dataclass
class EvalResult:
    """One agent's evaluation: configuration, per-episode records and their summary.

    ``summary`` holds ``overall`` / ``per_category`` / ``per_suite`` (``{metric: {"mean",
    "ci_low", "ci_high", "n"}}``), ``per_check_category``, ``per_seed`` (plain means),
    ``geneval_score``, ``experts`` and ``unjudged`` (see :func:`.summary.summarize`).
    """

    agent: str
    config: dict[str, Any]
    records: list[dict[str, Any]]
    summary: dict[str, Any]
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    #: Per-episode traces for the HTML report (``evaluate(..., trace=True)``), else None. Not in
    #: :meth:`to_dict`: :func:`.report.write_report` writes them to their own files.
    traces: list[dict[str, Any]] | None = None

    @property
    def overall(self) -> dict[str, Any]:
        return self.summary["overall"]

    @property
    def per_category(self) -> dict[str, Any]:
        return self.summary["per_category"]

    @property
    def experts(self) -> dict[str, Any]:
        return self.summary["experts"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "config": self.config,
            "seconds": self.seconds,
            "extra": self.extra,
            "summary": self.summary,
            "records": self.records,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EvalResult:
        return cls(
            agent=d["agent"],
            config=dict(d["config"]),
            records=list(d["records"]),
            summary=dict(d["summary"]),
            seconds=float(d.get("seconds", 0.0)),
            extra=dict(d.get("extra", {})),
        )


def _agent_name(source: Any, agent: Any) -> str:
    if isinstance(source, str):
        return source
    return str(getattr(agent, "name", None) or type(agent).__name__)


def _build(source: Any, env: gym.Env, seed: int) -> Any:
    if isinstance(source, str):  # a baseline spec or a saved agent's folder: the one factory
        from poser_agents.factory import load_agent

        return load_agent(source, env, seed=seed)
    if hasattr(source, "predict") and not isinstance(source, type):
        return source
    if callable(source):
        # The seed goes in as a keyword when the factory names it, positionally when it
        # requires a second argument; otherwise the factory gets the env alone.
        try:
            params = list(inspect.signature(source).parameters.values())
        except (TypeError, ValueError):
            params = []
        if any(p.name == "seed" and p.kind != p.POSITIONAL_ONLY for p in params):
            agent = source(env, seed=seed)
        else:
            required = [
                p for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            agent = source(env, seed) if len(required) >= 2 else source(env)
        if not hasattr(agent, "predict"):
            raise TypeError(f"the agent factory returned {type(agent).__name__}, which has no predict(obs)")
        return agent
    raise TypeError(
        f"expected an agent with predict(obs), a factory Callable[[env], agent] or a baseline spec string, got {type(source).__name__}"
    )


def run_recorded_episode(
    env: gym.Env, agent: Any, task: Any, seed: int, tracer: Any = None, run_seed: int = 0
) -> tuple[dict[str, Any], list[str]]:
    """Deprecated: :func:`poser_agents.rollout.run_episode` with ``kinds=[]`` (the one episode runner).

    Returns ``(summary, kinds)`` as before; kept for one release."""
    import warnings

    warnings.warn(
        "harness.run_recorded_episode is deprecated: call poser_agents.rollout.run_episode(env, agent, task, seed, "
        "kinds=kinds, tracer=tracer, run_seed=run_seed)",
        ImagePoserDeprecationWarning,
        stacklevel=2,
    )
    kinds: list[str] = []
    summary = run_episode(env, agent, task, seed, kinds=kinds, tracer=tracer, run_seed=run_seed)
    return summary, kinds


def evaluate(
    agent: Any | Callable[..., Any] | str,
    env_id: str | gym.Env = "ImagePoser-v0",
    split: str = "test",
    episodes: int = 100,
    seeds: Sequence[int] = (0, 1, 2),
    env_kwargs: Mapping[str, Any] | None = None,
    name: str | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    verbose: bool = False,
    tasks: Sequence[Any] | None = None,
    trace: bool = False,
) -> EvalResult:
    """Run ``agent`` on ``episodes`` tasks of ``split`` for each seed; summarize with bootstrap CIs.

    ``env_id`` may also be an env instance (then ``split`` and ``env_kwargs`` are ignored: the
    env's own are used). ``tasks`` (e.g. ``load_heldout()``, or the path of a task file in the
    suite line format, read with :func:`~poser_env.world.suites.load_tasks`) replaces the split's
    tasks. Each record carries the critic's score, the evaluator's alignment, the spans not
    understood and the coverage.
    ``trace`` keeps every episode step by step with thumbnails (``EvalResult.traces``) for the
    HTML report's viewer; it does not change any episode. Returns an :class:`EvalResult`.
    """
    import poser_env  # noqa: F401  (registers the ids)

    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    own = not isinstance(env_id, gym.Env)
    env = gym.make(env_id, split=split, **dict(env_kwargs or {})) if own else env_id
    adopt_time_limit(env)  # a TimeLimit around the env: the env truncates (and summarises) there too
    t0 = time.perf_counter()
    tracer = None
    if trace:
        from poser_agents.report.trace import EpisodeTracer

        tracer = EpisodeTracer()
    try:
        if isinstance(tasks, (str, Path)):
            from poser_env.world.suites import load_tasks

            tasks = load_tasks(tasks)
        tasks = list(tasks) if tasks is not None else pick_tasks(env, episodes)
        records: list[dict[str, Any]] = []
        label = name
        for seed in seeds:
            agent_obj = _build(agent, env, seed)
            label = label or _agent_name(agent, agent_obj)
            for i, task in enumerate(tasks):
                reset_seed = episode_seed(seed, i, SEED_STRIDE)
                kinds: list[str] = []
                summary = run_episode(env, agent_obj, task, reset_seed, kinds=kinds, tracer=tracer, run_seed=seed)
                records.append(record_from_summary(summary, seed, reset_seed, kinds))
            if verbose:
                print(
                    f"  {label}: seed {seed} done ({len(tasks)} episodes, {time.perf_counter() - t0:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if own:
            env.close()
    seconds = time.perf_counter() - t0
    config = {
        "env_id": env_id if own else getattr(getattr(env, "spec", None), "id", type(env).__name__),
        "split": split if own else getattr(getattr(env.unwrapped, "config", None), "split", split),
        "episodes": len(tasks),
        "seeds": seeds,
        "env_kwargs": json.loads(json.dumps(dict(env_kwargs or {}), default=str)),
        "experts": list(getattr(env.unwrapped, "action_names", [])),
        "n_resamples": int(n_resamples),
        "seed_stride": SEED_STRIDE,
    }
    steps = sum(r["steps"] for r in records)
    return EvalResult(
        agent=label or "agent",
        config=config,
        records=records,
        summary=summarize(records, n_resamples),
        seconds=round(seconds, 3),
        extra={"env_steps": steps, "steps_per_s": round(steps / seconds, 1) if seconds > 0 else None},
        traces=tracer.episodes if tracer is not None else None,
    )


def paired(
    a: EvalResult,
    b: EvalResult,
    metric: str = "accuracy",
    n_resamples: int = DEFAULT_RESAMPLES,
    rng: int = 0,
    names: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """``a - b`` on ``metric`` over the episodes both ran (matched on task id and reset seed).

    A result may hold several episodes per (task, reset seed), e.g. a learner pooled over its
    training seeds: their mean is what is paired, so each side counts once per episode key.
    """
    na, nb = names or (a.agent, b.agent)

    def by_key(result: EvalResult) -> dict[tuple[Any, int], float | None]:
        groups: dict[tuple[Any, int], list[float]] = {}
        for r in result.records:
            groups.setdefault((r["task_id"], r["episode_seed"]), []).append(r[metric])
        return {k: (None if any(v is None for v in vs) else float(np.mean(vs))) for k, vs in groups.items()}

    ia, ib = by_key(a), by_key(b)
    keys = [k for k in ia if k in ib]
    out = paired_difference(
        [ia[k] for k in keys],
        [ib[k] for k in keys],
        groups=[k[0] for k in keys],
        n_resamples=n_resamples,
        rng=rng,
        names=(na, nb),
    )
    return {"a": na, "b": nb, "metric": metric, **out}


def compare(
    results: Mapping[str, EvalResult],
    metrics: Sequence[str] = ("alignment", "accuracy", "fidelity", "cost", "steps"),
    paired_metrics: Sequence[str] = ("alignment", "accuracy"),
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict[str, Any]:
    """Several agents side by side: the overall metrics, per-category accuracy, and the paired
    difference of every pair (ordered best first by mean alignment) on ``paired_metrics``."""
    names = sorted(
        results,
        key=lambda n: -(results[n].overall["alignment"]["mean"] if results[n].overall["alignment"]["n"] else -1.0),
    )
    cats = {c for r in results.values() for c in r.per_category}
    categories = [c for c in CATEGORY_ORDER if c in cats] + sorted(cats - set(CATEGORY_ORDER))
    return {
        "agents": names,
        "overall": {
            n: {m: results[n].overall[m] for m in metrics} | {"episodes": results[n].overall["episodes"]} for n in names
        },
        "geneval_score": {n: results[n].summary.get("geneval_score") for n in names},
        "categories": categories,
        "per_category_accuracy": {
            c: {n: results[n].per_category.get(c, {}).get("accuracy") for n in names} for c in categories
        },
        "paired": [
            paired(results[a], results[b], m, n_resamples, names=(a, b))
            for a, b in combinations(names, 2)
            for m in paired_metrics
        ],
    }
