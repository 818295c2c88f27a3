"""Shared model machinery of the real-model components: loading, the model pool, chat, serving.

Everything here imports torch, diffusers or transformers lazily (inside functions), so
``import poser_env`` and the synthetic world never pay for them. The components themselves live
with their role, beside the synthetic ones: experts in :mod:`poser_env.experts` (``diffusion``,
``masks``, ``safety``), critics in :mod:`poser_env.critics` (``vlm``, ``clip``), the LLM
extractor in :mod:`poser_env.extractors.llm`, the model evaluator in
:mod:`poser_env.evaluators.model_judge`, presets in :mod:`poser_env.presets`. Here:

- :mod:`.models`: how a model reference is loaded (hub id or local folder, revision, dtype,
  ``trust_remote_code`` off by default, safetensors only by default).
- :mod:`.pool`: the shared model pool (lazy loading, ``from_pipe`` weight sharing, an LRU of
  models on the accelerator with the rest offloaded to CPU).
- :mod:`.chat`: a chat model wrapper (the LLM extractor and planner use it).
- :mod:`.serving`: experts and critics served by Ray actors.

The old paths (``poser_env.backends.vlm_critic`` and the others) still import, with a
``DeprecationWarning``, until the next release. See ``docs/real-models.md``.
"""
