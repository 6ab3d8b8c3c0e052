"""Target suites: where the sounds to match come from."""

from benchmark.run.targets.base import SuiteContext, TargetSuite, suite_registry

__all__ = ["SuiteContext", "TargetSuite", "suite_registry"]
