"""Drift: the hidden per-episode degradation of experts (ImagePoser-Drift-v0 and -v1).

At reset the env draws which experts are *degraded* this episode (as when a served model's
version or load changes); a degraded expert's call then fails with probability ``drift_fail``:
silently (the canvas comes back unchanged, v0) or, with ``drift_visible``, as an error the
agent sees once (no image comes back, v1). The draw is hidden from the agent; the episode
summary's ``degraded`` names it. Every draw comes from the env's generator, and none at all
is made when ``drift_p`` is 0, so the drift-free levels' episodes do not depend on this code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from poser_env.config import EnvConfig


class ProviderDown(RuntimeError):
    """A degraded expert's call on a level with ``drift_visible``: no image came back."""


def draw_degraded(
    config: EnvConfig,
    rng: np.random.Generator,
    providers: Sequence[str | None],
    provider_names: Sequence[str],
    modalities: Sequence[str],
) -> tuple[bool, ...]:
    """Per expert, whether it is degraded this episode (empty when the drift is off).

    ``drift_unit="expert"``: each expert on its own with probability ``drift_p``.
    ``"provider"``: one provider of ``provider_names`` drawn uniformly, down with probability
    ``drift_p``, and with it every expert it serves. ``drift_modality`` then keeps only the
    experts of one modality (the draws are made for every expert either way)."""
    if config.drift_p <= 0:
        return ()
    if config.drift_unit == "provider":
        down = provider_names[int(rng.integers(len(provider_names)))]
        hit = bool(rng.random() < config.drift_p)
        draws = np.array([hit and p == down for p in providers])
    else:
        draws = rng.random(len(providers)) < config.drift_p
    only = config.drift_modality  # "all", or the one modality that drifts
    return tuple(bool(x) and only in ("all", m) for x, m in zip(draws, modalities))


def fails(config: EnvConfig, rng: np.random.Generator, degraded: Sequence[bool], action: int) -> bool:
    """Whether this call of expert ``action`` fails because of the drift (one draw from
    ``rng`` if the expert is degraded, none otherwise)."""
    return bool(degraded) and bool(degraded[action]) and bool(rng.random() < config.drift_fail)
