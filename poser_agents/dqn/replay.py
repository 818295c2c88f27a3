"""A compact replay buffer for ImagePoser's Dict observation: text embeddings stored once.

SB3's ``DictReplayBuffer`` keeps every key of every observation twice (``obs`` and
``next_obs``; it cannot use ``optimize_memory_usage``). In ImagePoser most of an observation
is text embeddings (``instruction``, ``remaining``, ``prompt``: 3 x 128 floats with the hash
encoder, 3 x 384 with MiniLM) and the same few thousand texts recur all through training.
:class:`CompactDictReplayBuffer` stores each distinct embedding vector once in a table and
keeps an ``int32`` row id per key and transition; sampling gathers the rows back. The
samples are bit for bit those of ``DictReplayBuffer`` (same arrays, same random draws), so
training is unchanged; only memory drops (about 1.06 GiB -> 0.2 GiB per 100k transitions
with MiniLM, see ``docs/performance.md``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictReplayBuffer
from stable_baselines3.common.type_aliases import DictReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

#: Keys stored by id into the shared table (when present, float ``Box`` es of one size).
SHARED_KEYS: tuple[str, ...] = ("instruction", "remaining", "prompt")


class CompactDictReplayBuffer(DictReplayBuffer):
    """``DictReplayBuffer`` whose ``shared_keys`` are de-duplicated into one vector table.

    :param shared_keys: observation keys (flat float boxes of one shape) stored by row id;
        keys missing from the space are ignored. Other keys are stored as SB3 does.

    The table only grows with *distinct* vectors; when it reaches ``compact_at`` rows the
    rows no stored transition uses any more are dropped (amortised, at most every time the
    table doubles).
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Dict,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        shared_keys: Sequence[str] = SHARED_KEYS,
    ):
        keys = [k for k in shared_keys if k in observation_space.spaces]
        shapes = {observation_space.spaces[k].shape or () for k in keys}
        if len(shapes) > 1 or any(not isinstance(observation_space.spaces[k], spaces.Box) for k in keys):
            raise ValueError(
                f"shared_keys {keys} must be float boxes of one shape, got {[observation_space.spaces[k] for k in keys]}"
            )
        # SB3 allocates the per-key arrays lazily (np.zeros): the ones dropped below never take memory.
        super().__init__(
            buffer_size,
            observation_space,
            action_space,
            device,
            n_envs,
            optimize_memory_usage,
            handle_timeout_termination,
        )
        self.shared_keys = tuple(keys)
        for k in keys:
            del self.observations[k], self.next_observations[k]
        self.ids = {k: np.zeros((self.buffer_size, self.n_envs), dtype=np.int32) for k in keys}
        self.next_ids = {k: np.zeros((self.buffer_size, self.n_envs), dtype=np.int32) for k in keys}
        dim = int(np.prod(next(iter(shapes)))) if keys else 0
        self._dtype = observation_space.spaces[keys[0]].dtype if keys else np.float32
        self.table = np.zeros((1024, dim), dtype=self._dtype)
        self.n_rows = 0
        self._row_of: dict[bytes, int] = {}
        self.compact_at = 1 << 16

    # -- storage ------------------------------------------------------------------------

    def _row(self, v: np.ndarray) -> int:
        v = np.ascontiguousarray(v, dtype=self._dtype).reshape(-1)
        key = hashlib.sha1(v.data, usedforsecurity=False).digest()
        row = self._row_of.get(key)
        if row is None:
            if self.n_rows == len(self.table):
                self.table = np.concatenate([self.table, np.zeros_like(self.table)])
            row = self._row_of[key] = self.n_rows
            self.table[row] = v
            self.n_rows += 1
        return row

    def add(
        self,
        obs: dict[str, np.ndarray],
        next_obs: dict[str, np.ndarray],
        action: np.ndarray,  # type: ignore[override]
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        if self.n_rows + 6 * len(self.shared_keys) * self.n_envs > self.compact_at:
            self._compact()
        pos = self.pos
        for k in self.shared_keys:
            o, n = np.asarray(obs[k]).reshape(self.n_envs, -1), np.asarray(next_obs[k]).reshape(self.n_envs, -1)
            for e in range(self.n_envs):
                self.ids[k][pos, e] = self._row(o[e])
                self.next_ids[k][pos, e] = self._row(n[e])
        rest = {k: v for k, v in obs.items() if k not in self.shared_keys}
        rest_next = {k: v for k, v in next_obs.items() if k not in self.shared_keys}
        super().add(rest, rest_next, action, reward, done, infos)

    def _compact(self) -> None:
        """Drop table rows that no stored transition uses; renumber the ids."""
        upto = self.buffer_size if self.full else self.pos
        used = np.unique(
            np.concatenate(
                [a[:upto].ravel() for d in (self.ids, self.next_ids) for a in d.values()] or [np.zeros(0, np.int32)]
            )
        )
        remap = np.full(max(self.n_rows, 1), -1, dtype=np.int32)
        remap[used] = np.arange(used.size, dtype=np.int32)
        for d in (self.ids, self.next_ids):
            for a in d.values():
                a[:upto] = remap[a[:upto]]
        table = np.zeros((max(1024, 2 * used.size), self.table.shape[1]), dtype=self._dtype)
        table[: used.size] = self.table[used]
        self.table, self.n_rows = table, int(used.size)
        self.rebuild_index()
        self.compact_at = max(1 << 16, 2 * self.n_rows + 6 * len(self.shared_keys) * self.n_envs)

    def rebuild_index(self) -> None:
        """Rebuild the digest index of the table's rows (after compaction, or after a resumed
        benchmark run loaded ``table``, ``ids`` and ``n_rows`` from a checkpoint).

        :raises ValueError: ``n_rows`` exceeds the table or a stored id is outside ``0..n_rows``.
        """
        if not 0 <= self.n_rows <= len(self.table):
            raise ValueError(f"n_rows {self.n_rows} is outside the table's {len(self.table)} rows")
        upto = self.buffer_size if self.full else self.pos
        for d in (self.ids, self.next_ids):
            for a in d.values():
                if upto and (a[:upto].min() < 0 or a[:upto].max() >= max(self.n_rows, 1)):
                    raise ValueError(f"a stored row id is outside the table's {self.n_rows} rows")
        self._row_of = {hashlib.sha1(self.table[i].data, usedforsecurity=False).digest(): i for i in range(self.n_rows)}

    def nbytes(self) -> dict[str, int]:
        """Bytes held now: fixed arrays (allocated for the whole capacity) and the table."""
        fixed = sum(
            a.nbytes for d in (self.observations, self.next_observations, self.ids, self.next_ids) for a in d.values()
        )
        fixed += self.actions.nbytes + self.rewards.nbytes + self.dones.nbytes + self.timeouts.nbytes
        # The table's used rows plus the digest index (a 20-byte key and an int per row, ~150 B in CPython).
        return {
            "fixed": int(fixed),
            "table": int(self.n_rows * self.table.shape[1] * self.table.itemsize + 150 * self.n_rows),
        }

    # -- sampling -----------------------------------------------------------------------

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> DictReplayBufferSamples:  # type: ignore[override]
        # DictReplayBuffer._get_samples with the shared keys gathered from the table (the same
        # random draws in the same order, so the same samples).
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        obs = {k: o[batch_inds, env_indices, :] for k, o in self.observations.items()}
        next_obs = {k: o[batch_inds, env_indices, :] for k, o in self.next_observations.items()}
        for k in self.shared_keys:
            obs[k] = self.table[self.ids[k][batch_inds, env_indices]]
            next_obs[k] = self.table[self.next_ids[k][batch_inds, env_indices]]
        obs_, next_obs_ = self._normalize_obs(obs, env), self._normalize_obs(next_obs, env)
        assert isinstance(obs_, dict) and isinstance(next_obs_, dict)
        # Every array here is a fresh gather (fancy indexing copies), or a new array from
        # VecNormalize: tensors can share their memory instead of copying it once more.
        t = lambda a: self.to_torch(a, copy=False)  # noqa: E731
        return DictReplayBufferSamples(
            observations={k: t(v) for k, v in obs_.items()},
            actions=t(self.actions[batch_inds, env_indices]),
            next_observations={k: t(v) for k, v in next_obs_.items()},
            dones=t(self.dones[batch_inds, env_indices] * (1 - self.timeouts[batch_inds, env_indices])).reshape(-1, 1),
            rewards=t(self._normalize_reward(self.rewards[batch_inds, env_indices].reshape(-1, 1), env)),
        )


def replay_buffer_bytes(env: Any, capacity: int = 100_000, fill: int = 2000, seed: int = 0) -> dict[str, float]:
    """Memory of the DQN's replay buffer for ``capacity`` transitions of ``env``, and of SB3's
    plain ``DictReplayBuffer`` for comparison. ``fill`` real transitions (random allowed
    actions) are added; the table is extrapolated linearly to ``capacity`` (an upper bound)."""
    buf = CompactDictReplayBuffer(capacity, env.observation_space, env.action_space, device="cpu")
    plain = DictReplayBuffer(capacity, env.observation_space, env.action_space, device="cpu")
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    for _ in range(fill):
        a = rng.choice(np.flatnonzero(obs["action_mask"]))
        nxt, r, term, trunc, info = env.step(a)
        batch = lambda o: {k: np.asarray(v)[None] for k, v in o.items()}  # noqa: E731
        buf.add(batch(obs), batch(nxt), np.array([a]), np.array([r]), np.array([term]), [info])
        obs = nxt
        if term or trunc:
            obs, _ = env.reset()
    b = buf.nbytes()
    table = b["table"] * capacity / fill
    plain_bytes = sum(a.nbytes for d in (plain.observations, plain.next_observations) for a in d.values())
    plain_bytes += plain.actions.nbytes + plain.rewards.nbytes + plain.dones.nbytes + plain.timeouts.nbytes
    total = b["fixed"] + table
    return {
        "capacity": capacity,
        "filled": fill,
        "distinct_vectors": buf.n_rows,
        "fixed_bytes": b["fixed"],
        "table_bytes_extrapolated": int(table),
        "gib": round(total / 2**30, 3),
        "sb3_dict_buffer_gib": round(plain_bytes / 2**30, 3),
    }
