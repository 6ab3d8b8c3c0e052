"""Where the harness's own files are: the Hydra config tree and the bundled data."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CONF_DIR = PACKAGE_DIR / "conf"  # config.yaml and the preset groups (solver/, synth/, loss/, target/)
DATA_DIR = PACKAGE_DIR / "data"  # gm_notes recordings, the fidelity study's solver voices
