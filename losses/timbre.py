"""``timbre``: the default metric's level and timbre terms as a batched, differentiable loss, in dB.

``loss = |level| + timbre`` with both exactly as :func:`metrics.match_distance.match_distance`
computes them (version 4: :func:`~metrics.match_distance.timbre_components` weighted by
:data:`~metrics.match_distance.TIMBRE_WEIGHTS`, the level clipped to +-60 dB), so a solver
that lowers it lowers what the benchmark scores and listeners' ratings follow. The metric's
pitch term is left out: it reads f0 with a pitch tracker (no gradient, seconds per sound), and a
wrong note already costs here in the band levels. The effective-duration term counts frames
above a threshold: its value is the metric's, its gradient 0 (the other terms carry the
envelope's shape). The tests check the values against the metric's numpy code.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from losses.base import Loss, loss_registry
from losses.timbre_terms import (
    BAND_WEIGHT_POWER,
    CENTROID_OFFSET_S,
    DURATION_SHARE,
    FRAMES_RANGE_DB,
    LEVEL_CAP_DB,
    LEVEL_WEIGHT,
    NOISE_RANGE_DB,
    SPECTRUM_RANGE_DB,
    TIMBRE_WEIGHTS,
    erb_setup,
)

TINY = 1e-30


@functools.lru_cache(maxsize=8)
def _setup(sample_rate: int, dtype: torch.dtype) -> tuple[int, int, Tensor, Tensor, Tensor]:
    n_fft, hop, bank, window, wide = erb_setup(sample_rate)
    as_t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
    return n_fft, hop, as_t(bank), as_t(window), torch.as_tensor(wide)


def _power(audio: Tensor, sample_rate: int) -> Tensor:
    """Power spectra ``[B, bins, frames]`` of the metric's frames (Hann, not centred, zero-padded
    to one frame at least)."""
    n_fft, hop, _, window, _ = _setup(sample_rate, audio.dtype)
    if audio.shape[-1] < n_fft:
        audio = torch.nn.functional.pad(audio, (0, n_fft - audio.shape[-1]))
    spec = torch.fft.rfft(audio.unfold(-1, n_fft, hop) * window, dim=-1)
    return (spec.real**2 + spec.imag**2).transpose(1, 2)


def _flatness_db(power: Tensor, bank: Tensor, floor: Tensor) -> Tensor:
    """Per band ``[B, K]``: in-band flatness (dB) averaged over frames with weights energy ** 0.3."""
    power = power + floor
    energy = torch.einsum("kf,bfm->bkm", bank, power)
    width = bank.sum(dim=1)[None, :, None]
    log_mean = torch.einsum("kf,bfm->bkm", bank, torch.log(power)) / width
    flatness = 10.0 / math.log(10.0) * (log_mean - torch.log(energy / width))
    weight = energy**0.3
    return (flatness * weight).sum(dim=2) / weight.sum(dim=2).clamp(min=TINY)


def _centroid_s(energy: Tensor, hop_s: float) -> Tensor:
    frames = torch.arange(energy.shape[-1], dtype=energy.dtype)
    return (frames * energy).sum(-1) / energy.sum(-1).clamp(min=TINY) * hop_s


def _duration_s(energy: Tensor, hop_s: float) -> Tensor:
    above = energy >= DURATION_SHARE * energy.amax(-1, keepdim=True)
    return (above.sum(-1).to(energy.dtype) + 0.5) * hop_s


@loss_registry.register("timbre")
@dataclass
class TimbreLoss(Loss):
    """The default metric without its pitch term: ``|level dB| + timbre dB`` (see the module
    docstring). ``pred [B, T]`` against ``target [1|B, T]``; in dB, 0 for identical sounds."""

    sample_rate: int = 16000

    def features(self, audio: Tensor) -> dict[str, Any]:
        power = _power(audio, self.sample_rate)
        _, _, bank, _, _ = _setup(self.sample_rate, audio.dtype)
        return {"power": power, "bands": torch.einsum("kf,bfm->bkm", bank, power), "audio": audio}

    def compare(self, pred: Tensor, target_features: dict[str, Any]) -> Tensor:
        _, hop, bank, _, wide = _setup(self.sample_rate, pred.dtype)
        hop_s = hop / self.sample_rate
        p_t, b, target = target_features["power"], target_features["bands"], target_features["audio"]
        p_p = _power(pred, self.sample_rate)
        frames = min(p_p.shape[-1], p_t.shape[-1])
        p_p, p_t, b = p_p[..., :frames], p_t[..., :frames], b[..., :frames]
        a = torch.einsum("kf,bfm->bkm", bank, p_p)
        b = b.expand_as(a)
        p_t = p_t.expand_as(p_p)
        # the level term, then the match brought to the target's energy (the timbre terms ignore level)
        e_p = pred.square().sum(-1)
        e_t = target.square().sum(-1).expand_as(e_p)
        level = (10.0 * torch.log10(e_p.clamp(min=TINY) / e_t.clamp(min=TINY))).clamp(
            -LEVEL_CAP_DB, LEVEL_CAP_DB
        )
        level = torch.where(
            e_t > 0, level, torch.where(e_p > 0, torch.full_like(level, LEVEL_CAP_DB), 0.0 * level)
        )
        a_sum, b_sum = a.sum(dim=(1, 2)), b.sum(dim=(1, 2))
        ok = (a_sum > 0) & (b_sum > 0)
        gain = torch.where(ok, b_sum / a_sum.clamp(min=TINY), torch.ones_like(a_sum))
        a, p_p = a * gain[:, None, None], p_p * gain[:, None, None]
        b_top = b.amax(dim=(1, 2))
        top = torch.where(b_top > 0, b_top, a.amax(dim=(1, 2)))[:, None, None]
        floor = top * 10.0 ** (-FRAMES_RANGE_DB / 10.0)
        fa, fb = torch.maximum(a, floor), torch.maximum(b, floor)
        weight = torch.maximum(fa, fb) ** BAND_WEIGHT_POWER
        ratio_db = (10.0 * torch.log10(fa.clamp(min=TINY) / fb.clamp(min=TINY))).abs()
        frames_db = (weight * ratio_db).sum(dim=(1, 2)) / weight.sum(dim=(1, 2)).clamp(min=TINY)
        sa, sb = a.mean(-1), b.mean(-1)
        sb_top = sb.amax(-1)
        floor = torch.where(sb_top > 0, sb_top, sa.amax(-1))[:, None] * 10.0 ** (-SPECTRUM_RANGE_DB / 10.0)
        ratio_db = 10.0 * torch.log10(
            torch.maximum(sa, floor).clamp(min=TINY) / torch.maximum(sb, floor).clamp(min=TINY)
        )
        spectrum_db = ratio_db.abs().mean(-1)
        ea, eb = a.sum(1), b.sum(1)
        tc = (
            torch.log10(_centroid_s(ea, hop_s) + CENTROID_OFFSET_S)
            - torch.log10(_centroid_s(eb, hop_s) + CENTROID_OFFSET_S)
        ).abs()
        ed = torch.log10(_duration_s(ea, hop_s) / _duration_s(eb, hop_s)).abs()
        seconds = frames * hop_s
        silent = ~((ea.amax(-1) > 0) & (eb.amax(-1) > 0))
        tc = torch.where(
            silent, torch.full_like(tc, math.log10((seconds + CENTROID_OFFSET_S) / CENTROID_OFFSET_S)), tc
        )
        ed = torch.where(silent, torch.full_like(ed, math.log10(seconds / (0.5 * hop_s))), ed)
        pt_top = p_t.amax(dim=(1, 2))
        bins_floor = torch.where(pt_top > 0, pt_top, p_p.amax(dim=(1, 2))) * 10.0 ** (-NOISE_RANGE_DB / 10.0)
        bins_floor = bins_floor.clamp(min=TINY)[:, None, None]
        noise = (
            (_flatness_db(p_p, bank[wide], bins_floor) - _flatness_db(p_t, bank[wide], bins_floor))
            .abs()
            .mean(-1)
        )
        w = TIMBRE_WEIGHTS
        timbre = (
            w["frames_db"] * frames_db
            + w["spectrum_db"] * spectrum_db
            + w["temporal_centroid"] * tc
            + w["effective_duration"] * ed
            + w["noisiness_db"] * noise
        )
        both_silent = (a_sum <= 0) & (b_sum <= 0)
        timbre = torch.where(both_silent, torch.zeros_like(timbre), timbre)
        return LEVEL_WEIGHT * level.abs() + timbre
