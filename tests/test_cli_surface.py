"""Every command as a user first meets it: ``--help`` lists its keys, a mistyped key is one line
naming it (with the nearest real key) and exit code 2, and the store is spelled the same way
(``tracking.uri=``) by every command that reads or writes one."""

from __future__ import annotations

import pytest

from benchmark.cli.main import COMMANDS, main

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
    "match": ("budget.rendrs=3", "budget.renders"),
    "retrieval": ("candidate=3", "candidates"),
}
STORE_COMMANDS = ["leaderboard", "rescore", "report", "ui", "gradcheck", "calibrate", "fidelity", "landscape",
                  "bench", "match", "retrieval"]  # fmt: skip


def test_every_command_is_in_this_test():
    assert set(MISTYPED) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(MISTYPED))
def test_help_lists_the_keys(capsys, command):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    near = MISTYPED[command][1]
    if near:
        assert near in out, out[-1500:]
    if command in STORE_COMMANDS:
        assert "tracking.uri" in out and "results_dir" in out


@pytest.mark.parametrize("command", sorted(MISTYPED))
def test_a_mistyped_key_is_one_line_with_exit_2(capsys, monkeypatch, tmp_path, command):
    monkeypatch.chdir(tmp_path)  # nothing may be written, and surely not into the checkout
    wrong, near = MISTYPED[command]
    args = [command, wrong]
    if command == "score":
        args = [command, "a.wav", "b.wav", wrong]
    elif command == "bench":
        args = [command, "v1.3", wrong]
    elif command == "match":
        import numpy as np
        import soundfile as sf

        sf.write(tmp_path / "tone.wav", np.sin(np.arange(8000) * 0.1).astype(np.float32), 16000)
        args = [command, "tone.wav", wrong]
    code = main(args)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, (args, err[-800:])
    assert lines[0].startswith("error:")
    assert wrong.split("=")[0] in lines[0]
    if near:
        assert f"did you mean '{near}" in lines[0] or f"did you mean '{command}" in lines[0], lines[0]


def test_group_yaml_files_are_what_the_code_writes():
    """Defaults live once, in the code: every builtin group file (conf/target/folder.yaml) is what
    ``make conf`` writes from its entry's defaults; only presets (conf/synth/dx7_flute.yaml) and
    the runner's ``hold: auto`` are their own."""
    from benchmark.cli.sync_conf import main as sync_conf

    assert sync_conf(["check=true"]) == 0, "run `make conf`: a group file differs from the code"


def test_a_group_file_is_rewritten_from_the_code_keeping_its_comments():
    """A value the code changed is rewritten (its comment kept), an option the code dropped goes,
    one it added is appended with its docstring's meaning; comments and order stay; a plugin
    with no file gets one the same way."""
    import yaml

    from benchmark.run.group_yaml import group_yaml
    from solvers.base import solver_registry
    from soundmatch.registry import option_defaults

    cma = solver_registry.get("cma")
    drifted = (
        "# CMA-ES, as I remember it\n"
        "name: cma\n"
        "sigma0: 0.5           # initial step\n"
        "gone: 3               # an option the code dropped\n"
        "options:\n"
        "  tolfun: 1.0e-6\n"
    )
    out = group_yaml("cma", cma, drifted)
    lines = out.splitlines()
    assert lines[:2] == ["# CMA-ES, as I remember it", "name: cma"]
    assert lines[2].startswith("sigma0: null") and lines[2].endswith("# initial step")
    assert "gone:" not in out and "  tolfun:" not in out
    body = yaml.safe_load(out)
    assert {k: v for k, v in body.items() if k != "name"} == option_defaults(cma)
    assert any(ln.startswith("max_restarts: 100") and "# cap on restarts" in ln for ln in lines)
    assert group_yaml("cma", cma, out) == out  # written once, it stays
    fresh = yaml.safe_load(group_yaml("my_cma", cma))
    assert fresh["name"] == "my_cma" and fresh["popsize"] is None


def test_list_name_shows_every_entry_s_options_as_run_spells_them(capsys):
    """``list name=X`` for every registered entry: its options as ``group.key=default``, each
    documented option with its meaning; a name in two registries (implicit_fm) shows both."""
    from benchmark.cli.listing import SECTIONS

    for _, registry, _, _ in SECTIONS:
        for name in registry.names():
            assert main(["list", f"name={name}"]) == 0, name
    capsys.readouterr()
    assert main(["list", "name=cma"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("solver=cma  (solver, builtin): CMA-ES")
    assert "  solver.sigma0=null    initial step size" in out and "  solver.restarts=ipop" in out
    assert main(["list", "name=implicit_fm"]) == 0
    both = capsys.readouterr().out
    assert "solver=implicit_fm" in both and "synth=implicit_fm" in both
    assert main(["list", "name=cmaa"]) == 2
    assert "did you mean 'cma'?" in capsys.readouterr().err


def test_a_reader_that_stops_early_gets_no_traceback():
    """``python -m benchmark list name=cma | head -1``: the pipe closes before the output ends; the
    command stops quietly (exit 141, as a shell reports SIGPIPE), no traceback."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    done = subprocess.run(
        [sys.executable, "-m", "benchmark", "list", "name=cma"],
        stdout=write,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    os.close(write)
    assert "Traceback" not in done.stderr.decode()
    assert done.returncode == 141


@pytest.mark.parametrize("place, says", [("/proc/soundmatch-x", "cannot create it"), ("{file}", "is a file")])
@pytest.mark.parametrize("command", ["match", "report", "score", "run", "leaderboard", "rescore", "calibrate",
                                     "fidelity"])  # fmt: skip
def test_a_bad_place_to_write_is_one_line_before_any_work(tmp_path, capsys, place, says, command):
    """Every command's folder to write (``out=`` of match, report and score; ``results_dir`` of the
    others): a place that cannot be made, or a file where a folder goes, is one line and exit 2,
    before the search, the study or the store read; and ``report out=`` a folder is one line."""
    import numpy as np
    import soundfile as sf

    note = tmp_path / "note.wav"
    sf.write(note, 0.3 * np.sin(2 * np.pi * 440 * np.arange(4000) / 16000), 16000)
    sf.write(tmp_path / "other.wav", 0.3 * np.sin(2 * np.pi * 330 * np.arange(4000) / 16000), 16000)
    bad = place.format(file=note)
    args = {
        "match": [str(note), f"out={bad}", f"results_dir={tmp_path / 'results'}"],
        "report": [f"out={bad}/report.html" if place.startswith("/proc") else f"results_dir={bad}"],
        "score": [str(tmp_path), "pairs=all", "metrics=[lsd]", f"out={bad}"],
        "run": ["solver=random", "synth=fm2", "target.n=1", "budget.renders=2", f"results_dir={bad}"],
        "leaderboard": [f"results_dir={bad}"],
        "rescore": ["metrics=[lsd]", f"results_dir={bad}"],
        "calibrate": ["metrics=[lsd]", "losses=none", f"results_dir={bad}"],
        "fidelity": ["random=1", f"results_dir={bad}"],
    }[command]
    assert main([command, *args]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error:") and says in err[0], err
    assert not (tmp_path / "results").exists()  # nothing was run
    if command == "report":
        assert main(["report", f"out={tmp_path}"]) == 2
        assert "is a folder; name the HTML file" in capsys.readouterr().err
