"""Synth presets: ``conf/synth/<name>.yaml`` (a registered synth and its options), by name.

``synth=dx7_flute`` in ``run`` composes the preset through Hydra; the other
commands that take a synth by name (``landscape``, synthetic targets rendered
by another preset) read the same file here, so a preset name works wherever a
synth name does.
"""

from __future__ import annotations

from typing import Any

import yaml

from benchmark.paths import CONF_DIR
from soundmatch.errors import UserError
from synths.base import Synth, synth_registry

SYNTH_PRESETS = CONF_DIR / "synth"


def synth_preset(name: str) -> dict[str, Any]:
    """The config of synth preset ``conf/synth/<name>.yaml`` (name and options), as ``synth=<name>`` gives."""
    path = SYNTH_PRESETS / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in SYNTH_PRESETS.glob("*.yaml")))
        raise UserError(f"no synth preset '{name}'; available: {known}")
    return yaml.safe_load(path.read_text())


def create_synth(name: str) -> Synth:
    """Synth ``name``: a preset of ``conf/synth/`` (its note-off read per target, ``hold: auto``, is
    the default 75% here), else a registered synth with its defaults."""
    if (SYNTH_PRESETS / f"{name}.yaml").exists():
        preset = synth_preset(name)
        if preset.get("hold") == "auto":
            preset["hold"] = None
        return synth_registry.from_spec(preset, f"synth preset {name}")
    if name not in synth_registry.names():
        known = sorted(set(synth_registry.names()) | {p.stem for p in SYNTH_PRESETS.glob("*.yaml")})
        raise UserError(f"unknown synth '{name}'; available: {', '.join(known)}")
    return synth_registry.create(name)
