"""Anytime data in the IOHprofiler format, so IOHanalyzer (or any tool that reads it) can take over.

Layout (one folder per algorithm, as IOHexperimenter writes it)::

    iohprofiler/<algorithm>/IOHprofiler_f<id>_<task>.info
    iohprofiler/<algorithm>/data_f<id>_<task>/IOHprofiler_f<id>_DIM<d>.dat

Mapping: an *algorithm* is a leaderboard group's solver part (solver and its
varying options); a *function* is a task (suite, synth, loss: what the
leaderboard never pools); an *instance* is a target of the suite (numbered
from 1 in name order), and every run on it (a seed) is one run of that
instance; the dimension is the synth's parameter count. Each run's records are
its improvements of the best loss so far: ``"function evaluation"`` is renders
spent, ``"best-so-far f(x)"`` the loss (minimised). The ``.info`` line holds
each run's ``instance:renders|final best``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pandas as pd

from benchmark.report import scoring

TASK = ["suite", "synth", "loss"]
HEADER = '"function evaluation" "best-so-far f(x)"'


def _name(text: str) -> str:
    """A file-name-safe word (IOHanalyzer splits names on '_' in some places: none are kept)."""
    return re.sub(r"[^A-Za-z0-9.=+-]+", "-", text).strip("-") or "x"


def write_iohprofiler(
    runs: pd.DataFrame, histories: dict[str, pd.DataFrame], algorithm_keys: list[str], folder: Path
) -> list[Path]:
    """Write the runs' anytime curves under ``folder``; returns the ``.info`` files written.

    ``algorithm_keys``: the group keys that name an algorithm (e.g. solver and
    its varying options); the task keys are never among them.
    """
    import shutil

    if folder.exists():  # written afresh each time: the .info files are appended to below
        shutil.rmtree(folder)
    keys = [k for k in algorithm_keys if k not in (*TASK, "target")] or ["solver"]
    algo = scoring.joined(scoring.key_values(runs, keys), "+")
    task = scoring.joined(scoring.key_values(runs, TASK), " ")
    target = scoring.key_values(runs, ["target"])["target"]
    dims = runs.get("tags.soundmatch.dimension", pd.Series("1", index=runs.index)).fillna("1")
    task_ids = {t: i + 1 for i, t in enumerate(sorted(task.unique()))}
    instance_ids = {
        t: {name: i + 1 for i, name in enumerate(sorted(target[task == t].unique()))} for t in task_ids
    }
    by_file: dict[tuple[str, str, str], list[tuple[int, pd.DataFrame]]] = defaultdict(list)
    for i in runs.index:
        h = histories.get(runs.at[i, "run_id"])
        if h is None or not len(h):
            continue
        inst = instance_ids[task.at[i]][target.at[i]]
        by_file[(algo.at[i], task.at[i], str(dims.at[i]))].append((inst, h))
    written = []
    for (alg, t, dim), entries in sorted(by_file.items()):
        fid, fname = task_ids[t], _name(t)
        root = folder / _name(alg)
        data_dir = root / f"data_f{fid}_{fname}"
        data_dir.mkdir(parents=True, exist_ok=True)
        dat = data_dir / f"IOHprofiler_f{fid}_DIM{dim}.dat"
        blocks, summary = [], []
        for inst, h in sorted(entries, key=lambda e: e[0]):
            best = h["loss"].cummin()
            improved = h[best.diff().fillna(-1.0) < 0]  # the first record and every improvement
            points = zip(improved["renders"], best[improved.index], strict=True)
            lines = [HEADER] + [f"{int(r)} {v:.10g}" for r, v in points]
            blocks.append("\n".join(lines))
            summary.append(f"{inst}:{int(h['renders'].iloc[-1])}|{best.iloc[-1]:.10g}")
        dat.write_text("\n".join(blocks) + "\n")
        info = root / f"IOHprofiler_f{fid}_{fname}.info"
        head = (
            f"suite = 'soundmatch', funcId = {fid}, funcName = '{fname}', DIM = {dim}, "
            f"maximization = 'F', algId = '{_name(alg)}', algInfo = '{t}'"
        )
        with info.open("a") as fh:
            fh.write(f"{head}\n%\n{dat.relative_to(root).as_posix()}, {', '.join(summary)}\n")
        written.append(info)
    return sorted(set(written))


def read_dat(path: Path) -> list[pd.DataFrame]:
    """The runs of an IOHprofiler ``.dat`` file, as frames of (evaluations, best) -- to check a file."""
    runs: list[list[tuple[float, float]]] = []
    for line in path.read_text().splitlines():
        if line.startswith('"'):
            runs.append([])
        elif line.strip():
            e, y = line.split()
            runs[-1].append((float(e), float(y)))
    return [pd.DataFrame(r, columns=["evaluations", "best"]) for r in runs]
