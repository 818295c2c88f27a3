"""The docs' generated figures (``<!-- figures: NAME -->`` blocks) are what the code gives today:
the cheap ones are rerun here; tools/regenerate_docs_figures.py rewrites them all."""

from tools.regenerate_docs_figures import CHEAP, EXPENSIVE, blocks, regenerate


def test_every_figure_block_names_a_known_figure():
    found = blocks()
    assert {name for _, name, _ in found} <= set(CHEAP) | set(EXPENSIVE)
    assert set(CHEAP) <= {name for _, name, _ in found}, "a cheap figure that no page shows"


def test_cheap_figures_match_a_rerun():
    stale = regenerate(set(CHEAP), check=True)
    assert not stale, f"stale figures {stale}: run python tools/regenerate_docs_figures.py"
