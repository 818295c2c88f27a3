"""The import-layer contract (tools/check_imports.py): no upward import, no cycle, no private name
imported across modules. Run through the script's command line, as pre-commit runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "check_imports.py"


def _check(root: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(SCRIPT)] + ([str(root)] if root else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_the_contract() -> None:
    r = _check()
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ""


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    base = {
        "poser_env/__init__.py": "",
        "poser_env/types.py": "",
        "poser_env/env.py": "from poser_env import types\n",
        "poser_env/world/__init__.py": "",
        "poser_env/world/checks.py": "from poser_env.types import *\n",
        "poser_env/world/scene.py": "import numpy\nfrom . import checks\nfrom poser_env.memo import cached\n",
        "poser_env/memo.py": "def cached(f):\n    return f\n",  # a shared helper below the world
        "poser_agents/__init__.py": "",
        "poser_agents/agent.py": "import poser_env.env\nfrom poser_env.world.scene import checks\n",
    }
    for rel, text in {**base, **files}.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return tmp_path


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    r = _check(_tree(tmp_path, {}))
    assert (r.returncode, r.stdout) == (0, "")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # The env reaching up into the agents, also from inside a function.
        (
            {"poser_env/env.py": "def f():\n    import poser_agents.agent\n"},
            "poser_env.env:2 imports poser_agents.agent",
        ),
        # The world reaching up into the env, through a relative import.
        ({"poser_env/world/scene.py": "from .. import env\n"}, "poser_env.world.scene:1 imports poser_env.env"),
        # The world importing the poser_env package (its __init__ registers the env).
        ({"poser_env/world/scene.py": "import poser_env\n"}, "poser_env.world.scene:1 imports poser_env: the world"),
        # The data model importing the world (today's types <-> checks cycle, as it was).
        (
            {"poser_env/types.py": "def checks():\n    from poser_env.world.checks import f\n"},
            "poser_env.types:2 imports poser_env.world.checks",
        ),
        # A cycle inside one layer.
        (
            {"poser_env/world/checks.py": "from poser_env.world import scene\n"},
            "import cycle: poser_env.world.checks <-> poser_env.world.scene",
        ),
        # The shared model machinery reaching up into a role that uses it.
        (
            {
                "poser_env/backends/__init__.py": "",
                "poser_env/backends/pool.py": "from poser_env.critics import vlm\n",
                "poser_env/critics/__init__.py": "",
                "poser_env/critics/vlm.py": "",
            },
            "poser_env.backends.pool:1 imports poser_env.critics.vlm: the shared model machinery",
        ),
        # A private name taken from another module.
        (
            {"poser_agents/agent.py": "from poser_env.env import _episode\n"},
            "imports private _episode from poser_env.env",
        ),
    ],
)
def test_each_kind_of_breach_is_reported(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    r = _check(_tree(tmp_path, files))
    assert r.returncode == 1
    assert expected in r.stdout, r.stdout


def test_type_checking_imports_do_not_make_a_cycle(tmp_path: Path) -> None:
    files = {
        "poser_env/world/checks.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from poser_env.world import scene\n"
    }
    r = _check(_tree(tmp_path, files))
    assert (r.returncode, r.stdout) == (0, "")
