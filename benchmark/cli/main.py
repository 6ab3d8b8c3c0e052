"""Command-line interface: ``python -m benchmark {run,list,leaderboard} ...``.

``run`` takes Hydra overrides (``-m`` for sweeps); the other commands take
ordinary options. A user's mistake ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable

from soundmatch.errors import UserError

USAGE = """usage: python -m benchmark <command> [options]

commands:
  run [-m] [key=value ...]   run a benchmark (Hydra overrides; -m sweeps comma lists)
  list                       solvers, synths, losses, metrics and target suites (plugins too)
  leaderboard [options]      compare finished runs from the store (--help for options)
  rescore metrics=[...]      add or recompute metrics on finished runs from their logged audio (--help)
  report [options]           self-contained HTML report: leaderboard, plots, audio (--help)
  ui [port=N] [host=H]       the MLflow UI / tracking server on the store (127.0.0.1)
  render key=value ...       write a DX7 voice (patch=FILE.syx) as WAV (--help for options)
  fidelity [key=value ...]   the dx7 engine against Dexed, curated and whole-space voices (--help)
  gradcheck [key=value ...]  gradient-direction study of losses on oscillators (--help)
  landscape key=value ...    a loss on a 2-D grid of two synth parameters, as a PNG (--help)
  match FILE_OR_FOLDER [..]  a recording to a patch: match.syx/preset, audio, picture, page (--help)
  score A B [key=value ...]  every metric of match B against target A (files, or folders by name)
  calibrate [key=value ...]  the metric ladder: how every metric and loss orders known cases (--help)
  retrieval corpus=DIR [..]  how often solver=retrieval finds the exact DX7 preset in its gallery (--help)
  bench SUITE [--quick]      the standard benchmark (e.g. v1): every solver on its fixed tasks (--help)

examples:
  python -m benchmark run solver=cma synth=fm2 target.n=4 budget.renders=500
  python -m benchmark run -m solver=random,cma loss=mss,l2
  python -m benchmark leaderboard format=markdown metric=match_distance
  python -m benchmark match my_flute_C5.wav out=patches/
"""


def _run(args: list[str]) -> int:
    from benchmark.report.leaderboard import print_sweep_summary
    from benchmark.run.app import run_cli

    try:
        return run_cli(args, after_sweep=print_sweep_summary)
    except SystemExit as stop:  # Hydra jobs end a user's error with SystemExit(2)
        return stop.code if isinstance(stop.code, int) else 1


def _list(args: list[str]) -> int:
    from benchmark.cli.listing import list_cli

    return list_cli(args)


def _leaderboard(args: list[str]) -> int:
    from benchmark.report.leaderboard import leaderboard_cli

    return leaderboard_cli(args)


def _rescore(args: list[str]) -> int:
    from benchmark.report.rescore import rescore_cli

    return rescore_cli(args)


def _report(args: list[str]) -> int:
    from benchmark.report.html import report_cli

    return report_cli(args)


def _ui(args: list[str]) -> int:
    from benchmark.report.ui import ui_cli

    return ui_cli(args)


def _render(args: list[str]) -> int:
    from benchmark.render.command import render_cli

    return render_cli(args)


def _fidelity(args: list[str]) -> int:
    from benchmark.studies.fidelity import fidelity_cli

    return fidelity_cli(args)


def _gradcheck(args: list[str]) -> int:
    from benchmark.studies.gradcheck import gradcheck_cli

    return gradcheck_cli(args)


def _landscape(args: list[str]) -> int:
    from benchmark.studies.landscape import landscape_cli

    return landscape_cli(args)


def _score(args: list[str]) -> int:
    from benchmark.report.score import score_cli

    return score_cli(args)


def _match(args: list[str]) -> int:
    from benchmark.match.command import match_cli

    return match_cli(args)


def _bench(args: list[str]) -> int:
    from benchmark.bench.command import bench_cli

    return bench_cli(args)


def _retrieval(args: list[str]) -> int:
    from benchmark.studies.retrieval_check import retrieval_cli

    return retrieval_cli(args)


def _calibrate(args: list[str]) -> int:
    from benchmark.studies.calibrate import calibrate_cli

    return calibrate_cli(args)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "run": _run,
    "list": _list,
    "leaderboard": _leaderboard,
    "rescore": _rescore,
    "report": _report,
    "ui": _ui,
    "render": _render,
    "fidelity": _fidelity,
    "gradcheck": _gradcheck,
    "landscape": _landscape,
    "score": _score,
    "match": _match,
    "calibrate": _calibrate,
    "retrieval": _retrieval,
    "bench": _bench,
}


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken as Ctrl-C is: the run in progress ends KILLED, finished runs are kept."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(
            f"error: unknown command '{command}'; available: {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return 2
    try:
        return COMMANDS[command](rest)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        why = "terminated" if isinstance(stop, Terminated) else "interrupted"
        print(f"{why}; finished runs are kept in the store", file=sys.stderr)
        return 143 if isinstance(stop, Terminated) else 130
    except Exception as err:
        from benchmark.run.tracking import storage_problem

        problem = storage_problem(err)  # a read-only store, a full disk: the user's to fix
        if problem is None:
            raise
        print(f"error: {command}: cannot write the store or results: {problem}; free space, fix the "
              "permissions, or choose another results_dir= / tracking.uri=", file=sys.stderr)  # fmt: skip
        return 2
