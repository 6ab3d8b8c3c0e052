"""The soundmatch harness: CLI, Hydra configs, target suites, runner, tracking, leaderboards."""
