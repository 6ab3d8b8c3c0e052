"""The CLI as a user meets it: runs, sweeps, the store, the leaderboard, errors, plugins."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.cli.main import main
from benchmark.report.leaderboard import load_runs
from benchmark.run.tracking import default_uri

FAST = ["synth=fm2", "target.n=2", "budget.renders=40", "duration=0.25", "progress=false"]


def test_run_logs_parent_children_metrics_curve_and_artifacts(cli, workdir):
    proc = cli("run", "solver=random", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert "random on fm2" in proc.stdout and "mlflow.db" in proc.stdout
    runs = load_runs(default_uri(workdir / "results"), "soundmatch")
    assert len(runs) == 2
    row = runs.iloc[0]
    assert row["metrics.renders"] == 40 and row["metrics.lsd"] > 0
    assert row["params.solver.name"] == "random" and row["params.budget.renders"] == "40"
    # what the seconds were measured on, and with which pitch tracker
    assert row["tags.soundmatch.machine.cores"].isdigit()
    assert row["tags.soundmatch.machine.torch"].startswith("2.")
    assert row["tags.soundmatch.backend.pitch"] in ("crepe", "pyin")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(default_uri(workdir / "results"))
    run_id = row["run_id"]
    names = {a.path for a in client.list_artifacts(run_id)}
    assert names == {"target.wav", "match.wav", "params.json", "spectrogram.png"}
    curve = client.get_metric_history(run_id, "anytime_loss")
    assert [m.step for m in curve][-1] == 40
    assert all(a.value >= b.value for a, b in zip(curve, curve[1:], strict=False))
    parent = client.get_run(row["tags.mlflow.parentRunId"])
    assert parent.data.tags["soundmatch.level"] == "invocation" and "mean_lsd" in parent.data.metrics
    params = json.loads(Path(client.download_artifacts(run_id, "params.json", str(workdir))).read_text())
    assert set(params["physical"]) == {
        "ratio",
        "index",
        "gain",
        "attack",
        "decay",
        "sustain",
        "release",
        "index_depth",
    }


def test_runs_without_plots_and_the_report_draws_them_from_the_wavs(main_cli, workdir):
    """``artifacts.plots=false`` (what bench runs) logs no picture; ``report`` draws the one it shows."""
    proc = main_cli("run", "solver=random", *FAST, "artifacts.plots=false")
    assert proc.returncode == 0, proc.stderr
    from mlflow.tracking import MlflowClient

    uri = default_uri(workdir / "results")
    run_id = load_runs(uri, "soundmatch").iloc[0]["run_id"]
    names = {a.path for a in MlflowClient(uri).list_artifacts(run_id)}
    assert names == {"target.wav", "match.wav", "params.json"}
    proc = main_cli("report", "out=page.html")
    assert proc.returncode == 0, proc.stderr
    page = (workdir / "page.html").read_text()
    assert page.count('alt="spectrograms of target and match') == 2 and "data:image/png;base64," in page
    assert main_cli("run", "solver=random", *FAST, "artifacts.plots=maybe").returncode == 2


def _files_under(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_sweep_then_leaderboard(cli, main_cli, workdir):
    proc = cli("run", "-m", "solver=random,cma", *FAST)
    assert proc.returncode == 0, proc.stderr
    # the sweep ends with one table of both jobs, after each job's own
    combined = proc.stdout.split("this sweep: 2 jobs")
    assert len(combined) == 2 and "random" in combined[1] and "cma" in combined[1]
    before = _files_under(workdir)
    board = main_cli("leaderboard", "format=csv")
    assert board.returncode == 0, board.stderr
    # reading is side-effect free: no file written or touched outside the store's own
    after = {k: v for k, v in _files_under(workdir).items() if not k.startswith("results/mlflow.db")}
    assert after == {k: v for k, v in before.items() if not k.startswith("results/mlflow.db")}
    written = main_cli("leaderboard", "out=board", "plots=false")
    assert written.returncode == 0, written.stderr
    files = {p.name for p in (workdir / "board").iterdir()}
    assert files == {"leaderboard.csv", "leaderboard.md", "winrate.csv"}
    assert "wrote leaderboard.csv, leaderboard.md, winrate.csv under board/" in written.stdout
    lines = board.stdout.strip().splitlines()
    assert lines[0].startswith("suite,synth,loss,solver,n,failed,failure_rate,match_distance")
    assert {ln.split(",")[3] for ln in lines[1:]} == {"random", "cma"}
    # FAD is a suite-level metric, logged on each invocation (parent run), shown per group
    header = lines[0].split(",")
    fad = [float(ln.split(",")[header.index("fad")]) for ln in lines[1:]]
    assert all(np.isfinite(fad)) and all(v >= 0 for v in fad), fad
    md = main_cli("leaderboard", "format=markdown")
    assert "| rank | suite |" in md.stdout
    versus = main_cli("leaderboard", "versus=nope")  # a key no run has: said, not an empty matrix
    assert versus.returncode == 2 and "versus='nope': no run has it" in versus.stderr
    typo = main_cli("leaderboard", "metrics=[lsdd]")  # a typo: said, not a silent empty column
    assert typo.returncode == 2 and "no run has metric 'lsdd'" in typo.stderr
    assert "did you mean 'lsd'" in typo.stderr
    # --flags are not options: one line naming the key=value to write
    flag = main_cli("leaderboard", "--group-by", "solver")
    assert flag.returncode == 2 and flag.stdout == ""
    assert flag.stderr.strip() == (
        "error: leaderboard: options are key=value, not --flags: write group_by=VALUE for '--group-by' "
        "(see `python -m benchmark leaderboard --help`)"
    )


def test_a_synth_preset_is_its_own_row_on_the_leaderboard(main_cli, workdir):
    # dx7_flute is a preset of the dx7 synth: runs keep the registry name and the preset chosen
    tiny = ["target.n=1", "budget.renders=4", "duration=0.25", "metrics=[lsd]", "progress=false"]
    for synth in ("dx7", "dx7_flute"):
        proc = main_cli("run", "solver=random", f"synth={synth}", *tiny)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert f"random on {synth}" in proc.stdout
    runs = load_runs(default_uri(workdir / "results"), "soundmatch")
    assert set(runs["tags.soundmatch.synth"]) == {"dx7"}
    assert set(runs["tags.soundmatch.synth_config"]) == {"dx7", "dx7_flute"}
    board = main_cli("leaderboard", "format=csv", "group_by=[synth,solver]", "metrics=[lsd]", "plots=false")
    assert board.returncode == 0, board.stderr
    assert sorted(ln.split(",")[0] for ln in board.stdout.strip().splitlines()[1:]) == ["dx7", "dx7_flute"]


def test_unknown_solver_is_one_line_exit_2_without_traceback(cli):
    proc = cli("run", "solver=nope")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: unknown solver 'nope'; available: ")
    assert "cma" in line and "random" in line
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "synth=nope"], "unknown synth 'nope'; available:"),
        (["run", "loss=nope"], "unknown loss 'nope'; available:"),
        (["run", "target=nope"], "unknown target suite 'nope'; available:"),
        (["run", "-m", "solver=random,nope"], "unknown solver 'nope'"),
        (["run", "solver.no_such_option=3"], "unknown config key 'solver.no_such_option'"),
        (["run", "solver.sigma=0.2"], "unknown config key 'solver.sigma' (did you mean 'solver.sigma0'?)"),
        (["run", "solver=random", "budget.renders=0", "progress=false"], "budget.renders=0 is out of range"),
        (["run", "solver=random", "budget.renders=true"], "budget.renders=true is not a number"),  # not 1
        (["run", "solver=random", "seed=false"], "seed=false is not a number"),
        (["run", "metrics=[lsd,nope]", "progress=false"], "unknown metric 'nope'"),
        (["frobnicate"], "unknown command 'frobnicate'"),
    ],
)
def test_user_errors_in_process(args, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_list_and_empty_leaderboard(main_cli, workdir):
    proc = main_cli("list")
    assert proc.returncode == 0
    for name in ("random", "cma", "fm2", "mss", "l2", "lsd", "param_error", "synthetic"):
        assert name in proc.stdout
    # YAML presets of a registered synth are listed under their config name
    (flute,) = [ln for ln in proc.stdout.splitlines() if ln.split() and ln.split()[0] == "dx7_flute"]
    assert "preset of dx7" in flute
    proc = main_cli("leaderboard")  # no store yet: said in one line, and none is created
    assert proc.returncode == 2 and "no store at" in proc.stderr and "Traceback" not in proc.stderr
    assert not (workdir / "results" / "mlflow.db").exists()


def test_plugin_solver_from_another_package(cli, workdir):
    plugin = workdir / "plugin_pkg"  # a copy: building in place would leave build/ in the source tree
    shutil.copytree(Path(__file__).parent / "fixtures" / "plugin_pkg", plugin)
    site = workdir / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(plugin)]
    subprocess.run(pip, check=True, capture_output=True, timeout=240)
    env = {"PYTHONPATH": str(site)}
    listing = cli("list", env=env)
    assert "centre_then_random" in listing.stdout and "plugin:soundmatch-demo-plugin" in listing.stdout
    proc = cli("run", "solver=centre_then_random", "solver.batch_size=3", *FAST, env=env)
    assert proc.returncode == 0, proc.stderr
    runs = load_runs(default_uri(workdir / "results"), "soundmatch")
    assert set(runs["params.solver.batch_size"]) == {"3"} and (runs["metrics.renders"] == 40).all()


@pytest.mark.parametrize(
    "override, says",
    [
        ("budget.renders=abc", "budget.renders='abc' is not a number"),
        ("seed=-1", "seed=-1 is out of range"),
        ("duration=inf", "duration=inf is out of range"),
        ("sample_rate=7", "sample_rate=7 is out of range"),
        ("note.pitch=200", "note.pitch=200 is out of range"),
        ("budget.renders=1e12", "budget.renders"),
        ("budget.seconds=-1", "budget.seconds=-1 is out of range"),
        ("device=tpu", "device='tpu': choose cpu or cuda"),
        ("tracking.uri=garbage", "is not a URI"),
        ("tracking.uri=http://127.0.0.1:9", "no MLflow server answers at http://127.0.0.1:9"),
        ("+bogus=1", "unknown config key 'bogus'"),
        # the rest of the examples, each a single line too
        ("seed=abc", "seed='abc' is not a number"),
        ("duration=abc", "duration='abc' is not a number"),
        ("solver.sigma0=abc", "solver.sigma0='abc': expected float"),
        ("duration=-1", "duration=-1 is out of range"),
        ("duration=1e6", "is out of range"),
        ("duration=0", "duration=0 is out of range"),
        ("sample_rate=0", "sample_rate=0 is out of range"),
        ("sample_rate=1e7", "is out of range"),
        ("note.pitch=-5", "note.pitch=-5 is out of range"),
        ("note.velocity=0", "note.velocity=0 is out of range"),
        ("note.velocity=300", "note.velocity=300 is out of range"),
        ("loss=combo loss.terms=garbage", "loss.terms='garbage': expected list"),
        ("solver.popsize=inf", "solver.popsize=inf: expected int"),
        ("target.n=99999999999999999999", "target.n=99999999999999999999"),
        ("duration=0.05", "cannot compare 0.05-s clips"),
        ("loss.range_db=-3083", "loss.range_db=-3083"),
        ("metric_options.lsd.range_db=%", "metric_options.lsd.range_db='%': expected float"),
        ("target.synth=${oops}", "bad configuration"),
    ],
)
def test_bad_values_stores_and_keys_are_one_line_and_exit_2(override, says, tmp_path, capsys):
    from benchmark.cli.main import main

    assert main(["run", "synth=fm2", "target.n=1", f"results_dir={tmp_path}", *override.split()]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err


def test_a_store_in_a_missing_folder_is_not_created(tmp_path, capsys):
    from benchmark.cli.main import main

    uri = f"sqlite:///{tmp_path}/no/such/x.db"
    assert main(["run", f"tracking.uri={uri}", "synth=fm2", "target.n=1", f"results_dir={tmp_path}"]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "no").exists()
    assert main(["run", "results_dir=/dev/null/x", "synth=fm2", "target.n=1"]) == 2
    assert "results_dir=/dev/null/x: cannot create it" in capsys.readouterr().err


def test_a_damaged_store_is_one_line_for_every_command(tmp_path, capsys):
    import sqlite3

    from benchmark.cli.main import main

    good = tmp_path / "good.db"
    with sqlite3.connect(good) as db:  # a real database, then cut short: 'disk image is malformed'
        db.execute("create table t (x)")
        db.executemany("insert into t values (?)", [(i * "x",) for i in range(2000)])
    damaged = tmp_path / "cut.db"
    damaged.write_bytes(good.read_bytes()[:5000])
    noise = tmp_path / "noise.db"
    noise.write_bytes(bytes(range(256)) * 4)  # 'file is not a database'
    for store in (damaged, noise):
        uri = f"sqlite:///{store}"
        for args in (
            ["run", f"tracking.uri={uri}", "synth=fm2", "target.n=1", f"results_dir={tmp_path}"],
            ["leaderboard", f"tracking.uri={uri}", f"results_dir={tmp_path}"],
            ["rescore", "metrics=[lsd]", f"tracking.uri={uri}"],
        ):
            assert main(args) == 2, args
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and f"the store {store} is not a readable database" in err[0], err


def test_list_shows_plain_text_not_docstring_markup(capsys):
    from benchmark.cli.listing import plain
    from benchmark.cli.main import main

    assert plain("see :class:`solvers.gradient.GradientSolver` and ``solver=ng``") == (
        "see GradientSolver and solver=ng"
    )
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert ":class:" not in out and "``" not in out and "match_distance" in out


def test_a_render_batch_that_cannot_fit_in_memory_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    from benchmark.cli.main import main
    from benchmark.run import config_check

    monkeypatch.setattr(config_check, "available_memory", lambda: 2**30)  # 1 GiB free
    args = ["run", "synth=fm2", "target.n=1", "solver=random", "solver.batch_size=8"]
    args.append(f"results_dir={tmp_path}")
    # 8 x 60 s x 16 kHz x 400 bytes = 3.1 GB
    assert main([*args, "duration=60"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a batch of 8 renders of 60 s at 16000 Hz needs about 2.9 GiB" in err[0], err
    assert not (tmp_path / "mlflow.db").exists()  # refused before the store was touched


def test_a_read_only_store_is_one_line_for_the_reading_commands(tmp_path, capsys, monkeypatch):
    """SQLite answers 'attempt to write a readonly database' (as on a read-only mount, which tests
    running as root cannot make): the leaderboard says so in one line."""
    import sqlalchemy

    from benchmark.cli.main import main
    from benchmark.report import leaderboard

    def read_only(*args, **kwargs):
        raise sqlalchemy.exc.OperationalError("UPDATE", {}, Exception("attempt to write a readonly database"))

    (tmp_path / "mlflow.db").write_bytes(b"")
    monkeypatch.setattr(leaderboard, "load_runs", read_only)
    assert main(["leaderboard", f"results_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the store is read-only" in err[0], err
