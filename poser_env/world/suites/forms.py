"""Surface forms of the v1 suites: the wordings of issue 12 that the reader handles.

The v0 suites (``geneval``, ``longform``, ``editing``) are written only in the template
wordings of :mod:`poser_env.world.language`. The v1 suites ``forms`` (generation) and
``forms_editing`` (editing) state the same kind of targets in the forms people write: each
task's *category* is the form it is written in (:data:`GENERATION_FORMS`,
:data:`EDITING_FORMS`), stated at least once in its prompt; the other parts of the prompt
mix v0 and v1 wordings at random. Every choice is drawn from the suite's own seeded Generator,
so the files regenerate byte for byte, and the v0 files are untouched (none of their draws
pass through here).

The target (checks) is always what the prompt asks. Two forms add words on purpose that the
world cannot check (``descriptive``: a clause with a colour word that is no constraint,
``unsupported``: materials, places, relations such as "next to"): the reader must report them
as not understood and add no check for them (``tests/world/test_suites_forms.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from poser_env.world import language as L
from poser_env.world import vocab
from poser_env.world.checks import ObjectGroup, Relation, Target

#: Generation forms (the categories of the ``forms`` suite), each stated at least once.
GENERATION_FORMS: tuple[str, ...] = (
    "definite_intro",  # "The red star sits above the green triangle."
    "relation_wording",  # "on top of", "atop", "underneath", "just left of", "to the upper left of" (two) ...
    "fronted_relation",  # "Below the circle there is a small red square."
    "verbal_relation",  # "A red circle is placed above a blue square."
    "bare_plural",  # "a green square and orange stars"
    "modifiers",  # "five bright red hearts", "a trio of white squares", "a vivid, orange heart"
    "coordinated",  # "a red and a blue circle", "two stars, one green and the other purple"
    "style_wording",  # "in a watercolour-wash style", "drawn as pixel art", "on a mint backdrop"
    "descriptive",  # "beneath the pale pink of the evening sky": reported, no check
    "unsupported",  # "on a wooden bench", "next to": reported, no check
)
#: Editing forms (the categories of the ``forms_editing`` suite).
EDITING_FORMS: tuple[str, ...] = (
    "relation_wording",  # "put a pink heart underneath the red circle"
    "fronted_relation",  # "Below the green star, insert a yellow hexagon"
    "verb_wording",  # "drop the red circle", "paint the blue square a deep purple"
    "setting_wording",  # "give the image a lavender backdrop", "redraw everything as a pencil sketch"
    "modifiers",  # "add a pair of bright red stars", "add orange stars"
    "unsupported",  # "add a green star made of shiny metal": reported, no check
)
#: Forms whose prompts hold words the reader must report as not understood.
UNREAD_FORMS: frozenset[str] = frozenset({"descriptive", "unsupported"})

#: v1 relation wordings (the reader's :data:`~poser_env.world.lexicon.EXTRA_RELATIONS`).
RELATION_WORDS: dict[str, tuple[str, ...]] = {
    "above": ("on top of", "atop", "over", "on the top of", "just above"),
    "below": ("beneath", "under", "underneath", "on the bottom of", "just below"),
    "left of": ("just left of", "just to the left of", "on the left of", "to the left side of"),
    "right of": ("just right of", "just to the right of", "on the right of", "to the right side of"),
}
#: Fronted relation phrases ("Below the circle there is ...").
FRONT_WORDS: dict[str, tuple[str, ...]] = {
    "above": ("Above", "On top of", "Over"),
    "below": ("Below", "Beneath", "Under", "Underneath"),
    "left of": ("To the left of", "Just left of", "On the left of"),
    "right of": ("To the right of", "Just right of", "On the right of"),
}
#: What follows a fronted relation and its anchor, before the indefinite subject.
FRONT_LINKS: tuple[str, ...] = (
    " there is",
    " sits",
    " lies",
    ", draw",
    ", there is",
    " you can see",
    " hangs",
    " rests",
)
#: Verbs of a relation sentence ("The star sits above ...", "A star is placed above ...").
RELATION_VERBS: tuple[str, ...] = (
    "sits",
    "rests",
    "is placed",
    "hangs",
    "lies",
    "is positioned",
    "floats",
    "stands",
    "appears",
)
#: Ignorable colour intensifiers and the "-coloured" tail (the reader's lexicon).
INTENSIFIERS: tuple[str, ...] = ("bright", "vivid", "deep", "rich", "solid", "vibrant", "bold")
COLOURED: tuple[str, ...] = ("-coloured", "-colored", " coloured")
#: Colours an intensifier reads well with ("bright red", never "bright black").
CHROMATIC: frozenset[str] = frozenset({"red", "orange", "yellow", "green", "blue", "purple", "pink"})
#: Number quantifiers ("a trio of").
QUANTIFIERS: dict[int, tuple[str, ...]] = {2: ("a pair of", "a couple of"), 3: ("a trio of",)}
#: v1 style wordings, attached to a sentence (", drawn as pixel art") or their own sentence.
STYLE_PHRASES: dict[str, tuple[str, ...]] = {
    "watercolor": ("in a watercolour-wash style", "in watercolour", "painted in watercolours", "in a watercolor style"),
    "sketch": ("as a pencil sketch", "in pencil-sketch style", "as a line drawing"),
    "pixel-art": ("drawn as pixel art", "in 8-bit style", "in pixel-art style", "as 8-bit pixel art"),
    "plain": ("as a flat drawing", "in a flat style", "in plain style"),
}
STYLE_SENTENCES: tuple[str, ...] = ("Render it all {p}.", "Everything is {p}.", "Show the scene {p}.")
#: v1 background wordings.
BACKGROUND_PHRASES: tuple[str, ...] = (
    "on {an} {bg} backdrop",
    "against {an} {bg} backdrop",
    "with {an} {bg} background",
)
BACKGROUND_SENTENCES: tuple[str, ...] = (
    "The backdrop should be {bg}.",
    "Use {an} {bg} backdrop.",
    "Give it {an} {bg} backdrop.",
)
#: Descriptive phrases with a colour word that is no constraint ({c}: a colour word).
DESCRIPTIVE: tuple[str, ...] = (
    " beneath the pale {c} of the evening sky",
    " under a clear {c} sky",
    ", like a {c} leaf in autumn",
    ", glowing against the {c} grass",
    " in the soft {c} light of dawn",
)
#: Phrases about things the world does not draw or relations it cannot check.
UNSUPPORTED: tuple[str, ...] = (
    " on a wooden bench",
    " at the end of the pier",
    " floating in the ocean",
    " made of shiny metal",
    " with rounded corners",
    " in a quiet garden",
)
#: Sentences that state a relation between two objects introduced with "the".
DEFINITE_SENTENCES: tuple[str, ...] = ("The {a} {verb} {rel} the {b}.", "The {a} is {rel} the {b}.")


def pick(rng: np.random.Generator, seq: Sequence[Any]) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _size(g: ObjectGroup, rng: np.random.Generator, v1: bool) -> str | None:
    if g.size is None:
        return None
    extra = {"large": ("huge", "giant"), "small": ("tiny", "miniature")}[g.size] if v1 else ()
    return str(pick(rng, L.SIZE_WORDS[g.size] + extra))


def describe(
    g: ObjectGroup, rng: np.random.Generator, v1: bool = False, plural: bool = False, force: bool = False
) -> str:
    """``"huge bright red circles"``: size, colour (with an ignorable intensifier or
    ``-coloured`` tail when ``v1``; always one when ``force``) and noun, no determiner."""
    color = g.color
    if color is not None and v1:
        mode = rng.random() * (0.6 if force else 1.0)
        if mode < 0.4 and color in CHROMATIC:
            color = f"{pick(rng, INTENSIFIERS)} {color}"
        elif mode < 0.6 or force:
            color = f"{color}{pick(rng, COLOURED)}"
    return " ".join(w for w in (_size(g, rng, v1), color, vocab.PLURALS[g.shape] if plural else g.shape) if w)


def group_phrase(g: ObjectGroup, rng: np.random.Generator, form: str | None) -> str:
    """An indefinite phrase stating group ``g``: v0 wording when ``form`` is None, else the
    ``modifiers`` (intensifiers, "a trio of", "a vivid, orange heart") or ``bare_plural``
    (a group of one written as "orange stars": at least one, as the reader takes it) form."""
    if form == "bare_plural" and g.count == 1:
        return describe(g, rng, v1=rng.random() < 0.3, plural=True)
    if form != "modifiers" or not has_modifier(g):
        return L.count_phrase(g.shape, g.color, g.size, g.count, rng)
    if g.count == 1:
        if g.size is None and g.color in CHROMATIC and rng.random() < 0.3:
            return L.with_article(f"{pick(rng, INTENSIFIERS)}, {g.color} {g.shape}")
        return L.with_article(describe(g, rng, v1=True, force=True))
    if g.count in QUANTIFIERS and rng.random() < 0.6:
        return f"{pick(rng, QUANTIFIERS[g.count])} {describe(g, rng, v1=True, plural=True)}"
    return f"{vocab.COUNT_WORDS[g.count]} {describe(g, rng, v1=True, plural=True, force=True)}"


def has_modifier(g: ObjectGroup) -> bool:
    """Whether the ``modifiers`` form can be written for ``g`` (a colour to intensify, or a
    count that a quantifier names)."""
    return g.color is not None or g.count in QUANTIFIERS


def coordinated(gs: Sequence[ObjectGroup], rng: np.random.Generator, distributive: bool = True) -> str:
    """Same-shape groups of one, one colour each: "a red and a blue circle", "red, green and
    blue squares", or (``distributive``) "two stars, one green and the other purple", which
    must end its list (an item after it would read as one more colour)."""
    colors = [str(g.color) for g in gs]
    shape = gs[0].shape
    mode = rng.random()
    if not distributive:
        mode *= 0.65
    if mode < 0.35:
        return " and ".join(L.with_article(c) for c in colors) + f" {shape}"
    if mode < 0.65:
        return ", ".join(colors[:-1]) + f" and {colors[-1]} {vocab.PLURALS[shape]}"
    n = vocab.COUNT_WORDS[len(colors)]
    if len(colors) == 2:
        return f"{n} {vocab.PLURALS[shape]}, one {colors[0]} and {pick(rng, ('the other', 'one'))} {colors[1]}"
    return f"{n} {vocab.PLURALS[shape]}, " + ", ".join(f"one {c}" for c in colors[:-1]) + f" and one {colors[-1]}"


def relation_words(rel: str, rng: np.random.Generator, v1: bool) -> str:
    return str(pick(rng, RELATION_WORDS[rel])) if v1 else L.relation_phrase(rel, rng)


def compound_words(r1: str, r2: str, rng: np.random.Generator) -> str:
    """One phrase for a vertical and a horizontal relation: "to the upper left of", "at the
    lower right of", "above and to the left of" (the reader's compound and chained relations)."""
    vertical, horizontal = (r1, r2) if r1 in ("above", "below") else (r2, r1)
    side = horizontal.split()[0]
    if rng.random() < 0.3:
        return f"{vertical} and to the {side} of"
    v = pick(rng, ("upper", "top") if vertical == "above" else ("lower", "bottom"))
    return f"{pick(rng, ('to the ', 'at the ', ''))}{v} {side} of"


