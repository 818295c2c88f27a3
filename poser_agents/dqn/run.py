"""``poser train dqn``: a training run in a locked output folder that survives interruption.

The folder (``--out``) holds the checkpoint (``model.zip``, ``agent.json``), ``logs/`` and
``run.json`` (the run's settings, so ``--resume`` needs no flag repeated). The run

- saves every ``--checkpoint-every`` steps or ``--checkpoint-seconds`` seconds (defaults
  5,000 and 120), so a ``kill -9`` loses at most that much work;
- on SIGINT (Ctrl-C) or SIGTERM stops at the next step, saves, prints one line and exits 130 or
  143; a second signal exits at once (one line, nothing saved since the last checkpoint);
- with ``--resume`` carries on from the folder's last checkpoint up to ``--steps`` in total:
  the step counter, the exploration schedule and the logs go on; the replay buffer is not
  kept (see ``docs/dqn.md``), so updates wait until it holds ``max(batch_size,
  learning_starts)`` fresh transitions, while acting goes on with the current epsilon.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from poser_agents.common.checkpoint import atomic_write_text
from poser_agents.common.checkpointing import (
    DEFAULT_EVERY_SECONDS,
    DEFAULT_EVERY_STEPS,
    Interrupted,
    PeriodicCheckpoint,
    stop_on_signals,
    trim_logs,
)
from poser_agents.common.run_folder import claim_run_folder

RUN_FILE = "run.json"

#: Settings a run records in ``run.json`` and ``--resume`` reads back, with their defaults.
SETTINGS = {
    "env": "ImagePoser-v0",
    "text_encoder": "hash",
    "seed": 0,
    "steps": 100_000,
    "checkpoint_every": DEFAULT_EVERY_STEPS,
    "checkpoint_seconds": DEFAULT_EVERY_SECONDS,
}


def _settings(args: Any, source: Path | None) -> dict[str, Any]:
    """The flags given, else the resumed run's ``run.json`` (plain values only), else the defaults."""
    saved: dict[str, Any] = {}
    if source is not None and (source / RUN_FILE).is_file():
        try:
            raw = json.loads((source / RUN_FILE).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(
                f"{source / RUN_FILE} is corrupt (not valid JSON: {e}); pass the settings as flags"
            ) from None
        if isinstance(raw, dict):
            saved = {
                k: raw[k]
                for k in SETTINGS
                if isinstance(raw.get(k), type(SETTINGS[k]))
                or (isinstance(SETTINGS[k], float) and isinstance(raw.get(k), int))
            }
    out = {}
    for key, default in SETTINGS.items():
        given = getattr(args, key, None)
        out[key] = given if given is not None else saved.get(key, default)
    return out


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def train_dqn_cli(args: Any) -> int:
    """The ``poser train dqn`` command (see the module docstring); returns the exit code."""
    out = Path(args.out)
    source = None if args.resume is None else (Path(args.resume) if args.resume else out)
    in_place = source is not None and source.resolve() == out.resolve()
    if source is not None and not in_place and not source.is_dir():
        raise ValueError(f"--resume {str(source)!r}: no such checkpoint folder")
    with claim_run_folder(out, command=f"poser train dqn --out {out}", resume=in_place, overwrite=args.overwrite):
        try:
            return _train(args, out, source, in_place)
        except Interrupted as e:
            print(
                f"poser train dqn: interrupted by {e} before the run could save; the last checkpoint in {out} "
                "(if any) is intact",
                file=sys.stderr,
            )
            return e.exit_code


def _train(args: Any, out: Path, source: Path | None, in_place: bool) -> int:
    s = _settings(args, source)
    resume_hint = f"poser train dqn --out {out} --resume"
    with stop_on_signals() as stop:
        with stop.immediate():  # nothing to save until the agent exists
            import gymnasium as gym

            import poser_env  # noqa: F401
            from poser_agents.dqn.agent import META_FILE, DQNAgent, DQNConfig

            if source is not None and not (source / META_FILE).is_file():
                raise ValueError(
                    f"{str(source)!r} holds no checkpoint yet ({META_FILE} is missing): nothing to resume; "
                    f"start over with --overwrite"
                )
            env = gym.make(s["env"], split="train", text_encoder=s["text_encoder"])
            if source is not None:
                agent = DQNAgent.load(
                    source, env=env, allow_entry_points=bool(getattr(args, "allow_entry_points", False))
                )
                agent.config.log_dir = str(out / "logs")
                if in_place:
                    trim_logs(out / "logs", agent.num_timesteps)  # rows a kill left after the checkpoint
                print(
                    f"resuming {source} at {agent.num_timesteps} of {s['steps']} steps",
                    file=sys.stderr if args.json else sys.stdout,
                )
            else:
                agent = DQNAgent(env, DQNConfig(seed=s["seed"], log_dir=str(out / "logs")))
            _write_json(out / RUN_FILE, {"command": "train dqn", **s})

        def save() -> None:
            agent.save(out)  # atomic: a kill during it leaves the previous checkpoint or this one

        remaining = s["steps"] - agent.num_timesteps
        every = PeriodicCheckpoint(save, s["checkpoint_every"], s["checkpoint_seconds"], stop=stop)
        if remaining > 0:
            agent.learn(remaining, callback=every, progress_bar=not args.json, reset_num_timesteps=source is None)
        agent.close_logs()
        save()
    done = agent.num_timesteps >= s["steps"]
    if args.json:
        print(
            json.dumps(
                {
                    "out": str(out),
                    "timesteps": agent.num_timesteps,
                    "complete": done,
                    "interrupted": stop.name if stop.requested and not done else None,
                }
            )
        )
    if stop.requested and not done:
        print(
            f"poser train dqn: stopped by {stop.name} at step {agent.num_timesteps} of {s['steps']}; saved the checkpoint "
            f"to {out}; go on with: {resume_hint}",
            file=sys.stderr,
        )
        return stop.exit_code
    print(
        f"saved the agent to {out} ({agent.num_timesteps} steps); evaluate it with: poser eval --agent {out}",
        file=sys.stderr if args.json else sys.stdout,
    )
    return 0
