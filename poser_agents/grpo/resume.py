"""Checkpoints of a ``poser train grpo`` run at its natural boundaries, for ``--resume``.

A run folder's ``stages/`` holds what each finished stage produced, so a stopped run skips it:

- ``data.jsonl`` (in the run folder itself): the logged data, written once collection ends;
- ``stages/phase1/``: the phase-1 policy as a GRPOAgent checkpoint (``policy.pt`` + ``agent.json``);
- ``stages/phase2-STEP.pt`` + ``stages/phase2.json``: the GRPO trainer every ``checkpoint_every``
  steps and at the phase's end: the policy and Adam's state and the torch generator (tensors,
  read back with ``torch.load(weights_only=True)``: nothing in them can run code), and the
  step, the numpy generator's state, the history, the image count and the tensors' file name
  (JSON). Each step's tensors get a new name and ``phase2.json`` is replaced after them, so a
  kill at any moment leaves a matching pair (the previous one or the new one);
- ``stages/config.json``: the run's configuration, which a resumed run must match.

The reward-model ensemble is not stored: a resumed run fits it again from the same data and
seeds (its members seed torch themselves), which takes seconds to a minute. Evaluation and the
final agent are written only at the end. See ``docs/grpo.md``.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poser_agents.common.checkpoint import atomic_write_bytes, atomic_write_text

STAGES = "stages"
PHASE2_TENSORS = "phase2.pt"  # the name before each step's tensors got their own
_TENSORS_NAME = re.compile(r"phase2(-[0-9]{6,})?\.pt")
PHASE2_META = "phase2.json"
CONFIG_FILE = "config.json"


class ResumeError(ValueError):
    """A run folder's stage files are missing, corrupt, or from a run with another configuration."""


def check_config(out: Path, config: dict[str, Any], resume: bool) -> None:
    """Record the run's configuration; on resume, refuse one that differs, naming the fields."""
    path = out / STAGES / CONFIG_FILE
    plain = json.loads(json.dumps(config, default=str))
    if resume and path.is_file():
        try:
            saved = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ResumeError(f"{path} is corrupt (not valid JSON: {e}); start over with --overwrite") from None
        if saved != plain:
            diff = (
                sorted(k for k in set(saved) | set(plain) if saved.get(k) != plain.get(k))
                if isinstance(saved, dict)
                else ["(all)"]
            )
            raise ResumeError(
                f"the run in {out} was started with other settings ({', '.join(diff)} differ): resume it with "
                "the same flags, or start over with --overwrite"
            )
        return
    (out / STAGES).mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(plain, indent=2, sort_keys=True) + "\n")


def save_phase1(out: Path, agent: Any) -> None:
    agent.save(out / STAGES / "phase1")  # atomic


def load_phase1(out: Path) -> Any | None:
    """The phase-1 policy saved by an earlier run in ``out``, or None."""
    from poser_agents.grpo.agent import GRPOAgent

    folder = out / STAGES / "phase1"
    if not (folder / "agent.json").is_file():
        return None
    return GRPOAgent.load(folder).policy


def save_phase2(out: Path, trainer: Any, step: int) -> None:
    """The trainer's state after ``step``: the tensors under a new name, then the JSON that names them and the step."""
    folder = out / STAGES
    folder.mkdir(parents=True, exist_ok=True)
    tensors_file = f"phase2-{int(step):06d}.pt"
    buf = io.BytesIO()
    torch.save(
        {
            "policy": trainer.policy.state_dict(),
            "optimizer": trainer.opt.state_dict(),
            "generator": trainer.generator.get_state(),
        },
        buf,
    )
    atomic_write_bytes(folder / tensors_file, buf.getvalue())
    meta = {
        "step": int(step),
        "rng": trainer.rng.bit_generator.state,
        "images_rendered": int(trainer.images_rendered),
        "history": trainer.history,
        "tensors_file": tensors_file,
    }
    atomic_write_text(folder / PHASE2_META, json.dumps(meta, sort_keys=True) + "\n")
    for old in folder.glob("phase2*.pt"):  # earlier steps' tensors (and a kill's leftovers): no longer named
        if old.name != tensors_file:
            old.unlink()


def load_phase2(out: Path, trainer: Any) -> int:
    """Restore the trainer from ``out``'s phase-2 checkpoint; returns the last step done (0: none)."""
    folder = out / STAGES
    if not (folder / PHASE2_META).is_file():
        return 0
    try:
        meta = json.loads((folder / PHASE2_META).read_text())
        step = meta["step"]
        tensors_file = meta.get("tensors_file", PHASE2_TENSORS)  # runs saved before tensors_file: phase2.pt
        if not isinstance(tensors_file, str) or not _TENSORS_NAME.fullmatch(tensors_file):
            raise ValueError(f"tensors_file {tensors_file!r} is not a phase2-STEP.pt name in this folder")
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= trainer.config.max_steps:
            raise ValueError(f"step {step!r} is not in 0..{trainer.config.max_steps}")
        if not isinstance(meta["history"], list) or not isinstance(meta["images_rendered"], int):
            raise ValueError("history must be a list and images_rendered an int")
        tensors = torch.load(folder / tensors_file, map_location="cpu", weights_only=True)
        trainer.policy.load_state_dict(tensors["policy"])
        if not all(torch.isfinite(p).all() for p in trainer.policy.state_dict().values()):
            raise ValueError("the policy's weights are not all finite")
        trainer.opt.load_state_dict(tensors["optimizer"])
        trainer.generator.set_state(tensors["generator"])
        rng = np.random.default_rng()
        rng.bit_generator.state = meta["rng"]
    except ResumeError:
        raise
    except Exception as e:  # JSON, zip, unpickling refused by weights_only, shapes, keys
        raise ResumeError(
            f"the phase-2 checkpoint in {folder} cannot be read ({type(e).__name__}: {e}); start over with --overwrite"
        ) from None
    trainer.rng = rng
    trainer.images_rendered = int(meta["images_rendered"])
    trainer.history = [dict(r) for r in meta["history"] if isinstance(r, dict)]
    if any(not math.isfinite(float(r.get("reward_mean", 0.0))) for r in trainer.history):
        raise ResumeError(f"the phase-2 history in {folder} holds non-finite rewards; start over with --overwrite")
    return int(step)
