"""``MaskedDQN``: stable-baselines3's DQN with action masking done in all three places.

SB3's DQN knows nothing of invalid actions. With a mask in the observation (the env's
``action_mask`` key, ``MultiBinary``), a correct DQN must respect it wherever it *chooses* an
action or *assumes* one will be chosen:

1. **Greedy action** (``predict(deterministic=True)``, the policy's ``_predict``): argmax over
   allowed actions only (``MaskedQNetwork`` in ``policies.py``).
2. **Exploration** (epsilon-greedy in ``predict(deterministic=False)``, and the warm-up phase
   before ``learning_starts`` in ``_sample_action``): a random action is drawn uniformly
   among the *allowed* actions of each env, not from ``action_space.sample()``.
3. **TD target**: ``y = r + gamma * (1 - done) * max_{a' allowed in s'} Q_target(s', a')``,
   with the mask of the *next* observation (``replay_data.next_observations["action_mask"]``).
   Without it the target bootstraps from actions the agent can never take, and their
   never-trained Q-values leak into every estimate. With ``double_q=True`` the online
   network picks ``a'`` (masked argmax) and the target network evaluates it (van Hasselt et
   al., 2016).

Only ``train()`` is re-written (it is short); the target is factored into
:meth:`MaskedDQN.compute_target_q` so that it can be tested on a hand-made batch.
The replay buffer defaults to :class:`~poser_agents.dqn.replay.CompactDictReplayBuffer`
(text embeddings stored once; the same samples as SB3's ``DictReplayBuffer`` in a fifth of
the memory). Everything else (target-network updates, exploration schedule, logging,
save/load) is SB3's.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch as th
from stable_baselines3 import DQN
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import DictReplayBufferSamples
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from stable_baselines3.common.vec_env.util import dict_to_obs
from torch.nn import functional as F

from poser_agents.dqn.policies import MASK_KEY, MaskedDQNPolicy, mask_q_values
from poser_agents.dqn.replay import CompactDictReplayBuffer


class MaskedDQN(DQN):
    """DQN with masked greedy actions, masked exploration and a masked max in the TD target.

    Takes every argument of ``stable_baselines3.DQN`` plus:

    :param double_q: Double DQN target (online network selects, target network evaluates).

    The policy must be ``"MultiInputPolicy"`` (an alias for :class:`MaskedDQNPolicy`) or a
    subclass of it, and the observation a ``Dict`` with an ``action_mask`` key.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MultiInputPolicy": MaskedDQNPolicy}

    def __init__(self, policy: Any, env: Any, *args: Any, double_q: bool = False, **kwargs: Any):
        self.double_q = bool(double_q)
        kwargs.setdefault("replay_buffer_class", CompactDictReplayBuffer)
        super().__init__(policy, env, *args, **kwargs)

    @staticmethod
    def _wrap_env(env: Any, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        # An ImagePoser env builds a fresh info dict each step, so the deep copy of every
        # info that SB3's DummyVecEnv makes (a quarter of a training step) is skipped.
        from stable_baselines3.common.env_util import is_wrapped
        from stable_baselines3.common.monitor import Monitor

        from poser_env.env import ImagePoserEnv

        if not isinstance(env, VecEnv) and isinstance(getattr(env, "unwrapped", None), ImagePoserEnv):
            if monitor_wrapper and not is_wrapped(env, Monitor):
                env = Monitor(env)
            env = FreshInfoDummyVecEnv([lambda: env])
        return DQN._wrap_env(env, verbose, monitor_wrapper)

    def _setup_model(self) -> None:
        spaces = getattr(self.observation_space, "spaces", {})
        if MASK_KEY not in spaces:
            raise ValueError(
                f"MaskedDQN needs a Dict observation with an {MASK_KEY!r} key; got {self.observation_space}"
            )
        # Checked before SB3 builds its buffer: a stacked or reshaped mask (FrameStackObservation
        # stacks every key, giving (k, n_actions)) would otherwise crash deep inside the replay buffer.
        n = int(self.action_space.n)
        shape = tuple(spaces[MASK_KEY].shape or ())
        if shape != (n,):
            raise ValueError(
                f"the observation's {MASK_KEY!r} has shape {shape}; MaskedDQN needs ({n},), one entry per action. "
                f"A frame-stacking wrapper (FrameStackObservation) stacks every key: stack only the other keys and pass the "
                f"current {MASK_KEY!r} through unstacked (e.g. an ObservationWrapper that stacks the rest)"
            )
        super()._setup_model()

    # ------------------------------------------------------------------------------------
    # Acting: masked exploration

    def _random_allowed_actions(self, mask: np.ndarray) -> np.ndarray:
        """One action per row of ``mask`` (n_envs, n_actions), uniform over the allowed ones.

        Uses numpy's global generator, like SB3's own epsilon branch (seeded by ``seed=``).
        """
        mask = np.asarray(mask).reshape(-1, int(self.action_space.n)).astype(bool)
        actions = np.empty(len(mask), dtype=np.int64)
        for i, row in enumerate(mask):
            allowed = np.flatnonzero(row)
            if len(allowed) == 0:  # cannot happen with a well-formed env; never crash
                allowed = np.arange(len(row))
            actions[i] = allowed[np.random.randint(len(allowed))]
        return actions

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        # Greedy (masked) action for every env; then, when exploring, each env independently
        # replaces it with probability epsilon by a uniformly random *allowed* action.
        if deterministic or self.exploration_rate <= 0:
            return self.policy.predict(observation, state, episode_start, deterministic)
        mask = np.asarray(observation[MASK_KEY])
        vectorized = mask.ndim > 1
        explore = np.random.rand(mask.reshape(-1, int(self.action_space.n)).shape[0]) < self.exploration_rate
        if explore.all():
            # Every env explores: the greedy action would be thrown away, so the network is not
            # run (it draws nothing from numpy's generator: the same actions as computing it).
            action = self._random_allowed_actions(mask)
            return (action if vectorized else action.reshape(())), state
        action, state = self.policy.predict(observation, state, episode_start, deterministic)
        if explore.any():
            random_actions = self._random_allowed_actions(mask)
            action = np.where(explore, random_actions, np.asarray(action).reshape(-1))
            if not vectorized:
                action = action.reshape(())
        return action, state

    def _sample_action(
        self, learning_starts: int, action_noise: Any = None, n_envs: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        # SB3 draws warm-up actions (before learning_starts) from action_space.sample(),
        # ignoring the mask: draw them among the allowed actions instead.
        if self.num_timesteps < learning_starts:
            assert self._last_obs is not None, "self._last_obs was not set"
            action = self._random_allowed_actions(self._last_obs[MASK_KEY])
        else:
            action, _ = self.predict(self._last_obs, deterministic=False)
            action = np.asarray(action).reshape(n_envs)
        # Discrete actions: the env's action and the buffer's action are the same.
        return action, action

    def _store_transition(
        self,
        replay_buffer: Any,
        buffer_action: np.ndarray,
        new_obs: Any,
        reward: np.ndarray,
        dones: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        # SB3's _store_transition deep-copies the next observation; for a dict of arrays a copy
        # of each array is the same thing, at a fraction of the cost.
        if self._vec_normalize_env is None and isinstance(new_obs, dict):
            copy_obs = {k: np.array(v, copy=True) for k, v in new_obs.items()}
            super()._store_transition(replay_buffer, buffer_action, _Copied(copy_obs), reward, dones, infos)
            self._last_obs = new_obs
            return
        super()._store_transition(replay_buffer, buffer_action, new_obs, reward, dones, infos)

    # ------------------------------------------------------------------------------------
    # Learning: masked max in the TD target

    def compute_target_q(self, replay_data: DictReplayBufferSamples) -> th.Tensor:
        """TD target ``(batch, 1)``: ``r + gamma * (1 - done) * Q_target(s', a*)``, a* allowed in s'.

        ``a* = argmax_{a allowed in s'} Q_target(s', a)`` (DQN), or ``argmax_{a allowed} Q_online(s', a)``
        with ``double_q`` (Double DQN). Call it under ``th.no_grad()``.
        """
        next_obs = replay_data.next_observations
        next_mask = next_obs[MASK_KEY]
        next_q_target = self.q_net_target(next_obs)
        if self.double_q:
            # Double DQN: the online network chooses among allowed actions, the target evaluates.
            next_actions = mask_q_values(self.q_net(next_obs), next_mask).argmax(dim=1, keepdim=True)
            next_q = th.gather(next_q_target, dim=1, index=next_actions)
        else:
            next_q, _ = mask_q_values(next_q_target, next_mask).max(dim=1, keepdim=True)
        # For n-step replay the discount is gamma ** n (SB3's field); else gamma.
        discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma
        return replay_data.rewards + (1 - replay_data.dones) * discounts * next_q

    def _min_buffer(self) -> int:
        # Learn only once the buffer holds max(batch_size, learning_starts) transitions. After a
        # resume (num_timesteps already past learning_starts, buffer empty) SB3 would start
        # fitting a handful of fresh transitions at once; this re-runs the warm-up instead.
        return min(max(self.batch_size, self.learning_starts), self.buffer_size)

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        assert self.replay_buffer is not None
        if self.replay_buffer.size() < self._min_buffer():
            return
        # Same as SB3's DQN.train (Huber loss, gradient clipping), with the masked target.
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)

        for _ in range(gradient_steps):
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)
            with th.no_grad():
                target_q_values = self.compute_target_q(replay_data)

            # Q(s, a) of the actions actually taken.
            current_q_values = th.gather(self.q_net(replay_data.observations), dim=1, index=replay_data.actions.long())
            loss = F.smooth_l1_loss(current_q_values, target_q_values)

            self.policy.optimizer.zero_grad()
            loss.backward()
            # The optimizer holds the online network's parameters, in policy.parameters() order;
            # the target network's never have gradients, which clip_grad_norm_ skips anyway. So
            # the same norm and clipping, without walking the module tree every update.
            params = [p for group in self.policy.optimizer.param_groups for p in group["params"]]
            th.nn.utils.clip_grad_norm_(params, self.max_grad_norm, foreach=True)
            self.policy.optimizer.step()

            # record_mean: progress.csv shows the mean over the logging interval, not the last batch.
            self.logger.record_mean("train/loss", loss.item())
            self.logger.record_mean("train/q_mean", current_q_values.mean().item())
            self.logger.record_mean("train/target_mean", target_q_values.mean().item())

        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")


class FreshInfoDummyVecEnv(DummyVecEnv):
    """SB3's ``DummyVecEnv`` that copies each info dict shallowly instead of deeply.

    Only for envs whose ``step`` returns a new info (and new values in it) every time, as
    ImagePoser's does; SB3's own additions (``TimeLimit.truncated``, ``terminal_observation``)
    go into the copy's source exactly as in ``DummyVecEnv``.
    """

    def step_wait(self) -> Any:
        for i in range(self.num_envs):
            obs, self.buf_rews[i], terminated, truncated, self.buf_infos[i] = self.envs[i].step(self.actions[i])
            self.buf_dones[i] = terminated or truncated
            self.buf_infos[i]["TimeLimit.truncated"] = truncated and not terminated
            if self.buf_dones[i]:
                self.buf_infos[i]["terminal_observation"] = obs
                obs, self.reset_infos[i] = self.envs[i].reset()
            self._save_obs(i, obs)
        return (
            self._obs_from_buf(),
            np.copy(self.buf_rews),
            np.copy(self.buf_dones),
            [dict(info) for info in self.buf_infos],
        )

    def _obs_from_buf(self) -> Any:
        # DummyVecEnv deep-copies its buffer (a dict of arrays): a copy of each array is the same.
        return dict_to_obs(self.observation_space, {k: np.array(v, copy=True) for k, v in self.buf_obs.items()})


class _Copied(dict):
    """A dict of arrays that are already private copies: ``deepcopy`` (which SB3's
    ``_store_transition`` applies to the next observation) returns it as a plain dict."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return dict(self)
