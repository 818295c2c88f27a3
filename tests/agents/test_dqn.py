"""The masked DQN agent: masking in all three places, checkpoints, resume, logs, and learning.

Fast by design (tiny networks, a few hundred steps) except ``test_learns_to_beat_random``,
a seeded 1,200-step run on the GenEval suite (about 5 s).
"""

from __future__ import annotations

import csv
import json

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.type_aliases import DictReplayBufferSamples

import poser_env  # noqa: F401
from poser_agents.baselines import RandomAgent
from poser_agents.common.checkpoint import file_sha256
from poser_agents.dqn import CheckpointError, DQNAgent, DQNConfig, MaskedDQN, PoserFeaturesExtractor, mask_q_values
from poser_agents.rollout import aggregate, pick_tasks, run_episodes
from poser_env.encoders.text import HashTextEncoder
from poser_env.registry import load_preset


def hash64():
    """A 64-dimension hash encoder, for an env whose text embeddings differ (``"module:Class"`` entry point)."""
    return HashTextEncoder(dim=64)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # Tiny networks: one thread is fastest (DQNAgent.learn sets it too); restored afterwards.
    before = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(before)


TINY = dict(
    net_arch=[32],
    embed_dim=16,
    buffer_size=2_000,
    learning_starts=50,
    batch_size=16,
    target_update_interval=100,
    seed=0,
)


@pytest.fixture(scope="module")
def env():
    # DEFER enabled: 13 actions, and a mask that really changes (DEFER is not always allowed).
    return gym.make("ImagePoser-v0", split="val", enable_defer=True)


@pytest.fixture(scope="module")
def agent(env):
    return DQNAgent(env, DQNConfig(**TINY))


def _set_constant_q(qnet, values) -> None:
    """Make a MaskedQNetwork output ``values`` for every observation (last layer: zero weights, bias)."""
    last = qnet.q_net[-1]
    with th.no_grad():
        last.weight.zero_()
        last.bias.copy_(th.as_tensor(values, dtype=th.float32))


def _obs_with_mask(env, allowed, seed=0):
    obs, _ = env.reset(seed=seed)
    mask = np.zeros(env.action_space.n, np.int8)
    mask[list(allowed)] = 1
    return {**obs, "action_mask": mask}


# ---------------------------------------------------------------------------------------
# Masking


def test_mask_q_values_sets_masked_to_minus_inf_and_never_all():
    q = th.tensor([[1.0, 5.0, 3.0], [1.0, 2.0, 3.0]])
    m = th.tensor([[1, 0, 1], [0, 0, 0]])
    out = mask_q_values(q, m)
    assert out[0, 1] == float("-inf") and out[0, 0] == 1.0 and out[0, 2] == 3.0
    assert th.equal(out[1], q[1])  # nothing allowed: left as is rather than all -inf


def test_greedy_action_never_masked(agent, env):
    n = env.action_space.n
    q = np.arange(n, dtype=np.float32)
    q[3] = 1e6  # the best action by far... and masked
    saved = {k: v.clone() for k, v in agent.model.q_net.state_dict().items()}
    try:
        _set_constant_q(agent.model.q_net, q)
        obs = _obs_with_mask(env, allowed=[0, 2, 5, 7])  # 3 not allowed
        action, _ = agent.predict(obs, deterministic=True)
        assert int(action) == 7  # the best allowed one
        # policy-level API too (what evaluate_policy and SB3 internals call)
        action, _ = agent.model.policy.predict(obs, deterministic=True)
        assert int(action) == 7
        # batched, a different mask per row
        other = _obs_with_mask(env, allowed=[1, 3])
        batch = {k: np.stack([obs[k], other[k]]) for k in obs}
        actions, _ = agent.predict(batch)
        assert actions.tolist() == [7, 3]
    finally:
        agent.model.q_net.load_state_dict(saved)


