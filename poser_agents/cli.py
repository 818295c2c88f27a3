"""``poser``: the project's command line.

Subcommands (each imports what it needs lazily, so ``poser --help`` is instant):

- ``poser world check``: measure the pixel critic against the ground truth, and its speed.
- ``poser world suites``: regenerate, check or count the committed prompt suites.
- ``poser demo``: the main job of the README's first command.
- ``poser experts --preset FILE``: what a real-model preset builds, and whether each model is reachable.
- ``poser benchmark run`` / ``aggregate``: the benchmark protocol (docs/benchmark.md).

Machine-readable output: with ``--json`` the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _canvas(text: str) -> int:
    from poser_env.world.scene import SceneError, check_canvas

    try:
        return check_canvas(int(text))
    except (ValueError, SceneError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_world_check(args: argparse.Namespace) -> int:
    from poser_env.world.agreement import format_report, world_check

    result = world_check(scenes_per_style=args.scenes, seed=args.seed, canvas=args.canvas)
    print(format_report(result))
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"wrote {path}")
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


def cmd_world_suites(args: argparse.Namespace) -> int:
    from poser_env.world import suites

    argv: list[str] = []
    if args.check:
        argv.append("--check")
    if args.stats:
        argv.append("--stats")
    if args.out:
        argv += ["--out", args.out]
    return int(suites.main(argv) or 0)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from poser_agents.calibrate import calibrate, format_table

    result = calibrate(env_id=args.env, split=args.split, episodes=args.episodes, seed=args.seed,
                       baselines=args.baselines.split(",") if args.baselines else None, heldout=args.heldout)
    print(format_table(result))
    if args.out:
        _write_json(args.out, result)
    if args.json:
        print(json.dumps(_flat_calibration(result), sort_keys=True))
    return 0


def _flat_calibration(result: dict) -> dict:
    """The --json object: one entry per baseline, plus the run's settings under ``_meta``."""
    out = {name: r for name, r in result["baselines"].items()}
    out["_meta"] = {k: result[k] for k in ("env", "split", "episodes", "seed")}
    return out


def _write_json(path: str, obj: dict) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    print(f"wrote {p}")


def cmd_bench_env(args: argparse.Namespace) -> int:
    from poser_agents.bench import bench_env, bench_preset_env

    if args.preset:  # a real-model preset: the env's own time per step, model calls excluded
        result = bench_preset_env(args.preset, steps=args.steps or 50, seed=args.seed, allow_entry_points=args.allow_entry_points)
    else:
        result = bench_env(steps=args.steps or 2000, encoders=args.encoders.split(","), seed=args.seed)
    for k, v in result.items():
        print(f"{k}: {v}")
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


def cmd_experts(args: argparse.Namespace) -> int:
    from poser_env.backends.preset import load_real_preset

    preset = load_real_preset(args.preset, allow_entry_points=args.allow_entry_points)
    rows = preset.describe(check_reachable=True)
    print(f"preset {preset.name} ({preset.path}): {sum(r['component'] == 'expert' for r in rows)} experts")
    for r in rows:
        state = "" if r.get("model") is None else ("reachable" if r["reachable"] else f"NOT reachable ({r['status']})")
        where = r.get("where", "a Python entry point")
        print(f"  {r['component']:<9} {r['name']:<22} {r['type']:<16} {state:<13} {where}")
    if args.json:
        print(json.dumps({"preset": preset.name, "path": str(preset.path), "components": [
            {k: r.get(k) for k in ("component", "name", "type", "model_path", "reachable", "status", "where")} for r in rows]}, sort_keys=True))
    return 0


def load_agent(spec: str, env, seed: int = 0):
    """A baseline name (random, heuristic, oracle, single:<expert>) or a saved agent's folder."""
    from poser_agents.baselines import make_baseline

    path = Path(spec)
    if path.exists():
        from poser_agents.grpo.agent import GRPOAgent, is_grpo_checkpoint

        if is_grpo_checkpoint(path):  # agent.json says format imageposer-grpo
            return GRPOAgent.load(path, env=env, seed=seed)
        from poser_agents.dqn.agent import DQNAgent

        return DQNAgent.load(path, env=env)
    return make_baseline(spec, env, seed=seed)


