"""Evaluation harness: run agents over seeds, bootstrap CIs, paired comparisons, reports, plots.

- :mod:`.harness`: :func:`evaluate` (one agent -> :class:`EvalResult`), :func:`compare`, :func:`paired`.
- :mod:`.summary`: per-episode records -> overall / per-category / per-suite / per-expert tables.
- :mod:`.stats`: :func:`bootstrap_ci`, :func:`paired_difference`, :func:`macro_mean_ci`.
- :mod:`.report`: :func:`write_report` (JSON, Markdown, PNGs) and the CLI ``main(argv)``.
- :mod:`.plots`: per-category bars, per-expert rewards, training curves.

See docs/evaluation.md. Plotting imports matplotlib, so ``report`` and ``plots`` are loaded lazily.
"""

from poser_agents.evaluation.harness import EvalResult, compare, evaluate, paired
from poser_agents.evaluation.stats import bootstrap_ci, format_ci, macro_mean_ci, paired_difference

__all__ = [
    "EvalResult",
    "evaluate",
    "compare",
    "paired",
    "bootstrap_ci",
    "paired_difference",
    "macro_mean_ci",
    "format_ci",
    "write_report",
    "main",
]


def __getattr__(name: str):
    if name in ("write_report", "main"):
        from poser_agents.evaluation import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
