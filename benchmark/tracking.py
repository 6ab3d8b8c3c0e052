"""MLflow tracking: an embedded sqlite store by default, any MLflow server by URI.

One parent run per invocation (per Hydra job in a sweep), one child run per
target. The client API is used with explicit run ids, so nothing depends on
MLflow's global "active run" state.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PARAM_VALUE_MAX = 6000
BATCH = 900  # MLflow accepts at most 1000 metrics per log_batch


def quiet_mlflow() -> None:
    """Keep MLflow's and alembic's start-up chatter out of the benchmark's output."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


def default_uri(results_dir: str | Path) -> str:
    """``sqlite:///<abs results_dir>/mlflow.db``, creating the folder."""
    root = Path(results_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}"


def resolve_uri(uri: str | None, results_dir: str | Path) -> str:
    return uri if uri else default_uri(results_dir)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping -> {"a.b.c": value}; lists stay whole (logged as strings)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


class Tracker:
    """A thin layer over ``mlflow.MlflowClient`` for soundmatch's run layout.

    Args:
        uri: tracking URI (sqlite:///..., http://..., ...).
        experiment: experiment name, created when missing.
        artifact_root: where artifacts go for a new experiment on a local store;
            None lets the server decide (remote stores).
    """

    def __init__(self, uri: str, experiment: str, artifact_root: Path | None = None):
        import mlflow
        from mlflow.tracking import MlflowClient

        quiet_mlflow()

        self._mlflow = mlflow
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            location = artifact_root.resolve().as_uri() if artifact_root is not None else None
            try:
                self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
            except mlflow.exceptions.MlflowException:
                # another worker of the same sweep created it first
                self.experiment_id = self.client.get_experiment_by_name(experiment).experiment_id
        else:
            self.experiment_id = found.experiment_id

    @contextmanager
    def run(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        parent_id: str | None = None,
    ) -> Iterator[str]:
        """Start a run, yield its id, and end it FINISHED (FAILED on error, KILLED on Ctrl-C)."""
        all_tags = dict(tags or {})
        if parent_id is not None:
            all_tags["mlflow.parentRunId"] = parent_id
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        run_id = run.info.run_id
        status = "FAILED"
        try:
            if params:
                self.log_params(run_id, params)
            yield run_id
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            self.client.set_terminated(run_id, status=status)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:PARAM_VALUE_MAX]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float | None], step: int = 0) -> None:
        self.log_series(run_id, ((k, v, step) for k, v in metrics.items() if v is not None))

    def log_series(self, run_id: str, points: Iterable[tuple[str, float, int]]) -> None:
        """Log (name, value, step) triples in batches."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, int(s)) for k, v, s in points]
        for i in range(0, len(batch), BATCH):
            self.client.log_batch(run_id, metrics=batch[i : i + BATCH])

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifacts(self, run_id: str, local_dir: Path) -> None:
        self.client.log_artifacts(run_id, str(local_dir))
