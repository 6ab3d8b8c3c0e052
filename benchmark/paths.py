"""Where the harness's own files are (the Hydra config tree, the bundled data), and the check of a
place a command writes to."""

import os
from pathlib import Path

from soundmatch.errors import UserError

PACKAGE_DIR = Path(__file__).resolve().parent
CONF_DIR = PACKAGE_DIR / "conf"  # config.yaml and the preset groups (solver/, synth/, loss/, target/)
DATA_DIR = PACKAGE_DIR / "data"  # gm_notes recordings, the fidelity study's solver voices


def writable_folder(path: str | Path, key: str, writes: bool = True) -> Path:
    """The folder ``key=path``, made if missing; one line (:class:`UserError`) naming ``key`` where it
    is a file, cannot be created, or (``writes``) is not writable. A command that only reads what is
    there (a read-only store's leaderboard) passes ``writes=False``."""
    folder = Path(str(path)).expanduser()
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{key}={path} is a file, not a folder; choose a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise UserError(f"{key}={path}: cannot create it ({reason}); choose another folder") from None
    if writes and not os.access(folder, os.W_OK):
        raise UserError(f"{key}={path} is not writable; choose another folder")
    return folder