def cmd_generate(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import poser_env  # noqa: F401
    from poser_env.wrappers import EpisodeRecorder

    if not args.prompt.strip():
        print("poser generate: error: the prompt is empty; describe the image to make", file=sys.stderr)
        return 2
    env = EpisodeRecorder(gym.make(args.env, text_encoder=args.text_encoder))
    agent = load_agent(args.agent, env, seed=args.seed)
    obs, info = env.reset(seed=args.seed, options={"prompt": args.prompt})
    print("Commands:")
    for c in info["commands"]:
        print(f"  [{c['kind']}] {c['text']}")
    done = False
    while not done:
        action, _ = agent.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action)
        verdict = "passed" if info.get("command_passed") else (info.get("error") or info["feedback"] or "failed")
        print(f"step {info['step']}: {info['expert']:<16} reward {reward:+.3f}  {verdict}")
        done = terminated or truncated
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = info["episode_summary"]
    strip = env.save(out / "episode.png")
    from PIL import Image

    Image.fromarray(env.unwrapped.render_canvas()).save(out / "final.png")
    (out / "steps.json").write_text(json.dumps({"prompt": args.prompt, "commands": info["commands"], **summary}, indent=2, default=str) + "\n")
    print(f"critic score {summary['critic_score']:.2f}, cost {summary['cost']:.1f}, {summary['steps']} steps")
    print(f"wrote {strip}, {out / 'final.png'} and {out / 'steps.json'}")
    return 0


