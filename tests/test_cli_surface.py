"""Every command as a user first meets it: ``--help`` lists its keys, a mistyped key is one line
naming it (with the nearest real key) and exit code 2, and the store is spelled the same way
(``tracking.uri=``) by every command that reads or writes one."""

from __future__ import annotations

import pytest
from sweep_support import run_cli

from benchmark.cli.main import COMMANDS

# a key each command takes, mistyped; and a word its --help must show
MISTYPED = {
    "run": ("budget.rendrs=3", "budget.renders"),
    "list": ("kinds=solvers", "kind"),
    "leaderboard": ("metrc=lsd", "metric"),
    "rescore": ("metrcs=[lsd]", "metrics"),
    "report": ("max_target=2", "max_targets"),
    "ui": ("prot=5001", "port"),
    "render": ("velocty=9", "velocity"),
    "fidelity": ("sampl_rate=44100", "sample_rate"),
    "gradcheck": ("trails=3", "trials"),
    "landscape": ("stpes=3", "steps"),
    "score": ("metrcs=[lsd]", "metrics"),
    "calibrate": ("nots=3", "notes"),
    "bench": ("solver=[cma]", "solvers"),
}
STORE_COMMANDS = ["leaderboard", "rescore", "report", "ui", "gradcheck", "calibrate", "fidelity", "landscape",
                  "bench"]  # fmt: skip


def test_every_command_is_in_this_test():
    assert set(MISTYPED) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(MISTYPED))
def test_help_lists_the_keys(tmp_path, command):
    proc = run_cli(tmp_path, command, "--help")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-500:]
    near = MISTYPED[command][1]
    if near:
        assert near in proc.stdout, proc.stdout[-1500:]
    if command in STORE_COMMANDS:
        assert "tracking.uri" in proc.stdout and "results_dir" in proc.stdout


@pytest.mark.parametrize("command", sorted(MISTYPED))
def test_a_mistyped_key_is_one_line_with_exit_2(tmp_path, command):
    wrong, near = MISTYPED[command]
    args = [command, wrong]
    if command == "score":
        args = [command, "a.wav", "b.wav", wrong]
    elif command == "bench":
        args = [command, "v1", wrong]
    proc = run_cli(tmp_path, *args)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, (args, proc.stderr[-800:])
    assert lines[0].startswith("error:")
    assert wrong.split("=")[0] in lines[0]
    if near:
        assert f"did you mean '{near}" in lines[0] or f"did you mean '{command}" in lines[0], lines[0]
