"""Compare agents on ImagePoser's test split: the masked DQN, SB3 PPO, sb3-contrib MaskablePPO
and the baselines, the learners trained on the same budget of env steps.

    python examples/compare_agents.py                                # trains everything: ~1.5 h on 2 CPU cores
    python examples/compare_agents.py --budget 20000 --train-seeds 0 --out runs/compare-quick
    python examples/compare_agents.py --dqn-dirs runs/dqn-seed0/agent,runs/dqn-seed1/agent,runs/dqn-seed2/agent

The point is twofold: a table for the README's claim (the learned orchestrator against the
baselines, with 95% confidence intervals), and proof that the env serves other algorithms
unchanged: PPO and MaskablePPO use ``MultiInputPolicy`` on the same Dict observation, and
MaskablePPO reads the same ``action_masks()`` the DQN masks with.

Read top to bottom: settings, one trainer per algorithm, the evaluation (every agent on the
same test tasks with the same expert luck), the report. Settings were never tuned on test:
DQN's defaults come from the val split (docs/dqn.md); PPO's are SB3's with the DQN's features
extractor and discount.

Outputs in ``--out`` (default ``runs/compare``): ``summary.md`` (one row per agent: test
alignment with its 95% CI, per suite, held-out, per training seed), ``results.json``,
``results.md`` and the plots of ``poser_agents.evaluation.write_report`` for the test split (and
``heldout/`` for the hand-written held-out prompts), ``per_seed.json`` (each learner's figures
per training seed), and the trained models under ``models/``. ``--merge DIR,...`` adds the agents
of earlier runs made with the same ``--eval-tasks`` and ``--eval-seeds`` (others are refused).
Bad settings (an unknown algorithm or baseline, a missing checkpoint) are refused before any
training starts. ``--tensorboard-log DIR`` logs the DQN, PPO and MaskablePPO runs to TensorBoard
with the project's metrics and episode strips (docs/tensorboard.md; ``tensorboard --logdir DIR``).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

import poser_env  # noqa: F401  (registers the env ids)
from poser_agents.common.cli_args import parse_dataclass
from poser_agents.dqn import DQNAgent, DQNConfig
from poser_agents.dqn.policies import PoserFeaturesExtractor
from poser_agents.evaluation import EvalResult, evaluate, write_report
from poser_agents.evaluation.summary import summarize
from poser_env.world.suites import load_heldout


# --- 1. Settings ------------------------------------------------------------------------
@dataclass
class Args:
    env_id: str = "ImagePoser-v0"
    """Registered env id: learners train on its train split, everything is evaluated on test."""
    text_encoder: str = "hash"
    """Text encoder of the observation (``hash`` or ``minilm``)."""
    algos: str = "dqn,ppo,maskable_ppo,grpo"
    """Learners (comma-separated, any of dqn, ppo, maskable_ppo, grpo; empty: none)."""
    budget: int = 100_000
    """Env steps of training per learner and seed (the same for all)."""
    train_seeds: str = "0,1,2"
    """Training seeds of each learner; its figures pool the seeds' episodes."""
    dqn_dirs: str = ""
    """Saved DQN checkpoints to evaluate instead of training DQN (comma-separated, one per seed)."""
    grpo_dirs: str = ""
    """Saved GRPO agents (``poser train grpo --out DIR`` -> ``DIR/agent``) to evaluate instead of training."""
    grpo_data: str = ""
    """A logged-data file for GRPO training (empty: collect it, about 29k images, once per seed)."""
    merge: str = ""
    """Previous runs' ``--out`` folders (comma-separated): their agents join this comparison.
    They must have used the same ``--eval-tasks``, ``--eval-seeds`` and ``--heldout``."""
    baselines: str = "random,single:inpaint-i2i,heuristic,oracle"
    """Baselines (``single:inpaint-i2i`` is the best single expert on val; ``oracle`` takes ~5 min)."""
    eval_tasks: int = 900
    """Test tasks per evaluation seed (900 = the whole test split of ImagePoser-v0)."""
    eval_seeds: str = "0"
    """Evaluation seeds (expert luck); each learner is also pooled over its training seeds."""
    heldout: bool = True
    """Also evaluate on the 24 hand-written held-out prompts (docs/testbed.md)."""
    out: str = "runs/compare"
    """Output folder."""
    tensorboard_log: str = ""
    """TensorBoard root folder for the DQN, PPO and MaskablePPO runs (``MaskedDQN_<n>``,
    ``PPO_<n>``, ``MaskablePPO_<n>``) with the project's metrics and episode strips (empty: none)."""
    torch_threads: int = 1
    """Torch CPU threads: small networks gain nothing from more, and oversubscribed threads on
    a busy machine slow training several times over (0: torch's default)."""


