"""Harmonic partials of a pitched note: long-term spectrum, precise f0, per-frame harmonic amplitudes.

Amplitudes are in linear full-scale units: a full-scale sine reads 1.0 at its
harmonic (Hann-windowed magnitude scaled by 2 / sum(w)). Frequencies in Hz.
"""

from __future__ import annotations

import math

import numpy as np

LONG_TERM_N_FFT = 16384  # at 16 kHz: about 1 Hz per bin, scaled with the rate
SOUNDING_DB = -30.0  # frames within this many dB of the loudest frame count as the note sounding
REFINE_HARMONICS = 8  # harmonics used to refine f0 (few: stretched partials of strings and pianos)
REFINE_RANGE_CENTS = 50.0
PEAK_DB = -50.0  # harmonic peaks more than this below the strongest are ignored in the refinement


def _frames_power(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Hann-windowed power spectra ``[frames, n_fft // 2 + 1]`` (zero-padded to one frame at least)."""
    x = np.asarray(audio, dtype=np.float64)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    window = np.hanning(n_fft + 1)[:-1]
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    spec = np.fft.rfft(frames * window, axis=1)
    return (spec.real**2 + spec.imag**2) * (2.0 / window.sum()) ** 2


def long_term_spectrum(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin frequencies (Hz) and mean magnitude ``[bins]`` over the frames where the note sounds.

    Frames of ``LONG_TERM_N_FFT`` samples (scaled with the rate; at most the
    clip), hop a quarter frame; frames more than 30 dB below the loudest are
    left out so that silence and the release tail do not dilute the partials.
    """
    n_fft = int(2 ** round(math.log2(LONG_TERM_N_FFT * sample_rate / 16000)))
    n_fft = min(n_fft, int(2 ** math.floor(math.log2(max(len(audio), 256)))))
    power = _frames_power(audio, n_fft, max(1, n_fft // 4))
    energy = power.sum(axis=1)
    keep = energy >= energy.max() * 10.0 ** (SOUNDING_DB / 10.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    return freqs, np.sqrt(power[keep].mean(axis=0))


def _peak(freqs: np.ndarray, mag: np.ndarray, centre: float, half_width: float) -> tuple[float, float] | None:
    """Frequency and magnitude of the largest bin within ``centre +- half_width`` Hz, with the
    frequency refined by a parabola through the log magnitudes of it and its neighbours."""
    lo, hi = np.searchsorted(freqs, [centre - half_width, centre + half_width])
    lo, hi = max(lo, 1), min(hi, len(freqs) - 1)
    if hi <= lo:
        return None
    k = lo + int(np.argmax(mag[lo:hi]))
    a, b, c = np.log(np.maximum(mag[k - 1 : k + 2], 1e-20))
    denom = a - 2 * b + c
    offset = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return float(freqs[k] + offset * (freqs[1] - freqs[0])), float(mag[k])


def harmonic_energy(
    freqs: np.ndarray, mag: np.ndarray, base_hz: float, sample_rate: int, n_multiples: int = 16,
    period: int = 2,
) -> tuple[float, float]:
    """Energy at the multiples of ``base_hz`` (1..n_multiples, below 5 kHz) that are not multiples
    of ``period`` and at those that are: with the default 2, at the odd and at the even multiples.

    Each multiple's energy is its peak power (within +-1.5%) less the median
    power of the band +-25% of ``base_hz`` around it, so broadband noise
    counts as nothing.
    """
    odd = even = 0.0
    limit = min(0.95 * sample_rate / 2, 5000.0)
    power = mag**2
    for k in range(1, n_multiples + 1):
        f = k * base_hz
        if f > limit:
            break
        peak = _peak(freqs, mag, f, max(0.015 * f, freqs[1]))
        if peak is None:
            continue
        lo, hi = np.searchsorted(freqs, [f - 0.25 * base_hz, f + 0.25 * base_hz])
        floor = float(np.median(power[lo:max(hi, lo + 1)]))
        excess = max(peak[1] ** 2 - floor, 0.0)
        if k % period:
            odd += excess
        else:
            even += excess
    return odd, even


def refine_f0(audio: np.ndarray, sample_rate: int, f0_hz: float) -> float | None:
    """f0 (Hz) fitted to the first harmonic peaks of the long-term spectrum near ``f0_hz``.

    Each harmonic h (up to ``REFINE_HARMONICS``, below Nyquist) is looked for
    within +-50 cents of h f0 (and +-f0/4); peaks within 50 dB of the strongest
    give the least-squares fit ``f0 = sum w_h h f_h / sum w_h h^2`` with
    weights the peak magnitudes. None when no peak is found or the fit leaves
    the +-50-cent range.
    """
    freqs, mag = long_term_spectrum(audio, sample_rate)
    peaks = []
    for h in range(1, REFINE_HARMONICS + 1):
        centre = h * f0_hz
        if centre > 0.95 * sample_rate / 2:
            break
        width = min(centre * (2.0 ** (REFINE_RANGE_CENTS / 1200.0) - 1.0), f0_hz / 4)
        found = _peak(freqs, mag, centre, max(width, freqs[1]))
        if found is not None:
            peaks.append((h, *found))
    if not peaks:
        return None
    strongest = max(m for _, _, m in peaks)
    kept = [(h, f, m) for h, f, m in peaks if m >= strongest * 10.0 ** (PEAK_DB / 20.0)]
    num = sum(m * h * f for h, f, m in kept)
    den = sum(m * h * h for h, f, m in kept)
    if den <= 0.0:  # silence: every peak is zero
        return None
    fit = num / den
    if abs(1200.0 * math.log2(fit / f0_hz)) > REFINE_RANGE_CENTS:
        return None
    return fit


def frame_size_for(f0_hz: float, sample_rate: int) -> int:
    """An FFT size whose bins are at most a quarter of f0 apart (1024..8192 at 16 kHz)."""
    need = 4.0 * sample_rate / max(f0_hz, 1.0)
    low = 1024 * sample_rate / 16000
    high = 8192 * sample_rate / 16000
    return int(2 ** math.ceil(math.log2(min(max(need, low), high))))


def centred_power(
    audio: np.ndarray, sample_rate: int, f0_hz: float, hop_seconds: float = 0.016
) -> tuple[np.ndarray, int, int]:
    """Power spectra ``[frames, bins]`` of :func:`frame_size_for` samples, centred (zero-padded at the
    ends), hop ``hop_seconds``; with the FFT size and the hop in samples."""
    n_fft = frame_size_for(f0_hz, sample_rate)
    hop = max(1, int(round(hop_seconds * sample_rate)))
    x = np.pad(np.asarray(audio, dtype=np.float64), (n_fft // 2, n_fft // 2))
    return _frames_power(x, n_fft, hop), n_fft, hop


def peak_amplitudes(
    audio: np.ndarray, sample_rate: int, f0_hz: float, hz: np.ndarray, hop_seconds: float = 0.016
) -> tuple[np.ndarray, int]:
    """The largest magnitude within +-30 cents (at least one bin) of each frequency in ``hz``, per
    frame ``[frames, P]`` (frames as :func:`centred_power`), and the hop in samples."""
    power, n_fft, hop = centred_power(audio, sample_rate, f0_hz, hop_seconds)
    mag = np.sqrt(power)
    bin_hz = sample_rate / n_fft
    out = np.zeros((mag.shape[0], len(hz)))
    for i, f in enumerate(hz):
        width = max(f * (2.0 ** (30.0 / 1200.0) - 1.0), bin_hz)
        lo = max(0, int(math.floor((f - width) / bin_hz)))
        hi = min(mag.shape[1], int(math.ceil((f + width) / bin_hz)) + 1)
        out[:, i] = mag[:, lo:hi].max(axis=1)
    return out, hop


def harmonic_amplitudes(
    audio: np.ndarray, sample_rate: int, f0_hz: float, n_harmonics: int = 20, hop_seconds: float = 0.016
) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude of each harmonic of ``f0_hz`` per frame, ``[frames, H]``, and their frequencies ``[H]``.

    Frames of :func:`frame_size_for` samples (centred, zero-padded at the
    ends), hop ``hop_seconds``. Harmonic h reads the largest magnitude within
    +-30 cents of h f0 (at least one bin): a partial detuned by a semitone
    falls outside it and reads near zero. Harmonics above Nyquist are left
    out, so H may be less than ``n_harmonics``. Linear full-scale amplitude.
    """
    count = max(1, min(n_harmonics, int(0.95 * sample_rate / 2 // f0_hz)))
    freqs = f0_hz * np.arange(1, count + 1)
    return peak_amplitudes(audio, sample_rate, f0_hz, freqs, hop_seconds)[0], freqs


def harmonic_bands(freqs: np.ndarray, f0_hz: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the bins within +-f0/4 of a harmonic and of those between harmonics, from 0.75 f0 to
    0.95 Nyquist: the two parts of a noise-to-harmonic ratio."""
    usable = (freqs >= 0.75 * f0_hz) & (freqs <= 0.95 * sample_rate / 2)
    distance = np.abs(freqs / f0_hz - np.round(freqs / f0_hz))  # in units of f0
    near = usable & (distance <= 0.25)
    return near, usable & ~near


def harmonic_noise_ratio(
    audio: np.ndarray, sample_rate: int, f0_hz: float, hop_seconds: float = 0.016
) -> np.ndarray:
    """Noise-to-harmonic ratio per frame in dB ``[frames]``: energy between the harmonics over
    energy within +-f0/4 of them (below 0.95 Nyquist), frames as in :func:`harmonic_amplitudes`."""
    power, n_fft, _ = centred_power(audio, sample_rate, f0_hz, hop_seconds)
    near, between = harmonic_bands(np.fft.rfftfreq(n_fft, 1.0 / sample_rate), f0_hz, sample_rate)
    tonal = power[:, near].sum(axis=1)
    noise = power[:, between].sum(axis=1)
    return 10.0 * np.log10((noise + 1e-20) / (tonal + 1e-20))
