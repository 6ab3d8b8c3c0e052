"""encoder: heads, training procedures, checkpoint cache, one forward pass per target, no split leakage."""

from __future__ import annotations

import pytest
import torch

from benchmark.run.targets.recorded import load_targets
from losses.mss import MultiScaleSpectral
from solvers.base import Budget, Problem, Target, Task
from solvers.encoder import Encoder, audio_digest
from solvers.encoder_net import EncoderNet, parameter_loss
from soundmatch.errors import UserError
from synths.base import Note, Param, ParamSpec
from synths.fm2 import FM2

SR, DUR = 8000, 0.25


def loss() -> MultiScaleSpectral:
    return MultiScaleSpectral(SR, fft_sizes=[256, 64])


def small(**kw) -> Encoder:
    options = dict(steps=4, batch_size=2, hidden=32, n_mels=16, real_steps=2, real_batch_size=2)
    return Encoder(**{**options, **kw})


def task(tmp_path=None, load_suite=None) -> Task:
    return Task(FM2(), loss(), SR, DUR, Note(60), "cpu", tmp_path, load_suite)


def test_heads_sigmoid_and_categorical():
    spec = ParamSpec([Param("a"), Param("mode", choices=("x", "y", "z")), Param("b")])
    for backbone in ("cnn", "gru"):
        net = EncoderNet(spec, SR, backbone, hidden=16, n_mels=16)
        pred = net(torch.randn(3, 2000) * 0.1)
        assert pred.unit.shape == (3, 3) and set(pred.logits) == {1}
        assert bool(((pred.unit >= 0) & (pred.unit <= 1)).all())
        centres = torch.tensor([1 / 6, 3 / 6, 5 / 6])  # choice cell centres
        assert bool(((pred.unit[:, 1:2] - centres).abs().min(dim=1).values < 1e-6).all())
        true = torch.tensor([[0.2, 0.9, 0.4]] * 3)
        pl = parameter_loss(pred, true, [0, 2])
        pl.backward()
        assert pl.item() > 0 and net.categorical_heads[0].weight.grad.abs().sum() > 0


def test_handover_schedule():
    enc = small(procedure="synth", steps=100, handover_start=0.5, handover_end=0.9)
    assert [enc.spectral_weight(s) for s in (0, 49, 50, 70, 90, 99)] == [0.0, 0.0, 0.0, 0.5, 1.0, 1.0]
    assert small(procedure="ploss").spectral_weight(99) == 0.0


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    enc = small(procedure="synth")
    return enc, cache, enc.fit(task(cache))


def test_training_is_cached_and_deterministic(fitted):
    first, tmp_path, info = fitted
    # every step renders its batch; under the spectral loss (steps 3 of 4: weight 0.625) the predictions too
    assert info["training_renders"] == 4 * 2 + 1 * 2 and info["fit_from_cache"] == 0.0
    audio = FM2().render(torch.full((2, FM2().dim), 0.5), sample_rate=SR, duration=DUR, note=Note(60))
    again = small(procedure="synth")
    assert again.fit(task(tmp_path))["fit_from_cache"] == 1.0
    assert torch.equal(first.predict(audio), again.predict(audio))
    fresh = small(procedure="synth")
    fresh.fit(task(None))  # no cache: trained again from the same seeds
    assert torch.allclose(first.predict(audio), fresh.predict(audio), atol=1e-5)


def test_solve_is_one_forward_pass_and_one_render(fitted):
    enc = fitted[0]
    x = FM2().sample(1, torch.Generator().manual_seed(3))
    audio = FM2().render(x, sample_rate=SR, duration=DUR, note=Note(60))[0]
    problem = Problem(FM2(), Target(audio, SR, "t", Note(60), x[0]), loss(), Budget(renders=50))
    result = enc.solve(problem)
    assert problem.renders == 1 and result.info["metrics"]["inference_seconds"] > 0
    assert torch.allclose(result.x, enc.predict(audio[None])[0])