def parse_args(argv: list[str] | None = None) -> Args:
    """Every field of Args is a flag (``--heldout false``, ``--budget 1e5``)."""
    return parse_dataclass(Args, argv, description=__doc__.split("\n\n")[0])


def _ints(text: str, name: str) -> list[int]:
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--{name} must be comma-separated integers, got {text!r}") from None
    if not values:
        raise ValueError(f"--{name} names no seed")
    return values


ALGOS = ("dqn", "ppo", "maskable_ppo", "grpo")


def check_args(args: Args) -> None:
    """Refuse bad settings before any training starts: an hour of PPO must not end on a typo."""
    from poser_agents.baselines import make_baseline
    from poser_agents.grpo.agent import GRPOAgent

    unknown = [a for a in args.algos.split(",") if a.strip() and a.strip() not in ALGOS]
    if unknown:
        raise ValueError(f"unknown algorithm(s) {unknown} in --algos; choose among {', '.join(ALGOS)}")
    if args.budget < 1 or args.eval_tasks < 1:
        raise ValueError(f"--budget and --eval-tasks must be positive, got {args.budget} and {args.eval_tasks}")
    _ints(args.train_seeds, "train-seeds")
    _ints(args.eval_seeds, "eval-seeds")
    for d in filter(str.strip, args.dqn_dirs.split(",")):
        DQNAgent.read_metadata(d)  # CheckpointError naming the folder and what is wrong
    for d in filter(str.strip, args.grpo_dirs.split(",")):
        GRPOAgent.read_metadata(d)
    if args.grpo_data and not Path(args.grpo_data).is_file():
        raise ValueError(f"--grpo-data {args.grpo_data!r} is not a file (a data.jsonl from poser train grpo)")
    for folder in filter(str.strip, args.merge.split(",")):
        if not (Path(folder) / "results.json").is_file() or not (Path(folder) / "per_seed.json").is_file():
            raise ValueError(
                f"--merge {folder!r} is not a compare_agents output folder (results.json and per_seed.json missing)"
            )
    env = gym.make(args.env_id, split="test", text_encoder=args.text_encoder)
    try:
        for name in filter(str.strip, args.baselines.split(",")):
            make_baseline(name, env)  # an unknown baseline or expert name fails here, not after training
    finally:
        env.close()


# --- 2. One trainer per algorithm ---------------------------------------------------------
class MaskedPredict:
    """MaskablePPO's ``predict`` needs the mask as an argument; the harness passes observations only."""

    def __init__(self, model: Any):
        self.model = model

    def predict(self, observation: dict, state: Any = None, episode_start: Any = None, deterministic: bool = True):
        return self.model.predict(
            observation, state, episode_start, deterministic, action_masks=observation["action_mask"]
        )


def ppo_kwargs(seed: int, masked: bool) -> dict[str, Any]:
    """SB3's PPO defaults, with the DQN's features extractor and discount. Unmasked PPO sees the
    mask as an input (it must learn what is allowed; forbidden actions cost a penalty)."""
    extractor = {"features_extractor_class": PoserFeaturesExtractor,
                 "features_extractor_kwargs": {"embed_dim": 64, "include_mask": not masked},
                 "net_arch": [256, 256]}  # fmt: skip
    return {
        "policy_kwargs": extractor,
        "gamma": 0.95,
        "n_steps": 1024,
        "batch_size": 128,
        "seed": seed,
        "device": "cpu",
        "verbose": 0,
    }


def tensorboard_callback(args: Args) -> Any:
    """The project's metrics and episode strips in the run's TensorBoard events (SB3 logs its own)."""
    if not args.tensorboard_log:
        return None
    from poser_agents.common.tensorboard import PoserTensorBoardCallback

    return PoserTensorBoardCallback(strip_every=200)