def _key(g: ObjectGroup) -> tuple[str, str | None, str | None]:
    return (g.shape, g.color, g.size)


def forms_prompt(target: Target, form: str, rng: np.random.Generator) -> str | None:
    """A generation prompt for ``target`` that states ``form`` at least once (None when the
    target offers no place for it: the caller resamples)."""
    groups = list(target.groups)
    index = {_key(g): i for i, g in enumerate(groups)}
    shapes = [g.shape for g in groups]
    introduced: set[int] = set()  # groups a relation sentence introduces
    relation_sentences: list[str] = []
    used = False
    rel_forms = ("definite_intro", "relation_wording", "fronted_relation", "verbal_relation")
    done: set[int] = set()  # relations already stated (the second of a compound pair)
    for ri in rng.permutation(len(target.relations)):
        if int(ri) in done:
            continue
        r: Relation = target.relations[int(ri)]
        ia, ib = index[_key(r.a)], index[_key(r.b)]
        fresh_a, fresh_b = ia not in introduced, ib not in introduced
        twin = next((k for k, q in enumerate(target.relations) if k != int(ri) and (q.a, q.b) == (r.a, r.b)), None)
        if twin is not None:  # a vertical and a horizontal relation of one pair: one compound phrase
            done.add(twin)
            phrase = compound_words(r.rel, target.relations[twin].rel, rng)
            a, b = describe(r.a, rng), describe(r.b, rng)
            if fresh_a and fresh_b and rng.random() < 0.5:
                s = f"{L.capitalise(L.with_article(a))} {pick(rng, RELATION_VERBS)} {phrase} {L.with_article(b)}."
                introduced |= {ia, ib}
            else:
                s = f"The {a} is {phrase} the {b}."
            used = used or form == "relation_wording"
            relation_sentences.append(s)
            continue
        f = form if form in rel_forms and not used else (pick(rng, rel_forms) if rng.random() < 0.5 else "v0")
        if f == "definite_intro" and not (
            fresh_a and fresh_b and shapes.count(r.a.shape) == 1 and shapes.count(r.b.shape) == 1
        ):
            f = "v0"
        if f in ("verbal_relation",) and not (fresh_a and fresh_b):
            f = "relation_wording"
        if f == "fronted_relation" and not fresh_a:
            f = "relation_wording"
        a, b = describe(r.a, rng), describe(r.b, rng)
        if f == "definite_intro":
            s = pick(rng, DEFINITE_SENTENCES).format(
                a=a, b=b, verb=pick(rng, RELATION_VERBS), rel=relation_words(r.rel, rng, rng.random() < 0.6)
            )
            introduced |= {ia, ib}
        elif f == "verbal_relation":
            s = f"{L.capitalise(L.with_article(a))} {pick(rng, RELATION_VERBS)} {relation_words(r.rel, rng, rng.random() < 0.6)} {L.with_article(b)}."
            introduced |= {ia, ib}
        elif f == "fronted_relation":
            s = f"{pick(rng, FRONT_WORDS[r.rel])} the {b}{pick(rng, FRONT_LINKS)} {L.with_article(a)}."
            introduced.add(ia)
        else:
            s = f"The {a} is {relation_words(r.rel, rng, f == 'relation_wording')} the {b}."
        if f == form:
            used = True
        relation_sentences.append(s)
    rest = [g for i, g in enumerate(groups) if i not in introduced]
    related = {_key(x) for r in target.relations for x in (r.a, r.b)}
    items: list[str] = []
    # Coordinated: same-shape groups of one without size that no relation names.
    by_shape: dict[str, list[ObjectGroup]] = {}
    for g in rest:
        if g.count == 1 and g.size is None and g.color is not None and _key(g) not in related:
            by_shape.setdefault(g.shape, []).append(g)
    last: list[str] = []  # a distributive item ends the list
    for shape, gs in by_shape.items():
        if len(gs) >= 2 and (form == "coordinated" or rng.random() < 0.3):
            item = coordinated(gs, rng, distributive=not last)
            (last if ", one " in item else items).append(item)
            rest = [g for g in rest if g not in gs]
            used = used or form == "coordinated"
    for g in rest:
        if form in ("bare_plural", "modifiers") and (not used or rng.random() < 0.5):
            ok = g.count == 1 and _key(g) not in related if form == "bare_plural" else has_modifier(g)
            if ok and not (form == "bare_plural" and any(h.shape == g.shape and h is not g for h in groups)):
                items.append(group_phrase(g, rng, form))
                used = True
                continue
        items.append(group_phrase(g, rng, None))
    items = [items[int(k)] for k in rng.permutation(len(items))] + last
    sentences: list[str] = []
    if items:
        template = pick(rng, L.LIST_SENTENCES)
        be = "is" if items[0].split()[0] in ("a", "an", "one") and "," not in items[0] else "are"
        sentences.append(template.format(items=L.join_items(items, rng), be=be))
    sentences += relation_sentences
    if not sentences:
        return None

    def attach(phrase: str) -> None:
        k = int(rng.integers(len(sentences)))
        sentences[k] = sentences[k][:-1] + ("," if rng.random() < 0.5 else "") + " " + phrase + "."

    v1_settings = form == "style_wording" or rng.random() < 0.4
    if form == "style_wording" and target.style is None and target.background is None:
        return None
    if target.background is not None:
        bg = L.background_word(target.background, rng)
        if v1_settings:
            if rng.random() < 0.6:
                attach(pick(rng, BACKGROUND_PHRASES).format(an=L.article(bg), bg=bg))
            else:
                sentences.append(pick(rng, BACKGROUND_SENTENCES).format(an=L.article(bg), bg=bg))
        else:
            sentences.append(pick(rng, L.BACKGROUND_SENTENCES).format(an=L.article(bg), bg=bg))
        used = used or form == "style_wording"
    if target.style is not None:
        if v1_settings:
            p = str(pick(rng, STYLE_PHRASES[target.style]))
            if rng.random() < 0.6:
                attach(p)
            else:
                sentences.append(pick(rng, STYLE_SENTENCES).format(p=p))
        else:
            adj = L.style_adjective(target.style, rng)
            sentences.append(
                pick(rng, L.STYLE_SENTENCES).format(adj=adj, an=L.article(adj), noun=L.style_noun(target.style, rng))
            )
        used = used or form == "style_wording"
    if form == "descriptive":
        attach_end(sentences, pick(rng, DESCRIPTIVE).format(c=pick(rng, list(vocab.COLORS))))
        used = True
    elif form == "unsupported":
        attach_end(sentences, pick(rng, UNSUPPORTED))
        used = True
    return " ".join(sentences) if used else None


