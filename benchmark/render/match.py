"""The ``render run_id=`` mode: re-render a logged implicit FM match, stretched, upsampled, detuned.

    python -m benchmark render run_id=RUN sample_rate=48000 stretch=2.0 detune=0.005 out=FILE.wav

``RUN`` is a target's (child) run whose synth is ``implicit_fm``; its artifact
``implicit_fm.pt`` holds the net's weights. The net's envelopes run on normalised
time and its oscillators in Hz, so the render lasts ``stretch`` times the run's
duration at any ``sample_rate`` with the pitch kept; ``detune`` d plays every
frequency times (1 + d) on the left channel and divided by it on the right.
The WAV is stereo.
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
import torch

from benchmark.options import Option, integer, number, store_options, text
from benchmark.render.mode import Rendered
from soundmatch.errors import UserError
from synths.implicit_fm import ImplicitFM

ARTIFACT = "implicit_fm.pt"

RUN_OPTIONS = (
    Option("run_id", text, help="MLflow run id of one target's match with synth=implicit_fm"),
    Option("sample_rate", integer(1000, 384000), None, "Hz; default: the run's rate"),
    Option("stretch", number(above=0.0, high=1000.0), 1.0, "duration factor (pitch is kept)"),
    Option("detune", number(0.0, 0.5), 0.0, "stereo detune d: f(1+d) left, f/(1+d) right"),
    *store_options("the store to read when tracking.uri is not given")[:2],
)


def load_match(run_id: str, tracking_uri: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``implicit_fm.pt`` state and the params of run ``run_id``."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from benchmark.run.tracking import quiet_mlflow

    quiet_mlflow()
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise UserError(f"render: no run '{run_id}' in {tracking_uri}; copy a target's run id") from None
    if run.data.tags.get("soundmatch.level") == "invocation":  # `run` prints the parent's id
        children = client.search_runs(
            [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run_id}'", max_results=6
        )
        named = ", ".join(
            f"{c.info.run_id} ({c.data.tags.get('soundmatch.target', '?')})" for c in children[:5]
        )
        raise UserError(
            f"render: run {run_id} is a run's parent; give one of its target runs: {named or 'none finished'}"
        )
    synth = run.data.params.get("synth.name")
    if synth != "implicit_fm":
        raise UserError(f"render: run {run_id} used synth '{synth}'; run_id= re-renders implicit_fm matches")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, ARTIFACT, tmp)
        except (MlflowException, OSError):
            raise UserError(
                f"render: run {run_id} has no {ARTIFACT}; pick a target's run, not the invocation's"
            ) from None
        state = torch.load(path, map_location="cpu", weights_only=True)
    return state, dict(run.data.params)


def render_match(values: dict[str, Any]) -> Rendered:
    """Stereo audio ``[T, 2]`` of a logged implicit FM match (see the module docstring)."""
    from benchmark.run.tracking import resolve_uri

    uri = resolve_uri(values["tracking.uri"], values["results_dir"])
    state, params = load_match(values["run_id"], uri)
    synth = ImplicitFM(**state["options"])
    sample_rate = values["sample_rate"] or int(params["sample_rate"])
    duration = float(params["duration"]) * values["stretch"]
    with torch.no_grad():
        audio = synth.render_stereo(
            state["unit"][None], sample_rate=sample_rate, duration=duration, detune=values["detune"]
        )[0]
    description = (
        f"implicit_fm match of run {values['run_id']}, stretch {values['stretch']}, detune {values['detune']}"
    )
    return Rendered(np.ascontiguousarray(audio.T.numpy()), sample_rate, description)
