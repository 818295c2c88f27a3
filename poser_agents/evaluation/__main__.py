"""``python -m poser_agents.evaluation``: see :func:`poser_agents.evaluation.report.main`."""

import sys

from poser_agents.evaluation.report import main

if __name__ == "__main__":
    sys.exit(main())
