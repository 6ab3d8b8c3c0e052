"""The ``match`` command: a sound designer's path from a recording to a patch.

    python -m benchmark match FILE_OR_FOLDER [synth=dx7] [out=DIR] [run overrides ...]

Each recording (one file, or every audio file under a folder, read as the
``folder`` suite reads them: notes from a notes table or the file names, else
estimated) is matched by the best solver for the synth (the first of
:data:`PREFERRED_SOLVERS` that takes it: ``fm_match`` for the FM family), with
:data:`DEFAULT_RENDERS` renders and the loss :data:`DEFAULT_LOSS` unless
``budget.renders=`` or ``loss=`` say otherwise; the plain ``dx7`` may use any
algorithm (``synth.algorithm=null``), and the DX7 family renders at twice the
run's rate (``synth.oversample=2``) so its patch plays in Dexed at 48 kHz as it
did in the search. It is an ordinary ``run`` (logged to the store, resumed
when already done; any ``run`` override applies), and then ``out`` (default
``<results_dir>/match/<name>``, ``<name>-<synth>`` for a synth or preset other than dx7) receives
per recording:

- ``<name>.syx`` (the DX7 family: one voice, loads in Dexed or a DX7) or
  ``<name>.preset.json`` (other synths: every parameter in its own units);
- ``<name>.match.wav`` and ``<name>.target.wav``;
- ``<name>.png``: both spectrograms and both level envelopes;

and one ``index.html`` with both players per recording, the distances and what
was measured (note, f0, envelope times). The same is printed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from benchmark.paths import writable_folder
from benchmark.run.audio import AUDIO_SUFFIXES
from soundmatch.errors import UserError

PREFERRED_SOLVERS = ("fm_match", "cma")  # the first whose check_synth takes the synth
DEFAULT_RENDERS = 300  # about 2.5 s per 1 s note with fm_match on this 2-core machine
DEFAULT_LOSS = "timbre"  # what match_distance scores, less its pitch term (which fm_match tunes)
DX7_OVERSAMPLE = 2
SHOWN_METRICS = ("match_distance", "timbre_distance", "pitch_error_cents", "loudness_envelope_error", "lsd")
USAGE = f"""usage: python -m benchmark match FILE_OR_FOLDER [synth=dx7] [out=DIR] [key=value ...]

