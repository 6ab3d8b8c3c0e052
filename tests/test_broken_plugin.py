"""A plugin package that cannot be imported is left out with one warning naming it; only a command
that asks for one of its entries fails (one line, exit 2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

RUN = ["synth=fm2", "target.n=1", "budget.renders=4", "duration=0.25", "sample_rate=8000", "metrics=[lsd]",
       "progress=false"]  # fmt: skip


@pytest.fixture
def broken_env(workdir: Path) -> dict[str, str]:
    """An installed distribution (dist-info on the path) whose solver entry point does not import."""
    dist = workdir / "plugins" / "brokenplug-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[soundmatch.solvers]\nbroken = no_such_module_xyz:Solver\n")
    return {"PYTHONPATH": os.pathsep.join([str(dist.parent), os.environ.get("PYTHONPATH", "")])}


def test_other_commands_run_with_one_warning(cli, broken_env):
    out = cli("run", "solver=random", *RUN, env=broken_env)
    assert out.returncode == 0, out.stderr
    warnings = [ln for ln in out.stderr.splitlines() if "brokenplug" in ln]
    assert warnings and all(ln.startswith("warning: plugin solver 'broken'") for ln in warnings)
    listing = cli("list", env=broken_env)
    assert listing.returncode == 0 and "random" in listing.stdout


def test_asking_for_the_broken_plugin_is_one_line_and_exit_2(cli, broken_env):
    out = cli("run", "solver=broken", *RUN, env=broken_env)
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert out.returncode == 2 and len(errors) == 1 and "Traceback" not in out.stderr
    assert "package 'brokenplug'" in errors[0] and "no_such_module_xyz" in errors[0]


def test_a_registered_class_is_named_by_its_registration():
    """A plugin written from the README (no ``name`` attribute) gets the name it registers under."""
    from dataclasses import dataclass

    from solvers.base import Result, Solver
    from soundmatch.registry import Registry

    registry = Registry("solver", "soundmatch.test-only")

    @registry.register("my_search")
    @dataclass
    class MySearch(Solver):
        batch_size: int = 32

        def solve(self, problem):
            return Result(problem.best_x)

    assert MySearch.name == "my_search" and registry.get("my_search") is MySearch