def test_exploration_draws_only_allowed_actions_uniformly(agent, env):
    model = agent.model
    allowed = [2, 5, 11]
    obs = _obs_with_mask(env, allowed)
    old_eps = model.exploration_rate
    np.random.seed(0)
    try:
        model.exploration_rate = 1.0
        seen = [int(model.predict(obs, deterministic=False)[0]) for _ in range(300)]
        assert set(seen) == set(allowed)
        counts = np.bincount(seen, minlength=env.action_space.n)[allowed]
        assert counts.min() > 60  # uniform over the 3 allowed: about 100 each
        # batched: each row respects its own mask
        other = _obs_with_mask(env, [0])
        batch = {k: np.stack([obs[k], other[k]]) for k in obs}
        for _ in range(50):
            a, _ = model.predict(batch, deterministic=False)
            assert int(a[0]) in allowed and int(a[1]) == 0
        # warm-up actions (before learning_starts) come from _sample_action: masked too
        model._last_obs = batch
        model.num_timesteps = 0
        for _ in range(50):
            a, buffer_a = model._sample_action(learning_starts=10, n_envs=2)
            assert int(a[0]) in allowed and int(a[1]) == 0 and np.array_equal(a, buffer_a)
    finally:
        model.exploration_rate = old_eps


def _batch(env, next_allowed, rewards, dones):
    """A hand-made replay batch of 2 transitions; next observations carry the given masks."""
    obs, _ = env.reset(seed=0)
    n = env.action_space.n
    rows = []
    for allowed in next_allowed:
        m = np.zeros(n, np.int8)
        m[list(allowed)] = 1
        rows.append({**obs, "action_mask": m})
    to_t = lambda dicts: {k: th.as_tensor(np.stack([d[k] for d in dicts])) for k in obs}  # noqa: E731
    return DictReplayBufferSamples(
        observations=to_t([obs, obs]),
        actions=th.zeros(2, 1, dtype=th.long),
        next_observations=to_t(rows),
        dones=th.tensor(dones, dtype=th.float32).reshape(-1, 1),
        rewards=th.tensor(rewards, dtype=th.float32).reshape(-1, 1),
    )


@pytest.mark.parametrize("double_q", [False, True])
def test_td_target_never_bootstraps_from_a_masked_action(env, double_q):
    model = DQNAgent(env, DQNConfig(**TINY, double_q=double_q)).model
    n = env.action_space.n
    q_target = np.arange(n, dtype=np.float32)  # Q_target(s', a) = a
    q_target[4] = 1000.0  # huge, and masked in the next state
    q_online = np.zeros(n, dtype=np.float32)
    q_online[4], q_online[2], q_online[6] = 5000.0, 10.0, 1.0  # online prefers 4, then 2 among allowed
    _set_constant_q(model.q_net_target, q_target)
    _set_constant_q(model.q_net, q_online)
    data = _batch(env, next_allowed=[[0, 2, 6], [1, 2, 3, 4, 5]], rewards=[0.5, -0.1], dones=[0.0, 0.0])
    with th.no_grad():
        target = model.compute_target_q(data).squeeze(1).numpy()
    gamma = model.gamma
    if double_q:
        # online argmax over allowed {0, 2, 6} is 2 -> Q_target(s', 2) = 2; row 2: 4 allowed -> 1000
        expected = [0.5 + gamma * 2.0, -0.1 + gamma * 1000.0]
    else:
        # max over allowed {0, 2, 6} of Q_target = 6 (not 1000); row 2: 4 allowed -> 1000
        expected = [0.5 + gamma * 6.0, -0.1 + gamma * 1000.0]
    np.testing.assert_allclose(target, expected, rtol=1e-6)
    # terminal transitions bootstrap nothing (and -inf never turns into NaN)
    data = _batch(env, next_allowed=[[4], []], rewards=[0.3, 0.2], dones=[1.0, 1.0])
    with th.no_grad():
        target = model.compute_target_q(data).squeeze(1).numpy()
    np.testing.assert_allclose(target, [0.3, 0.2])


