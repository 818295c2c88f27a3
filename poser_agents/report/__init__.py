"""The static HTML report: results with CIs, plots and an episode viewer (``poser report``).

- :mod:`.trace`: :class:`EpisodeTracer` records episodes step by step during an evaluation
  (``evaluate(..., trace=True)``); :func:`write_traces` / :func:`read_traces`.
- :mod:`.html`: :func:`write_html_report` turns a run folder into one static folder that opens
  from disk (no server, no network).

See docs/report.md.
"""

from poser_agents.report.html import find_results, folder_size, write_html_report
from poser_agents.report.trace import EpisodeTracer, read_traces, write_traces

__all__ = ["EpisodeTracer", "write_traces", "read_traces", "write_html_report", "find_results", "folder_size"]
