"""Loss landscapes: a loss on a 2-D grid of two parameters of a synth, around a target.

    python -m benchmark landscape synth=fm2 x=ratio y=index [loss=mss] [steps=41] [span=1.0] \\
        [seed=0] [sample_rate=16000] [duration=0.5] [pitch=60] [out=results/landscape.png]

The target is a random patch of the synth (``synth.sample`` seeded by ``seed``).
Every other parameter keeps the target's value while ``x`` and ``y`` sweep
``steps`` values each over the target's unit-cube coordinate +- ``span``
(clipped to [0, 1]; span=1 covers the whole range). The PNG shows the loss as
a heat map (log colour scale when the loss is positive) with the target marked;
axes are labelled in the parameters' physical units. Losses are given as in
``gradcheck``: ``name`` or ``name:key=value:...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.options import (
    Option,
    integer,
    number,
    parse_command,
    store_options,
    text,
)
from benchmark.run.presets import create_synth
from benchmark.studies.gradcheck import parse_loss
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed
from synths.base import Note

OPTIONS = [
    Option("synth", text, "fm2", "synth or synth preset name (as run's synth=)"),
    Option("x", text, help="parameter on the horizontal axis"),
    Option("y", text, help="parameter on the vertical axis"),
    Option("loss", text, "mss", "loss, name or name:key=value:..."),
    Option("steps", integer(2, 401), 41, "grid points per axis"),
    Option("span", number(above=0.0, high=1.0), 1.0, "half-width around the target, unit-cube units"),
    Option("seed", integer(0), 0, "picks the target patch"),
    Option("sample_rate", integer(8000), 16000, "Hz"),
    Option("duration", number(above=0.0), 0.5, "seconds"),
    Option("pitch", number(0.0, 127.0), 60.0, "MIDI note the synth plays"),
    Option("batch", integer(1), 64, "grid points rendered together"),
    Option("out", text, None, "PNG to write, the grid as .npz beside it (default results_dir/landscape.png)"),
    *store_options("where the PNG and the MLflow store (experiment 'landscape') go")[:2],
]


def loss_grid(values: dict[str, Any]) -> dict[str, Any]:
    """Compute the grid: axes (unit), loss ``[steps_y, steps_x]``, the target's coordinates."""
    synth = create_synth(values["synth"])  # a registered synth or a preset (dx7_flute)
    spec = synth.spec
    for axis in ("x", "y"):
        if values[axis] not in spec.names:
            raise UserError(
                f"landscape: synth '{values['synth']}' has no parameter '{values[axis]}'; "
                f"choose from {', '.join(spec.names)}"
            )
    if values["x"] == values["y"]:
        raise UserError("landscape: x and y must be two different parameters")
    ix, iy = spec.index(values["x"]), spec.index(values["y"])
    sr, duration = int(values["sample_rate"]), float(values["duration"])
    note = Note(float(values["pitch"]))
    loss = parse_loss(values["loss"], sr)
    target = synth.sample(
        1, torch.Generator().manual_seed(derive_seed(int(values["seed"]), "landscape") % 2**63)
    )
    kw = dict(sample_rate=sr, duration=duration, note=note)
    stages = bool(getattr(loss, "uses_stages", False))
    with torch.no_grad():
        bound = loss.bind(synth.stages(target, **kw) if stages else synth.render(target, **kw))

    def axis(i: int) -> torch.Tensor:
        centre = float(target[0, i])
        low, high = max(0.0, centre - values["span"]), min(1.0, centre + values["span"])
        return torch.linspace(low, high, int(values["steps"]))

    ux, uy = axis(ix), axis(iy)
    gy, gx = torch.meshgrid(uy, ux, indexing="ij")
    points = target.repeat(gx.numel(), 1)
    points[:, ix], points[:, iy] = gx.reshape(-1), gy.reshape(-1)
    out = []
    with torch.no_grad():
        for start in range(0, points.shape[0], int(values["batch"])):
            chunk = points[start : start + int(values["batch"])]
            out.append(bound(synth.stages(chunk, **kw) if stages else synth.render(chunk, **kw)))
    grid = torch.cat(out).reshape(gy.shape)
    return {
        "ux": ux,
        "uy": uy,
        "loss": grid,
        "target": (float(target[0, ix]), float(target[0, iy])),
        "px": spec.params[ix],
        "py": spec.params[iy],
    }


def plot(result: dict[str, Any], values: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    loss = result["loss"].numpy()
    positive = bool(np.all(loss > 0))
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    ux, uy = result["ux"].numpy(), result["uy"].numpy()
    mesh = ax.pcolormesh(
        ux, uy, loss, shading="nearest", cmap="viridis", norm=LogNorm() if positive else None
    )
    fig.colorbar(mesh, ax=ax, label=f"{values['loss']} loss")
    tx, ty = result["target"]
    ax.plot([tx], [ty], marker="*", color="red", markersize=16, markeredgecolor="white", label="target")
    best = np.unravel_index(np.nanargmin(loss), loss.shape)
    ax.plot([ux[best[1]]], [uy[best[0]]], marker="x", color="white", markersize=10, label="grid minimum")
    for setter, ticks, param in ((ax.set_xticks, ux, result["px"]), (ax.set_yticks, uy, result["py"])):
        shown = np.linspace(ticks[0], ticks[-1], 5)
        labels = [f"{float(param.to_physical(torch.tensor(u))):.3g}" for u in shown]
        setter(shown, labels)
    unit = lambda p: f" ({p.unit})" if p.unit else ""  # noqa: E731
    ax.set_xlabel(f"{result['px'].name}{unit(result['px'])}")
    ax.set_ylabel(f"{result['py'].name}{unit(result['py'])}")
    ax.set_title(f"{values['synth']}: {values['loss']} around a target (seed {values['seed']})")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def landscape_cli(args: list[str]) -> int:
    values = parse_command(args, OPTIONS, "landscape", __doc__.strip().split("\n\n")[0])
    if values is None:
        return 0
    result = loss_grid(values)
    path = Path(values["out"]) if values["out"] else Path(values["results_dir"]) / "landscape.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    plot(result, values, path)
    np.savez(
        path.with_suffix(".npz"),
        ux=result["ux"].numpy(),
        uy=result["uy"].numpy(),
        loss=result["loss"].numpy(),
        target=np.array(result["target"]),
    )
    tx, ty = result["target"]
    from benchmark.run.tracking import log_study

    loss = result["loss"].numpy()
    figures = {"min_loss": float(np.nanmin(loss)), "max_loss": float(np.nanmax(loss))}
    run_id = log_study("landscape", values, figures, [path, path.with_suffix(".npz")])
    print(
        f"landscape of {values['loss']} over {values['x']} x {values['y']} "
        f"(target at unit {tx:.3f}, {ty:.3f}): {path}  (MLflow run {run_id}, experiment 'landscape')"
    )
    return 0
