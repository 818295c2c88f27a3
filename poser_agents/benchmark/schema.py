"""The results schema of ``poser benchmark run``, validated in one place, written atomically.

One run (one algorithm, one level, one training seed) is one folder::

    <out>/<env id>/<algo>/seed<S>/
        result.json   the run (this schema), rewritten after each evaluation
        curve.csv     the learning curve on val, one row per evaluation
        .lock         held (flock) while the run writes; released when the process ends
        checkpoint/   the training state of the last val point, to resume a killed run
                      (:mod:`poser_agents.benchmark.resume`; not read by ``aggregate``)

``result.json`` (``schema`` = :data:`SCHEMA`, ``version`` = :data:`VERSION`):

- ``status``: ``"partial"`` until the last line of the run, then ``"complete"``; a killed run
  stays partial, and ``poser benchmark aggregate`` reports it as such instead of averaging it.
- ``algo``, ``env_id``, ``seed``, ``steps`` (asked), ``steps_done``, ``protocol`` (eval_every,
  val/test episodes, evaluation seeds, cost weight), ``versions`` (libraries), ``started``,
  ``finished`` (UTC ISO times; ``finished`` null while partial).
- ``machine`` (optional; written since 2026-12-01): ``cpu`` (the CPU model) and
  ``torch_cpu_capability`` (the instruction set torch's CPU kernels use, e.g. ``AVX512``):
  training depends on them below the Python packages (one machine reproduces a run bit for bit,
  another need not; docs/benchmark.md, "Which code produced them").
- ``curve``: list of ``{"step", "split": "val", <score card>}``.
- ``test``: the score card on test (null while partial); ``gen`` and ``gen_forms``: on a level
  with generalisation splits (``ImagePoser-Hard-v0`` and ``-Drift-v1``: held-out combinations,
  held-out prompt forms; ``ImagePoser-v0`` and ``-Drift-v0``: ``gen_forms``), the score card on each (absent otherwise; files written before ``gen_forms`` existed
  lack that key, and ``aggregate --split gen_forms`` lists them as unscored); a score card is
  :func:`poser_agents.benchmark.score.score_card`'s dict: ``norm_accuracy``,
  ``norm_alignment``, their ``*_cost_aware`` variants, raw ``accuracy``/``alignment``, ``cost``,
  ``cost_random``, ``cost_oracle``, ``n_tasks``, ``episodes``, ``n_degenerate_*``.
- ``resumed`` (optional): ``[{"step", "at", "machine"}]``, one entry per resume from a checkpoint
  (``machine`` since 2026-12-01: the machine that resumed it; the top-level ``machine`` stays the
  first segment's).
- ``interrupted`` (optional): ``[{"step", "signal", "at"}]``, one entry per SIGINT/SIGTERM that
  stopped training; the run saved a checkpoint at that step (off the curve's grid) to resume from.
- ``learner`` (optional): plain data a learner reports about itself (``--algo grpo``: its env
  steps per phase); absent for the SB3 learners.
- ``settings`` (optional): what a named SB3 / sb3-contrib learner or the masked DQN was built
  with beyond its library's defaults (:func:`poser_agents.benchmark.algos.learner_settings`);
  absent for GRPO, a user's learner, and files written before 2026-12-01 (read as built like
  today's learner, but ``recurrent_ppo``'s: :data:`poser_agents.benchmark.algos.CHANGED_SETTINGS`).

A file of another schema, of a newer version, or with a field missing or out of range is
refused with one :class:`ResultSchemaError` naming the file and the field.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from poser_agents.common.checkpoint import atomic_write_text

SCHEMA = "poser-benchmark-run"
VERSION = 1
RESULT_FILE = "result.json"
CURVE_FILE = "curve.csv"
#: The score card's numbers that ``curve.csv`` carries and that must be finite.
_CARD_NUMBERS: tuple[str, ...] = (
    "norm_accuracy",
    "norm_alignment",
    "norm_accuracy_cost_aware",
    "norm_alignment_cost_aware",
    "accuracy",
    "alignment",
    "cost",
)
#: Columns of ``curve.csv`` (a subset of the score card, plus the step).
CURVE_COLUMNS: tuple[str, ...] = ("step", *_CARD_NUMBERS)
STATUSES = ("partial", "complete")
#: The splits a run's final evaluation may hold, each under its own key (test, then the
#: generalisation splits of poser_env.config.GEN_SPLITS, on the levels that have them).
FINAL_SPLITS: tuple[str, ...] = ("test", "gen", "gen_forms")


class ResultSchemaError(ValueError):
    """A results file that is not a valid ``poser-benchmark-run`` file."""


def curve_csv(curve: list[Mapping[str, Any]]) -> str:
    rows = [",".join(CURVE_COLUMNS)]
    for point in curve:
        rows.append(
            ",".join(
                "" if point.get(c) is None else repr(float(point[c])) if c != "step" else str(int(point[c]))
                for c in CURVE_COLUMNS
            )
        )
    return "\n".join(rows) + "\n"


def write_run(folder: Path, result: Mapping[str, Any]) -> None:
    """``curve.csv`` first, then ``result.json`` (its status is what readers trust)."""
    validate(result, str(folder / RESULT_FILE))
    atomic_write_text(folder / CURVE_FILE, curve_csv(list(result["curve"])))
    atomic_write_text(folder / RESULT_FILE, json.dumps(result, indent=1, sort_keys=True) + "\n")


def _card(card: Any, where: str) -> None:
    if not isinstance(card, Mapping):
        raise ResultSchemaError(f"{where}: must be an object (a score card)")
    for key in _CARD_NUMBERS:
        v = card.get(key, "missing")
        if v == "missing":
            raise ResultSchemaError(f"{where}.{key}: missing")
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise ResultSchemaError(f"{where}.{key}: must be a finite number or null, got {v!r}")


def library_versions() -> dict[str, str]:
    """``versions``: python and the libraries a run's results depend on (absent ones left out)."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for dist in ("imageposer", "gymnasium", "stable-baselines3", "sb3-contrib", "torch", "numpy"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def machine() -> dict[str, str]:
    """``machine``: the CPU model (``/proc/cpuinfo``'s model name where there is one) and the
    instruction set torch's CPU kernels use (``torch.backends.cpu.get_cpu_capability()``)."""
    import torch

    cpu = platform.machine()  # where /proc/cpuinfo names no model (platform.processor() may run uname)
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "torch_cpu_capability": str(torch.backends.cpu.get_cpu_capability())}


