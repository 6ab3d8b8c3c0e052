"""A sweep over a group with an option the swept choices share: ``run -m solver=adam,sgd solver.lr=X``."""

from __future__ import annotations

from mlflow.tracking import MlflowClient

RUN = ["synth=fm2", "target.n=1", "budget.renders=4", "duration=0.25", "sample_rate=8000", "metrics=[lsd]",
       "progress=false"]  # fmt: skip


def test_a_shared_option_of_swept_solvers_reaches_each_job(main_cli, workdir):
    out = main_cli("run", "-m", "solver=adam,sgd", "solver.lr=0.0123", *RUN)
    assert out.returncode == 0, out.stderr[-1500:]
    client = MlflowClient(f"sqlite:///{workdir / 'results' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("soundmatch").experiment_id])
    parents = [r for r in runs if r.data.tags.get("soundmatch.level") == "invocation"]
    assert sorted(r.data.tags["soundmatch.solver"] for r in parents) == ["adam", "sgd"]
    assert all(r.data.params["solver.lr"] == "0.0123" for r in parents)


def test_an_option_some_swept_solvers_lack_is_one_line(main_cli):
    out = main_cli("run", "-m", "solver=adam,cma", "solver.lr=0.01", *RUN)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 2 and len(lines) == 1
    assert "solver.lr is not an option of solver=cma" in lines[0]