Match a recording (or every recording under a folder) with a synth and write the patch
(.syx for the DX7 family, a readable .preset.json otherwise), the match as audio, a picture
of both spectrograms and envelopes, and an HTML page with both players. Notes are read from
a notes table (notes.csv: file,note[,velocity]) or the file names (flute_C#5.wav), else
estimated. Any `run` key applies (budget.renders, solver, duration, sample_rate, ...).

  out=DIR            where the files go (default: <results_dir>/match/<name>, or <name>-<synth>)
  synth=NAME         default dx7 (with synth.algorithm=null: fm_match picks the algorithm, and
                     synth.oversample=2 for the DX7 family: no folded sidebands);
                     solver default: the best one for the synth (fm_match for FM)
  budget.renders=N   default {DEFAULT_RENDERS}
  loss=NAME          default {DEFAULT_LOSS} (the default metric's level and timbre terms)
  results_dir=DIR    the store and artifacts, as for run (default results)
  tracking.uri=URI   another MLflow store; tracking.experiment default: match
"""


@dataclass
class Matched:
    """One recording's match as written to ``out``: its files, figures and what was measured."""

    name: str
    files: dict[str, str]
    metrics: dict[str, float]
    measured: dict[str, Any] = field(default_factory=dict)


def best_solver(synth_node: Any) -> str:
    """The first of :data:`PREFERRED_SOLVERS` that takes the synth ``synth_node`` (a config)."""
    from benchmark.run.spec import build, without_auto_hold
    from solvers.base import solver_registry
    from synths.base import synth_registry

    synth = build(synth_registry, without_auto_hold(synth_node))
    for name in PREFERRED_SOLVERS:
        solver = solver_registry.create(name)
        check = getattr(solver, "check_synth", None)
        try:
            if check is not None:
                check(synth)
        except UserError:
            continue
        return name
    return PREFERRED_SOLVERS[-1]


def _quoted(value: str) -> str:
    """A path as a Hydra override value (quoted: spaces, commas and brackets are its syntax)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def synth_choice(args: list[str]) -> str:
    """The synth config ``args`` name (``synth=dx7_flute``: a preset's name; the last one wins), dx7
    when they name none."""
    return next((a.split("=", 1)[1] for a in reversed(args) if a.split("=", 1)[0] == "synth"), "dx7")


def overrides_for(source: Path, given: list[str], searchpath: str) -> list[str]:
    """The run's overrides: the folder suite on ``source``, the match's defaults, then ``given``
    (which win); the solver is the best one for the synth unless ``given`` names one."""
    from benchmark.run.app import check_overrides, compose_check
    from synths.base import synth_registry
    from synths.dx7.family import is_dx7_family

    keys = {o.split("=", 1)[0].lstrip("+~") for o in given}
    base = ["target=folder", f"target.path={_quoted(str(source))}"]
    base += [] if "synth" in keys else ["synth=dx7"]
    base += [] if "budget.renders" in keys else [f"budget.renders={DEFAULT_RENDERS}"]
    base += [] if "loss" in keys else [f"loss={DEFAULT_LOSS}"]
    # the run's own spectrogram picture: match draws its own, with both envelopes
    base += [] if "artifacts.plots" in keys else ["artifacts.plots=false"]
    base += [] if "metrics" in keys else [f"metrics=[{','.join(SHOWN_METRICS)}]"]
    base += [] if "tracking.experiment" in keys else ["tracking.experiment=match"]
    cfg = compose_check(check_overrides([*base, *given]), searchpath)
    synth = str(cfg.synth.name)
    if synth_choice(given) == "dx7" and "synth.algorithm" not in keys:  # any algorithm: 32 for bells and bars
        base.append("synth.algorithm=null")
    if is_dx7_family(synth_registry.get(synth)) and "synth.oversample" not in keys:
        # match at a rate where sidebands do not fold back, so the patch sounds in Dexed at 48 kHz
        # as it did in the search (folded sidebands at 16 kHz made 15 of 77 matches 3-21 dB worse there)
        base.append(f"synth.oversample={DX7_OVERSAMPLE}")
    if "solver" not in keys:
        base.append(f"solver={best_solver(cfg.synth)}")
    return [*base, *given]


def _searchpath() -> str:
    """Hydra's search path with generated configs for plugins (as ``run`` composes)."""
    from benchmark.run.app import write_plugin_configs

    root = Path(tempfile.mkdtemp(prefix="soundmatch-conf-"))
    return f"hydra.searchpath=[file://{write_plugin_configs(root)}]"


def measured(audio: np.ndarray, sample_rate: int, tags: dict[str, str]) -> dict[str, Any]:
    """What was read from the recording (``audio [T]`` as the run saw it): the note played and where
    it came from, the f0, the envelope's times (s) and peak level (dB re full scale)."""
    from analysis.target import analyse

    analysis = analyse(np.asarray(audio).reshape(-1), sample_rate)
    env = analysis.envelope
    info: dict[str, Any] = {
        "note": tags.get("soundmatch.target.pitch"),
        "note_from": tags.get("soundmatch.target.pitch_source"),
        "f0_hz": None if analysis.f0_hz is None else round(analysis.f0_hz, 2),
        "f0_midi": None if analysis.midi is None else round(analysis.midi, 3),
        "attack_s": round(env.attack, 3),
        "decay_s": round(env.decay, 3),
        "release_s": None if env.release is None else round(env.release, 3),
        "sustains": env.sustains,
        "peak_db": round(env.peak_db, 1),
    }
    return info


def collect(runs: dict[str, Any], uri: str, out: Path) -> list[Matched]:
    """Each target run's artifacts (``runs``: target name -> finished MLflow run) into ``out``,
    named by recording, with the picture of both spectrograms and envelopes."""
    from benchmark.run.artifacts import spectrogram_comparison
    from benchmark.run.tracking import mlflow_client, with_retry

    client = mlflow_client(uri)
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for name, run in sorted(runs.items()):
        files: dict[str, str] = {}
        with tempfile.TemporaryDirectory() as tmp:
            run_id = run.info.run_id
            fetch = lambda run_id=run_id, tmp=tmp: client.download_artifacts(run_id, "", tmp)  # noqa: E731
            local = Path(with_retry(fetch))
            for artifact in ("target.wav", "match.wav", "match.syx"):
                written = f"{name}.syx" if artifact == "match.syx" else f"{name}.{artifact}"
                if (local / artifact).exists():
                    shutil.copyfile(local / artifact, out / written)
                    files[artifact] = written
            params = local / "params.json"
            if "match.syx" not in files and params.exists():
                record = json.loads(params.read_text())
                preset = {k: record.get(k) for k in ("synth", "note")} | {"parameters": record["physical"]}
                (out / f"{name}.preset.json").write_text(json.dumps(preset, indent=2, default=float))
                files["preset"] = f"{name}.preset.json"
        info: dict[str, Any] = {}
        if "target.wav" in files and "match.wav" in files:
            t, sr = sf.read(str(out / files["target.wav"]), dtype="float32")
            m, _ = sf.read(str(out / files["match.wav"]), dtype="float32")
            spectrogram_comparison(out / f"{name}.png", t, m, sr, title=name, envelopes=True)
            files["figure"] = f"{name}.png"
            info = measured(t, sr, run.data.tags)
        shown = {k: float(v) for k, v in run.data.metrics.items() if k in (*SHOWN_METRICS, "dexed_lsd")}
        done.append(Matched(name, files, shown, info))
    return done


def describe(m: Matched) -> str:
    """One recording's lines for the terminal."""
    info = m.measured
    note = f"note {info.get('note')} ({info.get('note_from')})" if info.get("note") else "note: the run's"
    f0 = "unpitched" if info.get("f0_hz") is None else f"f0 {info['f0_hz']} Hz (MIDI {info['f0_midi']})"
    release = "sustains" if info.get("sustains") else f"release {info.get('release_s')} s"
    env = f"attack {info.get('attack_s')} s, decay {info.get('decay_s')} s, {release}" if info else ""
    figures = ", ".join(f"{k} {v:.3g}" for k, v in m.metrics.items())
    patch = m.files.get("match.syx") or m.files.get("preset", "-")
    return f"{m.name}: {note}; {f0}; {env}\n  {figures}\n  patch: {patch}"


def match_cli(args: list[str]) -> int:
    """``python -m benchmark match FILE_OR_FOLDER [key=value ...]``."""
    from benchmark.match.page import write_page
    from benchmark.run.app import run_cli
    from benchmark.run.identity import config_hash
    from benchmark.run.tracking import Tracker, resolve_uri

    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    source = Path(args[0]).expanduser()
    if "=" in args[0] and not source.exists():
        raise UserError(f"match: the first argument is the recording (a file or folder), got '{args[0]}'")
    if not source.exists():
        raise UserError(f"match: {source} does not exist; name an audio file or a folder of them")
    if source.is_file() and source.suffix.lower() not in AUDIO_SUFFIXES:
        raise UserError(f"match: {source} is not an audio file ({', '.join(AUDIO_SUFFIXES)})")
    rest = list(args[1:])
    if any(a in ("-m", "--multirun") for a in rest):
        raise UserError("match runs one configuration; use `run -m` for sweeps")
    out_args = [a.split("=", 1)[1] for a in rest if a.startswith("out=")]
    if out_args:  # before the run: a place the files cannot go should not cost a search
        writable_folder(out_args[-1], "out")
    overrides = overrides_for(source.resolve(), [a for a in rest if not a.startswith("out=")], _searchpath())
    configs: list[Any] = []
    try:  # an ordinary run: logged, resumable, its table printed
        code = run_cli(overrides, composed=configs.append)
    except SystemExit as stop:  # a job's user error ends with SystemExit(2), already printed
        return stop.code if isinstance(stop.code, int) else 1
    (cfg,) = configs
    uri = resolve_uri(cfg.tracking.uri, cfg.results_dir)
    runs = Tracker(uri, str(cfg.tracking.experiment)).finished_targets(config_hash(cfg))
    if not runs:
        return code or 1
    # another synth's (or a preset's) match of the same recordings goes beside it, not over it
    chosen = synth_choice(rest)
    default = source.stem if chosen == "dx7" else f"{source.stem}-{chosen}"
    out = Path(out_args[-1]).expanduser() if out_args else Path(str(cfg.results_dir)) / "match" / default
    matched = collect(runs, uri, out)
    page = write_page(out, matched, title=f"soundmatch: {source.name} on {cfg.synth.name}")
    for m in matched:
        print(describe(m))
    print(f"written to {out}; open {page}")
    return code
