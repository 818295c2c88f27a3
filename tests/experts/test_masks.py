"""Inpainting mask providers: spatial words, a fixed region, and entry points only with the flag."""

from __future__ import annotations

import numpy as np
import pytest

from poser_env.experts.masks import RegionMask, WordsMask, make_mask_provider


def test_masks():
    img = np.zeros((64, 64, 3), np.uint8)
    words = WordsMask()
    left = words("Add a tree on the left.", img) > 0
    assert left[:, :30].all() and not left[:, 40:].any()
    top = words("Put a bird in the sky.", img) > 0
    assert top[:30].all() and not top[40:].any()
    assert words.box_for("Add a cat in the top-right corner.") == [0.45, 0.0, 1.0, 0.55]
    assert (words("Add a cat.", img) > 0).mean() == pytest.approx(
        0.64, abs=0.05
    )  # no spatial word: the whole minus a border
    region = make_mask_provider({"type": "region", "box": [0, 0, 0.5, 0.5]})
    assert isinstance(region, RegionMask) and (region("x", img) > 0).sum() == 32 * 32
    with pytest.raises(ValueError, match="fractions"):
        RegionMask([0.5, 0, 0.2, 1])
    with pytest.raises(ValueError, match="unknown mask provider 'sam'"):
        make_mask_provider({"type": "sam"})
    with pytest.raises(ValueError, match="allow_entry_points"):
        make_mask_provider({"entry_point": "os:getcwd"})
