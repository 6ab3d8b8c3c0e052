"""Property test of the command-line surface (hypothesis, derandomized): any value of any type for
any key of ``run`` and of the other commands ends in exit 0 (it was valid and ran) or exit 2 with one
line on stderr -- never a traceback, never a run that fails on every target, never a hang."""

from __future__ import annotations

import contextlib
import io
import signal
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sweep_support import fresh_store

from benchmark.cli.main import main

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "benchmark" / "data"
NOTE = DATA / "gm_notes" / "flute_072.flac"
BANK = DATA / "fidelity" / "solver_matches.syx"
SECONDS_PER_CALL = 120  # a valid call of these tiny runs takes seconds; more is a hang

RUN_KEYS = [
    "seed", "sample_rate", "duration", "note.pitch", "note.velocity", "budget.renders", "budget.seconds",
    "device", "force", "progress", "artifacts.plots", "target.n", "target.seed", "target.synth", "synth.hold",
    "synth.ratio",
    "solver.sigma0", "solver.popsize", "loss.fft_sizes", "loss.range_db", "loss.ot_weight", "metrics",
    "metric_options.lsd.range_db", "metric_options.pitch_error_cents.backend", "tracking.experiment",
    "loss", "solver", "synth", "target", "note", "budget", "+bogus",
]  # fmt: skip
SPECIAL = ["", "null", "true", "false", "inf", "-inf", "nan", "[]", "[1,2]", "{a: 1}", "${oops}", "%", "'x'",
           "cuda", "/dev/null/x", "[lsd,nope]", "1e12", "-1", "0", "99999999999999999999"]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(SPECIAL),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="abcxyz019.-_[],", max_size=8),
)
# values that are valid for their key, so that the property also covers runs that do run
VALID = {
    "seed": ["1"], "sample_rate": ["16000"], "duration": ["0.4"], "note.pitch": ["69.5"],
    "note.velocity": ["64"], "budget.renders": ["3"], "budget.seconds": ["null", "2"], "device": ["cpu"],
    "force": ["true"],
    "target.n": ["2"], "target.seed": ["3"], "synth.hold": ["0.1"], "solver.sigma0": ["0.1"],
    "solver.popsize": ["4"], "loss.fft_sizes": ["[512]"], "loss.range_db": ["60"], "loss.ot_weight": ["0"],
    "metrics": ["[lsd,mss]"], "metric_options.lsd.range_db": ["60"], "tracking.experiment": ["other"],
    "loss": ["mss", "l2"], "solver": ["random", "ga"], "synth": ["fm2"], "target": ["synthetic"],
}  # fmt: skip
TINY = ["synth=fm2", "target.n=1", "budget.renders=2", "budget.seconds=5", "duration=0.3", "sample_rate=8000",
        "metrics=[lsd]", "progress=false"]  # fmt: skip


class Hang(Exception):
    pass


def call(args: list[str]) -> tuple[int, str]:
    """``main(args)`` in this process, bounded in time; (exit code, stderr)."""

    def stop(*_):
        raise Hang(" ".join(args))

    err = io.StringIO()
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(SECONDS_PER_CALL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                code = main(args)
            except SystemExit as stop:  # argparse's own exit (usage and one error line)
                code = stop.code if isinstance(stop.code, int) else 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, err.getvalue()


def assert_clean(args: list[str], code: int, err: str) -> None:
    assert "Traceback" not in err and "HYDRA_FULL_ERROR" not in err, (args, err[-800:])
    assert code in (0, 2), (args, code, err[-800:])
    if code == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), (args, lines)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(key=st.sampled_from(RUN_KEYS), data=st.data())
def test_any_value_of_any_run_key_is_a_run_or_one_line(key, data):
    value = data.draw(st.one_of(st.sampled_from(VALID[key]), VALUES) if key in VALID else VALUES)
    results = Path(tempfile.mkdtemp(prefix="surface-"))
    fresh_store(results)
    args = ["run", *TINY, f"results_dir={results}", f"{key}={value}"]
    code, err = call(args)
    assert_clean(args, code, err)


@pytest.fixture(scope="module")
def store() -> Path:
    """A store with one finished run, for the commands that read one."""
    results = Path(tempfile.mkdtemp(prefix="surface-store-"))
    fresh_store(results)
    code, err = call(["run", *TINY, f"results_dir={results}"])
    assert code == 0, err
    return results


