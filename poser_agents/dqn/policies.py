"""Q-network pieces for ImagePoser's Dict observation, and the masked DQN policy.

Two things live here:

1. :class:`PoserFeaturesExtractor`, a features extractor for the env's ``Dict`` of flat
   ``Box`` es (``docs/env.md``). Each *large* key (the three text embeddings, 128 each with
   the ``hash`` encoder or 384 with ``minilm``, and the 215 image features) goes through its
   own small encoder ``Linear -> LayerNorm -> ReLU`` down to ``embed_dim`` features; the
   *small* keys (``verdict`` 18, ``command`` 10, ``progress`` 5, ``tried`` n_actions) are
   already in ``[0, 1]`` and informative coordinate by coordinate, so they are concatenated
   as they are. Per-key encoders stop the 600-odd embedding coordinates from drowning the
   few bits that matter most (command kind, attempts, experts tried), and LayerNorm keeps
   the hashed embeddings (unit norm, spread over 128 buckets) on the scale of the rest.

   ``action_mask`` is **excluded** by default: masking is applied to the Q-values
   (acting, exploring and the TD target, see :mod:`poser_agents.dqn.masked_dqn`), so the
   network never needs to learn what is allowed, and a Q-value of an allowed action does not
   depend on which *other* actions are allowed now. Set ``include_mask=True`` to feed it in
   (e.g. if a future env's mask carries information about the future, like a DEFER used up).

2. :class:`MaskedQNetwork` / :class:`MaskedDQNPolicy`: SB3's ``QNetwork`` and
   ``MultiInputPolicy`` whose greedy action is the argmax over *allowed* actions only
   (``Q`` of masked actions set to ``-inf``), read from the observation's ``action_mask``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_flattened_obs_dim, is_image_space
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import PyTorchObs
from stable_baselines3.common.utils import is_vectorized_observation
from stable_baselines3.dqn.policies import MultiInputPolicy, QNetwork
from torch import nn
from torch.nn import functional as F

MASK_KEY = "action_mask"


def mask_q_values(q_values: th.Tensor, mask: th.Tensor | None) -> th.Tensor:
    """``q_values`` with masked actions set to ``-inf`` (rows with no allowed action left as they are).

    ``mask`` is ``(batch, n_actions)``, any dtype, non-zero meaning allowed; ``None`` means all allowed.
    A row where nothing is allowed should never happen; it is left unmasked rather than all
    ``-inf`` so that an argmax or a max never yields garbage or NaN.
    """
    if mask is None:
        return q_values
    allowed = mask.reshape(q_values.shape).bool()
    allowed = allowed | ~allowed.any(dim=1, keepdim=True)
    return q_values.masked_fill(~allowed, float("-inf"))


class PoserFeaturesExtractor(BaseFeaturesExtractor):
    """Per-key encoders for the ImagePoser observation, concatenated.

    :param observation_space: the env's ``Dict`` observation space (flat boxes).
    :param embed_dim: output size of the encoder of each large key.
    :param small_max: keys with at most this many entries are passed through as they are;
        larger ones get a ``Linear -> LayerNorm -> ReLU`` encoder.
    :param include_mask: feed ``action_mask`` to the network too (off by default, see the
        module docstring).
    """

    def __init__(
        self, observation_space: spaces.Dict, embed_dim: int = 64, small_max: int = 32, include_mask: bool = False
    ):
        super().__init__(observation_space, features_dim=1)  # the real size is set below
        if not isinstance(observation_space, spaces.Dict):
            raise TypeError(
                f"PoserFeaturesExtractor needs a Dict observation space, got {type(observation_space).__name__}"
            )
        self.embed_dim = int(embed_dim)
        self.small_max = int(small_max)
        self.include_mask = bool(include_mask)
        encoders: dict[str, nn.Module] = {}
        size = 0
        # Sorted keys: the layout of the features does not depend on the Dict's insertion order.
        for key in sorted(observation_space.spaces):
            if key == MASK_KEY and not include_mask:
                continue
            n = get_flattened_obs_dim(observation_space.spaces[key])
            if n <= self.small_max:
                encoders[key] = nn.Flatten()
                size += n
            else:
                encoders[key] = nn.Sequential(
                    nn.Flatten(), nn.Linear(n, self.embed_dim), nn.LayerNorm(self.embed_dim), nn.ReLU()
                )
                size += self.embed_dim
        self.encoders = nn.ModuleDict(encoders)
        self._features_dim = size
        # (key, Linear, LayerNorm) per key, None for pass-through keys: read once, not per call.
        self._plan = [
            (key, (enc[1], enc[2]) if isinstance(enc, nn.Sequential) else None) for key, enc in self.encoders.items()
        ]

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        # The modules' own arithmetic, called functionally: module calls cost more than the
        # maths at these sizes (the same parameters and state_dict keys as the modules).
        out = []
        for key, layers in self._plan:
            x = observations[key]
            if x.dtype != th.float32 or x.dim() != 2:
                x = x.float().flatten(1)
            if layers is not None:
                lin, norm = layers
                x = F.relu(
                    F.layer_norm(
                        F.linear(x, lin.weight, lin.bias), norm.normalized_shape, norm.weight, norm.bias, norm.eps
                    )
                )
            out.append(x)
        return th.cat(out, dim=1)


def _needs_preprocessing(space: spaces.Dict) -> bool:
    """Whether SB3's ``preprocess_obs`` does more than ``.float()`` on some key (images,
    one-hot discrete spaces): :class:`PoserFeaturesExtractor` converts each key to float itself."""
    return any(not isinstance(s, (spaces.Box, spaces.MultiBinary)) or is_image_space(s) for s in space.spaces.values())


class MaskedQNetwork(QNetwork):
    """SB3's ``QNetwork`` whose greedy action ignores masked actions."""

    def extract_features(self, obs: PyTorchObs, features_extractor: BaseFeaturesExtractor) -> th.Tensor:
        # SB3 first converts every key to float (preprocess_obs), which PoserFeaturesExtractor
        # does itself for the keys it reads: skip the extra pass when that is all it would do.
        if isinstance(features_extractor, PoserFeaturesExtractor) and isinstance(obs, dict):
            if getattr(self, "_plain_obs", None) is None:
                self._plain_obs = isinstance(self.observation_space, spaces.Dict) and not _needs_preprocessing(
                    self.observation_space
                )
            if self._plain_obs:
                return features_extractor(obs)
        return super().extract_features(obs, features_extractor)

    def forward(self, obs: PyTorchObs) -> th.Tensor:
        # QNetwork.forward with the MLP's Linear/ReLU layers applied functionally (the same
        # arithmetic; module calls dominate at this size). Other layer types go through as modules.
        x = self.extract_features(obs, self.features_extractor)
        for layer in self.q_net:
            if type(layer) is nn.Linear:
                x = F.linear(x, layer.weight, layer.bias)
            elif type(layer) is nn.ReLU:
                x = F.relu(x)
            else:
                x = layer(x)
        return x

    def _predict(self, observation: PyTorchObs, deterministic: bool = True) -> th.Tensor:
        q_values = self(observation)
        mask = observation.get(MASK_KEY) if isinstance(observation, dict) else None
        # Masked greedy action: Q of masked actions is -inf before the argmax.
        return mask_q_values(q_values, mask).argmax(dim=1).reshape(-1)


