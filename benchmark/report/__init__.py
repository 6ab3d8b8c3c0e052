"""Reading finished runs: leaderboards and their statistics, plots, the HTML report, rescoring,
IOHprofiler export, scoring audio files, and the MLflow UI."""
