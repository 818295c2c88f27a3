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
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from poser_agents.benchmark.aggregate import aggregate, collect, entry_labels, mismatch_line, settings_line
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


@dataclass
class CriteriaReport:
    """Per level, its criteria in order; ``warnings``: what a reader must know about the runs
    read (learners built with other settings in one entry, partial runs not counted)."""

    levels: dict[str, list[Criterion]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _number(value: Any) -> bool:
    """None (not measured) or a finite number: json reads NaN and Infinity, a card must not hold them."""
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def check_card(card: Any, where: str) -> dict[str, Any]:
    """``card`` if it holds what the criteria read (a level card of ``poser benchmark levels
    --json``), else ValueError naming ``where`` and the field."""

    def bad(field: str, expected: str) -> ValueError:
        return ValueError(
            f"{where} is not a level card: {field} should be {expected} (write one with `poser benchmark levels --json`)"
        )

    if not isinstance(card, dict):
        raise bad("the whole file", "a JSON object")
    for key, kind, expected in (
        ("env_id", str, "a level id"),
        ("split", str, "a split name"),
        ("episodes", int, "a number of tasks"),
        ("baselines", dict, "an object of baselines"),
    ):
        if not isinstance(card.get(key), kind) or isinstance(card.get(key), bool):
            raise bad(key, expected)
    for name, keys in (("oracle", ("accuracy",)), ("heuristic", ("norm_accuracy",))):
        entry = card["baselines"].get(name)
        if not isinstance(entry, dict) or any(not _number(entry.get(k, "missing")) for k in keys):
            raise bad(f"baselines.{name}", f"a score card with {', '.join(keys)} (a finite number or null)")
    for name, entry in card["baselines"].items():
        if name.startswith("single:") and (
            not isinstance(entry, dict) or not _number(entry.get("norm_accuracy", "missing"))
        ):
            raise bad(f"baselines.{name}", "a score card with norm_accuracy (a finite number or null)")
    if card.get("env_kwargs") is not None and not isinstance(card["env_kwargs"], dict):
        raise bad("env_kwargs", "an object or null")
    return card


def read_card(path: str | Path) -> dict[str, Any]:
    """A level card from a file: the JSON ``poser benchmark levels --json`` prints (alone, or that
    command's whole output, whose last line it is). Plain JSON: nothing in it is run.

    Raises ValueError naming the file when it is not JSON or not a card."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not a level card: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except OSError as e:
        raise ValueError(f"cannot read the level card {path}: {e}") from e
    try:  # a saved card, or the whole output of `levels --json` (the table, then the JSON line)
        card = json.loads(text)
    except json.JSONDecodeError:
        try:
            card = json.loads(text.splitlines()[-1] if text else "")
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{path} is not a level card: expected the JSON `poser benchmark levels --json` prints ({e})"
            ) from e
    return check_card(card, str(path))


def has_drift(env_id: str) -> bool:
    """Whether a registered level draws hidden drift (the memory criterion applies to it)."""
    import gymnasium as gym

    import poser_env  # noqa: F401 - registers the ids

    try:
        spec = gym.spec(env_id)
    except gym.error.Error as e:
        raise ValueError(f"unknown level {env_id!r}: not a registered env id ({e})") from e
    return float(spec.kwargs.get("drift_p", 0.0) or 0.0) > 0.0


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _card_criteria(card: Mapping[str, Any] | None) -> list[Criterion]:
    """Solvable and not trivial, judged here from the card's figures (not its stored verdicts)."""
    solvable_rule = f"oracle accuracy >= {SOLVABLE_ORACLE_ACCURACY}"
    trivial_rule = f"best single <= {MAX_SINGLE} and heuristic <= {MAX_HEURISTIC} (norm. accuracy)"
    if card is None:
        return [
            Criterion("solvable", solvable_rule, "no test card", None),
            Criterion("not trivial", trivial_rule, "no test card", None),
        ]
    b = card["baselines"]
    oracle = b["oracle"]["accuracy"]
    solvable = None if oracle is None else oracle >= SOLVABLE_ORACLE_ACCURACY
    singles = {
        n: c["norm_accuracy"] for n, c in b.items() if n.startswith("single:") and c["norm_accuracy"] is not None
    }
    single = max(singles, key=lambda n: singles[n]) if singles else None
    heuristic = b["heuristic"]["norm_accuracy"]
    checks = [None if heuristic is None else heuristic <= MAX_HEURISTIC]
    checks.append(None if single is None else singles[single] <= MAX_SINGLE)
    # Any failed part fails the criterion; it is met only when both parts were measured and hold.
    trivial_ok = False if False in checks else (True if None not in checks else None)
    single_text = (
        f"best single ({single.removeprefix('single:')}) {_fmt(singles[single])}"
        if single
        else "no single expert on the card"
    )
    return [
        Criterion(
            "solvable", solvable_rule, f"oracle accuracy {_fmt(oracle)} ({card['episodes']} test tasks)", solvable
        ),
        Criterion("not trivial", trivial_rule, f"{single_text}, heuristic {_fmt(heuristic)}", trivial_ok),
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
    few = sorted(
        f"{algo} ({e['n_runs']})"
        for (algo, steps), e in entries.items()
        if steps == HEADROOM_STEPS and (algo, steps) not in enough
    )
    left_out = f"; fewer than {MIN_RUNS} runs, not counted: {', '.join(few)}" if few else ""
    out = []
    rule = f"best learner at {HEADROOM_STEPS:,} steps: IQM <= {MAX_HEADROOM}"
    if at_headroom:
        best = max(at_headroom, key=lambda a: at_headroom[a]["iqm"])
        e = at_headroom[best]
        text = f"{best} {_ci(e)}, {e['n_runs']} runs{left_out}"
        out.append(Criterion("headroom", rule, text, e["iqm"] <= MAX_HEADROOM))
    else:
        out.append(
            Criterion("headroom", rule, f"no learner with {MIN_RUNS} runs at {HEADROOM_STEPS:,} steps{left_out}", None)
        )

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
) -> CriteriaReport:
    """Every criterion of each level named by a test card in ``cards`` or in ``levels``, from
    the complete runs under ``dirs`` (their test scores; normalised accuracy).

    Raises ValueError for a card that is not one, of another split, with ``env_kwargs``
    overrides (it describes a setting, not the registered level), or a second card of one
    level; and what :func:`aggregate` raises for the folders. ``aggregated``: ``aggregate(dirs,
    split="test", reps=reps, seed=seed)`` when the caller has it already (it is the slow part:
    the bootstrap). A level whose runs were scored under different protocols (tasks, seeds,
    cost weight) gets its run criteria as not measured."""
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 10:
        raise ValueError(f"reps must be an int >= 10, got {reps!r}")
    by_level: dict[str, Mapping[str, Any]] = {}
    for card in cards:
        check_card(card, "a card")
        level = card["env_id"]
        if card["split"] != "test":
            raise ValueError(
                f"the {level} card is of the {card['split']} split: the criteria are measured on test "
                f"(`poser benchmark levels --env {level} --split test --json`)"
            )
        if card.get("env_kwargs"):
            raise ValueError(
                f"the {level} card has env_kwargs overrides {json.dumps(card['env_kwargs'], sort_keys=True)}: "
                "it describes that setting, not the registered level"
            )
        if level in by_level:
            raise ValueError(f"two test cards of {level}: give one (the criteria would depend on their order)")
        by_level[level] = card
    names = list(dict.fromkeys([*by_level, *levels]))
    drift = {level: has_drift(level) for level in names}  # an unknown id fails here, before the bootstrap
    if aggregated is not None:
        agg = aggregated
    elif dirs:
        agg = aggregate(dirs, split="test", reps=reps, seed=seed)
    else:
        agg = {
            "levels": {},
            "probability_of_improvement": {},
            "protocol_mismatch": {},
            "settings_mismatch": {},
            "partial": [],
        }
    labels = entry_labels(run for _, run in collect(dirs)) if dirs else {}
    report = CriteriaReport()
    for level in names:
        entries = {}
        for (env, algo, steps), label in labels.items():
            if env == level and label in agg["levels"].get(level, {}):
                entries[(algo, steps)] = agg["levels"][level][label] | {"label": label}
        pairs = agg["probability_of_improvement"].get(level, [])
        found = _run_criteria(entries, pairs, drift[level])
        if level in agg.get("protocol_mismatch", {}):
            why = mismatch_line(level, agg["protocol_mismatch"][level])
            found = [Criterion(c.name, c.rule, f"not judged: {why}", None) for c in found]
        report.levels[level] = _card_criteria(by_level.get(level)) + found
        for entry, groups in agg.get("settings_mismatch", {}).get(level, {}).items():
            report.warnings.append(settings_line(level, entry, groups))
    for p in agg.get("partial", []):
        if p["env_id"] in report.levels:
            report.warnings.append(f"partial run not counted: {p['path']} ({p['steps_done']} of {p['steps']} steps)")
    return report


def format_criteria(report: CriteriaReport) -> str:
    """A Markdown table: one row per level and criterion."""
    mark = {True: "met", False: "**not met**", None: "not measured"}
    rows = ["| level | criterion | rule | measured (test) | |", "|---|---|---|---|---|"]
    for level, found in report.levels.items():
        rows += [f"| {level} | {c.name} | {c.rule} | {c.measured} | {mark[c.met]} |" for c in found]
    return "\n".join(rows) + "\n"


def criteria_json(report: CriteriaReport) -> dict[str, Any]:
    """``--json``: ``{"levels": {level: [criterion, ...]}, "warnings": [...]}``."""
    return {
        "levels": {level: [asdict(c) for c in found] for level, found in report.levels.items()},
        "warnings": report.warnings,
    }
