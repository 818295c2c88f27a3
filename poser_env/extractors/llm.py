"""The LLM command extractor: a chat model writes the commands and their checks as JSON.

Flow of :meth:`LLMExtractor.extract`:

1. The model gets the schema, one worked example and the prompt (and whether an image is
   being edited), and answers.
2. :func:`parse_commands` finds the JSON in the answer (code fences and chatter around it are
   tolerated) and validates it against :data:`SCHEMA`; any problem raises
   :class:`CommandSchemaError` listing what is wrong.
3. On a problem the model gets its answer back with the list of problems and one more try
   (``retries``, default 1).
4. Still no valid answer (garbage, empty text, invalid JSON, a model that fails to load or to
   run): the grammar extractor takes over and a warning names the model and the reason. So a
   malformed answer never crashes an episode; ``last_source`` says which path was taken.
5. Content words of the prompt that appear in no command text or check question of a valid
   answer are reported as not understood (on the last command), like the grammar extractor's.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import numpy as np

from poser_env.extractors.base import require_prompt, unmentioned
from poser_env.types import CHECK_CATEGORIES, COMMAND_KINDS, Canvas, Check, Command

log = logging.getLogger(__name__)

#: The answer's schema (JSON Schema, for the model and for people; validated by parse_commands).
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["commands"],
    "properties": {
        "commands": {
            "type": "array",
            "minItems": 1,
            "maxItems": 16,
            "items": {
                "type": "object",
                "required": ["text", "kind", "checks"],
                "properties": {
                    "text": {"type": "string", "minLength": 1},
                    "kind": {"enum": list(COMMAND_KINDS)},
                    "checks": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 8,
                        "items": {
                            "type": "object",
                            "required": ["question", "category"],
                            "properties": {
                                "question": {"type": "string", "pattern": "\\?$"},
                                "category": {"enum": list(CHECK_CATEGORIES)},
                            },
                        },
                    },
                },
            },
        }
    },
}

EXAMPLE = {
    "commands": [
        {
            "text": "Draw two red apples on a wooden table.",
            "kind": "generate",
            "checks": [
                {"question": "Are there exactly two apples?", "category": "count"},
                {"question": "Are the apples red?", "category": "color"},
            ],
        },
        {
            "text": "Add a blue cup to the right of the apples.",
            "kind": "add",
            "checks": [
                {"question": "Is there a blue cup?", "category": "object"},
                {"question": "Is the cup to the right of the apples?", "category": "position"},
            ],
        },
    ]
}

SYSTEM = (
    "You split an image request into successive instructions for image models. Answer with JSON only, "
    "matching this schema: " + json.dumps(SCHEMA, separators=(",", ":")) + ". Each instruction is self-contained; "
    "its checks are yes/no questions about the final image that are true when the instruction was carried out. "
    "Example answer: " + json.dumps(EXAMPLE, separators=(",", ":"))
)


class CommandSchemaError(ValueError):
    """The model's answer is not valid JSON of the schema; ``problems`` lists why."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_commands(text: str) -> list[Command]:
    """Commands from a model's answer, or :class:`CommandSchemaError` (never anything else)."""
    if not isinstance(text, str) or not text.strip():
        raise CommandSchemaError(["the answer is empty"])
    data = _find_json(text)
    problems: list[str] = []
    if isinstance(data, list):
        data = {"commands": data}
    if not isinstance(data, dict) or "commands" not in data:
        raise CommandSchemaError(['the answer is not a JSON object with a "commands" list'])
    cmds = data["commands"]
    if not isinstance(cmds, list) or not 1 <= len(cmds) <= 16:
        raise CommandSchemaError(['"commands" must be a list of 1 to 16 objects'])
    out: list[Command] = []
    for i, c in enumerate(cmds):
        where = f"commands[{i}]"
        if not isinstance(c, dict):
            problems.append(f"{where} is not an object")
            continue
        text_ = c.get("text")
        kind = c.get("kind")
        checks = c.get("checks")
        if not isinstance(text_, str) or not text_.strip():
            problems.append(f"{where}.text must be a non-empty string")
        if kind not in COMMAND_KINDS:
            problems.append(f"{where}.kind must be one of {', '.join(COMMAND_KINDS)}, got {kind!r}")
        if not isinstance(checks, list) or not 1 <= len(checks) <= 8:
            problems.append(f"{where}.checks must be a list of 1 to 8 objects")
            continue
        built = []
        for j, ch in enumerate(checks):
            w = f"{where}.checks[{j}]"
            if not isinstance(ch, dict):
                problems.append(f"{w} is not an object")
                continue
            q, cat = ch.get("question"), ch.get("category")
            if not isinstance(q, str) or not q.strip().endswith("?") or len(q.strip()) < 4:
                problems.append(f"{w}.question must be a yes/no question ending with '?'")
            elif cat not in CHECK_CATEGORIES:
                problems.append(f"{w}.category must be one of {', '.join(CHECK_CATEGORIES)}, got {cat!r}")
            else:
                q = " ".join(q.split())
                built.append(Check(q, cat, {"kind": "question", "text": q}))
        if not problems:
            out.append(Command(" ".join(text_.split()), kind, tuple(built)))
    if problems:
        raise CommandSchemaError(problems[:8])
    return out