COMMANDS = {
    "leaderboard": ["metric", "metrics", "group_by", "versus", "seed", "format", "tracking.experiment",
                    "bogus"],
    "rescore": ["metrics", "force", "solver", "suite", "tracking.experiment", "bogus"],
    "score": ["metrics", "sample_rate", "duration", "note", "format", "bogus"],
    "render": ["voice", "note", "velocity", "hold", "sample_rate", "tail", "synth", "bogus"],
}


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(command=st.sampled_from(sorted(COMMANDS)), data=st.data())
def test_any_option_of_the_other_commands_is_a_result_or_one_line(store, command, data):
    key = data.draw(st.sampled_from(COMMANDS[command]))
    value = data.draw(VALUES)
    out = Path(tempfile.mkdtemp(prefix="surface-out-"))
    if command == "leaderboard":
        args = [command, f"results_dir={store}", "plots=false", f"{key}={value}"]
    elif command == "rescore":
        args = [command, f"tracking.uri=sqlite:///{store / 'mlflow.db'}", "metrics=[mss]", f"{key}={value}"]
        if key == "metrics":
            args.remove("metrics=[mss]")
    elif command == "score":
        args = [command, str(NOTE), str(NOTE), f"{key}={value}"]
    else:
        args = [command, f"patch={BANK}", f"out={out / 'x.wav'}", "hold=0.3", f"{key}={value}"]
        if key == "hold":
            args.remove("hold=0.3")
    code, err = call(args)
    assert_clean(args, code, err)


def _store_places(root: Path) -> dict[str, str]:
    """Places a store URI may name: a folder, a missing folder, text, an empty file, another
    application's database, a damaged one, a port that refuses and one that never answers."""
    import socket
    import sqlite3

    (root / "folder").mkdir()
    (root / "text.db").write_text("not a database")
    (root / "empty.db").write_bytes(b"")
    with sqlite3.connect(root / "foreign.db") as con:
        con.execute("CREATE TABLE t (x)")
    (root / "damaged.db").write_bytes(b"SQLite format 3\x00" + bytes(200))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    _SILENT.append(silent)  # kept open for the test's life
    return {
        "folder": str(root / "folder"), "missing": str(root / "no" / "such" / "mlflow.db"),
        "text": str(root / "text.db"), "empty": str(root / "empty.db"), "foreign": str(root / "foreign.db"),
        "damaged": str(root / "damaged.db"), "fresh": str(root / "fresh.db"),
        "refused": f"127.0.0.1:{refused_port}", "silent": f"127.0.0.1:{silent.getsockname()[1]}",
    }  # fmt: skip


_SILENT: list = []
SCHEMES = ["sqlite:///", "sqlite://", "file://", "http://", "https://", "postgresql://", "mysql://", "ftp://",
           "mlflow-artifacts:/", "", "sqlite:////", "http:/"]  # fmt: skip


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(command=st.sampled_from(["run", "leaderboard", "report", "rescore"]), data=st.data())
def test_any_store_uri_is_a_result_or_one_line(command, data):
    """Every scheme and place a user may type for ``tracking.uri`` (issue 27): exit 0 where it is a
    store that works, else one line and exit 2, within SECONDS_PER_CALL; never a traceback."""
    root = Path(tempfile.mkdtemp(prefix="surface-uri-"))
    places = _store_places(root)
    scheme = data.draw(st.sampled_from(SCHEMES))
    place = data.draw(st.one_of(st.sampled_from(sorted(places.values())), st.text("abc/:.%?", max_size=6)))
    uri = f"{scheme}{place}"
    out = Path(tempfile.mkdtemp(prefix="surface-out-"))
    if command == "run":
        args = ["run", *TINY, f"results_dir={out}", f"tracking.uri={uri}"]
    elif command == "rescore":
        args = ["rescore", "metrics=[mss]", f"tracking.uri={uri}"]
    elif command == "report":
        args = ["report", f"tracking.uri={uri}", f"results_dir={out}"]
    else:
        args = ["leaderboard", "plots=false", f"tracking.uri={uri}", f"results_dir={out}"]
    with contextlib.chdir(root):  # a relative place ("sqlite:///bc") lands here, not in the checkout
        code, err = call(args)
    assert_clean(args, code, err)
