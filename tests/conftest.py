"""Test-wide settings: no test may reach a model hub (none is reachable on our machines)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance for the whole session (2 CPUs, no dashboard, no usage stats).

    Tests that use it are skipped, with the reason, where Ray is not installed (the optional
    ``[ray]`` extra). Under pytest-xdist, mark them ``xdist_group("ray")`` so that one worker
    runs them all and Ray starts once."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'imageposer[ray]')")
    from poser_agents.distributed.runtime import init_ray

    ray = init_ray(num_cpus=2)
    yield ray
    ray.shutdown()
