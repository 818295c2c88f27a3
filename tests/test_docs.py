"""The docs site builds with ``mkdocs build --strict``: a broken link, a missing page in the
navigation or an API reference to a name that no longer exists fails the suite."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e .[docs])")
pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed (pip install -e .[docs])")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    env = dict(
        os.environ,
        NO_MKDOCS_2_WARNING="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    site = tmp_path / "site"
    index = (site / "index.html").read_text()
    # The front page is the README, with its two commands and its links resolved to the pages.
    assert "Two commands for a fresh machine" in index and "creates .venv" in index and 'href="report/"' in index
    for page in (
        "tutorials/first-agent",
        "tutorials/add-expert",
        "tutorials/real-models",
        "tutorials/benchmark",
        "report",
        "tensorboard",
        "zoo",
        "api/agents",
        "api/evaluation",
    ):
        assert (site / page / "index.html").is_file(), page
    # The API reference is generated from the docstrings.
    assert "PoserTensorBoardCallback" in (site / "api" / "agents" / "index.html").read_text()
    assert (site / "img" / "report-viewer.png").is_file()
    # No web font, no CDN: the site, like the report, loads nothing from elsewhere.
    assert "fonts.googleapis" not in index and "cdn.jsdelivr" not in index