#: Layers (and containers) that compute the same in train and eval mode.
_MODE_FREE = (
    nn.Linear,
    nn.LayerNorm,
    nn.ReLU,
    nn.Flatten,
    nn.Identity,
    nn.Sequential,
    nn.ModuleDict,
    nn.ModuleList,
    BaseFeaturesExtractor,
    QNetwork,
)


class MaskedDQNPolicy(MultiInputPolicy):
    """SB3's ``MultiInputPolicy`` for DQN with :class:`MaskedQNetwork` (online and target).

    ``policy.predict(obs)`` and ``policy._predict`` give the masked greedy action. The
    features extractor defaults to :class:`PoserFeaturesExtractor`.
    """

    def __init__(
        self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = PoserFeaturesExtractor, **kwargs: Any
    ):
        # Adam's multi-tensor ("foreach") update: the same arithmetic as the default per-tensor
        # loop on CPU, in a few kernels instead of one per parameter.
        kwargs["optimizer_kwargs"] = {"foreach": True, **(kwargs.get("optimizer_kwargs") or {})}
        self._mode_free: bool | None = None
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)

    @property
    def device(self) -> th.device:
        # SB3 walks the module tree for its first parameter at every predict; the optimizer's
        # first parameter is the same tensor (the online network's first), read directly.
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None and optimizer.param_groups and optimizer.param_groups[0]["params"]:
            return optimizer.param_groups[0]["params"][0].device
        return super().device

    def obs_to_tensor(self, observation: np.ndarray | dict[str, np.ndarray]) -> tuple[PyTorchObs, bool]:
        # SB3 deep-copies a dict observation, copies each array again and then makes tensors of
        # the copies. Flat boxes need none of it: each array is read (never written) as a
        # tensor view, with the same shape checks and batch dimension.
        space = self.observation_space
        if not isinstance(observation, dict) or not isinstance(space, spaces.Dict) or _needs_preprocessing(space):
            return super().obs_to_tensor(observation)
        device, vectorized, out = self.device, False, {}
        for key, obs in observation.items():
            sub = space.spaces[key]
            arr = np.asarray(obs)
            if not arr.flags.writeable:  # torch warns on read-only arrays
                arr = arr.copy()
            vectorized = vectorized or is_vectorized_observation(arr, sub)
            out[key] = th.as_tensor(arr.reshape((-1, *sub.shape)), device=device)  # type: ignore[misc]
        return out, vectorized

    def set_training_mode(self, mode: bool) -> None:
        # SB3 switches modes around every predict and every training phase; walking the module
        # tree costs more than a forward pass here. When every layer computes the same in both
        # modes (no dropout, no batch norm: the default networks), only the flag changes.
        if self._mode_free is None:
            self._mode_free = all(isinstance(m, _MODE_FREE) for m in self.modules() if m is not self)
        if self._mode_free:
            self.training = mode
            return
        super().set_training_mode(mode)

    def make_q_net(self) -> MaskedQNetwork:
        # Separate features extractors for the online and the target network, as in SB3.
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return MaskedQNetwork(**net_args).to(self.device)
