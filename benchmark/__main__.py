"""``python -m benchmark <command> ...``; see :mod:`benchmark.cli.main`."""

import os
import sys

# torch's OpenMP threads spin-wait between ops by default, which starves the DX7 engine's own
# worker threads; passive waiting must be chosen before torch loads its OpenMP runtime
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from benchmark.cli.main import main  # noqa: E402

INTERRUPTED = (130, 143)  # Ctrl-C, SIGTERM



def _main_closing_stdout_quietly() -> int:
    """``main()``; a reader that stops reading (``list | head``) ends the command without a traceback,
    as Python's documentation advises: the rest of the output goes to /dev/null."""
    try:
        code = main()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by it


if __name__ == "__main__":
    code = _main_closing_stdout_quietly()
    if code in INTERRUPTED:
        # the solver may still be running in its thread (it is abandoned, not joined): run Python's
        # exit handlers (a sweep's worker processes are shut down there), then exit without the
        # interpreter's teardown, which would destroy C++ thread pools under that thread and abort
        # ("terminate called without an active exception", exit -6). What the run logged is written.
        import atexit

        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
