"""The model machinery's tests need the real extra; the tiny models are in ``fixtures.py``."""

import pytest

pytest.importorskip("diffusers", reason="the real backends need the 'real' extra: pip install -e .[real]")
