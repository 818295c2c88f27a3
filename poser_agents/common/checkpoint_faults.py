"""The corrupted-checkpoint matrix: damage real DQN and GRPO checkpoints in every way we know, load each.

``python -m poser_agents.common.checkpoint_faults`` builds a small DQN and a small GRPO checkpoint,
derives a few hundred damaged copies (weights truncated or with flipped bytes, with and without
an updated checksum; each file deleted; every ``agent.json`` field deleted or replaced by null, a
string, a list, a table, NaN; pickled payloads in each place that reads pickles; env settings
that name code; weights files outside the folder; NaN weights) and loads each through the API
with the env given. Each case ends one of three ways: **refused** (``CheckpointError`` with a
one-line message), **loaded** (the damage did not matter, e.g. a deleted ``saved_at``), or
**crashed** (any other exception: a defect). It also checks that no payload ran (marker files).
Prints the counts and the crashes; exit status 1 if anything crashed or ran.

``--kill-saves N`` instead kills (``SIGKILL``) a process N times at random moments while it saves
a DQN checkpoint again and again into one folder, and loads what each kill left: the previous
checkpoint or the new one, never a broken one (:func:`kill_during_saves`). Figures:
docs/security.md ("Reliability figures").
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any


class _Marker:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.makedirs, (self.path,))


def _sha(path: Path) -> str:
    from poser_agents.common.checkpoint import file_sha256

    return file_sha256(path)


def edit_agent_json(folder: Path, /, **changes: Any) -> dict[str, Any]:
    """Set fields of ``folder/agent.json`` in place (the value ``KeyError`` deletes one); returns the new table."""
    meta = json.loads((folder / "agent.json").read_text())
    for key, value in changes.items():
        if value is KeyError:
            meta.pop(key, None)
        else:
            meta[key] = value
    (folder / "agent.json").write_text(json.dumps(meta))
    return meta


def _delete(name: str, folder: Path) -> None:
    (folder / name).unlink()


def _cases(
    kind: str, weights: str, sha_field: str, meta: dict[str, Any], marker: Path
) -> Iterator[tuple[str, Callable[[Path], Any]]]:
    """(name, damage) pairs; ``damage(folder)`` changes a fresh copy of the checkpoint."""
    import cloudpickle
    import torch

    edit = edit_agent_json

    def resum(folder: Path) -> None:
        edit(folder, **{sha_field: _sha(folder / weights)})

    for frac in (0.0, 0.1, 0.5, 0.9, 0.999):
        for fix in (False, True):

            def truncate(f: Path, frac: float = frac, fix: bool = fix) -> None:
                data = (f / weights).read_bytes()
                (f / weights).write_bytes(data[: int(len(data) * frac)])
                if fix:
                    resum(f)

            yield f"{weights} truncated to {frac:.1%}{' (checksum updated)' if fix else ''}", truncate
    for seed in range(8):

        def flip(f: Path, seed: int = seed) -> None:
            data = bytearray((f / weights).read_bytes())
            pos = (seed * 7919 + 13) * 104729 % len(data)
            data[pos] ^= 0xFF
            (f / weights).write_bytes(bytes(data))
            resum(f)

        yield f"{weights}: byte flipped (checksum updated) #{seed}", flip
    for name in ("agent.json", weights):
        yield f"{name} deleted", partial(_delete, name)
    yield "agent.json empty", lambda f: (f / "agent.json").write_text("")
    yield "agent.json truncated", lambda f: (f / "agent.json").write_text((f / "agent.json").read_text()[:40])
    for key in sorted(meta):
        yield f"agent.json: {key} deleted", partial(edit, **{key: KeyError})
        for label, value in (
            ("null", None),
            ("a string", "x"),
            ("a list", []),
            ("a table", {}),
            ("-1", -1),
            ("NaN", float("nan")),
        ):
            yield f"agent.json: {key} = {label}", partial(edit, **{key: value})
    for label, value in (("absolute path", "/etc/passwd"), ("../", f"../{weights}"), ("subfolder", f"sub/{weights}")):
        yield (
            f"{weights.split('.')[0]} file: {label}",
            partial(edit, **{"model_file" if kind == "dqn" else "weights_file": value}),
        )
    yield (
        "env_kwargs: critic os:makedirs",
        lambda f: edit(f, env_kwargs={"critic": {"entry_point": "os:makedirs", "kwargs": {"name": str(marker)}}}),
    )
    yield "env_kwargs: text_encoder os:abort", lambda f: edit(f, env_kwargs={"text_encoder": "os:abort"})
    yield "env_kwargs: experts from a file", lambda f: edit(f, env_kwargs={"experts": "/tmp/experts.json"})
    yield "env_id module:Id", lambda f: edit(f, env_id="os:ImagePoser-v0")
    blob = cloudpickle.dumps(_Marker(str(marker)))
    if kind == "dqn":

        def zip_with(
            f: Path, data_change: Callable[[dict], dict] | None = None, extra: dict[str, bytes] | None = None
        ) -> None:
            with zipfile.ZipFile(f / weights) as z:
                entries = {n: z.read(n) for n in z.namelist()}
            if data_change:
                entries["data"] = json.dumps(data_change(json.loads(entries["data"]))).encode()
            entries.update(extra or {})
            with zipfile.ZipFile(f / weights, "w") as z:
                for n, b in entries.items():
                    z.writestr(n, b)
            resum(f)

        payload = {":type:": "x", ":serialized:": base64.b64encode(blob).decode()}
        yield "model.zip data: pickled payload (new key)", lambda f: zip_with(f, lambda d: {**d, "evil": payload})
        yield (
            "model.zip data: pickled payload (policy_class)",
            lambda f: zip_with(f, lambda d: {**d, "policy_class": payload}),
        )
        buf = io.BytesIO()
        torch.save({"x": _Marker(str(marker))}, buf)
        yield "model.zip policy.pth: pickled payload", lambda f: zip_with(f, extra={"policy.pth": buf.getvalue()})
        yield "model.zip: extra entry", lambda f: zip_with(f, extra={"x.pkl": blob})
        yield "model.zip data: num_timesteps = -5", lambda f: zip_with(f, lambda d: {**d, "num_timesteps": -5})
        yield "model.zip data: not JSON", lambda f: zip_with(f, extra={"data": b"{nope"})

        def nan(f: Path) -> None:
            with zipfile.ZipFile(f / weights) as z:
                pol = torch.load(io.BytesIO(z.read("policy.pth")), weights_only=True)
            next(v for v in pol.values() if v.is_floating_point()).fill_(float("nan"))
            out = io.BytesIO()
            torch.save(pol, out)
            zip_with(f, extra={"policy.pth": out.getvalue()})

        yield "model.zip: NaN weights", nan
    else:

        def pt(f: Path, obj: Any) -> None:
            torch.save(obj, f / weights)
            resum(f)

        yield "policy.pt: pickled payload", lambda f: pt(f, {"policy": _Marker(str(marker))})
        yield "policy.pt: a list", lambda f: pt(f, [1, 2])

        def nan(f: Path) -> None:
            state = torch.load(f / weights, weights_only=True)
            next(iter(state["policy"].values())).fill_(float("inf"))
            pt(f, state)

        yield "policy.pt: infinite weights", nan


def run(root: Path) -> dict[str, Any]:
    import gymnasium as gym
    import torch

    import poser_env  # noqa: F401
    from poser_agents.common.checkpoint import CheckpointError
    from poser_agents.dqn import DQNAgent, DQNConfig
    from poser_agents.grpo.agent import GRPOAgent
    from poser_agents.grpo.context import ContextFeaturizer
    from poser_agents.grpo.policy import PolicyConfig, WorkflowPolicy
    from poser_agents.grpo.workflow_tokens import WorkflowVocab

    env = gym.make("ImagePoser-v0", split="val")
    dqn = DQNAgent(env, DQNConfig(learning_starts=10, buffer_size=100, batch_size=8, net_arch=[16], embed_dim=8))
    dqn.learn(30)
    base: Any = env.unwrapped
    vocab, feat = WorkflowVocab(base.expert_names, base.config.max_attempts), ContextFeaturizer("hash")
    cfg = PolicyConfig(
        hidden=8,
        n_experts=vocab.n_experts,
        attempts=vocab.attempts,
        text_dim=feat.text_dim,
        command_dim=feat.command_dim,
    )
    grpo = GRPOAgent(WorkflowPolicy(cfg), vocab, feat, reference=WorkflowPolicy(cfg))
    made = {
        "dqn": (dqn.save(root / "dqn"), "model.zip", "model_sha256", lambda f: DQNAgent.load(f, env=env)),
        "grpo": (grpo.save(root / "grpo"), "policy.pt", "weights_sha256", lambda f: GRPOAgent.load(f, env=env)),
    }
    counts = {"refused": 0, "loaded": 0, "crashed": 0, "ran_code": 0}
    crashes, multi_line, loaded = [], [], []
    marker = root / "marker"
    torch.set_num_threads(1)
    for kind, (folder, weights, sha_field, load) in made.items():
        meta = json.loads((folder / "agent.json").read_text())
        for i, (name, damage) in enumerate(_cases(kind, weights, sha_field, meta, marker)):
            case = root / f"{kind}-{i}"
            shutil.copytree(folder, case)
            damage(case)
            try:
                load(case)
                counts["loaded"] += 1
                loaded.append(f"{kind}: {name}")
            except CheckpointError as e:
                counts["refused"] += 1
                if "\n" in str(e):
                    multi_line.append(f"{kind}: {name}")
            except Exception as e:  # noqa: BLE001  (what this script exists to find)
                counts["crashed"] += 1
                crashes.append(f"{kind}: {name}: {type(e).__name__}: {str(e)[:160]}")
            if marker.exists():
                counts["ran_code"] += 1
                shutil.rmtree(marker)
            shutil.rmtree(case)
    return {
        **counts,
        "cases": sum(counts[k] for k in ("refused", "loaded", "crashed")),
        "crashes": crashes,
        "multi_line": multi_line,
        "loaded_cases": loaded,
    }


def kill_during_saves(root: Path, kills: int = 200, seed: int = 0) -> dict[str, Any]:
    """``kill -9`` a process at random moments while it saves a DQN checkpoint over and over into
    one folder (each save with a new step count), then load the folder: it must hold the last
    completed save (the previous checkpoint intact) or the one being written (complete)."""
    import signal
    import time

    import gymnasium as gym
    import numpy as np
    import torch

    import poser_env  # noqa: F401
    from poser_agents.dqn import DQNAgent, DQNConfig

    torch.set_num_threads(1)
    env = gym.make("ImagePoser-v0", split="val")
    agent = DQNAgent(env, DQNConfig(learning_starts=10, buffer_size=100, batch_size=8))  # default network size
    agent.learn(30)
    folder = root / "saved"
    t0 = time.perf_counter()
    agent.save(folder)
    save_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    counts = {"kills": 0, "mid_save": 0, "previous_intact": 0, "new_complete": 0, "broken": 0}
    broken: list[str] = []
    step = held = agent.num_timesteps
    for _ in range(kills):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: "S<step>" before each save, "D<step>" after it
            try:
                n = step
                while True:
                    n += 1
                    agent.model.num_timesteps = n
                    os.write(w, f"S{n};".encode())
                    agent.save(folder)
                    os.write(w, f"D{n};".encode())
            finally:
                os._exit(1)
        os.close(w)
        time.sleep(float(rng.uniform(0.005, 4 * save_s)))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        with os.fdopen(r, "rb") as f:
            events = [e for e in f.read().decode().split(";") if e]
        counts["kills"] += 1
        started = [int(e[1:]) for e in events if e[0] == "S"]
        done = max([int(e[1:]) for e in events if e[0] == "D"], default=held)  # the last save that returned
        in_progress = started[-1] if events and events[-1][0] == "S" else None
        counts["mid_save"] += in_progress is not None
        try:
            found: int | None = DQNAgent.load(folder, env=env).num_timesteps
        except Exception as e:  # noqa: BLE001  (what this exists to find)
            found, why = None, f"{type(e).__name__}: {str(e)[:160]}"
        if found == done:
            counts["previous_intact"] += 1
        elif found is not None and found == in_progress:
            counts["new_complete"] += 1
        else:
            counts["broken"] += 1
            broken.append(
                (why if found is None else f"holds step {found}, expected {done} or {in_progress}")
                + f" (last events {events[-3:]}, files {sorted(p.name for p in folder.iterdir())})"
            )
        held = found if found is not None else done
        step = max([step, *started])  # every save has a step count of its own
    return {
        **counts,
        "save_seconds": round(save_s, 3),
        "model_zip_bytes": (folder / "model.zip").stat().st_size,
        "broken_cases": broken,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--list-loaded", action="store_true", help="also list the damaged checkpoints that loaded")
    parser.add_argument(
        "--kill-saves",
        type=int,
        metavar="N",
        default=0,
        help="instead: kill -9 a process N times at random moments of DQNAgent.save and load what is left",
    )
    args = parser.parse_args(argv)
    if args.kill_saves:
        with tempfile.TemporaryDirectory() as tmp:
            k = kill_during_saves(Path(tmp), args.kill_saves)
        print(
            f"{k['kills']} kill -9 during repeated saves ({k['mid_save']} of them while a save was under way; one save "
            f"{k['save_seconds']} s, model.zip {k['model_zip_bytes']:,} bytes): previous checkpoint intact {k['previous_intact']}, "
            f"new one complete {k['new_complete']}, broken {k['broken']}"
        )
        for line in k["broken_cases"]:
            print("  " + line)
        if args.json:
            print(json.dumps(k, sort_keys=True))
        return 1 if k["broken"] else 0
    with tempfile.TemporaryDirectory() as tmp:
        result = run(Path(tmp))
    print(
        f"{result['cases']} damaged checkpoints: {result['refused']} refused in one line, {result['loaded']} loaded, "
        f"{result['crashed']} crashed (traceback), {result['ran_code']} ran code from the file"
    )
    extra = [f"loaded: {m}" for m in result["loaded_cases"]] if args.list_loaded else []
    for line in result["crashes"] + [f"multi-line message: {m}" for m in result["multi_line"]] + extra:
        print("  " + line)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 1 if result["crashed"] or result["ran_code"] or result["multi_line"] else 0


if __name__ == "__main__":
    sys.exit(main())
