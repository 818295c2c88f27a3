"""The benchmark protocol: normalised score, ``poser benchmark run`` and ``aggregate`` (docs/benchmark.md)."""
