"""The gradient-direction study: does a loss lead an oscillator's frequency toward the target?

    python -m benchmark gradcheck [losses=l2,mss,...] [waveforms=sine,square,saw] [trials=1000] \\
        [cents=300,600] [sample_rate=16000] [duration=0.25] [seed=0] [batch=250] [jobs=1] \\
        [results_dir=results]

Protocol (after DiffMoog, Uzrad et al. 2024). Each trial draws a target
oscillator: frequency log-uniform in [30, 4000] Hz, amplitude 10**U(-2.5, 0),
phase U(0, 1) cycles; the predictions share its waveform, amplitude and phase
and differ in frequency only. For a perturbation of c cents and a random
direction s = +-1, the prediction sits at ``f_t * 2**(s c / 1200)`` and the
"perturbed" prediction c cents further away, at ``f_t * 2**(2 s c / 1200)``.

- finite-difference accuracy: 1 when the loss ranks the closer prediction
  better, L(prediction) < L(perturbed); 1/2 on a tie.
- gradient-sign accuracy: 1 when the true gradient at the prediction points
  the right way, i.e. -dL/df has the sign of (f_t - f_prediction); 1/2 when
  dL/df is exactly 0 (no information). The oscillators are band-limited
  (:mod:`synths.oscillators`), so the frequency gradient is real for every waveform.

``protocols=ours,diffmoog`` (the default runs both): in *ours* the prediction
sits c cents from the target, as above; in *diffmoog* (the published protocol)
the prediction's frequency is drawn independently of the target's (same
log-uniform law), the perturbed prediction lies c cents further from the
target than the prediction, and the gradient sign is read at the prediction.
DiffMoog's Table 1 values that REFERENCE.md transcribes (Wasserstein-time
accuracy 0.748 on squares and 0.715 on saws at 600 cents) are printed beside
ours in a "published" column; the others are not transcribed there, shown "-".

Each accuracy is a mean over trials with a percentile-bootstrap 95% interval
(2000 resamples). 0.5 is chance. Losses are given as ``name`` or
``name:key=value:key=value`` (options of that loss, values in YAML), e.g.
``spectral_ot:scale=log``. The table is printed, written to
``<results_dir>/gradcheck.md`` and logged to MLflow (experiment ``gradcheck``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from benchmark.options import Option, integer, number, parse_command, store_options
from benchmark.run.tracking import log_study
from losses.base import Loss, loss_registry
from soundmatch.errors import UserError
from soundmatch.seeding import derive_seed
from synths.oscillators import WAVEFORMS, oscillator

DEFAULT_LOSSES = [
    "l2",
    "mss",
    "mel",
    "mfcc",
    "wasserstein_time",
    "wasserstein_freq",
    "spectral_ot",
    "spectral_ot:scale=log",
    "combo",
]
F_LOW, F_HIGH = 30.0, 4000.0  # Hz, DiffMoog's frequency range
BOOTSTRAP = 2000
PROTOCOLS = ("ours", "diffmoog")
# DiffMoog (Uzrad et al. 2024) Table 1, as transcribed in REFERENCE.md: (loss, waveform, cents) -> accuracy
PUBLISHED = {("wasserstein_time", "square", 600.0): 0.748, ("wasserstein_time", "saw", 600.0): 0.715}


def _word_list(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise ValueError("expected a comma-separated list")
    return items


def _number_list(value: str) -> list[float]:
    try:
        items = [float(v) for v in _word_list(value)]
    except ValueError:
        raise ValueError("expected comma-separated numbers") from None
    if any(v <= 0 for v in items):
        raise ValueError("expected positive numbers")
    return items


OPTIONS = [
    Option("losses", _word_list, DEFAULT_LOSSES, "losses to study, name or name:key=value:..."),
    Option("waveforms", _word_list, ["sine", "square", "saw"], f"from {', '.join(WAVEFORMS)}"),
    Option("trials", integer(1), 1000, "trials per loss and waveform"),
    Option("cents", _number_list, [300.0, 600.0], "perturbations in cents"),
    Option("protocols", _word_list, ["ours", "diffmoog"], "ours and/or diffmoog (see the docstring)"),
    Option("sample_rate", integer(8000), 16000, "Hz"),
    Option("duration", number(above=0.0), 0.25, "seconds per signal"),
    Option("seed", integer(0), 0, "seeds the trials and the bootstrap"),
    Option("batch", integer(1), 250, "trials rendered together"),
    Option("jobs", integer(1, 64), 1, "worker processes (cells run in parallel; results do not change)"),
    *store_options("where the Markdown table and the MLflow store go")[:2],
]


@dataclass
class Accuracy:
    """A mean score over trials with its bootstrap 95% interval."""

    mean: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass
class StudyRow:
    """One loss x waveform: accuracies per perturbation (cents -> Accuracy)."""

    loss: str
    waveform: str
    protocol: str = "ours"
    finite_difference: dict[float, Accuracy] = field(default_factory=dict)
    gradient_sign: dict[float, Accuracy] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Trials:
    """The random draws shared by every loss: ``[N]`` each."""

    freq: torch.Tensor  # Hz
    amplitude: torch.Tensor
    phase: torch.Tensor  # cycles
    direction: torch.Tensor  # +1 / -1: which side of the target the predictions lie (ours)
    pred_freq: torch.Tensor  # Hz, drawn independently of freq (diffmoog)

    @staticmethod
    def draw(n: int, seed: int) -> Trials:
        g = torch.Generator().manual_seed(seed)
        freq = F_LOW * (F_HIGH / F_LOW) ** torch.rand(n, generator=g, dtype=torch.float64)
        amplitude = 10.0 ** (-2.5 * torch.rand(n, generator=g, dtype=torch.float64))
        phase = torch.rand(n, generator=g, dtype=torch.float64)
        direction = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()
        pred_freq = F_LOW * (F_HIGH / F_LOW) ** torch.rand(n, generator=g, dtype=torch.float64)
        return Trials(freq, amplitude, phase, direction, pred_freq)

    def chunk(self, start: int, stop: int) -> Trials:
        fields = (self.freq, self.amplitude, self.phase, self.direction, self.pred_freq)
        return Trials(*(t[start:stop] for t in fields))


def parse_loss(spec: str, sample_rate: int) -> Loss:
    """``name`` or ``name:key=value:...`` -> a loss instance."""
    name, *pairs = spec.split(":")
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"gradcheck: bad loss option '{pair}' in '{spec}'; write name:key=value")
        options[key] = yaml.safe_load(value)
    return loss_registry.create(name, sample_rate=sample_rate, **options)


def bootstrap(scores: torch.Tensor, generator: torch.Generator) -> Accuracy:
    """Mean of ``scores[N]`` with a percentile-bootstrap 95% interval."""
    n = scores.numel()
    idx = torch.randint(0, n, (BOOTSTRAP, n), generator=generator)
    means = scores[idx].mean(dim=1)
    low, high = torch.quantile(means, torch.tensor([0.025, 0.975], dtype=means.dtype)).tolist()
    return Accuracy(float(scores.mean()), low, high)


def _render(
    kind: str, trials: Trials, freq: torch.Tensor, sample_rate: int, num_samples: int
) -> torch.Tensor:
    return oscillator(
        kind,
        freq.float(),
        sample_rate=sample_rate,
        num_samples=num_samples,
        phase0=trials.phase.float(),
        amplitude=trials.amplitude.float(),
    )


def score_chunk(
    loss: Loss, kind: str, trials: Trials, cents: list[float], sample_rate: int, num_samples: int,
    protocol: str = "ours",
) -> tuple[dict[float, torch.Tensor], dict[float, torch.Tensor]]:
    """Per-trial finite-difference and gradient-sign scores (1, 0 or 1/2) for each perturbation."""
    with torch.no_grad():
        feats = loss.features(_render(kind, trials, trials.freq, sample_rate, num_samples))
    fd: dict[float, torch.Tensor] = {}
    sign: dict[float, torch.Tensor] = {}
    for c in cents:
        if protocol == "diffmoog":  # an independent prediction, the perturbation c cents further away
            away = torch.where(trials.pred_freq >= trials.freq, 1.0, -1.0).double()
            start, far = trials.pred_freq, trials.pred_freq * 2.0 ** (away * c / 1200.0)
        else:  # the prediction c cents from the target, the perturbation c cents further
            away = trials.direction
            step = 2.0 ** (away * c / 1200.0)
            start, far = trials.freq * step, trials.freq * step * step
        f_pred = start.float().requires_grad_(True)
        loss_pred = loss.compare(_render(kind, trials, f_pred, sample_rate, num_samples), feats)
        (grad,) = torch.autograd.grad(loss_pred.sum(), f_pred)
        with torch.no_grad():
            loss_far = loss.compare(_render(kind, trials, far, sample_rate, num_samples), feats)
        lp, lf = loss_pred.detach().double(), loss_far.double()
        fd[c] = (lp < lf).double() + 0.5 * (lp == lf).double()
        # the target lies at -away from the prediction; -grad points there iff grad * away > 0
        toward = grad.double() * away
        sign[c] = (toward > 0).double() + 0.5 * (toward == 0).double()
    return fd, sign


def study_cell(values: dict[str, Any], spec: str, kind: str, protocol: str = "ours") -> StudyRow:
    """One loss x waveform; its result depends only on the settings, not on other cells."""
    torch.set_num_threads(int(values.get("threads", 0)) or torch.get_num_threads())
    sr = int(values["sample_rate"])
    num_samples = int(round(sr * float(values["duration"])))
    loss = parse_loss(spec, sr)
    trials = Trials.draw(int(values["trials"]), derive_seed(int(values["seed"]), "gradcheck", "trials"))
    boot = torch.Generator().manual_seed(derive_seed(int(values["seed"]), "bootstrap", spec, kind) % 2**63)
    if protocol != "ours":  # the present protocol keeps its bootstrap stream
        boot.manual_seed(derive_seed(int(values["seed"]), "bootstrap", spec, kind, protocol) % 2**63)
    t0 = time.perf_counter()
    fd_parts: dict[float, list[torch.Tensor]] = {c: [] for c in values["cents"]}
    sign_parts: dict[float, list[torch.Tensor]] = {c: [] for c in values["cents"]}
    batch = int(values["batch"])
    for start in range(0, trials.freq.numel(), batch):
        fd, sign = score_chunk(
            loss, kind, trials.chunk(start, start + batch), values["cents"], sr, num_samples, protocol
        )
        for c in values["cents"]:
            fd_parts[c].append(fd[c])
            sign_parts[c].append(sign[c])
    row = StudyRow(spec, kind, protocol)
    for c in values["cents"]:
        row.finite_difference[c] = bootstrap(torch.cat(fd_parts[c]), boot)
        row.gradient_sign[c] = bootstrap(torch.cat(sign_parts[c]), boot)
    row.seconds = time.perf_counter() - t0
    return row


def run_study(values: dict[str, Any], progress=None) -> list[StudyRow]:
    """Every loss x waveform of the settings (``jobs`` processes); returns the rows in order."""
    for kind in values["waveforms"]:
        if kind not in WAVEFORMS:
            raise UserError(f"gradcheck: unknown waveform '{kind}'; choose from {', '.join(WAVEFORMS)}")
    sr = int(values["sample_rate"])
    if int(round(sr * float(values["duration"]))) < 64:
        raise UserError("gradcheck: duration too short; give at least 64 samples (e.g. duration=0.25)")
    for spec in values["losses"]:
        parse_loss(spec, sr)  # fail on a bad loss before any work
    protocols = values.get("protocols", ["ours"])
    for protocol in protocols:
        if protocol not in PROTOCOLS:
            raise UserError(f"gradcheck: unknown protocol '{protocol}'; choose from {', '.join(PROTOCOLS)}")
    cells = [(s, k, p) for p in protocols for s in values["losses"] for k in values["waveforms"]]
    jobs = int(values.get("jobs", 1))
    if jobs <= 1:
        rows = []
        for spec, kind, protocol in cells:
            rows.append(study_cell(values, spec, kind, protocol))
            if progress is not None:
                progress(rows[-1])
        return rows
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # one torch thread per worker: the workers are the parallelism
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(study_cell, {**values, "threads": 1}, s, k, p) for s, k, p in cells]
        rows = []
        for future in futures:
            rows.append(future.result())
            if progress is not None:
                progress(rows[-1])
    return rows


def _cents_label(c: float) -> str:
    return f"{c:g}c"


def published(row: StudyRow, cents: list[float]) -> str:
    """DiffMoog's published FD accuracies for this row (diffmoog protocol only), or "-"."""
    if row.protocol != "diffmoog":
        return "-"
    found = [f"{_cents_label(c)}: {PUBLISHED[(row.loss, row.waveform, c)]:.3f}"
             for c in cents if (row.loss, row.waveform, c) in PUBLISHED]
    return ", ".join(found) or "-"


