"""The standard benchmark: a fixed, hashed suite; ``bench v1 --quick`` end to end as CI runs it;
the same scores on a second run; a resume that runs nothing again; a plugin solver benchmarked
without touching the repository."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sweep_support import fresh_store, run_cli

from benchmark.bench.suite import SUITES_DIR, content_hash, load_suite
from benchmark.cli.main import main
from benchmark.report.leaderboard import load_runs
from benchmark.run.tracking import default_uri
from soundmatch.errors import UserError

TASKS = ["fm2", "dx7_flute", "dx7", "moog_fm", "gm_notes_dx7"]
METRIC_COLUMNS = ["match_distance", "lsd", "renders"]


def test_v1_2_is_fixed_by_its_hash_and_quick_shrinks_it():
    suite = load_suite("v1.3")
    assert [t.name for t in suite.tasks] == TASKS
    body = yaml.safe_load((SUITES_DIR / "v1.3.yaml").read_text())
    assert suite.label == f"v1.3@{body['hash']}" == f"v1.3@{content_hash(body)}"
    assert {t.renders for t in suite.tasks} == {1000} and suite.metric == "match_distance"
    gm = next(t for t in suite.tasks if t.name == "gm_notes_dx7")
    assert gm.groups == {"synth": "dx7", "target": "gm_notes", "loss": "spectral_match"}
    assert gm.config["target"] == {"split": "test"} and gm.config["sample_rate"] == 16000
    quick = load_suite("v1.3", quick=True)
    assert quick.label.startswith("v1.3-quick@") and quick.hash != suite.hash
    assert all(t.renders == 30 and t.config["target"]["n"] == 1 for t in quick.tasks)
    assert quick.solver_config["encoder"]["steps"] < suite.solver_config["encoder"]["steps"]


def test_v2_draws_32_targets_per_synthetic_task_over_notes_and_velocities_with_three_seeds():
    suite = load_suite("v2.1")
    body = yaml.safe_load((SUITES_DIR / "v2.1.yaml").read_text())
    assert suite.label == f"v2.1@{body['hash']}" == f"v2.1@{content_hash(body)}"
    assert [t.name for t in suite.tasks] == TASKS and suite.seeds == [0, 1, 2]
    synthetic = [t for t in suite.tasks if t.groups["target"] == "synthetic"]
    assert len(synthetic) == 4
    for t in synthetic:
        assert t.config["target"]["n"] == 32 and len(t.config["target"]["notes"]) >= 3
        assert len(t.config["target"]["velocities"]) >= 3
    quick = load_suite("v2.1", quick=True)
    assert quick.seeds == [0] and all(t.config["target"]["n"] == 1 for t in quick.tasks)


def test_a_suite_made_with_another_metric_version_is_refused(tmp_path):
    """v1, v1.1, v1.2 and v2 were made with match_distance versions 1, 2 and 3: their tables are not
    comparable with version 4's."""
    for name, version in (("v1", 1), ("v1.1", 2), ("v1.2", 3), ("v2", 3)):
        says = f"made with match_distance version {version}; this code computes version 4"
        with pytest.raises(UserError, match=says):
            load_suite(name)
    body = yaml.safe_load((SUITES_DIR / "v1.3.yaml").read_text())
    assert body["metric_versions"] == {"match_distance": 4}
    body["metric_versions"] = {"match_distance": 5}
    body["hash"] = content_hash(body)
    path = tmp_path / "future.yaml"
    path.write_text(yaml.safe_dump(body))
    with pytest.raises(UserError, match="version 5; this code computes version 4"):
        load_suite(str(path))


@pytest.mark.parametrize("edit, says", [
    (lambda b: b.update(seeds=["a"]), "malformed (ValueError"),
    (lambda b: b["tasks"].update(fm2=5), "task 'fm2' is int, not a mapping"),
    (lambda b: b.update(solver_config={"cma": 3}), "malformed (TypeError"),
    (lambda b: b.update(quick=[1, 2]), "malformed (AttributeError"),
])  # fmt: skip
def test_a_malformed_suite_file_is_one_line_naming_it(tmp_path, edit, says):
    """A suite edited by hand with a value of the wrong kind (its hash set, so the check passes)."""
    body = yaml.safe_load((SUITES_DIR / "v1.3.yaml").read_text())
    edit(body)
    body["hash"] = content_hash(body)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(body))
    with pytest.raises(UserError, match="bench: edited.yaml") as err:
        load_suite(str(path), quick=True)
    assert says in str(err.value)


