"""The grammar command extractor: the shape world's parser turned into commands with checks.

:class:`GrammarExtractor` reads a prompt with :func:`poser_env.world.parse.parse` and turns
each clause into a :class:`~poser_env.types.Command` whose checks are built with the same
builders (``checks.py``) the suites' targets use, so on every generated task the union of
the commands' checks equals the task's checks (measured by
``python -m poser_env.extractors.agreement``).

Decisions, and why:

- **One command per clause**, in text order (reordering is the agent's choice, e.g. DEFER),
  except that in a generation prompt style commands are queued after the objects: a blank
  canvas shows no style that a critic could verify.
  A background or style phrase attached to an object clause ("Draw two stars on a beige
  background", "In watercolour style, show a heart") becomes a command of its own, so that
  each command asks for one kind of work and the agent can give it to the right expert; the
  object part keeps the user's words, the phrase is restated as a sentence ("Use a beige
  background.").
- **Kinds**: on an empty canvas the first clause that introduces objects is ``generate`` and
  later ones ``add``; on a canvas that holds objects every object clause is ``add``. Relation
  sentences and move edits are ``move``; then ``remove``, ``recolor``, ``background``,
  ``style``, ``refine`` (clean); a clause mixing edit kinds is ``edit``.
- **Editing or generating is told by pixels**: the env hands a blank canvas to generation
  tasks, so the extractor runs the detector on ``source.image`` (never ``source.scene``, the
  ground truth) and edits when it sees objects.
- **Preservation**: every detected source object that no edit removes, recolours or moves
  (a relation with a definite subject) gets a preserve check. They go on the *first* command:
  the env accepts a command when its own checks pass and keeps scoring them afterwards, so
  damage done while carrying out the first edit is caught while it can still be retried; a
  final "keep everything" command would only be checked when no expert could repair it. The
  "Keep everything else unchanged." sentence itself asks for no work, so it is no command.
  When a clause could not be read, preservation is added only if the prompt says so (an
  unread clause might touch any object).
- **Anything else** (English outside the vocabulary) falls back to clause splitting: one
  command per clause (``generate`` first on an empty canvas, else ``edit``) with a check of
  spec kind ``text`` whose question quotes the clause. The synthetic critic cannot verify
  such a check and says so (confidence 0.5); a VLM critic reads the question.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from poser_env.extractors.base import require_prompt
from poser_env.types import Canvas, Check, Command
from poser_env.world import language as L
from poser_env.world.checks import (
    ObjectGroup,
    Relation,
    background_check,
    clean_check,
    group_check,
    preserve_check,
    relation_check,
    style_check,
)
from poser_env.world.detect import detect
from poser_env.world.intents import Intent
from poser_env.world.parse import PRESERVE_RE, clause_spans, parse, read
from poser_env.world.scene import SceneObject

__all__ = ["GrammarExtractor", "intent_checks", "source_objects"]

_OBJECT_OPS = frozenset({"draw", "relate", "move", "absent", "remove", "recolor"})
_KIND_OF_OP = {
    "absent": "remove",
    "remove": "remove",
    "recolor": "recolor",
    "move": "move",
    "relate": "move",
    "background": "background",
    "style": "style",
    "clean": "refine",
}


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in L.longest_first(list(words)))


_BG = _alternatives(L.BACKGROUND_LOOKUP)
_ST = _alternatives(L.STYLE_LOOKUP)
_ART = r"(?:(?:a|an)\s+)?"
#: Attached background / style phrases (language.py's prefixes and suffixes, and variants).
#: A prefix opens the clause and ends with a comma; a suffix is found anywhere (the comma and
#: "all" before it are trimmed by hand: a leading ``\s*`` would make a failed search
#: quadratic on long runs of blanks).
_ATTACHED: tuple[tuple[str, bool, re.Pattern[str]], ...] = (
    ("background", True, re.compile(rf"(?:on|against)\s+{_ART}(?P<w>{_BG})\s+(?:background|backdrop)\s*,\s*", re.I)),
    ("background", False, re.compile(rf"\b(?:on|against)\s+{_ART}(?P<w>{_BG})\s+(?:background|backdrop)\b", re.I)),
    ("style", True, re.compile(rf"in\s+{_ART}(?P<w>{_ST})\s+style\s*,\s*", re.I)),
    ("style", False, re.compile(rf"\bin\s+{_ART}(?P<w>{_ST})\s+style\b", re.I)),
)


def intent_checks(intent: Intent, source: Sequence[SceneObject] = ()) -> list[Check]:
    """The checks that say an intent was carried out (the suites' builders, same specs).

    A recolour of a phrase without a colour ("make the circles orange") also checks that no
    object of an old colour is left, for each colour the ``source`` objects it names show.
    """
    op, g = intent.op, intent.group
    if op == "draw" and g is not None and g.count >= 1:
        return [group_check(g)]
    if op in ("relate", "move") and g is not None and intent.other is not None and intent.rel:
        return [relation_check(Relation(replace(g, count=1), intent.rel, replace(intent.other, count=1)))]
    if op in ("absent", "remove") and g is not None:
        return [group_check(replace(g, count=0))]
    if op == "recolor" and g is not None and intent.color:
        out = [group_check(ObjectGroup(g.shape, intent.color, g.size))]
        if g.color is not None and g.color != intent.color:
            out.append(group_check(ObjectGroup(g.shape, g.color, g.size, 0)))
        elif g.color is None:
            old = sorted({o.color for o in source if g.matches(o) and o.color != intent.color})
            out += [group_check(ObjectGroup(g.shape, c, g.size, 0)) for c in old]
        return out
    if op == "background" and intent.color:
        return [background_check(intent.color)]
    if op == "style" and intent.style:
        return [style_check(intent.style)]
    if op == "clean":
        return [clean_check()]
    return []


def source_objects(source: Canvas | None) -> list[SceneObject]:
    """The objects the pixel detector sees on ``source.image`` ([] for None, a blank or an
    unreadable image). ``source.scene`` is never read: it is the evaluator's ground truth."""
    if source is None:
        return []
    try:
        img = np.asarray(getattr(source, "image", source))
        if img.ndim != 3 or img.shape[0] == 0 or img.shape[1] == 0 or bool((img == img[:1, :1]).all()):
            return []
        seen = detect(img)
    except (ValueError, TypeError, AttributeError):
        return []
    return [
        SceneObject(o.shape, o.color, o.size, float(np.clip(o.x, 0.0, 1.0)), float(np.clip(o.y, 0.0, 1.0)))
        for o in seen.objects
    ]


def _sentence(text: str) -> str:
    """A clause as a self-contained sentence: trimmed, capitalised, with a full stop."""
    text = text.strip().strip(",:;").strip()
    if not text:
        return ""
    return L.capitalise(text) + ("" if text[-1] in ".!?" else ".")


def _text_check(clause: str) -> Check:
    shown = clause if len(clause) <= 160 else clause[:157] + "..."
    shown = shown.replace('"', "'")
    return Check(f'Does the image do what "{shown}" asks?', "object", {"kind": "text", "text": clause})


class GrammarExtractor:
    """Splits a prompt into commands with checks by the shape world's grammar (module docstring).

    ``extract(prompt, source=None)`` raises :class:`ValueError` only for an empty or blank
    prompt; any other string gives at least one command.
    """

    name = "grammar"
    #: A function of the prompt and the source's pixels: the env may cache its commands.
    pure = True

    def __repr__(self) -> str:
        return "GrammarExtractor()"

    def extract(self, prompt: str, source: Canvas | None = None) -> list[Command]:
        text = require_prompt(prompt)
        objects = source_objects(source)
        editing = bool(objects)
        reading = read(text, present=objects)
        original = text
        if reading.introduced:
            # A definite phrase that introduces its object ("The red star sits above the
            # square.") is rewritten with an article in the command texts, so that each says
            # to draw it on its own (an expert reads "the" as a reference). The checks come from
            # the reading of the user's own words.
            text = _rewrite(text, reading.introduced)
        original_spans = clause_spans(original)
        spans = clause_spans(text) if text != original else original_spans
        if len(spans) != len(original_spans):  # never expected: keep the user's text
            text, spans = original, original_spans
        by_clause: list[list[Intent]] = [[] for _ in spans]
        for intent in reading.intents:
            if 0 <= intent.clause < len(by_clause):
                by_clause[intent.clause].append(intent)
        starts = [a for a, _ in original_spans]
        unread_by_clause: list[list[str]] = [[] for _ in spans]
        for a, b in reading.unread:
            k = max(bisect_right(starts, a) - 1, 0)
            if k < len(unread_by_clause):
                unread_by_clause[k].append(original[a:b])

        pieces: list[tuple[str, str, list[Check], list[str]]] = []  # (text, kind, checks, not understood)
        touched: list[ObjectGroup] = list(reading.unread_refs)
        unread = bool(reading.unread)
        said_preserve = False
        has_objects = editing
        for (a, b), intents, not_read in zip(spans, by_clause, unread_by_clause):
            clause = text[a:b]
            if PRESERVE_RE.search(clause):
                said_preserve = True
            if not intents:
                if PRESERVE_RE.search(clause) and not not_read:
                    continue
                unread = True
                kind = "generate" if not has_objects and not pieces else "edit"
                pieces.append((_sentence(clause), kind, [_text_check(clause)], not_read or [clause]))
                has_objects = True  # whatever it drew, later objects are added to it
                continue
            drawn = {(i.group.shape, i.group.color, i.group.size) for i in intents if i.op == "draw" and i.group}
            for i in intents:
                if i.group is None:
                    continue
                key = (i.group.shape, i.group.color, i.group.size)
                if i.op in ("remove", "recolor", "move") or (i.op == "relate" and key not in drawn):
                    touched.append(i.group)
            for k, (piece_text, piece_intents) in enumerate(_split_attached(clause, intents)):
                is_obj = any(i.op == "draw" for i in piece_intents)
                kind = _kind(piece_intents, first_draw=is_obj and not has_objects)
                has_objects = has_objects or is_obj
                checks = [c for i in piece_intents for c in intent_checks(i, objects)]
                pieces.append((piece_text, kind, checks, not_read if k == 0 else []))

        if not editing:
            # A style applies to the whole picture, and a blank canvas shows no style a critic
            # could verify: queue style commands after the objects they style.
            pieces = [p for p in pieces if p[1] != "style"] + [p for p in pieces if p[1] == "style"]
        if not pieces and said_preserve and editing:  # only "keep everything as it is"
            pieces.append((_sentence(text), "edit", [], []))
        elif not pieces:  # punctuation soup, or nothing that asks for work
            pieces.append(
                (
                    _sentence(text) or text,
                    "edit" if editing else "generate",
                    [_text_check(text)],
                    [original[a:b] for a, b in reading.unread],
                )
            )
        if editing and (not unread or said_preserve):
            keep = [preserve_check(o) for o in objects if not any(g.matches(o) for g in touched)]
            first = pieces[0]
            pieces[0] = (first[0], first[1], first[2] + keep, first[3])

        commands: list[Command] = []
        seen: set[Check] = set()
        for piece_text, kind, checks, not_read in pieces:
            new = []
            for c in checks:  # a constraint stated twice is checked once, where first asked
                if c not in seen:
                    seen.add(c)
                    new.append(c)
            if new or not commands:
                commands.append(Command(text=piece_text, kind=kind, checks=tuple(new), not_understood=tuple(not_read)))
            elif not_read:  # the command is dropped, what it did not understand is still reported
                last = commands[-1]
                commands[-1] = replace(last, not_understood=last.not_understood + tuple(not_read))
        return commands


def _rewrite(text: str, introduced: tuple[tuple[int, int, str], ...]) -> str:
    """``text`` with the determiners of introducing definite phrases replaced (right to left)."""
    for a, b, article in sorted(introduced, reverse=True):
        text = text[:a] + article + (" " if article and b < len(text) and not text[b].isspace() else "") + text[b:]
    return text


def _kind(intents: list[Intent], first_draw: bool) -> str:
    ops = {i.op for i in intents}
    if "draw" in ops:
        return "generate" if first_draw else "add"
    kinds = {_KIND_OF_OP[op] for op in ops if op in _KIND_OF_OP}
    return kinds.pop() if len(kinds) == 1 else "edit"


def _split_attached(clause: str, intents: list[Intent]) -> list[tuple[str, list[Intent]]]:
    """The clause as one piece, or, when an object clause carries an attached background or
    style phrase, the object part and each phrase restated as a sentence, in text order.

    A split is kept only if the pieces, parsed on their own, ask for exactly what the whole
    clause asked for (else the clause stays one command)."""
    whole = [(_sentence(clause), intents)]
    ops = {i.op for i in intents}
    if not ops & _OBJECT_OPS or not ops & {"background", "style"}:
        return whole
    body = original = clause.strip()
    before: list[str] = []
    after: list[tuple[int, str]] = []
    for what, prefix, pattern in _ATTACHED:
        if what not in ops:
            continue
        m = pattern.match(body) if prefix else pattern.search(body)
        if m is None:
            continue
        word = m.group("w")
        phrase = (
            f"Use {L.article(word)} {word} background."
            if what == "background"
            else f"Render everything in {word} style."
        )
        head = body[: m.start()].rstrip()
        if head.lower().endswith(" all"):
            head = head[:-4].rstrip()
        head = head.rstrip(",").rstrip()
        if prefix:
            before.append(phrase)
        else:
            where = pattern.search(original)
            after.append((where.start() if where is not None else len(original), phrase))
        rest = body[m.end() :].lstrip()
        body = head + ("" if prefix or not rest or rest[0] in ",.;:!?" else " ") + rest
        ops = ops - {what}
    if body.strip() == clause.strip():
        return whole
    out: list[tuple[str, list[Intent]]] = []
    for piece in [*before, _sentence(body), *(p for _, p in sorted(after))]:
        got = [replace(i, clause=intents[0].clause) for i in parse(piece)]
        if not got:
            return whole
        out.append((piece, got))
    want = _check_keys(intents)
    if _check_keys([i for _, got in out for i in got]) != want:
        return whole
    return out


def _check_keys(intents: list[Intent]) -> list[str]:
    return sorted(c.key for i in intents for c in intent_checks(i))
