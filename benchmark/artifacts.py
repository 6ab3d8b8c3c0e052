"""Per-target artifacts: audio files, parameters as JSON, a spectrogram comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Mono float audio -> 16-bit PCM WAV, clipped to [-1, 1]."""
    sf.write(str(path), np.clip(np.asarray(audio, dtype=np.float32), -1, 1), sample_rate, "PCM_16")


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=float))


def spectrogram_comparison(
    path: Path, target: np.ndarray, match: np.ndarray, sample_rate: int, title: str = ""
) -> None:
    """Side-by-side log-magnitude spectrograms (dB, shared colour scale) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_fft, hop = 1024, 256
    window = np.hanning(n_fft)

    def db(x: np.ndarray) -> np.ndarray:
        x = np.pad(np.asarray(x, dtype=np.float64), (n_fft // 2, n_fft // 2))
        frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * window
        power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2 / (window.sum() / 2) ** 2
        return 10 * np.log10(power.T + 1e-10)

    specs = [db(target), db(match)]
    top = max(s.max() for s in specs)
    extent = (0, len(target) / sample_rate, 0, sample_rate / 2000)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True, constrained_layout=True)
    for ax, spec, label in zip(axes, specs, ("target", "match"), strict=True):
        image = ax.imshow(
            spec, origin="lower", aspect="auto", extent=extent, vmin=top - 90, vmax=top, cmap="magma"
        )
        ax.set_title(label)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (kHz)")
    fig.colorbar(image, ax=axes, label="dB")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=80)
    plt.close(fig)