def test_features_extractor_excludes_the_mask_by_default(env):
    fe = PoserFeaturesExtractor(env.observation_space, embed_dim=8)
    assert "action_mask" not in fe.encoders
    assert fe.features_dim == 4 * 8 + 18 + 10 + 5 + env.action_space.n  # 3 text + image encoded; small keys raw
    fe2 = PoserFeaturesExtractor(env.observation_space, embed_dim=8, include_mask=True)
    assert fe2.features_dim == fe.features_dim + env.action_space.n


# ---------------------------------------------------------------------------------------
# Checkpoints


class CountInvalid(BaseCallback):
    """Counts env steps that took a masked action (the env flags them in ``info["invalid_action"]``)."""

    def __init__(self):
        super().__init__()
        self.invalid = 0
        self.steps = 0

    def _on_step(self) -> bool:
        self.steps += len(self.locals["infos"])
        self.invalid += sum(bool(i.get("invalid_action")) for i in self.locals["infos"])
        return True


@pytest.fixture(scope="module")
def trained(env, tmp_path_factory):
    """A tiny agent trained 300 steps, saved; returns (agent, folder, log_dir)."""
    root = tmp_path_factory.mktemp("dqn")
    agent = DQNAgent(env, DQNConfig(**TINY, log_dir=str(root / "logs"), log_interval=5))
    agent.learn(300)
    return agent, agent.save(root / "ckpt"), root / "logs"


def test_training_never_takes_a_masked_action():
    # GenEval prompts have one command, so DEFER is always masked: an unmasked DQN takes it in
    # about 1 step of 13 while exploring. Warm-up, epsilon-greedy and greedy steps must never.
    env = gym.make("ImagePoser-v0", suite="geneval", split="val", enable_defer=True)
    counter = CountInvalid()
    DQNAgent(env, DQNConfig(**{**TINY, "learning_starts": 100}, exploration_fraction=1.0)).learn(400, callback=counter)
    assert counter.steps == 400 and counter.invalid == 0


def test_save_load_round_trip_identical_predictions(env, trained):
    agent, folder, *_ = trained
    meta = json.loads((folder / "agent.json").read_text())
    assert (
        meta["env_id"] == "ImagePoser-v0"
        and meta["env_kwargs"]["split"] == "val"
        and meta["env_kwargs"]["enable_defer"]
    )
    assert meta["action_names"][-1] == "DEFER" and meta["action_space"] == {"type": "Discrete", "n": 13}
    assert meta["observation_space"]["spaces"]["instruction"]["shape"] == [128]
    assert meta["config"]["net_arch"] == [32] and meta["num_timesteps"] == 300
    assert {"torch", "stable_baselines3", "gymnasium", "poser_env"} <= set(meta["versions"])
    loaded = DQNAgent.load(folder, env=env)
    rebuilt = DQNAgent.load(folder)  # env rebuilt from agent.json
    assert rebuilt.env.spec.kwargs["enable_defer"] is True
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        for other in (loaded, rebuilt):
            assert int(other.predict(obs)[0]) == int(agent.predict(obs)[0])
            t = {k: th.as_tensor(v[None]) for k, v in obs.items()}
            with th.no_grad():
                assert th.equal(other.model.q_net(t), agent.model.q_net(t))
    assert loaded.config == agent.config and loaded.num_timesteps == 300


def test_refuses_a_checkpoint_for_another_text_encoder(trained):
    _, folder, *_ = trained
    other = gym.make("ImagePoser-v0", split="val", enable_defer=True, text_encoder="tests.agents.test_dqn:hash64")
    with pytest.raises(
        CheckpointError, match=r"expects observation 'instruction'.*text encoder differs.*128 dims.*64 dims"
    ):
        DQNAgent.load(folder, env=other)


