"""``poser benchmark run --ray``: seeds as Ray tasks write the serial run's results."""

from __future__ import annotations

import json

import pytest

from poser_agents.cli import main

pytestmark = pytest.mark.ray

TINY = [
    "--env",
    "ImagePoser-Gen-v0",
    "--steps",
    "40",
    "--eval-every",
    "20",
    "--val-episodes",
    "2",
    "--test-episodes",
    "2",
]
WHEN = ("started", "finished", "seconds")  # wall-clock fields: the only ones allowed to differ


def test_benchmark_run_on_ray_writes_the_serial_results(ray_local, tmp_path, capsys):
    argv = ["benchmark", "run", "--algo", "a2c", "--seeds", "0,1", *TINY, "--json"]
    outs = {}
    for name, extra in (("serial", []), ("ray", ["--ray"])):
        assert main([*argv, "--out", str(tmp_path / name), *extra]) == 0
        outs[name] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert outs["ray"]["runs"] == outs["serial"]["runs"] and len(outs["ray"]["runs"]) == 2
    for seed in (0, 1):
        folders = {n: tmp_path / n / "ImagePoser-Gen-v0" / "a2c" / f"seed{seed}" for n in outs}
        serial, ray = (
            {k: v for k, v in json.loads((f / "result.json").read_text()).items() if k not in WHEN}
            for f in folders.values()
        )
        assert serial == ray and serial["status"] == "complete" and len(serial["curve"]) >= 3
        assert (folders["serial"] / "curve.csv").read_text() == (folders["ray"] / "curve.csv").read_text()
    refs = sorted(p.name for p in (tmp_path / "ray" / "references" / "ImagePoser-Gen-v0").iterdir())
    assert refs == ["test-e2-s0-hash.json", "val-e2-s0-hash.json"]  # measured once, in the driver


def test_benchmark_address_needs_ray(capsys):
    with pytest.raises(SystemExit) as e:
        main(["benchmark", "run", "--algo", "a2c", *TINY, "--out", "x", "--address", "auto"])
    assert e.value.code == 2 and "--address needs --ray" in capsys.readouterr().err
