"""Learners named by ``--algo module:callable`` in the benchmark tests."""

from stable_baselines3 import A2C


def make_a2c(env, seed=0):
    return A2C("MultiInputPolicy", env, seed=seed, device="cpu")


class KilledA2C(A2C):
    """Trains half its budget, then stops as a killed process would (no clean end)."""

    def learn(self, total_timesteps, callback=None, **kwargs):
        super().learn(total_timesteps // 2, callback=callback, **kwargs)
        raise KeyboardInterrupt("killed")


def make_killed(env, seed=0):
    return KilledA2C("MultiInputPolicy", env, seed=seed, device="cpu")
