"""The CLIP critic: image-text similarity per check or per command, normalised to [0, 1].

Faster and cruder than the VLM critic (no counting, weak on relations), useful as a cheap
critic or as an independent evaluator. The cosine similarity ``cos`` of the image with a text
is mapped to a score::

    score = clip((cos - low) / (high - low), 0, 1)        passed = score >= threshold

Two modes (``mode`` in the preset's ``[critic]`` table):

- ``"check"`` (default): each check's question is turned into a statement ("Are there two
  blue squares?" -> "two blue squares") and scored on its own.
- ``"command"``: each command's text is turned into a caption ("Draw two blue squares on the
  left." -> "two blue squares on the left"), scored once, and every check of that command
  inherits the score (one text per command instead of one per check: cheaper, and closer to
  the captions CLIP was trained on). Checks of ``remove`` commands (a caption cannot
  say that something is absent) and checks of no command (the evaluator's) stay per check.

Thresholds (documented defaults for both modes, to calibrate per checkpoint and per mode):
``low = 0.15`` and ``high = 0.35``, so ``threshold = 0.5`` passes at ``cos >= 0.25``.
Rationale: for OpenAI's CLIP ViT-B/32 and ViT-L/14, a caption that matches an image usually
has a cosine around 0.28-0.35 and an unrelated one around 0.10-0.20 (CLIPScore, Hessel et al.
2021, rescales by 2.5 for the same reason). Those figures are for full captions, i.e. what
``"command"`` mode scores; for a check's short statement they are an assumption (short texts
often score lower). All of it is from the literature, not measured here (no real weights run
here); calibrate each mode with a few labelled images before trusting a threshold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poser_env.backends.models import ModelRef
from poser_env.backends.pool import ModelPool, shared_pool
from poser_env.critics.base import Critic
from poser_env.types import Canvas, Check, CheckResult, Command, Verdict

CLIP_MODES = ("check", "command")


class ClipScorer:
    """A CLIP (or SigLIP) checkpoint through ``AutoModel`` / ``AutoProcessor``, from the pool."""

    def __init__(self, model: Any, pool: ModelPool | Mapping[str, Any] | None = None):
        self.ref = ModelRef.coerce(model)
        self.pool = pool if isinstance(pool, ModelPool) else shared_pool(pool)

    def load(self) -> tuple[Any, Any]:
        return self.pool.get("clip", self.ref, _load_clip, _place_first)

    def _embed(self, images: Sequence[np.ndarray], texts: Sequence[str]):
        import torch
        from PIL import Image

        model, processor = self.load()
        pils = [Image.fromarray(np.asarray(im, dtype=np.uint8)).convert("RGB") for im in images]
        inputs = processor(
            text=list(texts), images=pils, return_tensors="pt", padding=text_padding(model), truncation=True
        )
        param = next(model.parameters())
        inputs = inputs.to(param.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(param.dtype)
        with torch.inference_mode():
            out = model(**inputs)
            scale = float(model.logit_scale.exp()) if hasattr(model, "logit_scale") else 100.0
        img = torch.nn.functional.normalize(out.image_embeds.float(), dim=-1)
        txt = torch.nn.functional.normalize(out.text_embeds.float(), dim=-1)
        return img, txt, scale

    def cosine(self, image: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Cosine similarity of the image with each text."""
        img, txt, _ = self._embed([image], texts)
        return np.nan_to_num((img @ txt.T)[0].cpu().numpy(), nan=0.0)

    def logits(self, images: Sequence[np.ndarray], texts: Sequence[str], finite_only: bool = True) -> np.ndarray:
        """CLIP's zero-shot logits (images x texts), for classification; ``finite_only=False``
        keeps NaN so that a caller can refuse it (the safety check does)."""
        img, txt, scale = self._embed(images, texts)
        out = (scale * img @ txt.T).cpu().numpy()
        return np.nan_to_num(out, nan=0.0) if finite_only else out


#: Model types whose text tower was trained on texts padded to the full length and has no
#: attention mask: padding to the longest text of a batch changes their embeddings.
MAX_LENGTH_PADDING = ("siglip", "siglip2")


def text_padding(model: Any) -> str | bool:
    """``"max_length"`` for SigLIP (as its model card prescribes: it pools the last position, so
    a text's embedding would otherwise depend on the longest text it is batched with), else
    padding to the longest text (CLIP masks the padding)."""
    return "max_length" if getattr(getattr(model, "config", None), "model_type", "") in MAX_LENGTH_PADDING else True


@dataclass(frozen=True)
class ClipSettings:
    """Normalisation of the cosine similarity (see the module docstring)."""

    low: float = 0.15
    """Cosine mapped to score 0."""
    high: float = 0.35
    """Cosine mapped to score 1."""
    threshold: float = 0.5
    """Normalised score at which a check passes."""
    template: str = "{statement}"
    """How a statement is phrased for the text encoder, e.g. ``"a photo of {statement}"``."""
    mode: str = "check"
    """``check``: one text per check; ``command``: one text per command, inherited by its checks."""

    def __post_init__(self) -> None:
        if not float(self.low) < float(self.high):
            raise ValueError(f"CLIP normalisation needs low < high, got low={self.low}, high={self.high}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {self.threshold!r}")
        if "{statement}" not in self.template:
            raise ValueError(f"template must contain '{{statement}}', got {self.template!r}")
        if self.mode not in CLIP_MODES:
            raise ValueError(f"CLIP critic mode must be one of {', '.join(CLIP_MODES)}, got {self.mode!r}")


