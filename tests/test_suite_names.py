"""Suites are named by their content (``synthetic/fm2/n8/seed0``, ``gm_notes/test``), hash as a tag."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from benchmark.run import identity
from benchmark.run.app import CONF_DIR
from benchmark.run.spec import build
from benchmark.run.targets import suite_registry


def named(*overrides: str) -> tuple[str, str]:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose("config", overrides=list(overrides))
    suite = build(suite_registry, cfg.target)
    return identity.suite_id(cfg, suite), identity.suite_hash(cfg, suite.uses_synth)


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        (["synth=fm2"], "synthetic/fm2/n8/seed0"),
        (["synth=fm2", "target.n=4"], "synthetic/fm2/n4/seed0"),
        (["synth=dx7", "target.seed=3", "sample_rate=8000", "duration=0.5"], "synthetic/dx7/n8/seed3/8k/0.5s"),  # noqa: E501
        (["synth=fm2", "note.pitch=69"], "synthetic/fm2/n8/seed0/note69v100"),
        (["target=gm_notes"], "gm_notes/all"),
        (["target=gm_notes", "target.split=test"], "gm_notes/test"),
        (["target=gm_notes", "target.instruments=[flute,oboe]"], "gm_notes/all/instruments=flute+oboe"),
    ],
)
def test_suite_names_say_what_is_in_the_suite(overrides, name):
    assert named(*overrides)[0] == name


def test_different_targets_never_share_a_name_and_a_hash():
    seen: dict[tuple[str, str], tuple[str, ...]] = {}
    cases = [
        ("synth=fm2",), ("synth=fm2", "target.n=4"), ("synth=fm2", "target.seed=1"), ("synth=dx7",),
        ("synth=fm2", "duration=0.5"), ("target=gm_notes",), ("target=gm_notes", "target.split=test"),
        ("target=gm_notes", "target.level_db=-30"),
    ]  # fmt: skip
    for case in cases:
        key = named(*case)
        assert key not in seen, (case, seen.get(key))
        seen[key] = case
    names = [k[0] for k in seen]
    assert len(set(names)) == len(names)  # the readable names alone tell these apart too
    # the note does not change a recorded suite's audio, but the hash keeps the run key exact
    assert named("target=gm_notes")[0] == named("target=gm_notes", "note.pitch=69")[0]