def cmd_train_dqn(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import poser_env  # noqa: F401
    from poser_agents.dqn.agent import DQNAgent, DQNConfig

    out = Path(args.out)
    env = gym.make(args.env, split="train", text_encoder=args.text_encoder)
    if args.resume:
        agent = DQNAgent.load(args.resume, env=env)
        print(f"resuming {args.resume} at {agent.num_timesteps} steps")
    else:
        agent = DQNAgent(env, DQNConfig(seed=args.seed, log_dir=str(out / "logs")))
    agent.learn(args.steps, progress_bar=not args.json)
    agent.save(out)
    print(f"saved the agent to {out} ({agent.num_timesteps} steps); evaluate it with: poser eval --agent {out}")
    if args.json:
        print(json.dumps({"out": str(out), "timesteps": agent.num_timesteps}))
    return 0


def cmd_train_grpo(args: argparse.Namespace) -> int:
    from poser_agents.grpo.pipeline import train_from_args

    return train_from_args(args)


def cmd_eval(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import poser_env  # noqa: F401
    from poser_agents.evaluation import evaluate
    from poser_agents.evaluation.report import write_report
    from poser_env.world.suites import load_heldout

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    env_kwargs = {"text_encoder": args.text_encoder}
    if Path(args.agent).exists():  # a saved agent knows the env it was trained on
        from poser_agents.dqn.agent import DQNAgent
        from poser_agents.grpo.agent import GRPOAgent, is_grpo_checkpoint

        reader = GRPOAgent if is_grpo_checkpoint(args.agent) else DQNAgent
        saved = reader.read_metadata(args.agent)  # refuses a corrupt checkpoint, naming it
        env_kwargs.update({k: v for k, v in saved.get("env_kwargs", {}).items() if k not in ("split",)})
    if args.ray:  # episodes as Ray tasks; the same records as the serial run (docs/scaling.md)
        from poser_agents.distributed import RayUnavailableError, require_ray
        from poser_agents.distributed.evaluation import evaluate_on_ray

        try:
            require_ray("poser eval --ray")
        except RayUnavailableError as e:
            print(f"poser eval: error: {e}", file=sys.stderr)
            return 2
        result = evaluate_on_ray(args.agent, args.env, split=args.split, episodes=args.episodes, seeds=seeds, env_kwargs=env_kwargs,
                                 name=args.agent, tasks=load_heldout() if args.heldout else None, verbose=not args.json,
                                 address=args.address)
    else:
        env = gym.make(args.env, split=args.split, **env_kwargs)
        result = evaluate(lambda e, seed=0: load_agent(args.agent, e, seed=seed), env, episodes=args.episodes, seeds=seeds,
                          name=args.agent, tasks=load_heldout() if args.heldout else None, verbose=not args.json)
    overall = result.overall
    for key in ("alignment", "accuracy", "fidelity", "cost", "steps"):
        m = overall[key]
        print(f"{key:<10} {m['mean']:.3f}  [{m['ci_low']:.3f}, {m['ci_high']:.3f}]  n={m['n']}")
    if args.out:
        paths = write_report({result.agent: result}, args.out)
        print("wrote " + ", ".join(str(p) for p in paths.values()))
    if args.json:
        out = {k: overall[k] for k in ("alignment", "accuracy", "fidelity", "cost", "steps") if k in overall}
        out["agent"] = args.agent
        out["split"] = "heldout" if args.heldout else args.split
        out["episodes"] = len(result.records)
        print(json.dumps(out, sort_keys=True))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from poser_agents.demo import run_demo

    return run_demo(out=Path(args.out), quick=args.quick, seed=args.seed, steps=args.steps)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="poser", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    world = sub.add_parser("world", help="the synthetic shape world")
    wsub = world.add_subparsers(dest="world_command", required=True)

    check = wsub.add_parser("check", help="critic-vs-ground-truth agreement per style, and critiques per second")
    check.add_argument("--scenes", type=_positive_int, default=500, help="scenes per style (default 500)")
    check.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    check.add_argument("--canvas", type=_canvas, default=None, help="canvas side in pixels (default 128)")
    check.add_argument("--out", default=None, help="also write the result as JSON to this file")
    check.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    check.set_defaults(func=cmd_world_check)

    su = wsub.add_parser("suites", help="regenerate (--out), verify (--check) or count (--stats) the prompt suites")
    su.add_argument("--check", action="store_true", help="regenerate in a temporary folder and compare")
    su.add_argument("--stats", action="store_true", help="print task counts per suite, split and category")
    su.add_argument("--out", default=None, help="write the suites to this folder")
    su.set_defaults(func=cmd_world_suites)

    cal = sub.add_parser("calibrate", help="run every baseline on a split: the testbed's scale")
    cal.add_argument("--env", default="ImagePoser-v0", help="registered env id (default ImagePoser-v0)")
    cal.add_argument("--split", default="test", choices=["train", "val", "test"])
    cal.add_argument("--episodes", type=_positive_int, default=300, help="tasks, spread evenly over the split (default 300)")
    cal.add_argument("--seed", type=int, default=0)
    cal.add_argument("--heldout", action="store_true", help="run on the hand-written held-out prompts instead of the split")
    cal.add_argument("--baselines", default=None, help="comma-separated subset, e.g. random,heuristic,single:layout-t2i")
    cal.add_argument("--out", default=None, help="also write the full result as JSON to this file")
    cal.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    cal.set_defaults(func=cmd_calibrate)

    bench = sub.add_parser("bench", help="benchmarks")
    bsub = bench.add_subparsers(dest="bench_command", required=True)
    benv = bsub.add_parser("env", help="environment steps per second with random actions")
    benv.add_argument("--steps", type=_positive_int, default=None, help="steps per encoder (default 2000; 50 with --preset)")
    benv.add_argument("--encoders", default="hash,minilm", help="comma-separated text encoders (default hash,minilm)")
    benv.add_argument("--seed", type=int, default=0)
    benv.add_argument("--preset", default=None, help="a real-model preset (TOML): report the env's own ms per step, model calls excluded")
    benv.add_argument("--allow-entry-points", action="store_true", help="let the preset name Python entry points")
    benv.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    benv.set_defaults(func=cmd_bench_env)

    exp = sub.add_parser("experts", help="list what a real-model preset builds and whether each model is reachable")
    exp.add_argument("--preset", required=True, help="a preset TOML file or a built-in name (e.g. real12)")
    exp.add_argument("--allow-entry-points", action="store_true", help="let the preset name Python entry points")
    exp.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    exp.set_defaults(func=cmd_experts)

    train = sub.add_parser("train", help="train an agent")
    tsub = train.add_subparsers(dest="agent_kind", required=True)
    tdqn = tsub.add_parser("dqn", help="the masked DQN agent (stable-baselines3) on the train split")
    tdqn.add_argument("--steps", type=_positive_int, default=100_000, help="environment steps (default 100000)")
    tdqn.add_argument("--seed", type=int, default=0)
    tdqn.add_argument("--env", default="ImagePoser-v0")
    tdqn.add_argument("--text-encoder", default="hash")
    tdqn.add_argument("--resume", default=None, help="a checkpoint folder to continue training from")
    tdqn.add_argument("--out", default="runs/dqn", help="checkpoint folder (model.zip, agent.json, logs/)")
    tdqn.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    tdqn.set_defaults(func=cmd_train_dqn)
    tgrpo = tsub.add_parser("grpo", help="the GRPO workflow policy: logged data, phase 1, reward ensemble, GRPO, test")
    tgrpo.add_argument("--reward", default="ensemble", choices=["ensemble", "env"], help="phase-2 reward: reward models (no image) or the env")
    tgrpo.add_argument("--out", default="runs/grpo", help="run folder (data.jsonl, agent/, results.json, reward_calibration.png)")
    tgrpo.add_argument("--seed", type=int, default=0)
    tgrpo.add_argument("--suite", default="mixed", help="suite mix to train on (default mixed)")
    tgrpo.add_argument("--eval-suite", default=None, help="suite to evaluate on, test split (default: the training suite)")
    tgrpo.add_argument("--data", default=None, help="reuse a logged-data file (JSONL) instead of collecting")
    tgrpo.add_argument("--text-encoder", default="hash")
    tgrpo.add_argument("--grpo-steps", type=_positive_int, default=None, help="phase-2 steps (default GRPOConfig.max_steps)")
    tgrpo.add_argument("--episodes", type=_positive_int, default=300, help="test tasks evaluated (default 300)")
    tgrpo.add_argument("--w", default="1", help="comma-separated guidance weights evaluated; the first is the agent's (default 1)")
    tgrpo.add_argument("--quick", action="store_true", help="a tiny run, for smoke tests")
    tgrpo.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    tgrpo.set_defaults(func=cmd_train_grpo)

    ev = sub.add_parser("eval", help="evaluate an agent over seeds with bootstrap confidence intervals")
    ev.add_argument("--agent", required=True, help="a saved agent folder, or random | heuristic | oracle | single:<expert> | llm:<chat model>")
    ev.add_argument("--env", default="ImagePoser-v0")
    ev.add_argument("--split", default="test", choices=["train", "val", "test"])
    ev.add_argument("--heldout", action="store_true", help="evaluate on the hand-written held-out prompts")
    ev.add_argument("--episodes", type=_positive_int, default=100, help="tasks per seed (default 100)")
    ev.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    ev.add_argument("--text-encoder", default="hash", help="text encoder of the env (a saved agent's own wins)")
    ev.add_argument("--out", default=None, help="write the JSON, Markdown table and plots here")
    ev.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ev.add_argument("--ray", action="store_true", help="run the episodes as Ray tasks (needs the [ray] extra); same results as serial")
    ev.add_argument("--address", default=None, help="with --ray: a Ray cluster to join (auto or HOST:PORT; default: a new local instance)")
    ev.set_defaults(func=cmd_eval)

    gen = sub.add_parser("generate", help="run one episode on a prompt of yours; writes the PNG strip and the step log")
    gen.add_argument("prompt", help="what to draw, e.g. \"two red circles left of a blue star on a mint background\"")
    gen.add_argument("--agent", default="heuristic", help="a saved agent folder, or random | heuristic | oracle | single:<expert>")
    gen.add_argument("--env", default="ImagePoser-v0")
    gen.add_argument("--text-encoder", default="hash", help="must match the agent's (default hash)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", default="runs/generate", help="output folder (default runs/generate)")
    gen.set_defaults(func=cmd_generate)

    demo = sub.add_parser("demo", help="the main job: run the synthetic world end to end and write a report")
    demo.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    demo.add_argument("--quick", action="store_true", help="a smaller run, for smoke tests")
    demo.add_argument("--steps", type=_positive_int, default=None, help="DQN training steps (default 40000; 3000 with --quick)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=cmd_demo)

    from poser_agents.benchmark.cli import add_parser as add_benchmark_parser

    add_benchmark_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "canvas", "unset") is None:
        from poser_env.world.scene import DEFAULT_CANVAS

        args.canvas = DEFAULT_CANVAS
    if getattr(args, "address", None) and not getattr(args, "ray", False):
        parser.error("--address needs --ray")
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError) as e:
        # Bad input (an unknown agent or expert, a corrupt checkpoint, a malformed file): one
        # clear line instead of a traceback. Programming errors still raise.
        print(f"poser {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
