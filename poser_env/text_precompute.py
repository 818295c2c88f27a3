"""The process's shared text encoder, and a split's texts embedded once per process in batches.

An observation embeds the task's prompt, the current command's text and the texts of the
commands still queued (``poser_env/observation.py``). With a model encoder (MiniLM) each new
string costs a forward pass; embedding them as episodes meet them means a few strings per
reset, each reset of a new task paying a small batch. With precompute on, the first reset that
draws from the split's task list extracts every task's commands (a ``pure`` extractor, like the
grammar one, depends only on the prompt and the source canvas, so its commands are the ones
the episode will get) and embeds every distinct prompt and command text in large batches,
pinned in the process's shared text cache (:meth:`CachedTextEncoder.preload`). Each
(suite, split, canvas size, extractor) is done once per process: every env in the process
that shares the encoder reuses it. A non-pure extractor (an LLM) is never called ahead:
only the prompts are precomputed, and its commands' texts go through the cache as before.

:func:`shared_text_encoder` gives every env of a process the same encoder and cache.

The cost moves to that first reset (seconds to tens of seconds for a train split on a CPU);
:class:`TextPrecompute` reports it, and it is logged at INFO on ``poser_env.text_precompute``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from poser_env.config import EnvConfig
from poser_env.encoders.text_cache import CachedTextEncoder
from poser_env.encoders.text_factory import make_text_encoder
from poser_env.types import Task

log = logging.getLogger(__name__)

#: Values of ``EnvConfig.precompute_text``.
PRECOMPUTE_CHOICES: tuple[Any, ...] = ("auto", True, False)

#: Text encoders for which ``precompute_text="auto"`` stays off: embedding is cheaper than
#: the precompute's extraction of every task.
CHEAP_TEXT_ENCODERS: tuple[str, ...] = ("hash",)


_SHARED: dict[str, CachedTextEncoder] = {}


def shared_text_encoder(name: str) -> CachedTextEncoder:
    """The process's encoder (and embedding cache) for ``name``, shared by every env in it."""
    if name not in _SHARED:
        _SHARED[name] = make_text_encoder(name)
    return _SHARED[name]


def precompute_wanted(setting: bool | str, text_encoder: str) -> bool:
    """Whether an env precomputes its split's embeddings: ``True``/``False`` as set; ``"auto"``
    is on for model encoders (anything but ``hash``)."""
    if setting == "auto":
        return text_encoder.strip().lower() not in CHEAP_TEXT_ENCODERS
    return bool(setting)


@dataclass(frozen=True)
class TextPrecompute:
    """What a split's precompute did and cost (``env.unwrapped.text_precompute``).

    ``reused`` is True for an env that found its split already precomputed in the process;
    the other figures are then those of the env that did it.
    """

    encoder: str
    suite: str
    split: str
    tasks: int
    commands_included: bool  # False for a non-pure extractor: prompts only
    strings: int  # distinct non-blank strings pinned
    computed: int  # of which embedded by this precompute (others were in the cache)
    encode_calls: int
    extract_seconds: float  # wall seconds extracting commands (and rendering editing sources)
    embed_seconds: float  # wall seconds embedding
    cpu_seconds: float  # process CPU seconds, both parts
    reused: bool = False

    @property
    def seconds(self) -> float:
        """Wall seconds in all."""
        return self.extract_seconds + self.embed_seconds

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3)}


def precompute_key(config: EnvConfig) -> Hashable:
    """The key under which a split's texts are preloaded in a cache: what decides its strings."""
    extractor = json.dumps(config.extractor, sort_keys=True, default=repr)
    return ("env-split", config.suite, config.split, config.canvas_size, extractor)


def precompute_split_texts(
    cache: CachedTextEncoder,
    config: EnvConfig,
    tasks: Sequence[Task],
    commands_of: Callable[[Task], Sequence[str]] | None,
) -> TextPrecompute:
    """Pin every task's prompt (and, with ``commands_of``, its command texts) in ``cache``,
    once per process for the config's suite, split, canvas size and extractor; a later call
    returns the first report, marked ``reused``."""
    key = precompute_key(config)
    suite, split = config.suite, config.split
    done = cache.preloaded.get(key)
    if isinstance(done, TextPrecompute):
        return TextPrecompute(**{**asdict(done), "reused": True})
    t0, c0 = time.perf_counter(), time.process_time()
    texts: dict[str, None] = {}
    for task in tasks:
        texts[task.prompt] = None
        if commands_of is not None:
            texts.update(dict.fromkeys(commands_of(task)))
    extract_s, extract_cpu = time.perf_counter() - t0, time.process_time() - c0
    info = cache.preload(texts)
    report = TextPrecompute(
        encoder=cache.name,
        suite=suite,
        split=split,
        tasks=len(tasks),
        commands_included=commands_of is not None,
        strings=info.strings,
        computed=info.computed,
        encode_calls=info.calls,
        extract_seconds=round(extract_s, 3),
        embed_seconds=round(info.seconds, 3),
        cpu_seconds=round(extract_cpu + info.cpu_seconds, 3),
    )
    cache.preloaded[key] = report
    log.info(
        "precomputed %d text embeddings (%d new, %d calls) of %d tasks (%s, split %s) with %s in %.1f s "
        "(extraction %.1f s, embedding %.1f s); EnvConfig.precompute_text=False turns this off",
        report.strings,
        report.computed,
        report.encode_calls,
        report.tasks,
        suite,
        split,
        report.encoder,
        report.seconds,
        report.extract_seconds,
        report.embed_seconds,
    )
    return report
