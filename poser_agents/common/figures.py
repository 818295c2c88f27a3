"""Figures written atomically: a killed process never leaves a half-written PNG where a good one was."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from poser_agents.common.checkpoint import atomic_write_bytes


def save_figure(fig: Any, path: str | Path, **savefig_kwargs: Any) -> Path:
    """Render a matplotlib figure to ``path`` (format from its suffix), close it, and return ``path``.

    The image is rendered in memory, then written with :func:`atomic_write_bytes` (temporary
    file, fsync, rename); the folder is created if missing.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=path.suffix.lstrip(".") or "png", **savefig_kwargs)
    finally:
        plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
