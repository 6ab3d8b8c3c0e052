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
        args = [command, "v1.2", wrong]
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


def test_group_yaml_files_repeat_the_code_defaults_or_are_presets():
    """A YAML file named as its registry entry (conf/target/folder.yaml) shows the code's defaults
    with their units; only a preset (conf/synth/dx7_flute.yaml) may differ. ``hold: auto`` is the
    run's own setting (read the note-off per target), not a constructor default."""

    import yaml

    from benchmark.paths import CONF_DIR
    from benchmark.run.app import GROUPS
    from soundmatch.registry import option_defaults

    drift = []
    for group, registry in GROUPS.items():
        for path in sorted((CONF_DIR / group).glob("*.yaml")):
            body = yaml.safe_load(path.read_text()) or {}
            if body.get("name", path.stem) != path.stem or "defaults" in body:
                continue  # a preset of another entry
            code = option_defaults(registry.get(path.stem))
            for key, value in body.items():
                if key == "name" or (key == "hold" and value == "auto"):
                    continue
                if key not in code or code[key] != value:
                    found = code.get(key, "<no such option>")
                    drift.append(f"{group}/{path.name}: {key}={value!r}, code {found!r}")
            # an option the YAML leaves out cannot be set from the command line (Hydra is strict)
            settable = (bool, int, float, str, list, type(None))
            for key, value in code.items():
                if key not in body and key != "sample_rate" and isinstance(value, settable):
                    drift.append(f"{group}/{path.name}: no {key} (code default {value!r})")
    assert not drift, drift


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
