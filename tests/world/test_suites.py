"""The prompt suites: committed files match the generator, parse, are achievable and fair.

Regeneration is checked byte for byte on a fixed subset of (suite, split) pairs
(:data:`REGEN_PAIRS`: every geneval split, longform val, editing val; about 4 s) because the
full set takes about 30 s; ``python -m poser_env.world.suites --check`` checks all nine files.
Each split is generated from its own seed and needs no other split, so the subset is a real
test of those files, not a shortcut through shared state.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from poser_env.types import CHECK_CATEGORIES, Task
from poser_env.world import language as L
from poser_env.world import suites as S
from poser_env.world import vocab
from poser_env.world.checks import ObjectGroup, Relation, Target, answer, checks_for
from poser_env.world.sampling import realize

REGEN_PAIRS = [("geneval", "train"), ("geneval", "val"), ("geneval", "test"), ("longform", "val"), ("editing", "val")]
ALL_PAIRS = [(s, p) for s in S.SUITES for p in S.SPLITS]


@pytest.fixture(scope="module")
def suites() -> dict[tuple[str, str], list[Task]]:
    return {(s, p): S.load_suite(s, p) for s, p in ALL_PAIRS}


# --------------------------------------------------------------------------------------------
# Files, counts, splits
# --------------------------------------------------------------------------------------------


def test_regeneration_is_byte_identical():
    assert S.check_files(pairs=REGEN_PAIRS) is None


def test_package_data_holds_the_files():
    from importlib.resources import files

    for suite, split in ALL_PAIRS:
        assert files("poser_env").joinpath(f"data/suites/{suite}/{split}.jsonl").is_file()


def test_counts_per_split_and_category(suites):
    for (suite, split), tasks in suites.items():
        assert len(tasks) == S.SPLIT_SIZES[suite][split]
        assert Counter(t.task_category for t in tasks) == S.category_quota(suite, split)
        assert all(t.suite == suite and t.split == split for t in tasks)
        assert len({t.id for t in tasks}) == len(tasks)
    assert sum(len(suites[(s, "test")]) for s in S.SUITES) >= 500
    # GenEval categories are equal within a split.
    for split in S.SPLITS:
        assert len(set(S.category_quota("geneval", split).values())) == 1


def test_splits_are_disjoint_in_prompt_text(suites):
    for suite in S.SUITES:
        keys = {sp: [L.normalise(t.prompt) for t in suites[(suite, sp)]] for sp in S.SPLITS}
        for sp in S.SPLITS:
            assert len(set(keys[sp])) == len(keys[sp]), f"duplicate prompt inside {suite}/{sp}"
    everything = {sp: {L.normalise(t.prompt) for s in S.SUITES for t in suites[(s, sp)]} for sp in S.SPLITS}
    assert not everything["train"] & everything["test"]
    assert not everything["train"] & everything["val"]
    assert not everything["val"] & everything["test"]
    # By construction: every prompt lies in the split its hash names.
    for (suite, split), tasks in suites.items():
        assert all(S.split_of(t.prompt) == split for t in tasks)


def test_checks_are_well_formed_questions(suites):
    for tasks in suites.values():
        for t in tasks:
            checks = t.checks
            assert checks, t.id
            assert len(set(checks)) == len(checks), t.id
            for c in checks:
                assert c.question.endswith("?") and c.question[0].isupper()
                assert c.category in CHECK_CATEGORIES
    for t in suites[("longform", "train")]:
        assert 4 <= len(t.checks) <= 10
    for t in suites[("editing", "train")]:
        assert 2 <= len(t.edits) <= 5
        assert 2 <= len(t.source.objects) <= 5


def test_geneval_categories_have_their_shape(suites):
    expect = {
        "single_object": ["object"],
        "two_object": ["object", "object"],
        "counting": ["count"],
        "colors": ["color"],
        "position": ["object", "object", "position"],
        "color_attr": ["color", "color"],
    }
    for split in S.SPLITS:
        for t in suites[("geneval", split)]:
            assert sorted(c.category for c in t.checks) == expect[t.task_category], t.id


# --------------------------------------------------------------------------------------------
# Achievability
# --------------------------------------------------------------------------------------------


def _sample(tasks: list[Task], k: int, seed: int) -> list[Task]:
    idx = np.random.default_rng(seed).choice(len(tasks), size=min(k, len(tasks)), replace=False)
    return [tasks[int(i)] for i in idx]


@pytest.mark.parametrize("suite,split", [(s, p) for s, p in ALL_PAIRS if s != "editing"])
def test_generation_targets_are_realisable(suites, suite, split):
    from poser_env.world.layout import LayoutError

    for t in _sample(suites[(suite, split)], 40, 1):
        assert t.source is None and t.edits == ()
        for seed in range(3):  # realisable = some layout exists; show one
            try:
                scene = realize(t.target, np.random.default_rng(seed))
                break
            except LayoutError:
                continue
        else:
            pytest.fail(f"{t.id}: no layout for its target")
        assert all(answer(c, scene) for c in t.checks), t.id


@pytest.mark.parametrize("split", S.SPLITS)
def test_editing_tasks_are_achievable_and_not_done_already(suites, split):
    from poser_env.world.layout import LayoutError

    for t in _sample(suites[("editing", split)], 40, 2):
        assert S.edit_target(t.source, t.edits).to_dict() == t.target.to_dict(), t.id
        for seed in range(3):  # achievable = some layout of the edits exists; show one
            try:
                result = S.apply_edits(t.source, t.edits, np.random.default_rng(seed))
                break
            except LayoutError:
                continue
        else:
            pytest.fail(f"{t.id}: no layout for its edits")
        assert all(answer(c, result) for c in t.checks), t.id
        assert not all(answer(c, t.source) for c in t.checks), t.id
        for e in t.edits:
            assert e["text"] in t.prompt


def test_editing_references_are_unique_and_target_conflict_free(suites):
    from poser_env.world.sampling import conflicts

    for t in suites[("editing", "test")]:
        pairs = [(o.shape, o.color) for o in t.source.objects]
        assert len(set(pairs)) == len(pairs)
        groups = list(t.target.groups) + list(t.target.absent)
        assert not any(conflicts(a, b) for i, a in enumerate(groups) for b in groups[i + 1 :]), t.id


# --------------------------------------------------------------------------------------------
# Parse-back: a small grammar reader built only from language.py reads every prompt back to
# exactly its checks. It is a proof that the text is unambiguous, not the project's parser.
# --------------------------------------------------------------------------------------------


def _alt(words) -> str:
    return "|".join(re.escape(w) for w in L.longest_first(words))


_B = r"(?<![\w-])"
_E = r"(?![\w-])"
_NP = re.compile(
    rf"{_B}(?P<det>{_alt(list(L.COUNT_LOOKUP) + ['the'])})\s+(?:(?P<size>{_alt(L.SIZE_LOOKUP)})\s+)?"
    rf"(?:(?P<color>{_alt(L.COLOR_LOOKUP)})\s+)?(?P<shape>{_alt(L.SHAPE_LOOKUP)}){_E}"
)
_REL = re.compile(rf"{_B}(?:{_alt(L.RELATION_LOOKUP)}){_E}")
_BG = re.compile(rf"{_B}(?:{_alt(L.BACKGROUND_LOOKUP)}){_E}")
_STYLE = re.compile(rf"{_B}(?:{_alt(L.STYLE_LOOKUP)}){_E}")
_CLAUSES = re.compile(r"[.;:]|, (?:and )?then ")
_REMOVE = re.compile(rf"{_B}(?:{_alt(L.EDIT_VERBS['remove'])}) $")


def _np(m: re.Match) -> tuple[ObjectGroup, bool]:
    """(group as named, definite?) for a noun-phrase match."""
    det = m["det"]
    count = 1 if det == "the" else L.COUNT_LOOKUP[det]
    g = ObjectGroup(
        L.SHAPE_LOOKUP[m["shape"]],
        L.COLOR_LOOKUP.get(m["color"]) if m["color"] else None,
        L.SIZE_LOOKUP[m["size"]] if m["size"] else None,
        count,
    )
    return g, det == "the"


def _read(prompt: str, source=None) -> Target:
    text = prompt.lower()
    background = style = None
    for m in _BG.finditer(text):
        background = L.BACKGROUND_LOOKUP[m.group()]
    text = _BG.sub(" # ", text)
    for m in _STYLE.finditer(text):
        style = L.STYLE_LOOKUP[m.group()]
    text = _STYLE.sub(" # ", text)
    groups, relations, absent, touched = [], [], [], set()
    for clause in _CLAUSES.split(text):
        nps = [(m, *_np(m)) for m in _NP.finditer(clause)]
        groups += [g for _, g, definite in nps if not definite]
        for r in _REL.finditer(clause):
            before = [n for n in nps if n[0].end() <= r.start()]
            after = [n for n in nps if n[0].start() >= r.end()]
            a, b = (before[-1], after[0]) if before else (after[1], after[0])
            ends = [ObjectGroup(n[1].shape, n[1].color, n[1].size) for n in (a, b)]
            relations.append(Relation(ends[0], L.RELATION_LOOKUP[r.group()], ends[1]))
            if a[2] and source is not None:  # a definite subject is moved
                touched.add((a[1].shape, a[1].color))
        if source is None:
            continue
        for m, g, definite in nps:
            if not definite:
                continue
            if _REMOVE.search(clause[: m.start()]):
                absent.append(ObjectGroup(g.shape, g.color, None, 0))
                touched.add((g.shape, g.color))
            new = re.match(rf"\s+(?:to\s+)?({_alt(L.COLOR_LOOKUP)}){_E}", clause[m.end() :])
            if new:
                groups.append(ObjectGroup(g.shape, L.COLOR_LOOKUP[new.group(1)]))
                absent.append(ObjectGroup(g.shape, g.color, None, 0))
                touched.add((g.shape, g.color))
    preserve = () if source is None else tuple(o for o in source.objects if (o.shape, o.color) not in touched)
    return Target(tuple(groups), tuple(relations), tuple(absent), preserve, background, style)


def test_every_prompt_reads_back_to_exactly_its_checks(suites):
    misses = []
    for tasks in suites.values():
        for t in tasks:
            try:
                got = checks_for(_read(t.prompt, t.source))
            except (IndexError, ValueError) as e:
                misses.append((t.id, t.prompt, repr(e)))
                continue
            if Counter(c.key for c in got) != Counter(c.key for c in t.checks):
                misses.append((t.id, t.prompt, sorted({c.question for c in got} ^ {c.question for c in t.checks})))
    assert not misses, f"{len(misses)} prompts do not read back, e.g. {misses[:3]}"


# --------------------------------------------------------------------------------------------
# Loader errors
# --------------------------------------------------------------------------------------------


def _write(tmp_path: Path, lines: list[str], suite: str = "geneval", split: str = "val") -> Path:
    path = tmp_path / suite / f"{split}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _mutate(line: str, fn) -> str:
    d = json.loads(line)
    fn(d)
    return json.dumps(d, sort_keys=True)


@pytest.fixture(scope="module")
def good_line() -> str:
    return S.suite_file("geneval", "val").read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.parametrize(
    "bad,needle",
    [
        (lambda line: line[:-3], "not valid JSON"),
        (lambda line: "[1, 2]", "JSON object"),
        (lambda line: _mutate(line, lambda d: d.pop("target")), "missing key"),
        (lambda line: _mutate(line, lambda d: d.update(extra=1)), "unknown key"),
        (lambda line: _mutate(line, lambda d: d["target"]["groups"][0].update(color="teal")), "unknown colour 'teal'"),
        (lambda line: _mutate(line, lambda d: d["target"]["groups"][0].update(shape="blob")), "unknown shape 'blob'"),
        (lambda line: _mutate(line, lambda d: d["target"].update(style="cubist")), "unknown style 'cubist'"),
        (lambda line: _mutate(line, lambda d: d["target"]["groups"][0].update(count=9)), "count"),
        (lambda line: _mutate(line, lambda d: d.update(category="bogus")), "unknown category"),
        (lambda line: _mutate(line, lambda d: d.update(split="holdout")), "unknown split 'holdout'"),
        (lambda line: _mutate(line, lambda d: d.update(split="train")), "file holds geneval/val"),
        (lambda line: _mutate(line, lambda d: d.update(prompt="")), "prompt"),
        (lambda line: _mutate(line, lambda d: d.update(edits=[{"op": "fly"}])), "unknown edit op"),
        (lambda line: "", "empty line"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, good_line, bad, needle):
    path = _write(tmp_path, [good_line, bad(good_line)])
    with pytest.raises(S.SuiteFormatError) as e:
        S.load_suite("geneval", "val", tmp_path)
    assert f"{path.resolve()}:2" in str(e.value)
    assert needle in str(e.value)


def test_malformed_editing_source_is_reported(tmp_path):
    line = S.suite_file("editing", "val").read_text().splitlines()[0]
    bad = _mutate(line, lambda d: d["source"]["objects"][0].update(shape="blob"))
    _write(tmp_path, [bad], "editing", "val")
    with pytest.raises(S.SuiteFormatError, match=r"val\.jsonl:1: bad source: unknown shape 'blob'"):
        S.load_suite("editing", "val", tmp_path)


def test_parse_task_line_round_trips(good_line):
    task = S.parse_task_line(good_line, "x:1")
    assert isinstance(task.target, Target)
    assert S.task_line(task) == good_line


def test_unknown_suite_or_split():
    with pytest.raises(ValueError, match="allowed: geneval, longform, editing"):
        S.load_suite("gen-eval", "test")
    with pytest.raises(ValueError, match="allowed: train, val, test"):
        S.load_suite("geneval", "dev")


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        S.load_suite("geneval", "test", tmp_path)


def test_loading_is_cached_and_returns_fresh_lists():
    a, b = S.load_suite("geneval", "test"), S.load_suite("geneval", "test")
    assert a == b and a is not b
    assert all(x is y for x, y in zip(a, b))
    one_file = S.load_suite("geneval", "test", S.suite_file("geneval", "test"))
    assert [t.id for t in one_file] == [t.id for t in a]


# --------------------------------------------------------------------------------------------
# Edits and language tables
# --------------------------------------------------------------------------------------------


def test_edit_errors_are_clear(suites):
    t = suites[("editing", "val")][0]
    present = {(o.shape, o.color) for o in t.source.objects}
    shape, color = next((s, c) for s in vocab.SHAPES for c in vocab.COLORS if (s, c) not in present)
    with pytest.raises(S.EditError, match="exactly one object of the scene, found 0"):
        S.apply_edits(
            t.source,
            [{"op": "remove", "object": {"shape": shape, "color": color, "size": None}}],
            np.random.default_rng(0),
        )
    with pytest.raises(S.EditError, match="unknown edit op 'explode'; allowed: add, remove"):
        S.validate_edit({"op": "explode"})
    with pytest.raises(S.EditError, match="unknown colour 'teal'"):
        S.validate_edit({"op": "recolor", "object": {"shape": "star", "color": "red", "size": None}, "color": "teal"})
    with pytest.raises(S.EditError, match="missing"):
        S.validate_edit({"op": "move", "object": {"shape": "star", "color": "red", "size": None}})


def test_language_tables_are_consistent():
    for rel, phrases in L.RELATION_PHRASES.items():
        assert rel in vocab.RELATIONS and all(L.RELATION_LOOKUP[p] == rel for p in phrases)
    assert set(L.BACKGROUND_WORDS) == set(vocab.BACKGROUNDS)
    assert set(L.STYLE_ADJECTIVES) == set(vocab.STYLES) == set(L.STYLE_NOUNS)
    for words in (L.COLOR_LOOKUP, L.SIZE_LOOKUP, L.SHAPE_LOOKUP, L.RELATION_LOOKUP):
        assert not set(words) & set(L.BACKGROUND_LOOKUP)
    assert L.COUNT_LOOKUP["exactly 3"] == 3 and L.COUNT_LOOKUP["a single"] == 1
    assert L.longest_first(["left of", "to the left of"])[0] == "to the left of"
    assert L.normalise("  A Photo of a STAR. ") == "a photo of a star"
    assert L.article("orange circle") == "an"


def test_split_of_is_stable():
    # Changing the hash would silently move prompts between splits: pin a few.
    prompts = ("a photo of a star", "draw two circles", "a red heart", "Show five squares", "generate three triangles")
    assert [S.split_of(p) for p in prompts] == ["train", "val", "train", "test", "test"]
    assert S.split_of("A photo of a STAR.") == S.split_of("a photo of a star")
    assert {S.split_of(f"prompt {i}") for i in range(200)} == set(S.SPLITS)


def test_check_reports_the_first_differing_line(tmp_path):
    lines = S.suite_file("geneval", "val").read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace('"prompt":"', '"prompt":"X', 1)
    _write(tmp_path, lines)
    diff = S.check_files(tmp_path, pairs=[("geneval", "val")])
    assert diff is not None and "val.jsonl:5 differs" in diff
    assert S.check_files(tmp_path / "nowhere", pairs=[("geneval", "val")]).endswith("missing")


def test_stats_table(capsys):
    assert S.main(["--stats"]) == 0
    out = capsys.readouterr().out
    assert "| geneval | single_object | 200 | 40 | 50 | 290 |" in out
    assert "| editing | editing | 1000 | 200 | 300 | 1500 |" in out
