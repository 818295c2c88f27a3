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
"""

from __future__ import annotations

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
        raise ValueError(f"the prompt is {len(text):,} characters long; the limit is {MAX_PROMPT_CHARS:,} "
                         "(poser_env.extractors.base.MAX_PROMPT_CHARS): shorten it or split it into several episodes")
    return text