def attach_end(sentences: list[str], phrase: str) -> None:
    """Append ``phrase`` (starting with a space or comma) to the first sentence, before its stop."""
    sentences[0] = sentences[0][:-1] + phrase + "."


# --------------------------------------------------------------------------------------------
# Editing
# --------------------------------------------------------------------------------------------

#: v1 edit clause templates per (form, op); placeholders as in language.EDIT_TEMPLATES.
EDIT_FORMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("relation_wording", "add"): (
        "put {np} {rel} the {anchor}",
        "add {np} {rel} the {anchor}",
        "place {np} {rel} the {anchor}",
    ),
    ("relation_wording", "move"): (
        "move the {obj} {rel} the {anchor}",
        "shift the {obj} {rel} the {anchor}",
        "put the {obj} {rel} the {anchor}",
    ),
    ("fronted_relation", "add"): (
        "{Rel} the {anchor}, add {np}",
        "{Rel} the {anchor}, insert {np}",
        "{Rel} the {anchor}, put {np}",
    ),
    ("verb_wording", "remove"): ("drop the {obj}", "eliminate the {obj}", "get rid of the {obj}", "erase the {obj}"),
    ("verb_wording", "recolor"): (
        "paint the {obj} a deep {color}",
        "make the {obj} bright {color}",
        "turn the {obj} {color}",
        "dye the {obj} {color}",
        "colour the {obj} a vivid {color}",
    ),
    ("setting_wording", "background"): (
        "give the {image} {an} {bg} backdrop",
        "make the backdrop {bg}",
        "switch to {an} {bg} backdrop",
        "use {an} {bg} backdrop",
    ),
    ("setting_wording", "style"): ("redraw everything {p}", "render the {image} {p}", "show it all {p}"),
    ("modifiers", "add"): ("add {np}", "insert {np}", "draw {np}"),
    ("unsupported", "add"): ("add {np}{u}", "draw {np}{u}"),
}
#: v1 closing sentences (everything else stays).
PRESERVE_SENTENCES: tuple[str, ...] = (
    "Leave the rest alone.",
    "Nothing else changes.",
    "The rest stays as it is.",
    "Keep everything else as it is.",
)