def test_a_running_bench_says_how_far_it_is(tmp_path, monkeypatch, capsys):
    import threading
    import time

    from mlflow.tracking import MlflowClient

    from benchmark.bench import command

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert command.progress_line(uri, "soundmatch", "v1.2@x", 4, time.monotonic()) is None  # no runs yet
    client = MlflowClient(uri)
    exp = client.create_experiment("soundmatch")
    for level, status in [("invocation", "FINISHED"), ("invocation", "RUNNING"), ("target", "FINISHED"),
                          ("target", "FINISHED"), ("target", "FAILED"), ("target", "RUNNING")]:  # fmt: skip
        run = client.create_run(exp, tags={"soundmatch.bench": "v1.2@x", "soundmatch.level": level})
        if status != "RUNNING":
            client.set_terminated(run.info.run_id, status)
    client.create_run(exp, tags={"soundmatch.bench": "v1.1@y", "soundmatch.level": "target"})  # another suite
    line = command.progress_line(uri, "soundmatch", "v1.2@x", 4, time.monotonic() - 90)
    assert line == "bench v1.2@x: 1 of 4 jobs done; 2 target runs finished, 1 failed (1.5 min)"
    monkeypatch.setattr(command, "PROGRESS_SECONDS", 0.05)
    stop = threading.Event()
    args = (uri, "soundmatch", "v1.2@x", 4, 0.0, stop)
    watcher = threading.Thread(target=command.report_progress, args=args)
    watcher.start()
    time.sleep(0.5)
    stop.set()
    watcher.join(5.0)
    assert not watcher.is_alive() and "1 of 4 jobs done" in capsys.readouterr().out


def test_an_edited_suite_is_refused_until_it_names_its_new_hash(tmp_path):
    body = yaml.safe_load((SUITES_DIR / "v1.3.yaml").read_text())
    body["tasks"]["fm2"]["config"]["budget"] = {"renders": 999}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(body))
    with pytest.raises(UserError, match="a changed suite is a new version") as err:
        load_suite(str(path))
    new = content_hash(body)
    assert new in str(err.value)
    body["hash"] = new
    path.write_text(yaml.safe_dump(body))
    assert next(t for t in load_suite(str(path)).tasks if t.name == "fm2").renders == 999
    # the quick section is not part of the full suite's identity
    body["quick"]["renders"] = 5
    assert content_hash(body) == new


@pytest.mark.parametrize(
    "args, says",
    [
        (["v9"], "unknown suite 'v9'; shipped suites: v1, v1.1, v1.2, v1.3, v2, v2.1"),
        (["v1.3", "solvers=[cma,nope]"], "unknown solver 'nope'"),
        (["v1.3", "jobs=0"], "bench: bad value jobs='0'"),
        (["v1.3", "colour=red"], "bench: unknown option 'colour'"),
        (["v1"], "made with match_distance version 1"),
    ],
)
def test_bad_bench_arguments_are_one_line(tmp_path, capsys, args, says):
    assert main(["bench", *args, f"results_dir={tmp_path / 'r'}"]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and says in lines[0], lines


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory) -> Path:
    """``bench v1.3 --quick`` with every solver of the repository, in this process's launcher."""
    results = tmp_path_factory.mktemp("bench") / "results"
    fresh_store(results)
    proc = run_cli(results.parent, "bench", "v1.3", "--quick", f"results_dir={results}", "launcher=basic",
                   timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return results


def test_quick_bench_runs_every_solver_and_writes_its_table(quick_bench):
    out = quick_bench / "bench" / "v1.3-quick"
    info = json.loads((out / "bench.json").read_text())
    quick = load_suite("v1.3", quick=True)
    assert info["label"] == quick.label and info["wall_seconds"] > 0 and info["code_version"]
    table = (out / "table.md").read_text()
    assert f"`{quick.label}`" in table and "python -m benchmark bench v1.3 --quick" in table
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]]
            for ln in table.splitlines() if ln.startswith("| ") and "solver" not in ln}  # fmt: skip
    assert set(rows) == set(info["solvers"]) and len(rows) >= 14
    # a solver that cannot work on a task's synth is n/a there, and the note says why
    assert rows["hpn"] == ["n/a"] * 5 and rows["implicit_fm"] == ["n/a"] * 5
    assert rows["retrieval"] == ["n/a"] * 5  # no corpus given: its gallery
    assert "n/a: retrieval does not apply to" in table and "needs solver.corpus=FOLDER" in table
    assert rows["fm_match"][TASKS.index("moog_fm")] == "n/a"
    assert "n/a: fm_match does not apply to moog_fm" in table
    assert rows["ddx7"][TASKS.index("dx7_flute")] != "n/a"
    for solver in ("random", "cma", "ga", "adam"):  # the rest ran everywhere and scored
        assert all(float(c.strip("*").split()[0]) >= 0 for c in rows[solver]), rows[solver]
    # each task names its best (bold) and which solvers are not separable from it (≈), as the csv says
    separability = pd.read_csv(out / "separability.csv")
    for i, task in enumerate(TASKS):
        column = {solver: cells[i] for solver, cells in rows.items()}
        (best,) = [s for s, c in column.items() if c.startswith("**")]
        of_task = separability[separability["bench.task"] == task].set_index("solver")
        assert of_task.loc[best, "best"] and of_task["best"].sum() == 1
        for solver, row in of_task.iterrows():
            assert column[solver].endswith("≈") == (not row["best"] and not row["separable"])
    runs = load_runs(default_uri(quick_bench), "soundmatch")
    assert set(runs["tags.soundmatch.bench"]) == {quick.label}
    assert set(runs["tags.soundmatch.bench_task"]) == set(TASKS)
    assert (pd.to_numeric(runs["metrics.renders"]) <= 30).all()
    for name in ("leaderboard.csv", "report.html"):
        assert (out / name).stat().st_size > 0
    assert list((out / "plots").glob("ecdf-*.png")) and list((out / "iohprofiler").rglob("*.info"))


