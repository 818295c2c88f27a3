"""Build the static HTML report of a run folder: ``poser report RUN_DIR``.

The run folder is what ``poser eval --out``, ``poser demo`` or
``python -m poser_agents.evaluation --out`` wrote: a ``results.json`` (at the top or in
``evaluation/``), its plots, and, when the evaluation traced its episodes, ``traces/*.jsonl``.
The report is one folder (default ``RUN_DIR/report``) that opens from disk in any browser: no
server, no network, no CDN, no web font. It holds

- ``index.html``, ``app.js``, ``style.css`` (copied from this package),
- ``data.js``: the results (every table with its bootstrap CIs, paired differences, warnings),
- ``episodes-<k>.js``: agent ``k``'s episode traces, thumbnails inline as data URIs,
- ``figures/``: the run's plots.

Every string from the run folder is shown with ``textContent``, never parsed as HTML, and the
images must be base64 PNG/JPEG data URIs (checked when the traces are read): a run folder may
come from a stranger.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from poser_agents.common.checkpoint import atomic_write_text
from poser_agents.report.trace import read_traces

#: The page's files, shipped as package data.
STATIC_FILES: tuple[str, ...] = ("index.html", "app.js", "style.css")


def find_results(run_dir: str | Path) -> Path:
    """The ``results.json`` of a run folder (top level, then ``evaluation/``), or a clear error."""
    run = Path(run_dir)
    if run.is_file() and run.name == "results.json":
        return run
    for candidate in (run / "results.json", run / "evaluation" / "results.json"):
        if candidate.is_file():
            return candidate
    if not run.exists():
        raise FileNotFoundError(f"{run} does not exist: give the folder written by poser eval --out or poser demo")
    raise FileNotFoundError(
        f"no results.json in {run} or {run / 'evaluation'}: give the folder written by poser eval --out or poser demo"
    )


def _js(name: str, value: Any) -> str:
    # JSON is valid JavaScript; ensure_ascii also escapes U+2028/9 and keeps the file ASCII.
    return f"window.{name} = {json.dumps(value, allow_nan=False, ensure_ascii=True, separators=(',', ':'))};\n"


def _slim(agent_doc: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of one agent's results: the summary tables, not the raw records."""
    s = agent_doc.get("summary", {})
    return {
        "overall": s.get("overall", {}),
        "per_category": s.get("per_category", {}),
        "per_suite": s.get("per_suite", {}),
        "geneval_score": s.get("geneval_score"),
        "experts": s.get("experts", {}),
        "seconds": agent_doc.get("seconds"),
    }


def folder_size(path: str | Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def write_html_report(run_dir: str | Path, out: str | Path | None = None, title: str | None = None) -> Path:
    """Write the report folder of ``run_dir`` (default ``run_dir/report``); returns its index.html.

    Without traces (an older run, or an evaluation without ``trace=True``) the page has the
    tables and plots and says that there are no episodes to view.
    """
    results_path = find_results(run_dir)
    try:
        doc = json.loads(results_path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{results_path} is not valid JSON ({e}); rerun the evaluation") from None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("comparison"), dict)
        or not isinstance(doc.get("agents"), dict)
    ):
        raise ValueError(f"{results_path} has no 'comparison' and 'agents': it is not an evaluation's results.json")
    base = results_path.parent
    out_dir = Path(out) if out is not None else Path(run_dir if Path(run_dir).is_dir() else base) / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    cmp = doc["comparison"]
    names = [n for n in cmp.get("agents", []) if n in doc["agents"]]
    if not names:
        raise ValueError(f"{results_path} lists no agent")
    first = doc["agents"][names[0]].get("config", {})

    figures = []
    (out_dir / "figures").mkdir(exist_ok=True)
    for key, name in sorted(doc.get("figures", {}).items()):
        src = base / Path(str(name)).name  # a bare file name beside results.json, nothing else
        if src.suffix == ".png" and src.is_file():
            shutil.copyfile(src, out_dir / "figures" / src.name)
            figures.append({"key": key, "file": f"figures/{src.name}"})

    episode_files = []
    traces = doc.get("traces", {}) if isinstance(doc.get("traces"), dict) else {}
    for k, agent in enumerate(names):
        rel = traces.get(agent)
        if not rel:
            continue
        _, episodes = read_traces(base / "traces" / Path(str(rel)).name)
        js = (
            f"window.POSER_EPISODES = window.POSER_EPISODES || {{}};\nwindow.POSER_EPISODES[{json.dumps(agent)}] = "
            + json.dumps(episodes, allow_nan=False, ensure_ascii=True, separators=(",", ":"))
            + ";\n"
        )
        atomic_write_text(out_dir / f"episodes-{k}.js", js)
        episode_files.append(f"episodes-{k}.js")

    data = {
        "title": title or f"ImagePoser report: {first.get('env_id', '?')}, split {first.get('split', '?')}",
        "config": {k: first.get(k) for k in ("env_id", "split", "episodes", "seeds", "n_resamples")},
        "agents": names,
        "results": {n: _slim(doc["agents"][n]) for n in names},
        "categories": cmp.get("categories", []),
        "paired": cmp.get("paired", []),
        "warnings": doc.get("warnings", []),
        "notes": doc.get("notes", []),
        "figures": figures,
        "episode_files": episode_files,
    }
    atomic_write_text(out_dir / "data.js", _js("POSER_REPORT", data))
    static = resources.files("poser_agents.report") / "static"
    for name in STATIC_FILES:
        atomic_write_text(out_dir / name, (static / name).read_text(encoding="utf-8"))
    return out_dir / "index.html"
