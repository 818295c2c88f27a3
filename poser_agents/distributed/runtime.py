"""Start or join Ray, the same way everywhere: no dashboard, no usage reporting, local by default.

Why one helper: tests, examples and the CLI must never contact an address other than the local
machine unless the user names one, and Ray's defaults (dashboard on, usage stats on, joining a
Ray instance found on the machine) would do both silently.
"""

from __future__ import annotations

import os
from typing import Any

#: Namespace of every named actor the project creates (served experts and critics).
NAMESPACE = "imageposer"


class RayUnavailableError(ImportError):
    """Ray is not installed; the message says what to install."""


def require_ray(feature: str = "this feature") -> Any:
    """Import and return ``ray``, or raise :class:`RayUnavailableError` naming the fix."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(f"{feature} needs Ray: pip install 'imageposer[ray]' (or pip install ray)") from None
    return ray


def init_ray(address: str | None = None, num_cpus: int | None = None, **kwargs: Any) -> Any:
    """Connect to Ray (once per process) and return the ``ray`` module.

    ``address=None`` starts a new local instance (``address="local"``: never one found running on
    the machine); ``"auto"`` or ``"HOST:PORT"`` joins a cluster started with ``ray start``.
    ``num_cpus`` caps a local instance (ignored when joining). The dashboard and usage reporting
    are off; pass ``include_dashboard=True`` to turn the dashboard back on.
    """
    ray = require_ray("Ray execution")
    if ray.is_initialized():
        return ray
    opts: dict[str, Any] = {"namespace": NAMESPACE, "include_dashboard": False, "log_to_driver": True}
    opts.update(kwargs)
    if address is None:
        # Local workers inherit the driver's environment (PYTHONPATH included), so they import
        # the same project code.
        opts.update(address="local", num_cpus=num_cpus)
    else:
        opts.update(address=address)
        opts.pop("include_dashboard", None)  # a setting of the head node, not of a joining driver
    ray.init(**opts)
    return ray
