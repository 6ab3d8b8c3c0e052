"""The sweep a user runs: 3 solvers x 2 losses x 2 seeds on 4 joblib workers, Ctrl-C half way,
run again; then the leaderboard and the HTML report, which is opened in headless Chromium.

One sqlite store is written by 4 worker processes at once: every one of its 48 runs
(12 per-job parents, 36 per-target children) is counted back.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chromium import AUDIO_STATE_JS, IMAGES_JS, SKIP_REASON, Browser, find_or_install, page_url
from sweep_support import finished_target_keys, run_cli, status_counts

from benchmark.report.html import report_cli
from benchmark.report.leaderboard import leaderboard_cli

pytestmark = pytest.mark.slow  # end to end: sweeps in subprocesses

SWEEP = [
    "run",
    "-m",
    "solver=random,cma,ga",
    "loss=mss,l2",
    "seed=0,1",
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=4",
    "target.n=3",
    "budget.renders=200",  # long enough that some job has a run open when Ctrl-C comes
    "duration=0.2",
    "sample_rate=8000",
    "metrics=[lsd]",
    "progress=false",
]
JOBS, TARGETS = 12, 3


def cli(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_cli(workdir, *args, timeout=timeout)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The sweep, interrupted with SIGINT (Ctrl-C) once 3 jobs finished, then run again."""
    work = tmp_path_factory.mktemp("sweep")
    # no store yet: the 4 workers open it at once, and MLflow's schema migrations must not race
    # (without the store's file lock 7 of 8 such workers failed with "duplicate column name")
    db = work / "results" / "mlflow.db"
    first = subprocess.Popen(
        [sys.executable, "-m", "benchmark", *SWEEP],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's Ctrl-C reaches it
        # a foreground program gets SIGINT as KeyboardInterrupt even where this test runs in a
        # background job (which ignores SIGINT, and Python then keeps ignoring it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 400
    def mid_sweep() -> bool:  # some jobs finished and one is running: Ctrl-C has a run to end KILLED
        counts = status_counts(db)
        finished = counts.get(("invocation", "FINISHED"), 0)
        return finished >= 3 and counts.get(("invocation", "RUNNING"), 0) >= 1

    while not mid_sweep() and first.poll() is None:
        assert time.monotonic() < deadline, "the sweep finished no job in time"
        time.sleep(0.1)
    at_interrupt = status_counts(db)
    os.killpg(first.pid, signal.SIGINT)
    out1, _ = first.communicate(timeout=120)
    after_interrupt = status_counts(db)
    keys_before = finished_target_keys(db)
    second = cli(work, *SWEEP)
    return work, at_interrupt, after_interrupt, first.returncode, out1, keys_before, second


def test_interrupted_sweep_resumes_to_exactly_twelve_finished_runs(swept):
    work, at_interrupt, after, rc1, out1, keys_before, second = swept
    assert at_interrupt.get(("invocation", "FINISHED"), 0) < JOBS, "the sweep ended before Ctrl-C"
    assert rc1 != 0, out1[-2000:]
    # Ctrl-C ends the runs in progress KILLED (those of workers killed mid-run too) and keeps
    # every finished one
    assert after.get(("invocation", "KILLED"), 0) >= 1, after
    assert ("invocation", "RUNNING") not in after and ("target", "RUNNING") not in after, after
    assert after.get(("invocation", "FINISHED"), 0) >= at_interrupt[("invocation", "FINISHED")]
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    done_before = after[("invocation", "FINISHED")]
    skipped = [ln for ln in second.stdout.splitlines() if ln.startswith("skipped ")]
    assert len(skipped) == done_before, second.stdout[-3000:]
    db = work / "results" / "mlflow.db"
    final = status_counts(db)
    assert final[("invocation", "FINISHED")] == JOBS
    assert ("invocation", "RUNNING") not in final and ("target", "RUNNING") not in final
    keys = finished_target_keys(db)
    # 4 workers wrote one store: nothing lost, nothing doubled, earlier results kept as they were
    assert len(keys) == len(set(keys)) == JOBS * TARGETS
    assert set(keys_before) <= set(keys)
    assert sum(final.values()) >= JOBS + JOBS * TARGETS


@pytest.fixture(scope="module")
def report(swept):
    """The leaderboard (CSV) and the report of the sweep's store, as the commands write them."""
    work = swept[0]
    results = str(work / "results")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert leaderboard_cli(["format=csv", f"results_dir={results}", f"out={results}"]) == 0
        assert report_cli(["max_targets=2", f"results_dir={results}"]) == 0
    return work, buffer.getvalue().split("wrote ")[0], work / "results" / "report.html"


def test_leaderboard_and_report_present_the_sweep(report):
    work, csv, html = report
    lines = csv.strip().splitlines()
    head = lines[0].split(",")
    assert head[:8] == ["suite", "synth", "loss", "solver", "n", "failed", "failure_rate", "match_distance"]
    assert "lsd" in head
    rows = [dict(zip(head, ln.split(","), strict=True)) for ln in lines[1:]]
    assert {(r["loss"], r["solver"]) for r in rows} == {
        (x, s) for x in ("mss", "l2") for s in ("random", "cma", "ga")
    }
    assert all(r["n"] == str(2 * TARGETS) for r in rows)  # 2 seeds x 3 targets, no duplicates
    random_rows = [r for r in rows if r["solver"] == "random"]
    assert all(0.3 < float(r["score"]) < 3 for r in random_rows)  # random against its own seed mean
    page = html.read_text()
    assert page.count("<audio") == 2 * (1 + 6)  # 2 targets: the target and 6 groups' matches
    assert "data:audio/wav;base64," in page and 'src="http' not in page
    plots = {p.name for p in (work / "results" / "plots").glob("*.png")}
    assert {"scores.png", "fight.png"} <= plots and sum(p.startswith("anytime-") for p in plots) == 2
    assert sum(p.startswith("ecdf-") for p in plots) == 1
    # the anytime data for IOHanalyzer: per solver one .info per task (2 losses), 12 runs each
    infos = sorted((work / "results" / "iohprofiler").glob("*/*.info"))
    assert len(infos) == 3 * 2
    assert all(len(f.read_text().splitlines()[2].split(", ")) == 1 + 2 * TARGETS for f in infos)
    assert page.count("data:image/png;base64,") == len(plots) + 2 * 6  # plots + spectrograms


def test_report_opens_in_chromium_with_working_audio(report, tmp_path):
    exe = find_or_install()
    if exe is None:
        pytest.skip(SKIP_REASON)
    html = report[2]
    broken = tmp_path / "broken.html"  # the detector itself must see errors
    broken.write_text(
        '<audio controls src="data:audio/wav;base64,AAAA"></audio><script>console.error("x")</script>'
    )
    browser = Browser(exe)
    try:
        page = browser.open(page_url(html))
        audios = browser.evaluate(page, AUDIO_STATE_JS)
        images = browser.evaluate(page, IMAGES_JS)
        errors = browser.errors(page)
        bad = browser.open(page_url(broken))
        bad_audio = browser.evaluate(bad, AUDIO_STATE_JS)
        bad_errors = browser.errors(bad)
    finally:
        browser.close()
    assert len(audios) == 14
    for a in audios:
        assert a["src"].startswith("data:audio/wav") and a["error"] is None and a["ready"] >= 1, a
        assert a["duration"] == pytest.approx(0.2, abs=1e-3)
    assert images and all(i["ok"] for i in images), images
    assert errors == []
    assert bad_audio[0]["error"] is not None and bad_errors


def test_the_resume_key_holds_the_code_version_but_not_the_metrics(monkeypatch):
    from hydra import compose, initialize_config_dir

    from benchmark.run import identity
    from benchmark.run.app import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        base = compose("config", overrides=["synth=fm2"])
        more_metrics = compose("config", overrides=["synth=fm2", "metrics=[lsd,mss]"])
        other_budget = compose("config", overrides=["synth=fm2", "budget.renders=10"])
    assert identity.config_hash(base) == identity.config_hash(more_metrics)
    assert identity.config_hash(base) != identity.config_hash(other_budget)
    before = identity.config_hash(base)
    monkeypatch.setattr(identity, "code_version", lambda: "another-commit")
    assert identity.config_hash(base) != before
