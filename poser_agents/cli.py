"""``poser``: the project's command line.

Subcommands (each imports what it needs lazily, so ``poser --help`` is instant):

- ``poser world check``: measure the pixel critic against the ground truth, and its speed.
- ``poser world suites``: regenerate, check or count the committed prompt suites.
- ``poser demo``: the main job of the README's first command.
- ``poser report RUN_DIR``: the static HTML report of an evaluation or demo folder.
- ``poser experts --preset FILE``: what a real-model preset builds, and whether each model is reachable.
- ``poser benchmark run`` / ``aggregate``: the benchmark protocol (docs/benchmark.md).

Machine-readable output: with ``--json`` the last line printed is one JSON object.

Over 500 lines on purpose: the parser of every subcommand is one table (:func:`build_parser`), so
flags and help read in one place; the commands' work lives in the modules they import.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from poser_agents.common.cli_args import check_level_split, positive_float, positive_int
from poser_agents.factory import load_agent, read_agent_metadata

PRESET_ENTRY_POINT = "poser_env.presets:make_env"  # the entry point of preset-built env ids
#: It and its deprecated path (ids registered by others before the move, until the next release).
PRESET_ENTRY_POINTS = (PRESET_ENTRY_POINT, "poser_env.backends.preset:make_env")


def _canvas(text: str) -> int:
    from poser_env.world.scene import SceneError, check_canvas

    try:
        return check_canvas(int(text))
    except (ValueError, SceneError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_world_check(args: argparse.Namespace) -> int:
    from poser_env.world.world_check import format_report, world_check

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

    if not (args.heldout or args.tasks):
        check_level_split(args.env, args.split)
    result = calibrate(
        env_id=args.env,
        split=args.split,
        episodes=args.episodes,
        seed=args.seed,
        baselines=args.baselines.split(",") if args.baselines else None,
        heldout=args.heldout,
        tasks_file=args.tasks,
    )
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
        result = bench_preset_env(
            args.preset,
            steps=args.steps or 50,
            seed=args.seed,
            allow_entry_points=args.allow_entry_points,
            trust_remote_code=args.trust_remote_code,
        )
    else:
        result = bench_env(steps=args.steps or 2000, encoders=args.encoders.split(","), seed=args.seed)
    for k, v in result.items():
        print(f"{k}: {v}")
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from poser_agents.bench import before_minilm_figures, bench_throughput, compare_minilm_with_before

    before = None
    if args.before:
        if args.no_minilm:
            raise SystemExit("poser bench: error: --before compares MiniLM figures; drop --no-minilm")
        try:
            before = before_minilm_figures(json.loads(Path(args.before).read_text()), args.before)
        except (OSError, ValueError) as e:  # checked before minutes of benchmark, not after
            raise SystemExit(f"poser bench: error: --before {args.before}: {e}") from None
    result = bench_throughput(quick=args.quick, repeats=args.repeats, seed=args.seed, minilm=not args.no_minilm)
    if before is not None:
        result["minilm_vs_before"] = compare_minilm_with_before(result, before)
    if args.quick:
        print("quick mode: tiny budgets, the speeds below mean nothing")
    for i, run in enumerate(result["runs"]):
        print(f"repeat {i}: " + ", ".join(f"{k} {v}" for k, v in run["ratios"].items()))
    print(f"median ratios (one process; CPU seconds, async2/one_env wall; load average {result['load_average']}):")
    for k, v in result["ratios_median"].items():
        print(f"  {k}: {v}")
    for enc, gib in result["replay_gib_per_100k"].items():
        sb3 = result["replay_memory"][enc].get("sb3_dict_buffer_gib")
        print(f"  replay buffer per 100k transitions ({enc}): {gib} GiB (SB3's DictReplayBuffer: {sb3} GiB)")
    for i, run in enumerate(result["runs"]):
        if "minilm_precompute" in run:
            p = run["minilm_precompute"]
            print(
                f"  MiniLM precompute, repeat {i}: {p['strings']} strings of {p['tasks']} tasks in {p['seconds']} s "
                f"(extraction {p['extract_seconds']} s, embedding {p['embed_seconds']} s; once per process and split)"
            )
    for i, run in enumerate(result["runs"]):
        ms, one = run["async2_per_vector_step_ms"], 1000 / run["one_env_sps"]["cpu"]
        workers = (
            f"workers {', '.join(str(w) for w in ms['worker_cpu'])} ms CPU each"
            if ms["worker_cpu"]
            else "workers' CPU not read (no /proc)"
        )
        print(
            f"  async2, repeat {i}: per vector step (2 env calls) {ms['wall']} ms wall, main process {ms['main_cpu']} ms "
            f"CPU, {workers}; one env in this process {one:.3f} ms CPU per step; lockstep bound "
            f"{run['async2_lockstep_bound']} (2 x mean / E[max of 2] of its calls: its most with free pipes)"
        )
    if "minilm_vs_before" in result:
        print(
            f"  MiniLM against {args.before}: "
            + ", ".join(f"{k} {v}" for k, v in result["minilm_vs_before"].items() if k != "source")
        )
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


def cmd_experts(args: argparse.Namespace) -> int:
    from poser_env.presets import load_real_preset

    preset = load_real_preset(
        args.preset,
        allow_entry_points=args.allow_entry_points,
        trust_remote_code=args.trust_remote_code,
        inspect_only=True,
    )
    rows = preset.describe(check_reachable=True)
    print(f"preset {preset.name} ({preset.path}): {sum(r['component'] == 'expert' for r in rows)} experts")
    for r in rows:
        state = "" if r.get("model") is None else ("reachable" if r["reachable"] else f"NOT reachable ({r['status']})")
        where = r.get("where", "a Python entry point")
        print(f"  {r['component']:<9} {r['name']:<22} {r['type']:<16} {state:<13} {where}")
    asking = preset.remote_code_models()
    if asking:
        verdict = (
            "allowed by --trust-remote-code"
            if args.trust_remote_code
            else "refused unless you pass --trust-remote-code"
        )
        print(f"models that ask for trust_remote_code (they run their own Python code; {verdict}): {', '.join(asking)}")
    if args.json:
        print(
            json.dumps(
                {
                    "preset": preset.name,
                    "path": str(preset.path),
                    "components": [
                        {
                            k: r.get(k)
                            for k in ("component", "name", "type", "model_path", "reachable", "status", "where")
                        }
                        for r in rows
                    ],
                    "trust_remote_code_asked": asking,
                },
                sort_keys=True,
            )
        )
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    if not args.prompt.strip():
        print("poser generate: error: the prompt is empty; describe the image to make", file=sys.stderr)
        return 2
    from poser_env.extractors.base import require_prompt

    require_prompt(args.prompt)  # too long: refused before the output folder is made
    with _claim(args, "generate"):
        return _generate(args)


def _generate(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import poser_env  # noqa: F401
    from poser_env.wrappers import EpisodeRecorder, adopt_time_limit, final_summary

    env = EpisodeRecorder(gym.make(args.env, text_encoder=args.text_encoder))
    adopt_time_limit(env)
    agent = load_agent(args.agent, env, seed=args.seed, allow_entry_points=args.allow_entry_points)
    options: dict[str, Any] = {"prompt": args.prompt}
    if args.source is not None:
        options["source"] = _source_option(args.source)
    obs, info = env.reset(seed=args.seed, options=options)
    print("Commands:")
    for c in info["commands"]:
        print(f"  [{c['kind']}] {c['text']}")
    unread = info.get("not_understood", [])
    if unread:
        print("not understood (no check): " + "; ".join(f'"{s}"' for s in unread))
    done = False
    while not done:
        action, _ = agent.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action)
        verdict = "passed" if info.get("command_passed") else (info.get("error") or info["feedback"] or "failed")
        print(f"step {info['step']}: {info['expert']:<16} reward {reward:+.3f}  {verdict}")
        done = terminated or truncated
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = final_summary(env, info)
    strip = env.save(out / "episode.png")
    from PIL import Image

    Image.fromarray(env.unwrapped.render_canvas()).save(out / "final.png")
    (out / "steps.json").write_text(
        json.dumps({"prompt": args.prompt, "commands": info["commands"], **summary}, indent=2, default=str) + "\n"
    )
    print(f"{critic_line(summary)}, cost {summary['cost']:.1f}, {summary['steps']} steps")
    print(f"wrote {strip}, {out / 'final.png'} and {out / 'steps.json'}")
    return 0


def critic_line(summary: dict) -> str:
    """ "critic score 0.83", or, when part of the prompt was not understood, a line that says the
    score speaks only for the rest (never a bare 1.00 on a prompt with unread content)."""
    unread = summary.get("not_understood") or []
    line = f"critic score {summary['critic_score']:.2f}"
    if unread:
        n = len(unread)
        line += (
            f" on what was understood (coverage {summary.get('coverage', 0.0):.2f}; {n} phrase{'s' if n != 1 else ''}"
            f" not understood: " + "; ".join(f'"{s}"' for s in unread) + ")"
        )
    return line


def cmd_train_dqn(args: argparse.Namespace) -> int:
    from poser_agents.dqn.run import train_dqn_cli

    return train_dqn_cli(args)


def cmd_train_grpo(args: argparse.Namespace) -> int:
    from poser_agents.grpo.pipeline import train_from_args

    return train_from_args(args)


def _claim(args: argparse.Namespace, command: str, resume: bool = False):
    """Lock ``args.out`` for this command (a no-op context when there is no --out)."""
    import contextlib

    from poser_agents.common.run_folder import claim_run_folder

    if not getattr(args, "out", None):
        return contextlib.nullcontext()
    return claim_run_folder(
        args.out,
        command=f"poser {command} --out {args.out}",
        resume=resume,
        overwrite=getattr(args, "overwrite", False),
    )


def cmd_eval(args: argparse.Namespace) -> int:
    with _claim(args, "eval"):  # before any work: a refused folder means nothing ran
        return _eval(args)


def _eval(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import poser_env  # noqa: F401
    from poser_agents.evaluation import evaluate
    from poser_agents.evaluation.report import write_report
    from poser_env.world.suites import load_heldout, load_tasks

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    tasks = load_tasks(args.tasks) if args.tasks else (load_heldout() if args.heldout else None)
    env_kwargs = {"text_encoder": args.text_encoder}
    if Path(args.agent).exists():  # a saved agent knows the env it was trained on
        # refuses a corrupt or unsafe checkpoint, naming it, before any env is built from it
        saved = read_agent_metadata(args.agent, allow_entry_points=args.allow_entry_points)
        env_kwargs.update({k: v for k, v in saved.get("env_kwargs", {}).items() if k not in ("split",)})
    check_level_split(args.env, args.split, env_kwargs.get("suite"))
    if args.preset is not None:  # a preset-built env (ImagePoser-Diffusers-v0 or a user's own id)
        try:
            entry = gym.spec(args.env).entry_point
        except gym.error.Error as e:
            print(f"poser eval: error: {e}", file=sys.stderr)
            return 2
        if entry not in PRESET_ENTRY_POINTS:
            print(
                f"poser eval: error: --preset needs an env built from a preset (ImagePoser-Diffusers-v0), not {args.env}",
                file=sys.stderr,
            )
            return 2
        env_kwargs.update(
            preset=args.preset, allow_entry_points=args.allow_entry_points, trust_remote_code=args.trust_remote_code
        )
    elif args.trust_remote_code:
        print(
            "poser eval: error: --trust-remote-code applies to a preset's models: pass --preset FILE", file=sys.stderr
        )
        return 2
    if args.ray:  # episodes as Ray tasks; the same records as the serial run (docs/scaling.md)
        from poser_agents.distributed import require_ray
        from poser_agents.distributed.evaluation import evaluate_on_ray

        require_ray("poser eval --ray")  # without Ray: one line (main)
        result = evaluate_on_ray(
            args.agent,
            args.env,
            split=args.split,
            episodes=args.episodes,
            seeds=seeds,
            env_kwargs=env_kwargs,
            name=args.agent,
            tasks=tasks,
            verbose=not args.json,
            address=args.address,
            allow_entry_points=args.allow_entry_points,
        )
    else:
        env = gym.make(args.env, split=args.split, **env_kwargs)
        result = evaluate(
            lambda e, seed=0: load_agent(args.agent, e, seed=seed, allow_entry_points=args.allow_entry_points),
            env,
            episodes=args.episodes,
            seeds=seeds,
            name=args.agent,
            tasks=tasks,
            verbose=not args.json,
            trace=bool(args.out),
        )
    overall = result.overall
    for key in ("alignment", "accuracy", "fidelity", "cost", "steps"):
        m = overall[key]
        print(f"{key:<10} {m['mean']:.3f}  [{m['ci_low']:.3f}, {m['ci_high']:.3f}]  n={m['n']}")
    unread = [r for r in result.records if r.get("not_understood")]
    if unread:  # the figures speak for what the extractor understood
        print(
            f"{len(unread)} of {len(result.records)} episodes had prompt content not understood (mean coverage "
            f"{sum(r['coverage'] for r in result.records) / len(result.records):.3f}); the figures judge the rest"
        )
    if args.out:
        paths = write_report({result.agent: result}, args.out)
        from poser_agents.report import write_html_report

        paths["html"] = write_html_report(args.out)
        print("wrote " + ", ".join(str(p) for p in paths.values()))
    if args.json:
        out = {k: overall[k] for k in ("alignment", "accuracy", "fidelity", "cost", "steps") if k in overall}
        out["agent"] = args.agent
        out["split"] = f"tasks:{args.tasks}" if args.tasks else ("heldout" if args.heldout else args.split)
        out["with_unread"] = len(unread)
        out["episodes"] = len(result.records)
        print(json.dumps(out, sort_keys=True))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from poser_agents.report import folder_size, write_html_report

    index = write_html_report(args.run_dir, out=args.out)
    print(f"wrote {index} ({folder_size(index.parent) / 1e6:.1f} MB); open it in a browser, no server needed")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    """The grammar extractor on its own: commands, checks, and what it did not understand."""
    from poser_env.extractors.base import coverage, not_understood
    from poser_env.extractors.grammar import GrammarExtractor

    if not args.prompt.strip():
        print("poser extract: error: the prompt is empty; give the text to read", file=sys.stderr)
        return 2
    source = _read_source(args.source) if args.source else None
    commands = GrammarExtractor().extract(args.prompt, source=source)
    unread = not_understood(commands)
    result = {
        "prompt": args.prompt,
        "commands": [c.to_dict() for c in commands],
        "not_understood": unread,
        "coverage": round(coverage(args.prompt, unread), 4),
    }
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    for c in commands:
        print(f"[{c.kind}] {c.text}")
        for ch in c.checks:
            print(f"    {ch.category:<10} {ch.question}")
    print("not understood (no check): " + ("; ".join(f'"{s}"' for s in unread) if unread else "nothing"))
    print(f"coverage {result['coverage']:.2f}")
    return 0


def _source_option(path: str) -> Any:
    """The env's ``source`` reset option from a file: a Scene from a scene JSON (drawn at the env's
    canvas size), or the image as a PIL image (the env refuses one of another size, naming it)."""
    if Path(path).suffix.lower() == ".json":
        from poser_env.world.scene import Scene

        return Scene.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    from PIL import Image

    return Image.fromarray(_read_source(path).image)


def _read_source(path: str):
    """A source image to edit: a PNG/JPEG file, or a scene as JSON (the suite line's ``source``)."""
    import numpy as np

    from poser_env.types import Canvas

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"source file {p} not found; give an image (PNG, JPEG) or a scene JSON file")
    if p.suffix.lower() == ".json":
        from poser_env.world.render import render
        from poser_env.world.scene import Scene, SceneError
        from poser_env.world.vocab import VocabularyError

        try:
            scene = Scene.from_dict(json.loads(p.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError, KeyError, ValueError, SceneError, VocabularyError) as e:
            raise ValueError(f"{p}: not a scene JSON ({e}); see the 'source' key in docs/suites.md") from e
        return Canvas(image=render(scene))
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            return Canvas(image=np.asarray(im.convert("RGB")))
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{p}: not an image PIL can read ({e})") from e


def cmd_demo(args: argparse.Namespace) -> int:
    from poser_agents.demo import run_demo

    with _claim(args, "demo"):
        return run_demo(out=Path(args.out), quick=args.quick, seed=args.seed, steps=args.steps)


_ALLOW_HELP = "let a checkpoint's env settings name Python code (component entry points, module:callable encoders); see docs/security.md"


#: Every split name; whether the level's suite mix has it is checked when the env is made
#: (``gen``, ``gen_forms``: the generalisation splits of the levels that have them).
_SPLITS = ["train", "val", "test", "gen", "gen_forms"]
_SPLIT_HELP = "default test; gen and gen_forms exist on the levels listed in docs/env.md"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="poser", description=__doc__.split("\n\n")[0].replace("``", ""))
    sub = parser.add_subparsers(dest="command", required=True)

    world = sub.add_parser("world", help="the synthetic shape world")
    wsub = world.add_subparsers(dest="world_command", required=True)

    check = wsub.add_parser("check", help="critic-vs-ground-truth agreement per style, and critiques per second")
    check.add_argument("--scenes", type=positive_int, default=500, help="scenes per style (default 500)")
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
    cal.add_argument("--split", default="test", choices=_SPLITS, help=_SPLIT_HELP)
    cal.add_argument(
        "--episodes", type=positive_int, default=300, help="tasks, spread evenly over the split (default 300)"
    )
    cal.add_argument("--seed", type=int, default=0)
    cal.add_argument(
        "--heldout", action="store_true", help="run on the hand-written held-out prompts instead of the split"
    )
    cal.add_argument(
        "--tasks", default=None, help="run on a task file of yours (JSONL, the suite line format of docs/suites.md)"
    )
    cal.add_argument(
        "--baselines", default=None, help="comma-separated subset, e.g. random,heuristic,single:layout-t2i"
    )
    cal.add_argument("--out", default=None, help="also write the full result as JSON to this file")
    cal.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    cal.set_defaults(func=cmd_calibrate)

    bench = sub.add_parser("bench", help="benchmarks: with no subcommand, the throughput ratios (docs/performance.md)")
    bench.add_argument("--quick", action="store_true", help="tiny budgets: checks the plumbing, speeds mean nothing")
    bench.add_argument(
        "--repeats", type=positive_int, default=1, help="measure every ratio this many times (default 1)"
    )
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--no-minilm", action="store_true", help="skip the MiniLM figures (no model load)")
    bench.add_argument(
        "--before",
        default=None,
        metavar="JSON",
        help="a previous `poser bench --json` result: compare today's warm MiniLM env with its MiniLM figure",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    bench.set_defaults(func=cmd_bench)
    bsub = bench.add_subparsers(dest="bench_command", required=False)
    benv = bsub.add_parser("env", help="environment steps per second with random actions")
    benv.add_argument(
        "--steps", type=positive_int, default=None, help="steps per encoder (default 2000; 50 with --preset)"
    )
    benv.add_argument("--encoders", default="hash,minilm", help="comma-separated text encoders (default hash,minilm)")
    benv.add_argument("--seed", type=int, default=0)
    benv.add_argument(
        "--preset",
        default=None,
        help="a real-model preset (TOML): report the env's own ms per step, model calls excluded",
    )
    benv.add_argument("--allow-entry-points", action="store_true", help="let the preset name Python entry points")
    benv.add_argument(
        "--trust-remote-code", action="store_true", help="let the preset's models that ask for it run their own code"
    )
    benv.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    benv.set_defaults(func=cmd_bench_env)

    exp = sub.add_parser("experts", help="list what a real-model preset builds and whether each model is reachable")
    exp.add_argument("--preset", required=True, help="a preset TOML file or a built-in name (e.g. real12)")
    exp.add_argument("--allow-entry-points", action="store_true", help="let the preset name Python entry points")
    exp.add_argument(
        "--trust-remote-code", action="store_true", help="let the preset's models that ask for it run their own code"
    )
    exp.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    exp.set_defaults(func=cmd_experts)

    train = sub.add_parser("train", help="train an agent")
    tsub = train.add_subparsers(dest="agent_kind", required=True)
    tdqn = tsub.add_parser("dqn", help="the masked DQN agent (stable-baselines3) on the train split")
    tdqn.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="environment steps of the whole run (default 100000; a resumed run trains the steps it lacks)",
    )
    tdqn.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    tdqn.add_argument("--env", default=None, help="registered env id (default ImagePoser-v0)")
    tdqn.add_argument("--text-encoder", default=None, help="text encoder (default hash)")
    tdqn.add_argument(
        "--out", default="runs/dqn", help="run folder (model.zip, agent.json, run.json, logs/), locked while training"
    )
    tdqn.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="carry on from the last checkpoint in --out (or in DIR, writing to an empty --out); "
        "settings not given come from the run's run.json",
    )
    tdqn.add_argument("--overwrite", action="store_true", help="delete what --out holds and start over")
    tdqn.add_argument(
        "--checkpoint-every", type=positive_int, default=None, help="save every N env steps (default 5000)"
    )
    tdqn.add_argument(
        "--checkpoint-seconds", type=positive_float, default=None, help="also save every S seconds (default 120)"
    )
    tdqn.add_argument("--allow-entry-points", action="store_true", help=_ALLOW_HELP)
    tdqn.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    tdqn.set_defaults(func=cmd_train_dqn)
    tgrpo = tsub.add_parser("grpo", help="the GRPO workflow policy: logged data, phase 1, reward ensemble, GRPO, test")
    tgrpo.add_argument(
        "--reward",
        default="ensemble",
        choices=["ensemble", "env"],
        help="phase-2 reward: reward models (no image) or the env",
    )
    tgrpo.add_argument(
        "--out",
        default="runs/grpo",
        help="run folder (data.jsonl, stages/, agent/, results.json, reward_calibration.png), locked while training",
    )
    tgrpo.add_argument("--seed", type=int, default=0)
    tgrpo.add_argument("--suite", default="mixed", help="suite mix to train on (default mixed)")
    tgrpo.add_argument(
        "--eval-suite", default=None, help="suite to evaluate on, test split (default: the training suite)"
    )
    tgrpo.add_argument("--data", default=None, help="reuse a logged-data file (JSONL) instead of collecting")
    tgrpo.add_argument("--text-encoder", default="hash")
    tgrpo.add_argument(
        "--grpo-steps", type=positive_int, default=None, help="phase-2 steps (default GRPOConfig.max_steps)"
    )
    tgrpo.add_argument(
        "--episodes",
        type=positive_int,
        default=None,
        help="test tasks evaluated (default 300; 20 with --quick, which an explicit --episodes overrides)",
    )
    tgrpo.add_argument(
        "--w", default="1", help="comma-separated guidance weights evaluated; the first is the agent's (default 1)"
    )
    tgrpo.add_argument("--quick", action="store_true", help="a tiny run, for smoke tests")
    tgrpo.add_argument(
        "--resume",
        action="store_true",
        help="carry on in --out: skip the stages done, phase 2 from its last checkpoint",
    )
    tgrpo.add_argument("--overwrite", action="store_true", help="delete what --out holds and start over")
    tgrpo.add_argument(
        "--checkpoint-every", type=positive_int, default=None, help="phase-2 steps between checkpoints (default 5)"
    )
    tgrpo.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    tgrpo.set_defaults(func=cmd_train_grpo)

    ev = sub.add_parser("eval", help="evaluate an agent over seeds with bootstrap confidence intervals")
    ev.add_argument(
        "--agent",
        required=True,
        help="a saved agent folder, or random | heuristic | heuristic_memory | oracle | single:<expert> | llm:<chat model>",
    )
    ev.add_argument("--env", default="ImagePoser-v0", help="a registered id (default ImagePoser-v0)")
    ev.add_argument("--split", default="test", choices=_SPLITS, help=_SPLIT_HELP)
    ev.add_argument("--heldout", action="store_true", help="evaluate on the hand-written held-out prompts")
    ev.add_argument(
        "--tasks",
        default=None,
        help="evaluate on a task file of yours (JSONL, the suite line format of docs/suites.md)",
    )
    ev.add_argument("--episodes", type=positive_int, default=100, help="tasks per seed (default 100)")
    ev.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    ev.add_argument("--text-encoder", default="hash", help="text encoder of the env (a saved agent's own wins)")
    ev.add_argument(
        "--out",
        default=None,
        help="write the JSON, Markdown table, plots, episode traces and the HTML report (OUT/report) here (a folder, locked while writing)",
    )
    ev.add_argument(
        "--overwrite", action="store_true", help="delete what --out holds first (else a non-empty --out is refused)"
    )
    ev.add_argument("--allow-entry-points", action="store_true", help=_ALLOW_HELP)
    ev.add_argument(
        "--preset",
        default=None,
        help="with --env ImagePoser-Diffusers-v0: a preset name or TOML file (default real12); see docs/real-models.md",
    )
    ev.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="with --preset: let the preset's models that ask for it run their own code (docs/security.md)",
    )
    ev.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ev.add_argument(
        "--ray",
        action="store_true",
        help="run the episodes as Ray tasks (needs the [ray] extra); same results as serial",
    )
    ev.add_argument(
        "--address",
        default=None,
        help="with --ray: a Ray cluster to join (auto or HOST:PORT; default: a new local instance)",
    )
    ev.set_defaults(func=cmd_eval)

    gen = sub.add_parser("generate", help="run one episode on a prompt of yours; writes the PNG strip and the step log")
    gen.add_argument("prompt", help='what to draw, e.g. "two red circles left of a blue star on a mint background"')
    gen.add_argument(
        "--agent",
        default="heuristic",
        help="a saved agent folder, or random | heuristic | heuristic_memory | oracle | single:<expert>",
    )
    gen.add_argument("--env", default="ImagePoser-v0", help="a registered id (default ImagePoser-v0)")
    gen.add_argument("--text-encoder", default="hash", help="must match the agent's (default hash)")
    gen.add_argument("--seed", type=int, default=0, help="the episode's seed (default 0)")
    gen.add_argument(
        "--source",
        default=None,
        help="the image an edit prompt edits: a scene JSON file or a PNG/JPEG of the env's canvas size",
    )
    gen.add_argument(
        "--out", default="runs/generate", help="output folder (default runs/generate), locked while writing"
    )
    gen.add_argument(
        "--overwrite", action="store_true", help="delete what --out holds first (else a non-empty --out is refused)"
    )
    gen.add_argument("--allow-entry-points", action="store_true", help=_ALLOW_HELP)
    gen.set_defaults(func=cmd_generate)

    rep = sub.add_parser(
        "report", help="the static HTML report of a run folder (results with CIs, plots, episode viewer)"
    )
    rep.add_argument("run_dir", help="a folder written by poser eval --out or poser demo")
    rep.add_argument("--out", default=None, help="report folder (default RUN_DIR/report)")
    rep.set_defaults(func=cmd_report)
    ext = sub.add_parser("extract", help="read a prompt: the commands, their checks and what was not understood")
    ext.add_argument("prompt", help="the prompt to read")
    ext.add_argument("--source", default=None, help="the image to edit: a PNG/JPEG file or a scene JSON file")
    ext.add_argument("--json", action="store_true", help="print one JSON object")
    ext.set_defaults(func=cmd_extract)

    demo = sub.add_parser("demo", help="the main job: run the synthetic world end to end and write a report")
    demo.add_argument("--out", default="runs/demo", help="output folder (default runs/demo), locked while writing")
    demo.add_argument(
        "--overwrite", action="store_true", help="delete what --out holds first (else a non-empty --out is refused)"
    )
    demo.add_argument("--quick", action="store_true", help="a smaller run, for smoke tests")
    demo.add_argument(
        "--steps", type=positive_int, default=None, help="DQN training steps (default 40000; 3000 with --quick)"
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=cmd_demo)

    from poser_agents.benchmark.cli import add_parser as add_benchmark_parser

    add_benchmark_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from poser_agents.common.cli_args import quiet_v0_upgrade_notice

    quiet_v0_upgrade_notice()  # v0 is the default on purpose (see the function)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "canvas", "unset") is None:
        from poser_env.world.scene import DEFAULT_CANVAS

        args.canvas = DEFAULT_CANVAS
    if getattr(args, "address", None) and not getattr(args, "ray", False):
        parser.error("--address needs --ray")
    from gymnasium.error import Error as GymnasiumError

    try:
        return int(args.func(args) or 0)
    except GymnasiumError as e:  # an unknown or mistyped --env id: Gymnasium's own message, one line
        print(f"poser {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        from poser_agents.distributed import RayUnavailableError

        if not isinstance(e, RayUnavailableError):
            raise
        print(f"poser {args.command}: error: {e}", file=sys.stderr)  # --ray without Ray installed
        return 2
    except (ValueError, TypeError, FileNotFoundError) as e:
        # Bad input (an unknown agent or expert, a corrupt checkpoint, a malformed file): one
        # clear line instead of a traceback. A TypeError the interpreter raised (a call with the
        # wrong arguments, None where a path goes) is a programming error: it keeps its traceback.
        if isinstance(e, TypeError) and not raised_on_purpose(e):
            raise
        print(f"poser {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C where no command saves anything (training commands handle it themselves).
        print(f"poser {args.command}: interrupted", file=sys.stderr)
        return 130


def raised_on_purpose(error: BaseException) -> bool:
    """Whether ``error`` came from a ``raise`` statement (ours or a library's: a message written
    for the caller) rather than from the interpreter failing an operation in the innermost frame
    (``len(5)``, ``f(1, 2)`` for ``f(a)``), whose message names no input and hides a bug."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and (frames[-1].line or "").lstrip().startswith("raise")


if __name__ == "__main__":
    sys.exit(main())