def markdown(rows: list[StudyRow], values: dict[str, Any]) -> str:
    cents = values["cents"]
    head = ["loss", "waveform", "protocol"]
    head += [f"FD {_cents_label(c)}" for c in cents] + [f"grad sign {_cents_label(c)}" for c in cents]
    head += ["published FD"]
    lines = [
        f"Gradient-direction study: {values['trials']} trials per cell, {values['duration']} s at "
        f"{values['sample_rate']} Hz, seed {values['seed']}. Mean accuracy [bootstrap 95% interval]; "
        "0.5 is chance.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        cells = [r.loss, r.waveform, r.protocol]
        cells += [str(r.finite_difference[c]) for c in cents] + [str(r.gradient_sign[c]) for c in cents]
        cells += [published(r, cents)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _print_table(rows: list[StudyRow], values: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    cents = values["cents"]
    table = Table(title=f"gradient direction ({values['trials']} trials per cell, 95% bootstrap intervals)")
    table.add_column("loss")
    table.add_column("waveform")
    table.add_column("protocol")
    for c in cents:
        table.add_column(f"FD {_cents_label(c)}", justify="right")
    for c in cents:
        table.add_column(f"grad sign {_cents_label(c)}", justify="right")
    table.add_column("published FD")
    for r in rows:
        cells = [str(r.finite_difference[c]) for c in cents] + [str(r.gradient_sign[c]) for c in cents]
        table.add_row(r.loss, r.waveform, r.protocol, *cells, published(r, cents))
    Console().print(table)


def _log(rows: list[StudyRow], values: dict[str, Any], table_path: Path) -> str:
    metrics: dict[str, float | None] = {}
    for r in rows:
        for c in values["cents"]:
            key = f"{r.loss.replace(':', '_').replace('=', '-')}.{r.waveform}.{r.protocol}.{c:g}c"
            for kind, acc in (("fd", r.finite_difference[c]), ("grad", r.gradient_sign[c])):
                metrics[f"{key}.{kind}"] = acc.mean
                metrics[f"{key}.{kind}_low"] = acc.low
                metrics[f"{key}.{kind}_high"] = acc.high
    return log_study("gradcheck", values, metrics, [table_path])


def gradcheck_cli(args: list[str]) -> int:
    values = parse_command(args, OPTIONS, "gradcheck", __doc__.strip().split("\n\n")[0])
    if values is None:
        return 0

    def progress(row: StudyRow) -> None:
        first = values["cents"][0]
        print(
            f"  {row.loss:<24} {row.waveform:<8} FD {row.finite_difference[first].mean:.3f}  "
            f"grad {row.gradient_sign[first].mean:.3f}  ({row.seconds:.1f} s)",
            flush=True,
        )

    rows = run_study(values, progress)
    _print_table(rows, values)
    out = Path(values["results_dir"])
    out.mkdir(parents=True, exist_ok=True)
    table_path = out / "gradcheck.md"
    table_path.write_text(markdown(rows, values))
    run_id = _log(rows, values, table_path)
    print(f"table: {table_path}  (MLflow run {run_id}, experiment 'gradcheck')")
    if any(math.isnan(acc.mean) for r in rows for acc in r.finite_difference.values()):
        raise UserError("gradcheck: some losses returned NaN; check the loss options")
    return 0