def _find_json(text: str) -> Any:
    """The first JSON value in ``text`` (inside code fences or surrounded by chatter)."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(text)
    decoder = json.JSONDecoder()
    for cand in candidates:
        for m in re.finditer(r"[\[{]", cand):
            try:
                value, _ = decoder.raw_decode(cand, m.start())
                return value
            except (json.JSONDecodeError, RecursionError):
                continue
    raise CommandSchemaError(["the answer holds no JSON value"])


class LLMExtractor:
    """A :class:`~poser_env.extractors.base.CommandExtractor` over a chat model (see the module docstring)."""

    def __init__(
        self,
        model: Any,
        name: str = "llm",
        pool: Any = None,
        max_new_tokens: int = 512,
        retries: int = 1,
        system: str | None = None,
    ):
        from poser_env.backends.chat import ChatModel
        from poser_env.extractors.grammar import GrammarExtractor

        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a non-negative int, got {retries!r}")
        self.name = name
        self.chat = ChatModel(model, pool=pool)
        self.max_new_tokens = int(max_new_tokens)
        self.retries = retries
        self.system = SYSTEM if system is None else str(system)
        """The system message: the schema and an example by default; a small model may want a shorter one."""
        self.fallback = GrammarExtractor()
        self.last_source = ""
        """``llm``, ``llm-repaired`` or ``grammar-fallback``: how the last prompt was read."""
        self.fallbacks = 0

    def preload(self) -> None:
        """Load the model and its chat template now: a model that cannot load is a configuration
        error for the first reset to report, not a fallback on every episode."""
        self.chat.prompt([{"role": "user", "content": "test"}])

    def messages(self, prompt: str, editing: bool) -> list[dict[str, str]]:
        situation = (
            "An existing image is being edited; the first instruction edits it."
            if editing
            else "The image is drawn from scratch."
        )
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": f"{situation}\nRequest: {prompt}"},
        ]

    @staticmethod
    def repair_messages(messages: list[dict[str, str]], answer: str, problems: list[str]) -> list[dict[str, str]]:
        """The conversation for the retry: the invalid answer, then the list of its problems."""
        return [
            *messages,
            {"role": "assistant", "content": answer},
            {
                "role": "user",
                "content": "That answer is not valid: " + "; ".join(problems) + ". Answer again with the JSON only.",
            },
        ]

    def extract(self, prompt: str, source: Canvas | None = None) -> list[Command]:
        text = require_prompt(prompt)
        messages = self.messages(text, editing=_has_content(source))
        reason = ""
        try:
            for attempt in range(self.retries + 1):
                answer = self.chat.generate(messages, max_new_tokens=self.max_new_tokens)
                try:
                    commands = parse_commands(answer)
                    self.last_source = "llm" if attempt == 0 else "llm-repaired"
                    dropped = unmentioned(text, commands)  # no silent success: what the answer left out
                    if dropped:
                        commands[-1] = Command(
                            commands[-1].text, commands[-1].kind, commands[-1].checks, tuple(dropped)
                        )
                    return commands
                except CommandSchemaError as e:
                    reason = f"invalid answer ({e}); answer began {answer[:80]!r}"
                    messages = self.repair_messages(messages, answer, e.problems)
        except Exception as e:  # a model that fails to load or run must not end the episode
            reason = f"the model failed: {type(e).__name__}: {e}"
        self.fallbacks += 1
        self.last_source = "grammar-fallback"
        log.warning(
            "LLM extractor %s: no valid commands from %s after %d tries (%s); falling back to the grammar extractor",
            self.name,
            self.chat.ref.path,
            self.retries + 1,
            reason,
        )
        return self.fallback.extract(text, source)


def _has_content(source: Canvas | None) -> bool:
    """Whether the source holds an image to edit: a blank canvas (one colour) does not."""
    if source is None:
        return False
    img = np.asarray(source.image)
    return bool(img.size) and bool((img.reshape(-1, img.shape[-1]) != img.reshape(-1, img.shape[-1])[0]).any())
