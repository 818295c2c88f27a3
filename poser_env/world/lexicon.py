"""The reader's extra word tables: what the parser accepts beyond what the generator writes.

``language.py`` tabulates the phrases the suite generator writes; a parser that knew only
those would read every committed prompt and little that people write. The tables here are
read by the parser only (the generator never draws from them, so adding a word here changes
no committed suite). Every word of a prompt ends up *used* (it went into a check), *ignorable*
(:data:`FUNCTION_WORDS`: it carries no constraint the world could check) or *not understood*
(anything else, reported to the user). A word belongs in :data:`FUNCTION_WORDS` only if it
never states something an image must show: "the", "draw", "please", "sits". Words that do state
something the world cannot show ("near", "wooden", "shiny", "only") are left out on purpose, so
that they are reported.

Decisions:

- ``a couple of`` means two (as in the first held-out file) and ``a pair of`` two, ``a trio of``
  three. ``a few``, ``several``, ``some``, ``many``, ``multiple`` give no number: the group is
  read as "at least one" and the quantifier is reported as not understood.
- A bare plural ("orange stars") is "at least one": the world's checks have no "two or more".
- ``on top of``, ``atop``, ``over`` read as *above*, ``under``, ``beneath``, ``underneath`` as
  *below* (GenEval's rule: centres, no overlap; the layout never lets objects overlap, so the
  touching sense cannot be drawn and is not checked). ``to the upper left of`` is two
  relations (above and left of).
- ``near``, ``next to``, ``beside``, ``inside``, ``behind``, ``between`` ... name no direction the
  world checks: :data:`UNEXPRESSIBLE_RELATIONS`, reported.
- Colour intensifiers ("bright", "vivid", "deep") are ignorable: the world has one shade per
  colour name. Shade words that change the colour ("light", "pale", "dark", "pastel") are
  reported; the colour itself is kept.

Over 500 lines on purpose (formatted): word tables, one entry a line so that a diff shows the
word added; the code that reads them is in ``parse.py`` and ``chunks.py``.
"""

from __future__ import annotations

from poser_env.world import language as L

#: Quantifiers with a number ("a trio of white squares").
QUANTIFIERS: dict[str, int] = {"a pair of": 2, "a couple of": 2, "a trio of": 3, "a total of": 0}
#: Quantifiers without a number: the group is "at least one" and the words are reported.
VAGUE_QUANTIFIERS: tuple[str, ...] = (
    "a few", "several", "some", "many", "multiple", "a number of", "a bunch of", "lots of", "a lot of",
    "plenty of", "various", "numerous", "a group of", "a handful of", "a row of", "a pile of",
)

#: Extra size words (reader only).
EXTRA_SIZES: dict[str, str] = {"huge": "large", "giant": "large", "enormous": "large", "massive": "large",
                               "miniature": "small", "mini": "small", "smaller": "small", "larger": "large",
                               "bigger": "large"}
#: Ignorable colour intensifiers (the world has one shade per colour).
INTENSIFIERS: frozenset[str] = frozenset({"bright", "vivid", "deep", "rich", "pure", "strong", "intense", "solid",
                                          "vibrant", "saturated", "true", "brilliant", "bold"})
#: Words after a colour that add nothing ("purple-coloured", "red colored").
COLOURED: frozenset[str] = frozenset({"coloured", "colored", "hued", "toned", "tinted"})

