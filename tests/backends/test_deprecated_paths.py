"""The old import paths of the moved components warn, name the new path, and re-export the very
same objects until the next release (docs/real-models.md, "Deprecated import paths")."""

from __future__ import annotations

import importlib
import sys

import pytest

MOVED = {
    "poser_env.backends.vlm_critic": ("poser_env.critics.vlm", "VLMCritic"),
    "poser_env.backends.clip_critic": ("poser_env.critics.clip", "CLIPCritic"),
    "poser_env.backends.diffusers_experts": ("poser_env.experts.diffusion", "DiffusersExpert"),
    "poser_env.backends.masks": ("poser_env.experts.masks", "WordsMask"),
    "poser_env.backends.safety": ("poser_env.experts.safety", "SafetyRejection"),
    "poser_env.backends.llm_extractor": ("poser_env.extractors.llm", "LLMExtractor"),
    "poser_env.backends.evaluator": ("poser_env.evaluators.model_judge", "ModelEvaluator"),
    "poser_env.backends.preset": ("poser_env.presets", "make_env"),
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_warns_and_reexports_the_same_objects(old: str, monkeypatch: pytest.MonkeyPatch) -> None:
    new_name, public = MOVED[old]
    new = importlib.import_module(new_name)
    monkeypatch.delitem(sys.modules, old, raising=False)  # a fresh import, which is when it warns
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated .* import {new_name} instead"):
        mod = importlib.import_module(old)
    assert getattr(mod, public) is getattr(new, public)
    # Every name of the new module, private helpers included, is the same object through the old path.
    for name in vars(new):
        if not name.startswith("__"):
            assert getattr(mod, name) is getattr(new, name), name
    assert public in dir(mod)
    with pytest.raises(AttributeError, match=f"{old}.*now {new_name!r}.*no attribute 'nope'"):
        mod.nope  # noqa: B018


def test_a_spec_naming_an_old_path_still_builds() -> None:
    from poser_env.experts.masks import RegionMask
    from poser_env.registry import build

    with pytest.warns(DeprecationWarning):
        sys.modules.pop("poser_env.backends.masks", None)
        mask = build(
            {"name": "m", "entry_point": "poser_env.backends.masks:RegionMask", "kwargs": {"box": [0, 0, 0.5, 0.5]}}
        )
    assert type(mask) is RegionMask


def test_the_builtin_entry_points_name_the_new_paths() -> None:
    import gymnasium as gym

    import poser_env
    from poser_env import presets

    assert gym.spec(poser_env.REAL_ENV_ID).entry_point == "poser_env.presets:make_env"
    for entry in [
        presets.EXPERT_ENTRY,
        presets.EVALUATOR_ENTRY,
        *presets.CRITIC_ENTRIES.values(),
        *presets.EXTRACTOR_ENTRIES.values(),
    ]:
        assert ".backends." not in entry, entry