def train(algo: str, args: Args, seed: int, models: Path) -> tuple[Any, float]:
    """Train one learner on the train split for ``args.budget`` env steps; return it (with predict) and the seconds."""
    env = gym.make(args.env_id, split="train", text_encoder=args.text_encoder)
    t0 = time.perf_counter()
    if algo == "dqn":
        agent = DQNAgent(
            env,
            DQNConfig(seed=seed, log_dir=str(models / f"dqn-seed{seed}"), tensorboard_log=args.tensorboard_log or None),
        )
        agent.learn(args.budget)
        agent.save(models / f"dqn-seed{seed}" / "agent")
        return agent, time.perf_counter() - t0
    if algo == "ppo":
        from stable_baselines3 import PPO

        model = PPO(
            "MultiInputPolicy", env, tensorboard_log=args.tensorboard_log or None, **ppo_kwargs(seed, masked=False)
        )
        model.learn(args.budget, callback=tensorboard_callback(args))
        model.save(models / f"ppo-seed{seed}.zip")
        return model, time.perf_counter() - t0
    if algo == "maskable_ppo":
        from sb3_contrib import MaskablePPO

        model = MaskablePPO(
            "MultiInputPolicy", env, tensorboard_log=args.tensorboard_log or None, **ppo_kwargs(seed, masked=True)
        )
        model.learn(args.budget, callback=tensorboard_callback(args))
        model.save(models / f"maskable_ppo-seed{seed}.zip")
        return MaskedPredict(model), time.perf_counter() - t0
    if algo == "grpo":
        # GRPO's budget is not env steps: it learns from logged workflows and a reward-model
        # ensemble (no image in phase 2); its images are counted in models/grpo-seedS/results.json.
        from poser_agents.grpo.pipeline import PipelineConfig
        from poser_agents.grpo.pipeline import train as train_grpo

        folder = models / f"grpo-seed{seed}"
        train_grpo(PipelineConfig(seed=seed, text_encoder=args.text_encoder), folder, data=args.grpo_data or None)
        return grpo_factory(folder / "agent"), time.perf_counter() - t0
    raise ValueError(f"unknown algorithm {algo!r}; choose among dqn, ppo, maskable_ppo, grpo")


def grpo_factory(path: Path | str) -> Any:
    """GRPO plans from the live env's episode context: the harness builds it per env and seed."""
    from poser_agents.grpo.agent import GRPOAgent

    def factory(env: gym.Env, seed: int = 0) -> Any:
        return GRPOAgent.load(path, env=env, seed=seed)

    return factory


# --- 3. Evaluation: the same tasks and expert luck for every agent ---------------------------
def pooled(name: str, parts: list[EvalResult]) -> EvalResult:
    """One result over several training seeds: the episodes of all of them, ``seed`` = training seed.

    The intervals are then bootstrapped over tasks with every seed's episodes of a task kept
    together, so they include the seed-to-seed spread of the learner.
    """
    records = []
    for train_seed, part in enumerate(parts):
        records += [{**r, "seed": train_seed} for r in part.records]
    config = {**parts[0].config, "training_seeds": len(parts)}
    return EvalResult(
        agent=name,
        config=config,
        records=records,
        summary=summarize(records),
        seconds=sum(p.seconds for p in parts),
        extra={"per_seed": [p.overall["alignment"]["mean"] for p in parts]},
    )