def _ref(o: dict[str, Any]) -> str:
    return L.noun(o["shape"], o["color"])


def forms_edit_clause(edit: dict[str, Any], rng: np.random.Generator, form: str | None) -> str | None:
    """One clause in ``form`` (None: the form does not fit this edit)."""
    op = edit["op"]
    if form is None or (form, op) not in EDIT_FORMS:
        return None
    if form in ("relation_wording", "fronted_relation") and edit.get("rel") is None:
        return None
    if op == "add" and form in ("modifiers", "unsupported") and edit.get("rel") is not None:
        return None
    image = pick(rng, L.IMAGE_NOUNS)
    fields: dict[str, Any] = {"image": image}
    if op == "add":
        o = edit["object"]
        g = ObjectGroup(o["shape"], o["color"], o.get("size"), edit.get("count", 1))
        fields["np"] = group_phrase(g, rng, "modifiers" if form == "modifiers" else None)
        if form == "modifiers" and g.count == 1 and g.size is None and rng.random() < 0.3:
            fields["np"] = group_phrase(g, rng, "bare_plural")
        fields["u"] = pick(rng, UNSUPPORTED)
    if op in ("remove", "recolor", "move"):
        fields["obj"] = _ref(edit["object"])
    if op == "recolor":
        fields["color"] = edit["color"]
        if form == "verb_wording" and edit["color"] not in CHROMATIC:  # "a deep white" reads badly
            return str(pick(rng, ("turn the {obj} {color}", "dye the {obj} {color}"))).format(**fields)
    if edit.get("rel") is not None:
        fields["anchor"] = _ref(edit["anchor"])
        fields["rel"] = relation_words(edit["rel"], rng, True)
        fields["Rel"] = pick(rng, FRONT_WORDS[edit["rel"]])
    if op == "background":
        bg = L.background_word(edit["background"], rng)
        fields.update(bg=bg, an=L.article(bg))
    if op == "style":
        fields["p"] = pick(rng, [x for x in STYLE_PHRASES[edit["style"]] if not x.startswith(("drawn", "painted"))])
    text = str(pick(rng, EDIT_FORMS[(form, op)])).format(**fields)
    return text[:1].lower() + text[1:]


