"""Learners named by ``--algo module:callable`` in the benchmark tests."""

from sb3_contrib import MaskablePPO, RecurrentPPO
from stable_baselines3 import A2C, DQN


def make_a2c(env, seed=0):
    return A2C("MultiInputPolicy", env, seed=seed, device="cpu")


class KilledA2C(A2C):
    """Trains half its budget, then stops as a killed process would (no clean end)."""

    def learn(self, total_timesteps, callback=None, **kwargs):
        super().learn(total_timesteps // 2, callback=callback, **kwargs)
        raise KeyboardInterrupt("killed")


def make_killed(env, seed=0):
    return KilledA2C("MultiInputPolicy", env, seed=seed, device="cpu")


#: (env steps done, updates done) at each ``predict`` of :func:`make_recording_dqn`'s model.
SEEN: list[tuple[int, int]] = []


class RecordingDQN(DQN):
    """SB3's DQN that notes, at each ``predict``, how far it has trained."""

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        SEEN.append((self.num_timesteps, self._n_updates))
        return super().predict(observation, state, episode_start, deterministic)


def make_recording_dqn(env, seed=0):
    return RecordingDQN("MultiInputPolicy", env, seed=seed, device="cpu", learning_starts=0, train_freq=4)


def make_without_seed(env):
    """A factory that forgot the ``seed`` keyword the runner passes."""
    return A2C("MultiInputPolicy", env, device="cpu")


def make_nothing(env, seed=0):
    """A factory that returns no model."""
    return None


def make_recurrent_ppo(env, seed=0):
    """A user's own RecurrentPPO (smaller LSTM than ``recurrent_ppo``'s)."""
    return RecurrentPPO("MultiInputLstmPolicy", env, seed=seed, device="cpu", policy_kwargs={"lstm_hidden_size": 16})


def make_maskable_ppo(env, seed=0):
    return MaskablePPO("MultiInputPolicy", env, seed=seed, device="cpu")


class Wrapper:
    """A user's object holding an sb3-contrib model, with SB3's ``predict`` protocol; notes each
    call's ``state``, ``episode_start`` and ``action_masks`` in :attr:`calls`."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def learn(self, total_timesteps, callback=None, **kwargs):
        self.model.learn(total_timesteps, callback=callback, **kwargs)
        return self

    def predict(self, observation, state=None, episode_start=None, deterministic=False, action_masks=None):
        self.calls.append((state, episode_start, action_masks))
        if isinstance(self.model, MaskablePPO):
            return self.model.predict(observation, deterministic=deterministic, action_masks=action_masks)
        return self.model.predict(observation, state=state, episode_start=episode_start, deterministic=deterministic)


def make_wrapped_recurrent_ppo(env, seed=0):
    return Wrapper(make_recurrent_ppo(env, seed=seed))


def make_wrapped_maskable_ppo(env, seed=0):
    return Wrapper(make_maskable_ppo(env, seed=seed))


def make_on_another_level(env, seed=0):
    """A factory that builds its model on an env of its own, another level's."""
    import gymnasium as gym

    return MaskablePPO("MultiInputPolicy", gym.make("ImagePoser-Hard-v0"), seed=seed, device="cpu")