def validate(data: Any, where: str) -> dict[str, Any]:
    """``data`` as a run result, or :class:`ResultSchemaError` naming ``where`` and the field."""
    if not isinstance(data, Mapping):
        raise ResultSchemaError(f"{where}: not a JSON object")
    if data.get("schema") != SCHEMA:
        raise ResultSchemaError(
            f"{where}: not a poser benchmark result (schema {data.get('schema')!r}, expected {SCHEMA!r}); "
            "point aggregate at folders written by `poser benchmark run`"
        )
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise ResultSchemaError(
            f"{where}: schema version {version!r} is not supported (this poser reads 1..{VERSION}; upgrade poser)"
        )
    for key, kind in (
        ("status", str),
        ("algo", str),
        ("env_id", str),
        ("seed", int),
        ("steps", int),
        ("steps_done", int),
        ("protocol", Mapping),
        ("curve", list),
    ):
        v = data.get(key)
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            raise ResultSchemaError(f"{where}: field {key!r} must be {kind.__name__}, got {v!r}")
    if data["status"] not in STATUSES:
        raise ResultSchemaError(f"{where}: field 'status' must be one of {', '.join(STATUSES)}, got {data['status']!r}")
    if data["steps"] < 0 or data["steps_done"] < 0:
        raise ResultSchemaError(f"{where}: steps and steps_done must be non-negative")
    for i, point in enumerate(data["curve"]):
        _card(point, f"{where}: curve[{i}]")
        if not isinstance(point.get("step"), int) or point["step"] < 0:
            raise ResultSchemaError(f"{where}: curve[{i}].step must be a non-negative int")
    if "machine" in data and not (
        isinstance(data["machine"], Mapping) and all(isinstance(v, str) for v in data["machine"].values())
    ):
        raise ResultSchemaError(f"{where}: field 'machine' must be an object of strings, got {data['machine']!r}")
    if "settings" in data and not isinstance(data["settings"], Mapping):
        raise ResultSchemaError(f"{where}: field 'settings' must be an object, got {data['settings']!r}")
    stops = data.get("interrupted", [])
    if not isinstance(stops, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("step"), int) and not isinstance(e["step"], bool) and e["step"] >= 0
        for e in stops
    ):
        raise ResultSchemaError(f"{where}: field 'interrupted' must be a list of {{\"step\": a non-negative int, ...}}")
    if data["status"] == "complete":
        _card(data.get("test"), f"{where}: test")
    for split in FINAL_SPLITS[1:]:
        if data.get(split) is not None:
            _card(data[split], f"{where}: {split}")
    return dict(data)


def read_run(path: Path) -> dict[str, Any]:
    """Read and validate one ``result.json`` (plain JSON: nothing in it is executed)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ResultSchemaError(f"{path}: not valid JSON ({e})") from None
    except UnicodeDecodeError:
        raise ResultSchemaError(f"{path}: not UTF-8 text") from None
    return validate(data, str(path))
