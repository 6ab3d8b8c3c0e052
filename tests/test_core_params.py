"""ParamSpec: unit cube <-> physical values, both ways, for every scale and categorical params."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from synths.base import Note, Param, ParamSpec

SPEC = ParamSpec(
    [
        Param("gain", 0.0, 2.0),
        Param("freq", 20.0, 20000.0, "log", unit="Hz"),
        Param("time", 0.0, 4.0, "power", curve=3.0, unit="s"),
        Param("wave", choices=("sine", "saw", "square")),
    ]
)


def test_physical_values_follow_each_curve():
    u = torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    p = SPEC.to_physical(u)
    assert p["gain"].item() == pytest.approx(1.0)
    assert p["freq"].item() == pytest.approx(math.sqrt(20.0 * 20000.0), rel=1e-5)
    assert p["time"].item() == pytest.approx(4.0 * 0.125)
    assert p["wave"].item() == 1 and p["wave"].dtype == torch.long


def test_categorical_cells_are_equal_and_closed_at_one():
    wave = SPEC["wave"]
    u = torch.tensor([0.0, 0.33, 0.34, 0.66, 0.67, 1.0])
    assert wave.to_physical(u).tolist() == [0, 0, 1, 1, 2, 2]
    assert wave.to_unit(torch.tensor([0, 1, 2])).tolist() == pytest.approx([1 / 6, 0.5, 5 / 6])


@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3))
def test_continuous_round_trip(values):
    u = torch.tensor([[*values, 0.5]], dtype=torch.float32)
    back = SPEC.to_unit(SPEC.to_physical(u))
    assert torch.allclose(back[:, :3], u[:, :3], atol=2e-5)


def test_describe_and_errors():
    desc = SPEC.describe(torch.tensor([0.0, 1.0, 1.0, 0.9]))
    assert desc == {"gain": 0.0, "freq": pytest.approx(20000.0, rel=1e-5), "time": 4.0, "wave": "square"}
    with pytest.raises(ValueError):
        SPEC.to_physical(torch.zeros(1, 3))
    with pytest.raises(KeyError):
        SPEC.to_unit({"gain": 1.0})
    with pytest.raises(ValueError):
        Param("bad", 0.0, 1.0, "log")
    with pytest.raises(ValueError):
        ParamSpec([Param("a"), Param("a")])
    assert SPEC.categorical_indices == [3] and SPEC.continuous_indices == [0, 1, 2]


def test_note_pitch_and_frequency():
    assert Note(69).hz == pytest.approx(440.0)
    assert Note(60).hz == pytest.approx(261.6256, rel=1e-6)
    assert Note.from_hz(1000.0).hz == pytest.approx(1000.0)
