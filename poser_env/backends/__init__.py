"""Real-model backends: diffusers experts, VLM and CLIP critics, an LLM command extractor.

Everything here imports torch, diffusers or transformers lazily (inside functions), so
``import poser_env`` and the synthetic world never pay for them. One module per job:

- :mod:`.models`: how a model reference is loaded (hub id or local folder, revision, dtype,
  ``trust_remote_code`` off by default, safetensors only by default).
- :mod:`.pool`: the shared model pool (lazy loading, ``from_pipe`` weight sharing, an LRU of
  models on the accelerator with the rest offloaded to CPU).
- :mod:`.diffusers_experts` and :mod:`.masks`: T2I, img2img, InstructPix2Pix and inpainting
  experts, and the inpainting mask providers.
- :mod:`.vlm_critic`, :mod:`.clip_critic`, :mod:`.evaluator`: critics and the model evaluator.
- :mod:`.chat` and :mod:`.llm_extractor`: a chat model wrapper and the LLM command extractor.
- :mod:`.safety`: the safety check hook (off by default).
- :mod:`.preset`: TOML presets, ``ImagePoser-Diffusers-v0`` and ``poser experts --preset``.

See ``docs/real-models.md``.
"""
