"""Partials of a note: spectral peaks, their frequencies and amplitudes over time, and noisiness.

The steady partials are the peaks of the long-term spectrum
(:func:`analysis.harmonics.long_term_spectrum`, the frames where the note
sounds, about 1 Hz per bin at 16 kHz) found by ``scipy.signal.find_peaks``,
with the frequency refined by a parabola through the log magnitudes. Each
partial gets its ratio to f0 and, when within ``HARMONIC_CENTS`` of a
multiple of f0, its harmonic number. Amplitudes are linear full-scale (a
full-scale sine reads 1.0). Per-frame tracks of the same partials come from an
STFT (frames of :func:`analysis.harmonics.frame_size_for`), reading the
largest magnitude within +-30 cents of each partial's frequency.

Noisiness is the noise-to-harmonic ratio in dB of the long-term spectrum:
energy farther than f0/4 from every harmonic over the energy within f0/4 of
them (below 0.95 Nyquist); about -60 dB for a clean tone, near 0 dB or more
for noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import find_peaks

from analysis.harmonics import harmonic_bands, long_term_spectrum, peak_amplitudes

HARMONIC_CENTS = 30.0
PEAK_FLOOR_DB = -60.0  # peaks more than this below the strongest are not partials
MAX_PARTIALS = 40


@dataclass
class Partial:
    """One steady partial: frequency (Hz), amplitude (linear full-scale), ratio to f0, harmonic number
    (None when inharmonic) and the deviation from that harmonic in cents."""

    hz: float
    amp: float
    ratio: float
    harmonic: int | None
    cents: float


@dataclass
class Partials:
    """The partials of a note.

    ``peaks``: steady partials, strongest first. ``harmonics [H]``: amplitude
    of harmonic h = 1..H in the long-term spectrum (0 where no peak stands
    within ``HARMONIC_CENTS``). ``times [F]`` (s) and ``tracks [F, P]``:
    amplitude of each of ``peaks`` per STFT frame. ``noisiness``: noise-to-harmonic
    ratio, dB. ``inharmonic_share``: energy share of the inharmonic peaks.
    """

    f0_hz: float
    peaks: list[Partial]
    harmonics: np.ndarray
    noisiness: float
    inharmonic_share: float
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tracks: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def harmonic_db(self, floor_db: float = PEAK_FLOOR_DB) -> np.ndarray:
        """Harmonic amplitudes in dB relative to the strongest harmonic, floored at ``floor_db``."""
        ref = max(float(self.harmonics.max()), 1e-20) if len(self.harmonics) else 1.0
        return np.maximum(20.0 * np.log10(np.maximum(self.harmonics, 1e-20) / ref), floor_db)


def refined_peak(freqs: np.ndarray, mag: np.ndarray, k: int) -> tuple[float, float]:
    """Peak frequency (Hz) and magnitude by a parabola through the log magnitudes of bins k-1, k, k+1
    (the magnitude so read loses much less to the window's scalloping than bin k's)."""
    if k <= 0 or k >= len(mag) - 1:
        return float(freqs[k]), float(mag[k])
    a, b, c = np.log(np.maximum(mag[k - 1 : k + 2], 1e-20))
    denom = a - 2 * b + c
    offset = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return float(freqs[k] + offset * (freqs[1] - freqs[0])), float(np.exp(b - 0.25 * (a - c) * offset))


def spectral_peaks(freqs: np.ndarray, mag: np.ndarray, f0_hz: float, sample_rate: int) -> list[Partial]:
    """Steady partials (strongest first) of a magnitude spectrum ``mag [bins]`` at ``freqs [bins]`` Hz."""
    limit = 0.95 * sample_rate / 2
    strongest = float(mag.max()) if len(mag) else 0.0
    if strongest <= 0:
        return []
    bin_hz = float(freqs[1] - freqs[0])
    # peaks must stand out from their surroundings by 6 dB and be at least f0/4 apart
    db = 20.0 * np.log10(np.maximum(mag, strongest * 1e-6))
    idx, _ = find_peaks(db, prominence=6.0, distance=max(1, int(0.25 * f0_hz / bin_hz)))
    floor = strongest * 10.0 ** (PEAK_FLOOR_DB / 20.0)
    out = []
    for k in idx:
        if mag[k] < floor or freqs[k] > limit or freqs[k] < 0.4 * f0_hz:
            continue
        hz, amp = refined_peak(freqs, mag, int(k))
        ratio = hz / f0_hz
        h = max(1, int(round(ratio)))
        dev = 1200.0 * math.log2(hz / (h * f0_hz))
        out.append(Partial(hz, amp, ratio, h if abs(dev) <= HARMONIC_CENTS else None, dev))
    out.sort(key=lambda p: -p.amp)
    return out[:MAX_PARTIALS]


def noise_to_harmonic_db(freqs: np.ndarray, mag: np.ndarray, f0_hz: float, sample_rate: int) -> float:
    """Energy farther than f0/4 from every harmonic over the energy within f0/4 of them, in dB."""
    near, between = harmonic_bands(freqs, f0_hz, sample_rate)
    power = mag**2
    tonal = float(power[near].sum())
    noise = float(power[between].sum())
    return 10.0 * math.log10((noise + 1e-20) / (tonal + 1e-20))


def partial_tracks(
    audio: np.ndarray, sample_rate: int, f0_hz: float, hz: list[float], hop_seconds: float = 0.016
) -> tuple[np.ndarray, np.ndarray]:
    """Frame times ``[F]`` (s) and the amplitude of each frequency in ``hz`` per frame ``[F, P]``."""
    amps, hop = peak_amplitudes(audio, sample_rate, f0_hz, np.asarray(hz, dtype=float), hop_seconds)
    return np.arange(amps.shape[0]) * hop / sample_rate, amps


def analyse_partials(
    audio: np.ndarray, sample_rate: int, f0_hz: float, n_harmonics: int = 24, tracks: bool = True
) -> Partials:
    """The partials of ``audio`` (mono ``[T]``) whose fundamental is ``f0_hz``; see the module docstring."""
    freqs, mag = long_term_spectrum(np.asarray(audio, dtype=np.float64), sample_rate)
    peaks = spectral_peaks(freqs, mag, f0_hz, sample_rate)
    count = max(1, min(n_harmonics, int(0.95 * sample_rate / 2 // f0_hz)))
    harmonics = np.zeros(count)
    for p in peaks:
        if p.harmonic is not None and p.harmonic <= count:
            harmonics[p.harmonic - 1] = max(harmonics[p.harmonic - 1], p.amp)
    energy = sum(p.amp**2 for p in peaks)
    inharmonic = sum(p.amp**2 for p in peaks if p.harmonic is None)
    result = Partials(
        f0_hz=f0_hz,
        peaks=peaks,
        harmonics=harmonics,
        noisiness=noise_to_harmonic_db(freqs, mag, f0_hz, sample_rate),
        inharmonic_share=inharmonic / energy if energy > 0 else 0.0,
    )
    if tracks and peaks:
        result.times, result.tracks = partial_tracks(audio, sample_rate, f0_hz, [p.hz for p in peaks])
    return result
