"""The ``match`` command's page: per recording, the target and the match as players, the picture,
the distances and what was measured. It links the files beside it (the page and its folder
travel together), needs no script and no network."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 960px; color: #222; }
h1 { font-size: 1.4em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-top: 2px solid #999; padding-top: .5em; }
.players { display: flex; gap: 16px; } .players div { flex: 1; } audio { width: 100%; }
img { max-width: 100%; border: 1px solid #ddd; } table { border-collapse: collapse; font-size: .9em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; } .muted { color: #666; }
"""
UNITS = {
    "match_distance": "dB", "timbre_distance": "dB", "pitch_error_cents": "cents",
    "loudness_envelope_error": "dB", "lsd": "dB", "dexed_lsd": "dB (Dexed vs ours)",
}  # fmt: skip


def _rows(values: dict[str, Any], units: dict[str, str]) -> str:
    cells = []
    for key, value in values.items():
        shown = f"{value:.3g}" if isinstance(value, float) else html.escape(str(value))
        unit = html.escape(units.get(key, ""))
        cells.append(f"<tr><th>{html.escape(key)}</th><td>{shown} {unit}</td></tr>")
    return "".join(cells)


def _player(label: str, file: str | None) -> str:
    if file is None:
        return f"<div><p>{label}</p><p class='muted'>(none)</p></div>"
    src = html.escape(file, quote=True)
    return f'<div><p>{label}</p><audio controls preload="metadata" src="{src}"></audio></div>'


def section(m: Any) -> str:
    """One recording's part of the page."""
    files = m.files
    patch = files.get("match.syx") or files.get("preset")
    link = ""
    if patch:
        link = f'<p>patch: <a href="{html.escape(patch, quote=True)}">{html.escape(patch)}</a></p>'
    figure = files.get("figure")
    image = f'<img alt="{html.escape(m.name)}" src="{html.escape(figure, quote=True)}">' if figure else ""
    measured_units = {"f0_hz": "Hz", "attack_s": "s", "decay_s": "s", "release_s": "s", "peak_db": "dBFS"}
    return (
        f"<h2>{html.escape(m.name)}</h2>"
        f"<div class='players'>{_player('target', files.get('target.wav'))}"
        f"{_player('match', files.get('match.wav'))}</div>{link}"
        f"<table><tr><th colspan=2>distances</th></tr>{_rows(m.metrics, UNITS)}"
        f"<tr><th colspan=2>measured in the recording</th></tr>{_rows(m.measured, measured_units)}</table>"
        f"<figure>{image}</figure>"
    )


def write_page(out: Path, matched: list[Any], title: str) -> Path:
    """``out/index.html`` for the recordings in ``matched``; returns its path."""
    body = "".join(section(m) for m in matched)
    page = out / "index.html"
    page.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return page
