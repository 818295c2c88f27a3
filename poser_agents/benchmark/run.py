"""``poser benchmark run``: train one algorithm on one level per seed, with a learning curve.

Protocol (docs/benchmark.md): train on the level's train split for ``steps`` env steps; every
``eval_every`` steps (and at step 0) evaluate greedily on ``val_episodes`` val tasks, the last
point after the learner's last update; at the end evaluate on ``test_episodes`` test tasks. Every evaluation runs the evaluation harness
(:func:`poser_agents.evaluation.harness.evaluate`) with the protocol's evaluation seeds, so the
agent meets the same tasks and reset seeds as the random and oracle references, which are
measured once per (level, split, episodes, seeds) and cached under ``<out>/references/``.
Scores are :func:`poser_agents.benchmark.score.score_card`'s.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from poser_agents.benchmark.algos import Predictor, build_model, check_algo, episode_starts, learner_settings
from poser_agents.benchmark.curve import RunInterrupted, curve_callback
from poser_agents.benchmark.resume import (
    CHECKPOINT_DIR,
    check_identity,
    clear_checkpoint,
    drop_buffer,
    identity_differences,
    load_state,
    read_state,
    resumable,
    run_differences,
    save_state,
    sb3_model,
)
from poser_agents.benchmark.schema import (
    RESULT_FILE,
    SCHEMA,
    VERSION,
    ResultSchemaError,
    library_versions,
    machine,
    read_run,
    write_run,
)
from poser_agents.benchmark.score import DEFAULT_COST_WEIGHT, score_card
from poser_agents.common.checkpoint import CheckpointError, atomic_write_text
from poser_agents.common.checkpointing import stop_on_signals

REFERENCE_SCHEMA = "poser-benchmark-references"


@dataclass
class Protocol:
    """How a run is evaluated (the defaults are the published protocol)."""

    eval_every: int = 10_000
    """Env steps between two val evaluations (the learning curve)."""
    val_episodes: int = 50
    """Val tasks per curve point (spread evenly over the split)."""
    test_episodes: int = 200
    """Test tasks of the final evaluation."""
    eval_seeds: tuple[int, ...] = (0,)
    """Evaluation seeds (episode i of seed s resets with s * 100000 + i, for agent and references alike)."""
    cost_weight: float = DEFAULT_COST_WEIGHT
    """Weight of a cost unit in the cost-aware score."""
    text_encoder: str = "hash"
    """The env's text encoder."""

    def __post_init__(self) -> None:
        for name in ("eval_every", "val_episodes", "test_episodes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.eval_seeds = tuple(int(s) for s in self.eval_seeds)
        if not self.eval_seeds:
            raise ValueError("eval_seeds must name at least one seed")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a reference may hold")


def references(
    out: Path, env_id: str, split: str, episodes: int, proto: Protocol, log: Callable[[str], None]
) -> dict[str, list]:
    """Random and oracle episode records on (level, split, episodes, seeds): measured once, cached."""
    import gymnasium as gym

    from poser_agents.evaluation.harness import evaluate

    seeds = list(proto.eval_seeds)
    # The level's registered kwargs are part of the key: a level whose setting changed (a new
    # drift rate, budget or suite) must not reuse the references measured on the old one.
    level = {k: v for k, v in sorted(gym.spec(env_id).kwargs.items())}
    key = {
        "env_id": env_id,
        "level": level,
        "split": split,
        "episodes": episodes,
        "seeds": seeds,
        "text_encoder": proto.text_encoder,
    }
    path = out / "references" / env_id / f"{split}-e{episodes}-s{'_'.join(map(str, seeds))}-{proto.text_encoder}.json"
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
        except (json.JSONDecodeError, ValueError) as e:
            raise ResultSchemaError(
                f"{path}: not valid JSON ({e}); delete it to measure the references again"
            ) from None
        if not isinstance(data, dict) or data.get("schema") != REFERENCE_SCHEMA or data.get("key") != key:
            raise ResultSchemaError(f"{path}: not the references of {key}; delete it to measure them again")
        refs = data.get("records")
        if not isinstance(refs, dict) or not all(isinstance(refs.get(n), list) for n in ("random", "oracle")):
            raise ResultSchemaError(f"{path}: field 'records' must hold lists 'random' and 'oracle'")
        return refs
    make_folder(path.parent, "its references folder")  # refused before minutes of measuring, not after
    # Said before, not only after: on ImagePoser-Hard-v0 the oracle takes about 4 s a task, so
    # the protocol's 200 test tasks are minutes of silence otherwise.
    log(
        f"  measuring the random and oracle references on {env_id} {split} ({episodes} tasks x {len(seeds)} "
        f"evaluation seed(s)), to be cached in {path}: the oracle searches every action, which can take minutes"
    )
    refs = {}
    for name in ("random", "oracle"):
        t0 = time.perf_counter()
        refs[name] = evaluate(
            name,
            env_id,
            split=split,
            episodes=episodes,
            seeds=seeds,
            env_kwargs={"text_encoder": proto.text_encoder},
            n_resamples=1,
        ).records
        log(f"  reference {name} on {env_id} {split}: {len(refs[name])} episodes in {time.perf_counter() - t0:.1f} s")
    atomic_write_text(path, json.dumps({"schema": REFERENCE_SCHEMA, "key": key, "records": refs}) + "\n")
    return refs


class _Evaluator:
    """Greedy evaluation of a model on one split against that split's references."""

    def __init__(self, env_id: str, split: str, episodes: int, proto: Protocol, refs: dict[str, list], kind: str):
        import gymnasium as gym

        self.env = gym.make(env_id, split=split, text_encoder=proto.text_encoder)
        self.split, self.episodes, self.proto, self.refs, self.kind = split, episodes, proto, refs, kind

    def __call__(self, model: Any) -> dict[str, Any]:
        from poser_agents.evaluation.harness import evaluate

        predictor = Predictor(model, self.kind)
        result = evaluate(
            predictor,
            episode_starts(self.env, predictor),
            episodes=self.episodes,
            seeds=self.proto.eval_seeds,
            n_resamples=1,
            name="agent",
        )
        return score_card(result.records, self.refs["random"], self.refs["oracle"], self.proto.cost_weight)

    def close(self) -> None:
        self.env.close()


def final_splits(env: Any) -> tuple[str, ...]:
    """The splits of the final evaluation: test, then each generalisation split the level's
    suite mix has (``gen``: held-out combinations, ``gen_forms``: held-out prompt forms;
    poser_env.config.GEN_SPLIT_SOURCES), in GEN_SPLITS order."""
    from poser_env.config import GEN_SPLITS, gen_splits

    have = gen_splits(str(env.unwrapped.config.suite))
    return ("test", *(s for s in GEN_SPLITS if s in have))


def all_references(out: str | Path, env_id: str, proto: Protocol, log: Callable[[str], None] = print) -> None:
    """Measure (or find cached) every reference a run of ``env_id`` needs: val, test and the
    generalisation splits.
    Runs of several seeds in parallel (``--ray``) call it first, so none of them measures them."""
    import gymnasium as gym

    import poser_env  # noqa: F401  (registers the ids)

    env = gym.make(env_id, split="val", text_encoder=proto.text_encoder)
    try:
        splits = final_splits(env)
    finally:
        env.close()
    references(Path(out), env_id, "val", proto.val_episodes, proto, log)
    for split in splits:
        references(Path(out), env_id, split, proto.test_episodes, proto, log)


def _is_level(env_id: str) -> bool:
    """Whether ``env_id`` is registered by ``poser_env`` (a level with train/val/test splits)."""
    import gymnasium as gym

    entry = gym.spec(env_id).entry_point
    module = entry.partition(":")[0] if isinstance(entry, str) else getattr(entry, "__module__", "")
    return module == "poser_env" or module.startswith("poser_env.")


def check_run(algo: str, env_id: str, steps: int, allow_entry_points: bool = False, resolve: bool = True) -> None:
    """Refuse, with one line, a run that cannot start: an unknown algorithm, a level that is not
    registered or not ImagePoser's, a budget that is not a positive int, an entry point that does
    not import (``resolve``). Called before any folder is made or reference measured, so that a
    typo leaves no partial ``result.json`` behind for ``aggregate`` to list."""
    import gymnasium as gym

    import poser_env  # noqa: F401  (registers the ids)

    check_algo(algo, allow_entry_points, resolve=resolve)
    levels = ", ".join(sorted(k for k in gym.registry if k.startswith("ImagePoser")))
    if env_id not in gym.registry:
        raise ValueError(f"unknown level {env_id!r}; registered: {levels}")
    if not _is_level(env_id):
        raise ValueError(f"{env_id!r} is not an ImagePoser level (the protocol needs its splits); levels: {levels}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if algo == "grpo":  # a level or budget it cannot handle
        from poser_agents.benchmark.grpo_learner import check_level

        check_level(env_id, steps)


def results_folder(out: str | Path) -> Path:
    """``--out`` as a path, or ValueError when it is empty (an unset shell variable): ``Path("")``
    is the current folder, where the run's files would land unasked."""
    if isinstance(out, str) and not out.strip():
        raise ValueError("--out is empty: name the results folder (. for the current one)")
    return Path(out)


def make_folder(folder: Path, what: str = "") -> Path:
    """Make ``folder`` (and its parents) or raise ValueError naming it (and ``what`` it is of the
    results folder): ``--out`` names a file, or a folder that cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        of = f", {what}" if what else ""
        raise ValueError(
            f"cannot make {folder}{of} ({e.strerror or e}): --out must be a folder you can write to"
        ) from None
    return folder


def run_one(
    algo: str,
    env_id: str,
    steps: int,
    seed: int,
    out: str | Path,
    proto: Protocol | None = None,
    allow_entry_points: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train and evaluate one run; returns the complete result (see :mod:`.schema`)."""
    proto = proto or Protocol()
    check_run(algo, env_id, steps, allow_entry_points)
    out = results_folder(out)
    folder = make_folder(out / env_id / algo.replace(":", "__") / f"seed{seed}")
    lock = open(folder / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ValueError(
            f"{folder} is in use by another `poser benchmark run`; wait for it or choose another --out"
        ) from None
    try:
        if (folder / RESULT_FILE).exists():
            try:
                previous = read_run(folder / RESULT_FILE)
            except ResultSchemaError as e:  # named: a hand-edited field is not "a file of another kind"
                why = str(e).removeprefix(f"{folder / RESULT_FILE}: ").split("; point aggregate")[0]
                raise ValueError(
                    f"{folder / RESULT_FILE} already holds a file this run cannot read ({why}); fix or move it, "
                    "or choose another --out (nothing was overwritten)"
                ) from None
            if previous["status"] == "complete":
                return _complete(folder, previous, _identity(algo, env_id, seed, steps, proto), log)
        else:
            previous = None
        resume = _resume_point(folder, previous, _identity(algo, env_id, seed, steps, proto), log)
        return _train(algo, env_id, steps, seed, out, folder, proto, allow_entry_points, log, resume)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def _identity(algo: str, env_id: str, seed: int, steps: int, proto: Protocol) -> dict[str, Any]:
    return {
        "algo": algo,
        "env_id": env_id,
        "seed": int(seed),
        "steps": int(steps),
        "protocol": asdict(proto) | {"eval_seeds": list(proto.eval_seeds)},
    }


def _complete(
    folder: Path, previous: dict[str, Any], identity: dict[str, Any], log: Callable[[str], None]
) -> dict[str, Any]:
    """A seed whose run is already complete: kept and returned, so that rerunning a command of
    several seeds after a kill resumes the unfinished seeds instead of failing on the finished ones."""
    diff = run_differences(previous, identity)
    if diff:
        raise ValueError(
            f"{folder / RESULT_FILE} already holds the complete result of another run ({diff}); "
            "choose another --out (nothing was overwritten)"
        )
    log(f"  {folder}: already complete (kept, not run again)")
    if resumable(identity["algo"]):
        try:
            drop_buffer(folder)  # in case the kill came between the last result and this cleanup
        except (OSError, ValueError):
            pass  # a damaged checkpoint of a complete run is no reason to fail; its result stands
    return previous


def _delete_to_restart(folder: Path) -> str:
    return f"; delete {folder / CHECKPOINT_DIR} to start this run again from step 0 (nothing was changed)"


def _resume_point(
    folder: Path, previous: dict[str, Any] | None, identity: dict[str, Any], log: Callable[[str], None]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The partial result and checkpoint state to resume from, or None to start at step 0."""
    if previous is None:
        return None
    diff = run_differences(previous, identity)
    if diff and not identity_differences(previous, identity):  # the same arguments: only the learner differs
        raise ValueError(
            f"{folder / RESULT_FILE} holds the partial result of a learner built with other settings than this "
            f"code builds ({diff}), which no argument resumes; choose another --out (nothing was changed)"
        )
    if diff:
        raise ValueError(
            f"{folder / RESULT_FILE} holds the partial result of another run ({diff}); rerun with the same "
            "arguments to resume it, or choose another --out (nothing was changed)"
        )
    if not resumable(identity["algo"]):
        log(
            f"  {folder}: a partial run is there (stopped at {previous['steps_done']} steps); {identity['algo']} "
            "does not save a training state, so it starts again from step 0"
        )
        return None
    try:
        state = read_state(folder)
        if state is not None:
            # A checkpoint is at a curve point, or at the step a signal stopped the run.
            steps = {int(p["step"]) for p in previous["curve"]} | {
                int(e["step"]) for e in previous.get("interrupted", [])
            }
            check_identity(state, identity, folder / CHECKPOINT_DIR, steps)
    except CheckpointError as e:
        raise CheckpointError(f"{e}{_delete_to_restart(folder)}") from None
    if state is None:
        log(
            f"  {folder}: a partial run is there (stopped at {previous['steps_done']} steps) with no checkpoint "
            "(none is saved before the first val point after step 0); starting it again from step 0"
        )
        return None
    log(f"  {folder}: resuming the partial run from its checkpoint at step {state['step']}")
    return previous, state


def _train(
    algo: str,
    env_id: str,
    steps: int,
    seed: int,
    out: Path,
    folder: Path,
    proto: Protocol,
    allow_entry_points: bool,
    log: Callable[[str], None],
    resume: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    import gymnasium as gym

    identity = _identity(algo, env_id, seed, steps, proto)
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "version": VERSION,
        "status": "partial",
        "algo": algo,
        "env_id": env_id,
        "seed": int(seed),
        "steps": int(steps),
        "steps_done": 0,
        "protocol": asdict(proto) | {"eval_seeds": list(proto.eval_seeds)},
        "versions": library_versions(),
        "machine": machine(),
        **({"settings": st} if (st := learner_settings(algo, steps)) is not None else {}),
        "started": _now(),
        "finished": None,
        "curve": [],
        "test": None,
    }
    start, before = 0, 0.0  # the step and the seconds a resumed run had already done
    if resume is not None:
        previous, state = resume
        start, before = int(state["step"]), float(state.get("seconds", 0.0))
        result.update(started=previous.get("started", result["started"]), resumed=list(previous.get("resumed", [])))
        if previous.get("interrupted"):
            result["interrupted"] = list(previous["interrupted"])
        result["curve"] = [p for p in previous["curve"] if p["step"] <= start]
        here = result.pop("machine")  # the top-level machine is the first segment's (absent if unknown)
        if "machine" in previous:
            result["machine"] = previous["machine"]
        result["resumed"].append({"step": start, "at": _now(), "machine": here})
        result["steps_done"] = start
    elif clear_checkpoint(folder):  # left by an earlier run whose result.json is gone: not this run's
        log(f"  {folder}: removed the checkpoint an earlier run left there (this run starts at step 0)")
    val_refs = references(out, env_id, "val", proto.val_episodes, proto, log)
    train_env = gym.make(env_id, split="train", text_encoder=proto.text_encoder)
    try:
        model, kind = build_model(algo, train_env, seed, steps, allow_entry_points)
        if resume is not None:
            try:
                load_state(resume[1], model, total_timesteps=steps)
            except CheckpointError as e:
                raise CheckpointError(f"{e}{_delete_to_restart(folder)}") from None
            # Reseeded from (seed, step): the env does not replay step 0's tasks (module docstring).
            sb3_model(model).set_random_seed(int(np.random.SeedSequence([int(seed), start]).generate_state(1)[0]))
            write_run(folder, result)  # only now: a checkpoint that does not load changes nothing
        else:  # only now: a learner that cannot be built (a factory's error) leaves no partial run behind
            write_run(folder, result)
    except BaseException:
        train_env.close()
        raise
    val = _Evaluator(env_id, "val", proto.val_episodes, proto, val_refs, kind)
    t0 = time.perf_counter() - before

    def on_eval(step: int) -> None:
        card = val(model)
        result["curve"].append({"step": step, "split": "val", **card})
        result["steps_done"] = step
        write_run(folder, result)
        if step > 0 and resumable(algo):
            try:
                save_state(folder, model, identity, step, time.perf_counter() - t0)
            except OSError as e:  # a full disk must not end hours of training (docs/benchmark.md)
                log(
                    f"  {folder}: could not save the checkpoint at step {step} ({e}); training goes on, "
                    "and the previous checkpoint (if any) stays the one a rerun resumes from"
                )
        log(
            f"  {algo} {env_id} seed {seed}: step {step}  val norm. accuracy {card['norm_accuracy']}  "
            f"alignment {card['norm_alignment']}  ({time.perf_counter() - t0:.0f} s)"
        )

    saved: list[bool] = []

    def on_stop(step: int) -> None:
        """A signal during training: record the step, then checkpoint it (in this order: a
        checkpoint is resumed only at a step its result names)."""
        result["steps_done"] = step
        result.setdefault("interrupted", []).append({"step": step, "signal": stop.name if stop else "", "at": _now()})
        write_run(folder, result)
        try:
            save_state(folder, model, identity, step, time.perf_counter() - t0)
            saved.append(True)
        except OSError as e:
            log(f"  {folder}: could not save the checkpoint at step {step} ({e})")
            saved.append(False)

    # Only learners that save a training state catch signals (to save it); the others stop as before.
    try:
        with stop_on_signals() if resumable(algo) else nullcontext(None) as stop:
            if resume is None:
                on_eval(0)
                callback = curve_callback(proto.eval_every, steps, on_eval, stop=stop, on_stop=on_stop)
                model.learn(total_timesteps=steps, callback=callback)
            elif start < steps:
                callback = curve_callback(proto.eval_every, steps, on_eval, start, stop=stop, on_stop=on_stop)
                model.learn(total_timesteps=steps - start, callback=callback, reset_num_timesteps=False)
        if saved:
            raise RunInterrupted(int(stop.signum or 0) if stop else 0, folder, int(result["steps_done"]), saved[0])
        done = int(getattr(model, "num_timesteps", steps))
        if not result["curve"] or result["curve"][-1]["step"] != done:
            on_eval(done)  # the last point, after the learner's last update
        # test, and on a level with them the generalisation splits (each reported apart).
        for split in final_splits(train_env):
            refs = references(out, env_id, split, proto.test_episodes, proto, log)
            final = _Evaluator(env_id, split, proto.test_episodes, proto, refs, kind)
            try:
                result[split] = final(model)
            finally:
                final.close()
    finally:
        val.close()
        train_env.close()
    if getattr(model, "benchmark_details", None):  # optional: the learner's own accounting (GRPO's per phase)
        result["learner"] = dict(model.benchmark_details)
    result.update(status="complete", steps_done=done, finished=_now(), seconds=round(time.perf_counter() - t0, 1))
    write_run(folder, result)
    if resumable(algo):
        drop_buffer(folder)
    return result
