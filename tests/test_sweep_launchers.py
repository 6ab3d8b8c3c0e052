"""The cluster launcher configs compose into what their Hydra plugins expect."""

from __future__ import annotations

import pytest
import yaml
from hydra import compose, initialize_config_dir

from benchmark.run.app import CONF_DIR


def hydra_launcher(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose("config", overrides=list(overrides), return_hydra_config=True).hydra.launcher


def test_joblib_launcher_for_local_cores():
    launcher = hydra_launcher("hydra/launcher=joblib", "hydra.launcher.n_jobs=4")
    assert launcher._target_.endswith("JoblibLauncher") and launcher.n_jobs == 4


def test_slurm_config_is_a_submitit_slurm_launcher():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install -e '.[slurm]'")
    launcher = hydra_launcher("hydra/launcher=slurm", "hydra.launcher.partition=cpu")
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.partition == "cpu" and launcher.cpus_per_task == 2 and launcher.max_num_timeout == 2


def test_ray_config_extends_the_ray_launcher():
    body = yaml.safe_load((CONF_DIR / "hydra" / "launcher" / "ray_cluster.yaml").read_text())
    assert body["defaults"] == ["ray"]
    assert body["ray"]["init"] == {"address": None} and body["ray"]["remote"]["num_cpus"] == 1
    assert (
        (CONF_DIR / "hydra" / "launcher" / "ray_cluster.yaml")
        .read_text()
        .startswith("# @package hydra.launcher")
    )
