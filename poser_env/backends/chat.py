"""A transformers chat model, loaded through the pool: free text, or a choice among options.

Used by the LLM command extractor (free text, JSON expected) and the LLM planner baseline
(a constrained choice: each option is scored by the log-likelihood of its tokens after the
prompt, so the answer is always one of the options, whatever the model would have written).
The prompt format is the tokenizer's own chat template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from poser_env.backends.models import ModelRef
from poser_env.backends.pool import ModelPool, shared_pool

Messages = Sequence[Mapping[str, Any]]


class ChatModel:
    """A causal LM and its tokenizer (``AutoModelForCausalLM`` / ``AutoTokenizer``)."""

    def __init__(self, model: Any, pool: ModelPool | Mapping[str, Any] | None = None):
        self.ref = ModelRef.coerce(model)
        self.pool = pool if isinstance(pool, ModelPool) else shared_pool(pool)

    def load(self) -> tuple[Any, Any]:
        return self.pool.get("llm", self.ref, _load_llm, _place_first)

    def prompt(self, messages: Messages) -> str:
        _, tok = self.load()
        if getattr(tok, "chat_template", None) is None:
            raise ValueError(f"the tokenizer of {self.ref.path!r} has no chat template; use a chat/instruct checkpoint")
        return tok.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)

    def generate(self, messages: Messages, max_new_tokens: int = 256) -> str:
        """The model's greedy answer to a conversation (special tokens removed)."""
        import torch

        model, tok = self.load()
        text = self.prompt(messages)
        inputs = tok(text, return_tensors="pt", add_special_tokens=False).to(next(model.parameters()).device)
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            )
        return tok.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

    def option_logprobs(self, messages: Messages, options: Sequence[str]) -> np.ndarray:
        """Mean per-token log-likelihood of each option as the answer (one batched forward pass).

        The mean, not the sum, so that long expert names are not penalised for their length.
        Logits are computed only at the positions that predict option tokens (``logits_to_keep``
        with those positions: rows x longest option x vocabulary, instead of rows x whole prompt x
        vocabulary, about 1.5 GB in float16 for a dozen experts and a 150k vocabulary), and only
        the chosen tokens' log-probabilities leave the device."""
        import torch

        model, tok = self.load()
        prefix = self.prompt(messages)
        prefix_ids = tok(prefix, add_special_tokens=False)["input_ids"]
        rows = [prefix_ids + tok(o, add_special_tokens=False)["input_ids"] for o in options]
        width = max(len(r) for r in rows)
        pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        start = len(prefix_ids) - 1  # the position whose logits predict an option's first token
        if width - 1 <= start:
            return np.full(len(rows), -np.inf)
        device = next(model.parameters()).device
        keep = torch.arange(start, width - 1, device=device)
        with torch.inference_mode():
            logits = model(
                input_ids=ids.to(device), attention_mask=mask.to(device), logits_to_keep=keep, use_cache=False
            ).logits
            if tuple(logits.shape[:2]) != (len(rows), len(keep)):
                raise RuntimeError(
                    f"chat model {self.ref.path!r}: expected logits at {len(keep)} option positions, got shape {tuple(logits.shape)}"
                )
            logp = torch.log_softmax(logits.float(), dim=-1)
            targets = ids[:, start + 1 : width].to(device)
            chosen = logp.gather(-1, targets[..., None])[..., 0]
            valid = mask[:, start + 1 : width].to(device).bool()
            n = valid.sum(-1)
            mean = (chosen * valid).sum(-1) / n.clamp(min=1)
            scores = torch.where(n > 0, mean, torch.full_like(mean, -float("inf"))).cpu().numpy().astype(np.float64)
        return np.nan_to_num(scores, nan=-np.inf)


def _load_llm(ref: ModelRef, device_type: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kw = ref.load_kwargs(device_type)
    model = AutoModelForCausalLM.from_pretrained(ref.location(), trust_remote_code=ref.trust_remote_code, **kw).eval()
    tok = AutoTokenizer.from_pretrained(ref.location(), revision=ref.revision, trust_remote_code=ref.trust_remote_code)
    return model, tok


def _place_first(obj: Any, device: str) -> None:
    obj[0].to(device)
