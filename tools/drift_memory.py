"""Does a policy remember which provider is down? Repeated errors on ImagePoser-Drift-v1.

On a level with ``drift_visible`` (ImagePoser-Drift-v1) a call of the down provider's experts
answers with an error that the agent sees once. The first error of an episode is how any
policy learns which provider is down; every later one is a call that memory would have saved
(the agent has seen that provider fail already). So the mean number of errors after the first,
per episode, measures what memory would save, where accuracy mixes it with everything else a
policy does: ``heuristic_memory`` makes none, the memoryless heuristic about one per later
command in half of the episodes (those where its first choice, ``north``, is down). A
memoryless policy's count also depends on how it spreads its calls over the providers, so for
a recurrent policy the tool adds the ablation that isolates its memory: the same policy with its
LSTM state wiped before every step.

    python tools/drift_memory.py docs/results/benchmark/ImagePoser-Drift-v1 --split val --episodes 50
    python tools/drift_memory.py RUNS_FOLDER --baselines heuristic,heuristic_memory

Each run folder (``<out>/<level>/<algo>/seed<S>``, found below the folders given) must hold its
``checkpoint/`` (``poser benchmark run`` keeps the last one; the committed result files do not
carry it, so this reads the runs of your own ``--out``). The policy is rebuilt with the run's
settings and its checkpoint loaded (tensors only: ``docs/security.md``); the row's ``val`` score
equals the run's last curve point when the split, episodes and seed are the protocol's (val, 50,
seed 0), which the output checks and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: import this checkout's packages
    sys.path.insert(0, str(ROOT))


def error_counts(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Per episode, on average: ``errors`` (calls that returned no image), ``repeated`` (errors
    after the episode's first) and ``with_repeat`` (the share of episodes with any repeated error)."""
    if not records:
        raise ValueError("no episode records to count errors in")
    counts = [sum(1 for s in r["log"] if s.get("error")) for r in records]
    n = len(counts)
    return {
        "errors": sum(counts) / n,
        "repeated": sum(max(c - 1, 0) for c in counts) / n,
        "with_repeat": sum(c > 1 for c in counts) / n,
    }


def memory_wiped(model: Any, kind: str) -> Any:
    """The Predictor of ``model`` with its recurrent state reset before every step: the ablation
    that shows what a recurrent policy's memory does (its rows beside the intact policy's)."""
    from poser_agents.benchmark.algos import Predictor

    class MemoryWiped(Predictor):
        def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True):
            self.new_episode()  # episode_start=True: RecurrentPPO zeroes the LSTM state
            return super().predict(observation, state, episode_start, deterministic)

    return MemoryWiped(model, kind)


def _load(folder: Path) -> tuple[Any, str, dict[str, Any]]:
    """The trained model of run ``folder`` (its latest checkpoint), its kind and its result.json."""
    import gymnasium as gym

    import poser_env  # noqa: F401  (registers the ids)
    from poser_agents.benchmark.algos import build_model
    from poser_agents.benchmark.resume import load_state, read_state

    run = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    state = read_state(folder)
    if state is None:
        raise ValueError(f"{folder} has no checkpoint/ to load the policy from (the committed result files keep none)")
    env = gym.make(run["env_id"], split="train", text_encoder=run["protocol"]["text_encoder"])
    model, kind = build_model(run["algo"], env, int(run["seed"]), int(run["steps"]))
    load_state(state, model, total_timesteps=int(run["steps"]))
    return model, kind, run | {"checkpoint_step": int(state["step"])}


def measure(
    agent: Any, env_id: str, split: str, episodes: int, seeds: Sequence[int], refs: dict[str, list]
) -> dict[str, Any]:
    """The normalised score card and the error counts of ``agent`` (a baseline name or a Predictor)
    on ``episodes`` tasks of ``split`` per seed, scored against the references ``refs``."""
    import gymnasium as gym

    from poser_agents.benchmark.algos import Predictor, episode_starts
    from poser_agents.benchmark.score import score_card
    from poser_agents.evaluation.harness import evaluate

    env = gym.make(env_id, split=split)
    try:
        target = episode_starts(env, agent) if isinstance(agent, Predictor) else env
        records = evaluate(agent, target, episodes=episodes, seeds=list(seeds), n_resamples=1).records
    finally:
        env.close()
    return score_card(records, refs["random"], refs["oracle"]) | error_counts(records)


