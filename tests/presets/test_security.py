"""Security: presets are data, checkpoint code and pickles are refused unless asked for."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from poser_env.backends.models import ModelLoadError, ModelRef
from poser_env.backends.pool import ModelPool
from poser_env.presets import PresetError, load_real_preset, make_env
from poser_env.types import Canvas, Check
from tests.backends.fixtures import write_preset

pytest.importorskip("diffusers", reason="the real backends need the 'real' extra: pip install -e .[real]")

EVIL = "import pathlib\npathlib.Path({marker!r}).write_text('pwned')\n"


def test_trust_remote_code_is_off_by_default(tiny_preset):
    assert ModelRef("x/y").trust_remote_code is False
    p = load_real_preset(tiny_preset)
    refs = [e["kwargs"]["model"] for e in p.env_kwargs["experts"]]
    refs += [
        p.env_kwargs["critic"]["kwargs"]["model"],
        p.env_kwargs["extractor"]["kwargs"]["model"],
        p.env_kwargs["evaluator"]["kwargs"]["judge"]["model"],
    ]
    assert all(r["trust_remote_code"] is False and r["use_safetensors"] is True for r in refs)


def test_checkpoint_code_is_not_run_without_trust_remote_code(tmp_path, tiny):
    from poser_env.critics.vlm import VLMCritic

    folder = tmp_path / "custom-code-vlm"
    shutil.copytree(tiny["vlm"], folder)
    marker = tmp_path / "code-ran"
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {
        "AutoConfig": "configuration_evil.EvilConfig",
        "AutoModelForImageTextToText": "modeling_evil.EvilModel",
    }
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

    from poser_env.critics.clip import ClipScorer

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

    custom = (
        '[[experts]]\nname = "shapes"\nentry_point = "poser_env.experts.synthetic:ShapeWorldExpert"\n'
        'kwargs = { kind = "t2i", cost = 0.5 }\n'
    )
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
    preset = write_preset(
        tmp_path, tiny, name="same.toml", evaluator=same + "\nallow_same_model = true", extractor='type = "grammar"'
    )
    env = make_env(preset, max_steps=1)
    env.reset(seed=0, options={"prompt": "A red circle."})
    *_, info = env.step(0)
    assert info["episode_summary"]["evaluator"]["same_as_critic"] is True


def test_bad_preset_fields_are_named(tmp_path, tiny):
    with pytest.raises(PresetError, match="type 'dalle'"):
        load_real_preset(
            write_preset(tmp_path, tiny, experts=f'[[experts]]\nname = "x"\ntype = "dalle"\nmodel = "{tiny["sd"]}"\n')
        )
    with pytest.raises(PresetError, match="needs a 'model'"):
        load_real_preset(write_preset(tmp_path, tiny, name="b.toml", experts='[[experts]]\nname = "x"\ntype = "t2i"\n'))
    with pytest.raises(PresetError, match="unknown model field"):
        load_real_preset(
            write_preset(
                tmp_path,
                tiny,
                name="c.toml",
                critic=f'type = "vlm"\nmodel = {{ path = "{tiny["vlm"]}", trust = true }}',
            )
        )
    with pytest.raises(PresetError, match="max_on_device"):
        load_real_preset(write_preset(tmp_path, tiny, name="d.toml", pool="max_on_device = 0"))
    with pytest.raises(PresetError, match=r"\[env\]"):
        load_real_preset(_with_env(tmp_path, tiny))


def _with_env(tmp_path, tiny):
    p = write_preset(tmp_path, tiny, name="g.toml")
    p.write_text(p.read_text().replace("max_steps = 4", "max_steps = 4\ncritic = 3"))
    return p


# -- issue 10, items 3 and 4: a preset cannot switch on code by itself -----------------------


def _plain_preset(tmp_path, name="p.toml", models="", critic_model='"./models/vlm"', env='text_encoder = "hash"'):
    """A preset whose models are local folders that need not exist: nothing here loads a model."""
    path = tmp_path / name
    path.write_text(
        "\n".join(
            [
                '[preset]\nname = "plain"',
                f"[env]\n{env}",
                f"[models]\n{models}",
                '[[experts]]\nname = "t2i"\ntype = "t2i"\nmodel = "./models/sd"',
                f'[critic]\ntype = "vlm"\nmodel = {critic_model}',
                '[evaluator]\ntype = "vlm"\nmodel = "./models/vlm-b"',
                '[extractor]\ntype = "grammar"',
            ]
        )
    )
    return path


def _evil_model(tmp_path, marker):
    folder = tmp_path / "models" / "evil"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(
        json.dumps({"model_type": "evil", "auto_map": {"AutoModel": "modeling_evil.Evil"}})
    )
    (folder / "modeling_evil.py").write_text(EVIL.format(marker=str(marker)))
    return folder


@pytest.mark.parametrize("where", ["inline", "models"])
def test_a_preset_cannot_switch_on_trust_remote_code(tmp_path, capsys, where):
    import gymnasium as gym

    from poser_agents.cli import main as poser

    marker = tmp_path / "code-ran"
    _evil_model(tmp_path, marker)
    if where == "inline":
        preset = _plain_preset(tmp_path, critic_model='{ path = "./models/evil", trust_remote_code = true }')
        named = "[critic]"
    else:
        preset = _plain_preset(
            tmp_path, models='evil = { path = "./models/evil", trust_remote_code = true }', critic_model='"evil"'
        )
        named = "[models].evil"
    with pytest.raises(PresetError, match=rf"{re.escape(named)} sets trust_remote_code = true .*--trust-remote-code"):
        load_real_preset(preset)
    with pytest.raises(PresetError, match="trust_remote_code"):
        gym.make("ImagePoser-Diffusers-v0", preset=str(preset))
    assert poser(["bench", "env", "--preset", str(preset), "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--trust-remote-code" in err
    # `poser experts` lists what asks for it, and says it is refused without the flag.
    assert poser(["experts", "--preset", str(preset), "--json"]) == 0
    out = capsys.readouterr().out
    assert "ask for trust_remote_code" in out and "refused unless you pass --trust-remote-code" in out
    assert json.loads(out.strip().splitlines()[-1])["trust_remote_code_asked"] == [
        f"{named}: {tmp_path / 'models' / 'evil'}"
    ]
    assert not marker.exists()
    # The caller's flag allows it (the model would load at the first reset).
    built = load_real_preset(preset, trust_remote_code=True)
    assert built.env_kwargs["critic"]["kwargs"]["model"]["trust_remote_code"] is True


def test_a_preset_text_encoder_naming_code_needs_the_flag(tmp_path, capsys):
    from poser_agents.cli import main as poser

    preset = _plain_preset(tmp_path, env='text_encoder = "os:abort"')  # would kill the process if called
    with pytest.raises(
        PresetError, match=r"\[env\]: env setting 'text_encoder' is the Python callable 'os:abort'.*allow-entry-points"
    ):
        load_real_preset(preset)
    assert poser(["experts", "--preset", str(preset)]) == 2
    assert "os:abort" in capsys.readouterr().err
    assert load_real_preset(preset, allow_entry_points=True).env_kwargs["text_encoder"] == "os:abort"
