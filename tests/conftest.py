"""Shared fixtures: an isolated results store and a way to call the CLI as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sweep_support import run_cli

# as the CLI does (benchmark/__main__.py): idle torch threads must not spin against the DX7 kernel's
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    """Under pytest-xdist, share the cores between workers instead of oversubscribing them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def _untracked() -> set[str] | None:
    """Files in the checkout that git neither tracks nor ignores (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return {line[3:] for line in out.stdout.splitlines() if line.startswith("??")}


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller, not an xdist worker
        session.config._untracked_before = _untracked()


def pytest_sessionfinish(session, exitstatus):
    """Fail the session when a test wrote files into the checkout (a run folder a test forgot to
    point at tmp_path was once committed by mistake)."""
    before = getattr(session.config, "_untracked_before", None)
    if before is None:
        return
    after = _untracked() or set()
    new = sorted(after - before)
    if new:
        print(f"\ntests wrote into the checkout: {', '.join(new[:10])}", file=sys.stderr)
        session.exitstatus = 1


CliRunner = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty folder to run the CLI in; its results/ is the store."""
    return tmp_path


@pytest.fixture
def cli(workdir: Path) -> CliRunner:
    """``cli("run", "solver=random", ...)`` runs ``python -m benchmark`` in ``workdir``.

    Returns the CompletedProcess (text stdout/stderr). ``env=`` adds variables;
    ``timeout=`` defaults to 300 s.
    """

    def call(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
        return run_cli(workdir, *args, env=env, timeout=timeout)

    return call


@pytest.fixture
def main_cli(workdir: Path, monkeypatch) -> CliRunner:
    """``main_cli("run", ...)``: the CLI's ``main`` in this process (no interpreter start, about 8 s
    less a call), in ``workdir``, with ``env=`` set; returns a CompletedProcess with the exit code,
    stdout and stderr. For commands that need no process of their own (signals, entry points do)."""
    import contextlib
    import io

    from benchmark.cli.main import main

    def call(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
        out, err = io.StringIO(), io.StringIO()
        with monkeypatch.context() as patch:
            patch.chdir(workdir)
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as stop:
                    code = stop.code if isinstance(stop.code, int) else 1
        return subprocess.CompletedProcess(["benchmark", *args], code, out.getvalue(), err.getvalue())

    return call
