"""The timbre terms' definition, shared by ``metrics.match_distance`` (numpy, the metric) and the
``timbre`` loss (torch, :mod:`losses.timbre`): the ERB-band frames, the floors, the loudness-like
weights and each term's weight, fitted on human dissimilarity ratings (README "The yardstick
against listeners"). Changing a value here changes the metric: it is versioned there.
"""

from __future__ import annotations

import functools
import math

import numpy as np

LEVEL_CAP_DB = 60.0  # a match this much quieter than the target is as good as silent
LEVEL_WEIGHT = 1.0  # dB of distance per dB of level difference: a gain g costs |20 log10 g|

# timbre: ERB-band spectra (one band per ERB, 30 Hz to 0.95 Nyquist) of 32 ms frames, hop 8 ms
FRAME_SECONDS = 0.032
BAND_WEIGHT_POWER = 0.2  # per-frame term: each band-frame counts by its energy ** 0.2 (loudness-like)
FRAMES_RANGE_DB = 60.0  # per-frame term: band levels floored this far under the target's loudest
SPECTRUM_RANGE_DB = 40.0  # time-averaged term: floored this far under the target's loudest band
DURATION_SHARE = 0.4  # effective duration: time with energy at least 40% of the peak
CENTROID_OFFSET_S = 0.01  # temporal centroid compared as log10(tc + 10 ms)
NOISE_MIN_BINS = 4  # noisiness: bands of at least this many FFT bins (flatness needs a few)
NOISE_RANGE_DB = 80.0  # noisiness: bins floored this far under the target's loudest (as lsd floors)
# weights of the timbre terms (dB of distance per unit of each), fitted on 17 human rating sets with
# frames_db fixed at 1 (leave-one-set-out: README "Metric against listeners")
TIMBRE_WEIGHTS = {
    "frames_db": 1.0,
    "spectrum_db": 3.408,
    "temporal_centroid": 26.38,
    "effective_duration": 17.34,
    "noisiness_db": 1.993,
}


@functools.lru_cache(maxsize=8)
def erb_setup(sample_rate: int) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    """FFT size, hop, ERB filters ``[bands, bins]`` (triangles one ERB wide each side), window,
    and which bands are wide enough for the noisiness term."""
    n_fft = int(2 ** round(math.log2(FRAME_SECONDS * sample_rate)))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)

    def erb_rate(hz: np.ndarray | float) -> np.ndarray:
        return 21.4 * np.log10(1.0 + 0.00437 * np.asarray(hz))

    centres = np.arange(float(erb_rate(30.0)), float(erb_rate(0.95 * sample_rate / 2)), 1.0)
    bank = np.clip(1.0 - np.abs(erb_rate(freqs)[None, :] - centres[:, None]), 0.0, None)
    window = np.hanning(n_fft + 1)[:-1]
    wide = (bank > 0).sum(axis=1) >= NOISE_MIN_BINS
    return n_fft, n_fft // 4, bank, window, wide
