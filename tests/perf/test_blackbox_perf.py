"""Benchmarks (pytest-benchmark): cma's renders per second, population in one batch vs one by one.

1 s clips at 16 kHz, the ``mss`` loss (default six FFT sizes), cma's default
population. ``batched`` renders each generation with one ``Problem.evaluate``;
``one_by_one`` evaluates the same candidates a row at a time, as a solver
without batching would. ``extra_info`` holds renders per second; the second of
the pair also holds ``speedup_batched_over_one_by_one``. The synth is ``dx7``
when it is registered, and ``fm2`` in any case.

    .venv/bin/pytest tests/perf/test_blackbox_perf.py --benchmark-enable --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

import pytest
import torch

from losses.mss import MultiScaleSpectral
from solvers.base import Budget, Problem, Target
from solvers.cma_es import CMAES
from synths.base import Note, synth_registry

SR, DURATION = 16000, 1.0
GENERATIONS = 3
RATES: dict[tuple[str, str], float] = {}


class OneByOne(Problem):
    """A problem whose evaluate renders the rows of a batch one at a time (same budget, same curve)."""

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([super(OneByOne, self).evaluate(row.unsqueeze(0)) for row in x])


def make_problem(synth_name: str, mode: str, renders: int) -> Problem:
    synth = synth_registry.create(synth_name)
    note = Note(60.0, 100)
    x_true = synth.sample(1, torch.Generator().manual_seed(0))
    with torch.no_grad():
        audio = synth.render(x_true, sample_rate=SR, duration=DURATION, note=note)[0]
    target = Target(audio, SR, "perf", note=note, params=x_true[0])
    kind = OneByOne if mode == "one_by_one" else Problem
    return kind(synth, target, MultiScaleSpectral(SR), Budget(renders), seed=0)


@pytest.mark.perf
@pytest.mark.parametrize("mode", ["batched", "one_by_one"])
@pytest.mark.parametrize("synth_name", ["fm2", "dx7"])
def test_cma_renders_per_second(benchmark, synth_name, mode):
    if synth_name not in synth_registry:
        pytest.skip(f"synth '{synth_name}' is not registered")
    dim = synth_registry.create(synth_name).dim
    popsize = CMAES().popsize or 4 + int(3 * torch.log(torch.tensor(float(dim))))
    renders = GENERATIONS * popsize

    problems: list[Problem] = []

    def setup():
        problems.append(make_problem(synth_name, mode, renders))
        return (problems[-1],), {}

    # a warm-up round first: the compiled kernels load (or compile) on their first call
    benchmark.pedantic(CMAES(restarts="none").solve, setup=setup, rounds=3, warmup_rounds=1)
    assert len(problems) == 4 and all(p.renders == renders for p in problems)
    rate = renders / benchmark.stats.stats.mean
    RATES[(synth_name, mode)] = rate
    benchmark.extra_info.update(renders_per_second=rate, popsize=popsize, dim=dim)
    other = RATES.get((synth_name, "batched"))
    if mode == "one_by_one" and other is not None:
        benchmark.extra_info["speedup_batched_over_one_by_one"] = other / rate
