"""tools/trace_prompt_path.py: the count of project files one prompt's reset and step run code in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_counts_the_files_of_reset_and_step() -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "trace_prompt_path.py"), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for phase in ("first", "later"):
        e = out[phase]
        assert e["files"] == len(e["reset_and_step"]) == len(set(e["reset"]) | set(e["step"]))
        # The env, the extractor (reset) and the expert that ran (step) are on the path; the agents are not.
        assert "poser_env/env.py" in e["reset"] and "poser_env/env.py" in e["step"]
        assert "poser_env/experts/synthetic.py" in e["step"]
        assert not any(f.startswith("poser_agents/") for f in e["reset_and_step"])
    # The first reset runs the extractor; a later episode of the same task reads its commands
    # from the env's extraction cache (issue 13), so the grammar need not run again.
    assert "poser_env/extractors/grammar.py" in out["first"]["reset"]
    # The first reset of a fresh env loads the suite files; later episodes do not.
    assert "poser_env/world/suites/files.py" in out["first"]["reset"]
    assert "poser_env/world/suites/files.py" not in out["later"]["reset"]