def test_a_plugin_solver_is_benchmarked_and_random_scores_the_same_again(quick_bench, tmp_path):
    """A solver from another package, installed outside the repository, is benchmarked on v1.3 as it
    is; in the same invocation random search gets exactly the scores of the first benchmark; a
    second invocation on that store finds every run finished and runs nothing again."""
    plugin = tmp_path / "plugin_pkg"
    shutil.copytree(Path(__file__).parent / "fixtures" / "plugin_pkg", plugin)
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(plugin)]
    subprocess.run(pip, check=True, capture_output=True, timeout=240)
    again = tmp_path / "results"
    fresh_store(again)
    args = ["bench", "v1.3", "--quick", "solvers=[random,centre_then_random]", f"results_dir={again}"]
    args.append("launcher=basic")
    env = {"PYTHONPATH": str(site)}
    proc = run_cli(tmp_path, *args, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = (again / "bench" / "v1.3-quick" / "table.md").read_text()
    (row,) = [ln for ln in table.splitlines() if ln.startswith("| centre_then_random")]
    assert "n/a" not in row and len(row.split("|")) == len(TASKS) + 3

    pd.testing.assert_frame_equal(random_scores(again), random_scores(quick_bench), check_exact=True)
    before = len(load_runs(default_uri(again), "soundmatch"))
    proc = run_cli(tmp_path, *args, env=env)
    assert proc.returncode == 0 and proc.stdout.count("skipped") == 10, proc.stdout[-2000:]
    assert len(load_runs(default_uri(again), "soundmatch")) == before


def random_scores(results: Path) -> pd.DataFrame:
    """Random search's rows of a quick bench's leaderboard (its scores are seeded, so repeatable)."""
    table = pd.read_csv(results / "bench" / "v1.3-quick" / "leaderboard.csv")
    table = table[table["solver"] == "random"]
    return table.set_index(["bench.task", "solver"]).sort_index()[METRIC_COLUMNS]


def test_the_slurm_launcher_path_runs_through_submitit_locally(quick_bench, tmp_path):
    """The SLURM launcher is hydra-submitit's; its local executor submits each job as SLURM would
    (pickled, run in a process of its own, results collected) on this machine. What stays untested
    here: sbatch itself, arrays, requeue on preemption, shared file systems."""
    again = tmp_path / "results"
    fresh_store(again)
    args = ["bench", "v1.3", "--quick", "solvers=[random]", f"results_dir={again}", "launcher=submitit_local"]
    proc = run_cli(tmp_path, *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list((again / "hydra" / "multirun").rglob(".submitit"))  # the jobs went through submitit
    pd.testing.assert_frame_equal(random_scores(again), random_scores(quick_bench), check_exact=True)
    first = load_runs(default_uri(quick_bench), "soundmatch")
    random_runs = (first["tags.soundmatch.solver"] == "random").sum()
    assert len(load_runs(default_uri(again), "soundmatch")) == random_runs