class CLIPCritic(Critic):
    """The :class:`~poser_env.critics.base.Critic` over CLIP similarity (one batch per verdict)."""

    def __init__(
        self, model: Any, name: str = "clip", pool: ModelPool | Mapping[str, Any] | None = None, **settings: Any
    ):
        self.name = name
        self.settings = ClipSettings(**settings)
        self.scorer = ClipScorer(model, pool=pool)

    @property
    def model_id(self) -> str:
        return self.scorer.ref.path

    def preload(self) -> None:
        """Load the model now, so a bad checkpoint fails at the first reset."""
        self.scorer.load()

    @property
    def scores_commands(self) -> bool:  # type: ignore[override]  # declared by Critic; a property here
        """Tells the env to pass the episode's commands to :meth:`critique` (``mode = "command"``)."""
        return self.settings.mode == "command"

    def _normalise(self, cos: np.ndarray) -> np.ndarray:
        s = self.settings
        return np.clip((cos - s.low) / (s.high - s.low), 0.0, 1.0)

    def scores(self, image: np.ndarray, questions: Sequence[str]) -> np.ndarray:
        """Normalised [0, 1] scores of the image against each question's statement."""
        if not questions:
            return np.zeros(0)
        texts = [self.settings.template.format(statement=statement(q)) for q in questions]
        return self._normalise(self.scorer.cosine(image, texts))

    def check_scores(
        self, image: np.ndarray, checks: Sequence[Check], commands: Sequence[Command] | None = None
    ) -> np.ndarray:
        """One [0, 1] score per check. In ``command`` mode with ``commands`` given, a check takes
        the score of the first (non-``remove``) command that holds it, each command's caption
        scored once; the other checks are scored on their own. All texts go in one batch."""
        if not checks:
            return np.zeros(0)
        owner: dict[Check, int] = {}
        captions: list[str] = []
        if self.scores_commands and commands:
            for cmd in commands:
                if cmd.kind == "remove" or not cmd.checks:
                    continue
                captions.append(command_statement(cmd.text))
                for c in cmd.checks:
                    owner.setdefault(c, len(captions) - 1)
        alone = [c for c in checks if c not in owner]
        used = sorted({owner[c] for c in checks if c in owner})
        tmpl = self.settings.template
        texts = [tmpl.format(statement=captions[i]) for i in used] + [
            tmpl.format(statement=statement(c.question)) for c in alone
        ]
        score = self._normalise(self.scorer.cosine(image, texts))
        row = {i: k for k, i in enumerate(used)}  # caption index -> row of texts
        solo = {c: len(used) + k for k, c in enumerate(alone)}  # check scored alone -> row
        return np.array([score[row[owner[c]]] if c in owner else score[solo[c]] for c in checks], dtype=float)

    def critique(self, canvas: Canvas, checks: Sequence[Check], commands: Sequence[Command] | None = None) -> Verdict:
        checks = list(checks)
        scores = self.check_scores(canvas.image, checks, commands)
        t = self.settings.threshold
        return Verdict(
            tuple(
                CheckResult(
                    c,
                    bool(x >= t),
                    float(min(1.0, 0.5 + abs(x - t))),
                    "" if x >= t else f"similarity {x:.2f} < {t:.2f}",
                )
                for c, x in zip(checks, scores)
            )
        )


_LEAD = re.compile(
    r"^(?:is|are|does|do|did|has|have|can|was|were)\s+(?:there\s+|the\s+image\s+(?:show|contain|have)\s+|it\s+)?", re.I
)


def statement(question: str) -> str:
    """A yes/no question turned into the noun phrase CLIP was trained on."""
    text = question.strip().rstrip("?").strip()
    text = _LEAD.sub("", text)
    return text or question.strip()


_VERB = re.compile(
    r"^(?:please\s+)?(?:draw|add|paint|put|place|make|create|generate|render|show|depict|include|insert|"
    r"recolou?r|colou?r|change|turn|move|shift|set|give|use|apply|refine|improve|edit)\s+",
    re.I,
)


def command_statement(text: str) -> str:
    """A command's instruction turned into a caption ("Draw a red circle." -> "a red circle")."""
    out = _VERB.sub("", text.strip().rstrip(".!").strip())
    return out or text.strip()


def _load_clip(ref: ModelRef, device_type: str):
    from transformers import AutoModel, AutoProcessor

    kw = ref.load_kwargs(device_type)
    model = AutoModel.from_pretrained(ref.location(), trust_remote_code=ref.trust_remote_code, **kw).eval()
    processor = AutoProcessor.from_pretrained(
        ref.location(), revision=ref.revision, trust_remote_code=ref.trust_remote_code
    )
    if not hasattr(model, "get_image_features"):
        raise ValueError(f"{ref.path!r} loads as {type(model).__name__}, which is not a CLIP-like image-text model")
    return model, processor


def _place_first(obj: Any, device: str) -> None:
    obj[0].to(device)
