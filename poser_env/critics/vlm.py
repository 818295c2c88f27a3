"""The vision-language critic: each check's question answered by P("yes") from next-token logits.

Any transformers image-text-to-text model loads through ``AutoProcessor`` and
``AutoModelForImageTextToText`` (LLaVA, Qwen2-VL, Idefics, PaliGemma, ...); the prompt is
built with the processor's own chat template, so each model is asked in the format it was
trained on. This is VQAScore / TIFA-style scoring:

- ``p_yes = P(yes) / (P(yes) + P(no))`` at the first answer token, where ``yes`` and ``no``
  sum over their spellings ("yes", "Yes", " yes", ...). The two-way ratio, not the raw
  probability, because chat models spread mass over "Sure", "The", "**" ...; 0.5 is "unsure".
  A check passes when ``p_yes >= threshold``; its confidence is ``max(p_yes, 1 - p_yes)``.
  Only tokens that decode to a whole spelling count (:func:`answer_token_ids`): with a
  SentencePiece vocabulary "YES" starts with the piece "Y", which would add the mass of every
  answer that starts with a Y to "yes".
- A score that is not finite (NaN from a float16 overflow) fails its check with a note saying
  so, and a warning: an unknown answer is never a pass.
- Questions are scored in batches of ``batch_size`` (one forward pass each, left padding), and
  the model computes logits for the last position only (``logits_to_keep=1``, no cache): with
  LLaVA-OneVision's image tiling a question is thousands of tokens long, and full-vocabulary
  logits at every position would cost gigabytes per batch.
- For the failed checks (at most ``max_notes``), one batched ``generate`` asks what the model
  sees instead; a short, readable answer becomes the check's note, which the env's reflection
  hands to the next expert. An empty or unreadable answer (a garbage-talking model) is
  dropped with a log line, and the reflection falls back to the plain list of failed checks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poser_env.backends.models import ModelRef
from poser_env.backends.pool import ModelPool, shared_pool
from poser_env.critics.base import Critic
from poser_env.types import Canvas, Check, CheckResult, Verdict

log = logging.getLogger(__name__)

YES_WORDS = ("yes", "Yes", " yes", " Yes", "YES")
NO_WORDS = ("no", "No", " no", " No", "NO")


@dataclass(frozen=True)
class VLMSettings:
    """How the critic asks and reads its model."""

    batch_size: int = 8
    """Questions per forward pass."""
    threshold: float = 0.5
    """A check passes when ``p_yes >= threshold``."""
    suffix: str = " Answer yes or no."
    """Appended to each question."""
    notes: bool = True
    """Generate a short "what I see instead" note for failed checks (costs one generate call)."""
    max_notes: int = 4
    """Failed checks that get a note (the reflection names at most four)."""
    note_tokens: int = 24
    """Length limit of a note, in tokens."""

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {self.batch_size!r}")
        if not 0.0 < float(self.threshold) < 1.0:
            raise ValueError(f"threshold must lie strictly between 0 and 1, got {self.threshold!r}")


class VLMScorer:
    """Loads a VLM through the pool and answers yes/no questions about an image."""

    def __init__(
        self, model: Any, pool: ModelPool | Mapping[str, Any] | None = None, settings: VLMSettings | None = None
    ):
        self.ref = ModelRef.coerce(model)
        self.pool = pool if isinstance(pool, ModelPool) else shared_pool(pool)
        self.settings = settings or VLMSettings()
        self._ids: tuple[list[int], list[int]] | None = None
        self.unusable_notes = 0

    def load(self) -> tuple[Any, Any]:
        """(model, processor), placed on the pool's device."""
        return self.pool.get("vlm", self.ref, _load_vlm, _place_first)

    def _prompt(self, processor: Any, text: str) -> str:
        if getattr(processor, "chat_template", None) is None:
            raise ValueError(
                f"the processor of {self.ref.path!r} has no chat template; use a chat/instruct VLM checkpoint"
            )
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
        return processor.apply_chat_template(messages, add_generation_prompt=True)

    def _inputs(self, processor: Any, model: Any, image: Any, texts: Sequence[str]) -> Any:
        """Model inputs for ``texts``, each about ``image`` (or about its own image, given a list)."""
        prompts = [self._prompt(processor, t) for t in texts]
        images = list(image) if isinstance(image, list) else [image] * len(prompts)
        inputs = processor(images=images, text=prompts, return_tensors="pt", padding=True)
        param = next(model.parameters())
        inputs = inputs.to(param.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(param.dtype)
        return inputs

    def _answer_ids(self, processor: Any) -> tuple[list[int], list[int]]:
        if self._ids is None:
            try:
                self._ids = answer_token_ids(processor.tokenizer)
            except ValueError as e:
                raise ValueError(f"the tokenizer of {self.ref.path!r}: {e}") from None
        return self._ids

    def p_yes(
        self, image: np.ndarray | None, questions: Sequence[str], images: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """P(yes) against P(no) for each question about ``image`` (uint8 H x W x 3), or, given
        ``images`` (one per question), each about its own image (several canvases in one batch)."""
        import torch
        from PIL import Image

        if not questions:
            return np.zeros(0)
        model, processor = self.load()
        if images is None:
            pil = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
        else:
            pils = {id(im): Image.fromarray(np.asarray(im, dtype=np.uint8)).convert("RGB") for im in images}
        yes, no = self._answer_ids(processor)
        out: list[np.ndarray] = []
        bs = self.settings.batch_size
        for i in range(0, len(questions), bs):
            batch = [q.strip() + self.settings.suffix for q in questions[i : i + bs]]
            inputs = self._inputs(
                processor, model, pil if images is None else [pils[id(im)] for im in images[i : i + bs]], batch
            )
            with torch.inference_mode():
                logits = model(**inputs, logits_to_keep=1, use_cache=False).logits
            if logits.ndim != 3 or tuple(logits.shape[:2]) != (len(batch), 1):
                raise RuntimeError(
                    f"VLM critic {self.ref.path!r}: expected logits of shape ({len(batch)}, 1, vocab) "
                    f"for the last position, got {tuple(logits.shape)}"
                )
            logp = torch.log_softmax(logits[:, -1, :].float(), dim=-1)
            margin = torch.logsumexp(logp[:, yes], -1) - torch.logsumexp(logp[:, no], -1)
            out.append(torch.sigmoid(margin).cpu().numpy())  # NaN stays NaN: the critic fails it
        return np.concatenate(out)

    def notes(self, image: np.ndarray, questions: Sequence[str]) -> list[str]:
        """A short "what I see instead" for each question the image failed; "" when unusable."""
        import torch
        from PIL import Image

        if not questions:
            return []
        model, processor = self.load()
        pil = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
        texts = [f"{q.strip()} The answer is no. In a few words, what does the image show instead?" for q in questions]
        inputs = self._inputs(processor, model, pil, texts)
        tok = processor.tokenizer
        with torch.inference_mode():
            gen = model.generate(
                **inputs,
                max_new_tokens=self.settings.note_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            )
        answers = tok.batch_decode(gen[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        out = []
        for q, a in zip(questions, answers):
            note = readable(a)
            if not note:
                self.unusable_notes += 1
                level = logging.WARNING if self.unusable_notes == 1 else logging.DEBUG
                log.log(
                    level,
                    "VLM critic %s: unusable note for %r (%r); the reflection uses the plain failed check instead (%d so far)",
                    self.ref.path,
                    q,
                    a[:60],
                    self.unusable_notes,
                )
            out.append(note)
        return out


class VLMCritic(Critic):
    """The :class:`~poser_env.critics.base.Critic` over a VLM (see the module docstring)."""

    def __init__(
        self, model: Any, name: str = "vlm", pool: ModelPool | Mapping[str, Any] | None = None, **settings: Any
    ):
        self.name = name
        self.settings = VLMSettings(**settings)
        self.scorer = VLMScorer(model, pool=pool, settings=self.settings)

    @property
    def model_id(self) -> str:
        return self.scorer.ref.path

    def preload(self) -> None:
        """Load the model and check what scoring needs (chat template, yes/no tokens), so a bad
        checkpoint fails at the first reset, not in the middle of an episode."""
        _, processor = self.scorer.load()
        self.scorer._prompt(processor, "Is this a test?")
        self.scorer._answer_ids(processor)

    def critique(self, canvas: Canvas, checks: Sequence[Check]) -> Verdict:
        checks = list(checks)
        return self._verdict(canvas, checks, self.scorer.p_yes(canvas.image, [c.question for c in checks]))

    def critique_batch(self, canvases: Sequence[Canvas], checks: Sequence[Sequence[Check]]) -> list[Verdict]:
        """Several critiques with the questions of all canvases scored in shared batches of
        ``batch_size`` (served critics batch requests so; batched kernels may round the last
        float bits of a score differently, docs/scaling.md)."""
        per_canvas = [list(c) for c in checks]
        images = [canvas.image for canvas, cs in zip(canvases, per_canvas) for _ in cs]
        p = self.scorer.p_yes(None, [c.question for cs in per_canvas for c in cs], images=images)
        bounds = np.cumsum([0] + [len(cs) for cs in per_canvas])
        return [
            self._verdict(canvas, cs, p[a:b]) for canvas, cs, a, b in zip(canvases, per_canvas, bounds[:-1], bounds[1:])
        ]

    def _verdict(self, canvas: Canvas, checks: list[Check], p: np.ndarray) -> Verdict:
        finite = np.isfinite(p)
        passed = [bool(ok and x >= self.settings.threshold) for ok, x in zip(finite, p)]
        notes = ["" if ok else NOT_FINITE_NOTE for ok in finite]
        if not finite.all():
            log.warning(
                "VLM critic %s: %d of %d scores are not finite (NaN); those checks fail. A float16 overflow is the "
                "usual cause: set dtype = 'bfloat16' or 'float32' for this model",
                self.model_id,
                int((~finite).sum()),
                len(p),
            )
        failed = [i for i, ok in enumerate(passed) if not ok and finite[i]][: self.settings.max_notes]
        if self.settings.notes and failed:
            for i, note in zip(failed, self.scorer.notes(canvas.image, [checks[i].question for i in failed])):
                notes[i] = f"I see {note}" if note else ""
        conf = [float(max(x, 1 - x)) if ok else 0.0 for ok, x in zip(finite, p)]
        return Verdict(tuple(CheckResult(c, ok, cf, n) for c, ok, cf, n in zip(checks, passed, conf, notes)))


#: The note of a check whose score was not a number.
NOT_FINITE_NOTE = "the critic's score was not a number (NaN), so the check counts as failed"


def answer_token_ids(tok: Any) -> tuple[list[int], list[int]]:
    """(yes ids, no ids): the first token of each spelling of "yes" / "no", kept only when that
    token alone decodes to the whole spelling (so SentencePiece's "Y" of "YES" is left out), and
    never a token in both sets."""

    def whole_word_ids(words: Sequence[str]) -> set[int]:
        out = set()
        for w in words:
            ids = tok.encode(w, add_special_tokens=False)
            if ids and tok.decode([ids[0]]).strip() == w.strip():
                out.add(ids[0])
        return out

    yes_ids, no_ids = whole_word_ids(YES_WORDS), whole_word_ids(NO_WORDS)
    both = yes_ids & no_ids
    yes, no = sorted(yes_ids - both), sorted(no_ids - both)
    if not yes or not no:
        raise ValueError(
            "no token decodes to the whole word 'yes' or 'no'; a yes/no critic cannot read this vocabulary"
        )
    return yes, no


_TOKEN = re.compile(r"""^["'(]*(?:[A-Za-z]+(?:['-][A-Za-z]+)*|\d+)[.,;:!?"')]*$""")
_VOWEL = re.compile(r"[aeiouyAEIOUY\d]")


def readable(text: str, max_chars: int = 120) -> str:
    """``text`` cleaned to one short line, or "" when it is not plausibly plain English: fewer
    than two words, a replacement character, or under 80 % of its tokens plain words or numbers
    (what a garbage-talking model produces: "B\ufffd\ufffd Ans6obj1 Ans")."""
    text = " ".join(str(text).split())
    text = "".join(ch for ch in text if ch.isprintable())
    if not text or "\ufffd" in text:
        return ""
    tokens = text.split()
    good = [t for t in tokens if _TOKEN.match(t) and _VOWEL.search(t)]
    if len(good) < 2 or len(good) < 0.8 * len(tokens):
        return ""
    return text[:max_chars].rstrip(" ,;:").rstrip(".")


def _load_vlm(ref: ModelRef, device_type: str):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    kw = ref.load_kwargs(device_type)
    model = AutoModelForImageTextToText.from_pretrained(
        ref.location(), trust_remote_code=ref.trust_remote_code, **kw
    ).eval()
    processor = AutoProcessor.from_pretrained(
        ref.location(), revision=ref.revision, trust_remote_code=ref.trust_remote_code
    )
    tok = getattr(processor, "tokenizer", None)
    if tok is None:
        raise ValueError(f"the processor of {ref.path!r} has no tokenizer; is it a vision-language model?")
    tok.padding_side = "left"  # the next token of every row sits at the last position
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return model, processor


def _place_first(obj: Any, device: str) -> None:
    obj[0].to(device)