def test_refuses_a_checkpoint_for_other_experts(trained):
    _, folder, *_ = trained
    specs = load_preset("synthetic", "experts")["experts"]
    fewer = gym.make("ImagePoser-v0", split="val", experts=specs[:11], enable_defer=True)
    with pytest.raises(CheckpointError, match=r"trained for 13 actions .* this env has 12 .*different expert set"):
        DQNAgent.load(folder, env=fewer)
    swapped = gym.make("ImagePoser-v0", split="val", experts=[specs[1], specs[0], *specs[2:]], enable_defer=True)
    with pytest.raises(CheckpointError, match=r"other actions at the same indices \(0: 'sketchy-t2i' vs 'layout-t2i'"):
        DQNAgent.load(folder, env=swapped)


def test_refuses_missing_corrupt_and_truncated_files(env, trained, tmp_path):
    import shutil

    _, folder, *_ = trained
    with pytest.raises(CheckpointError, match="does not exist"):
        DQNAgent.load(tmp_path / "nowhere", env=env)
    with pytest.raises(CheckpointError, match="agent.json is missing"):
        DQNAgent.load(tmp_path, env=env)

    bad = tmp_path / "truncated"
    shutil.copytree(folder, bad)
    data = (bad / "model.zip").read_bytes()
    (bad / "model.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated: its SHA-256 differs"):
        DQNAgent.load(bad, env=env)

    # A corrupt zip whose checksum was (wrongly) updated still fails with a clear message.
    meta = json.loads((bad / "agent.json").read_text())
    meta["model_sha256"] = None  # a missing checksum is refused (version 2 requires it)
    (bad / "agent.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="field 'model_sha256' must be the SHA-256"):
        DQNAgent.load(bad, env=env)
    meta["model_sha256"] = file_sha256(bad / "model.zip")
    (bad / "agent.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"cannot read .*model.zip: the file is corrupt or truncated \("):
        DQNAgent.load(bad, env=env)

    (bad / "model.zip").unlink()
    with pytest.raises(CheckpointError, match="model.zip is missing"):
        DQNAgent.load(bad, env=env)
    (bad / "agent.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        DQNAgent.load(bad, env=env)


def test_resume_training_goes_on_and_appends_logs(env, trained, tmp_path):
    _, folder, logs = trained
    progress = list(csv.DictReader(open(logs / "progress.csv")))
    episodes = list(csv.DictReader(open(logs / "episodes.csv")))
    assert progress and {"time/total_timesteps", "rollout/ep_rew_mean", "train/loss", "train/q_mean"} <= set(
        progress[0]
    )
    assert episodes and {"episode", "timesteps", "reward", "alignment", "cost", "steps"} <= set(episodes[0])
    assert all(0.0 <= float(r["alignment"]) <= 1.0 for r in episodes)
    assert any(r["train/loss"] for r in progress)

    resumed = DQNAgent.load(folder, env=env)
    assert resumed.num_timesteps == 300
    resumed.learn(120)  # resume: the step counter goes on
    assert resumed.num_timesteps == 420
    assert len(list(csv.DictReader(open(logs / "progress.csv")))) > len(progress)  # old rows kept
    more = list(csv.DictReader(open(logs / "episodes.csv")))
    assert len(more) > len(episodes) and int(more[-1]["timesteps"]) > 300
    resumed.save(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "agent.json").read_text())["num_timesteps"] == 420


def test_evaluate_policy_accepts_the_agent(env, agent):
    from stable_baselines3.common.evaluation import evaluate_policy

    mean, _ = evaluate_policy(agent, env, n_eval_episodes=2)
    assert np.isfinite(mean)


def test_config_is_validated():
    with pytest.raises(ValueError, match="gamma"):
        DQNConfig(gamma=1.5)
    with pytest.raises(ValueError, match="net_arch"):
        DQNConfig(net_arch=[])
    with pytest.raises(ValueError, match="unknown DQNConfig field"):
        DQNConfig.from_dict({"lr": 1.0})


# ---------------------------------------------------------------------------------------
# Learning


def test_learns_to_beat_random():
    """1,200 seeded steps on GenEval prompts (one command each: counter-t2i or frontier-t2i nail
    them, random gets about 0.68 on these tasks). The greedy policy must beat random on the same
    val tasks and seeds by a wide margin; seeds 0 to 4 all gave 0.975 to 1.0 when this was written."""
    th.manual_seed(0)
    train = gym.make("ImagePoser-v0", suite="geneval", split="train")
    val = gym.make("ImagePoser-v0", suite="geneval", split="val")
    config = DQNConfig(learning_starts=300, exploration_fraction=0.5, target_update_interval=250, seed=0)
    agent = DQNAgent(train, config).learn(1_200)
    tasks = pick_tasks(val, 40)
    dqn = aggregate(run_episodes(val, agent, tasks, seed=0))["alignment"]
    rnd = aggregate(run_episodes(val, RandomAgent(seed=0), tasks, seed=0))["alignment"]
    assert dqn >= rnd + 0.15, (dqn, rnd)
    assert isinstance(agent.model, MaskedDQN)


# ---------------------------------------------------------------------------------------
# Wrappers: a stacked mask, episodes cut short


def test_refuses_a_stacked_action_mask_when_built():
    from gymnasium.wrappers import FrameStackObservation

    stacked = FrameStackObservation(gym.make("ImagePoser-v0"), 2)
    with pytest.raises(
        ValueError, match=r"'action_mask' has shape \(2, 12\); MaskedDQN needs \(12,\).*stack only the other keys"
    ):
        DQNAgent(stacked, DQNConfig(**TINY))


def test_episode_log_is_complete_with_gym_makes_max_episode_steps(tmp_path):
    env = gym.make("ImagePoser-Gen-v0", split="train", max_episode_steps=2)
    agent = DQNAgent(env, DQNConfig(**{**TINY, "log_dir": str(tmp_path)}))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the env adopts the limit: no summary is missing
        agent.learn(60)
    rows = list(csv.DictReader(open(tmp_path / "episodes.csv")))
    assert len(rows) >= 25 and all(r["steps"] in ("1", "2") and r["alignment"] != "" for r in rows)


class _CutAfterOne(gym.Wrapper):
    """A wrapper of someone else's that ends every episode after one step, outside the env."""

    def step(self, action):
        obs, r, term, trunc, info = self.env.step(action)
        return obs, r, term, True, info


def test_episode_log_warns_when_another_wrapper_cuts_episodes(tmp_path):
    agent = DQNAgent(
        _CutAfterOne(gym.make("ImagePoser-v0", suite="longform", split="train")),
        DQNConfig(**{**TINY, "log_dir": str(tmp_path)}),
    )
    with pytest.warns(RuntimeWarning, match="without info\\['episode_summary'\\].*max_steps"):
        agent.learn(10)
    rows = list(csv.DictReader(open(tmp_path / "episodes.csv")))
    assert len(rows) >= 10 and all(r["steps"] == "1" and r["alignment"] == "" and r["reward"] for r in rows)


def test_close_logs_closes_progress_csv_and_learn_reopens_it(tmp_path):
    """A finished run leaves no log file open (the demo's progress.csv used to outlive it)."""
    agent = DQNAgent(
        gym.make("ImagePoser-v0", split="train"),
        DQNConfig(
            learning_starts=10,
            buffer_size=100,
            net_arch=[16],
            embed_dim=8,
            log_dir=str(tmp_path / "logs"),
            log_interval=1,
        ),
    )
    agent.learn(40)
    files = [f.file for f in agent.model.logger.output_formats if hasattr(f, "file")]
    agent.close_logs()
    assert files and all(f.closed for f in files)
    import csv

    def steps_logged() -> list[str]:
        with open(tmp_path / "logs" / "progress.csv", newline="") as f:
            return [row["time/total_timesteps"] for row in csv.DictReader(f)]

    before = steps_logged()
    agent.learn(40)  # reopens and appends: the rows written before are kept
    agent.close_logs()
    after = steps_logged()
    assert before and len(after) > len(before) and after[: len(before)] == before
