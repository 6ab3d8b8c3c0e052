"""Leaderboard figures as PNG files: win-rate matrix, normalised scores, anytime curves, ECDFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _scale(ax, axis: str, values: np.ndarray) -> None:
    """Log scale on ``axis`` ('x' or 'y') when the positive values span more than a decade."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) and v.max() / v.min() > 10:
        from matplotlib.ticker import NullFormatter

        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        (ax.xaxis if axis == "x" else ax.yaxis).set_minor_formatter(NullFormatter())


def fight_plot(wins: pd.DataFrame, path: Path, title: str) -> None:
    """Heat map of ``wins`` (row beats column, fraction of matches), best row first."""
    plt = _pyplot()
    n = len(wins)
    fig, ax = plt.subplots(figsize=(2.2 + 0.7 * n, 1.6 + 0.6 * n), constrained_layout=True)
    image = ax.imshow(wins.to_numpy(dtype=float), vmin=0, vmax=1, cmap="RdYlGn")
    ax.set_xticks(range(n), wins.columns, rotation=45, ha="right")
    ax.set_yticks(range(n), wins.index)
    for i in range(n):
        for j in range(n):
            v = wins.iat[i, j]
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax.set_title(_title(title, 60), fontsize=9)
    fig.colorbar(image, ax=ax, label="win rate (row vs column)")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _style(i: int) -> dict[str, object]:
    """Colour and dash of the i-th line: ten colours, then the same colours dashed, dotted ..., so
    up to 40 groups stay apart."""
    import matplotlib

    colours = matplotlib.colormaps["tab10"].colors
    return {"color": colours[i % 10], "ls": ("-", "--", ":", "-.")[(i // 10) % 4]}


def _title(text: str, width: int = 90) -> str:
    """A title wrapped to ``width`` characters, so a long one is never cut at the figure's edge."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def score_plot(table: pd.DataFrame, labels: list[str], path: Path, title: str) -> None:
    """Horizontal bars: mean normalised score with its bootstrap 95% interval (0 exact, 1 random).

    A group without a score (no random-search baseline for its task) gets an
    "n/a" mark instead of an empty row. Rows stay 0.3 inch apart whatever
    their number, so 30 groups remain readable.
    """
    plt = _pyplot()
    mean = table["score"].to_numpy(dtype=float)
    known = np.isfinite(mean)
    lo = np.where(np.isfinite(table["score_lo"]), mean - table["score_lo"], 0)
    hi = np.where(np.isfinite(table["score_hi"]), table["score_hi"] - mean, 0)
    fig, ax = plt.subplots(figsize=(8, 1.4 + 0.3 * len(labels)), constrained_layout=True)
    y = np.arange(len(labels))
    ax.barh(y[known], mean[known], xerr=np.vstack([lo, hi])[:, known], color="#4c78a8", capsize=3)
    for row in y[~known]:
        ax.text(0.01, row, "n/a (no random-search baseline)", va="center", fontsize=8, color="grey")
    ax.axvline(1.0, color="grey", ls="--", lw=1, label="random search")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlim(left=0)
    ax.set_xlabel("normalised score (0 = exact, 1 = random search)")
    ax.set_title(_title(title, 60), fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def anytime_plot(curves: pd.DataFrame, path: Path, title: str) -> None:
    """Best loss so far against renders and against seconds (median line, quartile band)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    for ax, axis, label in zip(axes, ("renders", "seconds"), ("renders", "seconds"), strict=True):
        part = curves[curves["axis"] == axis]
        for i, (group, frame) in enumerate(part.groupby("group")):
            marker = "o" if np.isfinite(frame["median"]).sum() < 3 else None  # one evaluation: one point
            line = ax.plot(
                frame["x"], frame["median"], label=str(group), marker=marker, drawstyle="steps-post",
                **_style(i),
            )[0]
            ax.fill_between(
                frame["x"], frame["q25"], frame["q75"], color=line.get_color(), alpha=0.15, step="post"
            )
        _scale(ax, "x", part["x"])
        _scale(ax, "y", part[["q25", "median", "q75"]].to_numpy().ravel())
        ax.set_xlabel(label)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("best loss so far (median, quartiles)")
    axes[0].legend(fontsize=8)
    fig.suptitle(_title(title, 140), fontsize=9)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def ecdf_plot(ecdf: pd.DataFrame, path: Path, title: str) -> None:
    """Fraction of (run, fixed target) pairs reached against renders spent."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    for i, (group, frame) in enumerate(ecdf.groupby("group")):
        ax.step(frame["renders"], frame["fraction"], where="post", label=str(group), **_style(i))
    _scale(ax, "x", ecdf["renders"])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("renders")
    ax.set_ylabel("fraction of targets reached")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(_title(title, 70), fontsize=9)
    fig.savefig(path, dpi=90)
    plt.close(fig)