def main(argv: list[str] | None = None) -> int:
    from poser_agents.benchmark.algos import Predictor
    from poser_agents.benchmark.run import Protocol, references
    from poser_agents.common.checkpoint import CheckpointError
    from poser_agents.common.cli_args import seed_list

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", help="run folders, or folders above them (a benchmark run --out)")
    p.add_argument("--split", default="val", help="the split to play (default val)")
    p.add_argument("--episodes", type=int, default=50, help="tasks (default 50, the protocol's val)")
    p.add_argument("--seeds", type=seed_list, default=[0], help="evaluation seeds (default 0)")
    p.add_argument("--baselines", default="heuristic,heuristic_memory", help="comma-separated, or '' for none")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = p.parse_args(argv)

    runs = sorted({r.parent for f in map(Path, args.folders) for r in [*f.glob("**/result.json")]})
    if not runs:
        raise SystemExit(f"no result.json below {', '.join(args.folders)}")
    rows: list[dict[str, Any]] = []
    env_ids = set()
    skipped: list[str] = []
    for folder in runs:
        try:
            model, kind, run = _load(folder)
        except CheckpointError as e:  # e.g. an off-policy run's replay buffer, dropped when it completed
            skipped.append(f"{folder}: {e}")
            print(f"skipped {folder}: {e}", file=sys.stderr)
            continue
        env_ids.add(run["env_id"])
        if len(env_ids) > 1:
            raise SystemExit(f"runs of several levels ({', '.join(sorted(env_ids))}): give one level's folders")
        proto = Protocol(eval_seeds=tuple(args.seeds))
        refs = references(folder.parents[2], run["env_id"], args.split, args.episodes, proto, lambda m: None)
        row = measure(Predictor(model, kind), run["env_id"], args.split, args.episodes, args.seeds, refs)
        last = run["curve"][-1] if run["curve"] else None
        protocol_val = args.split == "val" and args.episodes == run["protocol"]["val_episodes"] and args.seeds == [0]
        if protocol_val and last is not None and last["step"] == run["checkpoint_step"]:
            row["matches_curve"] = abs(last["norm_accuracy"] - row["norm_accuracy"]) < 1e-9
        label = f"{run['algo']} seed {run['seed']} @ {run['checkpoint_step']}" + (
            "" if run["status"] == "complete" else " (partial run)"
        )
        rows.append({"agent": label} | row)
        if kind == "recurrent":
            wiped = measure(memory_wiped(model, kind), run["env_id"], args.split, args.episodes, args.seeds, refs)
            rows.append({"agent": f"{label}, memory wiped each step"} | wiped)
    if not env_ids:
        raise SystemExit("no run below the folders given has a checkpoint that loads (see the lines above)")
    (env_id,) = env_ids
    refs = references(
        runs[0].parents[2], env_id, args.split, args.episodes, Protocol(eval_seeds=tuple(args.seeds)), print
    )
    for name in [b for b in args.baselines.split(",") if b]:
        rows.append({"agent": name} | measure(name, env_id, args.split, args.episodes, args.seeds, refs))
    result = {"env_id": env_id, "split": args.split, "episodes": args.episodes, "seeds": args.seeds, "rows": rows}
    if skipped:
        result["skipped"] = skipped
    print(f"{env_id}, {args.split}, {args.episodes} tasks x seeds {args.seeds}")
    print("\n".join(table_rows(result)))
    if args.json:
        print(json.dumps(result))
    return 0


def table_rows(result: dict[str, Any]) -> list[str]:
    """The markdown table of a ``--json`` result (docs/benchmark.md shows it; a docs test checks it)."""
    lines = [
        "| agent | norm. accuracy | errors / episode | repeated errors / episode | episodes with a repeat |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        check = {True: " (= its curve)", False: " (≠ its curve!)"}.get(r.get("matches_curve"), "")
        lines.append(
            f"| {r['agent']}{check} | {r['norm_accuracy']:.3f} | {r['errors']:.2f} | {r['repeated']:.2f} | "
            f"{r['with_repeat']:.2f} |"
        )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