def test_real_training_never_sees_the_test_split(tmp_path):
    def load_suite(options):
        return load_targets({**options, "n": 4}, SR, DUR)

    enc = small(procedure="real", real_suite={"name": "gm_notes", "split": "train"})
    enc.fit(task(tmp_path, load_suite))
    train = load_suite({"name": "gm_notes", "split": "train"})
    test = load_suite({"name": "gm_notes", "split": "test"})
    assert enc.trained_on == {audio_digest(t.audio) for t in train}
    assert not enc.trained_sources & {t.meta["source"] for t in test}
    assert not enc.trained_on & {audio_digest(t.audio) for t in test}
    for target in test:  # the test split solves
        problem = Problem(FM2(), target, loss(), Budget(renders=1))
        enc.solve(problem)
        assert problem.renders == 1
    with pytest.raises(UserError, match="training data"):  # a training clip is refused
        enc.solve(Problem(FM2(), train[0], loss(), Budget(renders=1)))
    renamed = Target(train[1].audio.clone(), SR, "renamed", train[1].note)
    with pytest.raises(UserError, match="training data"):  # the same audio under another name too
        enc.solve(Problem(FM2(), renamed, loss(), Budget(renders=1)))


def test_real_procedure_requires_a_split():
    with pytest.raises(UserError, match="split"):
        Encoder(procedure="real", real_suite={"name": "gm_notes"})


def test_presets_procedure_learns_ratios_as_classes_and_never_scores_a_training_preset(tmp_path):
    """``procedure=presets``: trained on a corpus's train-split presets (five made banks of 8 voices),
    coarse ratios and the algorithm are classes; the answer names its checkpoint and corpus, and a
    training preset given as a target is held out while a test-split one is kept."""
    from benchmark.run.spec import suite_loader
    from benchmark.run.targets.base import SuiteContext
    from losses.mss import MultiScaleSpectral
    from synths.base import synth_registry
    from synths.dx7.sysex import write_bank

    synth = synth_registry.create("dx7", algorithm=None)
    banks = tmp_path / "banks"
    banks.mkdir()
    for seed in range(5):
        voices = [synth.unit_to_voice(x) for x in synth.sample(8, torch.Generator().manual_seed(seed))]
        write_bank(banks / f"bank{seed}.syx", voices)
    note = Note(60.0, 100)
    load = suite_loader(SuiteContext(synth, SR, DUR, note, torch.device("cpu")))
    task = Task(synth, MultiScaleSpectral(SR), SR, DUR, note, "cpu", tmp_path / "cache", load)
    enc = Encoder(procedure="presets", corpus=str(banks), steps=3, batch_size=4, hidden=16,
                  n_mels=16, corpus_notes=[60.0], corpus_velocities=[100], test_fraction=0.4)
    figures = enc.fit(task)
    spec = synth.spec
    coarse = [i for i, p in enumerate(spec.params) if p.name.endswith("_coarse")]
    assert set(coarse) <= set(enc.net.categorical) and not set(coarse) & set(enc.net.continuous)
    assert [p.name for p in spec.params].index("algorithm") in enc.net.categorical
    assert len(enc.net.centres[coarse[0]]) == 32 and figures["training_renders"] > 0
    assert enc.network == "bands" and enc.net.uses_note  # ratios read against the note played
    corpus = {"name": "dx7_presets", "path": str(banks), "test_fraction": 0.4, "notes": [60.0],
              "velocities": [100]}
    train, test = load({**corpus, "split": "train"}), load({**corpus, "split": "test"})
    assert train and test and enc.held_out(train[:2]) == [] and enc.held_out(test[:2]) == test[:2]
    problem = Problem(synth, test[0], MultiScaleSpectral(SR), Budget(renders=1))
    result = enc.solve(problem)
    assert problem.renders == 1 and len(result.info["training"]["checkpoint"]) == 16
    assert result.info["training"]["corpus"] == str(test[0].meta["corpus_hash"])
    # a class-valued answer is exactly one of the parameter's integers
    value = spec.params[coarse[0]].to_physical(result.x.reshape(-1)[coarse[0]])
    assert float(value) == round(float(value))
