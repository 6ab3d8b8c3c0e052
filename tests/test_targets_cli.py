"""End to end through the CLI: a folder of mixed files with bad ones, every metric, FAD on the parent run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

METRICS = (
    "metrics=[lsd,mfcc_dist,spectral_centroid_error,loudness_envelope_error,fad]"  # pitch: in-process tests
)


def test_folder_run_skips_bad_files_and_logs_every_metric(cli, workdir: Path) -> None:
    sounds = workdir / "sounds"
    (sounds / "sub").mkdir(parents=True)
    t = np.arange(22050) / 22050
    sf.write(sounds / "tone.wav", 0.3 * np.sin(2 * np.pi * 330 * t), 22050)
    stereo = 0.3 * np.sin(2 * np.pi * 220 * np.arange(48000) / 48000)
    sf.write(sounds / "sub" / "stereo.flac", np.stack([stereo, stereo], 1), 48000)
    sf.write(sounds / "silent.wav", np.zeros(16000), 16000)
    (sounds / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(40))
    args = ["target=folder", f"target.path={sounds}", "target.pitch=config", "solver=random", "synth=fm2"]
    out = cli("run", *args, "budget.renders=4", "duration=0.5", METRICS, "progress=false")
    assert out.returncode == 0, out.stderr
    assert "skipped" in out.stderr and "corrupt.wav" in out.stderr and "silent.wav" in out.stderr
    assert "2 of 4 files skipped" in out.stderr and "fad" in out.stdout

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir / 'results' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("soundmatch").experiment_id])
    parent = next(r for r in runs if r.data.tags.get("soundmatch.level") == "invocation")
    children = [r for r in runs if r.data.tags.get("soundmatch.level") == "target"]
    assert parent.data.tags["soundmatch.skipped_files"] == "2"
    assert "corrupt.wav" in parent.data.tags["soundmatch.skipped"]
    assert parent.data.metrics["fad"] >= 0 and parent.data.metrics["suite_metric_targets"] == 2
    assert sorted(r.data.tags["soundmatch.target"] for r in children) == ["sub__stereo", "tone"]
    for child in children:
        for name in ("lsd", "mfcc_dist", "spectral_centroid_error", "loudness_envelope_error"):
            assert name in child.data.metrics, name
