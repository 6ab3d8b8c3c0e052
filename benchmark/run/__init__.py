"""One run: the Hydra app, the runner, the MLflow store, target suites, audio, per-target artifacts."""
