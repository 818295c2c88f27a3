"""Does a policy remember which provider is down? Repeated errors on ImagePoser-Drift-v1.

On a level with ``drift_visible`` (ImagePoser-Drift-v1) a call of the down provider's experts
answers with an error that the next observation shows (the ``error`` key, with ``tried``
marking the expert), and only that one. The first error of an episode is how any policy learns
which provider is down. A later error right after another one is a call the current observation
could have prevented, without memory; a later error after a step without one (the key reads 0
again, typically on a later command) is a call that only memory of the earlier error would have
saved. The mean number of those per episode (``repeated_unseen``) measures memory directly, where
accuracy mixes it with everything else a policy does: ``heuristic_memory`` makes none, the
memoryless heuristic one per later command in the episodes where its first choice, ``north``,
is down. A memoryless policy's count also depends on how it spreads its calls over the
providers, so for a recurrent policy the tool adds the ablation that isolates its memory: the
same policy with its LSTM state wiped before every step.

    python tools/drift_memory.py OUT/ImagePoser-Drift-v1/ppo OUT/ImagePoser-Drift-v1/recurrent_ppo
    python tools/drift_memory.py --env ImagePoser-Drift-v1 --split test --episodes 100

Each run folder (``<out>/<level>/<algo>/seed<S>``, found below the folders given) must hold its
``checkpoint/`` (``poser benchmark run`` keeps the last one; the committed result files do not
carry it, so this reads the runs of your own ``--out``; a run whose checkpoint does not load, such
as an off-policy one whose replay buffer was dropped when it completed, is skipped and listed).
The policy is rebuilt with the run's settings and its checkpoint loaded (tensors only:
``docs/security.md``) and played with the run's text encoder; the row's score equals the run's
last curve point when the split, episodes and seed are the protocol's (val, 50, seed 0), which
the output checks and prints. The baselines play against references measured (or read) in the
runs' ``--out``, or, with ``--env`` alone, in ``--references`` (default: a temporary folder).
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
    """Per episode, on average: ``errors`` (calls that returned no image); of the errors after
    the episode's first, ``repeated_shown`` (right after another error: the observation showed
    it) and ``repeated_unseen`` (after a step without one: only memory could have prevented it);
    and ``with_unseen``, the share of episodes with any of the latter. Reads each record's step
    log (``"error"`` marks a step whose call returned no image)."""
    if not records:
        raise ValueError("no episode records to count errors in")
    errors = shown = unseen = episodes_unseen = 0
    for r in records:
        flags = [bool(s.get("error")) for s in r["log"]]
        errors += sum(flags)
        if True in flags:
            first = flags.index(True)
            later = [(flags[t - 1], flags[t]) for t in range(first + 1, len(flags)) if flags[t]]
            shown += sum(before for before, _ in later)
            n_unseen = sum(not before for before, _ in later)
            unseen += n_unseen
            episodes_unseen += n_unseen > 0
    n = len(records)
    return {
        "errors": errors / n,
        "repeated_shown": shown / n,
        "repeated_unseen": unseen / n,
        "with_unseen": episodes_unseen / n,
    }


def memory_wiped(model: Any, kind: str) -> Any:
    """The Predictor of ``model`` with its recurrent state reset before every step: the ablation
    that shows what a recurrent policy's memory does (its rows beside the intact policy's)."""
    from poser_agents.benchmark.algos import Predictor

    class MemoryWiped(Predictor):
        def predict(
            self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True
        ) -> Any:
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
    agent: Any,
    env_id: str,
    split: str,
    episodes: int,
    seeds: Sequence[int],
    refs: dict[str, list],
    text_encoder: str = "hash",
) -> dict[str, Any]:
    """The normalised score card and the error counts of ``agent`` (a baseline name or a Predictor)
    on ``episodes`` tasks of ``split`` per seed, scored against the references ``refs``."""
    import gymnasium as gym

    from poser_agents.benchmark.algos import Predictor, episode_starts
    from poser_agents.benchmark.score import score_card
    from poser_agents.evaluation.harness import evaluate

    env = gym.make(env_id, split=split, text_encoder=text_encoder)
    try:
        target = episode_starts(env, agent) if isinstance(agent, Predictor) else env
        records = evaluate(agent, target, episodes=episodes, seeds=list(seeds), n_resamples=1).records
    finally:
        env.close()
    return score_card(records, refs["random"], refs["oracle"]) | error_counts(records)


def check_level(env_id: str) -> None:
    """Refuse a level whose errors are not visible: every count would read 0, like perfect memory."""
    import gymnasium as gym

    import poser_env  # noqa: F401  (registers the ids)

    if env_id not in gym.registry:
        raise SystemExit(f"unknown level {env_id!r}")
    if not gym.spec(env_id).kwargs.get("drift_visible"):
        raise SystemExit(
            f"{env_id} does not show a down provider's errors (drift_visible is off), so there are no errors to "
            "count; use ImagePoser-Drift-v1"
        )


def main(argv: list[str] | None = None) -> int:
    import tempfile

    from poser_agents.benchmark.algos import Predictor
    from poser_agents.benchmark.run import Protocol, references
    from poser_agents.common.checkpoint import CheckpointError
    from poser_agents.common.cli_args import positive_int, seed_list
    from poser_env.world.suites.spec import LEVEL_SPLITS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="*", help="run folders, or folders above them (a benchmark run --out)")
    p.add_argument("--env", default=None, help="the level, for the baselines alone (no run folders)")
    p.add_argument("--references", default=None, help="with --env alone: a folder caching the references")
    p.add_argument("--split", default="val", choices=LEVEL_SPLITS, help="the split to play (default val)")
    p.add_argument("--episodes", type=positive_int, default=50, help="tasks (default 50, the protocol's val)")
    p.add_argument("--seeds", type=seed_list, default=[0], help="evaluation seeds (default 0)")
    p.add_argument("--baselines", default="heuristic,heuristic_memory", help="comma-separated, or '' for none")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = p.parse_args(argv)
    if not args.folders and not args.env:
        p.error("give run folders, or --env LEVEL for the baselines alone")

    runs = sorted({r.parent for f in map(Path, args.folders) for r in f.glob("**/result.json")})
    if args.folders and not runs:
        raise SystemExit(f"no result.json below {', '.join(args.folders)}")
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    env_ids = {args.env} if args.env else set()
    encoders: set[str] = set()
    out: Path | None = None  # the --out of the runs loaded: their references are cached there
    for folder in runs:
        try:
            model, kind, run = _load(folder)
        except (CheckpointError, ValueError, KeyError, TypeError) as e:  # no checkpoint, one that does not load,
            # or a result.json that is not a run's
            skipped.append(f"{folder}: {type(e).__name__}: {e}")
            print(f"skipped {folder}: {e}", file=sys.stderr)
            continue
        env_ids.add(run["env_id"])
        out = out or folder.parents[2]
        if len(env_ids) > 1:
            raise SystemExit(f"runs of several levels ({', '.join(sorted(env_ids))}): give one level's folders")
        check_level(run["env_id"])
        encoder = run["protocol"]["text_encoder"]
        encoders.add(encoder)
        proto = Protocol(eval_seeds=tuple(args.seeds), text_encoder=encoder)
        refs = references(folder.parents[2], run["env_id"], args.split, args.episodes, proto, lambda m: None)
        play = (run["env_id"], args.split, args.episodes, args.seeds, refs, encoder)
        row = measure(Predictor(model, kind), *play)
        last = run["curve"][-1] if run["curve"] else None
        protocol_val = args.split == "val" and args.episodes == run["protocol"]["val_episodes"] and args.seeds == [0]
        if protocol_val and last is not None and last["step"] == run["checkpoint_step"]:
            row["matches_curve"] = abs(last["norm_accuracy"] - row["norm_accuracy"]) < 1e-9
        label = f"{run['algo']} seed {run['seed']} @ {run['checkpoint_step']}" + (
            "" if run["status"] == "complete" else " (partial run)"
        )
        rows.append({"agent": label} | row)
        if kind == "recurrent":
            rows.append({"agent": f"{label}, memory wiped each step"} | measure(memory_wiped(model, kind), *play))
    if not env_ids or (runs and out is None and not args.env):
        raise SystemExit("no run below the folders given has a checkpoint that loads (see the lines above)")
    if len(encoders) > 1:
        raise SystemExit(f"runs of several text encoders ({', '.join(sorted(encoders))}): give runs of one")
    (env_id,) = env_ids
    check_level(env_id)
    (encoder,) = encoders or {"hash"}
    proto = Protocol(eval_seeds=tuple(args.seeds), text_encoder=encoder)
    with tempfile.TemporaryDirectory() as tmp:
        out = out or Path(args.references or tmp)
        baselines = [b for b in args.baselines.split(",") if b]
        if baselines:
            refs = references(out, env_id, args.split, args.episodes, proto, print)
        for name in baselines:
            rows.append({"agent": name} | measure(name, env_id, args.split, args.episodes, args.seeds, refs, encoder))
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
        "| agent | norm. accuracy | errors / episode | repeated, error shown | repeated, error gone (memory) "
        "| episodes with the latter |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        check = {True: " (= its curve)", False: " (≠ its curve!)"}.get(r.get("matches_curve"), "")
        lines.append(
            f"| {r['agent']}{check} | {r['norm_accuracy']:.3f} | {r['errors']:.2f} | {r['repeated_shown']:.2f} | "
            f"{r['repeated_unseen']:.2f} | {r['with_unseen']:.2f} |"
        )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
