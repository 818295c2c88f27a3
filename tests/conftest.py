"""Test-wide settings: no test may reach a model hub (none is reachable on our machines)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


import pytest  # noqa: E402

#: The tiny real models (``tiny``, ``tiny_preset``, ``trained_llm``), shared by the tests of every role.
pytest_plugins = ["tests.backends.fixtures"]


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance for the whole session (2 CPUs, no dashboard, no usage stats).

    Tests that use it are skipped, with the reason, where Ray is not installed (the optional
    ``[ray]`` extra). Under pytest-xdist each worker that runs such a test starts its own
    instance (``--dist loadgroup`` would pin them to one worker, but pytest-xdist 3.8 cannot
    group tests under pytest 9.2: it renames ``item._nodeid``, which pytest 9 no longer reads)."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'imageposer[ray]')")
    from poser_agents.distributed.runtime import init_ray

    ray = init_ray(num_cpus=2)
    yield ray
    ray.shutdown()
