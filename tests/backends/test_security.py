"""Security: presets are data, checkpoint code and pickles are refused unless asked for."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from poser_env.backends.models import ModelLoadError, ModelRef
from poser_env.backends.pool import ModelPool
from poser_env.backends.preset import PresetError, load_real_preset, make_env
from poser_env.types import Canvas, Check
from tests.backends.conftest import write_preset

EVIL = "import pathlib\npathlib.Path({marker!r}).write_text('pwned')\n"


def test_trust_remote_code_is_off_by_default(tiny_preset):
    assert ModelRef("x/y").trust_remote_code is False
    p = load_real_preset(tiny_preset)
    refs = [e["kwargs"]["model"] for e in p.env_kwargs["experts"]]
    refs += [p.env_kwargs["critic"]["kwargs"]["model"], p.env_kwargs["extractor"]["kwargs"]["model"],
             p.env_kwargs["evaluator"]["kwargs"]["judge"]["model"]]
    assert all(r["trust_remote_code"] is False and r["use_safetensors"] is True for r in refs)


def test_checkpoint_code_is_not_run_without_trust_remote_code(tmp_path, tiny):
    from poser_env.backends.vlm_critic import VLMCritic

    folder = tmp_path / "custom-code-vlm"
    shutil.copytree(tiny["vlm"], folder)
    marker = tmp_path / "code-ran"
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {"AutoConfig": "configuration_evil.EvilConfig", "AutoModelForImageTextToText": "modeling_evil.EvilModel"}
    cfg["model_type"] = "evil-vlm"
    (folder / "config.json").write_text(json.dumps(cfg))
    for name in ("configuration_evil.py", "modeling_evil.py"):
        (folder / name).write_text(EVIL.format(marker=str(marker)))
    critic = VLMCritic(str(folder), pool=ModelPool({"device": "cpu"}))
    check = Check("Is there a red circle?", "object", {"kind": "question", "text": "x"})
    with pytest.raises(ModelLoadError, match="trust_remote_code"):
        critic.critique(Canvas(image=np.zeros((64, 64, 3), np.uint8)), [check])
    assert not marker.exists()


@pytest.mark.parametrize("use_safetensors", [True, False])
def test_pickled_weights_refused_or_loaded_weights_only(tmp_path, tiny, use_safetensors):
    import torch

    from poser_env.backends.clip_critic import ClipScorer

    class Evil:
        def __reduce__(self):
            return (open, (str(tmp_path / "pickle-ran"), "w"))

    folder = tmp_path / "pickled-clip"
    shutil.copytree(tiny["clip"], folder)
    (folder / "model.safetensors").unlink()
    torch.save({"text_model.embeddings.token_embedding.weight": Evil()}, folder / "pytorch_model.bin")
    scorer = ClipScorer({"path": str(folder), "use_safetensors": use_safetensors}, pool=ModelPool({"device": "cpu"}))
    with pytest.raises(ModelLoadError) as err:
        scorer.cosine(np.zeros((32, 32, 3), np.uint8), ["a cat"])
    if use_safetensors:
        assert "safetensors" in str(err.value)
    else:
        assert "weights_only" in str(err.value) or "Unpickl" in str(err.value)
    assert not (tmp_path / "pickle-ran").exists()


def test_entry_points_are_refused_without_the_allow_flag(tmp_path, tiny):
    critic = 'entry_point = "poser_env.critics.synthetic:PixelCritic"'
    preset = write_preset(tmp_path, tiny, critic=critic, extractor='type = "grammar"')
    with pytest.raises(PresetError, match="allow_entry_points=True"):
        load_real_preset(preset)
    env = make_env(preset, allow_entry_points=True, max_steps=1)
    assert type(env.critic).__name__ == "PixelCritic"
    env.reset(seed=0, options={"prompt": "A red circle."})
    assert "error" not in env.step(0)[-1]

    custom = ('[[experts]]\nname = "shapes"\nentry_point = "poser_env.experts.synthetic:ShapeWorldExpert"\n'
              'kwargs = { kind = "t2i", cost = 0.5 }\n')
    preset = write_preset(tmp_path, tiny, name="custom.toml", experts=custom, extractor='type = "grammar"')
    with pytest.raises(PresetError, match="allow_entry_points=True"):
        load_real_preset(preset)
    env = make_env(preset, allow_entry_points=True, max_steps=1)
    assert env.expert_names == ["shapes"] and env.registry[0].cost == 0.5

    expert = '[[experts]]\nname = "x"\nentry_point = "os:system"\nkwargs = "rm -rf /"\n'
    with pytest.raises(PresetError, match="'os:system'.*allow_entry_points"):
        load_real_preset(write_preset(tmp_path, tiny, name="e.toml", experts=expert))
    mask = f'[[experts]]\nname = "m"\ntype = "inpaint"\nmodel = "{tiny["inpaint"]}"\nmask = {{ entry_point = "os:getcwd" }}\n'
    with pytest.raises(PresetError, match="mask"):
        load_real_preset(write_preset(tmp_path, tiny, name="m.toml", experts=mask))
    safety = '[safety]\nentry_point = "os:getcwd"\n'
    with pytest.raises(PresetError, match="safety"):
        load_real_preset(write_preset(tmp_path, tiny, name="s.toml", extra=safety))


def test_a_preset_cannot_grant_itself_the_allow_flag(tmp_path, tiny):
    preset = write_preset(tmp_path, tiny)
    preset.write_text("allow_entry_points = true\n" + preset.read_text())
    with pytest.raises(PresetError, match="never the preset's"):
        load_real_preset(preset)


def test_the_evaluator_may_not_silently_be_the_critic(tmp_path, tiny):
    same = f'type = "vlm"\nmodel = "{tiny["vlm"]}"'
    with pytest.raises(PresetError, match="is the critic's"):
        load_real_preset(write_preset(tmp_path, tiny, evaluator=same))
    preset = write_preset(tmp_path, tiny, name="same.toml", evaluator=same + "\nallow_same_model = true", extractor='type = "grammar"')
    env = make_env(preset, max_steps=1)
    env.reset(seed=0, options={"prompt": "A red circle."})
    *_, info = env.step(0)
    assert info["episode_summary"]["evaluator"]["same_as_critic"] is True


def test_bad_preset_fields_are_named(tmp_path, tiny):
    with pytest.raises(PresetError, match="type 'dalle'"):
        load_real_preset(write_preset(tmp_path, tiny, experts=f'[[experts]]\nname = "x"\ntype = "dalle"\nmodel = "{tiny["sd"]}"\n'))
    with pytest.raises(PresetError, match="needs a 'model'"):
        load_real_preset(write_preset(tmp_path, tiny, name="b.toml", experts='[[experts]]\nname = "x"\ntype = "t2i"\n'))
    with pytest.raises(PresetError, match="unknown model field"):
        load_real_preset(write_preset(tmp_path, tiny, name="c.toml", critic=f'type = "vlm"\nmodel = {{ path = "{tiny["vlm"]}", trust = true }}'))
    with pytest.raises(PresetError, match="max_on_device"):
        load_real_preset(write_preset(tmp_path, tiny, name="d.toml", pool="max_on_device = 0"))
    with pytest.raises(PresetError, match=r"\[env\]"):
        load_real_preset(_with_env(tmp_path, tiny))


def _with_env(tmp_path, tiny):
    p = write_preset(tmp_path, tiny, name="g.toml")
    p.write_text(p.read_text().replace("max_steps = 4", "max_steps = 4\ncritic = 3"))
    return p