#: Extra relation phrasings (see the module docstring).
EXTRA_RELATIONS: dict[str, str] = {
    "on top of": "above", "on the top of": "above", "atop": "above", "over": "above", "on top": "",
    "beneath": "below", "under": "below", "underneath": "below", "on the bottom of": "below",
    "at the bottom of": "", "at the top of": "",
    "to the left side of": "left of", "on the left of": "left of", "at the left of": "left of",
    "to the right side of": "right of", "on the right of": "right of", "at the right of": "right of",
    "just left of": "left of", "just right of": "right of", "just to the left of": "left of",
    "just to the right of": "right of", "just above": "above", "just below": "below",
    "higher up than": "", "further left than": "",
}
#: Compound relations: one phrase, two checks.
COMPOUND_RELATIONS: dict[str, tuple[str, str]] = {
    f"{pre}{v} {h} of": (r_v, r_h)
    for pre in ("to the ", "at the ", "on the ", "")
    for v, r_v in (("upper", "above"), ("lower", "below"), ("top", "above"), ("bottom", "below"))
    for h, r_h in (("left", "left of"), ("right", "right of"))
}
#: Relations the world cannot check: reported as not understood, never dropped.
UNEXPRESSIBLE_RELATIONS: tuple[str, ...] = (
    "near", "nearby", "next to", "beside", "besides", "by", "close to", "far from", "inside", "within", "in", "on",
    "at", "behind", "in front of", "between", "among", "around", "surrounding", "touching", "against", "across",
    "along", "alongside", "adjacent to", "opposite", "facing", "into", "onto", "through", "overlapping",
    "directly above", "directly below", "directly under", "directly beneath",
)

#: Verbs that mark an edit of colour (inflected forms too: "painted white").
RECOLOR_VERBS: frozenset[str] = frozenset({
    "recolour", "recolor", "recoloured", "recolored", "colour", "color", "coloured", "colored", "make", "made",
    "paint", "painted", "turn", "turned", "change", "changed", "dye", "dyed", "switch", "render",
})
#: Verbs that mark a removal (beyond language.EDIT_VERBS["remove"]).
EXTRA_REMOVE_VERBS: tuple[str, ...] = ("eliminate", "drop", "removed", "deleted", "erased", "get rid of", "lose")
#: Copulas: "the circle is red" states an attribute, not an edit.
COPULAS: frozenset[str] = frozenset({"is", "are", "be", "being", "looks", "look", "appears", "appear", "stays", "remains"})

#: Words that carry no constraint (see the module docstring before adding one).
FUNCTION_WORDS: frozenset[str] = frozenset(
    """
    a an the this that these those its it it's they them their there here everything all both each
    of to in on at by with for from into onto as than and or but nor plus also too then so
    is are was were be been being am has have had do does did can could would should will shall must may might
    i i'd i'm me my we us our you your please kindly just simply really now first second third next finally lastly
    afterwards after before while when where which who whose what how
    draw drawn draws drawing show shows shown showing create creates created creating generate generated produce
    produced depict depicts depicted render rendered rendering paint painted make makes made making put puts place
    placed places placing set sets include includes including included add added adding insert inserted give gives
    want wants need needs like would'd let let's get got see
    sit sits sitting sat rest rests resting hang hangs hanging stand stands standing lie lies lying float floats
    floating appear appears appearing located situated positioned position positions seated perched
    image images picture pictures photo photograph snapshot scene canvas drawing illustration frame composition
    artwork view
    there's contain contains containing has having feature features featuring with
    one ones item items object objects shape shapes thing things
    anywhere somewhere instead whole entire everything everywhere rest other others another else
    keep keeps keeping kept leave leaves stay stays remain remains same unchanged untouched alone
    ends up so that
    style styled look looks like such
    ok okay thanks thank well use used using switch restyle redraw redrawn convert change replace turn painting
    simple digital colour color against swap give
    """.split()
)
#: Words that open a span-extension to the left: "in the ocean", "at the end of the pier".
SPAN_LEADERS: frozenset[str] = frozenset({"in", "on", "at", "of", "the", "a", "an", "to", "with", "by", "from",
                                          "into", "onto", "against", "for", "some", "its", "their"})

#: Size words the reader accepts: the generator's and the extras.
SIZE_LOOKUP: dict[str, str] = {**L.SIZE_LOOKUP, **EXTRA_SIZES}
#: Shade words that change a colour: kept colour, word reported.
SHADES: frozenset[str] = frozenset({"light", "pale", "dark", "pastel", "neon", "dull", "muted", "faded", "soft", "hot",
                                    "baby", "navy", "royal", "lime", "forest"})
