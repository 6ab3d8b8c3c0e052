"""The ``report`` command: one self-contained HTML page of the store's results.

The page holds the leaderboard table, its notes, the plots (PNG, inline base64),
and per target of each suite the target audio and, per group (e.g. solver and
loss), the best run's match as ``<audio>`` players beside the logged spectrogram
comparison (target | match). Everything is inline (``data:`` URIs), so the file
can be mailed or archived; it needs no script and no network.
"""

from __future__ import annotations

import base64
import html
import math
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from benchmark.options import Option, integer, parse_command, text
from benchmark.paths import writable_folder
from benchmark.report import leaderboard, scoring
from soundmatch.errors import UserError

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1.05em; }
table.board { border-collapse: collapse; font-size: 0.85em; }
table.board th, table.board td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
table.board td.key, table.board th.key { text-align: left; }
.note { color: #8a4b00; } .muted { color: #666; font-size: 0.85em; }
figure { margin: 0.5em 0 1.5em; } figure img { max-width: 100%; border: 1px solid #ddd; }
.target { border-top: 2px solid #999; padding-top: 0.5em; margin-top: 1.5em; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #ddd; padding: 6px; width: 560px; }
.card img { width: 100%; } audio { width: 100%; }
"""


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def audio_tag(data: bytes, label: str) -> str:
    src = data_uri(data, "audio/wav")
    return f'<audio controls preload="metadata" title="{html.escape(label)}" src="{src}"></audio>'


def image_tag(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="{data_uri(data, "image/png")}">'


class ArtifactCache:
    """Artifacts of runs, downloaded once into a temporary folder (local store or server)."""

    def __init__(self, uri: str, folder: Path):
        self.uri = uri
        self.folder = folder

    def get(self, run_id: str, name: str) -> bytes | None:
        import mlflow

        dst = self.folder / run_id
        dst.mkdir(parents=True, exist_ok=True)
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=name, dst_path=str(dst), tracking_uri=self.uri
            )
        except Exception:  # a run without that artifact (older runs, failed logging): shown as missing
            return None
        return Path(path).read_bytes()


def drawn_spectrogram(target_wav: bytes, match_wav: bytes, title: str) -> bytes:
    """The target-and-match spectrogram PNG drawn from the two WAVs, as a run draws it."""
    import io

    import soundfile as sf

    from benchmark.run.artifacts import spectrogram_comparison

    target, sample_rate = sf.read(io.BytesIO(target_wav), dtype="float32")
    match, _ = sf.read(io.BytesIO(match_wav), dtype="float32")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spectrogram.png"
        spectrogram_comparison(path, target, match, sample_rate, title=title)
        return path.read_bytes()


def board_html(lb: leaderboard.Leaderboard) -> str:
    head, body = leaderboard.rows(lb)
    keys = set(lb.group_by)
    th = "".join(f'<th class="{"key" if h in keys else ""}">{html.escape(h)}</th>' for h in head)
    trs = []
    for cells in body:
        tds = "".join(
            f'<td class="{"key" if h in keys else ""}">{html.escape(c)}</td>'
            for h, c in zip(head, cells, strict=True)
        )
        trs.append(f"<tr>{tds}</tr>")
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in lb.notes)
    return (
        f'<table class="board"><thead><tr>{th}</tr></thead><tbody>{"".join(trs)}</tbody></table>'
        f'<p class="muted">{html.escape(leaderboard.explanation(lb))}</p>{notes}'
    )


def wins_html(lb: leaderboard.Leaderboard) -> str:
    if lb.wins.empty:
        return ""
    names = [str(c) for c in lb.wins.columns]
    th = "<th></th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names)
    trs = []
    for name, row in lb.wins.iterrows():
        vals = "".join(
            f"<td>{v:.2f}</td>" if math.isfinite(v) else "<td>-</td>" for v in row.to_numpy(dtype=float)
        )
        trs.append(f'<tr><td class="key">{html.escape(str(name))}</td>{vals}</tr>')
    return (
        f"<h3>Win rates ({html.escape(lb.versus)} in the row against the column, by "
        f"{html.escape(lb.metric)})</h3>"
        f'<table class="board"><tr>{th}</tr>{"".join(trs)}</table>'
    )


def targets_html(lb: leaderboard.Leaderboard, cache: ArtifactCache, max_targets: int) -> str:
    """Per suite and target: the target's audio, and per group the best run's match and spectrograms."""
    runs = lb.runs
    col = f"metrics.{lb.metric}"
    value = pd.to_numeric(runs[col], errors="coerce") if col in runs else pd.Series(math.nan, runs.index)
    where = scoring.key_values(runs, ["suite", "target"])
    card_keys = [k for k in lb.group_by if k != "suite"] or ["solver"]
    groups = scoring.joined(scoring.key_values(runs, card_keys), " / ")
    parts = []
    for suite in sorted(where["suite"].unique()):
        in_suite = where["suite"] == suite
        names = sorted(where.loc[in_suite, "target"].unique())
        shown = names[:max_targets]
        parts.append(f"<h2>Targets of suite {html.escape(suite)}</h2>")
        if len(names) > len(shown):
            parts.append(f'<p class="muted">{len(shown)} of {len(names)} targets shown (max_targets=).</p>')
        for name in shown:
            idx = runs.index[in_suite & (where["target"] == name)]
            target_wav = next((w for r in runs.loc[idx, "run_id"] if (w := cache.get(r, "target.wav"))), None)
            parts.append(f'<div class="target"><h3>{html.escape(name)}</h3>')
            if target_wav is not None:
                parts.append(f"<p>target {audio_tag(target_wav, f'target {name}')}</p>")
            cards = []
            for group in sorted(groups.loc[idx].unique()):
                mine = [i for i in idx if groups.at[i] == group]
                best = min(mine, key=lambda i: (not math.isfinite(value.at[i]), value.at[i]))
                run_id = runs.at[best, "run_id"]
                match = cache.get(run_id, "match.wav")
                spec = cache.get(run_id, "spectrogram.png")
                if spec is None and match is not None and target_wav is not None:
                    spec = drawn_spectrogram(target_wav, match, name)  # logged with artifacts.plots=false
                shown_value = f"{value.at[best]:.4g}" if math.isfinite(value.at[best]) else "-"
                body = [
                    f"<b>{html.escape(group)}</b> <span class='muted'>{html.escape(lb.metric)} "
                    f"{shown_value}, best of {len(mine)} run(s), run {html.escape(run_id[:8])}</span>"
                ]
                body.append(audio_tag(match, f"match {group} {name}") if match else "<p>(no match.wav)</p>")
                if spec:
                    body.append(image_tag(spec, f"spectrograms of target and match, {group}, {name}"))
                cards.append(f'<div class="card">{"".join(body)}</div>')
            parts.append(f'<div class="cards">{"".join(cards)}</div></div>')
    return "".join(parts)


def render_page(lb: leaderboard.Leaderboard, cache: ArtifactCache, max_targets: int, title: str) -> str:
    plots = "".join(
        f"<figure>{image_tag(path.read_bytes(), name)}<figcaption class='muted'>{html.escape(name)}"
        "</figcaption></figure>"
        for name, path in lb.plots.items()
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="icon" href="data:,">'  # no favicon request: the page makes none at all
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="muted">store {html.escape(lb.uri)}, written {stamp}</p>'
        f"<h2>Leaderboard</h2>{board_html(lb)}{wins_html(lb)}"
        f"<h2>Plots</h2>{plots or '<p>(no plots)</p>'}"
        f"{targets_html(lb, cache, max_targets)}"
        "</body></html>\n"
    )


OPTIONS = (
    *[o for o in leaderboard.OPTIONS if o.key != "format"],
    Option("out", text, None, "HTML file (default: <results_dir>/report.html)"),
    Option("max_targets", integer(1), 8, "targets shown per suite"),
    Option("title", text, "soundmatch report", "the page's title"),
)
SUMMARY = (
    "Write one self-contained HTML page: the leaderboard, its plots, and per target the target and match "
    "audio with spectrograms."
)


def report_cli(args: list[str]) -> int:
    values = parse_command(args, OPTIONS, "report", SUMMARY)
    if values is None:
        return 0
    if values["out"]:
        out = Path(values["out"])
        if out.is_dir():
            example = out / "report.html"
            raise UserError(f"report: out={out} is a folder; name the HTML file, e.g. out={example}")
        writable_folder(out.parent, "report: the folder of out")
    else:
        out = writable_folder(values["results_dir"], "results_dir") / "report.html"
    lb = leaderboard.from_options(values)
    with tempfile.TemporaryDirectory(prefix="soundmatch-report-") as tmp:
        if values["plots"]:
            leaderboard.write_plots(lb, Path(tmp) / "plots")
        cache = ArtifactCache(lb.uri, Path(tmp) / "artifacts")
        page = render_page(lb, cache, values["max_targets"], values["title"])
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as err:
        raise UserError(f"report: cannot write out={out} ({err.strerror}); choose another file") from None
    print(f"wrote {out} ({len(page) / 1e6:.1f} MB, {len(lb.runs)} runs)")
    return 0
