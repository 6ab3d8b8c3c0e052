"""``rescore``: metrics added to finished runs from their logged audio, without solving again."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
import soundfile as sf

from benchmark.run.artifacts import clipped_at_full_scale, write_wav

RUN = [
    "run",
    "solver=random",
    "synth=fm2",
    "target.n=2",
    "budget.renders=4",
    "duration=0.25",
    "sample_rate=8000",
    "metrics=[lsd]",
    "progress=false",
]


def target_runs(workdir):
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{workdir / 'results' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("soundmatch")
    runs = client.search_runs([exp.experiment_id], "tags.`soundmatch.level` = 'target'")
    parents = client.search_runs([exp.experiment_id], "tags.`soundmatch.level` = 'invocation'")
    return runs, parents


def test_rescore_fills_in_a_new_metric_and_matches_the_run_s_own_values(main_cli, workdir):
    assert main_cli(*RUN).returncode == 0
    before, _ = target_runs(workdir)
    assert len(before) == 2 and all("mfcc_dist" not in r.data.metrics for r in before)
    logged_lsd = {r.info.run_id: r.data.metrics["lsd"] for r in before}

    # adding a metric to the same config does not solve again ...
    again = main_cli(*RUN[:-2], "metrics=[lsd,mfcc_dist]", "progress=false")
    assert again.returncode == 0 and "already finished" in again.stdout
    # ... rescore fills it in, and its parent's mean
    out = main_cli("rescore", "metrics=[mfcc_dist,lsd]")
    assert out.returncode == 0, out.stderr
    assert "rescored 2 run(s)" in out.stdout
    after, parents = target_runs(workdir)
    assert all(r.data.metrics["mfcc_dist"] > 0 for r in after)
    assert all(r.data.metrics["lsd"] == logged_lsd[r.info.run_id] for r in after)  # kept: not forced
    means = [p.data.metrics.get("mean_mfcc_dist") for p in parents]
    assert means[0] == pytest.approx(sum(r.data.metrics["mfcc_dist"] for r in after) / 2)

    # nothing left to add: nothing done; force recomputes from the 24-bit audio, same values
    assert "rescored 0 run(s)" in main_cli("rescore", "metrics=[mfcc_dist]").stdout
    assert main_cli("rescore", "metrics=[lsd]", "force=true").returncode == 0
    forced, _ = target_runs(workdir)
    for r in forced:
        assert r.data.metrics["lsd"] == pytest.approx(logged_lsd[r.info.run_id], abs=0.02)

    # a run whose audio an older writer clipped at full scale is named: its values score the clip
    clipped_run = forced[1]
    wav = Path(clipped_run.info.artifact_uri.removeprefix("file://")) / "match.wav"
    loud, rate = sf.read(str(wav), dtype="float32")
    sf.write(str(wav), np.clip(loud * 1000.0, -1.0, 1.0), rate, "PCM_24")
    out = main_cli("rescore", "metrics=[lsd]", "force=true")
    assert out.returncode == 0, out.stderr
    assert "note: 1 rescored run(s) hold audio at full scale" in out.stdout, out.stdout
    assert clipped_run.info.run_id[:8] in out.stdout

    # runs say which version of a metric's definition scored them; an older one is rescored unasked
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{workdir / 'results' / 'mlflow.db'}")
    assert all(r.data.tags["soundmatch.metric_version.lsd"] == "1" for r in forced)
    old = forced[0].info.run_id
    client.set_tag(old, "soundmatch.metric_version.lsd", "0")
    client.log_metric(old, "lsd", 999.0)
    out = main_cli("rescore", "metrics=[lsd]")
    assert out.returncode == 0 and "rescored 1 run(s)" in out.stdout, out.stdout
    (renewed,) = [r for r in target_runs(workdir)[0] if r.info.run_id == old]
    assert renewed.data.metrics["lsd"] == pytest.approx(logged_lsd[old], abs=0.02)
    assert renewed.data.tags["soundmatch.metric_version.lsd"] == "1"
    # an option that only the older definition took (as match_distance v1's range_db) is dropped
    client.log_param(old, "metric_options.lsd.retired_option", "3")
    client.set_tag(old, "soundmatch.metric_version.lsd", "0")
    out = main_cli("rescore", "metrics=[lsd]")
    assert out.returncode == 0 and "rescored 1 run(s)" in out.stdout, out.stdout + out.stderr

    # a user's mistakes: one line each, exit 2, and no empty store made for a wrong path
    missing = main_cli("rescore", "metrics=[lsd]", f"tracking.uri=sqlite:///{workdir / 'nope.db'}")
    assert missing.returncode == 2 and "no store at" in missing.stderr and "Traceback" not in missing.stderr
    assert not (workdir / "nope.db").exists()
    bad = main_cli("rescore", "metrics=[no_such_metric]")
    assert bad.returncode == 2 and "no_such_metric" in bad.stderr
    suite_level = main_cli("rescore", "metrics=[fad]")
    assert suite_level.returncode == 2 and "suite-level" in suite_level.stderr


def test_audio_past_full_scale_is_written_as_float_and_read_back_as_scored(tmp_path):
    """Artifacts within full scale are 24-bit PCM; louder ones 32-bit float, not clipped, so that
    ``rescore`` scores what the run scored."""
    t = np.arange(8000) / 8000.0
    quiet, loud = 0.5 * np.sin(2 * np.pi * 220 * t), 2.5 * np.sin(2 * np.pi * 220 * t)
    write_wav(tmp_path / "quiet.wav", quiet, 8000)
    write_wav(tmp_path / "loud.wav", loud, 8000)
    assert sf.info(str(tmp_path / "quiet.wav")).subtype == "PCM_24"
    assert sf.info(str(tmp_path / "loud.wav")).subtype == "FLOAT"
    back, _ = sf.read(str(tmp_path / "loud.wav"), dtype="float32")
    assert np.array_equal(back, loud.astype(np.float32))
    assert np.abs(sf.read(str(tmp_path / "quiet.wav"))[0] - quiet).max() < 2.0**-22
    assert not any(clipped_at_full_scale(tmp_path / f"{name}.wav") for name in ("loud", "quiet"))
    sf.write(str(tmp_path / "clipped.wav"), np.clip(loud, -1, 1), 8000, "PCM_24")
    assert clipped_at_full_scale(tmp_path / "clipped.wav")
