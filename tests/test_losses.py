"""Losses against reference implementations (auraloss, librosa, POT) and float64 gradchecks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from auraloss_reference import auraloss_mss

from losses.base import loss_registry

SR = 16000


def _noise(b: int, t: int, seed: int, scale: float = 0.3, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, t, generator=g, dtype=torch.float64) * scale).to(dtype)


def _tone(hz: float, t: int = SR, dtype=torch.float32) -> torch.Tensor:
    n = torch.arange(t, dtype=torch.float64)
    return (0.5 * torch.sin(2 * np.pi * hz * n / SR)).to(dtype).unsqueeze(0)


def test_mss_matches_auraloss():
    ref = auraloss_mss([2048, 1024, 512, 256, 128, 64])
    pred, target = _noise(3, 8000, 1), _noise(3, 8000, 2, 0.1)
    ours = loss_registry.create("mss", sample_rate=SR)(pred, target)
    for i in range(3):
        want = float(ref(pred[i : i + 1].unsqueeze(1), target[i : i + 1].unsqueeze(1)))
        assert float(ours[i]) == pytest.approx(want, rel=1e-4)


def test_mel_matches_auraloss():
    ffts = [2048, 1024, 512]
    ref = auraloss_mss(ffts, scale="mel", n_bins=64, sample_rate=SR)
    pred, target = _noise(2, 8000, 3), _noise(2, 8000, 4, 0.1)
    ours = loss_registry.create("mel", sample_rate=SR, fft_sizes=ffts, n_mels=64)(pred, target)
    for i in range(2):
        want = float(ref(pred[i : i + 1].unsqueeze(1), target[i : i + 1].unsqueeze(1)))
        assert float(ours[i]) == pytest.approx(want, rel=1e-4)


def test_mfcc_matches_librosa():
    librosa = pytest.importorskip("librosa")
    audio = _tone(440.0, 8000, torch.float64) + _noise(1, 8000, 5, 0.05, torch.float64)
    loss = loss_registry.create("mfcc", sample_rate=SR)
    ours = loss.mfcc(audio)[0].numpy()
    want = librosa.feature.mfcc(y=audio[0].numpy(), sr=SR)
    assert ours.shape == want.shape
    assert np.abs(ours - want).max() <= 1e-4 * np.abs(want).max()
    # the distance is the mean absolute difference of those matrices
    other = _noise(1, 8000, 6, 0.2, torch.float64)
    want_d = np.abs(librosa.feature.mfcc(y=other[0].numpy(), sr=SR) - want).mean()
    assert float(loss(other, audio)[0]) == pytest.approx(want_d, rel=1e-4)


def _power_spectrogram_np(x: np.ndarray, n_fft: int) -> np.ndarray:
    """|STFT|^2 [bins, frames]: periodic Hann, hop n/4, centred with reflect padding (torchaudio's)."""
    hop = n_fft // 4
    xp = np.pad(x, n_fft // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = np.stack([xp[i : i + n_fft] * window for i in range(0, len(xp) - n_fft + 1, hop)], axis=1)
    return np.abs(np.fft.rfft(frames, axis=0)) ** 2


@pytest.mark.parametrize("name,axis", [("wasserstein_time", 1), ("wasserstein_freq", 0)])
def test_diffmoog_cumsum_losses_match_numpy(name, axis):
    pred, target = _noise(1, 4000, 7, dtype=torch.float64), _noise(1, 4000, 8, 0.1, dtype=torch.float64)
    ffts = [512, 128, 64]
    want = 0.0
    for n in ffts:
        cp = np.cumsum(_power_spectrogram_np(pred[0].numpy(), n), axis=axis)
        ct = np.cumsum(_power_spectrogram_np(target[0].numpy(), n), axis=axis)
        want += np.abs(cp - ct).mean()
    got = loss_registry.create(name, sample_rate=SR, fft_sizes=ffts)(pred, target)
    assert float(got[0]) == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("scale", ["linear", "log"])
def test_spectral_ot_matches_pot(scale):
    ot = pytest.importorskip("ot")
    loss = loss_registry.create("spectral_ot", sample_rate=SR, fft_sizes=[256], scale=scale)
    pred, target = _noise(1, 2048, 9, dtype=torch.float64), _tone(1000.0, 2048, torch.float64)
    p, q = loss.distributions(pred, 256)[0].numpy(), loss.distributions(target, 256)[0].numpy()
    x, _ = loss.positions(256, dtype=torch.float64)
    per_frame = [ot.wasserstein_1d(x.numpy(), x.numpy(), p[f], q[f], p=1) for f in range(p.shape[0])]
    assert float(loss(pred, target)[0]) == pytest.approx(float(np.mean(per_frame)), rel=1e-4)


def test_spectral_ot_measures_pitch_distance():
    """Two tones 100 Hz and 300 Hz away from a 1 kHz target: OT grows with the distance."""
    loss = loss_registry.create("spectral_ot", sample_rate=SR)
    target = _tone(1000.0)
    near, far = loss(_tone(1100.0), target), loss(_tone(1300.0), target)
    assert float(near[0]) == pytest.approx(100.0, rel=0.1)
    assert float(far[0]) == pytest.approx(300.0, rel=0.1)


def test_signal_chain_sums_stage_losses():
    from synths.fm2 import FM2

    synth = FM2()
    g = torch.Generator().manual_seed(0)
    xp, xt = synth.sample(2, g), synth.sample(1, g)
    kw = dict(sample_rate=SR, duration=0.25)
    loss = loss_registry.create("signal_chain", sample_rate=SR, base={"name": "mss", "fft_sizes": [256, 64]})
    mss = loss_registry.create("mss", sample_rate=SR, fft_sizes=[256, 64])
    sp, st = synth.stages(xp, **kw), synth.stages(xt, **kw)
    want = mss(sp["modulator"], st["modulator"]) + mss(sp["output"], st["output"])
    assert torch.allclose(loss.bind(st)(sp), want, rtol=1e-5)
    # plain audio: the base loss on the output
    assert torch.allclose(loss(sp["output"], st["output"]), mss(sp["output"], st["output"]), rtol=1e-5)


def test_combo_is_weighted_sum_and_validates():
    from soundmatch.errors import UserError

    pred, target = _noise(2, 4000, 10), _noise(1, 4000, 11)
    terms = [{"name": "mss", "weight": 2.0, "fft_sizes": [256]}, {"name": "l2", "weight": 0.5}]
    got = loss_registry.create("combo", sample_rate=SR, terms=terms).bind(target)(pred)
    mss = loss_registry.create("mss", sample_rate=SR, fft_sizes=[256])(pred, target)
    l2 = loss_registry.create("l2", sample_rate=SR)(pred, target)
    assert torch.allclose(got, 2.0 * mss + 0.5 * l2, rtol=1e-5)
    with pytest.raises(UserError, match="name"):
        loss_registry.create("combo", sample_rate=SR, terms=[{"weight": 1.0}])
    with pytest.raises(UserError, match="unknown loss"):
        loss_registry.create("combo", sample_rate=SR, terms=[{"name": "nope"}])


def test_scattering_is_shift_stable_and_pitch_sensitive():
    loss = loss_registry.create("scattering", sample_rate=SR, J=6, Q=4)
    target = _tone(1000.0, 4096)
    shifted = torch.roll(target, 8, dims=-1)
    other = _tone(1500.0, 4096)
    d_shift, d_pitch = float(loss(shifted, target)[0]), float(loss(other, target)[0])
    assert float(loss(target, target)[0]) == 0.0
    assert d_shift < 0.2 * d_pitch


GRADCHECK_LOSSES = {
    "l2": {},
    "mss": {"fft_sizes": [64, 32]},
    "mel": {"fft_sizes": [64], "n_mels": 8},
    "mfcc": {"n_fft": 64, "hop": 16, "n_mels": 16, "n_mfcc": 8, "top_db": None},
    "wasserstein_time": {"fft_sizes": [64, 32]},
    "wasserstein_freq": {"fft_sizes": [64, 32]},
    "spectral_ot": {"fft_sizes": [64], "eps": 1e-3},
    "signal_chain": {"base": {"name": "mss", "fft_sizes": [32]}},
    "combo": {
        "terms": [
            {"name": "mss", "fft_sizes": [32]},
            {"name": "spectral_ot", "fft_sizes": [32], "weight": 0.01},
        ]
    },
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_LOSSES))
def test_gradcheck_float64(name):
    loss = loss_registry.create(name, sample_rate=SR, **GRADCHECK_LOSSES[name])
    target = _noise(1, 128, 12, dtype=torch.float64)
    pred = _noise(2, 128, 13, dtype=torch.float64).requires_grad_(True)
    bound = loss.bind(target)
    # fast mode checks the Jacobian along random directions (one finite difference each)
    assert torch.autograd.gradcheck(bound, (pred,), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)


def test_problem_binds_stage_losses_on_target_stages():
    from solvers.base import Budget, Problem, Target
    from soundmatch.errors import UserError
    from synths.fm2 import FM2

    synth = FM2()
    x_true = synth.sample(1, torch.Generator().manual_seed(1))
    audio = synth.render(x_true, sample_rate=SR, duration=0.25)[0]
    loss = loss_registry.create("signal_chain", sample_rate=SR, base={"name": "mss", "fft_sizes": [256, 64]})
    problem = Problem(synth, Target(audio, SR, "t", params=x_true[0]), loss, Budget(renders=10))
    values = problem.evaluate(torch.cat([x_true, synth.sample(2, torch.Generator().manual_seed(2))]))
    assert float(values[0]) < 1e-3 < float(values[1:].min())
    _, grad = problem.value_and_grad(torch.full((1, synth.dim), 0.5))
    assert float(grad.abs().sum()) > 0
    with pytest.raises(UserError, match="known parameters"):
        Problem(synth, Target(audio, SR, "real"), loss, Budget(renders=10))


def test_fast_stft_power_matches_torch_stft_and_its_gradient():
    from losses.fast_stft import stft_power_fast
    from losses.spectral import stft_power

    x = _noise(2, 300, 14, dtype=torch.float64)
    for n_fft, hop in [(64, 16), (63, 10)]:
        assert torch.allclose(
            stft_power_fast(x, n_fft, hop), stft_power(x, n_fft, hop), rtol=1e-10, atol=1e-12
        )
        xr = x[:, :100].clone().requires_grad_(True)
        assert torch.autograd.gradcheck(
            lambda z, n=n_fft, h=hop: stft_power_fast(z, n, h), (xr,), fast_mode=True
        )


def test_timbre_loss_is_the_default_metric_without_its_pitch_term():
    """loss=timbre against the metric's own numpy code (float64, to 1e-6 relative) on known cases,
    which it orders: identical < gain change < a noisy copy < another note < noise < silence."""
    import numpy as np

    from losses.timbre import TimbreLoss
    from metrics.match_distance import level_difference_db, timbre_components, timbre_distance_db

    sr = 16000
    rng = np.random.default_rng(0)
    t = np.arange(sr) / sr
    target = 0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-3 * t) + 0.3 * np.sin(2 * np.pi * 880 * t) * np.exp(
        -6 * t
    )
    cases = [
        target,
        0.5 * target,
        target + 0.01 * rng.standard_normal(sr),
        0.3 * np.sin(2 * np.pi * 660 * t) * np.exp(-3 * t),
        0.1 * rng.standard_normal(sr),
        np.zeros(sr),
    ]
    got = TimbreLoss(sr)(torch.tensor(np.stack(cases)), torch.tensor(target)[None]).numpy()
    want = [
        abs(level_difference_db(p, target)) + timbre_distance_db(timbre_components(p, target, sr))
        for p in cases
    ]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    assert got[0] < 1e-9 and list(np.argsort(got)) == list(range(len(cases)))
