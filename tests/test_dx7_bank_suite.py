"""target=dx7_bank: a bank's voices as targets with known ground truth; .syx matches load in Dexed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from benchmark.run.targets import SuiteContext
from benchmark.run.targets.dx7_bank import DX7BankSuite
from benchmark.studies.fidelity_voices import fidelity_voices
from soundmatch.errors import UserError
from synths.base import Note, synth_registry
from synths.dx7 import sysex
from synths.dx7.voice import Voice


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-looking bank: the 24 hand-made study voices, a silent voice, then init voices."""
    silent = Voice(name="SILENT")
    for op in silent.ops:
        op.output_level = 0
    path = tmp_path_factory.mktemp("bank") / "Study Bank.syx"
    sysex.write_bank(path, [*fidelity_voices(), silent])
    return path


def context(name: str = "dx7", **options) -> SuiteContext:
    synth = synth_registry.create(name, **options)
    return SuiteContext(synth, 16000, 0.5, Note(60.0, 100), torch.device("cpu"))


def test_targets_are_the_bank_voices_with_ground_truth(bank: Path) -> None:
    ctx = context()
    targets = DX7BankSuite(path=str(bank), first=2, n=3).targets(ctx)
    voices = sysex.read_voices(bank)
    assert [t.meta["voice"] for t in targets] == [2, 3, 4]
    assert [t.name for t in targets] == ["study-bank-02-strings", "study-bank-03-bass", "study-bank-04-organ"]
    for t in targets:
        truth = ctx.synth.voice_to_unit(voices[t.meta["voice"]])
        torch.testing.assert_close(t.params, truth.float())
        again = ctx.synth.render(t.params[None], sample_rate=16000, duration=0.5, note=Note(60.0, 100))[0]
        torch.testing.assert_close(t.audio, again)
        assert t.audio.shape == (8000,) and t.sample_rate == 16000


def test_searched_algorithm_keeps_each_voice_routing(bank: Path) -> None:
    ctx = context(algorithm=None)
    targets = DX7BankSuite(path=str(bank), n=5).targets(ctx)
    voices = sysex.read_voices(bank)
    for t in targets:
        assert ctx.synth.unit_to_voice(t.params).algorithm == voices[t.meta["voice"]].algorithm


def test_silent_voices_are_left_out(bank: Path) -> None:
    silent = len(fidelity_voices())  # the bank's silent voice; an (all-zero) init voice follows
    targets = DX7BankSuite(path=str(bank), first=silent - 2, n=4).targets(context())
    assert [t.meta["voice"] for t in targets] == [silent - 2, silent - 1]


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        (DX7BankSuite(), "needs target.path=FILE.syx"),
        (DX7BankSuite(path="nope.syx"), "nope.syx: cannot read the file"),
        (DX7BankSuite(path="BANK", first=32), "target.first=32 is outside 0-31"),
        (DX7BankSuite(path="BANK", n=0), "target.n must be >= 1"),
        (DX7BankSuite(path="BANK", first=len(fidelity_voices()), n=2), "renders silent"),
    ],
)
def test_bad_suite_options(bank: Path, suite: DX7BankSuite, message: str) -> None:
    if suite.path == "BANK":
        suite.path = str(bank)
    with pytest.raises(UserError, match=message):
        suite.targets(context())


def test_needs_a_dx7_family_synth(bank: Path) -> None:
    with pytest.raises(UserError, match="target=dx7_bank needs a DX7-family synth, got synth 'fm2'"):
        DX7BankSuite(path=str(bank)).targets(context("fm2"))


@pytest.mark.slow
def test_run_logs_syx_matches_that_dexed_loads_and_renders(bank: Path, cli, workdir: Path) -> None:
    dexed = pytest.importorskip("dexed")
    proc = cli(
        "run",
        "solver=cma",
        "synth=dx7",
        "target=dx7_bank",
        f"target.path={bank}",
        "target.n=2",
        "budget.renders=24",
        "duration=0.5",
        "progress=false",
        "metrics=[lsd]",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'results' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("soundmatch")
    runs = client.search_runs([experiment.experiment_id], "tags.`soundmatch.level` = 'target'")
    names = sorted(r.data.tags["soundmatch.target"] for r in runs)
    assert names == ["study-bank-00-e-piano", "study-bank-01-brass"]
    matches = sorted((workdir / "results" / "artifacts").rglob("match.syx"))
    assert len(matches) == 2
    synth = dexed.DexedSynth(sample_rate=16000)
    for path in matches:
        assert path.stat().st_size == 163
        (voice,) = sysex.read_voices(path)
        synth.load_patch(dexed.Patch.from_sysex(path.read_bytes()[6:-2]))
        audio = synth.render(60, 100, 0.4, 0.5)
        assert audio.shape == (8000,) and np.isfinite(audio).all()
        assert np.sqrt(np.mean(audio**2)) > 1e-4, f"{path} renders silent in Dexed"
