"""Surface text of generated tasks: long-form prompts and editing instructions.

:func:`longform_prompt` states every constraint of a generation target exactly once;
:func:`edit_clause` and :func:`editing_prompt` spell a list of edits as an instruction. The
wording tables live in :mod:`poser_env.world.language`; the generator that calls these is
:mod:`poser_env.world.suites.generate`. Every choice is drawn from the given Generator, in a fixed
order, so that the committed suite files regenerate byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from poser_env.world import language as L
from poser_env.world.checks import ObjectGroup, Relation, Target


def _pick(rng: np.random.Generator, seq: Sequence[Any]) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _key(g: ObjectGroup) -> tuple[str, str | None, str | None]:
    return (g.shape, g.color, g.size)


def longform_prompt(target: Target, rng: np.random.Generator) -> str:
    """Surface text stating every constraint of a generation target exactly once.

    Groups are stated in item lists spread over one to three sentences (in random order);
    a relation is either stated inline as an item that introduces both of its objects ("a red
    circle to the left of a blue star") or as its own sentence with definite references after
    the lists; the background and the style are a sentence of their own (anywhere) or a
    phrase attached to a list sentence.
    """
    groups = list(target.groups)
    index = {_key(g): i for i, g in enumerate(groups)}
    introduced: list[int] = []
    inline: list[tuple[str, bool]] = []  # (text, plural) of items stating a relation
    later: list[Relation] = []
    for ri in rng.permutation(len(target.relations)):
        r = target.relations[int(ri)]
        ia, ib = index[_key(r.a)], index[_key(r.b)]
        if ia not in introduced and ib not in introduced and rng.random() < 0.5:
            a = L.with_article(L.reference(r.a.shape, r.a.color, r.a.size, rng))
            b = L.with_article(L.reference(r.b.shape, r.b.color, r.b.size, rng))
            inline.append((L.INLINE_RELATION.format(a=a, rel=L.relation_phrase(r.rel, rng), b=b), False))
            introduced += [ia, ib]
        else:
            later.append(r)
    plain = [
        (L.count_phrase(g.shape, g.color, g.size, g.count, rng), g.count > 1)
        for i, g in enumerate(groups)
        if i not in introduced
    ]
    plain = [plain[int(k)] for k in rng.permutation(len(plain))]

    # Split the items into 1 to 3 list sentences. An inline relation always ends its list (so
    # that no item follows its second object: "a circle above a star and two hearts" would
    # read as "above a star and two hearts"), hence at least one sentence per inline relation.
    n_items = len(plain) + len(inline)
    n_chunks = 1 if n_items <= 2 else int(rng.integers(1, min(3, n_items) + 1))
    n_chunks = max(n_chunks, len(inline))
    with_inline = sorted(int(k) for k in rng.choice(n_chunks, size=len(inline), replace=False))
    owner = [k for k in range(n_chunks) if k not in with_inline]  # one plain item each, first
    owner += [int(rng.integers(n_chunks)) for _ in range(len(plain) - len(owner))]
    chunks: list[list[tuple[str, bool]]] = [[] for _ in range(n_chunks)]
    for item, k in zip(plain, owner):
        chunks[k].append(item)
    for item, k in zip(inline, with_inline):
        chunks[k].append(item)
    templates = list(rng.permutation(len(L.LIST_SENTENCES)))[:n_chunks]
    # Per list sentence: [prefix, body, suffix]; the body's template ends with a full stop.
    parts: list[list[str]] = []
    for chunk, t in zip(chunks, templates):
        text = L.LIST_SENTENCES[int(t)].format(
            items=L.join_items([c[0] for c in chunk], rng), be="are" if chunk[0][1] else "is"
        )
        parts.append(["", text[:-1], "."])
    extra: list[str] = []  # sentences of their own

    def attach(
        adj_or_bg: dict[str, str], sentences: Sequence[str], prefixes: Sequence[str], suffixes: Sequence[str]
    ) -> None:
        mode = rng.random()
        if mode < 0.25 and not parts[0][0]:
            parts[0][0] = _pick(rng, prefixes).format(**adj_or_bg)
            return
        free = [k for k, p in enumerate(parts) if p[2] == "."]
        if mode < 0.5 and free:
            k = _pick(rng, free)
            parts[k][2] = _pick(rng, suffixes).format(**adj_or_bg) + "."
            return
        extra.append(_pick(rng, sentences).format(**adj_or_bg))

    if target.background is not None:
        bg = L.background_word(target.background, rng)
        attach({"bg": bg, "an": L.article(bg)}, L.BACKGROUND_SENTENCES, L.BACKGROUND_PREFIXES, L.BACKGROUND_SUFFIXES)
    if target.style is not None:
        adj = L.style_adjective(target.style, rng)
        fields = {"adj": adj, "an": L.article(adj), "noun": L.style_noun(target.style, rng)}
        attach(fields, L.STYLE_SENTENCES, L.STYLE_PREFIXES, L.STYLE_SUFFIXES)

    sentences = []
    for prefix, body, end in parts:
        if prefix and not body.startswith("I "):
            body = body[:1].lower() + body[1:]
        sentences.append(prefix + body + end)
    for r in later:
        template = _pick(rng, L.RELATION_SENTENCES)
        rel = L.relation_phrase(r.rel, rng, front=template.startswith("{Rel}"))
        sentences.append(
            template.format(
                a=L.reference(r.a.shape, r.a.color, r.a.size, rng),
                b=L.reference(r.b.shape, r.b.color, r.b.size, rng),
                rel=rel,
                Rel=L.capitalise(rel),
            )
        )
    for s in extra:  # a background or style sentence goes first, last, or in between
        sentences.insert(int(rng.integers(len(sentences) + 1)), s)
    return " ".join(sentences)


def edit_clause(edit: dict[str, Any], rng: np.random.Generator) -> str:
    """One clause stating ``edit`` (lower case, no full stop)."""
    op = edit["op"]
    image = _pick(rng, L.IMAGE_NOUNS)
    if op == "add":
        o = edit["object"]
        np_ = L.count_phrase(
            o["shape"], o["color"], o.get("size"), edit.get("count", 1), rng, singular_forms=("a", "one")
        )
        if edit.get("rel") is not None:
            anchor = L.reference(edit["anchor"]["shape"], edit["anchor"]["color"], None, rng)
            if rng.random() < 0.2:
                rel = L.relation_phrase(edit["rel"], rng, front=True)
                return _pick(rng, L.EDIT_TEMPLATES["add_front"]).format(Rel=rel, anchor=anchor, np=np_)
            rel = L.relation_phrase(edit["rel"], rng)
            loc = f" {rel} the {anchor}"
            return _pick(rng, L.EDIT_TEMPLATES["add"]).format(np=np_, loc=loc)
        template = _pick(rng, L.EDIT_TEMPLATES["add"])
        endings = L.ADD_NO_LOCATION[1:] if template.split()[0] in L.ADD_VERBS_WITH_LOCATION else L.ADD_NO_LOCATION
        return template.format(np=np_, loc=_pick(rng, endings).format(image=image))
    if op in ("remove", "recolor", "move"):
        o = edit["object"]
        fields = {"obj": L.reference(o["shape"], o["color"], None, rng)}
        if op == "recolor":
            fields["color"] = edit["color"]
        if op == "move":
            fields["rel"] = L.relation_phrase(edit["rel"], rng)
            fields["anchor"] = L.reference(edit["anchor"]["shape"], edit["anchor"]["color"], None, rng)
        return _pick(rng, L.EDIT_TEMPLATES[op]).format(**fields)
    if op == "background":
        bg = L.background_word(edit["background"], rng)
        return _pick(rng, L.EDIT_TEMPLATES["background"]).format(bg=bg, an=L.article(bg), image=image)
    adj = L.style_adjective(edit["style"], rng)
    return _pick(rng, L.EDIT_TEMPLATES["style"]).format(
        adj=adj, an=L.article(adj), noun=L.style_noun(edit["style"], rng), image=image
    )


def editing_prompt(edits: Sequence[dict[str, Any]], rng: np.random.Generator) -> tuple[str, list[str]]:
    """The prompt for a list of edits, and each edit's clause exactly as the prompt spells it.

    Either one sentence per edit (with connectors such as "First," / "Then" / "Finally,") or
    clauses joined inside one or two sentences (", then", "; "); always closed by a sentence
    saying that everything else stays.
    """
    clauses = [edit_clause(e, rng) for e in edits]
    n = len(clauses)
    texts: list[str] = []
    sentences: list[str] = []
    if rng.random() < 0.55:
        for k, c in enumerate(clauses):
            conn = _pick(
                rng, L.FIRST_CONNECTORS if k == 0 else L.LAST_CONNECTORS if k == n - 1 else L.MIDDLE_CONNECTORS
            )
            text = c if conn else L.capitalise(c)
            texts.append(text)
            sentences.append(conn + text + ".")
    else:
        n_sent = 1 if n <= 2 or rng.random() < 0.5 else 2
        cut = n if n_sent == 1 else int(rng.integers(1, n))
        for part in (clauses[:cut], clauses[cut:]):
            if not part:
                continue
            part = [L.capitalise(part[0]), *part[1:]]
            texts += part
            s = part[0]
            for c in part[1:]:
                s += _pick(rng, L.CLAUSE_JOINERS) + c
            sentences.append(s + ".")
    sentences.append(_pick(rng, L.PRESERVE_SENTENCES))
    return " ".join(sentences), texts
