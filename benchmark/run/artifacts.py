"""Per-target artifacts: audio files, parameters as JSON, a spectrogram comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Mono float audio -> WAV that ``rescore`` reads back as it was scored: 24-bit PCM when it lies
    within full scale (every player reads it; its -144 dB quantisation keeps the metrics those of
    the float audio), 32-bit float when it goes past it (a synth louder than 0 dBFS: a clipped copy
    would score differently, e.g. a moog match 20 dB live and 35 dB from its clipped file)."""
    audio = np.asarray(audio, dtype=np.float32)
    over = audio.size > 0 and float(np.max(np.abs(audio))) > 1.0
    sf.write(str(path), audio, sample_rate, "FLOAT" if over else "PCM_24")


def clipped_at_full_scale(path: Path, min_samples: int = 16) -> bool:
    """Whether a PCM file holds at least ``min_samples`` samples at full scale: audio that went past
    0 dBFS written clipped (PCM artifacts before float ones; a clipped recording reads the same)."""
    if sf.info(str(path)).subtype in ("FLOAT", "DOUBLE"):
        return False
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return int(np.count_nonzero(np.abs(data) >= 1.0 - 2.0**-15)) >= min_samples


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=float))


def spectrogram_comparison(
    path: Path, target: np.ndarray, match: np.ndarray, sample_rate: int, title: str = "",
    envelopes: bool = False,
) -> None:
    """Side-by-side log-magnitude spectrograms (dB, shared colour scale, 90 dB range) as a PNG,
    on a log-frequency axis from 30 Hz to Nyquist: most of a note's energy lies below 1 kHz.
    ``envelopes``: a third panel with both level envelopes (RMS, dB re full scale, 10 ms hop)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_fft, hop = 2048, 256  # 7.8 Hz bins at 16 kHz: a low note's partials stay apart
    window = np.hanning(n_fft)

    def db(x: np.ndarray) -> np.ndarray:
        x = np.pad(np.asarray(x, dtype=np.float64), (n_fft // 2, n_fft // 2))
        frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * window
        power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2 / (window.sum() / 2) ** 2
        return 10 * np.log10(power.T + 1e-10)

    specs = [db(target), db(match)]
    top = max(s.max() for s in specs)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    times = np.arange(specs[0].shape[1]) * hop / sample_rate
    keep = freqs >= 30.0
    # a fixed layout: the constrained one took 1.2 s of the 1.8 s each target's image cost
    top_edge = 0.8 if title else 0.88
    bottom, height = (0.15, 3.6) if not envelopes else (0.55, 6.8)
    if envelopes:  # the spectrograms keep their size in a taller figure; envelopes go underneath
        top_edge = 1.0 - (1.0 - top_edge) * 3.6 / height
    fig, axes = plt.subplots(1, 2, figsize=(10, height), sharey=True)
    fig.subplots_adjust(left=0.08, right=0.9, bottom=bottom, top=top_edge, wspace=0.06)
    for ax, spec, label in zip(axes, specs, ("target", "match"), strict=True):
        image = ax.pcolormesh(
            times, freqs[keep], spec[keep], shading="nearest", vmin=top - 90, vmax=top, cmap="magma"
        )
        ax.set_yscale("log")
        ax.set_title(label)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (Hz, log)")
    fig.colorbar(image, cax=fig.add_axes((0.915, bottom, 0.015, top_edge - bottom)), label="dB")
    if envelopes:
        _envelope_axes(fig.add_axes((0.08, 0.07, 0.82, 0.35)), target, match, sample_rate)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _envelope_axes(ax, target: np.ndarray, match: np.ndarray, sample_rate: int) -> None:
    """Both level envelopes on ``ax`` (dB re full scale over time)."""
    from analysis.envelope import level_envelope

    for audio, label, style in ((target, "target", "-"), (match, "match", "--")):
        env = level_envelope(audio, sample_rate)
        ax.plot(env.times, env.db, style, label=label)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("level (dB re full scale)")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