def summary_table(suites: dict[str, dict[str, EvalResult]], per_seed: dict[str, list[dict[str, Any]]]) -> str:
    """One row per agent, best test alignment first: the overall figures with their 95% CIs, the
    alignment per suite, on the held-out prompts, and per training seed."""
    from poser_agents.evaluation import format_ci

    test, heldout = suites["test"], suites.get("heldout", {})
    names = sorted(test, key=lambda n: -test[n].overall["alignment"]["mean"])
    suite_names = [
        s for s in ("geneval", "longform", "editing") if any(s in test[n].summary["per_suite"] for n in names)
    ]
    head = ["agent", "test alignment [95% CI]", "accuracy [95% CI]", "fidelity", "cost", "expert calls", *suite_names]
    head += ["held-out alignment [95% CI]"] * bool(heldout) + ["per training seed (test)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in names:
        o, per = test[n].overall, test[n].summary["per_suite"]
        row = [
            n,
            format_ci(o["alignment"]),
            format_ci(o["accuracy"]),
            f"{o['fidelity']['mean']:.3f}",
            f"{o['cost']['mean']:.2f}",
            f"{o['steps']['mean']:.2f}",
            *[f"{per[s]['alignment']['mean']:.3f}" if s in per else "-" for s in suite_names],
        ]
        if heldout:
            row.append(format_ci(heldout[n].overall["alignment"]) if n in heldout else "-")
        row.append(", ".join(f"{r['test_alignment']:.3f}" for r in per_seed.get(n, [])) or "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_args(args)
    if args.torch_threads > 0:
        import torch

        torch.set_num_threads(args.torch_threads)
    out, models = Path(args.out), Path(args.out) / "models"
    models.mkdir(parents=True, exist_ok=True)
    seeds, eval_seeds = _ints(args.train_seeds, "train-seeds"), _ints(args.eval_seeds, "eval-seeds")
    env_kwargs = {"text_encoder": args.text_encoder}
    suites = {"test": {}, "heldout": {}} if args.heldout else {"test": {}}

    def run(agent: Any, name: str) -> dict[str, EvalResult]:
        res = {
            "test": evaluate(
                agent,
                args.env_id,
                split="test",
                episodes=args.eval_tasks,
                seeds=eval_seeds,
                env_kwargs=env_kwargs,
                name=name,
            )
        }
        if args.heldout:
            res["heldout"] = evaluate(
                agent,
                args.env_id,
                split="test",
                seeds=eval_seeds,
                env_kwargs=env_kwargs,
                name=name,
                tasks=load_heldout(),
            )
        return res

    per_seed: dict[str, list[dict[str, Any]]] = {}
    learners = [a for a in args.algos.split(",") if a.strip()]
    saved = {
        "dqn": [d for d in args.dqn_dirs.split(",") if d.strip()],
        "grpo": [d for d in args.grpo_dirs.split(",") if d.strip()],
    }
    load = {"dqn": DQNAgent.load, "grpo": grpo_factory}
    for algo in learners:
        parts: dict[str, list[EvalResult]] = {k: [] for k in suites}
        for seed in range(len(saved[algo])) if saved.get(algo) else seeds:
            if saved.get(algo):
                agent, seconds = load[algo](saved[algo][seed]), None
            else:
                print(f"training {algo} (seed {seed}, {args.budget} steps) ...", flush=True)
                agent, seconds = train(algo, args, seed, models)
            res = run(agent, algo)
            for k in suites:
                parts[k].append(res[k])
            row = {"seed": seed, "train_seconds": None if seconds is None else round(seconds, 1)}
            row.update(
                {f"{k}_{m}": res[k].overall[m]["mean"] for k in suites for m in ("alignment", "accuracy", "cost")}
            )
            per_seed.setdefault(algo, []).append(row)
            print(
                f"  {algo} seed {seed}: test alignment {row['test_alignment']:.3f}"
                + (f", trained in {seconds:.0f} s" if seconds else ""),
                flush=True,
            )
        for k in suites:
            suites[k][algo] = pooled(algo, parts[k])
    for name in [b for b in args.baselines.split(",") if b.strip()]:
        print(f"evaluating {name} ...", flush=True)
        for k, res in run(name, name).items():
            suites[k][name] = res

    for folder in [Path(f) for f in args.merge.split(",") if f.strip()]:
        from poser_agents.evaluation.report import load_results

        for k in suites:
            previous = load_results(folder / ("" if k == "test" else k) / "results.json")
            suites[k] = {**previous, **suites[k]}
        per_seed = {**json.loads((folder / "per_seed.json").read_text())["per_seed"], **per_seed}

    for k, results in suites.items():
        setups = {
            (r.config.get("split"), r.config.get("episodes"), tuple(r.config.get("seeds", ())))
            for r in results.values()
        }
        if len(setups) > 1:
            raise ValueError(
                f"the {k} results were evaluated differently ((split, tasks, seeds): {sorted(setups)}): "
                "merge only runs made with the same --eval-tasks and --eval-seeds"
            )

    # --- 4. Report -----------------------------------------------------------------------
    for k, results in suites.items():
        paths = write_report(results, out if k == "test" else out / k)
        print(f"{k}: wrote {paths['markdown']} and the plots beside it")
    (out / "summary.md").write_text(summary_table(suites, per_seed))
    print((out / "summary.md").read_text())
    (out / "per_seed.json").write_text(
        json.dumps({"args": dataclasses.asdict(args), "per_seed": per_seed}, indent=2) + "\n"
    )
    summary = {k: {n: round(r.overall["alignment"]["mean"], 4) for n, r in res.items()} for k, res in suites.items()}
    print(
        json.dumps(
            {"alignment": summary, "per_seed": {a: [r["test_alignment"] for r in rows] for a, rows in per_seed.items()}}
        )
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, FileNotFoundError) as e:  # bad settings: one line, not a traceback
        print(f"compare_agents: error: {e}", file=sys.stderr)
        sys.exit(2)
