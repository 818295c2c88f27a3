"""The command-extractor contract: ``extract(prompt, source=None) -> list[Command]``.

An extractor splits a long prompt into successive instructions (:class:`~poser_env.types.Command`),
each with the checks that say it was carried out. The env runs it once per episode, at
``reset``, and walks the commands in order; the union of all commands' checks is what the
critic scores the canvas against (the reward's potential).

Contract every extractor keeps (the env and the tests rely on it):

- ``prompt`` empty or blank -> :class:`ValueError` (an episode without an instruction has no
  meaning); longer than :data:`MAX_PROMPT_CHARS` -> :class:`ValueError` naming the limit (a
  bound on the time a reset may take); any other string -> at least one command, and never
  any other exception.
- ``source`` is the canvas to edit, or None. The env passes a blank canvas for generation
  tasks, so "a source is given" does not by itself mean editing: an extractor must look at
  its pixels (never at ``source.scene``, the evaluator's ground truth, which real images lack).
- Commands come in the order the prompt asks for them; a command's ``text`` is a
  self-contained instruction an expert can act on alone (an I2I expert sees only it).
- No silent success: what the extractor could not turn into any check goes into the
  ``not_understood`` spans of the command it comes from (:attr:`Command.not_understood`).
  :func:`not_understood` collects them and :func:`coverage` gives the share of the prompt's
  content words outside them (the env reports both in ``info`` and the episode summary).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from poser_env.types import Canvas, Command


@runtime_checkable
class CommandExtractor(Protocol):
    """Anything with a ``name`` and an ``extract`` method (see the module docstring)."""

    name: str

    def extract(self, prompt: str, source: Canvas | None = None) -> list[Command]: ...


#: The longest prompt (in characters, after stripping) an extractor reads: about 2,000 words,
#: where the suites' longest prompts are under 1,000 characters. At this length the slowest
#: prompt tried (a comma list of coloured shapes) resets in 0.4 to 0.6 s on a busy 2-core CPU
#: (docs/env.md), so no input can stall a training loop for long.
MAX_PROMPT_CHARS = 12_000


def require_prompt(prompt: object) -> str:
    """``prompt`` stripped; :class:`ValueError` when it is not a string, holds only blanks, or
    is longer than :data:`MAX_PROMPT_CHARS`."""
    if not isinstance(prompt, str):
        raise ValueError(f"empty prompt: expected a non-empty string, got {type(prompt).__name__}")
    text = prompt.strip()
    if not text:
        raise ValueError("empty prompt: give a text describing the image to make or the edits to do")
    if len(text) > MAX_PROMPT_CHARS:
        raise ValueError(
            f"the prompt is {len(text):,} characters long; the limit is {MAX_PROMPT_CHARS:,} "
            "(poser_env.extractors.base.MAX_PROMPT_CHARS): shorten it or split it into several episodes"
        )
    return text


def not_understood(commands: Sequence[Command]) -> list[str]:
    """The spans not understood of all commands, in order, each once."""
    out: list[str] = []
    for c in commands:
        for span in getattr(c, "not_understood", ()):
            if span not in out:
                out.append(span)
    return out


def content_words(text: str) -> int:
    """Words of ``text`` that may carry a constraint: all but the documented ignorable ones
    (``poser_env.world.lexicon.FUNCTION_WORDS``) and punctuation."""
    from poser_env.world import lexicon
    from poser_env.world.parse import tokenize

    return sum(
        1
        for w, _, _ in tokenize(text)
        if w[:1].isalnum() and w not in lexicon.FUNCTION_WORDS and w not in lexicon.INTENSIFIERS
    )


def coverage(prompt: str, spans: Sequence[str]) -> float:
    """The share of the prompt's content words outside the spans not understood, in [0, 1]
    (1.0 for a prompt without content words). It says how much of the prompt the checks
    speak for: a critic score of 1.0 at coverage 0.6 is success on 60% of what was asked."""
    total = content_words(prompt)
    if total == 0:
        return 1.0 if not spans else 0.0
    missed = sum(content_words(s) for s in spans)
    return max(0.0, min(1.0, 1.0 - missed / total))


def unmentioned(prompt: str, commands: Sequence[Command]) -> list[str]:
    """Spans of ``prompt`` whose content words no command text or check question mentions.

    For extractors whose reading cannot be traced word by word (a chat model's answer): a
    content word that appears nowhere in the answer (compared without case and a plural "s")
    was dropped, and a run of such words is reported as not understood. A word the answer
    restates differently (a synonym) is reported too: the report errs on the side of saying.
    """
    from poser_env.world import lexicon
    from poser_env.world.parse import tokenize

    def stem(w: str) -> str:
        return w[:-2] if w.endswith("es") and len(w) > 4 else (w[:-1] if w.endswith("s") and len(w) > 3 else w)

    said = {stem(w) for c in commands for t in (c.text, *(ch.question for ch in c.checks)) for w, _, _ in tokenize(t)}
    out: list[str] = []
    run: tuple[int, int] | None = None
    for w, a, b in tokenize(prompt):
        content = w[:1].isalnum() and w not in lexicon.FUNCTION_WORDS and w not in lexicon.INTENSIFIERS
        if content and stem(w) not in said:
            run = (run[0], b) if run is not None else (a, b)
        elif content or not w[:1].isalnum():
            if run is not None:
                out.append(prompt[run[0] : run[1]])
            run = None
    if run is not None:
        out.append(prompt[run[0] : run[1]])
    return out
