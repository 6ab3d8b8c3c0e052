"""moog chains as data: shipped chains, loading from files and mappings, validation errors."""

from __future__ import annotations

import copy

import pytest

from soundmatch.errors import UserError
from synths.moog import Moog
from synths.moog.chain import chain_names, load_chain

SIMPLE = {
    "layers": [
        [
            {"name": "saw", "type": "osc", "waveform": "saw"},
            {"name": "sq", "type": "osc", "waveform": "square"},
        ],
        [{"name": "mix", "type": "mix", "in": ["saw", "sq"]}],
        [{"name": "amp", "type": "adsr", "in": ["mix"]}],
        [{"name": "lp", "type": "lowpass", "in": ["amp"]}],
    ]
}


def test_shipped_chains():
    assert {"simple", "fm", "modular"} <= set(chain_names())
    simple = load_chain("simple")
    assert [c.name for c in simple.cells] == ["saw", "square", "mix", "amp", "filter"]
    assert simple.num_layers == 4 and simple.outputs == ["filter"]
    assert [(c.layer, c.channel) for c in simple.cells] == [(0, 0), (0, 1), (1, 0), (2, 0), (3, 0)]
    fm = load_chain("fm")
    assert [c.module.kind for c in fm.cells] == ["lfo", "fm", "adsr", "lowpass"]
    modular = load_chain("modular")
    kinds = {c.module.kind for c in modular.cells}
    assert kinds == {"lfo", "osc", "noise", "fm", "mix", "lowpass", "adsr", "highpass", "tremolo"}
    assert sum(conn.optional for c in modular.cells for conn in c.connections) == 3


def test_parameter_names_and_gates():
    names = Moog(chain="simple").spec.names
    assert names[:3] == ["saw.transpose", "saw.amp", "saw.phase"]
    assert "filter.cutoff" in names and "mix.gain_square" in names
    spec = Moog(chain="modular").spec
    gates = [p for p in spec.params if ".from_" in p.name]
    assert [p.name for p in gates] == ["fm.from_vibrato", "osc_mix.from_noise", "filter.from_sweep"]
    assert all(p.choices == ("off", "on") for p in gates)
    assert spec["wave.waveform"].choices == ("square", "triangle")
    assert spec["filter.env_amount"].unit == "octaves" and "filter.mod_depth" in spec.names
    assert spec["vibrato.rate"].low == 3.0 and spec["vibrato.rate"].high == 8.0  # ranges from the chain


def test_chain_from_file_and_mapping(tmp_path):
    import yaml

    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(SIMPLE))
    from_file = Moog(chain=str(path))
    from_mapping = Moog(chain=copy.deepcopy(SIMPLE))
    assert from_file.spec.names == from_mapping.spec.names
    assert from_file.chain_data.name == "mine" and from_mapping.chain_data.name == "inline"


def _broken(edit) -> dict:
    data = copy.deepcopy(SIMPLE)
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["layers"][1][0].update({"in": ["saw", "lp"]}), "can only be fed by earlier layers"),
        (lambda d: d["layers"][1][0].update({"in": ["saw", "mix"]}), "can only be fed by earlier layers"),
        (lambda d: d["layers"][1][0].update({"in": ["saw", "nope"]}), "unknown cell 'nope'"),
        (lambda d: d["layers"][1][0].update({"in": ["saw", "saw"]}), "takes input from 'saw' twice"),
        (lambda d: d["layers"][1][0].update({"in": []}), "needs at least 1 'in' sources"),
        (lambda d: d["layers"][0][0].update({"type": "vco"}), "unknown type 'vco'"),
        (lambda d: d["layers"][0][0].update({"waveform": "sawtooth"}), "waveform must be one of"),
        (lambda d: d["layers"][0][0].update({"cutoff": 3}), "unknown keys ['cutoff']"),
        (lambda d: d["layers"][0][0].update({"in": ["sq"]}), "unknown keys ['in']"),
        (lambda d: d["layers"][0][1].update({"name": "saw"}), "'saw' is used twice"),
        (lambda d: d["layers"][0][1].update({"name": "my.osc"}), "must be letters, digits and _"),
        (lambda d: d["layers"][0][0].update({"ranges": {"pitch": [0, 1]}}), "unknown parameter 'pitch'"),
        (lambda d: d["layers"][0][0].update({"ranges": {"amp": [1, 0]}}), "low < high"),
        (lambda d: d["layers"][3][0].update({"ranges": {"cutoff": [0, 1000]}}), "low > 0 (log scale)"),
        (lambda d: d["layers"][1][0].update({"in": ["saw", {"from": "sq", "maybe": True}]}), "a source is"),
        (lambda d: d["layers"][0].append({"name": "lfo", "type": "lfo"}), "feed no other cell"),
        (lambda d: d["layers"].append([{"name": "fm", "type": "fm", "in": ["lp"]}]), "unknown keys ['in']"),
        (lambda d: d["layers"].append([{"name": "fm", "type": "fm"}]), "needs at least 1 'mod' sources"),
        (lambda d: d["layers"].append([]), "layer 4 must be a non-empty list"),
        (lambda d: d.update({"output": "lp"}), "unknown keys ['output']"),
    ],
)
def test_validation_errors_are_one_clear_line(edit, message):
    with pytest.raises(UserError) as err:
        Moog(chain=_broken(edit))
    text = str(err.value)
    assert message in text and "\n" not in text and text.startswith("moog chain 'inline'")


def test_unknown_chain_name_and_bad_files(tmp_path):
    with pytest.raises(UserError, match="unknown moog chain 'nope'; available: .*simple"):
        Moog(chain="nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("layers: [[{name: a, type: osc}]\n")
    with pytest.raises(UserError, match="not valid YAML"):
        Moog(chain=str(bad))
    with pytest.raises(UserError, match="non-empty 'layers' list"):
        Moog(chain={"cells": []})
    with pytest.raises(UserError, match="filter_block must be >= 2"):
        Moog(filter_block=1)
    with pytest.raises(UserError, match="hold must be > 0"):
        Moog(hold=-1.0)


def test_cli_reports_an_unknown_chain(cli):
    out = cli("run", "solver=random", "synth=moog", "synth.chain=nope", "target.n=1", "budget.renders=2")
    assert out.returncode == 2
    assert "unknown moog chain 'nope'" in out.stderr and "Traceback" not in out.stderr
