"""``python -m benchmark <command> ...``; see :mod:`benchmark.cli.main`."""

import os
import sys

# torch's OpenMP threads spin-wait between ops by default, which starves the DX7 engine's own
# worker threads; passive waiting must be chosen before torch loads its OpenMP runtime
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from benchmark.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
