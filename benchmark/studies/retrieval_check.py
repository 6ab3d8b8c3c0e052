"""How often ``solver=retrieval`` finds the exact preset, when its gallery holds it.

    python -m benchmark retrieval corpus=DIR [queries=[60:100,62:100,66:100,60:80]] \\
        [gallery_notes=[36,48,60,72,84]] [candidates=5] [sample_rate=16000] [duration=1.0]

The gallery holds every preset of the corpus (``split=all``) rendered at ``gallery_notes``
(velocity 100). The queries are the test-split presets (banks the default gallery never holds)
played at each ``note:velocity`` of ``queries``; a query is found when its own preset is the
nearest (top 1) or among the ``candidates`` nearest. Away from the gallery's notes and velocity
the query sounds different from the gallery's render of the same preset: that is what the
figures measure. Printed, written to ``results_dir/retrieval.csv`` and logged as a study.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmark.options import Option, integer, number, parse_command, store_options, text, words
from benchmark.run.spec import suite_loader
from benchmark.run.targets.base import SuiteContext
from soundmatch.errors import UserError
from synths.base import Note, synth_registry

OPTIONS = [
    Option("corpus", text, help="folder of DX7 .syx banks (as target=dx7_presets reads it)"),
    Option("queries", words, ["60:100", "62:100", "66:100", "60:80"],
           "note:velocity of the test presets played"),
    Option("gallery_notes", words, ["36", "48", "60", "72", "84"], "MIDI notes the gallery is rendered at"),
    Option("candidates", integer(1, 100), 5, "a query is also counted found among this many nearest"),
    Option("test_fraction", number(0.0, 1.0), 0.2,
           "share of banks in the test split (as target.test_fraction)"),
    Option("seed", integer(0), 0, "the split's seed"),
    Option("sample_rate", integer(8000), 16000, "Hz"),
    Option("duration", number(above=0.0), 1.0, "seconds"),
    *store_options(),
]


def parse_queries(items: list[str]) -> list[tuple[float, int]]:
    """``["60:100", "62"]`` -> ``[(60.0, 100), (62.0, 100)]``; a UserError naming a bad item."""
    out = []
    for item in items:
        note, _, velocity = item.partition(":")
        try:
            out.append((float(note), int(velocity or 100)))
        except ValueError:
            raise UserError(
                f"retrieval: queries= takes note:velocity items (e.g. [60:100,62:80]), got '{item}'"
            ) from None
    return out


def retrieval_cli(args: list[str]) -> int:
    from solvers.retrieval import Retrieval, preset_of

    values = parse_command(args, OPTIONS, "retrieval", __doc__.strip().split("\n\n")[0])
    if values is None:
        return 0
    queries = parse_queries(values["queries"])
    try:
        gallery_notes = [float(n) for n in values["gallery_notes"]]
    except ValueError:
        shown = ",".join(values["gallery_notes"])
        raise UserError(f"retrieval: gallery_notes= takes MIDI notes, got [{shown}]") from None
    rate, seconds = values["sample_rate"], values["duration"]
    synth = synth_registry.create("dx7", algorithm=None)
    context = SuiteContext(synth, rate, seconds, Note(60.0, 100), torch.device("cpu"))
    load = suite_loader(context)
    solver = Retrieval(corpus=values["corpus"], split="all", seed=values["seed"],
                       test_fraction=values["test_fraction"], notes=gallery_notes,
                       candidates=values["candidates"])  # fmt: skip
    from solvers.base import Task

    solver.fit(Task(synth, None, rate, seconds, Note(60.0, 100), torch.device("cpu"), None, load))
    rows = []
    for note, velocity in queries:
        found = load({"name": "dx7_presets", "path": values["corpus"], "split": "test",
                      "seed": values["seed"], "test_fraction": values["test_fraction"],
                      "notes": [note], "velocities": [velocity]})  # fmt: skip
        ranks = []
        for q in found:
            names = solver.nearest(q.audio.numpy(), rate, note)[1]
            own = preset_of(q.name)
            ranks.append(names.index(own) + 1 if own in names else 0)
        ranks_a = np.array(ranks)
        rows.append((note, velocity, len(found), float(np.mean(ranks_a == 1)), float(np.mean(ranks_a >= 1))))
    out = Path(values["results_dir"])
    out.mkdir(parents=True, exist_ok=True)
    k = values["candidates"]
    lines = [f"note,velocity,queries,top1,top{k}"]
    lines += [f"{n:g},{v},{c},{a:.4f},{b:.4f}" for n, v, c, a, b in rows]
    (out / "retrieval.csv").write_text("\n".join(lines) + "\n")
    from benchmark.run.tracking import log_study

    figures = {f"top1_n{n:g}v{v}": a for n, v, _, a, _ in rows}
    run_id = log_study("retrieval", values, figures, [out / "retrieval.csv"])
    print(f"gallery: {solver.gallery_size} presets at notes "
          f"{', '.join(f'{n:g}' for n in gallery_notes)} (velocity 100)")  # fmt: skip
    print(f"{'note':>5} {'vel':>4} {'queries':>8} {'top 1':>7} {f'top {k}':>7}")
    for n, v, c, a, b in rows:
        print(f"{n:>5g} {v:>4d} {c:>8d} {a:>7.1%} {b:>7.1%}")
    print(f"wrote {out / 'retrieval.csv'} (MLflow run {run_id}, experiment 'retrieval')")
    return 0
