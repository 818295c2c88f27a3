"""Experts and critics served by Ray: the same episodes as in-process, faults as failed steps."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest

import poser_env  # noqa: F401
from poser_env.backends.serving import ServedCritic, ServedExpert, server_name
from poser_env.presets import load_real_preset, make_env
from poser_env.registry import RegistryError, load_preset
from tests.backends.fixtures import write_preset

pytestmark = pytest.mark.ray

SERVING = {"num_cpus": 0, "timeout_s": 60}


def _episode(env, actions, seed):
    obs, info = env.reset(seed=seed)
    frames, rewards, infos = [env.unwrapped.render_canvas()], [], [info]
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        frames.append(env.unwrapped.render_canvas())
        rewards.append(r)
        infos.append(info)
        if term or trunc:
            break
    return frames, rewards, infos


def _served(specs, serving, prefix="test"):
    hosted = {s["name"]: s for s in specs}
    return [{"name": s["name"], "entry_point": "poser_env.backends.serving:ServedExpert",
             "kwargs": {"hosted": hosted, "serving": {**serving, "prefix": prefix}}} for s in specs]


def test_served_shape_world_experts_give_the_in_process_episode(ray_local):
    specs = load_preset("synthetic", "experts")["experts"]
    local = gym.make("ImagePoser-v0")
    served = gym.make("ImagePoser-v0", experts=_served(specs, SERVING))
    assert all(isinstance(e, ServedExpert) for e in served.unwrapped.registry)
    assert [e.kind for e in served.unwrapped.registry] == [e.kind for e in local.unwrapped.registry]  # asked of the server
    actions = [0, 5, 8, 11, 2, 7, 3]
    for seed in (1, 2):
        a, b = _episode(local, actions, seed), _episode(served, actions, seed)
        assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0])) and a[1] == b[1]
        assert a[2][-1]["verdict"] == b[2][-1]["verdict"]
    server = served.unwrapped.registry[0]._proxy.handle()
    before = ray_local.get(server.stats.remote())
    assert before["pid"] != os.getpid() and before["calls"] == 2 * len(actions)  # the experts ran in the server

    @ray_local.remote(num_cpus=0)
    def episode_elsewhere():  # another env, in another process: an env runner's case
        env = gym.make("ImagePoser-v0", experts=_served(specs, SERVING))
        return _episode(env, actions, 1)[0], os.getpid()

    frames, pid = ray_local.get(episode_elsewhere.remote())
    after = ray_local.get(server.stats.remote())
    assert pid != os.getpid() and all(np.array_equal(x, y) for x, y in zip(frames, _episode(local, actions, 1)[0]))
    assert after["pid"] == before["pid"] and after["calls"] == before["calls"] + len(actions)  # one server for both
    assert after["built"] == before["built"]  # nothing built twice


def test_preset_serving_real_models_same_images_one_server_per_base(ray_local, tmp_path, tiny):
    experts = f"""
        [[experts]]
        name = "tiny-t2i"
        type = "t2i"
        model = "{tiny['sd']}"
        steps = 2
        resolution = 32

        [[experts]]
        name = "tiny-img2img"
        type = "img2img"
        model = "{tiny['sd']}"
        cost = 0.8
        steps = 2
        strength = 0.5
        resolution = 32
    """
    plain = write_preset(tmp_path, tiny, "plain.toml", experts=experts, extractor='type = "grammar"')
    served = write_preset(tmp_path, tiny, "served.toml", experts=experts, extractor='type = "grammar"',
                          extra="[serving]\nnum_cpus = 0\ntimeout_s = 120\nprefix = \"test-preset\"")
    kwargs = load_real_preset(served).env_kwargs
    assert {e["entry_point"] for e in kwargs["experts"]} == {"poser_env.backends.serving:ServedExpert"}
    env_a, env_b = make_env(plain), make_env(served)
    reg = env_b.registry
    assert isinstance(env_b.critic, ServedCritic) and env_b.critic.model_id == str(tiny["vlm"])
    assert reg["tiny-t2i"].server == reg["tiny-img2img"].server != env_b.critic.server  # one copy of the base model
    assert (reg["tiny-t2i"].kind, reg["tiny-img2img"].kind, reg["tiny-img2img"].cost) == ("t2i", "i2i", 0.8)
    a, b = _episode(env_a, [0, 1, 1], seed=5), _episode(env_b, [0, 1, 1], seed=5)
    assert len(a[0]) == len(b[0]) > 1
    assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0])) and a[1] == b[1]
    assert [i["verdict"] for i in a[2]] == [i["verdict"] for i in b[2]]
    assert all("error" not in i for i in b[2])


def test_a_served_expert_that_dies_or_hangs_is_a_failed_step_then_restarted(ray_local, tmp_path):
    flag = tmp_path / "fault"
    inner = load_preset("synthetic", "experts")["experts"][0]
    spec = {"name": "flaky", "entry_point": "tests.backends.faulty_experts:FlakyExpert",
            "kwargs": {"flag": str(flag), "inner": inner}}
    env = gym.make("ImagePoser-v0", experts=_served([spec], {"num_cpus": 0, "timeout_s": 3, "max_restarts": -1}, "test-faults"))
    expert = env.unwrapped.registry[0]
    env.reset(seed=0)
    pid = ray_local.get(expert._proxy.handle().ping.remote())
    _, _, _, _, info = env.step(0)
    assert "error" not in info
    for fault, words in (("exit", "its server died"), ("sleep", "did not answer within 3 s")):
        env.reset(seed=1)
        flag.write_text(fault)
        _, reward, _, _, info = env.step(0)  # the episode goes on, with a failed step
        assert words in info["error"] and info["command_passed"] is False and np.isfinite(reward)
        env.reset(seed=2)
        _, _, _, _, info = env.step(0)  # the restarted server answers
        assert "error" not in info, info.get("error")
        new_pid = ray_local.get(expert._proxy.handle().ping.remote())
        assert new_pid != pid
        pid = new_pid
    assert expert._proxy.failures == 2


def test_a_registry_entry_names_a_running_server(ray_local):
    from poser_env.backends.serving import start_server

    spec = load_preset("synthetic", "experts")["experts"][3]
    start_server("test-named-server", {"painter": spec}, {"num_cpus": 0})
    entry = {"name": "painter", "entry_point": "poser_env.backends.serving:ServedExpert",
             "kwargs": {"server": "test-named-server", "serving": {"timeout_s": 60}}}
    served = gym.make("ImagePoser-v0", experts=[entry])
    local = gym.make("ImagePoser-v0", experts=[spec])
    assert served.unwrapped.registry[0].kind == local.unwrapped.registry[0].kind  # read from the server
    a, b = _episode(local, [0, 0, 0], seed=4), _episode(served, [0, 0, 0], seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0])) and a[1] == b[1]


def test_a_missing_server_is_one_clear_error(ray_local):
    with pytest.raises(RegistryError, match="no served component 'nobody-serves-this'"):
        ServedExpert("x", server="nobody-serves-this", kind="t2i", cost=1.0).__call__("draw", None, np.random.default_rng(0))
    assert server_name({"a": {"name": "a", "entry_point": "m:C"}}) == server_name({"a": {"name": "a", "entry_point": "m:C"}})


def test_serving_table_is_checked_and_cannot_name_a_ray_address(tmp_path, tiny):
    for extra, words in (('[serving]\naddress = "10.0.0.1:6379"', "caller's choice"),
                         ("[serving]\nnum_gpus = -1", "must be >= 0"),
                         ("[serving]\nbogus = 1", "unknown serving setting")):
        with pytest.raises(RegistryError, match=words):
            load_real_preset(write_preset(tmp_path, tiny, "bad.toml", extra=extra))
