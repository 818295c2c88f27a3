"""A critic, evaluator or extractor whose model cannot load fails the first reset with one clear
error (preset entry, model, fix), leaves no episode behind, and is retried at the next reset."""

from __future__ import annotations

import shutil

import pytest

from poser_env.backends.models import BackendLoadError, ModelLoadError
from poser_env.presets import make_env
from tests.backends.fixtures import write_preset

pytest.importorskip("diffusers", reason="the real backends need the 'real' extra: pip install -e .[real]")


def _corrupt_copy(src, dst):
    shutil.copytree(src, dst)
    (dst / "model.safetensors").write_bytes(b"not a safetensors file" * 10)
    return dst


@pytest.mark.parametrize("role", ["critic", "evaluator", "extractor"])
def test_a_missing_model_is_one_clear_error_at_reset(tmp_path, tiny, role):
    kinds = {"critic": "vlm", "evaluator": "vlm", "extractor": "llm"}
    preset = write_preset(tmp_path, tiny, **{role: f'type = "{kinds[role]}"\nmodel = "./no-such-{role}"'})
    env = make_env(preset, max_steps=2)  # models load lazily: building the env succeeds
    with pytest.raises(BackendLoadError) as err:
        env.reset(seed=0, options={"prompt": "A red circle."})
    msg = str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, ModelLoadError)
    assert f"[{role}]" in msg and f"no-such-{role}" in msg and str(preset) in msg and "poser experts" in msg
    assert "\n" not in msg and env._ep is None
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)


def test_a_corrupt_folder_fails_reset_then_a_fixed_one_loads(tmp_path, tiny):
    folder = _corrupt_copy(tiny["vlm_b"], tmp_path / "evaluator-vlm")
    preset = write_preset(tmp_path, tiny, evaluator=f'type = "vlm"\nmodel = "{folder}"', extractor='type = "grammar"')
    env = make_env(preset, max_steps=2)
    with pytest.raises(BackendLoadError, match=r"evaluator's model .*evaluator-vlm.*\[evaluator\]"):
        env.reset(seed=0, options={"prompt": "A red circle."})
    assert env._ep is None and env.before_first_reset is not None  # nothing half built; retried next time
    shutil.copy(tiny["vlm_b"] / "model.safetensors", folder / "model.safetensors")
    env.reset(seed=0, options={"prompt": "A red circle."})
    assert env._ep is not None and env.before_first_reset is None


def test_the_cli_prints_one_line(tmp_path, tiny, capsys):
    from poser_agents.cli import main

    folder = _corrupt_copy(tiny["clip"], tmp_path / "clip-critic")
    preset = write_preset(tmp_path, tiny, critic=f'type = "clip"\nmodel = "{folder}"', extractor='type = "grammar"')
    assert main(["bench", "env", "--preset", str(preset), "--steps", "2", "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("poser bench: error: preset ") and "[critic]" in err and "clip-critic" in err
    assert len(err.splitlines()) == 1
