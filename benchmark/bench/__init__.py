"""The standard benchmark: named, versioned suites of tasks (:mod:`benchmark.bench.suite`) and
the ``bench`` command that runs one for any set of solvers (:mod:`benchmark.bench.command`)."""
