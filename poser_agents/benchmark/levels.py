"""A level's scale in normalised scores: every baseline against the random and oracle references.

The level criteria of docs/benchmark.md that need no training: *solvable* (the oracle's raw
accuracy >= 0.9) and *not trivial* (the best single expert <= 0.3 and the heuristic <= 0.6 of
the normalised accuracy score). Beside the heuristic it reports ``heuristic_memory`` (the heuristic
that skips experts which failed silently earlier in the episode) and the *memory gain*, its
normalised accuracy minus the heuristic's: what remembering the episode is worth on a level
(ImagePoser-Drift-v0 is meant to reward it). Every baseline plays the same tasks and reset seeds as the
references (the evaluation harness), so the per-task normalisation is exact.

``env_kwargs`` (``poser benchmark levels --env-kwargs JSON``) overrides a level's registered
kwargs, so that a setting can be measured on val before it is registered (tools/sweep_levels.py
sweeps several); the card records them, and a card with overrides describes that setting, not
the registered level.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from poser_agents.benchmark.score import score_card

SOLVABLE_ORACLE_ACCURACY = 0.9
MAX_SINGLE = 0.3
MAX_HEURISTIC = 0.6
#: Keys ``env_kwargs`` may not set: the split is its own argument.
RESERVED_ENV_KWARGS = frozenset({"split"})


def check_env_kwargs(env_kwargs: Any) -> dict[str, Any]:
    """``env_kwargs`` as a plain dict of JSON data, or ``ValueError`` naming the problem.

    Only plain data (str, int, float, bool, None and lists or dicts of them), so a card's
    overrides are what a registered id could carry; the option names and values are checked by
    the env itself (``EnvConfig``) when the level is built."""
    if not isinstance(env_kwargs, dict):
        raise ValueError(
            f'env kwargs must be a JSON object such as {{"drift_p": 0.5}}, got {type(env_kwargs).__name__}'
        )

    def plain(v: Any) -> bool:
        if v is None or isinstance(v, (str, bool, int, float)):
            return True
        if isinstance(v, list):
            return all(plain(x) for x in v)
        return isinstance(v, dict) and all(isinstance(k, str) and plain(x) for k, x in v.items())

    bad = sorted(k for k, v in env_kwargs.items() if not isinstance(k, str) or not plain(v))
    if bad:
        raise ValueError(f"env kwargs {bad} are not plain JSON data (str, number, bool, null, lists, objects)")
    reserved = sorted(RESERVED_ENV_KWARGS & set(env_kwargs))
    if reserved:
        raise ValueError(f"env kwargs may not set {reserved}: pass the split as --split / split=")
    return dict(env_kwargs)


def level_card(
    env_id: str,
    split: str = "val",
    episodes: int = 50,
    seeds: Sequence[int] = (0,),
    singles: bool = True,
    verbose: bool = True,
    references: str | Path | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score cards of random, oracle, heuristic and (``singles``) every single expert, on the
    level ``env_id`` with its registered kwargs overridden by ``env_kwargs`` (plain data).

    ``references``: a ``poser benchmark run --out`` folder whose cached random and oracle
    records (same level setting, split, episodes and seeds; hash text encoder) are read, or
    measured and cached there: the oracle is the slow part, and a level card and the runs of
    the published baselines then share one measurement. The cache holds the registered level
    only, so it cannot be combined with ``env_kwargs`` (``ValueError``).
    """
    import gymnasium as gym

    import poser_env  # noqa: F401
    from poser_agents.evaluation.harness import evaluate

    if env_id not in gym.registry:
        raise ValueError(
            f"unknown level {env_id!r}; registered: {', '.join(sorted(k for k in gym.registry if k.startswith('ImagePoser')))}"
        )
    overrides = check_env_kwargs({} if env_kwargs is None else env_kwargs)
    if references is not None and (not str(references).strip() or Path(references).is_file()):
        raise ValueError(f"--references must name a folder (a 'benchmark run --out' folder), got {str(references)!r}")
    if references is not None and overrides:
        raise ValueError(
            "the cached references are the registered level's: drop --env-kwargs, or --references to measure them afresh"
        )
    env = gym.make(env_id, split=split, **overrides)
    level: Any = env.unwrapped  # an ImagePoserEnv
    names = ["random", "oracle", "heuristic", "heuristic_memory"] + (
        [f"single:{n}" for n in level.expert_names] if singles else []
    )
    records: dict[str, list] = {}
    seconds: dict[str, float] = {}
    try:
        if references is not None:
            from poser_agents.benchmark.run import Protocol
            from poser_agents.benchmark.run import references as cached_references

            t0 = time.perf_counter()
            log = (lambda m: print(m, file=sys.stderr, flush=True)) if verbose else (lambda m: None)
            refs = cached_references(Path(references), env_id, split, episodes, Protocol(eval_seeds=tuple(seeds)), log)
            records.update(refs)
            seconds.update({n: round(time.perf_counter() - t0, 1) for n in refs})
        for name in names:
            if name in records:
                continue
            t0 = time.perf_counter()
            records[name] = evaluate(name, env, episodes=episodes, seeds=list(seeds), n_resamples=1).records
            seconds[name] = round(time.perf_counter() - t0, 1)
            if verbose:
                print(f"  {name}: {seconds[name]} s", file=sys.stderr, flush=True)
    finally:
        env.close()
    cards = {
        n: score_card(r, records["random"], records["oracle"]) | {"seconds": seconds[n]} for n, r in records.items()
    }
    singles_scores = {
        n: c["norm_accuracy"] for n, c in cards.items() if n.startswith("single:") and c["norm_accuracy"] is not None
    }
    best_single = max(singles_scores, key=lambda n: singles_scores[n]) if singles_scores else None
    criteria = {
        "solvable": cards["oracle"]["accuracy"] is not None and cards["oracle"]["accuracy"] >= SOLVABLE_ORACLE_ACCURACY,
        "best_single": best_single,
        "best_single_ok": None if best_single is None else singles_scores[best_single] <= MAX_SINGLE,
        "heuristic_ok": cards["heuristic"]["norm_accuracy"] is not None
        and cards["heuristic"]["norm_accuracy"] <= MAX_HEURISTIC,
    }
    return {
        "env_id": env_id,
        "split": split,
        "episodes": episodes,
        "seeds": list(seeds),
        "env_kwargs": overrides,
        "baselines": cards,
        "criteria": criteria,
        "memory_gain": memory_gain(cards),
    }


