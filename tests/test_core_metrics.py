"""l2, mss and lsd against hand-computed values."""

import math

import numpy as np
import pytest
import torch

from losses.l2 import L2
from losses.mss import MultiScaleSpectral
from metrics.base import Evaluation
from metrics.lsd import log_spectral_distance
from metrics.params import param_error


def test_l2_is_mean_squared_error():
    a = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    b = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    assert L2()(a, b).item() == pytest.approx((1 + 4 + 4) / 4)


def test_lsd_of_a_6db_gain_on_noise_is_20log10_2():
    noise = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    assert log_spectral_distance(noise, noise) == 0.0
    assert log_spectral_distance(noise, 0.5 * noise) == pytest.approx(20 * math.log10(2), abs=5e-3)


def test_lsd_of_silence_against_silence_is_zero_and_floor_bounds_it():
    silence = np.zeros(4096, dtype=np.float32)
    assert log_spectral_distance(silence, silence) == 0.0
    loud = np.random.default_rng(1).standard_normal(4096).astype(np.float32)
    # white noise of unit variance: P ~ 1/(n/2)^2 * n * 3/8 per bin ... bounded by the floor at -100 dB
    assert 50 < log_spectral_distance(loud, silence) < 100


def test_mss_is_zero_on_identity_and_grows_with_mismatch():
    loss = MultiScaleSpectral(fft_sizes=[256, 64])
    t = torch.linspace(0, 1, 4000)
    a = torch.sin(2 * math.pi * 440 * t)[None]
    b = torch.sin(2 * math.pi * 450 * t)[None]
    c = torch.sin(2 * math.pi * 880 * t)[None]
    assert loss(a, a).item() == pytest.approx(0.0, abs=1e-6)
    assert 0 < loss(b, a).item() < loss(c, a).item()
    bound = loss.bind(a)
    assert torch.allclose(bound(torch.cat([a, b, c])), torch.cat([loss(a, a), loss(b, a), loss(c, a)]))


def test_mss_hand_computed_on_a_constant_gain():
    # |S_pred - S_t| = S_t and |log S_pred - log S_t| = log 2 wherever S_t >> eps
    loss = MultiScaleSpectral(fft_sizes=[64], w_lin=0.0, w_log=1.0)
    noise = torch.randn(1, 2048, generator=torch.Generator().manual_seed(0))
    assert loss(2 * noise, noise).item() == pytest.approx(math.log(2), rel=1e-4)


def test_param_error():
    ev = Evaluation(np.zeros(4), np.zeros(4), 16000, np.array([0.1, 0.5]), np.array([0.3, 0.0]))
    assert param_error(ev) == pytest.approx(0.35)
    ev.target_params = None
    assert param_error(ev) is None
