"""The env as plain data: what a checkpoint records about its env, and the check that a loaded
agent's env is the one it was trained for.

Shared by the DQN and GRPO agents (and any SB3 model saved through them). :func:`describe_env`
turns an env (a Gymnasium env or an SB3 ``VecEnv``) into JSON-ready data, leaving out
components equal to the defaults so a standard env's checkpoint holds plain data only;
:func:`compare_env` raises :class:`~poser_agents.common.checkpoint.CheckpointError` naming the
first difference that would make the weights act wrongly (another expert set, text encoder or
observation layout).
"""

from __future__ import annotations

import json
from typing import Any

from poser_agents.common.checkpoint import CheckpointError


def _first_env(env: Any) -> Any:
    """The first unwrapped env behind a gym env or an SB3 VecEnv (None if unreachable)."""
    from stable_baselines3.common.vec_env import VecEnv

    if isinstance(env, VecEnv):
        envs = getattr(env, "envs", None)  # DummyVecEnv
        if envs:
            return envs[0]
        return None
    return env


def _space_summary(space: Any) -> dict[str, Any]:
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {k: _space_summary(s) for k, s in space.spaces.items()}}
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n)}
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "shape": list(space.shape)}
    if isinstance(space, spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype)}
    return {"type": type(space).__name__, "repr": repr(space)}


def _json_safe(value: Any) -> Any:
    """``value`` if it survives a JSON round trip unchanged, else None."""
    try:
        return value if json.loads(json.dumps(value)) == value else None
    except (TypeError, ValueError):
        return None


def describe_env(env: Any) -> dict[str, Any]:
    """What a checkpoint records about its env: spaces, action names, text encoder, id and kwargs.

    Components equal to the defaults are left out of the kwargs, so a checkpoint of a standard
    env holds plain data only and loads without ``allow_entry_points``.
    """
    from poser_env.trust import plain_components

    inner = _first_env(env)
    base = getattr(inner, "unwrapped", inner)
    info: dict[str, Any] = {
        "observation_space": _space_summary(env.observation_space),
        "action_space": _space_summary(env.action_space),
        "action_names": list(getattr(base, "action_names", []) or []),
        "expert_names": list(getattr(base, "expert_names", []) or []),
        "text_encoder": None,
        "env_id": None,
        "env_kwargs": None,
    }
    encoder = getattr(getattr(base, "encoder", None), "text", None)
    if encoder is not None:
        info["text_encoder"] = {"name": str(getattr(encoder, "name", "")), "dim": int(getattr(encoder, "dim", 0))}
    spec = getattr(inner, "spec", None)
    kwargs = None
    if spec is not None and getattr(spec, "id", None):
        info["env_id"] = spec.id
        kwargs = _json_safe(plain_components(dict(spec.kwargs or {})))
    elif hasattr(base, "config") and hasattr(base.config, "to_dict"):
        # Built as ImagePoserEnv(...) directly: rebuild the same way if its config is plain data.
        info["env_entry_point"] = f"{type(base).__module__}:{type(base).__name__}"
        kwargs = _json_safe(plain_components(base.config.to_dict()))
    if hasattr(base, "config") and hasattr(base.config, "to_dict"):
        # Every setting of the env, for the record (the kwargs above rebuild it).
        info["env_config"] = _json_safe(plain_components(base.config.to_dict()))
    # env_kwargs is always a dict (readers may merge it); env_rebuildable says whether it is complete.
    info["env_kwargs"] = kwargs if kwargs is not None else {}
    info["env_rebuildable"] = kwargs is not None and (info["env_id"] is not None or "env_entry_point" in info)
    return info


def compare_env(saved: dict[str, Any], current: dict[str, Any], where: str) -> None:
    """Raise :class:`CheckpointError` naming the first difference that makes the checkpoint unusable."""
    s_act, c_act = saved["action_space"], current["action_space"]
    s_names, c_names = saved.get("action_names") or [], current.get("action_names") or []
    if s_act != c_act:
        raise CheckpointError(
            f"{where} was trained for {s_act.get('n', s_act)} actions ({', '.join(s_names) or 'names unknown'}), "
            f"but this env has {c_act.get('n', c_act)} ({', '.join(c_names) or 'names unknown'}): "
            "a different expert set (or STOP/DEFER setting). Build the env with the checkpoint's experts, or retrain."
        )
    if s_names and c_names and s_names != c_names:
        diff = [f"{i}: {a!r} vs {b!r}" for i, (a, b) in enumerate(zip(s_names, c_names)) if a != b]
        raise CheckpointError(
            f"{where} was trained with other actions at the same indices ({'; '.join(diff[:4])}; checkpoint vs env): "
            "its Q-values would call the wrong experts. Build the env with the checkpoint's expert registry, or retrain."
        )
    s_obs, c_obs = saved["observation_space"], current["observation_space"]
    if s_obs != c_obs:
        s_sp, c_sp = s_obs.get("spaces", {}), c_obs.get("spaces", {})
        if set(s_sp) != set(c_sp):
            raise CheckpointError(
                f"{where} expects observation keys {sorted(s_sp)}, this env gives {sorted(c_sp)}"
                + (f" (missing {sorted(set(s_sp) - set(c_sp))})" if set(s_sp) - set(c_sp) else "")
                + (f" (extra {sorted(set(c_sp) - set(s_sp))})" if set(c_sp) - set(s_sp) else "")
            )
        for key in s_sp:
            if s_sp[key] != c_sp[key]:
                hint = ""
                if key in ("instruction", "remaining", "prompt"):
                    st, ct = saved.get("text_encoder") or {}, current.get("text_encoder") or {}
                    hint = (
                        f": the text encoder differs (checkpoint: {st.get('name', '?')} with {st.get('dim', '?')} dims, "
                        f"env: {ct.get('name', '?')} with {ct.get('dim', '?')} dims); build the env with the "
                        "checkpoint's text_encoder, or retrain"
                    )
                raise CheckpointError(
                    f"{where} expects observation {key!r} as {s_sp[key]}, this env gives {c_sp[key]}{hint}"
                )
        raise CheckpointError(f"{where} expects observation space {s_obs}, this env gives {c_obs}")
    st, ct = saved.get("text_encoder"), current.get("text_encoder")
    if st and ct and st.get("name") != ct.get("name"):
        raise CheckpointError(
            f"{where} was trained with text encoder {st['name']!r}, this env uses {ct['name']!r} (same size, "
            "different embeddings): build the env with the checkpoint's text_encoder, or retrain"
        )