def memory_gain(cards: dict[str, Any]) -> float | None:
    """``heuristic_memory``'s normalised accuracy minus the heuristic's (None when either is missing:
    cards measured before ``heuristic_memory`` existed)."""
    a = cards.get("heuristic_memory", {}).get("norm_accuracy")
    b = cards.get("heuristic", {}).get("norm_accuracy")
    return None if a is None or b is None else a - b


def format_card(card: dict[str, Any]) -> str:
    overrides = card.get("env_kwargs") or {}
    with_kwargs = f" with {json.dumps(overrides, sort_keys=True)}" if overrides else ""
    lines = [
        f"{card['env_id']}{with_kwargs} on {card['split']} ({card['episodes']} tasks x seeds {card['seeds']})",
        "",
        "| baseline | norm. accuracy | norm. alignment | accuracy | alignment | cost |",
        "|---|---|---|---|---|---|",
    ]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for name, c in sorted(card["baselines"].items(), key=lambda kv: -(kv[1]["accuracy"] or 0)):
        lines.append(
            f"| {name} | {fmt(c['norm_accuracy'])} | {fmt(c['norm_alignment'])} | {fmt(c['accuracy'])} | {fmt(c['alignment'])} | {c['cost']:.2f} |"
        )
    k = card["criteria"]
    lines += [
        "",
        f"solvable (oracle accuracy >= 0.9): {k['solvable']}; best single ({k['best_single']}) <= 0.3: {k['best_single_ok']}; "
        f"heuristic <= 0.6: {k['heuristic_ok']}",
    ]
    gain = memory_gain(card["baselines"])
    if gain is not None:
        lines.append(f"memory gain (heuristic_memory - heuristic, norm. accuracy): {gain:+.3f}")
    return "\n".join(lines)
