"""ImagePoser: a Gymnasium environment for orchestrating image-generation and editing experts.

``import poser_env`` registers the environment ids (``gym.make("ImagePoser-v0")``); it stays
light: numpy, pillow, scipy and gymnasium only. Model backends import their libraries lazily.
"""

from gymnasium.envs.registration import register, registry

from poser_env.deprecation import show_deprecations

show_deprecations()  # renamed options and paths warn visibly (poser_env/deprecation.py)

__version__ = "0.1.0"

#: Drift by provider: one of two providers down per episode (docs/env.md, version history).
_DRIFT_BY_PROVIDER = {
    "experts": "synthetic_providers",
    "drift_unit": "provider",
    "drift_p": 1.0,
    "drift_fail": 1.0,
    "max_attempts": 4,
    "drift_modality": "all",
}

#: Registered ids and their plain-data kwargs (Gymnasium's EnvSpec must stay serialisable).
ENV_IDS: dict[str, dict] = {
    "ImagePoser-v0": {"suite": "mixed"},
    "ImagePoser-Gen-v0": {"suite": "generation"},
    "ImagePoser-Edit-v0": {"suite": "editing"},
    # The harder levels (docs/env.md, "Levels"; docs/benchmark.md). ImagePoser-v0 is unchanged.
    "ImagePoser-Hard-v0": {"suite": "hard", "experts": "synthetic_hard", "cost_budget": 30.0, "max_steps": 32},
    "ImagePoser-Drift-v0": {"suite": "mixed", **_DRIFT_BY_PROVIDER},
    # Drift-v1: the same drift on the hard suite's long tasks, a down provider's calls answer with
    # an error seen once, no step count in the observation, and a terminal deadline per task of its
    # commands + 5 steps, so that remembering which provider is down pays (docs/env.md).
    "ImagePoser-Drift-v1": {
        "suite": "hard",
        **_DRIFT_BY_PROVIDER,
        "max_steps": 32,
        "drift_visible": True,
        "observe_step_count": False,
        "step_slack": 5,
    },
    # v1: the task distribution changed (the v0 suites plus prompts in the forms people write,
    # poser_env/world/suites/forms.py); the v0 ids above are unchanged (docs/env.md, version history).
    "ImagePoser-v1": {"suite": "mixed_v1"},
    "ImagePoser-Gen-v1": {"suite": "generation_v1"},
    "ImagePoser-Edit-v1": {"suite": "editing_v1"},
}

for _id, _kwargs in ENV_IDS.items():
    if _id not in registry:
        register(id=_id, entry_point="poser_env.env:ImagePoserEnv", kwargs=dict(_kwargs))

#: The real-model env: diffusers experts, a VLM critic, a model evaluator and an LLM extractor,
#: all named by a TOML preset (``gym.make("ImagePoser-Diffusers-v0", preset="my.toml")``; see
#: docs/real-models.md). Nondeterministic: GPU kernels differ in the last bits between runs.
REAL_ENV_ID = "ImagePoser-Diffusers-v0"
if REAL_ENV_ID not in registry:
    register(
        id=REAL_ENV_ID, entry_point="poser_env.presets:make_env", kwargs={"preset": "real12"}, nondeterministic=True
    )


def __getattr__(name: str):
    # ``from poser_env import ImagePoserEnv`` without importing the env module at package import.
    if name == "ImagePoserEnv":
        from poser_env.env import ImagePoserEnv

        return ImagePoserEnv
    raise AttributeError(f"module 'poser_env' has no attribute {name!r}")