def forms_editing_prompt(
    edits: Sequence[dict[str, Any]],
    rng: np.random.Generator,
    form: str,
    v0_clause: Callable[[dict[str, Any], np.random.Generator], str],
) -> tuple[str, list[str]] | None:
    """An editing prompt with at least one clause in ``form`` (None when no edit fits it);
    other clauses are v1 forms or v0 clauses at random."""
    fits = [k for k, e in enumerate(edits) if forms_edit_clause(dict(e), np.random.default_rng(0), form) is not None]
    if not fits:
        return None
    forced = int(pick(rng, fits))
    clauses: list[str] = []
    for k, e in enumerate(edits):
        text = None
        if k == forced:
            text = forms_edit_clause(e, rng, form)
        elif rng.random() < 0.5:
            text = forms_edit_clause(e, rng, str(pick(rng, [f for f in EDITING_FORMS if f not in UNREAD_FORMS])))
        clauses.append(text if text is not None else v0_clause(e, rng))
    sentences: list[str] = []
    texts: list[str] = []  # each clause exactly as the prompt spells it
    for k, c in enumerate(clauses):
        conn = pick(
            rng, L.FIRST_CONNECTORS if k == 0 else L.LAST_CONNECTORS if k == len(clauses) - 1 else L.MIDDLE_CONNECTORS
        )
        texts.append(c if conn else L.capitalise(c))
        sentences.append(conn + texts[-1] + ".")
    sentences.append(pick(rng, PRESERVE_SENTENCES + L.PRESERVE_SENTENCES))
    return " ".join(sentences), texts
