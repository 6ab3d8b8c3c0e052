"""Tables a person reads: the run's and the leaderboard's fit 100 columns with no cell cut to "…",
ranked by the default metric; ``format=wide`` shows every metric."""

from __future__ import annotations

RUN = ["run", "synth=fm2", "target.n=2", "budget.renders=4", "duration=0.25", "sample_rate=8000",
       "progress=false"]  # fmt: skip
NARROW = {"COLUMNS": "100"}


def readable(text: str) -> bool:
    return all(len(line) <= 100 for line in text.splitlines()) and "…" not in text


def test_run_and_leaderboard_tables_fit_100_columns(main_cli):
    for solver in ("random", "cma"):
        out = main_cli(*RUN, f"solver={solver}", env=NARROW)
        assert out.returncode == 0, out.stderr[-1500:]
        table = out.stdout.split("results:")[0]
        assert readable(table), table
        assert "match_distance" in table and "more metric(s) per target did not fit" in out.stdout
    board = main_cli("leaderboard", "plots=false", env=NARROW)
    assert board.returncode == 0 and readable(board.stdout), board.stdout
    assert "score of match_distance" in board.stdout.replace("\n", " ") or "match_distance" in board.stdout
    assert "format=wide shows every metric" in board.stdout.replace("\n", " ").replace("  ", " ")
    wide = main_cli("leaderboard", "plots=false", "format=wide")
    assert wide.returncode == 0 and all(m in wide.stdout for m in ("lsd", "param_error", "renders"))
