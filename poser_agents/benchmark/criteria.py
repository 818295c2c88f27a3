"""``poser benchmark criteria``: a level's five criteria, checked from its test card and its runs.

docs/benchmark.md (issue 14) asks every level to be, on its test split:

- *solvable*: the search oracle's raw accuracy >= 0.9 (from the level card);
- *not trivial*: the best single expert <= 0.3 and the heuristic <= 0.6 of the normalised
  accuracy (from the level card);
- *headroom*: the best learner at 100k training steps has an IQM <= 0.75 normalised accuracy;
- *learnable*: 1M training steps beat 100k for at least one learner: the probability of
  improvement P(ALGO@1000000 > ALGO@100000) (rliable, Agarwal et al. 2021) has a 95% stratified
  bootstrap CI above 0.5, the probability's analogue of "a CI excluding 0" (a longer budget
  counts too; a shorter one, say 300k, is shown but does not meet it);
- *memory* (levels with drift only): a recurrent policy beats a memoryless one at one budget,
  P(recurrent_ppo > ppo) with a CI above 0.5.

The last three need runs (``poser benchmark run`` folders); a learner entry counts only with
at least :data:`MIN_RUNS` complete runs, and a criterion nothing measured is reported as not
measured (``met`` None), never as met. The figures are :func:`aggregate`'s, so they are the
ones ``poser benchmark aggregate`` prints for the same folders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from poser_agents.benchmark.aggregate import aggregate, collect, entry_labels
from poser_agents.benchmark.levels import MAX_HEURISTIC, MAX_SINGLE, SOLVABLE_ORACLE_ACCURACY

HEADROOM_STEPS = 100_000
LEARNABLE_STEPS = 1_000_000
MAX_HEADROOM = 0.75
#: Complete runs an entry needs before a criterion is judged on it (the protocol's seeds).
MIN_RUNS = 3
MEMORY_PAIR = ("recurrent_ppo", "ppo")


@dataclass(frozen=True)
class Criterion:
    """One criterion of one level: ``met`` is None when nothing measured it (``measured`` says what is missing)."""

    name: str
    rule: str
    measured: str
    met: bool | None


def read_card(path: str | Path) -> dict[str, Any]:
    """A level card from a file: the JSON ``poser benchmark levels --json`` prints (alone, or that
    command's whole output, whose last line it is).

    Raises ValueError naming the file when it is not JSON or not a card."""
    path = Path(path)
    try:
        text = path.read_text().strip()
    except OSError as e:
        raise ValueError(f"cannot read the level card {path}: {e}") from e
    try:  # a saved card, or the whole output of `levels --json` (the table, then the JSON line)
        card = json.loads(text)
    except json.JSONDecodeError:
        card = None
    try:
        card = json.loads(text.splitlines()[-1] if text else "") if card is None else card
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{path} is not a level card: expected the JSON line `poser benchmark levels --json` prints ({e})"
        ) from e
    missing = [k for k in ("env_id", "split", "baselines", "criteria") if not isinstance(card, dict) or k not in card]
    if missing:
        raise ValueError(
            f"{path} is not a level card: no {', '.join(missing)} (write one with `poser benchmark levels --json`)"
        )
    return card


def has_drift(env_id: str) -> bool:
    """Whether a registered level draws hidden drift (the memory criterion applies to it)."""
    import gymnasium as gym

    import poser_env  # noqa: F401 - registers the ids

    try:
        spec = gym.spec(env_id)
    except gym.error.Error as e:
        raise ValueError(f"unknown level {env_id!r}: not a registered env id ({e})") from e
    return float(spec.kwargs.get("drift_p", 0.0) or 0.0) > 0.0


def _card_criteria(card: Mapping[str, Any] | None) -> list[Criterion]:
    solvable_rule = f"oracle accuracy >= {SOLVABLE_ORACLE_ACCURACY}"
    trivial_rule = f"best single <= {MAX_SINGLE} and heuristic <= {MAX_HEURISTIC} (norm. accuracy)"
    if card is None:
        return [
            Criterion("solvable", solvable_rule, "no test card", None),
            Criterion("not trivial", trivial_rule, "no test card", None),
        ]
    b, k = card["baselines"], card["criteria"]
    oracle = b["oracle"]["accuracy"]
    single = k.get("best_single")
    single_score = b[single]["norm_accuracy"] if single in b else None
    heuristic = b["heuristic"]["norm_accuracy"]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    where = f" ({card['episodes']} test tasks)"
    return [
        Criterion("solvable", solvable_rule, f"oracle accuracy {fmt(oracle)}{where}", bool(k["solvable"])),
        Criterion(
            "not trivial",
            trivial_rule,
            f"best single ({single[7:] if single else 'none'}) {fmt(single_score)}, heuristic {fmt(heuristic)}",
            bool(k["best_single_ok"]) and bool(k["heuristic_ok"]) if k["best_single_ok"] is not None else None,
        ),
    ]


def _ci(entry: Mapping[str, Any]) -> str:
    return f"{entry['iqm']:.3f} [{entry['iqm_ci'][0]:.3f}, {entry['iqm_ci'][1]:.3f}]"


def _p(p: float, ci: Sequence[float]) -> str:
    return f"{p:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _probability(pairs: list[dict[str, Any]], x: str, y: str) -> tuple[float, list[float]] | None:
    """P(x > y) with its CI from aggregate's pairs (stored one way round: P(y > x) = 1 - P(x > y))."""
    for p in pairs:
        if (p["x"], p["y"]) == (x, y):
            return p["p_x_better"], p["ci"]
        if (p["x"], p["y"]) == (y, x):
            return 1.0 - p["p_x_better"], [1.0 - p["ci"][1], 1.0 - p["ci"][0]]
    return None


def _run_criteria(
    entries: dict[tuple[str, int], dict[str, Any]], pairs: list[dict[str, Any]], memory: bool
) -> list[Criterion]:
    """Headroom, learnable and (``memory``) memory from aggregate's entries, keyed (algo, steps)."""
    enough = {key: e for key, e in entries.items() if e["n_runs"] >= MIN_RUNS}
    at_headroom = {algo: e for (algo, steps), e in enough.items() if steps == HEADROOM_STEPS}
    out = []
    rule = f"best learner at {HEADROOM_STEPS:,} steps: IQM <= {MAX_HEADROOM}"
    if at_headroom:
        best = max(at_headroom, key=lambda a: at_headroom[a]["iqm"])
        e = at_headroom[best]
        out.append(Criterion("headroom", rule, f"{best} {_ci(e)}, {e['n_runs']} runs", e["iqm"] <= MAX_HEADROOM))
    else:
        out.append(Criterion("headroom", rule, f"no learner with {MIN_RUNS} runs at {HEADROOM_STEPS:,} steps", None))

    rule = f"P(ALGO@{LEARNABLE_STEPS:,} > ALGO@{HEADROOM_STEPS:,}) for some learner: CI above 0.5"
    found: list[tuple[bool, float, str]] = []
    shorter: list[tuple[bool, float, str]] = []
    for (algo, steps), e in sorted(enough.items()):
        if steps > HEADROOM_STEPS and (algo, HEADROOM_STEPS) in enough:
            hit = _probability(pairs, e["label"], enough[(algo, HEADROOM_STEPS)]["label"])
            if hit is not None:
                text = f"P({algo}@{steps:,} > {algo}@{HEADROOM_STEPS:,}) = {_p(*hit)}"
                (found if steps >= LEARNABLE_STEPS else shorter).append((hit[1][0] > 0.5, hit[1][0], text))
    if found:
        met, _, text = max(found, key=lambda f: (f[0], f[1]))
        out.append(Criterion("learnable", rule, text, met))
    else:
        best = f"; shorter: {max(shorter, key=lambda f: f[1])[2]}" if shorter else ""
        text = f"no learner with {MIN_RUNS} runs at {HEADROOM_STEPS:,} and at {LEARNABLE_STEPS:,} steps{best}"
        out.append(Criterion("learnable", rule, text, None))

    if memory:
        rnn, flat = MEMORY_PAIR
        rule = f"P({rnn} > {flat}) at one budget: CI above 0.5"
        memo: list[tuple[bool, int, str]] = []
        for steps in sorted({s for a, s in enough if a == rnn} & {s for a, s in enough if a == flat}):
            hit = _probability(pairs, enough[(rnn, steps)]["label"], enough[(flat, steps)]["label"])
            if hit is not None:
                memo.append((hit[1][0] > 0.5, steps, f"{steps:,} steps: {_p(*hit)}"))
        if memo:
            out.append(Criterion("memory", rule, "; ".join(f[2] for f in memo), any(f[0] for f in memo)))
        else:
            out.append(Criterion("memory", rule, f"no budget with {MIN_RUNS} runs of each", None))
    return out


def level_criteria(
    cards: Sequence[Mapping[str, Any]],
    dirs: Sequence[str | Path],
    *,
    levels: Sequence[str] = (),
    reps: int = 2000,
    seed: int = 0,
    aggregated: Mapping[str, Any] | None = None,
) -> dict[str, list[Criterion]]:
    """Every criterion of each level named by a test card in ``cards`` or in ``levels``, from
    the complete runs under ``dirs`` (their test scores; normalised accuracy).

    Raises ValueError for a card of another split or with ``env_kwargs`` overrides (it
    describes a setting, not the registered level), and what :func:`aggregate` raises for the
    folders. ``aggregated``: ``aggregate(dirs, split="test", reps=reps, seed=seed)`` when the caller
    has it already (it is the slow part: the bootstrap)."""
    by_level: dict[str, Mapping[str, Any]] = {}
    for card in cards:
        if card["split"] != "test":
            raise ValueError(
                f"the {card['env_id']} card is of the {card['split']} split: the criteria are measured on test "
                f"(`poser benchmark levels --env {card['env_id']} --split test --json`)"
            )
        if card.get("env_kwargs"):
            raise ValueError(
                f"the {card['env_id']} card has env_kwargs overrides {json.dumps(card['env_kwargs'], sort_keys=True)}: "
                "it describes that setting, not the registered level"
            )
        by_level[card["env_id"]] = card
    names = list(dict.fromkeys([*by_level, *levels]))
    drift = {level: has_drift(level) for level in names}  # an unknown id fails here, before the bootstrap
    if aggregated is not None:
        agg = aggregated
    elif dirs:
        agg = aggregate(dirs, split="test", reps=reps, seed=seed)
    else:
        agg = {"levels": {}, "probability_of_improvement": {}}
    labels = entry_labels(run for _, run in collect(dirs)) if dirs else {}
    out = {}
    for level in names:
        entries = {}
        for (env, algo, steps), label in labels.items():
            if env == level and label in agg["levels"].get(level, {}):
                entries[(algo, steps)] = agg["levels"][level][label] | {"label": label}
        pairs = agg["probability_of_improvement"].get(level, [])
        out[level] = _card_criteria(by_level.get(level)) + _run_criteria(entries, pairs, drift[level])
    return out


def format_criteria(result: Mapping[str, list[Criterion]]) -> str:
    """A Markdown table: one row per level and criterion."""
    mark = {True: "met", False: "**not met**", None: "not measured"}
    rows = ["| level | criterion | rule | measured (test) | |", "|---|---|---|---|---|"]
    for level, found in result.items():
        rows += [f"| {level} | {c.name} | {c.rule} | {c.measured} | {mark[c.met]} |" for c in found]
    return "\n".join(rows) + "\n"


def criteria_json(result: Mapping[str, list[Criterion]]) -> dict[str, list[dict[str, Any]]]:
    return {level: [asdict(c) for c in found] for level, found in result.items()}
